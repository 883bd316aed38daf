import type { Bus, Envelope, EnvelopeHandler } from './bus.ts';

/** The embedded bus: one process, so publishing is a direct, synchronous call. */
export class LocalBus implements Bus {
  private handler: EnvelopeHandler = () => {};
  private readonly topics = new Set<string>();

  publish(envelope: Envelope): Promise<void> {
    if (this.topics.has(envelope.topic)) this.handler(envelope);
    return Promise.resolve();
  }

  subscribe(topic: string): Promise<void> {
    this.topics.add(topic);
    return Promise.resolve();
  }

  unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic);
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
