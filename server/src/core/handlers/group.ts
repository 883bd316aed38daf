/**
 * Groups (docs/protocol.md#groups): `create`, the profile (`group`), and every change of profile,
 * roles, membership and moderation. A request reads the room, is judged by roles.ts on what it
 * read, and the store applies the change only while the standings it was judged on still hold
 * (group-store.ts; read and judged again when they changed meanwhile). Then the room is told
 * (group-notices.ts) and the asker gets the room as they now see it.
 */

import {
  type AdminRequest,
  type CreateRequest,
  ErrorCode,
  GROUP_LINK_DEFAULT_SECONDS,
  GROUP_LINKS_MAX,
  GROUP_ROOM_PREFIX,
  type GroupNotice,
  type GroupRequest,
  isDirectRoomId,
  type LeftEvent,
  type LinkRequest,
  type MemberRequest,
  type MuteRequest,
  type RevokeRequest,
  ServerEvent,
  type UpdateRequest,
} from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import { EnvelopeKind } from '../envelope.ts';
import { announce } from '../group-notices.ts';
import { profileOf, standingOf } from '../group-profile.ts';
import type { ChangeOutcome, GroupChange, GroupState, Standing } from '../group-store.ts';
import { type GroupAction, judge, notMember, type Refusal } from '../roles.ts';
import type { Session } from '../session.ts';
import { roomTopic, userTopic } from '../topics.ts';
import { reviewUserText } from '../user-text.ts';
import { presenceWire } from '../wire.ts';

/** How often a change is judged again after the room changed under it. */
const ATTEMPTS = 3;

type Plan = { change: GroupChange; expect: Array<[uid: string, standing: Standing]> } | Refusal | 'unchanged';

interface Acted {
  outcome: ChangeOutcome | 'unchanged';
  /** The room as judged. */
  state: GroupState;
}

/** 16 random bytes, base64url: an id nobody guesses (invite link keys, server-chosen room ids). */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

function refuse<P>(ctx: CoreContext<P>, session: Session<P>, refusal: Refusal, ref: string | undefined): void {
  ctx.out.error(session, { ...refusal, ref });
}

function me<P>(session: Session<P>): { uid: string; name: string } {
  const { uid, name } = session.identity!;
  return { uid, name };
}

/** The same answer for a direct chat, whether it exists or not. */
function refuseDirect<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, ref: string | undefined): boolean {
  if (!isDirectRoomId(roomid)) return false;
  refuse(ctx, session, { code: ErrorCode.InvalidField, message: 'direct chats have no group settings' }, ref);
  return true;
}

/** Reads the room with the asker's and `uids`' standings, plans, and applies the plan while they hold. */
async function act<P>(
  ctx: CoreContext<P>,
  session: Session<P>,
  roomid: string,
  uids: string[],
  plan: (state: GroupState, mine: Standing) => Plan,
): Promise<Acted | Refusal> {
  const { uid } = me(session);
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const state = await ctx.store.group(roomid, [uid, ...uids]);
    const mine = state ? standingOf(state, uid) : 'none';
    if (!state || mine === 'none') return notMember(roomid);
    const decided = plan(state, mine);
    if (decided === 'unchanged') return { outcome: 'unchanged', state };
    if ('code' in decided) return decided;
    const outcome = await ctx.store.changeGroup(roomid, decided.change, decided.expect);
    if (outcome !== 'stale') return { outcome, state };
  }
  return { code: ErrorCode.Unavailable, message: 'the room kept changing under this request; send it again' };
}

/** The asker's view of the room now, as the reply. */
async function replyProfile<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, ref: string | undefined): Promise<void> {
  const { uid } = me(session);
  const state = await ctx.store.group(roomid, [uid]);
  if (!state) return refuse(ctx, session, notMember(roomid), ref);
  ctx.out.send(session, { event: ServerEvent.Group, ...profileOf(roomid, state, uid, ctx.settings.roomMaxMembers), ref });
}

/** The outcomes other than done, as the asker is told them. */
function outcomeRefusal(roomid: string, outcome: ChangeOutcome, user: string, settings: CoreContext['settings']): Refusal | undefined {
  if (outcome === 'banned') return { code: ErrorCode.Banned, message: `${user} is banned from ${roomid}; unban them first` };
  if (outcome === 'full')
    return {
      code: ErrorCode.RoomFull,
      message: `${roomid} is full: at most ${settings.roomMaxMembers} members, ${settings.roomMaxAdmins} admins and ${GROUP_LINKS_MAX} invite links`,
    };
  return undefined;
}

/** Standings and a name for the user a request names. */
function target(state: GroupState, uid: string): { uid: string; standing: Standing; name: string } {
  const found = state.users[uid];
  return { uid, standing: found?.standing ?? 'none', name: found?.name ?? uid };
}

type Target = ReturnType<typeof target>;

/**
 * A request about another user (kick, ban, mute, admin, transfer): refused when it names the
 * asker, judged on both standings, then `decide` says the change (or that there is none to make).
 * Resolves with the user as judged.
 */
async function actOn<P>(
  ctx: CoreContext<P>,
  session: Session<P>,
  roomid: string,
  user: string,
  action: GroupAction,
  decide: (who: Target, state: GroupState) => GroupChange | 'unchanged',
): Promise<{ acted: Acted; who: Target } | Refusal> {
  const asker = me(session).uid;
  if (user === asker) return { code: ErrorCode.InvalidField, message: `you cannot ${action} yourself` };
  let who: Target = { uid: user, standing: 'none', name: user };
  const acted = await act(ctx, session, roomid, [user], (state, mine) => {
    who = target(state, user);
    const refusal = judge(roomid, action, mine, who);
    if (refusal) return refusal;
    const change = decide(who, state);
    return change === 'unchanged'
      ? change
      : {
          change,
          expect: [
            [asker, mine],
            [user, who.standing],
          ],
        };
  });
  if ('code' in acted) return acted;
  const refusal = outcomeRefusal(roomid, acted.outcome as ChangeOutcome, user, ctx.settings);
  return refusal ?? { acted, who };
}

// ---------------------------------------------------------------------------------------------
// Create and read

export async function handleCreate<P>(ctx: CoreContext<P>, session: Session<P>, frame: CreateRequest): Promise<void> {
  const { id: ref } = frame;
  const asker = me(session);
  const review = await reviewUserText(ctx.moderator, frame.title, { field: 'room-name', uid: asker.uid });
  if (review) return refuse(ctx, session, { code: ErrorCode.ContentRefused, message: `title refused: ${review}` }, ref);
  if (!ctx.quotas.roomsCreated.available(asker.uid)) {
    return refuse(ctx, session, { code: ErrorCode.TooManyRooms, message: 'you have created as many rooms as you may for now (ROOMS_CREATED_PER_HOUR)' }, ref);
  }
  let roomid: string;
  for (;;) {
    roomid = `${GROUP_ROOM_PREFIX}${randomKey()}`;
    const created = await ctx.store.createGroup(roomid, asker.uid, asker.name, { title: frame.title, private: frame.private ?? false });
    if (created === 'store-full')
      return refuse(ctx, session, { code: ErrorCode.TooManyRooms, message: 'this server holds as many rooms as it may (ROOM_LIMIT); try again later' }, ref);
    if (created === 'created') break;
  }
  ctx.quotas.roomsCreated.take(asker.uid);
  await announce(ctx, roomid, asker, { type: 'created', text: frame.title });
  await replyProfile(ctx, session, roomid, ref);
}

/** Members see the room; others an open room's preview, or a private one's with a valid link. */
export async function handleGroup<P>(ctx: CoreContext<P>, session: Session<P>, frame: GroupRequest): Promise<void> {
  const { roomid, id: ref } = frame;
  if (refuseDirect(ctx, session, roomid, ref)) return;
  const { uid } = me(session);
  const state = await ctx.store.group(roomid, [uid]);
  const linked = frame.link !== undefined && state?.links.some((link) => link.key === frame.link);
  if (!state || (standingOf(state, uid) === 'none' && state.private && !linked)) return refuse(ctx, session, notMember(roomid), ref);
  ctx.out.send(session, { event: ServerEvent.Group, ...profileOf(roomid, state, uid, ctx.settings.roomMaxMembers), ref });
}

// ---------------------------------------------------------------------------------------------
// The profile

export async function handleUpdate<P>(ctx: CoreContext<P>, session: Session<P>, frame: UpdateRequest): Promise<void> {
  const { roomid, id: ref } = frame;
  if (refuseDirect(ctx, session, roomid, ref)) return;
  const asker = me(session);
  for (const [text, field] of [
    [frame.title, 'room-name'],
    [frame.notice, 'notice'],
  ] as const) {
    const review = text ? await reviewUserText(ctx.moderator, text, { field, uid: asker.uid, roomid }) : undefined;
    if (review)
      return refuse(ctx, session, { code: ErrorCode.ContentRefused, message: `${field === 'room-name' ? 'title' : 'notice'} refused: ${review}` }, ref);
  }
  const notices: GroupNotice[] = [];
  const acted = await act(ctx, session, roomid, [], (state, mine) => {
    const refusal = judge(roomid, 'update', mine);
    if (refusal) return refusal;
    notices.length = 0;
    const change: Extract<GroupChange, { op: 'profile' }> = { op: 'profile' };
    if (frame.title !== undefined && frame.title !== state.title) {
      change.title = frame.title;
      notices.push({ type: 'title', text: frame.title });
    }
    if (frame.notice !== undefined && frame.notice !== (state.notice?.text ?? '')) {
      change.notice = frame.notice === '' ? null : { text: frame.notice, uid: asker.uid, name: asker.name, ts: Date.now() };
      notices.push(frame.notice === '' ? { type: 'notice', text: '' } : { type: 'notice', text: frame.notice, mentionAll: true });
    }
    if (frame.private !== undefined && frame.private !== state.private) {
      change.private = frame.private;
      notices.push({ type: 'private', on: frame.private });
    }
    if (frame.muteAll !== undefined && frame.muteAll !== state.muteAll) {
      change.muteAll = frame.muteAll;
      notices.push({ type: 'muteAll', on: frame.muteAll });
    }
    return notices.length === 0 ? 'unchanged' : { change, expect: [[asker.uid, mine]] };
  });
  if ('code' in acted) return refuse(ctx, session, acted, ref);
  if (acted.outcome === 'done') for (const notice of notices) await announce(ctx, roomid, asker, notice);
  await replyProfile(ctx, session, roomid, ref);
}

// ---------------------------------------------------------------------------------------------
// Members: invite, kick, ban, unban, transfer

export async function handleMember<P>(ctx: CoreContext<P>, session: Session<P>, frame: MemberRequest): Promise<void> {
  const { roomid, user, id: ref } = frame;
  if (refuseDirect(ctx, session, roomid, ref)) return;
  switch (frame.event) {
    case 'invite':
      return invite(ctx, session, roomid, user, ref);
    case 'kick':
    case 'ban':
      return remove(ctx, session, roomid, user, frame.event, ref);
    case 'unban':
      return unban(ctx, session, roomid, user, ref);
    case 'transfer':
      return transfer(ctx, session, roomid, user, ref);
  }
}

async function invite<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, user: string, ref: string | undefined): Promise<void> {
  const asker = me(session);
  // Only a user the server knows can be added: their name is what the room will show.
  const name = user === asker.uid ? asker.name : await ctx.store.userName(user);
  if (name === undefined) return refuse(ctx, session, { code: ErrorCode.NoSuchUser, message: `no user ${user}` }, ref);
  const acted = await act(ctx, session, roomid, [user], (state, mine) => {
    const refusal = judge(roomid, 'invite', mine);
    if (refusal) return refusal;
    const invitee = target(state, user);
    if (invitee.standing !== 'none') return 'unchanged';
    return {
      change: { op: 'invite', user, name, maxMembers: ctx.settings.roomMaxMembers },
      expect: [
        [asker.uid, mine],
        [user, 'none'],
      ],
    };
  });
  if ('code' in acted) return refuse(ctx, session, acted, ref);
  const refusal = outcomeRefusal(roomid, acted.outcome as ChangeOutcome, user, ctx.settings);
  if (refusal) return refuse(ctx, session, refusal, ref);
  if (acted.outcome === 'done') {
    await announce(ctx, roomid, asker, { type: 'invited', user: { uid: user, name } });
    const text = JSON.stringify({ event: ServerEvent.Invited, roomid, title: acted.state.title ?? roomid, by: asker });
    await ctx.bus.publish({ kind: EnvelopeKind.UserEvent, topic: userTopic(user), text });
  }
  await replyProfile(ctx, session, roomid, ref);
}

/** kick, or ban (a member is removed too; anyone else is only banned). */
async function remove<P>(
  ctx: CoreContext<P>,
  session: Session<P>,
  roomid: string,
  user: string,
  action: 'kick' | 'ban',
  ref: string | undefined,
): Promise<void> {
  const result = await actOn(ctx, session, roomid, user, action, (who) =>
    action === 'kick' ? { op: 'kick', user } : { op: 'ban', user, name: who.name, maxBans: ctx.settings.roomMaxMembers },
  );
  if ('code' in result) return refuse(ctx, session, result, ref);
  const { who } = result;
  if (who.standing !== 'none') await removedFromRoom(ctx, roomid, { uid: user, name: who.name }, me(session), action);
  await replyProfile(ctx, session, roomid, ref);
}

/**
 * Every connection of the removed user leaves the room and is told why (their rooms list follows,
 * on every device); the room sees them go, and the notice.
 */
async function removedFromRoom<P>(
  ctx: CoreContext<P>,
  roomid: string,
  removed: { uid: string; name: string },
  by: { uid: string; name: string },
  action: 'kick' | 'ban',
): Promise<void> {
  const left: LeftEvent = { event: ServerEvent.Left, roomid, reason: action, by };
  await ctx.bus.publish({ kind: EnvelopeKind.LeftRoom, topic: userTopic(removed.uid), roomid, text: JSON.stringify(left) });
  const counts = await ctx.store.counts(roomid);
  await ctx.bus.publish({
    kind: EnvelopeKind.Notice,
    topic: roomTopic(roomid),
    text: presenceWire(ServerEvent.Logout, removed, roomid, counts, 'kick'),
    counts,
  });
  await announce(ctx, roomid, by, { type: 'kicked', user: removed, ...(action === 'ban' ? { banned: true } : {}) });
}

async function unban<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, user: string, ref: string | undefined): Promise<void> {
  const asker = me(session);
  const acted = await act(ctx, session, roomid, [], (state, mine) => {
    const refusal = judge(roomid, 'unban', mine);
    if (refusal) return refusal;
    return state.bans.some((ban) => ban.uid === user) ? { change: { op: 'unban', user }, expect: [[asker.uid, mine]] } : 'unchanged';
  });
  if ('code' in acted) return refuse(ctx, session, acted, ref);
  await replyProfile(ctx, session, roomid, ref);
}

async function transfer<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, user: string, ref: string | undefined): Promise<void> {
  const asker = me(session);
  const result = await actOn(ctx, session, roomid, user, 'transfer', () => ({ op: 'transfer', from: asker.uid, user }));
  if ('code' in result) return refuse(ctx, session, result, ref);
  await announce(ctx, roomid, asker, { type: 'owner', user: { uid: user, name: result.who.name } });
  await replyProfile(ctx, session, roomid, ref);
}

// ---------------------------------------------------------------------------------------------
// Mute and admins

export async function handleMute<P>(ctx: CoreContext<P>, session: Session<P>, frame: MuteRequest): Promise<void> {
  const { roomid, user, seconds, id: ref } = frame;
  if (refuseDirect(ctx, session, roomid, ref)) return;
  const until = seconds === 0 ? 0 : Date.now() + seconds * 1000;
  const result = await actOn(ctx, session, roomid, user, 'mute', (_who, state) =>
    until === 0 && !state.mutes.some((mute) => mute.uid === user) ? 'unchanged' : { op: 'mute', user, until },
  );
  if ('code' in result) return refuse(ctx, session, result, ref);
  if (result.acted.outcome === 'done') {
    const muted = { uid: user, name: result.who.name };
    await announce(ctx, roomid, me(session), until === 0 ? { type: 'unmuted', user: muted } : { type: 'muted', user: muted, until }, seconds);
  }
  await replyProfile(ctx, session, roomid, ref);
}

export async function handleAdmin<P>(ctx: CoreContext<P>, session: Session<P>, frame: AdminRequest): Promise<void> {
  const { roomid, user, admin, id: ref } = frame;
  if (refuseDirect(ctx, session, roomid, ref)) return;
  const result = await actOn(ctx, session, roomid, user, 'admin', (who) =>
    (who.standing === 'admin') === admin ? 'unchanged' : { op: 'role', user, role: admin ? 'admin' : 'member', maxAdmins: ctx.settings.roomMaxAdmins },
  );
  if ('code' in result) return refuse(ctx, session, result, ref);
  if (result.acted.outcome === 'done')
    await announce(ctx, roomid, me(session), { type: admin ? 'admin' : 'unadmin', user: { uid: user, name: result.who.name } });
  await replyProfile(ctx, session, roomid, ref);
}

// ---------------------------------------------------------------------------------------------
// Invite links

export async function handleLink<P>(ctx: CoreContext<P>, session: Session<P>, frame: LinkRequest): Promise<void> {
  const { roomid, id: ref } = frame;
  if (refuseDirect(ctx, session, roomid, ref)) return;
  const asker = me(session);
  const key = randomKey();
  const expiresAt = Date.now() + (frame.seconds ?? GROUP_LINK_DEFAULT_SECONDS) * 1000;
  const acted = await act(ctx, session, roomid, [], (_state, mine) => {
    const refusal = judge(roomid, 'link', mine);
    if (refusal) return refusal;
    return { change: { op: 'link', key, expiresAt, maxLinks: GROUP_LINKS_MAX }, expect: [[asker.uid, mine]] };
  });
  if ('code' in acted) return refuse(ctx, session, acted, ref);
  const refusal = outcomeRefusal(roomid, acted.outcome as ChangeOutcome, asker.uid, ctx.settings);
  if (refusal) return refuse(ctx, session, refusal, ref);
  ctx.out.send(session, { event: ServerEvent.Link, roomid, link: key, expiresAt, ref });
}

export async function handleRevoke<P>(ctx: CoreContext<P>, session: Session<P>, frame: RevokeRequest): Promise<void> {
  const { roomid, link, id: ref } = frame;
  if (refuseDirect(ctx, session, roomid, ref)) return;
  const asker = me(session);
  const acted = await act(ctx, session, roomid, [], (_state, mine) => {
    const refusal = judge(roomid, 'revoke', mine);
    if (refusal) return refusal;
    return { change: { op: 'revoke', key: link }, expect: [[asker.uid, mine]] };
  });
  if ('code' in acted) return refuse(ctx, session, acted, ref);
  await replyProfile(ctx, session, roomid, ref);
}
