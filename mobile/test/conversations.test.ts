import type { ChatMessage, PresenceEvent } from '@chatroom/server/protocol';
import { describe, expect, it } from 'vitest';
import { ConversationList, GAP_NOTICE, PRESENCE_FOLD_MS } from '../src/lib/conversations';

const presence = (event: 'login' | 'logout', uid: string, name: string): PresenceEvent =>
  ({ event, uid, name, roomid: 'lobby', num: 1, total: 2 }) as PresenceEvent;
const message = (seq: number, uid = 'u-bob'): ChatMessage =>
  ({ event: 'message', id: `id-${seq}`, roomid: 'lobby', seq, ts: seq * 1_000, uid, name: uid.slice(2), message: `m${seq}` }) as ChatMessage;
const texts = (list: ConversationList) => list.byId.lobby.items.map((i) => (i.kind === 'notice' ? `[${i.text}]` : i.text));

describe('conversation list', () => {
  it('a member who leaves and comes back soon leaves no notice; later, both are shown; oneself never', () => {
    const list = new ConversationList('u-me', 'me');
    list.presence(presence('login', 'u-me', 'me'), 0);
    list.presence(presence('login', 'u-bob', 'bob'), 0);
    list.presence(presence('logout', 'u-bob', 'bob'), 1_000);
    list.presence(presence('login', 'u-bob', 'bob'), 5_000);
    expect(texts(list)).toEqual(['[欢迎bob加入聊天室]']);
    list.presence(presence('logout', 'u-bob', 'bob'), 10_000);
    list.presence(presence('login', 'u-bob', 'bob'), 10_000 + PRESENCE_FOLD_MS + 1);
    expect(texts(list)).toEqual(['[欢迎bob加入聊天室]', '[bob已经退出了聊天室]', '[欢迎bob加入聊天室]']);
  });

  it('a gap notice goes where the missing messages were; older pages go on top without duplicates', () => {
    const list = new ConversationList('u-me', 'me');
    for (const seq of [10, 11, 20, 21]) list.addMessage(message(seq));
    list.gap('lobby', 20);
    expect(texts(list)).toEqual(['m10', 'm11', `[${GAP_NOTICE}]`, 'm20', 'm21']);
    list.history({ event: 'history', roomid: 'lobby', messages: [message(8), message(9), message(10)], gap: false, lastSeq: 21, purpose: 'older' } as never, 3);
    expect(texts(list)).toEqual(['m8', 'm9', 'm10', 'm11', `[${GAP_NOTICE}]`, 'm20', 'm21']);
    expect(list.byId.lobby.hasOlder).toBe(true);
    list.history({ event: 'history', roomid: 'lobby', messages: [message(7)], gap: true, lastSeq: 21, purpose: 'older' } as never, 3);
    expect(texts(list)[0]).toBe(`[${GAP_NOTICE}]`);
    expect(list.byId.lobby.hasOlder).toBe(false);
  });

  it('restores what the phone kept: messages, badges and unsent own messages after them', () => {
    const list = new ConversationList('u-me', 'me');
    list.restore([{ roomid: 'lobby', messages: [message(1), message(2, 'u-me')], unread: 1 }], [
      { id: 'out-1', roomid: 'lobby', text: 'pending', status: 'sending', createdAt: 3_000 },
    ]);
    expect(texts(list)).toEqual(['m1', 'm2', 'pending']);
    expect(list.byId.lobby.unread).toBe(1);
    expect(list.byId.lobby.lastText).toBe('pending');
  });
});
