import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, startTestServer, type TestServer } from '../../server/test/harness';
import { chromiumAvailable, launchChromium, PHONE_CONTEXT } from './support/chromium';
import { H5User } from './support/h5-user';
import { TcpProxy } from './support/tcp-proxy';

const H5_DIR = fileURLToPath(new URL('../dist/build/h5/', import.meta.url));
// Screenshots refresh the ones in docs/ only when asked (UPDATE_SCREENSHOTS=1): a test run leaves the tree clean.
const DOCS_DIR = process.env.UPDATE_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../docs/', import.meta.url)) : `${join(tmpdir(), 'chatroom-screenshots')}/`;
const ROOM = 'lobby';

describe.runIf(chromiumAvailable())('H5 build in headless Chromium on a phone viewport, served by the real server', () => {
  let browser: Browser | undefined;
  const servers: TestServer[] = [];
  let proxy: TcpProxy | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'chatroom-mobile-e2e-'));

  beforeAll(async () => {
    if (!existsSync(`${H5_DIR}index.html`)) throw new Error(`${H5_DIR} is not built: run npm run build -w mobile`);
    browser = await launchChromium();
  });

  /** Two phones on a fresh server, both in room `team`, each seeing the other online. */
  async function doraAndEveInTeam(): Promise<{ dora: H5User; eve: H5User }> {
    const server = await startTestServer({ STATIC_DIR: H5_DIR });
    servers.push(server);
    const dora = await H5User.open(await browser!.newContext(PHONE_CONTEXT), 'dora', `${server.httpUrl}/`);
    const eve = await H5User.open(await browser!.newContext(PHONE_CONTEXT), 'eve', `${server.httpUrl}/`);
    await dora.loginAndJoin('team');
    await eve.loginAndJoin('team');
    await dora.waitForTitle('在线 2 / 2');
    return { dora, eve };
  }

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    for (const server of servers) await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('two users chat, a third joins, one goes offline and catches up, the server restarts', { timeout: 120_000 }, async () => {
    // As in production: a graceful restart keeps the rooms and their seqs in a snapshot.
    // (A restart that loses them is covered by chat-client.test.ts.)
    const env = { STATIC_DIR: H5_DIR, SNAPSHOT_PATH: join(dataDir, 'snapshot.json') };
    const server = await startTestServer(env);
    servers.push(server);
    proxy = await TcpProxy.start(server.port);
    const newContext = () => browser!.newContext(PHONE_CONTEXT);

    // Bob's phone reaches the server through a proxy: his network can fail on its own.
    const alice = await H5User.open(await newContext(), 'alice', `${server.httpUrl}/`);
    const bobContext = await newContext();
    const bob = await H5User.open(bobContext, 'bob', `https://127.0.0.1:${proxy.port}/`);
    await alice.loginAndJoin(ROOM);
    await alice.waitForTitle('在线 1 / 1');
    await bob.loginAndJoin(ROOM);
    await alice.waitForTitle('在线 2 / 2');
    await bob.waitForTitle('在线 2 / 2');
    await alice.waitForNotice('欢迎bob加入聊天室');

    await alice.sendWithEnter('你好，bob');
    await bob.waitForBubble('你好，bob');
    await bob.sendWithButton('你好 alice，收到');
    await alice.waitForBubble('你好 alice，收到');
    await alice.waitForAllSent();
    expect(await alice.bubbles()).toEqual([
      { text: '你好，bob', own: true, status: 'sent' },
      { text: '你好 alice，收到', own: false, status: 'sent' },
    ]);

    const carol = await H5User.open(await newContext(), 'carol', `${server.httpUrl}/`);
    await carol.loginAndJoin(ROOM);
    for (const user of [alice, bob, carol]) await user.waitForTitle('在线 3 / 3');
    await bob.waitForNotice('欢迎carol加入聊天室');
    await carol.sendWithEnter('大家好，我是 carol');
    await alice.waitForBubble('大家好，我是 carol');
    await bob.waitForBubble('大家好，我是 carol');
    mkdirSync(DOCS_DIR, { recursive: true });
    await alice.page.screenshot({ path: `${DOCS_DIR}screenshot-chat.png` });

    // Bob loses his network: the socket dies and cannot come back until the network does.
    proxy.refusing = true;
    await bobContext.setOffline(true);
    proxy.cutAll();
    await bob.waitForBanner(true);
    await bob.waitForTitle('lobby(未连接)');
    // Written offline: shown at once with the pending mark, sent after the reconnect.
    await bob.sendWithEnter('我离线时写的');
    expect((await bob.bubbles()).at(-1)).toEqual({ text: '我离线时写的', own: true, status: 'sending' });
    await alice.waitForTitle('在线 2 / 3');
    await alice.waitForNotice('bob已经退出了聊天室');
    const missed = ['bob 掉线了', '我们继续聊', '第三条消息'];
    await alice.sendWithEnter(missed[0]);
    await carol.sendWithEnter(missed[1]);
    await alice.sendWithEnter(missed[2]);
    await carol.waitForBubble(missed[2]);
    await bob.page.screenshot({ path: `${DOCS_DIR}screenshot-offline.png` });
    expect((await bob.bubbles()).map((b) => b.text)).not.toContain(missed[0]);

    proxy.refusing = false;
    await bobContext.setOffline(false);
    await bob.waitForBanner(false);
    await bob.waitForBubble(missed[2]);
    await alice.waitForTitle('在线 3 / 3');
    await alice.waitForBubble('我离线时写的');
    await bob.waitForAllSent();
    const seenBefore = ['你好，bob', '你好 alice，收到', '大家好，我是 carol'];
    const afterOffline = [...seenBefore, ...missed, '我离线时写的'];
    expect((await bob.bubbles()).map((b) => b.text)).toEqual(afterOffline);

    // The server restarts on the same port; every page reconnects by itself.
    await server.close();
    await alice.waitForBanner(true);
    const restarted = await startTestServer({ ...env, PORT: String(server.port) });
    servers.push(restarted);
    await alice.waitForBanner(false, 40_000);
    await bob.waitForBanner(false, 40_000);
    await alice.waitForTitle('在线 3 / 3', 40_000);
    await alice.sendWithEnter('服务器重启后 alice');
    await bob.waitForBubble('服务器重启后 alice');
    await bob.sendWithEnter('服务器重启后 bob');
    await alice.waitForBubble('服务器重启后 bob');
    await carol.waitForBubble('服务器重启后 bob');
    await alice.waitForAllSent();
    await bob.waitForAllSent();

    expect((await bob.bubbles()).map((b) => b.text)).toEqual([...afterOffline, '服务器重启后 alice', '服务器重启后 bob']);
    expect((await alice.bubbles()).map((b) => b.text)).toEqual([...afterOffline, '服务器重启后 alice', '服务器重启后 bob']);
    expect([...alice.errors, ...bob.errors, ...carol.errors]).toEqual([]);
  });

  it('the conversation list shows unread badges and last messages; a member opens a direct chat', { timeout: 60_000 }, async () => {
    const { dora, eve } = await doraAndEveInTeam();

    await dora.backToList();
    await eve.sendWithEnter('第一条');
    await eve.sendWithEnter('周五发布');
    await dora.waitForListRow('team', (r) => r.badge === '2');
    expect(await dora.listRow('team')).toEqual({ name: 'team', last: 'eve: 周五发布', badge: '2', online: '在线 2' });

    await dora.openFromList('team');
    expect((await dora.bubbles()).map((b) => b.text)).toEqual(['第一条', '周五发布']);
    await dora.backToList();
    await dora.waitForListRow('team', (r) => r.badge === null);

    // Members: both online; tapping eve opens a direct chat with her.
    await dora.openFromList('team');
    await dora.openMembers();
    expect((await dora.memberStates()).sort()).toEqual(['DO dora（我） 在线', 'EV eve 在线']);
    await dora.openDirectChatWith('eve');
    await dora.waitForTitle('eve');
    await dora.sendWithEnter('私聊：晚上有空吗');

    await eve.backToList();
    const dmRow = await eve.page.locator('uni-page[data-page="pages/conversations/index"] .conversation', { hasText: 'dora' });
    await dmRow.waitFor();
    const dmRoomid = await dmRow.getAttribute('data-roomid');
    expect(dmRoomid).toMatch(/^dm:/);
    await eve.waitForListRow(dmRoomid!, (r) => r.badge === '1' && r.last === '私聊：晚上有空吗');
    await eve.page.screenshot({ path: `${DOCS_DIR}screenshot-conversations.png` });
    await eve.openFromList(dmRoomid!);
    await eve.waitForBubble('私聊：晚上有空吗');
    await eve.sendWithButton('有空');
    await dora.waitForBubble('有空');
    expect(await dora.bubbles()).toEqual([
      { text: '私聊：晚上有空吗', own: true, status: 'sent' },
      { text: '有空', own: false, status: 'sent' },
    ]);
    expect([...dora.errors, ...eve.errors]).toEqual([]);
  });

  it('sign out forgets the user: the next person on this phone sees nothing of the first', { timeout: 60_000 }, async () => {
    const server = await startTestServer({ STATIC_DIR: H5_DIR });
    servers.push(server);
    const context = await browser!.newContext(PHONE_CONTEXT);
    const alice = await H5User.open(context, 'alice', `${server.httpUrl}/`);
    await alice.loginAndJoin('alice-secret');
    await alice.sendWithEnter('只给 alice 看的');
    await alice.waitForAllSent();
    await alice.backToList();
    const aliceUid = await alice.page.evaluate(() => JSON.parse(localStorage.getItem('chat.session') ?? '{}').uid as string);
    await alice.signOut();
    const keysLeft = await alice.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('chat.')));
    expect(keysLeft.filter((k) => k !== 'chat.server')).toEqual([]);
    expect(JSON.stringify(await alice.page.evaluate(() => ({ ...localStorage })))).not.toContain(aliceUid);

    const mallory = new H5User('mallory', context, alice.page);
    await mallory.login();
    await mallory.joinFromList('mallory-room');
    await mallory.sendWithEnter('我是 mallory');
    // Her socket carried every earlier request (a join of alice's room would be one) before this ack.
    await mallory.waitForAllSent();
    await mallory.backToList();
    expect(await mallory.listedRooms()).toEqual(['mallory-room']);
    const watcher = await connectAs(server, 'watcher');
    await watcher.join('alice-secret');
    const members = await watcher.request({ event: 'members', roomid: 'alice-secret' });
    expect((members.members as Array<{ name: string }>).map((m) => m.name).sort()).toEqual(['alice', 'watcher']);
    await watcher.close();
  });

  it('a chat read, left for another and come back to, collects no badges while it is on screen', { timeout: 60_000 }, async () => {
    const { dora, eve } = await doraAndEveInTeam();
    // Away to the member list and a direct chat, then back to the group.
    await dora.openMembers();
    await dora.openDirectChatWith('eve');
    await dora.page.goBack();
    await dora.page.goBack();
    await dora.waitForTitle('在线 2 / 2');
    await eve.sendWithEnter('你看到了吗');
    await dora.waitForBubble('你看到了吗');
    await dora.backToList();
    const row = await dora.listRow('team');
    expect(row.badge).toBeNull();
  });

  it('a refused message says why, in Chinese', { timeout: 60_000 }, async () => {
    const server = await startTestServer({ STATIC_DIR: H5_DIR, MAX_MESSAGE_CHARS: '10' });
    servers.push(server);
    const gina = await H5User.open(await browser!.newContext(PHONE_CONTEXT), 'gina', `${server.httpUrl}/`);
    await gina.loginAndJoin('limits');
    await gina.sendWithEnter('这一条消息超过了服务器允许的长度');
    await gina.page.waitForFunction((sel) => document.querySelector(sel) !== null, 'uni-page[data-page="pages/chat/index"] .msg.own[data-status="failed"]');
    expect(await gina.failureReasons()).toEqual(['消息太长，发送失败']);
  });
});
