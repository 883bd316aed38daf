/**
 * The permission matrix of groups (docs/protocol.md#groups): every action by the owner, an admin,
 * a member and a non-member, on an open and on a private room, over real sockets. Each case gets a
 * fresh room; it checks the answer (the reply, or the error code), and that the room was told the
 * change (a system notice reaching a member online) or told nothing. For a non-member of a private
 * room it also checks the answer is the one a room that does not exist gets.
 *
 * Run by groups.test.ts on one server (every vitest project: memory, Redis, Deno) and by
 * redis-groups.test.ts with the cast spread over two nodes of one Redis.
 */

import { expect } from 'vitest';
import { ErrorCode } from '../src/protocol.ts';
import { connectAs, type TestClient, type TestServer } from './harness.ts';

type Client = TestClient & { user: { uid: string; name: string } };
export type Actor = 'owner' | 'admin' | 'member' | 'outsider';
type Kind = 'open' | 'private';

export interface Cast {
  owner: Client;
  admin: Client;
  member: Client;
  outsider: Client;
  /** A plain member whom the actions are about. */
  target: Client;
  /** Known to the server, in no room: invited, banned and unbanned. */
  invitee: Client;
}

/** The cast, on the servers given in turn (one server, or the nodes of one Redis). */
export async function castOn(servers: TestServer[]): Promise<Cast> {
  const names = ['owner', 'admin', 'member', 'outsider', 'target', 'invitee'] as const;
  const clients = await Promise.all(names.map((name, i) => connectAs(servers[i % servers.length], name)));
  return Object.fromEntries(names.map((name, i) => [name, clients[i]])) as unknown as Cast;
}

export async function closeCast(cast: Cast | undefined): Promise<void> {
  if (cast) await Promise.all(Object.values(cast).map((client: Client) => client.close()));
}

interface Room {
  roomid: string;
  kind: Kind;
  cast: Cast;
  /** A live invite link (made by the owner when the case asks for one). */
  link?: string;
}

type Outcome = 'ok' | ErrorCode;

interface Case {
  name: string;
  /** What a member of each role gets, and what a non-member gets in an open and a private room. */
  expect: Record<Exclude<Actor, 'outsider'>, Outcome> & { outsider: Record<Kind, Outcome> };
  frame: (room: Room) => Record<string, unknown>;
  /** The reply when allowed. */
  reply: string;
  /** The system notice the room gets when allowed (by actor when it depends on who acts). */
  notice?: string | Partial<Record<Actor, string>>;
  /** Made ready by the owner before the action. */
  prepare?: (room: Room) => Promise<void>;
}

const { Forbidden, NotMember } = ErrorCode;
const everyone = { owner: 'ok', admin: 'ok', member: 'ok' } as const;
const admins = { owner: 'ok', admin: 'ok', member: Forbidden } as const;
const ownerOnly = { owner: 'ok', admin: Forbidden, member: Forbidden } as const;
const hidden = { open: NotMember, private: NotMember } as const;
/** A non-member sees an open room as a stranger may, a private one not at all. */
const preview = { open: 'ok', private: NotMember } as const;

const CASES: Case[] = [
  { name: 'group', expect: { ...everyone, outsider: preview }, frame: ({ roomid }) => ({ event: 'group', roomid }), reply: 'group' },
  { name: 'update title', expect: { ...admins, outsider: hidden }, frame: ({ roomid }) => ({ event: 'update', roomid, title: '新群名' }), reply: 'group', notice: 'title' },
  { name: 'update notice', expect: { ...admins, outsider: hidden }, frame: ({ roomid }) => ({ event: 'update', roomid, notice: '明天开会' }), reply: 'group', notice: 'notice' },
  { name: 'update private', expect: { ...admins, outsider: hidden }, frame: ({ roomid, kind }) => ({ event: 'update', roomid, private: kind === 'open' }), reply: 'group', notice: 'private' },
  { name: 'update muteAll', expect: { ...admins, outsider: hidden }, frame: ({ roomid }) => ({ event: 'update', roomid, muteAll: true }), reply: 'group', notice: 'muteAll' },
  { name: 'invite', expect: { ...everyone, outsider: hidden }, frame: ({ roomid, cast }) => ({ event: 'invite', roomid, user: cast.invitee.user.uid }), reply: 'group', notice: 'invited' },
  { name: 'kick', expect: { ...admins, outsider: hidden }, frame: ({ roomid, cast }) => ({ event: 'kick', roomid, user: cast.target.user.uid }), reply: 'group', notice: 'kicked' },
  { name: 'ban', expect: { ...admins, outsider: hidden }, frame: ({ roomid, cast }) => ({ event: 'ban', roomid, user: cast.target.user.uid }), reply: 'group', notice: 'kicked' },
  {
    name: 'unban',
    expect: { ...admins, outsider: hidden },
    prepare: async ({ roomid, cast }) => void (await cast.owner.request({ event: 'ban', roomid, user: cast.invitee.user.uid })),
    frame: ({ roomid, cast }) => ({ event: 'unban', roomid, user: cast.invitee.user.uid }),
    reply: 'group',
  },
  { name: 'mute', expect: { ...admins, outsider: hidden }, frame: ({ roomid, cast }) => ({ event: 'mute', roomid, user: cast.target.user.uid, seconds: 600 }), reply: 'group', notice: 'muted' },
  { name: 'admin', expect: { ...ownerOnly, outsider: hidden }, frame: ({ roomid, cast }) => ({ event: 'admin', roomid, user: cast.target.user.uid, admin: true }), reply: 'group', notice: 'admin' },
  { name: 'transfer', expect: { ...ownerOnly, outsider: hidden }, frame: ({ roomid, cast }) => ({ event: 'transfer', roomid, user: cast.target.user.uid }), reply: 'group', notice: 'owner' },
  { name: 'link', expect: { ...admins, outsider: hidden }, frame: ({ roomid }) => ({ event: 'link', roomid }), reply: 'link' },
  {
    name: 'revoke',
    expect: { ...admins, outsider: hidden },
    prepare: async (room) => void (room.link = (await room.cast.owner.request({ event: 'link', roomid: room.roomid })).link as string),
    frame: ({ roomid, link }) => ({ event: 'revoke', roomid, link }),
    reply: 'group',
  },
  { name: 'join', expect: { ...everyone, outsider: preview }, frame: ({ roomid }) => ({ event: 'join', roomid }), reply: 'joined' },
  { name: 'history', expect: { ...everyone, outsider: hidden }, frame: ({ roomid }) => ({ event: 'history', roomid }), reply: 'history' },
  { name: 'members', expect: { ...everyone, outsider: hidden }, frame: ({ roomid }) => ({ event: 'members', roomid }), reply: 'members' },
  {
    name: 'message',
    expect: { ...everyone, outsider: hidden },
    prepare: async ({ roomid, cast }) => void (await cast.owner.join(roomid)),
    frame: ({ roomid }) => ({ event: 'message', roomid, message: 'hi' }),
    reply: 'ack',
  },
  { name: 'leave', expect: { ...everyone, outsider: hidden }, frame: ({ roomid }) => ({ event: 'leave', roomid }), reply: 'left', notice: { owner: 'owner' } },
];

/** A fresh room: the owner created it; the admin, the member and the target are members, and the admin and the member (the observers) have joined. */
async function freshRoom(cast: Cast, kind: Kind): Promise<Room> {
  const created = await cast.owner.request({ event: 'create', title: '权限矩阵', private: kind === 'private' });
  expect(created).toMatchObject({ event: 'group', role: 'owner', private: kind === 'private' });
  const roomid = created.roomid as string;
  const invited = await Promise.all([cast.admin, cast.member, cast.target].map((who) => cast.owner.request({ event: 'invite', roomid, user: who.user.uid })));
  for (const reply of invited) expect(reply).toMatchObject({ event: 'group' });
  expect(await cast.owner.request({ event: 'admin', roomid, user: cast.admin.user.uid, admin: true })).toMatchObject({ admins: [cast.admin.user.uid] });
  await Promise.all([cast.admin.join(roomid), cast.member.join(roomid)]);
  return { roomid, kind, cast };
}

/** The answer as a client reads it, with the room's id taken out (to compare two rooms' answers). */
function answer(frame: Record<string, unknown>, roomid: string): unknown {
  const { ref: _ref, ...rest } = frame;
  return JSON.parse(JSON.stringify(rest).split(roomid).join('<roomid>'));
}

/** System notices `client` got from `roomid` since frame `from`. */
function noticesSince(client: Client, roomid: string, from: number): string[] {
  return client.frames.slice(from).filter((f) => f.event === 'message' && f.roomid === roomid && f.system).map((f) => (f.system as { type: string }).type);
}

/** One case: a fresh room, the action, its answer, and what the room was told. */
async function runCase(cast: Cast, kind: Kind, testCase: Case, actor: Actor): Promise<void> {
  const room = await freshRoom(cast, kind);
  await testCase.prepare?.(room);
  const outcome = actor === 'outsider' ? testCase.expect.outsider[kind] : testCase.expect[actor];
  const where = `${testCase.name} by ${actor} in a ${kind} room`;
  // A member who stays in the room, online there, hears what the room is told.
  const observer = actor === 'member' ? cast.admin : cast.member;
  const from = observer.frames.length;
  const reply = await cast[actor].request(testCase.frame(room));
  if (outcome === 'ok') {
    expect(reply.event, `${where}: ${JSON.stringify(reply)}`).toBe(testCase.reply);
  } else {
    expect(reply, where).toMatchObject({ event: 'error', code: outcome });
    if (actor === 'outsider' && kind === 'private') {
      // The same answer as for a room that does not exist.
      const nowhere = `g:nowhere-${room.roomid.slice(2)}`;
      const absent = await cast.outsider.request(testCase.frame({ ...room, roomid: nowhere }));
      expect(answer(reply, room.roomid), where).toEqual(answer(absent, nowhere));
    }
  }
  const notice = typeof testCase.notice === 'string' ? testCase.notice : testCase.notice?.[actor];
  const expected = outcome === 'ok' && notice ? [notice] : [];
  if (expected.length > 0) await observer.next((f) => f.event === 'message' && f.roomid === room.roomid && f.system !== undefined, 3000, from);
  // Everything the room was sent before this reply has reached the observer by now.
  await observer.request({ event: 'rooms' });
  expect(noticesSince(observer, room.roomid, from), where).toEqual(expected);
}

/** Cases run a few at a time: each has a room of its own, and the cast's connections keep up. */
const CONCURRENT_CASES = 6;

/** Runs every case; resolves to how many ran. */
export async function runPermissionMatrix(cast: Cast): Promise<number> {
  const queue = (['open', 'private'] as const).flatMap((kind) =>
    CASES.flatMap((testCase) => (['owner', 'admin', 'member', 'outsider'] as const).map((actor) => () => runCase(cast, kind, testCase, actor))),
  );
  const total = queue.length;
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) await next();
  };
  await Promise.all(Array.from({ length: CONCURRENT_CASES }, worker));
  return total;
}
