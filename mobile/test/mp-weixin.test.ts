import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { connectAs, type TestClient, type TestServer } from '../../server/test/harness';
import { mpTestScope, signIn, until } from './support/mp-weixin-app';
import type { MpWeixinRuntime } from './support/mp-weixin-runtime';
import { TcpProxy } from './support/tcp-proxy';

const ROOM = 'lobby';

type Page = ReturnType<MpWeixinRuntime['open']>;

/** Texts of a page's elements with a class (the simulator prefixes page classes with `main--`). */
function texts(page: Page, className: string): string[] {
  return [...page.dom.querySelectorAll(`.main--${className}`)].map((e) => e.textContent ?? '');
}

/** The conversation list's row of a room: last message and badge. */
function row(list: Page, roomid: string): { last: string; badge: string | null } | undefined {
  const el = list.dom.querySelector(`[data-roomid="${roomid}"]`);
  if (!el) return undefined;
  return { last: el.querySelector('.main--last')?.textContent ?? '', badge: el.querySelector('.main--badge')?.textContent ?? null };
}

/** Everything a test started, closed after it whatever happened. */
const { cleanups, server, launch } = mpTestScope();

async function proxyTo(target: TestServer): Promise<TcpProxy> {
  const proxy = await TcpProxy.start(target.port);
  cleanups.push(() => proxy.close());
  return proxy;
}

async function peer(target: TestServer, name: string, roomid = ROOM): Promise<TestClient & { user: { uid: string } }> {
  const client = await connectAs(target, name);
  cleanups.push(() => client.close());
  await client.join(roomid);
  return client;
}

function joinedFrames(runtime: MpWeixinRuntime, socket: number): Array<Record<string, unknown>> {
  return runtime.record.received.filter((r) => r.socket === socket && r.frame.event === 'joined').map((r) => r.frame);
}

async function type(page: Page, text: string): Promise<void> {
  page.querySelector('.input')!.dispatchEvent('input', { detail: { value: text } });
  page.querySelector('.send')!.dispatchEvent('tap');
}

describe('the compiled mp-weixin build, run headless against the real server', () => {
  it('logs in with a nickname, receives a message from another client and sends one back', { timeout: 60_000 }, async () => {
    const target = await server();
    const runtime = launch(target);
    await signIn(runtime, '小程序用户', target.url);
    const session = JSON.parse(String(runtime.record.storage.get('chat.session'))) as { name: string; token: string };
    expect(session.name).toBe('小程序用户');

    const chat = runtime.open('pages/chat/index', { roomid: ROOM });
    await until(() => runtime.record.titles.includes('lobby(在线 1 / 1)'), 'joined alone');
    expect(runtime.record.sockets).toHaveLength(1);

    const bob = await peer(target, 'bob');
    await until(() => runtime.record.titles.includes('lobby(在线 2 / 2)'), 'bob counted online');
    await bob.say(ROOM, '你好，小程序');
    await until(() => chat.dom.textContent?.includes('你好，小程序'), 'bob’s message on the page');
    expect(chat.dom.textContent).toContain('欢迎bob加入聊天室');

    await type(chat, '你好 bob，我在小程序里');
    const reply = await bob.next((f) => f.event === 'message' && f.message === '你好 bob，我在小程序里');
    expect(reply.name).toBe('小程序用户');
    await until(() => chat.dom.textContent?.includes('你好 bob，我在小程序里'), 'the own message on the page');
  });

  it('WeChat kills the app in the background: the relaunched app shows the chat and the badge it had, then what came meanwhile, once', {
    timeout: 30_000,
  }, async () => {
    const target = await server();
    const proxy = await proxyTo(target);
    const first = launch(target);
    await signIn(first, '小明', `wss://127.0.0.1:${proxy.port}/`);
    const chat = first.open('pages/chat/index', { roomid: ROOM });
    await until(() => joinedFrames(first, 0).length > 0, 'joined');
    const bob = await peer(target, 'bob');
    await bob.say(ROOM, '早上好');
    await until(() => texts(chat, 'text').includes('早上好'), 'the first message on the page');
    await type(chat, '早');
    await bob.next((f) => f.event === 'message' && f.message === '早');
    first.closePage(chat);
    const list = first.open('pages/conversations/index');
    for (const text of ['中午吃什么', '楼下新开了面馆', '12 点见']) await bob.say(ROOM, text);
    await until(() => row(list, ROOM)?.badge === '3', 'a badge of 3');

    first.hide();
    first.kill();
    await bob.say(ROOM, '你还在吗');

    // Relaunched without a network first: all it shows comes from the phone's storage.
    proxy.refusing = true;
    const second = launch(target, first.record.storage);
    const relaunchedList = second.open('pages/conversations/index');
    await until(() => row(relaunchedList, ROOM), 'the room listed from storage', 1_000);
    expect(row(relaunchedList, ROOM)).toEqual({ last: 'bob: 12 点见', badge: '3' });
    const relaunchedChat = second.open('pages/chat/index', { roomid: ROOM });
    await until(() => texts(relaunchedChat, 'text').length > 0, 'the chat from storage', 1_000);
    expect(texts(relaunchedChat, 'text')).toEqual(['早上好', '早', '中午吃什么', '楼下新开了面馆', '12 点见']);
    second.closePage(relaunchedChat);

    proxy.refusing = false;
    second.setNetwork({ isConnected: true, networkType: '4g' });
    await until(() => row(relaunchedList, ROOM)?.badge === '1', 'one new message while the app was dead', 10_000);
    const reopened = second.open('pages/chat/index', { roomid: ROOM });
    await until(() => texts(reopened, 'text').length >= 6, 'the whole chat');
    expect(texts(reopened, 'text')).toEqual(['早上好', '早', '中午吃什么', '楼下新开了面馆', '12 点见', '你还在吗']);
  });

  it('a message typed in a tunnel goes out when the network returns, even after WeChat killed the app', { timeout: 30_000 }, async () => {
    const target = await server();
    const proxy = await proxyTo(target);
    const first = launch(target);
    await signIn(first, '小红', `wss://127.0.0.1:${proxy.port}/`);
    const chat = first.open('pages/chat/index', { roomid: ROOM });
    const bob = await peer(target, 'bob');
    await until(() => first.record.titles.includes('lobby(在线 2 / 2)'), 'both online');

    // Into the tunnel: the network is gone and stays gone.
    proxy.refusing = true;
    proxy.cutAll();
    first.setNetwork({ isConnected: false, networkType: 'none' });
    await type(chat, '隧道里写的');
    await until(() => texts(chat, 'text').includes('隧道里写的'), 'the message shown at once');
    expect(chat.dom.querySelector('.main--msg.main--own[data-status="sending"]')).not.toBeNull();
    first.hide();
    first.kill();

    const second = launch(target, first.record.storage);
    const reopened = second.open('pages/chat/index', { roomid: ROOM });
    await until(() => texts(reopened, 'text').includes('隧道里写的'), 'the unsent message after the relaunch', 1_000);
    expect(reopened.dom.querySelector('.main--msg.main--own[data-status="sending"]')).not.toBeNull();
    proxy.refusing = false;
    second.setNetwork({ isConnected: true, networkType: '4g' });
    await bob.next((f) => f.event === 'message' && f.message === '隧道里写的', 10_000);
    await until(() => reopened.dom.querySelector('.main--msg.main--own[data-status="sent"]'), 'acknowledged on the page');
    // Exactly once: a request answered after it proves nothing else is on its way.
    await bob.request({ event: 'rooms' });
    expect(bob.messages(ROOM).filter((m) => m.message === '隧道里写的')).toHaveLength(1);
  });

  it('back from the background or on another network, a half-open socket is replaced within a second', { timeout: 30_000 }, async () => {
    const target = await server();
    const proxy = await proxyTo(target);
    const runtime = launch(target);
    await signIn(runtime, '小刚', `wss://127.0.0.1:${proxy.port}/`);
    const chat = runtime.open('pages/chat/index', { roomid: ROOM });
    await until(() => joinedFrames(runtime, 0).length > 0, 'joined');
    const bob = await peer(target, 'bob');

    // WeChat suspends the app in the background: its socket is dead, but nothing says so.
    runtime.hide();
    proxy.mute('both');
    await bob.say(ROOM, '你在后台时发的');
    const shownAt = Date.now();
    runtime.show();
    await until(() => joinedFrames(runtime, 1).length > 0, 'joined on a new socket after onShow', 3_000);
    expect(Date.now() - shownAt).toBeLessThan(1_000);
    await until(() => texts(chat, 'text').includes('你在后台时发的'), 'the message sent while hidden');

    // Wi-Fi to 4G: still "connected", but the old socket belongs to the old network.
    proxy.mute('both');
    const changedAt = Date.now();
    runtime.setNetwork({ isConnected: true, networkType: '4g' });
    await until(() => joinedFrames(runtime, 2).length > 0, 'joined on a new socket after the network change', 3_000);
    expect(Date.now() - changedAt).toBeLessThan(1_000);
    await bob.say(ROOM, '换了网络');
    await until(() => texts(chat, 'text').includes('换了网络'), 'a message on the new network');
  });

  it('a user in 100 rooms reconnects without one refusal under the server’s default rate limit', { timeout: 60_000 }, async () => {
    // The documented defaults (the test environment raises them for everyone else).
    const target = await server({ RATE_LIMIT_PER_SEC: '20', RATE_LIMIT_BURST: '40' });
    const proxy = await proxyTo(target);
    const runtime = launch(target);
    await signIn(runtime, '群主', `wss://127.0.0.1:${proxy.port}/`);
    // The user's other device is in 100 rooms.
    const session = JSON.parse(String(runtime.record.storage.get('chat.session'))) as { uid: string; name: string };
    // Three sockets of it, so that no one of them passes its own burst of 40.
    for (let device = 0; device < 3; device++) {
      const other = await connectAs(target, session.name, session.uid);
      for (let i = device; i < 100; i += 3) await other.join(`room-${i}`);
      await other.close();
    }

    runtime.open('pages/conversations/index');
    await until(() => new Set(joinedFrames(runtime, 0).map((f) => f.roomid)).size === 100, 'all 100 rooms joined', 20_000);
    proxy.cutAll();
    await until(() => new Set(joinedFrames(runtime, 1).map((f) => f.roomid)).size === 100, 'all 100 rooms joined again', 20_000);
    const refusals = runtime.framesReceived('error').filter((f) => f.code === 4429);
    expect(refusals).toEqual([]);
    expect(runtime.record.socketTimes.map((t) => t.closeCode).filter((c) => c === 4029)).toEqual([]);
  });

  it('an expired token with the development login off lands on the login page', { timeout: 30_000 }, async () => {
    const secret = 'mobile-test-secret-0123456789abcdef0123456789';
    const target = await server({ JWT_SECRET: secret, DEV_LOGIN: 'false' });
    const expired = jwt.sign({ name: '老用户' }, secret, { algorithm: 'HS256', subject: 'u-old', expiresIn: -60 });
    const phone = new Map<string, unknown>([
      ['chat.server', JSON.stringify(target.url)],
      ['chat.session', JSON.stringify({ token: expired, uid: 'u-old', name: '老用户', expiresAt: Date.now() - 60_000, refreshToken: 'r', color: '#07c160' })],
    ]);
    const runtime = launch(target, phone);
    runtime.open('pages/login/index');
    await until(() => runtime.record.navigations.includes('/pages/conversations/index'), 'the stored session opens the list');
    runtime.open('pages/conversations/index');
    await until(() => runtime.record.navigations.at(-1) === '/pages/login/index', 'back to the login page', 8_000);
    expect(runtime.record.storage.has('chat.session')).toBe(false);
  });

  it('the server field refuses ws://, which phones refuse', { timeout: 30_000 }, async () => {
    const target = await server();
    const runtime = launch(target);
    const page = runtime.open('pages/login/index');
    page.querySelector('.name-input')!.dispatchEvent('input', { detail: { value: '测试' } });
    page.querySelector('.server-input')!.dispatchEvent('input', { detail: { value: target.url.replace('wss://', 'ws://') } });
    page.querySelector('.login-button')!.dispatchEvent('tap');
    await until(() => texts(page, 'error').length > 0, 'an error under the form');
    expect(texts(page, 'error')[0]).toContain('wss://');
    expect(runtime.record.navigations).toEqual([]);
  });

  it('a member whose app went to the background and back leaves no leave and join notices behind', { timeout: 30_000 }, async () => {
    const target = await server();
    const runtime = launch(target);
    await signIn(runtime, '小芳', target.url);
    const chat = runtime.open('pages/chat/index', { roomid: ROOM });
    await until(() => joinedFrames(runtime, 0).length > 0, 'joined');
    const bob = await peer(target, 'bob');
    await until(() => texts(chat, 'notice-text').includes('欢迎bob加入聊天室'), 'bob’s first join shown');

    // Bob's phone drops its socket and comes straight back.
    await bob.drop();
    const back = await connectAs(target, 'bob', bob.user.uid);
    cleanups.push(() => back.close());
    await back.join(ROOM);
    await back.say(ROOM, '我回来了');
    await until(() => texts(chat, 'text').includes('我回来了'), 'bob’s message after coming back');
    expect(texts(chat, 'notice-text')).toEqual(['欢迎bob加入聊天室']);
  });
  it('groups: an invited member sees the room by its name, the notice on entry, the mute in the input bar and 群设置 with roles; a kick takes the room off the list', {
    timeout: 30_000,
  }, async () => {
    const target = await server();
    const runtime = launch(target);
    await signIn(runtime, '小林', target.url);
    const uid = (JSON.parse(String(runtime.record.storage.get('chat.session'))) as { uid: string }).uid;
    const list = runtime.open('pages/conversations/index');
    const owner = await connectAs(target, '老王');
    cleanups.push(() => owner.close());
    const roomid = (await owner.request({ event: 'create', title: '家庭群', private: true })).roomid as string;
    await owner.join(roomid);
    await owner.request({ event: 'update', roomid, notice: '周六中午聚餐' });
    await owner.request({ event: 'invite', roomid, user: uid });
    await until(() => list.dom.querySelector(`[data-roomid="${roomid}"] .main--name`)?.textContent === '家庭群', 'the room listed by its name');

    const chat = runtime.open('pages/chat/index', { roomid });
    // The notice is a component of the page: its classes carry the component's prefix, not `main--`.
    await until(() => chat.dom.querySelector('[class*="group-notice-text"]')?.textContent === '周六中午聚餐', 'the notice on entry');
    await owner.request({ event: 'mute', roomid, user: uid, seconds: 600 });
    await until(() => texts(chat, 'silenced-text')[0]?.startsWith('你已被禁言，至'), 'the mute in the input bar');
    expect(texts(chat, 'notice-text')).toContain('小林被管理员禁言10分钟');

    const settings = runtime.open('pages/room-settings/index', { roomid });
    await until(() => texts(settings, 'member-name').length === 2, 'both members in 群设置');
    expect(texts(settings, 'role')).toEqual(['群主']);
    expect(texts(settings, 'muted-tag')[0]).toMatch(/^禁言至 /);
    runtime.closePage(settings);

    await owner.request({ event: 'kick', roomid, user: uid });
    await until(() => !list.dom.querySelector(`[data-roomid="${roomid}"]`), 'the room gone from the list');
    await until(() => runtime.record.toasts.includes('你已被老王移出群聊“家庭群”'), 'the toast saying who removed the user');
  });
});
