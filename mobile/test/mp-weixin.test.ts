import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connectAs, startTestServer, type TestClient, type TestServer } from '../../server/test/harness';
import { MpWeixinRuntime } from './support/mp-weixin-runtime';

const MP_DIR = fileURLToPath(new URL('../dist/build/mp-weixin/', import.meta.url));
const ROOM = 'lobby';

async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the compiled mp-weixin build, run headless against the real server', () => {
  let server: TestServer | undefined;
  let bob: TestClient | undefined;
  let runtime: MpWeixinRuntime | undefined;

  afterAll(async () => {
    runtime?.close();
    await bob?.close();
    await server?.close();
  });

  it('logs in with a nickname, receives a message from another client and sends one back', { timeout: 60_000 }, async () => {
    if (!existsSync(`${MP_DIR}app.json`)) throw new Error(`${MP_DIR} is not built: run npm run build -w mobile`);
    server = await startTestServer();
    runtime = new MpWeixinRuntime(MP_DIR, server.tls?.cert);
    runtime.start();

    // The login page: nickname and, since this build names no server, the server's address.
    const login = runtime.open('pages/login/index');
    login.querySelector('.name-input')!.dispatchEvent('input', { detail: { value: '小程序用户' } });
    login.querySelector('.server-input')!.dispatchEvent('input', { detail: { value: server.url } });
    login.querySelector('.login-button')!.dispatchEvent('tap');
    await until(() => runtime!.record.navigations.includes('/pages/conversations/index'), 'login and the conversation list');
    const session = JSON.parse(String(runtime.record.storage.get('chat.session'))) as { name: string; token: string };
    expect(session.name).toBe('小程序用户');

    const chat = runtime.open('pages/chat/index', { roomid: ROOM });
    await until(() => runtime!.record.titles.includes('lobby(在线 1 / 1)'), 'joined alone');
    expect(runtime.record.sockets).toHaveLength(1);

    bob = await connectAs(server, 'bob');
    await bob.join(ROOM);
    await until(() => runtime!.record.titles.includes('lobby(在线 2 / 2)'), 'bob counted online');
    await bob.say(ROOM, '你好，小程序');
    await until(() => chat.dom.textContent?.includes('你好，小程序'), 'bob’s message on the page');
    expect(chat.dom.textContent).toContain('欢迎bob加入聊天室');

    chat.querySelector('.input')!.dispatchEvent('input', { detail: { value: '你好 bob，我在小程序里' } });
    chat.querySelector('.send')!.dispatchEvent('tap');
    const reply = await bob.next((f) => f.event === 'message' && f.message === '你好 bob，我在小程序里');
    expect(reply.name).toBe('小程序用户');
    await until(() => chat.dom.textContent?.includes('你好 bob，我在小程序里'), 'the own message on the page');
  });
});
