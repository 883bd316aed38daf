/**
 * Recall (撤回), shared by both backends so they rewrite a room's history into the same bytes.
 *
 * A recall is itself an event in the room's seq order: a `recall` notice (kind `recall`, its own
 * seq) that every member receives once, live or when they come back, like any message. In the same
 * atomic step the recalled message is rewritten in place as a tombstone (its text and content gone,
 * `recalled` set), and every kept message that quotes it loses its excerpt. Nothing delivered after
 * that step carries the text: history, replay, `rooms` summaries and offline inboxes read the
 * rewritten entries.
 */

import { recallNoticeText, ServerEvent } from '../protocol.ts';
import type { MessageDraft, StoredMessage } from './room-log.ts';
import type { RecallScope } from './room-policy.ts';

/** Why a recall was not done. */
export type RecallRefusal = 'unknown' | 'not-yours' | 'too-late' | 'recalled';

export interface RecallRequest {
  /** The recall notice: kind `recall`, `recall` = the target's seq, `ts` = now; `to` = the peer in a direct chat. */
  notice: MessageDraft;
  scope: RecallScope;
  /** How long after sending its sender may recall a message (scope `own`). */
  windowMs: number;
}

/** The recall notice's draft: from `who`, about message `seq` of `roomid`. */
export function recallNotice(who: { uid: string; name: string }, id: string, roomid: string, seq: number, ts: number, to?: string): MessageDraft {
  const notice: MessageDraft = {
    event: ServerEvent.Message,
    id,
    ts,
    uid: who.uid,
    name: who.name,
    message: recallNoticeText(who.name),
    kind: 'recall',
    recall: seq,
    roomid,
  };
  if (to !== undefined) notice.to = to;
  return notice;
}

/** Why `target` may not be recalled by this request, or undefined when it may. */
export function recallRefusal(target: StoredMessage | undefined, request: RecallRequest): RecallRefusal | undefined {
  if (!target || target.kind === 'recall') return 'unknown';
  if (target.recalled) return 'recalled';
  if (request.scope === 'any') return undefined;
  if (target.uid !== request.notice.uid) return 'not-yours';
  return request.notice.ts - target.ts > request.windowMs ? 'too-late' : undefined;
}

/** The recalled message as it is kept from now on: who sent it and when, nothing of what it said. */
export function tombstoneOf(target: StoredMessage, notice: MessageDraft): StoredMessage {
  // `message` keeps its place in the object, so both backends serialise the same bytes.
  const tombstone: StoredMessage = { ...target, message: '', recalled: { uid: notice.uid, name: notice.name, ts: notice.ts } };
  delete tombstone.image;
  delete tombstone.quote;
  delete tombstone.mentions;
  delete tombstone.mentionAll;
  return tombstone;
}

/** A message that quotes the recalled `seq`, with its quote shown as recalled (no excerpt). */
export function withQuoteRecalled<M extends { quote?: StoredMessage['quote'] }>(message: M, seq: number): M {
  const quote = message.quote;
  if (!quote || quote.seq !== seq || quote.recalled) return message;
  const { excerpt: _excerpt, ...kept } = quote;
  return { ...message, quote: { ...kept, recalled: true } };
}
