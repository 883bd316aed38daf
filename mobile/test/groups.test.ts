import { ErrorCode, type GroupEvent, type LeftEvent } from '@chatroom/server/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, startTestServer, type TestServer } from '../../server/test/harness';
import { describeError, describeFailure } from '../src/lib/error-text';
import { inviteUrl, memberActions, memberRows, parseInvite, silencedText, untilClock } from '../src/lib/group-view';
import { NOT_CONNECTED, RequestFailed } from '../src/lib/pending-requests';
import { LibClient } from './support/lib-client';

/** Everything a test started, closed in afterEach whatever happened. */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A LibClient that also records the group events (profiles, invitations, removals). */
class GroupUser extends LibClient {
  readonly groups: GroupEvent[] = [];
  readonly invitations: string[] = [];
  readonly lefts: Array<Pick<LeftEvent, 'roomid' | 'reason' | 'by'>> = [];

  wireGroups(): this {
    this.client.on('group', (g) => this.groups.push(g));
    this.client.on('invited', (i) => this.invitations.push(i.roomid));
    this.client.on('left', (l) => this.lefts.push(l));
    return this;
  }

  uid(): string {
    return this.sessions.uid()!;
  }

  /** The newest profile of the room this user got (a reply, or a refresh after a notice) that passes `probe`. */
  profile(roomid: string, probe: (g: GroupEvent) => boolean, what: string): Promise<GroupEvent> {
    return this.waitFor(() => {
      const latest = this.groups.filter((g) => g.roomid === roomid).at(-1);
      return latest && probe(latest) ? latest : undefined;
    }, what);
  }

  notice(roomid: string, type: string): Promise<string> {
    return this.waitFor(() => this.messages.find((m) => m.roomid === roomid && m.system?.type === type)?.message, `a ${type} notice`);
  }
}

async function user(server: TestServer, name: string, session?: GroupUser): Promise<GroupUser> {
  const client = new GroupUser({
    wsUrl: server.url,
    httpUrl: server.httpUrl,
    ca: server.tls?.cert,
    name,
    ...(session ? { session: session.sessions.value! } : {}),
  });
  cleanups.push(() => client.stop());
  if (!session) await client.login(name);
  client.wireGroups().client.start();
  await client.online();
  return client;
}

async function rejection(promise: Promise<unknown>): Promise<RequestFailed> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof RequestFailed)) throw new Error(`expected a RequestFailed, got ${String(err)}`);
  return err;
}

/** A private room of `owner`'s with `members` invited into it, every one joined. */
async function privateRoom(owner: GroupUser, title: string, members: GroupUser[]): Promise<string> {
  const created = await owner.client.groups.create(title, true);
  expect(created).toMatchObject({ title, private: true, role: 'owner', owner: owner.uid() });
  const roomid = created.roomid;
  expect(roomid).toMatch(/^g:/);
  await owner.joinedRoom(roomid);
  for (const member of members) {
    const joins = member.joined.length;
    await owner.client.groups.invite(roomid, member.uid());
    await member.joinedRoom(roomid, joins);
  }
  return roomid;
}

describe('group management in the mobile client library, against the real server', () => {
  it('creates a private room, invites a user (who joins at once), names it and posts a notice shown on entry', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const alice = await user(server, 'alice');
    const bob = await user(server, 'bob');

    const roomid = await privateRoom(alice, '家庭群', [bob]);
    expect(bob.invitations).toEqual([roomid]);
    const joined = bob.joined.find((j) => j.roomid === roomid)!;
    expect(joined.group).toMatchObject({ title: '家庭群', role: 'member', owner: alice.uid(), private: true });
    expect(await alice.notice(roomid, 'invited')).toBe('alice邀请bob加入了群聊');
    // The conversation list's name: the title, kept on the phone.
    expect(bob.client.storedRooms().find((r) => r.roomid === roomid)?.title).toBe('家庭群');

    const renamed = await alice.client.groups.setTitle(roomid, '相亲相爱一家人');
    expect(renamed.title).toBe('相亲相爱一家人');
    expect(await bob.notice(roomid, 'title')).toBe('alice修改群名为“相亲相爱一家人”');
    await bob.profile(roomid, (g) => g.title === '相亲相爱一家人', 'the new title on bob’s phone');

    await alice.client.groups.setNotice(roomid, '周六中午聚餐');
    expect(await bob.notice(roomid, 'notice')).toBe('@所有人 周六中午聚餐');
    expect(bob.messages.find((m) => m.system?.type === 'notice')?.system?.mentionAll).toBe(true);
    // On entry the profile carries the notice (the chat page shows it above the timeline).
    bob.stop();
    const bobAgain = await user(server, 'bob', bob);
    const rejoined = await bobAgain.joinedRoom(roomid);
    expect(rejoined.group?.notice?.text).toBe('周六中午聚餐');

    // A plain member may not change the profile: refused with 4409, said in Chinese.
    const refused = await rejection(bobAgain.client.groups.setTitle(roomid, '我的群'));
    expect(refused.code).toBe(ErrorCode.Forbidden);
    expect(describeError(refused.code, { request: 'update' })).toBe('你没有权限进行此操作，仅群主或管理员可以');
  });

  it('mutes a member until a time (the send is refused and says until when), unmutes, and mutes the whole room', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const alice = await user(server, 'alice');
    const bob = await user(server, 'bob');
    const roomid = await privateRoom(alice, '项目组', [bob]);

    const reply = await alice.client.groups.mute(roomid, bob.uid(), 600);
    const until = reply.mutes?.find((m) => m.uid === bob.uid())?.until;
    expect(until).toBeGreaterThan(Date.now() + 590_000);
    expect(await bob.notice(roomid, 'muted')).toBe('bob被管理员禁言10分钟');
    const muted = await bob.profile(roomid, (g) => g.mutedUntil !== undefined, 'bob’s own mute in his profile');
    expect(muted.mutedUntil).toBe(until);
    expect(silencedText(muted)).toBe(`你已被禁言，至 ${untilClock(until!)}`);

    bob.client.send(roomid, '我能说话吗');
    const failed = await bob.waitFor(() => bob.outbox.find((m) => m.status === 'failed'), 'the refused message');
    expect(failed).toMatchObject({ errorCode: ErrorCode.Muted, errorUntil: until });
    expect(describeFailure(failed.errorCode, failed.errorUntil)).toBe(`你已被禁言，至 ${untilClock(until!)}`);
    // The owner sees the mute in the member list of the settings page, and may lift it.
    const rows = memberRows([{ uid: bob.uid(), name: 'bob', online: true }], reply, alice.uid());
    expect(rows[0].mutedUntil).toBe(until);
    expect(memberActions(reply, rows[0])).toEqual(['message', 'unmute', 'kick', 'ban', 'admin', 'transfer']);

    await alice.client.groups.unmute(roomid, bob.uid());
    expect(await bob.notice(roomid, 'unmuted')).toBe('bob被管理员解除禁言');
    const free = await bob.profile(roomid, (g) => g.mutedUntil === undefined, 'the mute lifted');
    expect(silencedText(free)).toBe('');
    bob.client.send(roomid, '谢谢');
    await alice.waitFor(() => alice.texts(roomid).includes('谢谢'), 'bob speaking again');

    await alice.client.groups.muteAll(roomid, true);
    expect(await bob.notice(roomid, 'muteAll')).toBe('alice开启了全员禁言');
    const all = await bob.profile(roomid, (g) => g.muteAll === true, '全员禁言 in bob’s profile');
    expect(silencedText(all)).toBe('全员禁言中，仅群主和管理员可以发言');
    // The owner still speaks.
    alice.client.send(roomid, '安静一下');
    await bob.waitFor(() => bob.texts(roomid).includes('安静一下'), 'the owner speaking under 全员禁言');
    bob.client.send(roomid, '还是不行');
    const refused = await bob.waitFor(() => bob.outbox.find((m) => m.status === 'failed' && m.text === '还是不行'), 'refused under 全员禁言');
    expect(describeFailure(refused.errorCode, refused.errorUntil)).toBe('全员禁言中，仅群主和管理员可以发言');
    await alice.client.groups.muteAll(roomid, false);
    await bob.profile(roomid, (g) => !g.muteAll, '全员禁言 off');
  });

  it('invite links: a holder previews and joins; a revoked link is refused in Chinese; a stranger learns nothing', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const alice = await user(server, 'alice');
    const carol = await user(server, 'carol');
    const dave = await user(server, 'dave');
    const roomid = await privateRoom(alice, '读书会', []);

    const link = await alice.client.groups.link(roomid, 3_600);
    expect(link.expiresAt).toBeGreaterThan(Date.now() + 3_500_000);
    const shared = inviteUrl('https://chat.example.com/', roomid, link.link);
    expect(parseInvite(shared)).toEqual({ roomid, link: link.link });

    const preview = await carol.client.groups.profile(roomid, link.link);
    expect(preview).toMatchObject({ title: '读书会', private: true });
    expect(preview.role).toBeUndefined();
    const joined = await carol.client.joinWithLink(roomid, link.link);
    expect(joined?.group?.role).toBe('member');
    expect(await alice.notice(roomid, 'linked')).toBe('carol通过邀请链接加入了群聊');

    const stranger = await rejection(dave.client.groups.profile(roomid));
    expect(stranger.code).toBe(ErrorCode.NotMember);
    await alice.client.groups.revoke(roomid, link.link);
    const revoked = await rejection(dave.client.joinWithLink(roomid, link.link));
    expect(revoked.code).toBe(ErrorCode.BadLink);
    expect(describeError(revoked.code, { request: 'join' })).toBe('邀请链接无效、已过期或已被撤销');
    await dave.waitFor(() => dave.lefts.some((l) => l.roomid === roomid), 'the refused room forgotten');
    expect(dave.client.joinedRooms).not.toContain(roomid);
  });

  it('names an admin, who moderates; hands the room over; a request without a connection fails at once', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const alice = await user(server, 'alice');
    const bob = await user(server, 'bob');
    const carol = await user(server, 'carol');
    const roomid = await privateRoom(alice, '班委', [bob, carol]);

    const named = await alice.client.groups.admin(roomid, bob.uid(), true);
    expect(named.admins).toEqual([bob.uid()]);
    expect(await carol.notice(roomid, 'admin')).toBe('bob成为管理员');
    await bob.profile(roomid, (g) => g.role === 'admin', 'bob an admin');
    // An admin may not act on the owner.
    const up = await rejection(bob.client.groups.mute(roomid, alice.uid(), 60));
    expect(up.code).toBe(ErrorCode.Forbidden);
    await bob.client.groups.mute(roomid, carol.uid(), 60);
    await carol.profile(roomid, (g) => g.mutedUntil !== undefined, 'carol muted by the admin');

    await alice.client.groups.transfer(roomid, bob.uid());
    expect(await carol.notice(roomid, 'owner')).toBe('bob成为新群主');
    await alice.profile(roomid, (g) => g.role === 'member' && g.owner === bob.uid(), 'alice a member now');

    alice.stop();
    const offline = await rejection(alice.client.groups.setNotice(roomid, 'x'));
    expect(offline.code).toBe(NOT_CONNECTED);
    expect(describeError(offline.code)).toBe('未连接到服务器，请稍后再试');
  });

  it('a kicked member leaves on every device at once; a banned one cannot come back until unbanned', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const alice = await user(server, 'alice');
    const bob = await user(server, 'bob');
    const roomid = await privateRoom(alice, '球队', [bob]);
    const bobTablet = await user(server, 'bob', bob);
    await bobTablet.joinedRoom(roomid);

    await alice.client.groups.kick(roomid, bob.uid());
    expect(await alice.notice(roomid, 'kicked')).toBe('bob被管理员移出群聊');
    for (const device of [bob, bobTablet]) {
      const left = await device.waitFor(() => device.lefts.find((l) => l.roomid === roomid), 'bob removed');
      expect(left).toMatchObject({ reason: 'kick', by: { uid: alice.uid(), name: 'alice' } });
      expect(device.client.joinedRooms).not.toContain(roomid);
      expect(device.client.storedRooms().map((r) => r.roomid)).not.toContain(roomid);
    }

    // Invited again, then banned: no way back, not even by invitation, until unbanned.
    const joins = bob.joined.length;
    await alice.client.groups.invite(roomid, bob.uid());
    await bob.joinedRoom(roomid, joins);
    const banned = await alice.client.groups.ban(roomid, bob.uid());
    expect(banned.bans?.map((b) => b.uid)).toEqual([bob.uid()]);
    await bob.waitFor(() => bob.lefts.some((l) => l.roomid === roomid && l.reason === 'ban'), 'bob banned');
    const reinvite = await rejection(alice.client.groups.invite(roomid, bob.uid()));
    expect(reinvite.code).toBe(ErrorCode.Banned);
    expect(describeError(reinvite.code, { request: 'invite' })).toBe('该用户已被加入黑名单，请先解除');
    const link = await alice.client.groups.link(roomid);
    const back = await rejection(bob.client.joinWithLink(roomid, link.link));
    expect(back.code).toBe(ErrorCode.Banned);

    const unbanned = await alice.client.groups.unban(roomid, bob.uid());
    expect(unbanned.bans ?? []).toEqual([]);
    await bob.client.joinWithLink(roomid, link.link);
    expect(bob.client.joinedRooms).toContain(roomid);

    // Leaving: the room is gone from the phone at once, and from the server's list of the user's rooms.
    bob.client.leaveRoom(roomid);
    expect(bob.client.joinedRooms).not.toContain(roomid);
    const watcher = await connect(server, { token: bob.sessions.value!.token });
    cleanups.push(() => watcher.close());
    const listed = async () => ((await watcher.request({ event: 'rooms' })).rooms as Array<{ roomid: string }>).map((r) => r.roomid);
    let rooms = await listed();
    for (const deadline = Date.now() + 3_000; rooms.includes(roomid) && Date.now() < deadline; ) rooms = await listed();
    expect(rooms).not.toContain(roomid);
  });
});
