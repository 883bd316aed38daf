import type { Bus, EnvelopeHandler } from './bus.ts';
import type { Envelope } from './envelope.ts';
import type { Topic } from './topics.ts';

/**
 * The embedded bus: one process, so publishing is a direct, synchronous call. Subscribed rooms and
 * users are kept by their own ids, not by topicKey's strings: a delivery then looks up a string
 * the store already holds (its hash computed), instead of building and hashing a new one.
 */
export class LocalBus implements Bus {
  private handler: EnvelopeHandler = () => {};
  private readonly rooms = new Set<string>();
  private readonly users = new Set<string>();

  /** Hands the envelope to this node's subscribers now; the memory room log fans out with it. */
  deliver(envelope: Envelope): void {
    const topic = envelope.topic;
    if (topic.kind === 'room' ? this.rooms.has(topic.roomid) : this.users.has(topic.uid)) this.handler(envelope);
  }

  publish(envelope: Envelope): Promise<void> {
    this.deliver(envelope);
    return Promise.resolve();
  }

  subscribe(topic: Topic): Promise<void> {
    if (topic.kind === 'room') this.rooms.add(topic.roomid);
    else this.users.add(topic.uid);
    return Promise.resolve();
  }

  unsubscribe(topic: Topic): Promise<void> {
    if (topic.kind === 'room') this.rooms.delete(topic.roomid);
    else this.users.delete(topic.uid);
    return Promise.resolve();
  }

  onEnvelope(handler: EnvelopeHandler): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    this.rooms.clear();
    this.users.clear();
    return Promise.resolve();
  }
}
