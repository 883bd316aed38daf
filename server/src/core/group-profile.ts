/** A room as one user sees it (the `group` frame), from the store's group state. */

import type { GroupProfile } from '../protocol.ts';
import type { GroupState, GroupStore, Standing } from './group-store.ts';
import { RANK } from './roles.ts';

export function standingOf(state: GroupState, uid: string): Standing {
  return state.users[uid]?.standing ?? 'none';
}

/** A user's standing in a room ('none' when there is no such room), for rules outside groups (who may recall anyone's message, or @所有人). */
export async function standingIn(store: GroupStore, roomid: string, uid: string): Promise<Standing> {
  const state = await store.group(roomid, [uid]);
  return state ? standingOf(state, uid) : 'none';
}

/**
 * Members see the room whole but for the admin lists (mutes, bans, links), which only the owner
 * and admins see. Anyone else gets a preview: title, privacy and counts.
 */
export function profileOf(roomid: string, state: GroupState, uid: string, maxMembers: number, now = Date.now()): GroupProfile {
  const profile: GroupProfile = { roomid, title: state.title ?? roomid, private: state.private, num: state.num, total: state.total, maxMembers };
  const standing = standingOf(state, uid);
  if (standing === 'none') return profile;
  profile.role = standing;
  if (state.notice) profile.notice = state.notice;
  profile.muteAll = state.muteAll;
  if (state.owner !== undefined) profile.owner = state.owner;
  profile.admins = state.admins;
  const mine = state.mutes.find((mute) => mute.uid === uid);
  if (mine && mine.until > now) profile.mutedUntil = mine.until;
  if (RANK[standing] >= RANK.admin) {
    profile.mutes = state.mutes;
    profile.bans = state.bans;
    profile.links = state.links.map(({ key, expiresAt }) => ({ link: key, expiresAt }));
  }
  return profile;
}
