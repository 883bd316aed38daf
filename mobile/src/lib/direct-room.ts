import { DIRECT_ROOM_PREFIX, directRoomId } from '@chatroom/server/protocol';

export { directRoomId };

export function isDirectRoom(roomid: string): boolean {
  return roomid.startsWith(DIRECT_ROOM_PREFIX);
}

/** The other member of a direct chat `dm:<a>|<b>`. */
export function directPeer(roomid: string, selfUid: string): string | undefined {
  if (!isDirectRoom(roomid)) return undefined;
  const [a, b] = roomid.slice(DIRECT_ROOM_PREFIX.length).split('|');
  return a === selfUid ? b : b === selfUid ? a : undefined;
}
