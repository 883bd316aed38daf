/**
 * The room log: where a message gets its seq, is kept, and is fanned out. Every message, in a room
 * or a direct chat, goes through `append` or `appendDirect`, which store it and hand it to every
 * subscribed node in ONE atomic step (the embedded log in-process, Redis in one Lua script), so
 * all nodes see a room's messages in seq order and a stored message is never left unpublished.
 *
 * Idempotency lives here too: a draft with the (uid, id) of a message the room still keeps is not
 * stored twice; the original comes back with `duplicate: true` and nothing is fanned out again.
 */

import type { ChatMessage } from '../protocol.ts';
import type { RecallRefusal, RecallRequest } from './recall.ts';

export type { RecallRefusal, RecallRequest };

/** A message as stored: the wire frame without per-delivery fields. */
export type StoredMessage = Omit<ChatMessage, 'num' | 'total' | 'replay'>;

export type MessageDraft = Omit<StoredMessage, 'seq'>;

export interface Appended {
  message: StoredMessage;
  /** The draft's (uid, id) was accepted before: `message` is the original, delivered then, not now. */
  duplicate: boolean;
}

export interface AppendedDirect extends Appended {
  /** The recipient had no open connection: the message waits in their inbox. */
  queued: boolean;
}

/** A recall was refused (see recall.ts); nothing changed. */
export interface RecallRefused {
  refused: RecallRefusal;
}

export interface HistorySlice {
  /** Oldest first. */
  messages: StoredMessage[];
  /** Something asked for is no longer kept (evicted or trimmed). */
  gap: boolean;
  /** The room's newest seq. */
  lastSeq: number;
}

export interface RoomLog {
  /**
   * Gives the draft the room's next seq, keeps it in the room's history and publishes it to the
   * room's topic, atomically. Resolves once this node's own subscribers have been handed it, so
   * the sender sees its message before its ack. A draft that quotes a message recalled meanwhile is
   * kept with that quote shown as recalled. Its mentions are noted for the mentioned members who
   * have not read that far (their `mention` in `rooms` and `joined`).
   */
  append(draft: MessageDraft): Promise<Appended>;

  /**
   * The same for a direct message (`draft.roomid` is the pair's `dm:` id, both become members):
   * atomically with the recipient's presence check, the message either goes into their inbox
   * (no open connection) or is published to their connections; the sender's connections get it too.
   */
  appendDirect(draft: MessageDraft, to: string): Promise<AppendedDirect>;

  /**
   * The next page forward: the oldest `limit` messages with afterSeq < seq (< beforeSeq when
   * given), oldest first. `gap` when some of that range is no longer kept.
   */
  readAfter(roomid: string, afterSeq: number, limit: number, beforeSeq?: number): Promise<HistorySlice>;

  /** Messages with seq < beforeSeq (or the newest), at most `limit`, oldest first. */
  readBefore(roomid: string, beforeSeq: number | undefined, limit: number): Promise<HistorySlice>;

  /**
   * Recalls message `request.notice.recall` of the notice's room, in one atomic step with appending
   * the notice (recall.ts): the message becomes a tombstone, quotes of it lose their excerpt, and
   * the notice gets the next seq and fans out like a message (`append`, or `appendDirect` to
   * `notice.to`, whose inbox is rewritten too). A resend of the same notice (uid, id) is answered
   * with the stored notice, `duplicate`. Refused (nothing changed) when the message is not kept, is
   * not the user's to recall, is too old, or was recalled already.
   */
  recall(request: RecallRequest): Promise<Appended | RecallRefused>;
}

/**
 * `base` with `fields` added, as a new object: how a draft gets its room and a stored message its
 * seq on the message path. Not `{ ...base, ...fields }` nor `{ ...base, key }`: on Node 20's V8 a
 * spread followed by more properties builds an object about three times as large (426 against 146
 * bytes for a message) and close to half of such objects outlive a scavenge, so every message paid
 * for copies and promotions and the old generation filled with them (docs/benchmarks.md, "Object
 * spread on the message path"). Object.assign builds the small object and lets it die young.
 */
export function withFields<T extends object, U extends object>(base: T, fields: U): T & U {
  return Object.assign({}, base, fields);
}

/**
 * A message as its sender's client names it, sender and client `id`, which a resend repeats: how
 * both stores recognise a resend (the embedded one in memory, Redis in a room's recent ids) and how
 * Redis remembers a direct message as queued or delivered. A uid has no line feed, so the key names
 * one sender and one id whatever the id holds.
 */
export function resendKey(uid: string, id: string): string {
  return `${uid}\n${id}`;
}

export function isRecallRefused(result: Appended | RecallRefused): result is RecallRefused {
  return 'refused' in result;
}
