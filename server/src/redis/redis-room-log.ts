/**
 * The room log on Redis: a room's seq counter, history stream and recent client ids live in its
 * hash slot, and one Lua script (room-scripts.ts APPEND) assigns the seq, keeps the message,
 * recognises a resend and publishes the message, atomically. Direct messages add a second script on
 * the recipient's slot that queues or publishes (direct-queue.ts). A recall and an
 * append quoting a message run the same append script with a step in front (message-scripts.ts);
 * a message's mentions are noted by a second script on the room's slot before its ack.
 */

import { randomUUID } from 'node:crypto';
import { EnvelopeKind } from '../core/envelope.ts';
import { SendRefused } from '../core/group-store.ts';
import { type RecallRefusal, type RecallRequest, recallRefusal, tombstoneOf, withQuoteRecalled } from '../core/recall.ts';
import {
  type Appended,
  type AppendedDirect,
  type HistorySlice,
  type MessageDraft,
  type RecallRefused,
  type RoomLog,
  resendKey,
  type StoredMessage,
  withFields,
} from '../core/room-log.ts';
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

/** RECALL's own replies (message-scripts.ts), apart from APPEND's. */
const RECALL_REFUSED = -11;
const RECALL_STALE = -12;

/** A recall reads the history again when messages quoting its target keep arriving meanwhile; at most this often. */
const RECALL_ATTEMPTS = 5;

/** A step run in front of the append script in the same script (message-scripts.ts). */
interface AppendStep {
  command: 'chatRecall' | 'chatAppendQuoted';
  args: (string | number)[];
}

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
    await this.noteMentions(appended.message);
    return appended;
  }

  /** Again for a resend: noting a mention twice changes nothing. */
  private async noteMentions(message: StoredMessage): Promise<void> {
    if (!message.mentions && !message.mentionAll) return;
    const room = this.keys.room(message.roomid);
    await this.redis.chatNoteMentions(
      room.members,
      room.reads,
      room.mentions,
      message.seq,
      message.uid,
      message.mentionAll ? '1' : '0',
      this.limits.roomTtlMs,
      ...(message.mentions ?? []),
    );
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
    return { message, duplicate, queued: await this.deliverDirect(message, to) };
  }

  /**
   * The recipient's half of a direct message (direct-queue.ts), then the sender's other
   * connections, unless an earlier attempt got that far; true when it waits in the inbox.
   */
  private async deliverDirect(message: StoredMessage, to: string): Promise<boolean> {
    const outcome = await queueDirect(this.redis, this.keys, this.limits, to, message, 'send');
    if (outcome !== DirectOutcome.HandledBefore) {
      await this.bus.publish({
        kind: EnvelopeKind.DirectMessage,
        topic: userTopic(message.uid),
        roomid: message.roomid,
        seq: message.seq,
        text: JSON.stringify(message),
      });
    }
    return outcome !== DirectOutcome.Published;
  }

  /**
   * Reads the history from the recalled message on, decides (recall.ts), and has the recall script
   * rewrite and append the notice atomically, provided the history it read still holds; else reads
   * again. In a direct chat the recipient's inbox is rewritten next (their slot), then the notice
   * is queued or published like a direct message.
   */
  async recall(request: RecallRequest): Promise<Appended | RecallRefused> {
    const { notice } = request;
    const seq = notice.recall!;
    const room = this.keys.room(notice.roomid);
    for (let attempt = 1; ; attempt += 1) {
      const { messages } = await this.readAfter(notice.roomid, seq - 1, Math.max(1, this.limits.historyPerRoom));
      const target = messages[0]?.seq === seq ? messages[0] : undefined;
      const refused = recallRefusal(target, request);
      const tombstone = target && !refused ? JSON.stringify(tombstoneOf(target, notice)) : '';
      // Old and new JSON of every entry the recall changes: the target, and the messages quoting it.
      const rewrites: [seq: number, before: string, after: string][] = target && !refused ? [[seq, JSON.stringify(target), tombstone]] : [];
      for (const message of target && !refused ? messages.slice(1) : []) {
        const rewritten = withQuoteRecalled(message, seq);
        if (rewritten !== message) rewrites.push([message.seq, JSON.stringify(message), JSON.stringify(rewritten)]);
      }
      const step = [
        String(seq),
        target ? JSON.stringify(target) : '',
        refused ?? '',
        messages.at(-1)?.seq ?? seq,
        `"quote":{"seq":${seq},`,
        tombstone,
        ...rewrites.slice(1).flatMap(([at, , after]) => [at, after]),
      ];
      const members = notice.to === undefined ? [] : [notice.uid, notice.name, notice.to, notice.to];
      const channel = notice.to === undefined ? this.keys.channel(roomTopic(notice.roomid)) : '';
      const reply = await this.runAppend(room, notice, channel, members, {
        command: 'chatRecall',
        args: [step.length + 1, resendKey(notice.uid, notice.id), ...step],
      });
      if (reply[0] === RECALL_REFUSED) return { refused: String(reply[1]) as RecallRefusal };
      if (reply[0] === RECALL_STALE) {
        if (attempt < RECALL_ATTEMPTS) continue;
        throw new Error(`recall of ${notice.roomid} seq ${seq}: the history kept changing`);
      }
      const appended = this.appended(notice, reply);
      if (notice.to === undefined) {
        if (!appended.duplicate) await this.bus.untilDelivered(notice.roomid, appended.message.seq);
        return appended;
      }
      if (rewrites.length > 0) {
        await this.redis.chatRewriteInbox(this.keys.user(notice.to).inbox, ...rewrites.flatMap(([, before, after]) => [before, after]));
      }
      await this.deliverDirect(appended.message, notice.to);
      return appended;
    }
  }

  private async appendTo(room: RoomKeys, draft: MessageDraft, channel: string, members: string[]): Promise<Appended> {
    const quote = draft.quote;
    // The quoted message may be recalled between the quote's lookup and this append.
    const step: AppendStep | undefined =
      quote && !quote.recalled ? { command: 'chatAppendQuoted', args: [2, quote.seq, JSON.stringify(withQuoteRecalled(draft, quote.seq))] } : undefined;
    return this.appended(draft, await this.runAppend(room, draft, channel, members, step));
  }

  /** The append script, or a step in front of it (its arguments first). */
  private runAppend(room: RoomKeys, draft: MessageDraft, channel: string, members: string[], step?: AppendStep): Promise<(string | number)[]> {
    const keys = [room.seq, room.history, room.recentIds, room.members, room.online, room.roles, room.mutes, room.group] as const;
    // A member's room message is checked against membership and mutes; notices and direct messages
    // are not, nor recall notices (the core checked membership, and a muted member may recall).
    const checked = members.length === 0 && draft.system === undefined && draft.recall === undefined ? draft.uid : '';
    const args = [
      JSON.stringify(draft),
      resendKey(draft.uid, draft.id),
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
    ];
    return step ? this.redis[step.command](...keys, ...step.args, ...args) : this.redis.chatAppend(...keys, ...args);
  }

  private appended(draft: MessageDraft, [seq, stored, duplicate, epoch]: (string | number)[]): Appended {
    const refused = SEND_REFUSALS[Number(seq)];
    if (refused) throw new SendRefused(refused, refused === 'muted' ? Number(duplicate) : undefined);
    const message: StoredMessage = stored === '' ? withFields(draft, { seq: Number(seq) }) : (JSON.parse(String(stored)) as StoredMessage);
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
