/**
 * Where groups meet the older handlers: what a refused join or send is told, the profile a joiner
 * gets, and the notices a join by link or an owner's leave make. Kept here so join.ts,
 * leave.ts and send.ts each call one function.
 */

import { ErrorCode, type GroupProfile, isGroupRoomId } from '../protocol.ts';
import type { CoreContext } from './context.ts';
import { announce } from './group-notices.ts';
import { profileOf } from './group-profile.ts';
import type { SendRefused } from './group-store.ts';
import { notMember, type Refusal } from './roles.ts';
import type { Session } from './session.ts';
import type { JoinRefusal, JoinResult, LeaveResult } from './store.ts';

/**
 * A refused join as the joiner is told it; undefined for the refusals join.ts words itself
 * (creation quota, ROOM_LIMIT). A private room, and a room with a server-chosen id that does not
 * exist, get the same answer as `history` and `members` give a non-member.
 */
export function joinRefusal(roomid: string, refusal: JoinRefusal, link: string | undefined, maxMembers: number): Refusal | undefined {
  switch (refusal) {
    case 'hidden':
      return notMember(roomid);
    case 'bad-link':
      return { code: ErrorCode.BadLink, message: 'this invite link is invalid, expired or revoked' };
    case 'banned':
      return { code: ErrorCode.Banned, message: `you are banned from ${roomid}` };
    case 'full':
      return { code: ErrorCode.RoomFull, message: `${roomid} has as many members as it may (${maxMembers})` };
    case 'no-such-room':
      // A link for a room that is gone is a bad link, as one for a room that never was.
      if (link !== undefined) return { code: ErrorCode.BadLink, message: 'this invite link is invalid, expired or revoked' };
      return isGroupRoomId(roomid) ? notMember(roomid) : undefined;
    case 'store-full':
      return undefined;
  }
}

/**
 * The room as the joiner sees it, for `joined.group` (its notice is shown on entry), without the
 * admin lists (`group` has those). Only for joins with an `id`: the reply goes to those alone.
 */
export async function profileOnJoin<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, ref: string | undefined): Promise<GroupProfile | undefined> {
  if (ref === undefined) return undefined;
  const { uid } = session.identity!;
  const state = await ctx.store.group(roomid, [uid]);
  if (!state) return undefined;
  const { mutes: _mutes, bans: _bans, links: _links, ...profile } = profileOf(roomid, state, uid, ctx.settings.roomMaxMembers);
  return profile;
}

/** After the join: a member who came in by an invite link is announced. */
export async function afterJoin<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, joined: JoinResult): Promise<void> {
  if (joined.viaLink) await announce(ctx, roomid, session.identity!, { type: 'linked' });
}

/** The owner left: the room is told who owns it now. */
export async function afterLeave<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, result: LeaveResult): Promise<void> {
  if (result.heir) await announce(ctx, roomid, session.identity!, { type: 'owner', user: result.heir });
}

/** A send the room log refused. Not a member: the same words as a send to a room not joined. */
export function sendRefusal(roomid: string, refused: SendRefused): Refusal & { until?: number } {
  if (refused.reason === 'not-member') return { code: ErrorCode.NotMember, message: `join ${roomid} before sending to it` };
  if (refused.reason === 'mute-all') return { code: ErrorCode.Muted, message: `${roomid} is muted for everyone but the owner and admins (全员禁言)` };
  return { code: ErrorCode.Muted, message: `you are muted in ${roomid} until ${new Date(refused.until!).toISOString()}`, until: refused.until };
}
