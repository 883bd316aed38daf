import { RECEIPTS_MAX } from '@chatroom/server/protocol';
import type { MessageItem, TimelineItem } from './timeline';

/** "N人已读" counts are asked again this often while one's own messages are on screen. */
export const RECEIPTS_REFRESH_MS = 10_000;
/** Opening a chat with at least this many unread offers the "N条新消息" jump to the first of them. */
export const UNREAD_JUMP_MIN = 10;

/** Seqs of one's own sent messages among `items` for a `receipts` request: the newest, within the server's span. */
export function ownReceiptSeqs(items: readonly TimelineItem[]): number[] {
  const seqs: number[] = [];
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item.kind !== 'message' || !item.own || item.seq === undefined || item.recalled || item.recallOf !== undefined) continue;
    if (seqs.length > 0 && seqs[0] - item.seq >= RECEIPTS_MAX) break;
    seqs.push(item.seq);
    if (seqs.length >= RECEIPTS_MAX) break;
  }
  return seqs.reverse();
}

/** What goes under one's own message: 已读/未读 in a direct chat, "N人已读" in a room ('' while unknown). */
export function readLabel(item: MessageItem, conversation: { direct: boolean; peerRead: number; readCounts: Record<number, number> }): string {
  if (!item.own || item.seq === undefined || item.status !== 'sent') return '';
  if (conversation.direct) return item.seq <= conversation.peerRead ? '已读' : '未读';
  const count = conversation.readCounts[item.seq];
  return count === undefined ? '' : `${count}人已读`;
}
