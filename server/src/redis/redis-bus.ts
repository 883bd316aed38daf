/**
 * The Bus on Redis pub/sub: one subscriber connection per node, one channel per topic.
 *
 * Room messages are published by the append script itself (room-scripts.ts APPEND), in the same
 * atomic step that assigns the seq, so every node receives a room's messages in seq order; the room
 * log waits with `untilDelivered` until this node's subscriber has handed a seq on, so the sender's
 * own connections see the message before its ack, as with the embedded log. Everything else is
 * published here, and `publish` likewise waits for its echo when this node is subscribed to the topic.
 */

import type { Redis } from 'ioredis';
import type { Bus, EnvelopeHandler } from '../core/bus.ts';
import { EnvelopeKind, type Envelope } from '../core/envelope.ts';
import type { Logger } from '../core/logger.ts';
import { parseTopicKey, topicKey, type Topic } from '../core/topics.ts';
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
  /** Subscribed topics by key. */
  private readonly topics = new Map<string, Topic>();
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
      const channels = [...this.topics.values()].map((topic) => this.keys.channel(topic));
      if (channels.length > 0) await this.subscriber.subscribe(...channels);
      for (const room of this.rooms.values()) room.catchUp();
    } catch (err) {
      this.logger.warn('redis resubscribe failed', { err: String(err) });
    }
  }

  /** Resolves once this node's subscriber has handed on the room's `seq` (or it is not subscribed, or ECHO_WAIT_MS passed). */
  untilDelivered(roomid: string, seq: number): Promise<void> {
    const room = this.rooms.get(roomid);
    if (!room) return Promise.resolve();
    return this.until(() => (room.lastSeq ?? 0) >= seq);
  }

  async publish(envelope: Envelope): Promise<void> {
    const subscribed = this.topics.has(topicKey(envelope.topic));
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

  async subscribe(topic: Topic): Promise<void> {
    this.topics.set(topicKey(topic), topic);
    if (topic.kind === 'room') {
      const { roomid } = topic;
      this.rooms.set(roomid, new RoomOrder(roomid, this.fetchAfter, (e) => this.emit(e), (err) => this.logger.warn('history catch-up failed', { roomid, err: String(err) })));
    }
    await this.subscriber.subscribe(this.keys.channel(topic));
  }

  async unsubscribe(topic: Topic): Promise<void> {
    this.topics.delete(topicKey(topic));
    if (topic.kind === 'room') this.rooms.delete(topic.roomid);
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
    const key = this.keys.topicOf(channel);
    const topic = this.topics.get(key) ?? parseTopicKey(key);
    // A user's topic still counts after this node unsubscribed: Redis sent it while we were
    // subscribed, i.e. while the user's connection here was closing, and the core queues it.
    if (!topic || (topic.kind === 'room' && !this.topics.has(key))) return;
    const decoded = decodeEnvelope(topic, payload);
    if (!decoded) return;
    const { envelope, origin } = decoded;
    const room = envelope.kind === EnvelopeKind.RoomMessage ? this.rooms.get(envelope.topic.roomid) : undefined;
    if (room && envelope.kind === EnvelopeKind.RoomMessage) room.receive(envelope);
    else this.emit(envelope);
    if (origin !== '') this.echoes.get(origin)?.();
  }

  private emit(envelope: Envelope): void {
    if (envelope.kind === EnvelopeKind.RoomMessage) this.watermarks.note(envelope.topic.roomid, envelope.seq);
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

