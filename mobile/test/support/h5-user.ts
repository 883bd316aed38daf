import type { BrowserContext, Page } from 'playwright-core';

const CHAT = 'uni-page[data-page="pages/chat/index"]';
const LIST = 'uni-page[data-page="pages/conversations/index"]';
const LOGIN = 'uni-page[data-page="pages/login/index"]';

/** One person using the H5 app in their own browser context (own storage), driven like a user would. */
export class H5User {
  readonly errors: string[] = [];

  constructor(
    readonly name: string,
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    page.on('pageerror', (err) => this.errors.push(String(err)));
  }

  static async open(context: BrowserContext, name: string, url: string): Promise<H5User> {
    const page = await context.newPage();
    const user = new H5User(name, context, page);
    await page.goto(url);
    return user;
  }

  async loginAndJoin(roomid: string): Promise<void> {
    await this.login();
    await this.joinFromList(roomid);
  }

  /** The login page, as this user: then the conversation list. */
  async login(): Promise<void> {
    await this.page.locator(`${LOGIN} .name-input input`).fill(this.name);
    await this.page.locator(`${LOGIN} .login-button`).click();
    await this.page.locator(`${LIST} .room-input input`).waitFor();
  }

  async joinFromList(roomid: string): Promise<void> {
    const roomInput = this.page.locator(`${LIST} .room-input input`);
    await roomInput.fill(roomid);
    await roomInput.press('Enter');
    await this.page.locator(`${CHAT} .input input`).waitFor();
  }

  /** From the conversation list: 退出登录, back on the login page. */
  async signOut(): Promise<void> {
    await this.page.locator(`${LIST} .sign-out`).click();
    await this.page.locator(`${LOGIN} .name-input input`).waitFor();
  }

  /** The rooms listed on the conversation list, top to bottom. */
  listedRooms(): Promise<string[]> {
    return this.page.$$eval(`${LIST} .conversation`, (rows) => rows.map((r) => r.getAttribute('data-roomid') ?? ''));
  }

  /** Message bubbles in the page now (the chat renders a window of the timeline, not all of it). */
  renderedMessages(): Promise<number> {
    return this.page.locator(`${CHAT} .msg`).count();
  }

  /** Scrolls the chat's timeline to `top` px (0: the top) and lets it react. */
  async scrollTimeline(top: number | 'bottom'): Promise<void> {
    await this.page.evaluate(
      ({ sel, to }) => {
        const box = [...document.querySelectorAll(`${sel} .timeline div`)].find((e) => /(auto|scroll)/.test(getComputedStyle(e).overflowY)) as HTMLElement;
        box.scrollTop = to === 'bottom' ? box.scrollHeight : to;
        box.dispatchEvent(new Event('scroll'));
      },
      { sel: CHAT, to: top },
    );
  }

  /** Whether the chat's timeline is scrolled to (within 40 px of) its end. */
  timelineAtBottom(): Promise<boolean> {
    return this.page.evaluate((sel) => {
      const box = [...document.querySelectorAll(`${sel} .timeline div`)].find((e) => /(auto|scroll)/.test(getComputedStyle(e).overflowY)) as HTMLElement;
      return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    }, CHAT);
  }

  /** The "N条新消息" pill, or null when there is none. */
  newMessagesPill(): Promise<string | null> {
    return this.page.locator(`${CHAT} .new-messages`).textContent({ timeout: 500 }).catch(() => null);
  }

  /** Why an own message failed, as the page says it. */
  failureReasons(): Promise<string[]> {
    return this.page.$$eval(`${CHAT} .msg.own[data-status="failed"] .fail-reason`, (nodes) => nodes.map((n) => (n as HTMLElement).innerText));
  }

  title(): Promise<string> {
    return this.page.locator('.uni-page-head__title').last().innerText();
  }

  async waitForTitle(fragment: string, timeout = 10_000): Promise<void> {
    await this.page.waitForFunction(
      (f) => [...document.querySelectorAll('.uni-page-head__title')].some((e) => (e as HTMLElement).innerText.includes(f)),
      fragment,
      { timeout },
    );
  }

  /** Types and sends with Enter (the keyboard's send key). */
  async sendWithEnter(text: string): Promise<void> {
    const input = this.page.locator(`${CHAT} .input input`);
    await input.fill(text);
    await input.press('Enter');
    await this.page.waitForFunction((sel) => (document.querySelector(sel) as HTMLInputElement | null)?.value === '', `${CHAT} .input input`);
  }

  /** Types and taps 发送. */
  async sendWithButton(text: string): Promise<void> {
    await this.page.locator(`${CHAT} .input input`).fill(text);
    await this.page.locator(`${CHAT} .send`).click();
  }

  /** Bubble texts in order, each with whose side it is on. */
  bubbles(): Promise<Array<{ text: string; own: boolean; status: string | null }>> {
    return this.page.$$eval(`${CHAT} .msg`, (nodes) =>
      nodes.map((n) => ({
        text: (n.querySelector('.bubble') as HTMLElement).innerText,
        own: n.classList.contains('own'),
        status: n.getAttribute('data-status'),
      })),
    );
  }

  notices(): Promise<string[]> {
    return this.page.$$eval(`${CHAT} .notice-text`, (nodes) => nodes.map((n) => (n as HTMLElement).innerText));
  }

  async waitForBubble(text: string, timeout = 10_000): Promise<void> {
    await this.page.waitForFunction(
      ({ sel, t }) => [...document.querySelectorAll(sel)].some((n) => (n as HTMLElement).innerText === t),
      { sel: `${CHAT} .msg .bubble`, t: text },
      { timeout },
    );
  }

  async waitForNotice(text: string, timeout = 10_000): Promise<void> {
    await this.page.waitForFunction(
      ({ sel, t }) => [...document.querySelectorAll(sel)].some((n) => (n as HTMLElement).innerText === t),
      { sel: `${CHAT} .notice-text`, t: text },
      { timeout },
    );
  }

  /** The conversation list row of a room: name, last message, unread badge, online count. */
  async listRow(roomid: string): Promise<{ name: string; last: string; badge: string | null; online: string | null }> {
    const row = this.page.locator(`${LIST} .conversation[data-roomid="${roomid}"]`);
    await row.waitFor();
    return row.evaluate((el) => ({
      name: (el.querySelector('.name') as HTMLElement).innerText,
      last: (el.querySelector('.last') as HTMLElement).innerText,
      badge: (el.querySelector('.badge') as HTMLElement | null)?.innerText ?? null,
      online: (el.querySelector('.online') as HTMLElement | null)?.innerText ?? null,
    }));
  }

  async waitForListRow(roomid: string, probe: (row: Awaited<ReturnType<H5User['listRow']>>) => boolean, timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const row = await this.listRow(roomid).catch(() => undefined);
      if (row && probe(row)) return;
      if (Date.now() > deadline) throw new Error(`${this.name}: list row ${roomid} never matched; last seen ${JSON.stringify(row)}`);
      await this.page.waitForTimeout(100);
    }
  }

  async openFromList(roomid: string): Promise<void> {
    await this.page.locator(`${LIST} .conversation[data-roomid="${roomid}"]`).click();
    await this.page.locator(`${CHAT} .input input`).waitFor();
  }

  async backToList(): Promise<void> {
    await this.page.goBack();
    await this.page.locator(`${LIST} .room-input`).waitFor();
  }

  /** The member list, from the bar under the chat's title. */
  async openMembers(): Promise<void> {
    await this.page.locator(`${CHAT} .room-bar`).click();
    await this.page.locator('uni-page[data-page="pages/members/index"] .member').first().waitFor();
  }

  /** Taps a member in the member list: a direct chat with them. */
  async openDirectChatWith(name: string): Promise<void> {
    const member = this.page.locator('uni-page[data-page="pages/members/index"] .member', { hasText: name });
    await member.click();
    await this.page.locator(`${CHAT} .input input`).waitFor();
  }

  async memberStates(): Promise<string[]> {
    const sel = 'uni-page[data-page="pages/members/index"] .member';
    return this.page.$$eval(sel, (nodes) => nodes.map((n) => (n as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
  }

  bannerText(): Promise<string | null> {
    return this.page.locator(`${CHAT} .banner`).textContent({ timeout: 1_000 }).catch(() => null);
  }

  async waitForBanner(present: boolean, timeout = 15_000): Promise<void> {
    await this.page.waitForFunction(
      ({ sel, p }) => Boolean(document.querySelector(sel)) === p,
      { sel: `${CHAT} .banner`, p: present },
      { timeout },
    );
  }

  /** All own bubbles acknowledged (no pending or failed marks). */
  async waitForAllSent(timeout = 10_000): Promise<void> {
    await this.page.waitForFunction((sel) => document.querySelectorAll(sel).length === 0, `${CHAT} .msg.own:not([data-status="sent"])`, { timeout });
  }
}
