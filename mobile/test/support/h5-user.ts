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
    return this.page
      .locator(`${CHAT} .new-messages`)
      .textContent({ timeout: 500 })
      .catch(() => null);
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
    return this.page
      .locator(`${CHAT} .banner`)
      .textContent({ timeout: 1_000 })
      .catch(() => null);
  }

  async waitForBanner(present: boolean, timeout = 15_000): Promise<void> {
    await this.page.waitForFunction(({ sel, p }) => Boolean(document.querySelector(sel)) === p, { sel: `${CHAT} .banner`, p: present }, { timeout });
  }

  /** All own bubbles acknowledged (no pending or failed marks). */
  async waitForAllSent(timeout = 10_000): Promise<void> {
    await this.page.waitForFunction((sel) => document.querySelectorAll(sel).length === 0, `${CHAT} .msg.own:not([data-status="sent"])`, { timeout });
  }

  // Messaging features (recall, quote, @, typing, read state, paging)

  /** Long press on the bubble with this text, then the action sheet's `action` (复制, 引用, 撤回). */
  async messageAction(text: string, action: string): Promise<void> {
    await this.page.evaluate(
      ({ sel, t }) => {
        const bubble = [...document.querySelectorAll(sel)].find((n) => (n as HTMLElement).innerText === t);
        if (!bubble) throw new Error(`no bubble ${t}`);
        bubble.dispatchEvent(new CustomEvent('longpress', { bubbles: true, cancelable: true }));
      },
      { sel: `${CHAT} .msg .bubble`, t: text },
    );
    await this.page.locator('.uni-actionsheet_toggle .uni-actionsheet__menu .uni-actionsheet__cell', { hasText: action }).click();
    await this.page.waitForFunction(() => !document.querySelector('.uni-actionsheet_toggle'));
  }

  /** The actions a long press offers on the bubble with this text (the sheet is closed again). */
  async messageActions(text: string): Promise<string[]> {
    await this.page.evaluate(
      ({ sel, t }) => {
        const bubble = [...document.querySelectorAll(sel)].find((n) => (n as HTMLElement).innerText === t);
        bubble?.dispatchEvent(new CustomEvent('longpress', { bubbles: true, cancelable: true }));
      },
      { sel: `${CHAT} .msg .bubble`, t: text },
    );
    await this.page.locator('.uni-actionsheet_toggle').waitFor();
    const actions = await this.page.$$eval('.uni-actionsheet_toggle .uni-actionsheet__menu .uni-actionsheet__cell', (nodes) =>
      nodes.map((n) => (n as HTMLElement).innerText.trim()).filter((t) => t),
    );
    await this.page.locator('.uni-actionsheet_toggle .uni-actionsheet__action .uni-actionsheet__cell').click();
    await this.page.waitForFunction(() => !document.querySelector('.uni-actionsheet_toggle'));
    return actions;
  }

  /** Quote blocks under bubbles, in order. */
  quotes(): Promise<string[]> {
    return this.page.$$eval(`${CHAT} .msg .quote`, (nodes) => nodes.map((n) => (n as HTMLElement).innerText));
  }

  /** What is shown under own messages (已读, 未读, N人已读), in order. */
  readStates(): Promise<string[]> {
    return this.page.$$eval(`${CHAT} .msg .read-state`, (nodes) => nodes.map((n) => (n as HTMLElement).innerText));
  }

  async waitForReadStates(probe: (states: string[]) => boolean, timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const states = await this.readStates();
      if (probe(states)) return;
      if (Date.now() > deadline) throw new Error(`${this.name}: read states never matched; last seen ${JSON.stringify(states)}`);
      await this.page.waitForTimeout(100);
    }
  }

  /** Types into the chat input without sending (key by key, as a user does). */
  async typeText(text: string, delayMs = 0): Promise<void> {
    const input = this.page.locator(`${CHAT} .input input`);
    // After the app set the value (an inserted "@名字 "), the caret may sit at the start.
    await input.press('End');
    await input.pressSequentially(text, { delay: delayMs });
  }

  /** Picks a member in the "@" picker. */
  async pickMention(name: string): Promise<void> {
    await this.page.locator(`${CHAT} .mention-option`, { hasText: name }).click();
  }

  /** Sends what the input holds with Enter. */
  async pressEnter(): Promise<void> {
    const input = this.page.locator(`${CHAT} .input input`);
    await input.press('Enter');
    await this.page.waitForFunction((sel) => (document.querySelector(sel) as HTMLInputElement | null)?.value === '', `${CHAT} .input input`);
  }

  /** Pulls the timeline down from its top, past the refresher's threshold, with touch events. */
  async pullDown(): Promise<void> {
    await this.page.evaluate((sel) => {
      const box = [...document.querySelectorAll(`${sel} .timeline div`)].find((e) => /(auto|scroll)/.test(getComputedStyle(e).overflowY)) as HTMLElement;
      box.scrollTop = 0;
      const touch = (y: number) => new Touch({ identifier: 1, target: box, pageX: 100, pageY: y, clientX: 100, clientY: y });
      const fire = (type: string, y: number) =>
        box.dispatchEvent(
          new TouchEvent(type, { bubbles: true, cancelable: true, touches: type === 'touchend' ? [] : [touch(y)], changedTouches: [touch(y)] }),
        );
      fire('touchstart', 200);
      for (let y = 210; y <= 320; y += 10) fire('touchmove', y);
      fire('touchend', 320);
    }, CHAT);
  }
}
