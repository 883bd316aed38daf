/**
 * What the bus carries messages for: a room's members, or one user's connections (direct
 * messages, and control that follows a user across their devices). A topic is a value, not a
 * string to cut apart; `topicKey` names it where a string is needed (maps, Redis channels).
 */

export interface RoomTopic {
  readonly kind: 'room';
  readonly roomid: string;
}

export interface UserTopic {
  readonly kind: 'user';
  readonly uid: string;
}

export type Topic = RoomTopic | UserTopic;

export const roomTopic = (roomid: string): RoomTopic => ({ kind: 'room', roomid });
export const userTopic = (uid: string): UserTopic => ({ kind: 'user', uid });

const ROOM_KEY = 'room:';
const USER_KEY = 'user:';

export function topicKey(topic: Topic): string {
  return topic.kind === 'room' ? ROOM_KEY + topic.roomid : USER_KEY + topic.uid;
}

/** The topic a key from topicKey names, or undefined for anything else. */
export function parseTopicKey(key: string): Topic | undefined {
  if (key.startsWith(ROOM_KEY)) return roomTopic(key.slice(ROOM_KEY.length));
  if (key.startsWith(USER_KEY)) return userTopic(key.slice(USER_KEY.length));
  return undefined;
}
