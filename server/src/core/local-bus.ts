import type { Bus, EnvelopeHandler } from './bus.ts';
import type { Envelope } from './envelope.ts';
import type { Topic } from './topics.ts';

/** A topic's own id: the room's or the user's. */
const idOf = (topic: Topic): string => (topic.kind === 'room' ? topic.roomid : topic.uid);

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
    if (this.setOf(envelope.topic).has(idOf(envelope.topic))) this.handler(envelope);
  }

  publish(envelope: Envelope): Promise<void> {
    this.deliver(envelope);
    return Promise.resolve();
  }

  subscribe(topic: Topic): Promise<void> {
    this.setOf(topic).add(idOf(topic));
    return Promise.resolve();
  }

  unsubscribe(topic: Topic): Promise<void> {
    this.setOf(topic).delete(idOf(topic));
    return Promise.resolve();
  }

  /** Rooms and users are kept apart: a room and a user may have the same id. */
  private setOf(topic: Topic): Set<string> {
    return topic.kind === 'room' ? this.rooms : this.users;
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
