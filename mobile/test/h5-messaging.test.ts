import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectAs, startTestServer, type TestServer } from '../../server/test/harness';
import { chromiumAvailable, chromiumSuite, PHONE_CONTEXT } from './support/chromium';
import { H5User } from './support/h5-user';

const H5_DIR = fileURLToPath(new URL('../dist/build/h5/', import.meta.url));
const CHAT = 'uni-page[data-page="pages/chat/index"]';

describe.runIf(chromiumAvailable())('H5 messaging in headless Chromium: recall, quote, @, typing, read state, paging', () => {
  const { browser, servers } = chromiumSuite(H5_DIR);

  async function twoInRoom(roomid: string, env: Record<string, string> = {}): Promise<{ dora: H5User; eve: H5User; server: TestServer }> {
    const server = await startTestServer({ STATIC_DIR: H5_DIR, ...env });
    servers.push(server);
    const dora = await H5User.open(await browser().newContext(PHONE_CONTEXT), 'dora', `${server.httpUrl}/`);
    const eve = await H5User.open(await browser().newContext(PHONE_CONTEXT), 'eve', `${server.httpUrl}/`);
    await dora.loginAndJoin(roomid);
    await eve.loginAndJoin(roomid);
    await dora.waitForTitle('在线 2 / 2');
    return { dora, eve, server };
  }

  function waitForNoTitle(user: H5User, fragment: string): Promise<unknown> {
    return user.page.waitForFunction(
      (f) => ![...document.querySelectorAll('.uni-page-head__title')].some((e) => (e as HTMLElement).innerText.includes(f)),
      fragment,
      { timeout: 10_000 },
    );
  }

  it('recall: the other page sees the notice live and after a reload, and the text leaves storage; quotes follow', { timeout: 90_000 }, async () => {
    const { dora, eve } = await twoInRoom('team');
    await dora.sendWithEnter('这条要撤回');
    await eve.waitForBubble('这条要撤回');
    await dora.waitForAllSent();
    // Eve may only copy and quote dora's message; dora may recall her own.
    expect(await eve.messageActions('这条要撤回')).toEqual(['复制', '引用']);
    expect(await dora.messageActions('这条要撤回')).toEqual(['复制', '引用', '撤回']);

    // Eve quotes it before it goes.
    await eve.messageAction('这条要撤回', '引用');
    await eve.page.locator(`${CHAT} .quoting`).waitFor();
    expect(await eve.page.locator(`${CHAT} .quoting-text`).innerText()).toBe('dora：这条要撤回');
    await eve.sendWithEnter('你说的这句？');
    await dora.waitForBubble('你说的这句？');
    await dora.page.waitForFunction(
      (sel) => [...document.querySelectorAll(sel)].some((n) => (n as HTMLElement).innerText === 'dora：这条要撤回'),
      `${CHAT} .msg .quote`,
    );
    expect(await eve.page.locator(`${CHAT} .quoting`).count()).toBe(0);

    await dora.messageAction('这条要撤回', '撤回');
    await dora.waitForNotice('你撤回了一条消息');
    await eve.waitForNotice('dora撤回了一条消息');
    for (const user of [dora, eve]) {
      expect((await user.bubbles()).map((b) => b.text)).toEqual(['你说的这句？']);
      await user.page.waitForFunction(
        (sel) => [...document.querySelectorAll(sel)].some((n) => (n as HTMLElement).innerText === 'dora：[该消息已撤回]'),
        `${CHAT} .msg .quote`,
      );
    }

    // After a reload, from the phone's storage and then the server: still recalled, the text nowhere.
    await eve.page.reload();
    await eve.waitForNotice('dora撤回了一条消息');
    await eve.waitForTitle('在线 2 / 2');
    expect((await eve.bubbles()).map((b) => b.text)).toEqual(['你说的这句？']);
    expect(await eve.quotes()).toEqual(['dora：[该消息已撤回]']);
    const stored = await eve.page.evaluate(() => JSON.stringify({ ...localStorage }));
    expect(stored).not.toContain('这条要撤回');
    expect([...dora.errors, ...eve.errors]).toEqual([]);
  });

  it('@: a member picker on "@", the mention highlighted, [有人@我] in the list until the room is read; N人已读', { timeout: 90_000 }, async () => {
    const { dora, eve } = await twoInRoom('team');
    await dora.sendWithEnter('我先说一句');
    await eve.waitForBubble('我先说一句');
    await dora.backToList();

    await eve.typeText('@');
    await eve.pickMention('dora');
    await eve.page.waitForFunction((sel) => (document.querySelector(sel) as HTMLInputElement | null)?.value === '@dora ', `${CHAT} .input input`);
    await eve.typeText('看一下');
    await eve.pressEnter();
    await eve.waitForAllSent();

    await dora.waitForListRow('team', (r) => r.last.startsWith('[有人@我]'));
    await dora.openFromList('team');
    await dora.waitForBubble('@dora 看一下');
    expect(await dora.page.locator(`${CHAT} .bubble.mention-me .at`).innerText()).toBe('@dora');
    await dora.backToList();
    await dora.waitForListRow('team', (r) => !r.last.includes('[有人@我]') && r.badge === null);

    // Eve read dora's message when it came (her chat was open): "1人已读" under it on dora's side.
    await dora.openFromList('team');
    await dora.waitForReadStates((states) => states.includes('1人已读'));
    // Tapping it lists who read it.
    await dora.page.locator(`${CHAT} .read-state`, { hasText: '1人已读' }).click();
    await dora.page.locator('.uni-modal', { hasText: 'eve' }).waitFor();
    expect(await dora.page.locator('.uni-modal .uni-modal__title').innerText()).toBe('1人已读');
    expect([...dora.errors, ...eve.errors]).toEqual([]);
  });

  it('direct chat: 对方正在输入… comes and goes, 未读 turns 已读 when the peer opens the chat', { timeout: 90_000 }, async () => {
    const { dora, eve } = await twoInRoom('team');
    await dora.openMembers();
    await dora.openDirectChatWith('eve');
    await dora.waitForTitle('eve');
    await dora.sendWithEnter('私聊：在吗');
    await dora.waitForAllSent();
    await dora.waitForReadStates((s) => s.join() === '未读');

    await eve.backToList();
    const dmRow = eve.page.locator('uni-page[data-page="pages/conversations/index"] .conversation', { hasText: 'dora' });
    await dmRow.waitFor();
    await eve.openFromList((await dmRow.getAttribute('data-roomid'))!);
    await eve.waitForBubble('私聊：在吗');
    await dora.waitForReadStates((s) => s.join() === '已读');

    // Eve types: dora's title says so, until eve's message comes.
    await eve.typeText('在的');
    await dora.waitForTitle('对方正在输入…');
    await eve.pressEnter();
    await dora.waitForBubble('在的');
    await waitForNoTitle(dora, '对方正在输入…');
    await dora.waitForTitle('eve');

    // Typing without sending (slowly: the server passes on one typing event per 3 s): it goes by
    // itself, about 5 s after the last one.
    await eve.typeText('再说一句', 1_200);
    await dora.waitForTitle('对方正在输入…');
    await waitForNoTitle(dora, '对方正在输入…');
    expect([...dora.errors, ...eve.errors]).toEqual([]);
  });

  it('pull down loads earlier history than was live, down to where history is kept; many unread offer a jump', { timeout: 120_000 }, async () => {
    const server = await startTestServer({ STATIC_DIR: H5_DIR, HISTORY_PER_ROOM: '100' });
    servers.push(server);
    // 130 messages before dora comes: the server keeps the newest 100 (旧消息 31 to 130).
    const writer = await connectAs(server, 'writer');
    await writer.join('paging');
    for (let i = 1; i <= 130; i++) writer.send({ event: 'message', roomid: 'paging', message: `旧消息 ${i}`, id: `old-${i}` });
    await writer.next((f) => f.event === 'ack' && f.id === 'old-130', 10_000);
    const dora = await H5User.open(await browser().newContext(PHONE_CONTEXT), 'dora', `${server.httpUrl}/`);
    await dora.loginAndJoin('paging');
    await dora.waitForTitle('在线 2 / 2');
    await dora.waitForBubble('旧消息 130');
    // Live from now on; the earlier ones come only by pulling down.
    await writer.say('paging', '加入后的消息');
    await dora.waitForBubble('加入后的消息');
    expect((await dora.bubbles()).map((b) => b.text)).not.toContain('旧消息 31');
    const deadline = Date.now() + 60_000;
    // The spinner shows while a page is asked for (a render before any reply can come): watch the DOM for it.
    await dora.page.evaluate((sel) => {
      const w = window as unknown as { sawSpinner: boolean };
      w.sawSpinner = false;
      new MutationObserver(() => (w.sawSpinner ||= document.querySelector(sel) !== null)).observe(document.body, { childList: true, subtree: true });
    }, `${CHAT} .loading-older .spinner`);
    while (!(await dora.notices()).includes('更早的消息已不可查看')) {
      if (Date.now() > deadline) throw new Error(`never reached the start of history: ${JSON.stringify((await dora.bubbles()).slice(0, 3))}`);
      await dora.pullDown();
      // The page asked, or there was nothing to ask: wait for the spinner to go either way.
      await dora.page.waitForFunction((sel) => !document.querySelector(sel), `${CHAT} .loading-older`);
    }
    const texts = (await dora.bubbles()).map((b) => b.text);
    // Kept when dora asked: the newest 100 of 131 (旧消息 32 to 130, and the one after she joined).
    expect(texts[0]).toBe('旧消息 32');
    expect(await dora.page.evaluate(() => (window as unknown as { sawSpinner: boolean }).sawSpinner)).toBe(true);

    // Away in the list while 30 more come: opening the room offers "30条新消息", which jumps to the first.
    await dora.backToList();
    for (let i = 1; i <= 30; i++) writer.send({ event: 'message', roomid: 'paging', message: `新消息 ${i}`, id: `new-${i}` });
    await writer.next((f) => f.event === 'ack' && f.id === 'new-30', 10_000);
    await dora.waitForListRow('paging', (r) => r.badge === '30');
    await dora.openFromList('paging');
    const pill = dora.page.locator(`${CHAT} .unread-jump`);
    expect(await pill.innerText()).toContain('30条新消息');
    await pill.click();
    await dora.waitForBubble('新消息 1');
    await writer.close();
    expect(dora.errors).toEqual([]);
  });
});
