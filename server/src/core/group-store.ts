/**
 * What the store keeps of a room as a group: its profile (title, notice, private, 全员禁言), who
 * owns and administers it, who is muted or banned, and its invite links. Both backends implement
 * it (memory-store.ts with memory-group.ts; redis/redis-store.ts with group-scripts.ts).
 *
 * The rules (who may do what to whom) live in one place, roles.ts, and run in the core. The store
 * only applies a change atomically when the standings the core decided on still hold
 * (`expect`): a change that raced another (the target was made admin meanwhile) comes back
 * 'stale', and the core reads again and decides again. So every check against the actor's role is
 * made on the state the change is applied to, on one node or many.
 */

import type { RoomCounts } from './envelope.ts';

export type Role = 'owner' | 'admin' | 'member';
/** A user's place in a room: a role, or not a member (`none`). */
export type Standing = Role | 'none';

export interface NoticeText {
  text: string;
  uid: string;
  name: string;
  ts: number;
}

export interface GroupState extends RoomCounts {
  title?: string;
  notice?: NoticeText;
  private: boolean;
  muteAll: boolean;
  owner?: string;
  /** In the order they joined the room. */
  admins: string[];
  /** Mutes still running, by uid, with the member's name (the uid when they are no longer a member). */
  mutes: Array<{ uid: string; name: string; until: number }>;
  bans: Array<{ uid: string; name: string }>;
  /** Live invite links. */
  links: Array<{ key: string; expiresAt: number }>;
  /** The standing and name (members) of each uid asked about. */
  users: Record<string, { standing: Standing; name?: string }>;
}

export type GroupChange =
  /** Adds `user` as a member (a member's invitation). */
  | { op: 'invite'; user: string; name: string; maxMembers: number }
  /** Ends `user`'s membership (their connections leave the room's presence). */
  | { op: 'kick'; user: string }
  /** Bans `user`, ending their membership when they are a member. */
  | { op: 'ban'; user: string; name: string; maxBans: number }
  | { op: 'unban'; user: string }
  /** Mutes `user` until then (ms since the epoch); 0 lifts the mute. */
  | { op: 'mute'; user: string; until: number }
  | { op: 'role'; user: string; role: 'admin' | 'member'; maxAdmins: number }
  /** `user` becomes the owner; the owner (`from`) a plain member. */
  | { op: 'transfer'; from: string; user: string }
  | { op: 'profile'; title?: string; notice?: NoticeText | null; private?: boolean; muteAll?: boolean }
  | { op: 'link'; key: string; expiresAt: number; maxLinks: number }
  | { op: 'revoke'; key: string };

/** What a change found: done, or why not. */
export type ChangeOutcome =
  | 'done'
  /** An expected standing no longer holds: read again and decide again. */
  | 'stale'
  /** invite: the user is banned. */
  | 'banned'
  /** invite: ROOM_MAX_MEMBERS; role: ROOM_MAX_ADMINS; link: GROUP_LINKS_MAX; ban: as many bans as members may be. */
  | 'full';

export interface GroupCreation {
  title: string;
  private: boolean;
}

/** After a leave: who owns the room now, when the owner was the one who left and someone remains. */
export interface Succession {
  heir?: { uid: string; name: string };
}

export interface GroupStore {
  /**
   * A new room with `uid` as its owner and only member. 'taken' when the id exists; 'store-full'
   * when the embedded store is at ROOM_LIMIT.
   */
  createGroup(roomid: string, uid: string, name: string, group: GroupCreation): Promise<'created' | 'taken' | 'store-full'>;

  /** The room's group state, with the standing of each of `uids`; undefined when there is no such room. */
  group(roomid: string, uids: string[]): Promise<GroupState | undefined>;

  /**
   * Applies `change` atomically if every [uid, standing] of `expect` still holds; no change
   * otherwise ('stale'). A room that no longer exists is 'stale' too.
   */
  changeGroup(roomid: string, change: GroupChange, expect: Array<[uid: string, standing: Standing]>): Promise<ChangeOutcome>;

  /** A user's name as the server last saw it; undefined for a user it does not know. */
  userName(uid: string): Promise<string | undefined>;
}

/**
 * A room message the log refused to take from its sender (room-log.ts `append`): they are not a
 * member (a kick that raced the send), or muted. Nothing was stored or delivered.
 */
export class SendRefused extends Error {
  constructor(
    readonly reason: 'not-member' | 'muted' | 'mute-all',
    /** muted: until when, ms since the epoch. */
    readonly until?: number,
  ) {
    super(`send refused: ${reason}`);
    this.name = 'SendRefused';
  }
}
