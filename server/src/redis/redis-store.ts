/**
 * The ChatStore on Redis: every method is one Lua script per hash slot (room-scripts.ts,
 * user-scripts.ts), so several nodes share rooms, presence, history and inboxes as one service.
 * Semantics follow memory-store.ts; where a method touches a room and a user, the steps run in an
 * order where a crash in between leaves nothing a client would miss (see appendDirect).
 */

import { randomUUID } from 'node:crypto';
import type { MemberInfo, RoomSummary } from '../protocol.ts';
import { DIRECT_ROOM_PREFIX, directRoomMembers, previewOf } from '../protocol.ts';
import type { StoredMessage } from '../core/room-log.ts';
import type {
  ChatStore,
  DisconnectResult,
  JoinOptions,
  JoinRefusal,
  JoinResult,
  LeaveResult,
  MarkedRead,
  MemberRead,
  RoomCounts,
  StoreStats,
  UserConnectResult,
} from '../core/store.ts';
import type { ChatRedis } from './commands.ts';
import type { KeySpace } from './keys.ts';
import { SEQ_TTL_FACTOR } from './redis-room-log.ts';
import { LocalPresence } from './local-presence.ts';
import type { SeqWatermarks } from './seq-watermarks.ts';

export interface RedisStoreLimits {
  roomTtlMs: number;
  inboxPerUser: number;
}


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

  async join(roomid: string, uid: string, name: string, connId: string, options: JoinOptions): Promise<JoinResult | JoinRefusal> {
    const room = this.keys.room(roomid);
    // Registered first: if this node dies after the join, the reaper finds the room.
    const firstHere = this.local.joined(connId, uid, name, roomid, this.watermarks.get(roomid));
    const registered = firstHere ? this.redis.sadd(this.keys.node(this.nodeId).rooms, roomid) : undefined;
    const userRooms = this.redis.sadd(this.keys.user(uid).rooms, roomid);
    const reply = await this.redis.chatJoin(
      room.seq, room.members, room.cursors, room.online, uid, name, connId, this.nodeId, this.ttl, randomUUID(), this.ttl * SEQ_TTL_FACTOR, options.mayCreate ? '1' : '0',
    );
    await Promise.all([registered, userRooms]);
    if (reply[0] === -1) {
      await this.undoJoinBookkeeping(roomid, uid, connId);
      return 'no-such-room';
    }
    const [num, total, cameOnline, newMember, lastSeq, cursor, epoch, created] = reply;
    this.local.connections.get(connId)?.rooms.set(roomid, Number(lastSeq));
    this.watermarks.note(roomid, Number(lastSeq));
    // Read state: a second step on the room's slot (see message-scripts.ts JOIN_READ_STATE).
    const [read, mention] = await this.redis.chatJoinReadState(room.seq, room.reads, room.mentions, uid, Number(lastSeq), newMember === 1 ? '1' : '0', created === 1 ? '1' : '0', this.ttl);
    const result: JoinResult = {
      num: Number(num),
      total: Number(total),
      cameOnline: cameOnline === 1,
      newMember: newMember === 1,
      created: created === 1,
      lastSeq: Number(lastSeq),
      epoch: String(epoch),
      read,
    };
    if (Number(cursor) >= 0) result.offlineCursor = Number(cursor);
    if (mention >= 0) result.mention = mention;
    return result;
  }

  /** A refused join leaves no trace in the user's rooms or this node's presence sets. */
  private async undoJoinBookkeeping(roomid: string, uid: string, connId: string): Promise<void> {
    await this.redis.srem(this.keys.user(uid).rooms, roomid);
    if (this.local.leftRoom(connId, roomid)) await this.redis.srem(this.keys.node(this.nodeId).rooms, roomid);
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
      // Read state ends with the membership, as in the embedded store.
      this.redis.hdel(room.reads, uid),
      this.redis.hdel(room.mentions, uid),
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
    const peer = directRoomMembers(roomid)?.find((member) => member !== uid) ?? uid;
    const [reply, [read, mention, peerRead]] = await Promise.all([
      this.redis.chatSummary(room.seq, room.history, room.members, room.online, direct ? '1' : '0'),
      this.redis.chatReadState(room.reads, room.mentions, uid, direct ? peer : ''),
    ]);
    if (reply[0] !== 1) return undefined;
    const lastSeq = Number(reply[3]);
    const summary: RoomSummary = { roomid, num: Number(reply[1]), total: Number(reply[2]), lastSeq, read, unread: Math.max(0, lastSeq - read) };
    if (mention >= 0) summary.mention = mention;
    if (reply[4] !== '') summary.last = previewOf(JSON.parse(String(reply[4])) as StoredMessage);
    if (direct) {
      const members: [string, string][] = [];
      for (let i = 5; i < reply.length; i += 2) members.push([String(reply[i]), String(reply[i + 1])]);
      const online = await Promise.all(members.map(([memberUid]) => this.isUserOnline(memberUid)));
      summary.num = online.filter(Boolean).length;
      for (const [memberUid, name] of members) if (memberUid !== uid) summary.peer = { uid: memberUid, name };
      summary.peerRead = peerRead;
    }
    return summary;
  }

  async markRead(roomid: string, uid: string, seq: number): Promise<MarkedRead | undefined> {
    const room = this.keys.room(roomid);
    const [read, moved] = await this.redis.chatMarkRead(room.seq, room.members, room.reads, room.mentions, uid, seq, this.ttl);
    return read < 0 ? undefined : { read, moved: moved === 1 };
  }

  async readCursors(roomid: string): Promise<MemberRead[]> {
    const room = this.keys.room(roomid);
    const flat = await this.redis.chatReadCursors(room.members, room.reads);
    const list: MemberRead[] = [];
    for (let i = 0; i < flat.length; i += 3) list.push({ uid: String(flat[i]), name: String(flat[i + 1]), read: Number(flat[i + 2]) });
    return list;
  }

  async creator(roomid: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.room(roomid).seq, 'creator')) ?? undefined;
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
