import type { ChatMessage } from '@chatroom/server/protocol';
import type { OutgoingMessage, OutgoingStatus } from './outbox';

export interface MessageItem {
  kind: 'message';
  key: string;
  id: string;
  uid: string;
  name: string;
  text: string;
  ts: number;
  seq?: number;
  own: boolean;
  status: OutgoingStatus;
  /** Own failed messages: why (error-text.ts describeFailure). */
  errorCode?: number;
}

export interface NoticeItem {
  kind: 'notice';
  key: string;
  text: string;
  ts: number;
}

export type TimelineItem = MessageItem | NoticeItem;

let noticeCounter = 0;

export function notice(text: string, ts = Date.now()): NoticeItem {
  noticeCounter += 1;
  return { kind: 'notice', key: `n${noticeCounter}`, text, ts };
}

export function fromServer(message: ChatMessage, selfUid: string | undefined): MessageItem {
  return {
    kind: 'message',
    key: message.id,
    id: message.id,
    uid: message.uid,
    name: message.name,
    text: message.message,
    ts: message.ts,
    seq: message.seq,
    own: message.uid === selfUid,
    status: 'sent',
  };
}

export function fromOutgoing(message: OutgoingMessage, selfUid: string, selfName: string): MessageItem {
  return {
    kind: 'message',
    key: message.id,
    id: message.id,
    uid: selfUid,
    name: selfName,
    text: message.text,
    ts: message.createdAt,
    seq: message.seq,
    own: true,
    status: message.status,
    ...(message.errorCode !== undefined ? { errorCode: message.errorCode } : {}),
  };
}

/**
 * Puts a server message in seq order: it moves back only past later messages and own messages
 * still waiting for a seq, never past a notice (which marks when something happened).
 */
export function insertBySeq(items: TimelineItem[], item: MessageItem): void {
  let at = items.length;
  while (at > 0) {
    const before = items[at - 1];
    if (before.kind !== 'message') break;
    const later = before.seq === undefined ? before.own : item.seq !== undefined && before.seq > item.seq;
    if (!later) break;
    at -= 1;
  }
  items.splice(at, 0, item);
}

/** Whether a time label goes above item `index`: the first one, and after a pause of 5 minutes. */
export function needsTimeLabel(items: TimelineItem[], index: number): boolean {
  if (index === 0) return true;
  return items[index].ts - items[index - 1].ts > 5 * 60_000;
}

/** WeChat-style time: "14:05" today, "昨天 14:05", "3月7日 14:05", "2025年3月7日 14:05". */
export function formatTime(ts: number, now = Date.now(), withClock = true): string {
  const date = new Date(ts);
  const today = new Date(now);
  const clock = `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
  const startOfToday = new Date(today.getFullYear(), today.getMonth(), today.getDate()).getTime();
  const join = (day: string) => (withClock ? `${day} ${clock}` : day);
  if (ts >= startOfToday) return clock;
  if (ts >= startOfToday - 86_400_000) return join('昨天');
  if (date.getFullYear() === today.getFullYear()) return join(`${date.getMonth() + 1}月${date.getDate()}日`);
  return join(`${date.getFullYear()}年${date.getMonth() + 1}月${date.getDate()}日`);
}
