/**
 * Who may do what in a room, beyond being a member: the hook the groups work (roles: owner, admins)
 * extends. Until rooms have roles, the room's creator stands in for its owner.
 */

import type { ChatStore } from './store.ts';

/** Whose messages a user may recall: their own, within RECALL_WINDOW_MS; or anyone's, at any age. */
export type RecallScope = 'own' | 'any';

export interface RoomPolicy {
  /** What `uid` may recall in `roomid` (a room or a direct chat). */
  recallScope(store: ChatStore, uid: string, roomid: string): Promise<RecallScope>;
  /** Whether `uid` may mention everyone (@所有人) in `roomid`. */
  mayMentionAll(store: ChatStore, uid: string, roomid: string): Promise<boolean>;
}

/**
 * The default before roles: everyone recalls only their own messages; the room's creator may
 * mention everyone. The groups work replaces both with the owner's (and admins') rights.
 */
export const creatorPolicy: RoomPolicy = {
  recallScope: async () => 'own',
  mayMentionAll: async (store, uid, roomid) => (await store.creator(roomid)) === uid,
};
