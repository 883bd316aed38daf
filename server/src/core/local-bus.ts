import type { Bus, EnvelopeHandler } from './bus.ts';
import type { Envelope } from './envelope.ts';
import { type Topic, topicKey } from './topics.ts';

/** The embedded bus: one process, so publishing is a direct, synchronous call. */
export class LocalBus implements Bus {
  private handler: EnvelopeHandler = () => {};
  private readonly topics = new Set<string>();

  /** Hands the envelope to this node's subscribers now; the memory room log fans out with it. */
  deliver(envelope: Envelope): void {
    if (this.topics.has(topicKey(envelope.topic))) this.handler(envelope);
  }

  publish(envelope: Envelope): Promise<void> {
    this.deliver(envelope);
    return Promise.resolve();
  }

  subscribe(topic: Topic): Promise<void> {
    this.topics.add(topicKey(topic));
    return Promise.resolve();
  }

  unsubscribe(topic: Topic): Promise<void> {
    this.topics.delete(topicKey(topic));
    return Promise.resolve();
  }

  onEnvelope(handler: EnvelopeHandler): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    this.topics.clear();
    return Promise.resolve();
  }
}
