/**
 * The store: who is in which room, who is online where, and what waits for whom. Rooms'
 * membership (`total`) and presence (`num`), offline cursors, users' rooms and direct-message
 * inboxes. Messages themselves are the room log's (room-log.ts). The embedded implementation is
 * memory-store.ts; the Redis one shares this interface so several nodes act as one.
 *
 * Every method is one atomic step from the caller's view (one Lua script per hash slot in Redis),
 * so concurrent nodes never see half an update.
 */

import type { MemberInfo, RoomSummary } from '../protocol.ts';
import type { RoomCounts } from './envelope.ts';
import type { GroupStore, Succession } from './group-store.ts';
import type { StoredMessage } from './room-log.ts';

export type { RoomCounts };

export interface JoinOptions {
  /** The room may be created by this join; when false, a join of a room that does not exist is refused. */
  mayCreate: boolean;
  /** An invite link's key: lets a non-member into a private room (a join with an invalid one is refused). */
  link?: string;
  /** ROOM_MAX_MEMBERS: a new member past it is refused ('full'). */
  maxMembers?: number;
}

export interface JoinResult extends RoomCounts {
  /** The user had no connection in this room before: tell the room they came online. */
  cameOnline: boolean;
  /** The user was not a member before. */
  newMember: boolean;
  /** The room did not exist before this join. */
  created: boolean;
  lastSeq: number;
  /** When the user came back online: the last seq delivered to them before they went offline. */
  offlineCursor?: number;
  /** Changes when the room's seq counter was lost (seqs start over); clients send it back with `since`. */
  epoch: string;
  /** A new member came in by an invite link. */
  viaLink?: boolean;
}

/** A store at a configured capacity (ROOM_LIMIT, USER_LIMIT) refuses to create more; nothing was changed. */
export class StoreFullError extends Error {
  constructor(readonly limit: 'ROOM_LIMIT' | 'USER_LIMIT') {
    super(`the store holds as many ${limit === 'ROOM_LIMIT' ? 'rooms' : 'users'} as it may (${limit})`);
    this.name = 'StoreFullError';
  }
}

/**
 * Why a join was not done. A new member of a group may also be refused: 'hidden' (a private room
 * without a valid link: the same answer as no room), 'banned', 'full' (maxMembers), 'bad-link'.
 */
export type JoinRefusal = 'no-such-room' | 'store-full' | 'hidden' | 'banned' | 'full' | 'bad-link';

export interface DisconnectResult extends RoomCounts {
  /** That was the user's last connection in this room: tell the room they went offline. */
  wentOffline: boolean;
}

export interface LeaveResult extends RoomCounts, Succession {
  wasMember: boolean;
}

export interface UserConnectResult {
  firstConnection: boolean;
  /** Direct messages that arrived while the user had no open connection, oldest first. */
  inbox: StoredMessage[];
  /** The inbox overflowed (or was evicted) and lost messages. */
  inboxGap: boolean;
}

export interface StoreStats {
  rooms: number;
  users: number;
  historyMessages: number;
  inboxMessages: number;
  /** Bytes of history and inboxes held (embedded store: against STORE_MAX_BYTES). */
  bytes?: number;
}

export interface ChatStore extends GroupStore {
  /**
   * Adds the user to the room (membership survives disconnects) and counts `connId` as online there.
   * When this makes the user online in the room, takes (and clears) their offline cursor.
   */
  join(roomid: string, uid: string, name: string, connId: string, options: JoinOptions): Promise<JoinResult | JoinRefusal>;

  /** The connection left the room's presence (closed, terminated). Membership stays. */
  disconnect(roomid: string, uid: string, connId: string, lastDeliveredSeq: number): Promise<DisconnectResult>;

  /** Ends the user's membership: every connection of theirs leaves the room's presence. */
  leave(roomid: string, uid: string): Promise<LeaveResult>;

  counts(roomid: string): Promise<RoomCounts>;
  members(roomid: string): Promise<MemberInfo[]>;
  isMember(roomid: string, uid: string): Promise<boolean>;

  /** The user's rooms and direct chats with counts and last message. */
  rooms(uid: string): Promise<RoomSummary[]>;

  /**
   * A live direct message reached only connections that had closed meanwhile: queue it for `to`
   * unless they have an open connection somewhere (that one got it live). Queued once per message.
   */
  queueDirect(to: string, message: StoredMessage): Promise<void>;

  /** The user's connection opened. When it is their first, takes (and clears) their inbox. */
  connectUser(uid: string, name: string, connId: string): Promise<UserConnectResult>;
  disconnectUser(uid: string, connId: string): Promise<{ lastConnection: boolean }>;

  /** Sizes for /metrics. */
  stats?(): Promise<StoreStats>;

  /** A node's connections are gone (shutdown, or the node died): drop their presence. */
  dropConnections?(connIds: string[]): Promise<void>;

  close(): Promise<void>;
}
