/**
 * The Bus on Redis pub/sub: one subscriber connection per node, one channel per topic.
 *
 * Room Message envelopes are published by the append script itself (room-scripts.ts APPEND), in
 * the same atomic step that assigns the seq, so every node receives a room's messages in seq order.
 * `publish` of such an envelope therefore sends nothing: it waits until this node's subscriber has
 * delivered that seq, so the sender's own connections see the message before its ack, as with the
 * embedded bus. Other envelopes are published here, and `publish` likewise waits for their echo when
 * this node is subscribed to the topic.
 */

import type { Redis } from 'ioredis';
import { EnvelopeKind, type Bus, type Envelope, type EnvelopeHandler } from '../core/bus.ts';
import type { Logger } from '../core/logger.ts';
import { decodeEnvelope, encodeEnvelope } from './envelope-codec.ts';
import type { KeySpace } from './keys.ts';
import { RoomOrder, type FetchAfter } from './room-order.ts';
import type { SeqWatermarks } from './seq-watermarks.ts';

/** How long publish waits for its own echo before returning anyway (the message is out). */
const ECHO_WAIT_MS = 2000;

interface Waiter {
  done: () => boolean;
  resolve: () => void;
}

export class RedisBus implements Bus {
  private handler: EnvelopeHandler = () => {};
  private readonly topics = new Set<string>();
  private readonly rooms = new Map<string, RoomOrder>();
  private readonly waiters = new Set<Waiter>();
  private readonly echoes = new Map<string, () => void>();
  private published = 0;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly keys: KeySpace,
    private readonly nodeId: string,
    private readonly watermarks: SeqWatermarks,
    private readonly fetchAfter: FetchAfter,
    private readonly logger: Logger,
  ) {
    subscriber.on('message', (channel: string, payload: string) => this.received(channel, payload));
    // Any 'ready' after construction is a reconnect (the connection is open before the bus exists).
    subscriber.on('ready', () => void this.resubscribe());
  }

  /** The subscriber is opened with autoResubscribe off: catching up must wait for the subscriptions. */
  private async resubscribe(): Promise<void> {
    try {
      const channels = [...this.topics].map((topic) => this.keys.channel(topic));
      if (channels.length > 0) await this.subscriber.subscribe(...channels);
      for (const room of this.rooms.values()) room.catchUp();
    } catch (err) {
      this.logger.warn('redis resubscribe failed', { err: String(err) });
    }
  }

  async publish(envelope: Envelope): Promise<void> {
    const subscribed = this.topics.has(envelope.topic);
    if (envelope.kind === EnvelopeKind.Message && envelope.topic.startsWith('room:')) {
      const room = this.rooms.get(envelope.roomid!);
      if (subscribed && room) await this.until(() => (room.lastSeq ?? 0) >= envelope.seq!);
      return;
    }
    const origin = `${this.nodeId}:${(this.published += 1)}`;
    const echo = subscribed ? this.until(() => false, origin) : undefined;
    try {
      await this.publisher.publish(this.keys.channel(envelope.topic), encodeEnvelope(envelope, origin));
    } catch (err) {
      this.echoes.get(origin)?.();
      throw err;
    }
    await echo;
  }

  async subscribe(topic: string): Promise<void> {
    this.topics.add(topic);
    if (topic.startsWith('room:')) {
      const roomid = topic.slice(5);
      this.rooms.set(roomid, new RoomOrder(roomid, this.fetchAfter, (e) => this.emit(e), (err) => this.logger.warn('history catch-up failed', { roomid, err: String(err) })));
    }
    await this.subscriber.subscribe(this.keys.channel(topic));
  }

  async unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic);
    if (topic.startsWith('room:')) this.rooms.delete(topic.slice(5));
    await this.subscriber.unsubscribe(this.keys.channel(topic));
  }

  onEnvelope(handler: EnvelopeHandler): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    for (const waiter of this.waiters) waiter.resolve();
    this.topics.clear();
    this.rooms.clear();
  }

  private received(channel: string, payload: string): void {
    const topic = this.keys.topicOf(channel);
    // A user's topic still counts after this node unsubscribed: Redis sent it while we were
    // subscribed, i.e. while the user's connection here was closing, and the core queues it.
    if (!this.topics.has(topic) && !topic.startsWith('user:')) return;
    const decoded = decodeEnvelope(topic, payload);
    if (!decoded) return;
    const { envelope, origin } = decoded;
    const room = envelope.kind === EnvelopeKind.Message && topic.startsWith('room:') ? this.rooms.get(envelope.roomid!) : undefined;
    if (room) room.receive(envelope);
    else this.emit(envelope);
    if (origin !== '') this.echoes.get(origin)?.();
  }

  private emit(envelope: Envelope): void {
    if (envelope.kind === EnvelopeKind.Message && envelope.roomid !== undefined && envelope.topic.startsWith('room:')) {
      this.watermarks.note(envelope.roomid, envelope.seq!);
    }
    try {
      this.handler(envelope);
    } finally {
      for (const waiter of this.waiters) if (waiter.done()) waiter.resolve();
    }
  }

  /** Resolves when `done` holds after a delivery, or the echo of `origin` arrived, or after ECHO_WAIT_MS. */
  private until(done: () => boolean, origin?: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        done,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          if (origin !== undefined) this.echoes.delete(origin);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, ECHO_WAIT_MS);
      this.waiters.add(waiter);
      if (origin !== undefined) this.echoes.set(origin, waiter.resolve);
    });
  }
}
