/** The serialised frames that are made once and sent to many: chat messages and presence notices. */

import type { PresenceEvent, ServerEvent } from '../protocol.ts';
import type { RoomCounts } from './envelope.ts';
import type { StoredMessage } from './room-log.ts';

/** A room message as every member receives it live: the stored message with the room's counts. */
export function messageWire(message: StoredMessage, counts: RoomCounts): string {
  const json = JSON.stringify(message);
  return `${json.slice(0, -1)},"num":${counts.num},"total":${counts.total}}`;
}

/** A `login` or `logout` notice. */
export function presenceWire(
  event: ServerEvent.Login | ServerEvent.Logout,
  who: { uid: string; name: string },
  roomid: string,
  counts: RoomCounts,
  reason?: PresenceEvent['reason'],
): string {
  const frame: PresenceEvent = { event, name: who.name, uid: who.uid, roomid, num: counts.num, total: counts.total };
  if (reason) frame.reason = reason;
  return JSON.stringify(frame);
}
