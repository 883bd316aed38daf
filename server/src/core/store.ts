/**
 * The store: everything that must outlive a connection. Rooms, membership (`total`), presence
 * (`num`), per-room history and seq counters, offline cursors, direct-message inboxes and
 * idempotency keys. The embedded implementation is memory-store.ts (lru-cache); a Redis one shares
 * this interface so several nodes act as one.
 *
 * Every method is one atomic step from the caller's view (one Lua script in Redis), so concurrent
 * nodes never see half an update.
 */

import type { ChatMessage, MemberInfo, RoomSummary } from '../protocol.ts';

/** A message as stored: the wire frame without per-delivery fields. */
export type StoredMessage = Omit<ChatMessage, 'num' | 'total' | 'replay'>;

export type MessageDraft = Omit<StoredMessage, 'seq'>;

export interface RoomCounts {
  /** Distinct members online in the room now. */
  num: number;
  /** Members of the room in all. */
  total: number;
}

export interface JoinResult extends RoomCounts {
  /** The user had no connection in this room before: tell the room they came online. */
  cameOnline: boolean;
  /** The user was not a member before. */
  newMember: boolean;
  lastSeq: number;
  /** When the user came back online: the last seq delivered to them before they went offline. */
  offlineCursor?: number;
  /** Changes when the store lost its state (seqs start over); clients send it back with `since`. */
  epoch?: string;
}

export interface DisconnectResult extends RoomCounts {
  /** That was the user's last connection in this room: tell the room they went offline. */
  wentOffline: boolean;
}

export interface LeaveResult extends RoomCounts {
  wasMember: boolean;
}

export interface HistorySlice {
  /** Oldest first. */
  messages: StoredMessage[];
  /** Something asked for is no longer kept (evicted or trimmed). */
  gap: boolean;
  lastSeq: number;
}

export interface AcceptedMessage {
  roomid: string;
  seq: number;
  ts: number;
}

export interface DirectResult {
  message: StoredMessage;
  /** The recipient had no open connection: the message waits in their inbox. */
  queued: boolean;
  /**
   * The store sends the live copy to the recipient's connections itself, in the same atomic step
   * as the `queued` check (Redis): the caller must not publish it again.
   */
  published?: boolean;
}

export interface UserConnectResult {
  firstConnection: boolean;
  /** Direct messages that arrived while the user had no open connection, oldest first. */
  inbox: StoredMessage[];
  /** The inbox overflowed and lost its oldest messages. */
  inboxGap: boolean;
}

export interface StoreStats {
  rooms: number;
  users: number;
  historyMessages: number;
  inboxMessages: number;
  idempotencyKeys: number;
}

export interface ChatStore {
  /**
   * Adds the user to the room (membership survives disconnects) and counts `connId` as online there.
   * When this makes the user online in the room, takes (and clears) their offline cursor.
   */
  join(roomid: string, uid: string, name: string, connId: string): Promise<JoinResult>;

  /** The connection left the room's presence (closed, terminated). Membership stays. */
  disconnect(roomid: string, uid: string, connId: string, lastDeliveredSeq: number): Promise<DisconnectResult>;

  /** Ends the user's membership: every connection of theirs leaves the room's presence. */
  leave(roomid: string, uid: string): Promise<LeaveResult>;

  counts(roomid: string): Promise<RoomCounts>;
  members(roomid: string): Promise<MemberInfo[]>;
  isMember(roomid: string, uid: string): Promise<boolean>;

  /** Assigns the next seq of the room and keeps the message in its history. */
  append(draft: MessageDraft): Promise<StoredMessage>;

  /**
   * The next page forward: the oldest `limit` messages with afterSeq < seq (< beforeSeq when given),
   * oldest first. `gap` when some of that range is no longer kept.
   */
  readAfter(roomid: string, afterSeq: number, limit: number, beforeSeq?: number): Promise<HistorySlice>;
  /** Messages with seq < beforeSeq (or the newest), at most `limit`, oldest first. */
  readBefore(roomid: string, beforeSeq: number | undefined, limit: number): Promise<HistorySlice>;

  /** The user's rooms and direct chats with counts and last message. */
  rooms(uid: string): Promise<RoomSummary[]>;

  /**
   * Stores a direct message in the pair's history and, atomically with the recipient's presence
   * check, in the recipient's inbox when they have no open connection.
   */
  appendDirect(draft: MessageDraft, to: string): Promise<DirectResult>;

  /**
   * A live direct message reached only connections that had closed meanwhile: queue it for `to`
   * unless they have an open connection somewhere (that one got it live). Queued once per message.
   */
  queueDirect(to: string, message: StoredMessage): Promise<void>;

  /** The user's connection opened. When it is their first, takes (and clears) their inbox. */
  connectUser(uid: string, name: string, connId: string): Promise<UserConnectResult>;
  disconnectUser(uid: string, connId: string): Promise<{ lastConnection: boolean }>;

  /** The ack a client message id got before, if any (idempotent resend). */
  acceptedId(uid: string, clientId: string): Promise<AcceptedMessage | undefined>;
  rememberId(uid: string, clientId: string, accepted: AcceptedMessage): Promise<void>;

  /** Sizes for /metrics. */
  stats?(): Promise<StoreStats>;

  /** A node's connections are gone (shutdown, or the node died): drop their presence. */
  dropConnections?(connIds: string[]): Promise<void>;

  close(): Promise<void>;
}
