/**
 * The ChatStore on Redis: every method is one Lua script per hash slot (room-scripts.ts,
 * user-scripts.ts), so several nodes share rooms, presence, history and inboxes as one service.
 * Semantics follow memory-store.ts; where a method touches a room and a user, the steps run in an
 * order where a crash in between leaves nothing a client would miss (see appendDirect).
 */

import { randomUUID } from 'node:crypto';
import type { MemberInfo, RoomSummary } from '../protocol.ts';
import { DIRECT_ROOM_PREFIX } from '../protocol.ts';
import { EnvelopeKind, roomTopic, userTopic } from '../core/bus.ts';
import type {
  AcceptedMessage,
  ChatStore,
  DirectResult,
  DisconnectResult,
  HistorySlice,
  JoinResult,
  LeaveResult,
  MessageDraft,
  RoomCounts,
  StoredMessage,
  StoreStats,
  UserConnectResult,
} from '../core/store.ts';
import type { ChatRedis } from './commands.ts';
import { encodeEnvelope } from './envelope-codec.ts';
import type { KeySpace, RoomKeys } from './keys.ts';
import { LocalPresence } from './local-presence.ts';
import type { SeqWatermarks } from './seq-watermarks.ts';

export interface RedisStoreLimits {
  historyPerRoom: number;
  roomTtlMs: number;
  inboxPerUser: number;
  idempotencyTtlMs: number;
}

/** A room's seq counter outlives its other keys by this factor, so an idle room's seqs never go back. */
export const SEQ_TTL_FACTOR = 10;
/** Client ids remembered per room to answer a resent append (the reply of the first was lost). */
const RECENT_IDS_PER_ROOM = 1000;

export class RedisStore implements ChatStore {
  readonly local = new LocalPresence();
  /** Set by redis-backends.ts: stops the heartbeat and closes the connections. */
  onClose: () => Promise<void> = async () => {};

  constructor(
    private readonly redis: ChatRedis,
    private readonly keys: KeySpace,
    readonly nodeId: string,
    private readonly limits: RedisStoreLimits,
    private readonly watermarks: SeqWatermarks,
  ) {}

  private get ttl(): number {
    return this.limits.roomTtlMs;
  }

  async join(roomid: string, uid: string, name: string, connId: string): Promise<JoinResult> {
    const room = this.keys.room(roomid);
    // Registered first: if this node dies after the join, the reaper finds the room.
    const firstHere = this.local.joined(connId, uid, name, roomid, this.watermarks.get(roomid));
    const registered = firstHere ? this.redis.sadd(this.keys.node(this.nodeId).rooms, roomid) : undefined;
    const userRooms = this.redis.sadd(this.keys.user(uid).rooms, roomid);
    const [num, total, cameOnline, newMember, lastSeq, cursor, epoch] = await this.redis.chatJoin(
      room.seq, room.members, room.cursors, room.online, uid, name, connId, this.nodeId, this.ttl, randomUUID(), this.ttl * SEQ_TTL_FACTOR,
    );
    await Promise.all([registered, userRooms]);
    this.local.connections.get(connId)?.rooms.set(roomid, Number(lastSeq));
    this.watermarks.note(roomid, Number(lastSeq));
    const result: JoinResult = { num: Number(num), total: Number(total), cameOnline: cameOnline === 1, newMember: newMember === 1, lastSeq: Number(lastSeq), epoch: String(epoch) };
    if (Number(cursor) >= 0) result.offlineCursor = Number(cursor);
    return result;
  }

  async disconnect(roomid: string, uid: string, connId: string, lastDeliveredSeq: number): Promise<DisconnectResult> {
    const room = this.keys.room(roomid);
    const [num, total, wentOffline] = await this.redis.chatDisconnect(room.members, room.cursors, room.online, uid, connId, lastDeliveredSeq);
    if (this.local.leftRoom(connId, roomid)) await this.redis.srem(this.keys.node(this.nodeId).rooms, roomid);
    return { num, total, wentOffline: wentOffline === 1 };
  }

  async leave(roomid: string, uid: string): Promise<LeaveResult> {
    const room = this.keys.room(roomid);
    const [, [num, total, wasMember]] = await Promise.all([
      this.redis.srem(this.keys.user(uid).rooms, roomid),
      this.redis.chatLeave(room.members, room.cursors, room.online, uid),
    ]);
    if (this.local.userLeftRoom(uid, roomid)) await this.redis.srem(this.keys.node(this.nodeId).rooms, roomid);
    return { num, total, wasMember: wasMember === 1 };
  }

  async counts(roomid: string): Promise<RoomCounts> {
    const room = this.keys.room(roomid);
    const [num, total] = await this.redis.chatCounts(room.members, room.online);
    return { num, total };
  }

  async members(roomid: string): Promise<MemberInfo[]> {
    const room = this.keys.room(roomid);
    const flat = await this.redis.chatMembers(room.members, room.online);
    const list: MemberInfo[] = [];
    for (let i = 0; i < flat.length; i += 3) list.push({ uid: String(flat[i]), name: String(flat[i + 1]), online: flat[i + 2] === 1 });
    if (roomid.startsWith(DIRECT_ROOM_PREFIX)) {
      // In a direct chat, online means connected at all, as in the memory store.
      await Promise.all(list.map(async (member) => (member.online = await this.isUserOnline(member.uid))));
    }
    return list;
  }

  private async isUserOnline(uid: string): Promise<boolean> {
    return (await this.redis.hlen(this.keys.user(uid).connections)) > 0;
  }

  async isMember(roomid: string, uid: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.room(roomid).members, uid)) === 1;
  }

  async append(draft: MessageDraft): Promise<StoredMessage> {
    const { message } = await this.appendTo(this.keys.room(draft.roomid), draft, roomTopic(draft.roomid), []);
    return message;
  }

  private async appendTo(room: RoomKeys, draft: MessageDraft, topic: string, extra: string[]): Promise<{ message: StoredMessage; duplicate: boolean }> {
    const [seq, stored, duplicate] = await this.redis.chatAppend(
      room.seq, room.history, room.recentIds, room.members, room.online,
      JSON.stringify(draft),
      `${draft.uid}\n${draft.id}`,
      this.limits.historyPerRoom,
      this.ttl,
      this.ttl * SEQ_TTL_FACTOR,
      this.watermarks.get(draft.roomid),
      topic === '' ? '' : this.keys.channel(topic),
      RECENT_IDS_PER_ROOM,
      draft.roomid,
      randomUUID(),
      ...extra,
    );
    const message: StoredMessage = stored === '' ? { ...draft, seq: Number(seq) } : (JSON.parse(String(stored)) as StoredMessage);
    this.watermarks.note(draft.roomid, message.seq);
    return { message, duplicate: duplicate === 1 };
  }

  async readAfter(roomid: string, afterSeq: number, limit: number, beforeSeq?: number): Promise<HistorySlice> {
    const room = this.keys.room(roomid);
    return this.slice(roomid, await this.redis.chatReadAfter(room.seq, room.history, afterSeq, limit, beforeSeq ?? -1));
  }

  async readBefore(roomid: string, beforeSeq: number | undefined, limit: number): Promise<HistorySlice> {
    const room = this.keys.room(roomid);
    return this.slice(roomid, await this.redis.chatReadBefore(room.seq, room.history, beforeSeq ?? -1, limit));
  }

  private slice(roomid: string, reply: (string | number)[]): HistorySlice {
    const lastSeq = Number(reply[0]);
    this.watermarks.note(roomid, lastSeq);
    return { lastSeq, gap: reply[1] === 1, messages: reply.slice(2).map((m) => JSON.parse(String(m)) as StoredMessage) };
  }

  async rooms(uid: string): Promise<RoomSummary[]> {
    const roomids = await this.redis.smembers(this.keys.user(uid).rooms);
    const summaries = await Promise.all(roomids.map((roomid) => this.summary(uid, roomid)));
    const gone = roomids.filter((_, i) => summaries[i] === undefined);
    if (gone.length > 0) await this.redis.srem(this.keys.user(uid).rooms, ...gone);
    return summaries.filter((s): s is RoomSummary => s !== undefined);
  }

  private async summary(uid: string, roomid: string): Promise<RoomSummary | undefined> {
    const room = this.keys.room(roomid);
    const direct = roomid.startsWith(DIRECT_ROOM_PREFIX);
    const reply = await this.redis.chatSummary(room.seq, room.history, room.members, room.online, direct ? '1' : '0');
    if (reply[0] !== 1) return undefined;
    const summary: RoomSummary = { roomid, num: Number(reply[1]), total: Number(reply[2]), lastSeq: Number(reply[3]) };
    if (reply[4] !== '') summary.last = JSON.parse(String(reply[4])) as StoredMessage;
    if (direct) {
      const members: [string, string][] = [];
      for (let i = 5; i < reply.length; i += 2) members.push([String(reply[i]), String(reply[i + 1])]);
      const online = await Promise.all(members.map(([memberUid]) => this.isUserOnline(memberUid)));
      summary.num = online.filter(Boolean).length;
      for (const [memberUid, name] of members) if (memberUid !== uid) summary.peer = { uid: memberUid, name };
    }
    return summary;
  }

  /**
   * History first (the pair's room), then the recipient's inbox when they have no connection: the
   * presence check and the queueing are one step on the recipient's slot, so a message is either
   * taken by their next first connection or finds them online. A crash between the two steps leaves
   * the message in the pair's history (read with `rooms`/`history`) and unacknowledged to the sender.
   */
  async appendDirect(draft: MessageDraft, to: string): Promise<DirectResult> {
    const sender = this.keys.user(draft.uid);
    const recipient = this.keys.user(to);
    const [recipientName] = await Promise.all([
      this.redis.hget(recipient.info, 'name'),
      this.redis.sadd(sender.rooms, draft.roomid),
      this.redis.sadd(recipient.rooms, draft.roomid),
      this.redis.hset(sender.info, 'name', draft.name),
    ]);
    const { message, duplicate } = await this.appendTo(this.keys.room(draft.roomid), draft, '', [draft.uid, draft.name, to, recipientName ?? to]);
    // A resend of an accepted message: it was queued or delivered the first time.
    if (duplicate) return { message, queued: true };
    const json = JSON.stringify(message);
    // The live copy goes out from the script that found the recipient online (to oneself: the
    // sender's own copy covers it).
    const topic = userTopic(to);
    const live = to === draft.uid ? [] : [this.keys.channel(topic), encodeEnvelope({ topic, kind: EnvelopeKind.Message, text: json, roomid: draft.roomid, seq: message.seq }, '')];
    const queued = await this.redis.chatQueueDirect(recipient.connections, recipient.inbox, recipient.info, json, this.limits.inboxPerUser, this.ttl, ...live);
    return { message, queued: queued === 1, published: live.length > 0 };
  }

  async queueDirect(to: string, message: StoredMessage): Promise<void> {
    const recipient = this.keys.user(to);
    await this.redis.chatQueueDirect(recipient.connections, recipient.inbox, recipient.info, JSON.stringify(message), this.limits.inboxPerUser, this.ttl);
  }

  async connectUser(uid: string, name: string, connId: string): Promise<UserConnectResult> {
    const user = this.keys.user(uid);
    const firstHere = this.local.userConnected(connId, uid, name);
    const registered = firstHere ? this.redis.sadd(this.keys.node(this.nodeId).users, uid) : undefined;
    const reply = await this.redis.chatConnectUser(
      user.connections, user.inbox, user.info, this.keys.takenInbox(uid, connId), connId, this.nodeId, name, this.ttl,
    );
    await registered;
    return {
      firstConnection: reply[0] === 1,
      inboxGap: reply[1] === 1,
      inbox: reply.slice(2).map((m) => JSON.parse(String(m)) as StoredMessage),
    };
  }

  async disconnectUser(uid: string, connId: string): Promise<{ lastConnection: boolean }> {
    const last = await this.redis.chatDisconnectUser(this.keys.user(uid).connections, connId);
    if (this.local.userDisconnected(connId)) await this.redis.srem(this.keys.node(this.nodeId).users, uid);
    return { lastConnection: last === 1 };
  }

  async acceptedId(uid: string, clientId: string): Promise<AcceptedMessage | undefined> {
    const value = await this.redis.get(this.keys.acceptedId(uid, clientId));
    return value === null ? undefined : (JSON.parse(value) as AcceptedMessage);
  }

  async rememberId(uid: string, clientId: string, accepted: AcceptedMessage): Promise<void> {
    await this.redis.set(this.keys.acceptedId(uid, clientId), JSON.stringify(accepted), 'PX', this.limits.idempotencyTtlMs);
  }

  /**
   * Sizes for /metrics, as seen from this node: the rooms it holds presence in and their history,
   * the users connected to it. Redis-wide figures would need a keyspace scan per scrape; take
   * those from Redis itself (INFO, redis_exporter).
   */
  async stats(): Promise<StoreStats> {
    const rooms = [...this.local.rooms];
    const lengths = await Promise.all(rooms.map((roomid) => this.redis.xlen(this.keys.room(roomid).history)));
    return {
      rooms: rooms.length,
      users: [...this.local.users].length,
      historyMessages: lengths.reduce((sum, n) => sum + n, 0),
      inboxMessages: 0,
      idempotencyKeys: 0,
    };
  }

  /** Drops presence of this node's connections without the core (their cursors: the seq they joined at). */
  async dropConnections(connIds: string[]): Promise<void> {
    for (const connId of connIds) {
      const conn = this.local.connections.get(connId);
      if (!conn) continue;
      for (const [roomid, seq] of [...conn.rooms]) await this.disconnect(roomid, conn.uid, connId, seq);
      if (conn.userConnected) await this.disconnectUser(conn.uid, connId);
    }
  }

  /** Puts this node's live presence back after Redis lost it. No notices: nobody saw it go. */
  async restorePresence(): Promise<number> {
    const node = this.keys.node(this.nodeId);
    const rooms = [...this.local.rooms];
    const users = [...this.local.users];
    const writes: Promise<unknown>[] = [];
    if (rooms.length > 0) writes.push(this.redis.sadd(node.rooms, ...rooms));
    if (users.length > 0) writes.push(this.redis.sadd(node.users, ...users));
    for (const [connId, conn] of this.local.connections) {
      const user = this.keys.user(conn.uid);
      if (conn.userConnected) writes.push(this.redis.chatRestoreConnection(user.connections, user.info, connId, this.nodeId, conn.name, this.ttl));
      for (const [roomid, seq] of conn.rooms) {
        const room = this.keys.room(roomid);
        writes.push(this.redis.chatRestorePresence(room.members, room.online, conn.uid, conn.name, connId, this.nodeId, seq, this.ttl));
      }
    }
    await Promise.all(writes);
    return this.local.connections.size;
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
