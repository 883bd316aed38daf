import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../../server/test/harness';
import { chromiumAvailable, chromiumSuite, PHONE_CONTEXT } from './support/chromium';
import { H5User } from './support/h5-user';

const H5_DIR = fileURLToPath(new URL('../dist/build/h5/', import.meta.url));
const SHOTS_DIR =
  process.env.UPDATE_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../docs/', import.meta.url)) : `${join(tmpdir(), 'chatroom-screenshots')}/`;

const LIST = 'uni-page[data-page="pages/conversations/index"]';
const CHAT = 'uni-page[data-page="pages/chat/index"]';
const CREATE = 'uni-page[data-page="pages/create-group/index"]';
const SETTINGS = 'uni-page[data-page="pages/room-settings/index"]';

/** The group pages, driven as a user taps them (on top of the chat helpers of H5User). */
class GroupPages {
  constructor(readonly user: H5User) {}

  get page() {
    return this.user.page;
  }

  /** The user's own id, as the conversation list shows it (what they tell others to be invited). */
  async ownUid(): Promise<string> {
    const text = await this.page.locator(`${LIST} .my-uid`).innerText();
    return text.replace(/^（ID：/, '').replace(/）$/, '');
  }

  /** 建群 → name → 创建: lands in the new room's chat; returns its id. */
  async createRoom(title: string): Promise<string> {
    await this.page.locator(`${LIST} .create-group`).click();
    await this.page.locator(`${CREATE} .title-input input`).fill(title);
    await this.page.locator(`${CREATE} .create-button`).click();
    await this.page.locator(`${CHAT} .input input`).waitFor();
    await this.user.waitForTitle(title);
    await this.openSettings();
    const roomid = await this.page.locator(`${SETTINGS} .roomid`).innerText();
    await this.page.goBack();
    await this.page.locator(`${CHAT} .input input`).waitFor();
    return roomid;
  }

  async openSettings(): Promise<void> {
    await this.page.locator(`${CHAT} .settings-link`).click();
    await this.page.locator(`${SETTINGS} .invite-input input`).waitFor();
  }

  async invite(uid: string): Promise<void> {
    await this.page.locator(`${SETTINGS} .invite-input input`).fill(uid);
    await this.page.locator(`${SETTINGS} .invite-button`).click();
    await this.page.locator(`${SETTINGS} .member[data-uid="${uid}"]`).waitFor();
  }

  /** Taps a member in 群设置 and picks from the menus that open (e.g. 禁言, then 10分钟). */
  async memberAction(uid: string, ...choices: string[]): Promise<void> {
    await this.page.locator(`${SETTINGS} .member[data-uid="${uid}"]`).click();
    for (const choice of choices) {
      const item = this.page.locator(`${SETTINGS} .sheet-item`).filter({ hasText: new RegExp(`^${choice}$`) });
      await item.click();
    }
  }

  async confirmModal(): Promise<void> {
    await this.page.locator('.uni-modal__btn_primary').click();
  }

  /** What the input bar says instead of the input, or null while the user may speak. */
  silenced(): Promise<string | null> {
    return this.page
      .locator(`${CHAT} .silenced-text`)
      .textContent({ timeout: 200 })
      .catch(() => null);
  }

  async waitForSilenced(probe: (text: string | null) => boolean, what: string, timeout = 10_000): Promise<string | null> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const text = await this.page.evaluate((sel) => (document.querySelector(sel) as HTMLElement | null)?.innerText ?? null, `${CHAT} .silenced-text`);
      if (probe(text)) return text;
      if (Date.now() > deadline) throw new Error(`${this.user.name}: input bar never showed ${what}; last ${JSON.stringify(text)}`);
      await this.page.waitForTimeout(50);
    }
  }
}

describe.runIf(chromiumAvailable())('H5 groups in headless Chromium: an owner creates a private room, invites, mutes, kicks', () => {
  const { browser, servers } = chromiumSuite(H5_DIR);

  it('owner creates a private room, invites a second phone, posts a notice, mutes and unmutes it, mutes all, kicks it; it comes back by an invite link, and a new user by the same link after signing in', {
    timeout: 120_000,
  }, async () => {
    const server = await startTestServer({ STATIC_DIR: H5_DIR });
    servers.push(server);
    const olivia = await H5User.open(await browser().newContext(PHONE_CONTEXT), 'olivia', `${server.httpUrl}/`);
    const max = await H5User.open(await browser().newContext(PHONE_CONTEXT), 'max', `${server.httpUrl}/`);
    await olivia.login();
    await max.login();
    const owner = new GroupPages(olivia);
    const member = new GroupPages(max);
    const maxUid = await member.ownUid();
    expect(maxUid.length).toBeGreaterThan(0);

    // A private room with a free-text name; its id is the server's.
    const roomid = await owner.createRoom('家庭群');
    expect(roomid).toMatch(/^g:/);
    await olivia.waitForTitle('家庭群(在线 1 / 1)');

    // Invited by id: the room appears on max's list at once, under its name.
    await owner.openSettings();
    await owner.invite(maxUid);
    await max.waitForListRow(roomid, (r) => r.name === '家庭群');
    await max.openFromList(roomid);
    await max.waitForTitle('家庭群');
    expect(await member.silenced()).toBeNull();

    // The owner's settings list the roles.
    await olivia.page.waitForFunction(
      (sel) => (document.querySelector(sel) as HTMLElement | null)?.innerText.includes('群主') ?? false,
      `${SETTINGS} .member[data-uid]:first-child`,
    );

    // A notice: shown above max's timeline, and announced with @所有人.
    await olivia.page.locator(`${SETTINGS} .cell`, { hasText: '群公告' }).click();
    await olivia.page.locator(`${SETTINGS} .notice-input textarea`).fill('周六中午聚餐');
    await olivia.page.locator(`${SETTINGS} .save-notice`).click();
    await max.waitForNotice('@所有人 周六中午聚餐');
    await max.page.waitForFunction((sel) => (document.querySelector(sel) as HTMLElement | null)?.innerText === '周六中午聚餐', `${CHAT} .group-notice-text`);

    // Muted for 10 minutes: max's input bar says until when; the timeline says it happened.
    await owner.memberAction(maxUid, '禁言', '10分钟');
    const mutedText = await member.waitForSilenced((t) => t?.startsWith('你已被禁言') === true, 'the mute');
    expect(mutedText).toMatch(/^你已被禁言，至 (明天 )?\d\d:\d\d$/);
    await max.waitForNotice('max被管理员禁言10分钟');
    await olivia.page.locator(`${SETTINGS} .member[data-uid="${maxUid}"] .muted-tag`).waitFor();
    mkdirSync(SHOTS_DIR, { recursive: true });
    await max.page.screenshot({ path: `${SHOTS_DIR}screenshot-muted.png` });

    // Unmuted: the input comes back, and max speaks again.
    await owner.memberAction(maxUid, '解除禁言');
    await member.waitForSilenced((t) => t === null, 'the input again');
    await max.waitForNotice('max被管理员解除禁言');
    await max.sendWithEnter('谢谢群主');
    await max.waitForAllSent();

    // 全员禁言 from the settings switch: max's input says so, until it is switched off.
    await olivia.page.locator(`${SETTINGS} .mute-all-switch`).click();
    await member.waitForSilenced((t) => t === '全员禁言中，仅群主和管理员可以发言', '全员禁言');
    await max.waitForNotice('olivia开启了全员禁言');
    await olivia.page.locator(`${SETTINGS} .mute-all-switch`).click();
    await member.waitForSilenced((t) => t === null, 'the input after 全员禁言');
    await olivia.page.screenshot({ path: `${SHOTS_DIR}screenshot-room-settings.png` });

    // Kicked: max's phone leaves the chat for the list, and the room is gone from it.
    await owner.memberAction(maxUid, '移出群聊');
    await owner.confirmModal();
    await olivia.page.locator(`${SETTINGS} .member[data-uid="${maxUid}"]`).waitFor({ state: 'detached' });
    await max.page.locator(`${LIST} .room-input`).waitFor();
    await max.page.waitForFunction(({ sel, id }) => ![...document.querySelectorAll(sel)].some((row) => row.getAttribute('data-roomid') === id), {
      sel: `${LIST} .conversation`,
      id: roomid,
    });
    expect(await max.listedRooms()).not.toContain(roomid);

    // An invite link (the QR code's content): max opens it, sees the room's preview and comes back in.
    await olivia.page.locator(`${SETTINGS} .link-make`).click();
    await olivia.page.locator(`${SETTINGS} .sheet-item`).filter({ hasText: /^1天$/ }).click();
    const shared = await olivia.page.locator(`${SETTINGS} .shared-text`).innerText();
    expect(shared).toMatch(new RegExp(`^${server.httpUrl}/#/pages/join/index\\?roomid=${encodeURIComponent(roomid)}&link=[\\w-]+$`));
    await max.page.goto(shared);
    await max.page.locator('uni-page[data-page="pages/join/index"] .join-button').click();
    await max.page.locator(`${CHAT} .input input`).waitFor();
    await max.waitForTitle('家庭群');
    await olivia.page.locator(`${SETTINGS} .member[data-uid="${maxUid}"]`).waitFor();

    // A new user scans the same QR code before signing in: after the login the invite opens by itself.
    const nina = await H5User.open(await browser().newContext(PHONE_CONTEXT), 'nina', shared);
    await nina.page.locator('uni-page[data-page="pages/login/index"] .name-input input').fill('nina');
    await nina.page.locator('uni-page[data-page="pages/login/index"] .login-button').click();
    await nina.page.locator('uni-page[data-page="pages/join/index"] .join-button').click();
    await nina.waitForTitle('家庭群');
    await olivia.page.waitForFunction((sel) => document.querySelectorAll(sel).length === 3, `${SETTINGS} .member[data-uid]`);

    // The owner's timeline has every change as a grey line; the list shows the room's name.
    await olivia.page.goBack();
    await olivia.waitForNotice('max被管理员移出群聊');
    const notices = await olivia.notices();
    expect(notices).toEqual(
      expect.arrayContaining([
        'olivia邀请max加入了群聊',
        '@所有人 周六中午聚餐',
        'max被管理员禁言10分钟',
        'olivia关闭了全员禁言',
        'max通过邀请链接加入了群聊',
        'nina通过邀请链接加入了群聊',
      ]),
    );
    await olivia.backToList();
    expect((await olivia.listRow(roomid)).name).toBe('家庭群');
    expect([...olivia.errors, ...max.errors, ...nina.errors]).toEqual([]);
  });
});
