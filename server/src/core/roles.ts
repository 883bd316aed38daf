/**
 * Who may do what in a room: the one place the group rules live (docs/protocol.md#groups). The
 * handlers ask `judge` on the standings the store reported, then have the store apply the change
 * only while those standings hold (group-store.ts), so a rule is never checked on stale roles.
 *
 * Ranks: owner > admin > member. The owner names admins and hands the room over; owner and admins
 * change the profile, remove, ban and mute members of lower rank, and make invite links; any
 * member invites.
 */

import { ErrorCode } from '../protocol.ts';
import type { Role, Standing } from './group-store.ts';

export const RANK: Record<Standing, number> = { none: 0, member: 1, admin: 2, owner: 3 };

export type GroupAction = 'update' | 'invite' | 'kick' | 'ban' | 'unban' | 'mute' | 'admin' | 'transfer' | 'link' | 'revoke';

/** The least role that may take each action. */
const LEAST_ROLE: Record<GroupAction, Role> = {
  update: 'admin',
  invite: 'member',
  kick: 'admin',
  ban: 'admin',
  unban: 'admin',
  mute: 'admin',
  admin: 'owner',
  transfer: 'owner',
  link: 'admin',
  revoke: 'admin',
};

/** Actions about another member, who must be of lower rank than the actor. */
const ON_LOWER_RANK: ReadonlySet<GroupAction> = new Set(['kick', 'ban', 'mute']);
/** Actions about a user who must be a member. */
const ON_MEMBER: ReadonlySet<GroupAction> = new Set(['kick', 'mute', 'admin', 'transfer']);

export interface Refusal {
  code: ErrorCode;
  message: string;
}

/** The one answer to a non-member about a room, whether it exists or not, open or private. */
export function notMember(roomid: string): Refusal {
  return { code: ErrorCode.NotMember, message: `not a member of ${roomid}` };
}

const WHO: Record<Role, string> = { owner: 'the owner', admin: 'the owner and admins', member: 'members' };

/**
 * Whether `actor` may take `action` (about `target`, a user other than the actor, when the action
 * names one). Undefined: allowed.
 */
export function judge(roomid: string, action: GroupAction, actor: Standing, target?: { uid: string; standing: Standing }): Refusal | undefined {
  if (actor === 'none') return notMember(roomid);
  const least = LEAST_ROLE[action];
  if (RANK[actor] < RANK[least]) return { code: ErrorCode.Forbidden, message: `only ${WHO[least]} may ${action} in ${roomid}` };
  if (!target) return undefined;
  if (ON_MEMBER.has(action) && target.standing === 'none') {
    return { code: ErrorCode.NoSuchUser, message: `${target.uid} is not a member of ${roomid}` };
  }
  if (ON_LOWER_RANK.has(action) && RANK[target.standing] >= RANK[actor]) {
    return { code: ErrorCode.Forbidden, message: `${actor === 'admin' ? 'an admin' : 'the owner'} cannot ${action} ${target.standing === 'owner' ? 'the owner' : `another ${target.standing}`}` };
  }
  return undefined;
}
