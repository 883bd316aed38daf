import { invitePath } from '../lib/group-view';
import { UniStorage } from '../lib/uni-storage';

/**
 * An invite link opened before anyone signed in on this phone (a QR code scanned by a new user):
 * held until the conversation list first shows, which then opens its join page.
 */
const KEY = 'chat.invite';
const storage = new UniStorage();

export interface HeldInvite {
  roomid: string;
  link: string;
}

export function holdInvite(invite: HeldInvite): void {
  storage.set(KEY, invite);
}

/** The held invite's join page URL, once (it is forgotten here), or undefined. */
export function takeHeldInvite(): string | undefined {
  const invite = storage.get<HeldInvite>(KEY);
  if (!invite) return undefined;
  storage.remove(KEY);
  return joinPageUrl(invite);
}

export function joinPageUrl(invite: HeldInvite): string {
  return `/${invitePath(invite.roomid, invite.link)}`;
}
