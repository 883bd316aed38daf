import { ClientEvent, type GroupEvent, type GroupFrame, type LinkEvent } from '@chatroom/server/protocol';

/** A group request without its `id` (the client numbers requests). */
export type GroupRequestFrame = GroupFrame extends infer F ? (F extends unknown ? Omit<F, 'id'> : never) : never;

/** Sends a request and resolves with its reply, or rejects with RequestFailed (pending-requests.ts). */
export type Requester = <R>(frame: GroupRequestFrame) => Promise<R>;

/**
 * The group requests of docs/protocol.md#groups, one method each. Every one but `link` is answered
 * with the room's profile as the asker now sees it (the client also emits it as `group`).
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

  update(roomid: string, change: { title?: string; notice?: string; private?: boolean; muteAll?: boolean }): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Update, roomid, ...change });
  }

  invite(roomid: string, user: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Invite, roomid, user });
  }

  kick(roomid: string, user: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Kick, roomid, user });
  }

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

  admin(roomid: string, user: string, admin: boolean): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Admin, roomid, user, admin });
  }

  transfer(roomid: string, user: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Transfer, roomid, user });
  }

  link(roomid: string, seconds?: number): Promise<LinkEvent> {
    return this.request({ event: ClientEvent.Link, roomid, ...(seconds !== undefined ? { seconds } : {}) });
  }

  revoke(roomid: string, link: string): Promise<GroupEvent> {
    return this.request({ event: ClientEvent.Revoke, roomid, link });
  }
}
