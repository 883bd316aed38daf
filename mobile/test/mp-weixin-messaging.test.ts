import { describe, expect, it } from 'vitest';
import { connectAs, type TestClient, type TestServer } from '../../server/test/harness';
import { mpTestScope, signIn, until } from './support/mp-weixin-app';
import type { MpWeixinRuntime } from './support/mp-weixin-runtime';

const ROOM = 'mp-msg';

const { cleanups, server, launch } = mpTestScope();

async function peer(target: TestServer, name: string): Promise<TestClient & { user: { uid: string } }> {
  const client = await connectAs(target, name);
  cleanups.push(() => client.close());
  await client.join(ROOM);
  return client;
}

/** Everything the phone keeps, as one string. */
function stored(runtime: MpWeixinRuntime): string {
  return [...runtime.record.storage.values()].map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('\n');
}

describe('the compiled mp-weixin build: recall and history paging against the real server', () => {
  it('long press offers 复制/引用/撤回; a recall replaces the message here and for the other member, and leaves storage', { timeout: 30_000 }, async () => {
    const target = await server();
    const runtime = launch(target);
    await signIn(runtime, '小红', target.url);
    const chat = runtime.open('pages/chat/index', { roomid: ROOM });
    await until(() => runtime.record.titles.includes(`${ROOM}(在线 1 / 1)`), 'joined');
    const bob = await peer(target, 'bob');

    chat.querySelector('.input')!.dispatchEvent('input', { detail: { value: '小程序里发错的话' } });
    chat.querySelector('.send')!.dispatchEvent('tap');
    const mine = await bob.next((f) => f.event === 'message' && f.message === '小程序里发错的话');
    await until(() => runtime.record.received.some((r) => r.frame.event === 'ack'), 'the ack');
    await until(() => stored(runtime).includes('小程序里发错的话'), 'the message kept on the phone', 5_000);

    // Copy first (the first bubble is the only one).
    runtime.actionSheetChoice = '复制';
    chat.querySelector('.bubble')!.dispatchEvent('longpress');
    await until(() => runtime.record.clipboard.includes('小程序里发错的话'), 'copied');
    expect(runtime.record.actionSheets[0]).toEqual(['复制', '引用', '撤回']);

    runtime.actionSheetChoice = '撤回';
    chat.querySelector('.bubble')!.dispatchEvent('longpress');
    const notice = await bob.next((f) => f.event === 'message' && f.kind === 'recall');
    expect(notice).toMatchObject({ recall: mine.seq, name: '小红', message: '小红撤回了一条消息' });
    await until(() => chat.dom.textContent?.includes('你撤回了一条消息'), 'the notice in place of the message');
    expect(chat.dom.textContent).not.toContain('小程序里发错的话');
    // The archive is written within a second: the text is gone from the phone too.
    await until(() => !stored(runtime).includes('小程序里发错的话'), 'the text gone from storage', 5_000);

    // Someone else's recall: the notice names them.
    const said = await bob.say(ROOM, 'bob 也说错了');
    await until(() => chat.dom.textContent?.includes('bob 也说错了'), 'bob’s message');
    await bob.request({ event: 'recall', roomid: ROOM, seq: said.seq, id: 'bob-recall' });
    await until(() => chat.dom.textContent?.includes('bob撤回了一条消息'), 'bob’s recall');
    expect(chat.dom.textContent).not.toContain('bob 也说错了');
  });

  it('pulling down loads earlier messages than the page had, down to where the server keeps history', { timeout: 60_000 }, async () => {
    const target = await server({ HISTORY_PER_ROOM: '100' });
    const writer = await peer(target, 'writer');
    for (let i = 1; i <= 130; i++) writer.send({ event: 'message', roomid: ROOM, message: `旧消息 ${i}`, id: `old-${i}` });
    await writer.next((f) => f.event === 'ack' && f.id === 'old-130', 10_000);

    const runtime = launch(target);
    await signIn(runtime, '小刚', target.url);
    const chat = runtime.open('pages/chat/index', { roomid: ROOM });
    await until(() => chat.dom.textContent?.includes('旧消息 130'), 'the newest page');
    expect(chat.dom.textContent).not.toContain('旧消息 80');

    const histories = () => runtime.record.received.filter((r) => r.frame.event === 'history').length;
    const bubbles = () => [...chat.dom.querySelectorAll('.main--bubble')].map((e) => e.textContent ?? '');
    const atStart = () => chat.dom.textContent?.includes('更早的消息已不可查看');
    for (let pulls = 0; !atStart(); pulls++) {
      if (pulls > 20) throw new Error('never reached the start of kept history');
      const first = bubbles()[0];
      chat.querySelector('.timeline')!.dispatchEvent('refresherrefresh');
      // Either the window moved up over what is loaded, or a page came: the first bubble changes.
      await until(() => (bubbles()[0] !== first || atStart()) && !chat.dom.textContent?.includes('加载中'), 'the pull handled');
    }
    // 130 sent, 100 kept: the first kept is 旧消息 31, right under the notice.
    expect(bubbles()[0]).toBe('旧消息 31');
    expect(histories()).toBeGreaterThanOrEqual(2);
  });
});
