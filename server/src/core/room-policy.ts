/**
 * Who may do what with messages in a room, beyond being a member: recall anyone's message and
 * mention everyone (@所有人). Both follow the room's roles (docs/protocol.md#groups): the owner and
 * the admins may; a direct chat has no roles, so there each user recalls only their own.
 */

import { isDirectRoomId } from '../protocol.ts';
import { standingIn } from './group-profile.ts';
import { RANK } from './roles.ts';
import type { ChatStore } from './store.ts';

/** Whose messages a user may recall: their own, within RECALL_WINDOW_MS; or anyone's, at any age. */
export type RecallScope = 'own' | 'any';

export interface RoomPolicy {
  /** What `uid` may recall in `roomid` (a room or a direct chat). */
  recallScope(store: ChatStore, uid: string, roomid: string): Promise<RecallScope>;
  /** Whether `uid` may mention everyone (@所有人) in `roomid`. */
  mayMentionAll(store: ChatStore, uid: string, roomid: string): Promise<boolean>;
}

async function isOwnerOrAdmin(store: ChatStore, uid: string, roomid: string): Promise<boolean> {
  if (isDirectRoomId(roomid)) return false;
  return RANK[await standingIn(store, roomid, uid)] >= RANK.admin;
}

/** The owner and admins of a room recall any message and mention everyone; members neither. */
export const rolePolicy: RoomPolicy = {
  recallScope: async (store, uid, roomid) => ((await isOwnerOrAdmin(store, uid, roomid)) ? 'any' : 'own'),
  mayMentionAll: isOwnerOrAdmin,
};
