/**
 * The ChatStore on Redis: every method is one Lua script per hash slot (room-scripts.ts,
 * user-scripts.ts), so several nodes share rooms, presence, history and inboxes as one service.
 * Semantics follow memory-store.ts; where a method touches a room and a user, the steps run in an
 * order where a crash in between leaves nothing a client would miss (see appendDirect).
 *
 * What this node holds is also kept locally (LocalPresence), and Redis is made to agree with it again
 * after anything that may have left them apart: an operation that failed (Redis unreachable, stalled,
 * the reply lost) marks its connection for repair, and `repair` (run by node-recovery.ts once Redis
 * answers again) puts back what the node still holds and removes what it let go of.
 */

import { randomUUID } from 'node:crypto';
import type { ChangeOutcome, GroupChange, GroupCreation, GroupState, Standing } from '../core/group-store.ts';
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
import { userTopic } from '../core/topics.ts';
import type { MemberInfo, RoomSummary } from '../protocol.ts';
import { DIRECT_ROOM_PREFIX, directRoomMembers, previewOf } from '../protocol.ts';
import type { ChatRedis } from './commands.ts';
import { queueDirect } from './direct-queue.ts';
import { parseGroupView } from './group-view.ts';
import { groupKeys, joinKeys, type KeySpace } from './keys.ts';
import { LocalPresence } from './local-presence.ts';
import type { SeqWatermarks } from './seq-watermarks.ts';

export interface RedisStoreLimits {
  roomTtlMs: number;
  inboxPerUser: number;
}

/** A user's presence in a room as the node just changed it (for a `login`/`logout` notice). */
export interface PresenceChange {
  roomid: string;
  uid: string;
  name: string;
  num: number;
  total: number;
}

/** What `repair` changed: who came back online in which room, who went offline. */
export interface Repaired {
  connections: number;
  cameOnline: PresenceChange[];
  wentOffline: PresenceChange[];
  /** Direct messages that had waited in inboxes of users connected here, now published to them. */
  drained: number;
}

/** A connection's room presence or user connection that the node let go of while Redis did not answer. */
interface Departure {
  roomid?: string;
  uid: string;
  name: string;
  connId: string;
  delivered: number;
}

/** JOIN's refusals (its first reply element), as the store names them. */
const JOIN_REFUSALS: Record<number, JoinRefusal | undefined> = { [-1]: 'no-such-room', [-2]: 'hidden', [-3]: 'banned', [-4]: 'full', [-5]: 'bad-link' };

export class RedisStore implements ChatStore {
  readonly local = new LocalPresence();
  /** Set by redis-backends.ts: stops the heartbeat and closes the connections. */
  onClose: () => Promise<void> = async () => {};
  /** Connections whose presence Redis may not have (an operation on it failed). */
  private readonly unsure = new Set<string>();
  private readonly departures: Departure[] = [];

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

  private channelOf(uid: string): string {
    return this.keys.channel(userTopic(uid));
  }

  /** Runs `write` for `connId`; when it fails, Redis may or may not have it: the connection is repaired later. */
  private async unsureOnFailure<T>(connId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      this.unsure.add(connId);
      throw err;
    }
  }

  async join(roomid: string, uid: string, name: string, connId: string, options: JoinOptions): Promise<JoinResult | JoinRefusal> {
    const room = this.keys.room(roomid);
    const user = this.keys.user(uid);
    // Registered first: if this node dies after the join, the reaper finds the room.
    const firstHere = this.local.joined(connId, uid, name, roomid, this.watermarks.floor(roomid));
    const reply = await this.unsureOnFailure(connId, async () => {
      const [, , joined] = await Promise.all([
        firstHere ? this.redis.sadd(this.keys.node(this.nodeId).rooms, roomid) : undefined,
        this.redis.chatNoteUserRoom(user.rooms, user.info, roomid, this.ttl, ''),
        this.redis.chatJoin(
          ...joinKeys(room),
          uid,
          name,
          connId,
          this.nodeId,
          this.ttl,
          options.mayCreate ? '1' : '0',
          this.watermarks.floor(roomid),
          this.watermarks.epoch(roomid),
          randomUUID(),
          options.maxMembers ?? Number.MAX_SAFE_INTEGER,
          options.link ?? '',
          Date.now(),
        ),
      ]);
      return joined;
    });
    const refusal = JOIN_REFUSALS[Number(reply[0])];
    if (refusal) {
      await this.undoJoinBookkeeping(roomid, uid, connId);
      return refusal;
    }
    const [num, total, cameOnline, newMember, lastSeq, cursor, epoch, created, viaLink] = reply;
    this.local.connections.get(connId)?.rooms.set(roomid, Number(lastSeq));
    this.watermarks.note(roomid, Number(lastSeq), String(epoch));
    // Read state: a second step on the room's slot (see message-scripts.ts JOIN_READ_STATE).
    const [read, mention] = await this.redis.chatJoinReadState(room.reads, room.mentions, uid, Number(lastSeq), newMember === 1 ? '1' : '0', this.ttl);
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
    if (viaLink === 1) result.viaLink = true;
    if (mention >= 0) result.mention = mention;
    return result;
  }

  /** A refused join leaves no trace in the user's rooms or this node's presence sets. */
  private async undoJoinBookkeeping(roomid: string, uid: string, connId: string): Promise<void> {
    await this.redis.srem(this.keys.user(uid).rooms, roomid);
    if (this.local.leftRoom(connId, roomid)) await this.redis.srem(this.keys.node(this.nodeId).rooms, roomid);
  }

  async disconnect(roomid: string, uid: string, connId: string, lastDeliveredSeq: number): Promise<DisconnectResult> {
    const name = this.local.connections.get(connId)?.name ?? uid;
    // Let go locally first: a repair must not put it back, whatever Redis answers.
    const lastHere = this.local.leftRoom(connId, roomid);
    try {
      return await this.leaveRoomPresence({ roomid, uid, name, connId, delivered: lastDeliveredSeq }, lastHere);
    } catch {
      // Finished by the next repair, which tells the room. The caller goes on with the connection's
      // other rooms: its socket is gone either way.
      this.departures.push({ roomid, uid, name, connId, delivered: lastDeliveredSeq });
      return { num: 0, total: 0, wentOffline: false };
    }
  }

  private async leaveRoomPresence(departure: Departure & { roomid: string }, lastHere: boolean): Promise<DisconnectResult> {
    const { roomid, uid, connId, delivered } = departure;
    const room = this.keys.room(roomid);
    const [num, total, wentOffline] = await this.redis.chatDisconnect(room.members, room.cursors, room.online, uid, connId, delivered, this.ttl);
    if (lastHere) await this.redis.srem(this.keys.node(this.nodeId).rooms, roomid);
    return { num, total, wentOffline: wentOffline === 1 };
  }

  async leave(roomid: string, uid: string): Promise<LeaveResult> {
    const room = this.keys.room(roomid);
    const [, [num, total, wasMember, heir, heirName]] = await Promise.all([
      this.redis.srem(this.keys.user(uid).rooms, roomid),
      this.redis.chatLeave(room.members, room.cursors, room.online, room.roles, room.mutes, room.order, uid),
      // Read state ends with the membership, as in the embedded store.
      this.redis.hdel(room.reads, uid),
      this.redis.hdel(room.mentions, uid),
    ]);
    await this.leftLocally(uid, roomid);
    const result: LeaveResult = { num: Number(num), total: Number(total), wasMember: wasMember === 1 };
    if (heir !== '') result.heir = { uid: String(heir), name: String(heirName) };
    return result;
  }

  /** The user is out of the room: this node's connections of theirs too. */
  private async leftLocally(uid: string, roomid: string): Promise<void> {
    if (this.local.userLeftRoom(uid, roomid)) await this.redis.srem(this.keys.node(this.nodeId).rooms, roomid);
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
    const [reply, [title, privacy], [read, mention, peerRead]] = await Promise.all([
      this.redis.chatSummary(room.seq, room.history, room.members, room.online, direct ? '1' : '0'),
      this.redis.hmget(room.group, 'title', 'private'),
      this.redis.chatReadState(room.reads, room.mentions, uid, direct ? peer : ''),
    ]);
    if (reply[0] !== 1) return undefined;
    const lastSeq = Number(reply[3]);
    const summary: RoomSummary = { roomid, num: Number(reply[1]), total: Number(reply[2]), lastSeq, read, unread: Math.max(0, lastSeq - read) };
    if (title !== null) summary.title = title;
    if (privacy === '1') summary.private = true;
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

  async queueDirect(to: string, message: StoredMessage): Promise<void> {
    await queueDirect(this.redis, this.keys, this.limits, to, message, 'requeue');
  }

  async connectUser(uid: string, name: string, connId: string): Promise<UserConnectResult> {
    const user = this.keys.user(uid);
    const firstHere = this.local.userConnected(connId, uid, name);
    const reply = await this.unsureOnFailure(connId, async () => {
      const [, connected] = await Promise.all([
        firstHere ? this.redis.sadd(this.keys.node(this.nodeId).users, uid) : undefined,
        this.redis.chatConnectUser(
          user.connections,
          user.inbox,
          user.info,
          this.keys.takenInbox(uid, connId),
          user.rooms,
          connId,
          this.nodeId,
          name,
          this.ttl,
          this.channelOf(uid),
        ),
      ]);
      return connected;
    });
    return {
      firstConnection: reply[0] === 1,
      inboxGap: reply[1] === 1,
      inbox: reply.slice(2).map((m) => JSON.parse(String(m)) as StoredMessage),
    };
  }

  async disconnectUser(uid: string, connId: string): Promise<{ lastConnection: boolean }> {
    const name = this.local.connections.get(connId)?.name ?? uid;
    const lastHere = this.local.userDisconnected(connId);
    try {
      return await this.leaveUserConnection(uid, connId, lastHere);
    } catch {
      this.departures.push({ uid, name, connId, delivered: 0 });
      return { lastConnection: false };
    }
  }

  private async leaveUserConnection(uid: string, connId: string, lastHere: boolean): Promise<{ lastConnection: boolean }> {
    const last = await this.redis.chatDisconnectUser(this.keys.user(uid).connections, connId);
    if (lastHere) await this.redis.srem(this.keys.node(this.nodeId).users, uid);
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

  /**
   * Makes Redis agree with what this node holds: the connections marked unsure (or, with `all`,
   * every connection: Redis lost them, or took this node for dead) are put back, announcing `login`
   * where a user had dropped out of a room meanwhile and publishing what waited in their inboxes; the
   * presence this node let go of while Redis did not answer is removed, announcing `logout`. Every
   * step is idempotent; what fails stays marked for the next repair.
   */
  async repair(all: boolean): Promise<Repaired> {
    const repaired: Repaired = { connections: 0, cameOnline: [], wentOffline: [], drained: 0 };
    const connIds = all ? [...this.local.connections.keys()] : [...this.unsure];
    this.unsure.clear();
    const node = this.keys.node(this.nodeId);
    const rooms = [...this.local.rooms];
    const users = [...this.local.users];
    try {
      await Promise.all([
        rooms.length > 0 ? this.redis.sadd(node.rooms, ...rooms) : undefined,
        users.length > 0 ? this.redis.sadd(node.users, ...users) : undefined,
      ]);
    } catch (err) {
      for (const connId of connIds) this.unsure.add(connId);
      throw err;
    }
    await Promise.all(connIds.map((connId) => this.restoreConnection(connId, repaired)));
    const departures = this.departures.splice(0);
    await Promise.all(departures.map((departure) => this.retryDeparture(departure, repaired)));
    return repaired;
  }

  private async restoreConnection(connId: string, repaired: Repaired): Promise<void> {
    const conn = this.local.connections.get(connId);
    if (!conn) return;
    try {
      const writes: Promise<void>[] = [];
      if (conn.userConnected) {
        const user = this.keys.user(conn.uid);
        writes.push(
          this.redis
            .chatRestoreConnection(user.connections, user.info, user.inbox, user.rooms, connId, this.nodeId, conn.name, this.ttl, this.channelOf(conn.uid))
            .then((drained) => void (repaired.drained += drained)),
        );
      }
      for (const [roomid, seq] of conn.rooms) {
        const room = this.keys.room(roomid);
        writes.push(
          this.redis
            .chatRestorePresence(room.members, room.online, conn.uid, conn.name, connId, this.nodeId, seq, this.ttl)
            .then(([, cameOnline, num, total]) => {
              if (cameOnline === 1) repaired.cameOnline.push({ roomid, uid: conn.uid, name: conn.name, num, total });
            }),
        );
      }
      await Promise.all(writes);
      repaired.connections += 1;
    } catch {
      this.unsure.add(connId);
    }
  }

  private async retryDeparture(departure: Departure, repaired: Repaired): Promise<void> {
    const { roomid, uid, name, connId } = departure;
    try {
      if (roomid === undefined) {
        await this.leaveUserConnection(uid, connId, false);
        return;
      }
      const result = await this.leaveRoomPresence({ ...departure, roomid }, false);
      if (result.wentOffline) repaired.wentOffline.push({ roomid, uid, name, num: result.num, total: result.total });
    } catch {
      this.departures.push(departure);
    }
  }

  /** Whether anything waits for `repair`. */
  get needsRepair(): boolean {
    return this.unsure.size > 0 || this.departures.length > 0;
  }

  /**
   * Puts this node's seq floors back for the rooms it holds presence in, after Redis restarted: a
   * counter Redis lost continues where this node saw it (in its epoch), one it rolled back starts a
   * new epoch (see counter() in lua-prelude.ts). Before any other node can hand out seqs again, at best.
   */
  async restoreFloors(): Promise<void> {
    await Promise.all(
      [...this.local.rooms].map(async (roomid) => {
        const room = this.keys.room(roomid);
        const [seq, epoch] = await this.redis.chatRestoreFloor(
          room.seq,
          room.history,
          this.watermarks.floor(roomid),
          this.watermarks.epoch(roomid),
          randomUUID(),
          this.ttl,
        );
        // The bus tells the connections when the first message of a new epoch comes.
        if (String(epoch) === this.watermarks.epoch(roomid)) this.watermarks.note(roomid, Number(seq));
      }),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Groups (group-scripts.ts)

  async createGroup(roomid: string, uid: string, name: string, group: GroupCreation): Promise<'created' | 'taken' | 'store-full'> {
    const userRooms = this.keys.user(uid).rooms;
    const added = await this.redis.sadd(userRooms, roomid);
    const created = await this.redis.chatCreateGroup(
      ...groupKeys(this.keys.room(roomid)),
      uid,
      name,
      group.title,
      group.private ? '1' : '0',
      this.ttl,
      this.ttl,
      randomUUID(),
    );
    if (created === 1) return 'created';
    if (added === 1) await this.redis.srem(userRooms, roomid);
    return 'taken';
  }

  async group(roomid: string, uids: string[]): Promise<GroupState | undefined> {
    return parseGroupView(await this.redis.chatGroupView(...groupKeys(this.keys.room(roomid)), Date.now(), ...uids), uids);
  }

  /** The user's rooms set is on their own slot: added before an invite (taken back if refused), dropped after a removal. */
  async changeGroup(roomid: string, change: GroupChange, expect: Array<[uid: string, standing: Standing]>): Promise<ChangeOutcome> {
    const userRooms = change.op === 'invite' ? this.keys.user(change.user).rooms : undefined;
    const added = userRooms ? await this.redis.sadd(userRooms, roomid) : 0;
    const outcome = (await this.redis.chatGroupChange(
      ...groupKeys(this.keys.room(roomid)),
      JSON.stringify(expect),
      JSON.stringify(change),
      Date.now(),
      this.ttl,
    )) as ChangeOutcome;
    if (userRooms && outcome !== 'done' && added === 1) await this.redis.srem(userRooms, roomid);
    if ((change.op === 'kick' || change.op === 'ban') && outcome === 'done') {
      await this.redis.srem(this.keys.user(change.user).rooms, roomid);
      await this.leftLocally(change.user, roomid);
    }
    return outcome;
  }

  async userName(uid: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.user(uid).info, 'name')) ?? undefined;
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
