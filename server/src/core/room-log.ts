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
   * the sender sees its message before its ack.
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
}
