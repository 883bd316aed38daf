import type { GroupRole, QuoteSnapshot, RecallMark } from '@chatroom/server/protocol';
import type { MessageItem, TimelineItem } from './timeline';

/**
 * How long after sending a message its sender may recall it, until the server's `welcome` says
 * (its RECALL_WINDOW_MS, default 2 minutes); the server has the last word (4411 RecallTooLate).
 */
export const RECALL_WINDOW_MS = 2 * 60_000;

export type MessageAction = '复制' | '引用' | '撤回';

/** "你撤回了一条消息" for one's own recall, "X撤回了一条消息" for anyone else's. */
export function recallNotice(mark: Pick<RecallMark, 'uid' | 'name'>, selfUid: string | undefined): string {
  return mark.uid === selfUid ? '你撤回了一条消息' : `${mark.name}撤回了一条消息`;
}

/** Whether the user may recall this message now: their own within the window, or any as the room's owner or an admin. */
export function canRecall(item: MessageItem, role: GroupRole | undefined, now = Date.now(), windowMs = RECALL_WINDOW_MS): boolean {
  if (item.seq === undefined || item.recalled || item.recallOf !== undefined || item.status !== 'sent') return false;
  if (role === 'owner' || role === 'admin') return true;
  return item.own && now - item.ts < windowMs;
}

/** What a long press on a bubble offers, in order. */
export function actionsFor(item: MessageItem, role: GroupRole | undefined, now = Date.now(), windowMs = RECALL_WINDOW_MS): MessageAction[] {
  if (item.recalled || item.recallOf !== undefined) return [];
  const actions: MessageAction[] = ['复制'];
  if (item.seq !== undefined && item.status === 'sent') actions.push('引用');
  if (canRecall(item, role, now, windowMs)) actions.push('撤回');
  return actions;
}

/** A quote of a recalled message: it says so and keeps no excerpt. */
export function recalledQuote(quote: QuoteSnapshot): QuoteSnapshot {
  const { excerpt: _excerpt, ...rest } = quote;
  return { ...rest, recalled: true };
}

/** A local snapshot of the message being quoted, shown on one's own message until the server's comes back. */
export function quoteOf(item: MessageItem): QuoteSnapshot {
  const points = Array.from(item.text);
  const excerpt = points.length <= 50 ? item.text : `${points.slice(0, 50).join('')}…`;
  return { seq: item.seq ?? 0, uid: item.uid, name: item.name, excerpt };
}

/** What a bubble shows of a quote. */
export function quoteText(quote: QuoteSnapshot): string {
  return `${quote.name}：${quote.recalled ? '[该消息已撤回]' : quote.kind === 'image' ? '[图片]' : (quote.excerpt ?? '')}`;
}

/** What a recall changes in a message, wherever it is kept (timeline item, archived message). */
interface Recallable {
  seq?: number;
  quote?: QuoteSnapshot;
  recalled?: RecallMark;
  mentions?: string[];
  mentionAll?: boolean;
}

/**
 * A recall of `seq` reached a list of messages: that message becomes a tombstone (its text cleared
 * by `clearText`, no quote, no mentions) and every quote of it turns recalled. `skip`: entries that
 * are not messages that can be recalled (notices). True when anything changed.
 */
export function recallIn<T extends Recallable>(list: T[], seq: number, mark: RecallMark, skip: (entry: T) => boolean, clearText: (entry: T) => void): boolean {
  let changed = false;
  for (const entry of list) {
    if (skip(entry)) continue;
    if (entry.seq === seq && !entry.recalled) {
      clearText(entry);
      entry.recalled = mark;
      delete entry.quote;
      delete entry.mentions;
      delete entry.mentionAll;
      changed = true;
    } else if (entry.quote?.seq === seq && !entry.quote.recalled) {
      entry.quote = recalledQuote(entry.quote);
      changed = true;
    }
  }
  return changed;
}

/** A recall reached a timeline (recall notices themselves are left alone). */
export function recallItems(items: TimelineItem[], seq: number, mark: RecallMark): boolean {
  const messages = items.filter((i): i is MessageItem => i.kind === 'message');
  return recallIn(
    messages,
    seq,
    mark,
    (item) => item.recallOf !== undefined,
    (item) => (item.text = ''),
  );
}
