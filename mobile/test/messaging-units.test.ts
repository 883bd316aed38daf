import type { ChatMessage } from '@chatroom/server/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConversationList } from '../src/lib/conversations';
import { insertMention, mentionSegments, mentionsIn, typedAt } from '../src/lib/mentions';
import { actionsFor, canRecall, quoteText, RECALL_WINDOW_MS, recallNotice } from '../src/lib/message-actions';
import { ReadMarks } from '../src/lib/read-marks';
import { ReadReporter } from '../src/lib/read-reporter';
import { ownReceiptSeqs, readLabel } from '../src/lib/receipts';
import { RoomArchive } from '../src/lib/room-archive';
import { MemoryStorage } from '../src/lib/storage';
import { fromServer, type MessageItem } from '../src/lib/timeline';
import { TypingIndicator, TypingSender } from '../src/lib/typing';

function message(seq: number, extra: Partial<ChatMessage> = {}): ChatMessage {
  return {
    event: 'message' as ChatMessage['event'],
    id: `id-${seq}`,
    roomid: 'r',
    seq,
    ts: 1_000 + seq,
    uid: 'bob',
    name: 'bob',
    message: `text ${seq}`,
    ...extra,
  };
}

describe('message actions', () => {
  const own = (ts: number): MessageItem => ({ ...fromServer(message(1, { uid: 'me', ts }), 'me') });

  it('offers recall of one’s own message within the window, and of any message to owners and admins', () => {
    const now = 10_000_000;
    expect(actionsFor(own(now - 1_000), 'member', now)).toEqual(['复制', '引用', '撤回']);
    expect(actionsFor(own(now - RECALL_WINDOW_MS - 1), 'member', now)).toEqual(['复制', '引用']);
    // A server with a longer RECALL_WINDOW_MS (told in welcome) keeps 撤回 on offer that long.
    expect(actionsFor(own(now - 5 * 60_000), 'member', now, 10 * 60_000)).toEqual(['复制', '引用', '撤回']);
    const others = fromServer(message(2, { ts: 0 }), 'me');
    expect(canRecall(others, undefined, now)).toBe(false);
    expect(canRecall(others, 'admin', now)).toBe(true);
    expect(canRecall(others, 'owner', now)).toBe(true);
    // Not sent yet: nothing to quote or recall.
    expect(actionsFor({ ...own(now), seq: undefined, status: 'sending' }, 'owner', now)).toEqual(['复制']);
  });

  it('words recall notices and quotes', () => {
    expect(recallNotice({ uid: 'me', name: '我' }, 'me')).toBe('你撤回了一条消息');
    expect(recallNotice({ uid: 'bob', name: 'bob' }, 'me')).toBe('bob撤回了一条消息');
    expect(quoteText({ seq: 1, uid: 'bob', name: 'bob', excerpt: '你好' })).toBe('bob：你好');
    expect(quoteText({ seq: 1, uid: 'bob', name: 'bob', recalled: true })).toBe('bob：[该消息已撤回]');
  });
});

describe('mentions', () => {
  it('opens the picker on a typed @, inserts the name, sends only the names left in the text', () => {
    expect(typedAt('你好', '你好@')).toBe(true);
    expect(typedAt('你好@', '你好@')).toBe(false);
    expect(typedAt('a', 'b@')).toBe(false);
    expect(insertMention('你好@', 'bob')).toBe('你好@bob ');
    const picks = [
      { uid: 'u-bob', name: 'bob' },
      { uid: 'u-eve', name: 'eve' },
      { uid: '*', name: '所有人' },
    ];
    expect(mentionsIn('@bob @所有人 开会', picks)).toEqual({ mentions: ['u-bob'], mentionAll: true });
    expect(mentionSegments('@alice 看 @所有人', ['alice', '所有人'])).toEqual([
      { text: '@alice', at: true },
      { text: ' 看 ', at: false },
      { text: '@所有人', at: true },
    ]);
  });
});

describe('recall in the timeline and the archive', () => {
  it('turns the message into a tombstone and quotes of it into recalled ones', () => {
    const list = new ConversationList('me', '我');
    list.addMessage(message(1));
    list.addMessage(message(2, { uid: 'me', name: '我', quote: { seq: 1, uid: 'bob', name: 'bob', excerpt: 'text 1' } }));
    list.addMessage(message(3, { kind: 'recall', recall: 1, message: 'bob撤回了一条消息' }));
    const items = list.byId.r.items as MessageItem[];
    expect(items[0]).toMatchObject({ text: '', recalled: { uid: 'bob' } });
    expect(items[1].quote).toEqual({ seq: 1, uid: 'bob', name: 'bob', recalled: true });
    expect(items[2].recallOf).toBe(1);
    expect(list.byId.r.lastText).toBe('bob撤回了一条消息');

    const storage = new MemoryStorage();
    const archive = new RoomArchive(storage);
    archive.append('r', message(1));
    archive.append('r', message(2, { quote: { seq: 1, uid: 'bob', name: 'bob', excerpt: 'text 1' } }));
    archive.recall('r', 1, { uid: 'bob', name: 'bob', ts: 5 });
    archive.flush();
    expect(JSON.stringify(storage.get('room.r'))).not.toContain('text 1');
  });
});

describe('read state', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reports reads at most every 3 s, and at once on flush', () => {
    const sent: Array<[string, number]> = [];
    const reporter = new ReadReporter((roomid, seq) => (sent.push([roomid, seq]), true));
    reporter.seen('r', 1);
    reporter.seen('r', 2);
    reporter.seen('r', 3);
    expect(sent).toEqual([['r', 1]]);
    vi.advanceTimersByTime(3_000);
    expect(sent).toEqual([
      ['r', 1],
      ['r', 3],
    ]);
    reporter.seen('r', 4);
    reporter.flush('r');
    expect(sent.at(-1)).toEqual(['r', 4]);
    vi.advanceTimersByTime(10_000);
    expect(sent).toHaveLength(3);
  });

  it('keeps a read that could not be sent for the next socket', () => {
    let up = false;
    const sent: number[] = [];
    const reporter = new ReadReporter((_roomid, seq) => up && sent.push(seq) > 0);
    reporter.seen('r', 5);
    expect(sent).toEqual([]);
    up = true;
    reporter.online();
    expect(sent).toEqual([5]);
  });

  it('counts unread as the server does, follows the server’s cursor, and clears [有人@我] when read past', () => {
    const archive = new RoomArchive(new MemoryStorage());
    const counts: number[] = [];
    const mentions: Array<number | undefined> = [];
    const reported: number[] = [];
    const reads = new ReadMarks(
      archive,
      () => 'me',
      (_r, n) => counts.push(n),
    );
    reads.mentionChanged = (_r, seq) => mentions.push(seq);
    reads.reported = (_r, seq) => reported.push(seq);
    reads.server('r', { read: 2, lastSeq: 5, mention: 4 });
    expect(reads.unread('r')).toBe(3);
    reads.incoming(message(6, { mentions: ['me'] }));
    expect(reads.unread('r')).toBe(4);
    expect(reads.mention('r')).toBe(4);
    // Another device read up to 4: the first mention is read, the count follows.
    reads.server('r', { read: 4 });
    expect(reads.unread('r')).toBe(2);
    expect(reads.mention('r')).toBeUndefined();
    expect(reported).toEqual([]);
    reads.open('r', 6);
    expect(reads.unread('r')).toBe(0);
    expect(reported).toEqual([6]);
    expect(mentions).toEqual([4, undefined]);
  });

  it('labels own messages 已读/未读 in direct chats and N人已读 in rooms', () => {
    const mine = fromServer(message(3, { uid: 'me' }), 'me');
    expect(readLabel(mine, { direct: true, peerRead: 3, readCounts: {} })).toBe('已读');
    expect(readLabel(mine, { direct: true, peerRead: 2, readCounts: {} })).toBe('未读');
    expect(readLabel(mine, { direct: false, peerRead: 0, readCounts: { 3: 2 } })).toBe('2人已读');
    expect(readLabel(mine, { direct: false, peerRead: 0, readCounts: {} })).toBe('');
    const items = [1, 50, 120, 160].map((seq) => fromServer(message(seq, { uid: 'me' }), 'me'));
    expect(ownReceiptSeqs(items)).toEqual([120, 160]);
  });
});

describe('typing', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends at most every 3 s, and shows for 5 s after the last event or until the typist’s message', () => {
    const sent: string[] = [];
    const sender = new TypingSender((to) => sent.push(to) > 0);
    sender.typed('bob', 0);
    sender.typed('bob', 1_000);
    sender.typed('bob', 3_000);
    expect(sent).toEqual(['bob', 'bob']);

    const changes: boolean[] = [];
    const indicator = new TypingIndicator((_r, typing) => changes.push(typing));
    indicator.typing('dm', 'bob');
    vi.advanceTimersByTime(4_000);
    indicator.typing('dm', 'bob');
    vi.advanceTimersByTime(4_000);
    expect(indicator.isTyping('dm')).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(changes).toEqual([true, false]);
    indicator.typing('dm', 'bob');
    indicator.message('dm', 'me');
    expect(indicator.isTyping('dm')).toBe(true);
    indicator.message('dm', 'bob');
    expect(changes).toEqual([true, false, true, false]);
  });
});
