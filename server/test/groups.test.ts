/**
 * Rooms as groups (docs/protocol.md#groups), over real sockets: the permission matrix, and what a
 * user notices of each rule: titles in any script, removal from every device, bans by every route,
 * mutes that outlast a reconnect, private rooms that answer strangers as no room does, invite
 * links, notices stored in the room's seq order, who inherits a room.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directRoomId, ErrorCode } from '../src/protocol.ts';
import { type Cast, castOn, closeCast, runPermissionMatrix } from './group-matrix.ts';
import { connectAs, startTestServer, type TestClient, type TestServer } from './harness.ts';

type Client = TestClient & { user: { uid: string; name: string } };

let server: TestServer;
beforeAll(async () => {
  // The matrix makes a room per case, and its cast joins each one.
  server = await startTestServer({ ROOMS_PER_CONNECTION: '1000' });
});
afterAll(() => server.close());

/** A room made by `owner` with these members (invited) and admins; returns its id. */
async function group(owner: Client, title: string, options: { private?: boolean; members?: Client[]; admins?: Client[] } = {}): Promise<string> {
  const created = await owner.request({ event: 'create', title, private: options.private ?? false });
  const roomid = created.roomid as string;
  for (const member of [...(options.members ?? []), ...(options.admins ?? [])]) await owner.request({ event: 'invite', roomid, user: member.user.uid });
  for (const admin of options.admins ?? []) await owner.request({ event: 'admin', roomid, user: admin.user.uid, admin: true });
  return roomid;
}

const systemTypes = (client: TestClient, roomid: string): string[] =>
  client
    .messages(roomid)
    .filter((m) => m.system)
    .map((m) => (m.system as { type: string }).type);

describe('the permission matrix', () => {
  let cast: Cast;
  afterAll(() => closeCast(cast));

  it('every action by the owner, an admin, a member and a non-member, in an open and a private room', async () => {
    cast = await castOn([server]);
    expect(await runPermissionMatrix(cast)).toBe(19 * 4 * 2);
  }, 120_000);
});

describe('creating and naming a room', () => {
  it("a room is created with a title in any script and an id of the server's choice; rooms and joined show it", async () => {
    const owner = await connectAs(server, '小明');
    const created = await owner.request({ event: 'create', title: '  家庭群 🏠 ' });
    expect(created).toMatchObject({ event: 'group', title: '家庭群 🏠', role: 'owner', owner: owner.user.uid, admins: [], private: false, total: 1 });
    expect(created.roomid).toMatch(/^g:[\w-]{22}$/);
    const roomid = created.roomid as string;
    const joined = await owner.join(roomid);
    expect(joined.group).toMatchObject({ roomid, title: '家庭群 🏠', role: 'owner' });
    expect(systemTypes(owner, roomid)).toEqual([]);
    const history = await owner.request({ event: 'history', roomid });
    expect(history.messages).toMatchObject([{ seq: 1, uid: owner.user.uid, message: '小明创建了群聊“家庭群 🏠”', system: { type: 'created' } }]);
    const rooms = await owner.request({ event: 'rooms' });
    expect(rooms.rooms).toContainEqual(expect.objectContaining({ roomid, title: '家庭群 🏠', total: 1 }));
    for (const title of ['', '   ', 'x'.repeat(31), '\u200b\u200b']) {
      expect(await owner.request({ event: 'create', title })).toMatchObject({ event: 'error', code: ErrorCode.InvalidField });
    }
    await owner.close();
  });

  it('the first joiner of a new id owns the room; a notice is announced with @所有人 and shown to whoever joins', async () => {
    const owner = await connectAs(server, 'owner');
    const member = await connectAs(server, 'member');
    const joined = await owner.join('team-room');
    expect(joined.group).toMatchObject({ role: 'owner', title: 'team-room' });
    await member.join('team-room');
    expect(await member.request({ event: 'update', roomid: 'team-room', notice: 'x' })).toMatchObject({ code: ErrorCode.Forbidden });
    const updated = await owner.request({ event: 'update', roomid: 'team-room', notice: '周五发版\n请大家留意' });
    expect(updated.notice).toMatchObject({ text: '周五发版\n请大家留意', uid: owner.user.uid, name: 'owner' });
    const announced = await member.next((f) => f.event === 'message' && f.system !== undefined);
    expect(announced).toMatchObject({ message: '@所有人 周五发版\n请大家留意', mentionAll: true, system: { type: 'notice', mentionAll: true } });
    // Until the member reads it, the notice counts as a mention of them ([有人@我]) on every device.
    const later = await connectAs(server, 'member', member.user.uid);
    const rejoined = await later.join('team-room');
    expect(rejoined).toMatchObject({ group: { role: 'member', notice: { text: '周五发版\n请大家留意' } }, mention: announced.seq });
    expect(await later.request({ event: 'read', roomid: 'team-room', seq: announced.seq as number, id: 'r' })).toMatchObject({
      event: 'read',
      seq: announced.seq,
    });
    const rooms = await later.request({ event: 'rooms' });
    expect((rooms.rooms as { roomid: string; mention?: number }[]).find((r) => r.roomid === 'team-room')).not.toHaveProperty('mention');
    await Promise.all([owner.close(), member.close(), later.close()]);
  });

  it('direct chats have no group settings', async () => {
    const alice = await connectAs(server, 'alice');
    const roomid = directRoomId(alice.user.uid, 'someone');
    for (const frame of [
      { event: 'group', roomid },
      { event: 'update', roomid, title: 'x' },
      { event: 'kick', roomid, user: 'someone' },
    ]) {
      expect(await alice.request(frame)).toMatchObject({ event: 'error', code: ErrorCode.InvalidField });
    }
    await alice.close();
  });
});

describe('removing members', () => {
  it('a kicked member leaves at once on every device: told why, nothing more from the room, gone from their rooms', async () => {
    const owner = await connectAs(server, 'owner');
    const troll = await connectAs(server, 'troll');
    const trollPhone = await connectAs(server, 'troll', troll.user.uid);
    const roomid = await group(owner, '清净群', { members: [troll] });
    await owner.join(roomid);
    await troll.join(roomid);
    // The phone is on the conversation list, not in the room: its list must follow too.
    const kicked = await owner.request({ event: 'kick', roomid, user: troll.user.uid });
    expect(kicked).toMatchObject({ event: 'group', total: 1 });
    for (const device of [troll, trollPhone]) {
      expect(await device.nextEvent('left', { roomid })).toMatchObject({ reason: 'kick', by: { uid: owner.user.uid, name: 'owner' } });
    }
    expect(await owner.nextEvent('logout', { uid: troll.user.uid })).toMatchObject({ reason: 'kick', total: 1 });
    expect(systemTypes(owner, roomid)).toEqual(['kicked']);
    expect(owner.messages(roomid).at(-1)).toMatchObject({ message: 'troll被管理员移出群聊', system: { user: { uid: troll.user.uid } } });
    await owner.say(roomid, 'after the kick');
    expect(await troll.request({ event: 'message', roomid, message: 'still here?' })).toMatchObject({ code: ErrorCode.NotMember });
    expect(await trollPhone.request({ event: 'history', roomid })).toMatchObject({ code: ErrorCode.NotMember });
    expect((await trollPhone.request({ event: 'rooms' })).rooms).not.toContainEqual(expect.objectContaining({ roomid }));
    expect(troll.messages(roomid).map((m) => m.message)).not.toContain('after the kick');
    // Kicked, not banned: an open room takes them back.
    await troll.join(roomid);
    await Promise.all([owner.close(), troll.close(), trollPhone.close()]);
  });

  it('a banned user comes back by no route (join, invite, link) until unbanned', async () => {
    const owner = await connectAs(server, 'owner');
    const friend = await connectAs(server, 'friend');
    const banned = await connectAs(server, 'banned');
    const roomid = await group(owner, '黑名单', { members: [friend, banned] });
    await banned.join(roomid);
    expect(await owner.request({ event: 'ban', roomid, user: banned.user.uid })).toMatchObject({ bans: [{ uid: banned.user.uid, name: 'banned' }] });
    expect(await banned.nextEvent('left', { roomid })).toMatchObject({ reason: 'ban' });
    expect(await banned.request({ event: 'join', roomid })).toMatchObject({ code: ErrorCode.Banned });
    expect(await friend.request({ event: 'invite', roomid, user: banned.user.uid })).toMatchObject({ code: ErrorCode.Banned });
    const { link } = await owner.request({ event: 'link', roomid });
    expect(await banned.request({ event: 'join', roomid, link })).toMatchObject({ code: ErrorCode.Banned });
    expect(await friend.request({ event: 'unban', roomid, user: banned.user.uid })).toMatchObject({ code: ErrorCode.Forbidden });
    expect(await owner.request({ event: 'unban', roomid, user: banned.user.uid })).toMatchObject({ event: 'group', bans: [] });
    expect(await banned.request({ event: 'join', roomid, link, id: 'back' })).toMatchObject({ event: 'joined', group: { role: 'member' } });
    await Promise.all([owner.close(), friend.close(), banned.close()]);
  });

  it('ranks: an admin cannot remove, ban or mute the owner or another admin; the owner can', async () => {
    const owner = await connectAs(server, 'owner');
    const admin = await connectAs(server, 'admin');
    const other = await connectAs(server, 'other admin');
    const roomid = await group(owner, '管理员', { admins: [admin, other] });
    for (const event of ['kick', 'ban']) {
      for (const victim of [owner, other]) {
        expect(await admin.request({ event, roomid, user: victim.user.uid })).toMatchObject({ code: ErrorCode.Forbidden });
      }
    }
    expect(await admin.request({ event: 'mute', roomid, user: other.user.uid, seconds: 60 })).toMatchObject({ code: ErrorCode.Forbidden });
    expect(await admin.request({ event: 'admin', roomid, user: other.user.uid, admin: false })).toMatchObject({ code: ErrorCode.Forbidden });
    expect(await admin.request({ event: 'kick', roomid, user: admin.user.uid })).toMatchObject({ code: ErrorCode.InvalidField });
    expect(await admin.request({ event: 'kick', roomid, user: 'nobody-here' })).toMatchObject({ code: ErrorCode.NoSuchUser });
    const after = await owner.request({ event: 'kick', roomid, user: other.user.uid });
    expect(after).toMatchObject({ admins: [admin.user.uid], total: 2 });
    await Promise.all([owner.close(), admin.close(), other.close()]);
  });
});

describe('mute', () => {
  it('a muted member is told until when, after a reconnect too; 全员禁言 spares admins; unmute lets them speak', async () => {
    const owner = await connectAs(server, 'owner');
    const admin = await connectAs(server, 'admin');
    let talker = await connectAs(server, 'talker');
    const roomid = await group(owner, '禁言', { members: [talker], admins: [admin] });
    for (const client of [owner, admin, talker]) await client.join(roomid);
    const before = Date.now();
    const muted = await admin.request({ event: 'mute', roomid, user: talker.user.uid, seconds: 600 });
    expect(muted.mutes).toMatchObject([{ uid: talker.user.uid, name: 'talker' }]);
    const notice = await talker.next((f) => f.event === 'message' && f.system !== undefined);
    expect(notice).toMatchObject({ message: 'talker被管理员禁言10分钟', system: { type: 'muted', user: { uid: talker.user.uid } } });
    const until = (notice.system as { until: number }).until;
    expect(until).toBeGreaterThanOrEqual(before + 600_000);
    const refused = await talker.request({ event: 'message', roomid, message: 'let me talk' });
    expect(refused).toMatchObject({
      event: 'error',
      code: ErrorCode.Muted,
      until,
      message: `you are muted in ${roomid} until ${new Date(until).toISOString()}`,
    });
    await talker.close();
    talker = await connectAs(server, 'talker', talker.user.uid);
    expect((await talker.join(roomid)).group).toMatchObject({ mutedUntil: until });
    expect(await talker.request({ event: 'message', roomid, message: 'again' })).toMatchObject({ code: ErrorCode.Muted, until });
    await owner.request({ event: 'mute', roomid, user: talker.user.uid, seconds: 0 });
    await talker.say(roomid, 'free');
    await owner.request({ event: 'update', roomid, muteAll: true });
    const all = await talker.request({ event: 'message', roomid, message: 'and now?' });
    expect(all).toMatchObject({ code: ErrorCode.Muted });
    expect(all.until).toBeUndefined();
    await admin.say(roomid, 'admins speak');
    await owner.say(roomid, 'so does the owner');
    expect(systemTypes(owner, roomid)).toEqual(['muted', 'unmuted', 'muteAll']);
    await Promise.all([owner.close(), admin.close(), talker.close()]);
  });
});

describe('private rooms', () => {
  it('a non-member gets the answer a room that does not exist gets, whatever they ask', async () => {
    const owner = await connectAs(server, 'owner');
    const stranger = await connectAs(server, 'stranger');
    const roomid = await group(owner, '秘密', { private: true });
    await owner.join(roomid);
    await owner.say(roomid, 'secret words');
    const missing = 'g:AAAAAAAAAAAAAAAAAAAAAA';
    for (const frame of [{ event: 'join' }, { event: 'history' }, { event: 'members' }, { event: 'message', message: 'hi' }, { event: 'group' }]) {
      const probe = await stranger.request({ ...frame, roomid });
      const absent = await stranger.request({ ...frame, roomid: missing });
      expect(probe).toMatchObject({ event: 'error', code: ErrorCode.NotMember });
      expect({ ...probe, ref: 0, message: String(probe.message).replace(roomid, '<id>') }).toEqual({
        ...absent,
        ref: 0,
        message: String(absent.message).replace(missing, '<id>'),
      });
    }
    expect(JSON.stringify(stranger.frames)).not.toContain('secret words');
    await Promise.all([owner.close(), stranger.close()]);
  });

  it('an invite link lets its holder preview and join; revoked, it lets nobody in', async () => {
    const owner = await connectAs(server, 'owner');
    const admin = await connectAs(server, 'admin');
    const guest = await connectAs(server, 'guest');
    const late = await connectAs(server, 'late');
    const roomid = await group(owner, '内部群', { private: true, admins: [admin] });
    await owner.join(roomid);
    const made = await admin.request({ event: 'link', roomid, seconds: 3600 });
    expect(made).toMatchObject({ event: 'link', roomid, link: expect.stringMatching(/^[\w-]{22}$/) });
    expect(made.expiresAt).toBeGreaterThan(Date.now() + 3_500_000);
    const link = made.link as string;
    expect(await guest.request({ event: 'group', roomid })).toMatchObject({ code: ErrorCode.NotMember });
    const preview = await guest.request({ event: 'group', roomid, link });
    expect(preview).toMatchObject({ title: '内部群', private: true, total: 2 });
    expect(preview.role).toBeUndefined();
    expect(preview.notice).toBeUndefined();
    expect(await guest.request({ event: 'join', roomid, link: 'x'.repeat(22) })).toMatchObject({ code: ErrorCode.BadLink });
    expect(await guest.join(roomid, { link })).toMatchObject({ total: 3, group: { role: 'member' } });
    expect(await owner.next((f) => f.event === 'message' && f.system !== undefined)).toMatchObject({
      uid: guest.user.uid,
      message: 'guest通过邀请链接加入了群聊',
    });
    expect((await owner.request({ event: 'group', roomid })).links).toEqual([{ link, expiresAt: made.expiresAt }]);
    expect(await admin.request({ event: 'revoke', roomid, link })).toMatchObject({ links: [] });
    expect(await late.request({ event: 'join', roomid, link })).toMatchObject({ code: ErrorCode.BadLink });
    expect(await late.request({ event: 'join', roomid: 'g:BBBBBBBBBBBBBBBBBBBBBB', link })).toMatchObject({ code: ErrorCode.BadLink });
    // A member's invitation is the other way in.
    expect(await guest.request({ event: 'invite', roomid, user: late.user.uid })).toMatchObject({ total: 4 });
    expect(await late.nextEvent('invited', { roomid })).toMatchObject({ title: '内部群', by: { uid: guest.user.uid, name: 'guest' } });
    await late.join(roomid);
    await Promise.all([owner.close(), admin.close(), guest.close(), late.close()]);
  });
});

describe('notices in the seq order, and succession', () => {
  it('a member who was away gets the notices in their replay, in order with the messages', async () => {
    const owner = await connectAs(server, 'owner');
    let away = await connectAs(server, 'away');
    const other = await connectAs(server, 'other');
    const roomid = await group(owner, '补课', { members: [away, other] });
    await owner.join(roomid);
    await away.join(roomid);
    await away.close();
    await owner.say(roomid, 'before');
    await owner.request({ event: 'update', roomid, title: '新名字' });
    await owner.request({ event: 'kick', roomid, user: other.user.uid });
    await owner.say(roomid, 'after');
    away = await connectAs(server, 'away', away.user.uid);
    const joined = await away.join(roomid);
    expect(joined).toMatchObject({ replayed: 4, group: { title: '新名字' } });
    expect(away.messages(roomid).map((m) => [m.message, m.replay])).toEqual([
      ['before', true],
      ['owner修改群名为“新名字”', true],
      ['other被管理员移出群聊', true],
      ['after', true],
    ]);
    await Promise.all([owner.close(), away.close(), other.close()]);
  });

  it('when the owner leaves, the admin who joined first owns the room; the owner hands it over with transfer', async () => {
    const owner = await connectAs(server, 'owner');
    const member = await connectAs(server, 'member');
    const first = await connectAs(server, 'first admin');
    const second = await connectAs(server, 'second admin');
    const roomid = await group(owner, '交接', { members: [member], admins: [first, second] });
    await member.join(roomid);
    await owner.request({ event: 'leave', roomid });
    const heir = await member.next((f) => f.event === 'message' && f.system !== undefined);
    expect(heir).toMatchObject({ uid: owner.user.uid, message: 'first admin成为新群主', system: { type: 'owner', user: { uid: first.user.uid } } });
    expect(await member.request({ event: 'group', roomid })).toMatchObject({ owner: first.user.uid, admins: [second.user.uid], total: 3 });
    expect(await first.request({ event: 'transfer', roomid, user: member.user.uid })).toMatchObject({ role: 'member', owner: member.user.uid });
    expect(await first.request({ event: 'kick', roomid, user: member.user.uid })).toMatchObject({ code: ErrorCode.Forbidden });
    await Promise.all([owner.close(), member.close(), first.close(), second.close()]);
  });
});

describe('limits', () => {
  it('ROOM_MAX_MEMBERS refuses a join and an invite past it; ROOM_MAX_ADMINS an admin past it', async () => {
    const small = await startTestServer({ ROOM_MAX_MEMBERS: '3', ROOM_MAX_ADMINS: '1' });
    try {
      const [owner, one, two, three] = await Promise.all(['owner', 'one', 'two', 'three'].map((name) => connectAs(small, name)));
      for (const client of [owner, one, two]) await client.join('small-room');
      expect(await three.request({ event: 'join', roomid: 'small-room' })).toMatchObject({ code: ErrorCode.RoomFull });
      expect(await owner.request({ event: 'invite', roomid: 'small-room', user: three.user.uid })).toMatchObject({ code: ErrorCode.RoomFull });
      expect(await owner.request({ event: 'admin', roomid: 'small-room', user: one.user.uid, admin: true })).toMatchObject({ admins: [one.user.uid] });
      expect(await owner.request({ event: 'admin', roomid: 'small-room', user: two.user.uid, admin: true })).toMatchObject({ code: ErrorCode.RoomFull });
      await two.request({ event: 'leave', roomid: 'small-room' });
      await three.join('small-room');
      await Promise.all([owner, one, two, three].map((c) => c.close()));
    } finally {
      await small.close();
    }
  });
});
