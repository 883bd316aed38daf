/**
 * The room log on Redis: a room's seq counter, history stream and recent client ids live in its
 * hash slot, and one Lua script (room-scripts.ts APPEND) assigns the seq, keeps the message,
 * recognises a resend and publishes the message, atomically. Direct messages add a second script on
 * the recipient's slot that queues or publishes (user-scripts.ts QUEUE_DIRECT).
 */

import { randomUUID } from 'node:crypto';
import { EnvelopeKind } from '../core/envelope.ts';
import { SendRefused } from '../core/group-store.ts';
import type { Appended, AppendedDirect, HistorySlice, MessageDraft, RoomLog, StoredMessage } from '../core/room-log.ts';
import { roomTopic, userTopic } from '../core/topics.ts';
import type { ChatRedis } from './commands.ts';
import { encodeEnvelope } from './envelope-codec.ts';
import type { KeySpace, RoomKeys } from './keys.ts';
import type { RedisBus } from './redis-bus.ts';
import type { SeqWatermarks } from './seq-watermarks.ts';

export interface RedisLogLimits {
  historyPerRoom: number;
  roomTtlMs: number;
  inboxPerUser: number;
}

/** APPEND's refusals of a member's message (its first reply element), as the core names them. */
const SEND_REFUSALS: Record<number, SendRefused['reason'] | undefined> = { [-1]: 'not-member', [-2]: 'muted', [-3]: 'mute-all' };

/** A room's seq counter outlives its other keys by this factor, so an idle room's seqs never go back. */
export const SEQ_TTL_FACTOR = 10;

export class RedisRoomLog implements RoomLog {
  constructor(
    private readonly redis: ChatRedis,
    private readonly keys: KeySpace,
    private readonly bus: RedisBus,
    private readonly limits: RedisLogLimits,
    private readonly watermarks: SeqWatermarks,
  ) {}

  async append(draft: MessageDraft): Promise<Appended> {
    const appended = await this.appendTo(this.keys.room(draft.roomid), draft, this.keys.channel(roomTopic(draft.roomid)), []);
    if (!appended.duplicate) await this.bus.untilDelivered(draft.roomid, appended.message.seq);
    return appended;
  }

  /**
   * History first (the pair's room), then the recipient's inbox when they have no connection: the
   * presence check and the queueing are one step on the recipient's slot, so a message is either
   * taken by their next first connection or finds them online (and is published in that step). A
   * crash between the two steps leaves the message in the pair's history (read with
   * `rooms`/`history`) and unacknowledged to the sender, who resends it.
   */
  async appendDirect(draft: MessageDraft, to: string): Promise<AppendedDirect> {
    const sender = this.keys.user(draft.uid);
    const recipient = this.keys.user(to);
    const [recipientName] = await Promise.all([
      this.redis.hget(recipient.info, 'name'),
      this.redis.sadd(sender.rooms, draft.roomid),
      this.redis.sadd(recipient.rooms, draft.roomid),
      this.redis.hset(sender.info, 'name', draft.name),
    ]);
    const { message, duplicate } = await this.appendTo(this.keys.room(draft.roomid), draft, '', [draft.uid, draft.name, to, recipientName ?? to]);
    // A resend of an accepted message: it was queued or delivered the first time.
    if (duplicate) return { message, duplicate, queued: true };
    const text = JSON.stringify(message);
    const copy = { kind: EnvelopeKind.DirectMessage, roomid: draft.roomid, seq: message.seq, text } as const;
    // The recipient's live copy goes out from the script that found them online; to oneself, the
    // sender's copy covers it.
    const recipientTopic = userTopic(to);
    const live = to === draft.uid ? [] : [this.keys.channel(recipientTopic), encodeEnvelope({ ...copy, topic: recipientTopic }, '')];
    const queued = await this.redis.chatQueueDirect(recipient.connections, recipient.inbox, recipient.info, text, this.limits.inboxPerUser, this.limits.roomTtlMs, ...live);
    await this.bus.publish({ ...copy, topic: userTopic(draft.uid) });
    return { message, duplicate, queued: queued === 1 };
  }

  private async appendTo(room: RoomKeys, draft: MessageDraft, channel: string, members: string[]): Promise<Appended> {
    // A member's room message is checked against membership and mutes; notices and direct messages are not.
    const checked = members.length === 0 && draft.system === undefined ? draft.uid : '';
    const [seq, stored, duplicate] = await this.redis.chatAppend(
      room.seq, room.history, room.recentIds, room.members, room.online, room.roles, room.mutes, room.group,
      JSON.stringify(draft),
      `${draft.uid}\n${draft.id}`,
      this.limits.historyPerRoom,
      this.limits.roomTtlMs,
      this.limits.roomTtlMs * SEQ_TTL_FACTOR,
      this.watermarks.get(draft.roomid),
      channel,
      // A resend is recognised while the original is in history, as in the embedded log.
      Math.max(1, this.limits.historyPerRoom),
      draft.roomid,
      randomUUID(),
      checked,
      Date.now(),
      ...members,
    );
    const refused = SEND_REFUSALS[Number(seq)];
    if (refused) throw new SendRefused(refused, refused === 'muted' ? Number(duplicate) : undefined);
    const message: StoredMessage = stored === '' ? { ...draft, seq: Number(seq) } : (JSON.parse(String(stored)) as StoredMessage);
    this.watermarks.note(draft.roomid, message.seq);
    return { message, duplicate: duplicate === 1 };
  }

  async readAfter(roomid: string, afterSeq: number, limit: number, beforeSeq?: number): Promise<HistorySlice> {
    const room = this.keys.room(roomid);
    return this.slice(roomid, await this.redis.chatReadAfter(room.seq, room.history, afterSeq, limit, beforeSeq ?? -1));
  }

  async readBefore(roomid: string, beforeSeq: number | undefined, limit: number): Promise<HistorySlice> {
    const room = this.keys.room(roomid);
    return this.slice(roomid, await this.redis.chatReadBefore(room.seq, room.history, beforeSeq ?? -1, limit));
  }

  private slice(roomid: string, reply: (string | number)[]): HistorySlice {
    const lastSeq = Number(reply[0]);
    this.watermarks.note(roomid, lastSeq);
    return { lastSeq, gap: reply[1] === 1, messages: reply.slice(2).map((m) => JSON.parse(String(m)) as StoredMessage) };
  }
}
