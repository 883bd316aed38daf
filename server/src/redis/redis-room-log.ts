/**
 * The room log on Redis: a room's seq counter, history stream and recent client ids live in its
 * hash slot, and one Lua script (room-scripts.ts APPEND) assigns the seq, keeps the message,
 * recognises a resend and publishes the message, atomically. Direct messages add a second script on
 * the recipient's slot that queues or publishes (direct-queue.ts).
 */

import { randomUUID } from 'node:crypto';
import { EnvelopeKind } from '../core/envelope.ts';
import { SendRefused } from '../core/group-store.ts';
import type { Appended, AppendedDirect, HistorySlice, MessageDraft, RoomLog, StoredMessage } from '../core/room-log.ts';
import { roomTopic, userTopic } from '../core/topics.ts';
import type { ChatRedis } from './commands.ts';
import { DirectOutcome, queueDirect } from './direct-queue.ts';
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
   * taken by their next first connection or finds them online (and is published in that step).
   *
   * When the second step fails (Redis full, the reply lost) the sender gets 4503 although the
   * message is kept; their resend is then recognised by the append and does the second step now.
   * The recipient's slot remembers which messages it handled, so a resend never queues or publishes
   * one twice.
   */
  async appendDirect(draft: MessageDraft, to: string): Promise<AppendedDirect> {
    const sender = this.keys.user(draft.uid);
    const recipient = this.keys.user(to);
    const ttl = this.limits.roomTtlMs;
    const [recipientName] = await Promise.all([
      this.redis.hget(recipient.info, 'name'),
      this.redis.chatNoteUserRoom(sender.rooms, sender.info, draft.roomid, ttl, draft.name),
      this.redis.chatNoteUserRoom(recipient.rooms, recipient.info, draft.roomid, ttl, ''),
    ]);
    const { message, duplicate } = await this.appendTo(this.keys.room(draft.roomid), draft, '', [draft.uid, draft.name, to, recipientName ?? to]);
    const outcome = await queueDirect(this.redis, this.keys, this.limits, to, message, 'send');
    // The sender's other connections: with the first attempt, unless that got this far already.
    if (outcome !== DirectOutcome.HandledBefore) {
      await this.bus.publish({ kind: EnvelopeKind.DirectMessage, topic: userTopic(draft.uid), roomid: draft.roomid, seq: message.seq, text: JSON.stringify(message) });
    }
    return { message, duplicate, queued: outcome !== DirectOutcome.Published };
  }

  private async appendTo(room: RoomKeys, draft: MessageDraft, channel: string, members: string[]): Promise<Appended> {
    // A member's room message is checked against membership and mutes; notices and direct messages are not.
    const checked = members.length === 0 && draft.system === undefined ? draft.uid : '';
    const [seq, stored, duplicate, epoch] = await this.redis.chatAppend(
      room.seq, room.history, room.recentIds, room.members, room.online, room.roles, room.mutes, room.group,
      JSON.stringify(draft),
      `${draft.uid}\n${draft.id}`,
      this.limits.historyPerRoom,
      this.limits.roomTtlMs,
      this.watermarks.floor(draft.roomid),
      channel,
      // A resend is recognised while the original is in history, as in the embedded log.
      Math.max(1, this.limits.historyPerRoom),
      draft.roomid,
      this.watermarks.epoch(draft.roomid),
      randomUUID(),
      checked,
      Date.now(),
      ...members,
    );
    const refused = SEND_REFUSALS[Number(seq)];
    if (refused) throw new SendRefused(refused, refused === 'muted' ? Number(duplicate) : undefined);
    const message: StoredMessage = stored === '' ? { ...draft, seq: Number(seq) } : (JSON.parse(String(stored)) as StoredMessage);
    this.watermarks.note(draft.roomid, message.seq, String(epoch));
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
