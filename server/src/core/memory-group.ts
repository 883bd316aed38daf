/**
 * One room's group state in the embedded store: profile, roles, mutes, bans and invite links. The
 * room's members (a Map in join order) stay the store's; this class is told of them. The Redis
 * scripts (redis/group-scripts.ts) do the same steps in Lua; redis-store-parity.test.ts holds the
 * two to the same answers.
 */

import type { ChangeOutcome, GroupChange, GroupState, NoticeText, Standing } from './group-store.ts';
import { SendRefused } from './group-store.ts';

/** The store's members of the room, in the order they joined. */
export type Members = ReadonlyMap<string, { name: string }>;

/** Why a join of a new member is refused. */
export type Admission = 'hidden' | 'banned' | 'full' | 'bad-link';

export interface GroupSnapshot {
  title?: string;
  notice?: NoticeText;
  private?: boolean;
  muteAll?: boolean;
  roles: Array<[uid: string, role: 'owner' | 'admin']>;
  mutes: Array<[uid: string, until: number]>;
  bans: Array<[uid: string, name: string]>;
  links: Array<[key: string, expiresAt: number]>;
}

const byUid = (a: { uid: string }, b: { uid: string }): number => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);

export class RoomGroup {
  title: string | undefined;
  notice: NoticeText | undefined;
  private = false;
  muteAll = false;
  readonly roles = new Map<string, 'owner' | 'admin'>();
  readonly mutes = new Map<string, number>();
  readonly bans = new Map<string, string>();
  readonly links = new Map<string, number>();

  standing(uid: string, members: Members): Standing {
    if (!members.has(uid)) return 'none';
    return this.roles.get(uid) ?? 'member';
  }

  get owner(): string | undefined {
    for (const [uid, role] of this.roles) if (role === 'owner') return uid;
    return undefined;
  }

  /** Whether `uid`, not a member, may come in by a join (with an invite link's key, when given). */
  admit(uid: string, members: Members, link: string | undefined, maxMembers: number, now: number): { refusal?: Admission; viaLink: boolean } {
    const linked = link !== undefined && (this.links.get(link) ?? 0) > now;
    if (link !== undefined && !linked) return { refusal: 'bad-link', viaLink: false };
    if (this.private && !linked) return { refusal: 'hidden', viaLink: false };
    if (this.bans.has(uid)) return { refusal: 'banned', viaLink: false };
    if (members.size >= maxMembers) return { refusal: 'full', viaLink: false };
    return { viaLink: linked };
  }

  /** A member joined: a room without an owner (new, emptied, or from before roles) gets them. */
  joined(uid: string): void {
    if (this.owner === undefined) this.roles.set(uid, 'owner');
  }

  /**
   * A member is gone (left, removed, banned; `members` no longer has them): their role goes with
   * them, and the owner's passes to the admin who joined first, else the member who did. Returns the heir.
   */
  left(uid: string, members: Members): string | undefined {
    const role = this.roles.get(uid);
    this.roles.delete(uid);
    if (role !== 'owner') return undefined;
    let heir: string | undefined;
    for (const member of members.keys()) {
      if (this.roles.get(member) === 'admin') {
        heir = member;
        break;
      }
      heir ??= member;
    }
    if (heir !== undefined) {
      this.roles.set(heir, 'owner');
      this.mutes.delete(heir);
    }
    return heir;
  }

  /** Why `uid` may not send now (a room message), or undefined. 全员禁言 spares the owner and admins. */
  silenced(uid: string, now: number): SendRefused | undefined {
    const until = this.mutes.get(uid);
    if (until !== undefined && until > now) return new SendRefused('muted', until);
    return this.muteAll && !this.roles.has(uid) ? new SendRefused('mute-all') : undefined;
  }

  /** The group-state part of a change (the store adds or removes the member). */
  apply(change: GroupChange, members: Members, now: number): ChangeOutcome {
    switch (change.op) {
      case 'invite':
        if (this.bans.has(change.user)) return 'banned';
        return members.size >= change.maxMembers ? 'full' : 'done';
      case 'kick':
        return 'done';
      case 'ban':
        if (!this.bans.has(change.user) && this.bans.size >= change.maxBans) return 'full';
        this.bans.set(change.user, change.name);
        return 'done';
      case 'unban':
        this.bans.delete(change.user);
        return 'done';
      case 'mute':
        if (change.until > 0) this.mutes.set(change.user, change.until);
        else this.mutes.delete(change.user);
        return 'done';
      case 'role':
        if (change.role === 'member') this.roles.delete(change.user);
        else if (this.roles.get(change.user) !== 'admin') {
          if (this.admins(members).length >= change.maxAdmins) return 'full';
          this.roles.set(change.user, 'admin');
        }
        return 'done';
      case 'transfer':
        this.roles.delete(change.from);
        this.roles.set(change.user, 'owner');
        this.mutes.delete(change.user);
        return 'done';
      case 'profile':
        if (change.title !== undefined) this.title = change.title;
        if (change.notice !== undefined) this.notice = change.notice ?? undefined;
        if (change.private !== undefined) this.private = change.private;
        if (change.muteAll !== undefined) this.muteAll = change.muteAll;
        return 'done';
      case 'link':
        for (const [key, expiresAt] of this.links) if (expiresAt <= now) this.links.delete(key);
        if (this.links.size >= change.maxLinks) return 'full';
        this.links.set(change.key, change.expiresAt);
        return 'done';
      case 'revoke':
        this.links.delete(change.key);
        return 'done';
    }
  }

  /** Admins in join order. */
  private admins(members: Members): string[] {
    return [...members.keys()].filter((uid) => this.roles.get(uid) === 'admin');
  }

  view(members: Members, counts: { num: number; total: number }, uids: string[], now: number): GroupState {
    const users: GroupState['users'] = {};
    for (const uid of uids) users[uid] = { standing: this.standing(uid, members), ...(members.has(uid) ? { name: members.get(uid)!.name } : {}) };
    const state: GroupState = {
      ...counts,
      private: this.private,
      muteAll: this.muteAll,
      admins: this.admins(members),
      mutes: [...this.mutes].filter(([, until]) => until > now).map(([uid, until]) => ({ uid, name: members.get(uid)?.name ?? uid, until })).sort(byUid),
      bans: [...this.bans].map(([uid, name]) => ({ uid, name })).sort(byUid),
      links: [...this.links].filter(([, expiresAt]) => expiresAt > now).map(([key, expiresAt]) => ({ key, expiresAt })).sort((a, b) => a.expiresAt - b.expiresAt || (a.key < b.key ? -1 : 1)),
      users,
    };
    if (this.title !== undefined) state.title = this.title;
    if (this.notice !== undefined) state.notice = this.notice;
    const owner = this.owner;
    if (owner !== undefined) state.owner = owner;
    return state;
  }

  toSnapshot(): GroupSnapshot {
    const saved: GroupSnapshot = { roles: [...this.roles], mutes: [...this.mutes], bans: [...this.bans], links: [...this.links] };
    if (this.title !== undefined) saved.title = this.title;
    if (this.notice !== undefined) saved.notice = this.notice;
    if (this.private) saved.private = true;
    if (this.muteAll) saved.muteAll = true;
    return saved;
  }

  static fromSnapshot(saved: GroupSnapshot): RoomGroup {
    const group = new RoomGroup();
    group.title = saved.title;
    group.notice = saved.notice;
    group.private = saved.private === true;
    group.muteAll = saved.muteAll === true;
    for (const [uid, role] of saved.roles) group.roles.set(uid, role);
    for (const [uid, until] of saved.mutes) group.mutes.set(uid, until);
    for (const [uid, name] of saved.bans) group.bans.set(uid, name);
    for (const [key, expiresAt] of saved.links) group.links.set(key, expiresAt);
    return group;
  }
}
