import { ClientEvent, type GroupEvent, type GroupFrame, type LinkEvent } from '@chatroom/server/protocol';

/** A group request without its `id` (the client numbers requests). */
export type GroupRequestFrame = GroupFrame extends infer F ? (F extends unknown ? Omit<F, 'id'> : never) : never;

/** Sends a request and resolves with its reply, or rejects with RequestFailed (pending-requests.ts). */
export type Requester = <R>(frame: GroupRequestFrame) => Promise<R>;

/**
 * The group requests of docs/protocol.md#groups, one method each. Every one but `link` is answered
 * with the room's profile as the asker now sees it (the client also emits it as `group`). A refusal
 * rejects with RequestFailed (its `code`; error-text.ts describeError says it in Chinese). Joining
 * with an invite link (`ChatClient.joinWithLink`) and leaving (`ChatClient.leaveRoom`) are the
 * client's own, since they change what it joins.
 */
export class GroupActions {
  constructor(private readonly request: Requester) {}

  /** A new room owned by the user; the client joins it when the reply comes. */
  create(title: string, isPrivate: boolean): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Create, title, private: isPrivate });
  }

  /** The profile; with `link`, a non-member's preview of the room the link opens. */
  profile(roomid: string, link?: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Group, roomid, ...(link ? { link } : {}) });
  }

  /** Owner and admins: change the profile (at least one field); each change is announced to the room. */
  update(roomid: string, change: { title?: string; notice?: string; private?: boolean; muteAll?: boolean }): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Update, roomid, ...change });
  }

  /** The display name (群名称, 1–30 characters). */
  setTitle(roomid: string, title: string): Promise<GroupEvent> {
    return this.update(roomid, { title });
  }

  /** The notice (群公告), announced with @所有人; empty clears it. */
  setNotice(roomid: string, notice: string): Promise<GroupEvent> {
    return this.update(roomid, { notice });
  }

  /** Private: only invitations and invite links let anyone in. */
  setPrivate(roomid: string, on: boolean): Promise<GroupEvent> {
    return this.update(roomid, { private: on });
  }

  /** 全员禁言 on or off: only the owner and admins may speak while it is on. */
  muteAll(roomid: string, on: boolean): Promise<GroupEvent> {
    return this.update(roomid, { muteAll: on });
  }

  /** Any member adds a user by uid; every connection of that user gets `invited` and joins. */
  invite(roomid: string, user: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Invite, roomid, user });
  }

  kick(roomid: string, user: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Kick, roomid, user });
  }

  /** Removes (if a member) and bans: no way back in until `unban`. */
  ban(roomid: string, user: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Ban, roomid, user });
  }

  unban(roomid: string, user: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Unban, roomid, user });
  }

  /** Mutes for `seconds`; 0 lifts the mute. */
  mute(roomid: string, user: string, seconds: number): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Mute, roomid, user, seconds });
  }

  unmute(roomid: string, user: string): Promise<GroupEvent> {
    return this.mute(roomid, user, 0);
  }

  /** The owner names (`true`) or removes (`false`) an admin. */
  admin(roomid: string, user: string, admin: boolean): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Admin, roomid, user, admin });
  }

  /** The owner hands the room over to a member (and becomes a plain member). */
  transfer(roomid: string, user: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Transfer, roomid, user });
  }

  /** A new invite link (its key; inviteUrl() in group-view.ts makes the shared URL / QR content of it). */
  link(roomid: string, seconds?: number): Promise<LinkEvent> {
    return this.request({ event: ClientEvent.Link, roomid, ...(seconds !== undefined ? { seconds } : {}) });
  }

  revoke(roomid: string, link: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Revoke, roomid, link });
  }
}
