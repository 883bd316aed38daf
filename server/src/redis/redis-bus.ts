/**
 * The Bus on Redis pub/sub: one subscriber connection per node, one channel per topic.
 *
 * Room messages are published by the append script itself (room-scripts.ts APPEND), in the same
 * atomic step that assigns the seq, so every node receives a room's messages in seq order; the room
 * log waits with `untilDelivered` until this node's subscriber has handed a seq on, so the sender's
 * own connections see the message before its ack, as with the embedded log. Everything else is
 * published here, and `publish` likewise waits for its echo when this node is subscribed to the topic.
 *
 * Room messages carry their room's epoch: when it changes under this node's connections (Redis lost
 * the room's counter and its seqs started over), RoomOrder says so and this node's connections are
 * told with a RoomRestarted envelope, an unrequested `joined` with the new epoch and `gap: true`.
 */

import type { Redis } from 'ioredis';
import type { Bus, EnvelopeHandler } from '../core/bus.ts';
import { type Envelope, EnvelopeKind, type RoomCounts } from '../core/envelope.ts';
import type { Logger } from '../core/logger.ts';
import { parseTopicKey, roomTopic, type Topic, topicKey } from '../core/topics.ts';
import { type JoinedEvent, ServerEvent } from '../protocol.ts';
import { decodeEnvelope, encodeEnvelope } from './envelope-codec.ts';
import type { KeySpace } from './keys.ts';
import { type FetchAfter, RoomOrder } from './room-order.ts';
import type { SeqWatermarks } from './seq-watermarks.ts';

/** How long publish waits for its own echo before returning anyway (the message is out). */
const ECHO_WAIT_MS = 2000;
/** Presence notices kept while Redis does not answer (see publish). */
const LATE_NOTICES_MAX = 10_000;

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
  private readonly lateNotices: Envelope[] = [];
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

  /**
   * A failed publish throws, except for a room's presence notice: that one is kept (the newest
   * LATE_NOTICES_MAX) and published once Redis answers again. A `logout` from a cleanup must reach
   * the room late rather than never, and the cleanup must not stop halfway.
   */
  async publish(envelope: Envelope): Promise<void> {
    const subscribed = this.topics.has(topicKey(envelope.topic));
    const origin = `${this.nodeId}:${(this.published += 1)}`;
    const echo = subscribed ? this.until(() => false, origin) : undefined;
    try {
      await this.publisher.publish(this.keys.channel(envelope.topic), encodeEnvelope(envelope, origin));
    } catch (err) {
      this.echoes.get(origin)?.();
      if (envelope.kind !== EnvelopeKind.Notice) throw err;
      this.lateNotices.push(envelope);
      if (this.lateNotices.length > LATE_NOTICES_MAX) this.lateNotices.shift();
      return;
    }
    await echo;
  }

  /** Publishes the notices kept while Redis did not answer (see publish), in order. */
  async publishLateNotices(): Promise<void> {
    const notices = this.lateNotices.splice(0);
    if (notices.length > 0) this.logger.info('publishing presence notices kept while redis did not answer', { notices: notices.length });
    for (const notice of notices) await this.publish(notice);
  }

  async subscribe(topic: Topic): Promise<void> {
    this.topics.set(topicKey(topic), topic);
    if (topic.kind === 'room') {
      const { roomid } = topic;
      this.rooms.set(
        roomid,
        new RoomOrder(roomid, this.fetchAfter, {
          emit: (envelope) => this.emit(envelope),
          restarted: (epoch, lastSeq, counts) => this.restarted(roomid, epoch, lastSeq, counts),
          knownEpoch: () => this.watermarks.epoch(roomid),
          onError: (err) => this.logger.warn('history catch-up failed', { roomid, err: String(err) }),
        }),
      );
    }
    await this.subscriber.subscribe(this.keys.channel(topic));
  }

  /** Never fails: a subscriber that cannot unsubscribe now does not subscribe the topic again when it reconnects. */
  async unsubscribe(topic: Topic): Promise<void> {
    this.topics.delete(topicKey(topic));
    if (topic.kind === 'room') this.rooms.delete(topic.roomid);
    await this.subscriber.unsubscribe(this.keys.channel(topic)).catch(() => {});
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
    const { envelope, origin, epoch, counts } = decoded;
    const room = envelope.kind === EnvelopeKind.RoomMessage ? this.rooms.get(envelope.topic.roomid) : undefined;
    if (room && envelope.kind === EnvelopeKind.RoomMessage) room.receive({ envelope, epoch, counts });
    else this.emit(envelope);
    if (origin !== '') this.echoes.get(origin)?.();
  }

  /** The room's seqs started over: this node's connections reset their cursors and are told to resume from the start. */
  private restarted(roomid: string, epoch: string, lastSeq: number, counts: RoomCounts): void {
    this.logger.warn('a room started a new epoch: its seqs started over, connections told to resume', { roomid, lastSeq });
    this.watermarks.note(roomid, lastSeq, epoch);
    const notice: JoinedEvent = { event: ServerEvent.Joined, roomid, num: counts.num, total: counts.total, lastSeq, replayed: 0, gap: true, epoch };
    this.emit({ kind: EnvelopeKind.RoomRestarted, topic: roomTopic(roomid), text: JSON.stringify(notice) });
  }

  private emit(envelope: Envelope): void {
    if (envelope.kind === EnvelopeKind.RoomMessage)
      this.watermarks.note(envelope.topic.roomid, envelope.seq, this.rooms.get(envelope.topic.roomid)?.currentEpoch);
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
