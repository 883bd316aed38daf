/**
 * The embedded store: one process, memory bounded by lru-cache.
 *
 * Limits (docs/configuration.md): at most ROOM_LIMIT rooms and HISTORY_TOTAL kept messages over all
 * rooms (HISTORY_PER_ROOM each), idle rooms expire after ROOM_TTL_MS; USER_LIMIT users with
 * INBOX_PER_USER queued direct messages; IDEMPOTENCY_LIMIT remembered client ids for
 * IDEMPOTENCY_TTL_MS. An evicted room keeps its seq counter (in a far larger, cheap LRU) so seqs never
 * go back, and a resume that reaches past what is kept is answered with `gap`, never silently.
 */

import { LRUCache } from 'lru-cache';
import { v4 as uuidv4 } from 'uuid';
import type { MemberInfo, RoomSummary } from '../protocol.ts';
import { DIRECT_ROOM_PREFIX } from '../protocol.ts';
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
} from './store.ts';
import { RingBuffer } from './ring-buffer.ts';

export interface MemoryStoreLimits {
  historyPerRoom: number;
  historyTotal: number;
  roomLimit: number;
  roomTtlMs: number;
  userLimit: number;
  inboxPerUser: number;
  idempotencyLimit: number;
  idempotencyTtlMs: number;
}

interface Member {
  name: string;
  /** Last seq delivered before the user went offline in this room. */
  cursor?: number;
}

interface RoomState {
  seq: number;
  history: RingBuffer<StoredMessage>;
  members: Map<string, Member>;
  /** uid → that user's connections in the room. */
  online: Map<string, Set<string>>;
}

interface UserState {
  name: string;
  rooms: Set<string>;
  connections: Set<string>;
  inbox: StoredMessage[];
  inboxGap: boolean;
}

/** Everything the store keeps, as plain JSON. Presence is not kept: no connection survives a restart. */
export interface MemorySnapshot {
  version: 1;
  takenAt: number;
  epoch: string;
  rooms: Array<{ id: string; seq: number; history: StoredMessage[]; members: Array<[uid: string, name: string, cursor: number | null]> }>;
  evictedSeqs: Array<[roomid: string, seq: number]>;
  users: Array<{ uid: string; name: string; rooms: string[]; inbox: StoredMessage[]; inboxGap: boolean }>;
  accepted: Array<[key: string, value: AcceptedMessage, ttlMs: number]>;
}

export class MemoryStore implements ChatStore {
  /** New on every start without a snapshot: the seqs of a former run mean nothing in this one. */
  private epoch = uuidv4();
  /** Rooms are wrapped so a re-set after each append is a new value: lru-cache re-sizes only then. */
  private readonly roomCache: LRUCache<string, { room: RoomState }>;
  /** Seq counters of evicted rooms, so a recreated room continues where it stopped. */
  private readonly evictedSeqs: LRUCache<string, number>;
  private readonly users: LRUCache<string, UserState>;
  private readonly accepted: LRUCache<string, AcceptedMessage>;

  constructor(private readonly limits: MemoryStoreLimits) {
    this.evictedSeqs = new LRUCache({ max: limits.roomLimit * 20 });
    this.roomCache = new LRUCache<string, { room: RoomState }>({
      max: limits.roomLimit,
      maxSize: limits.historyTotal,
      sizeCalculation: (slot) => Math.max(1, slot.room.history.length),
      ttl: limits.roomTtlMs,
      updateAgeOnGet: true,
      // A room with members online is in use whatever its age; it is touched on every message.
      dispose: (slot, roomid, reason) => {
        if (reason !== 'set') this.evictedSeqs.set(roomid, slot.room.seq);
      },
    });
    this.users = new LRUCache<string, UserState>({ max: limits.userLimit, ttl: limits.roomTtlMs, updateAgeOnGet: true });
    this.accepted = new LRUCache({ max: limits.idempotencyLimit, ttl: limits.idempotencyTtlMs });
  }

  private room(roomid: string): RoomState {
    let room = this.roomCache.get(roomid)?.room;
    if (!room) {
      const seq = this.evictedSeqs.get(roomid) ?? 0;
      room = {
        seq,
        history: new RingBuffer(Math.max(1, this.limits.historyPerRoom)),
        members: new Map(),
        online: new Map(),
      };
      this.roomCache.set(roomid, { room });
    }
    return room;
  }

  private user(uid: string, name?: string): UserState {
    let user = this.users.get(uid);
    if (!user) {
      user = { name: name ?? uid, rooms: new Set(), connections: new Set(), inbox: [], inboxGap: false };
      this.users.set(uid, user);
    } else if (name !== undefined) {
      user.name = name;
    }
    return user;
  }

  private countsOf(room: RoomState): RoomCounts {
    return { num: room.online.size, total: room.members.size };
  }

  async join(roomid: string, uid: string, name: string, connId: string): Promise<JoinResult> {
    const room = this.room(roomid);
    let member = room.members.get(uid);
    const newMember = member === undefined;
    if (!member) {
      member = { name };
      room.members.set(uid, member);
    }
    member.name = name;
    this.user(uid, name).rooms.add(roomid);
    let conns = room.online.get(uid);
    const cameOnline = conns === undefined;
    if (!conns) {
      conns = new Set();
      room.online.set(uid, conns);
    }
    conns.add(connId);
    let offlineCursor: number | undefined;
    if (cameOnline && member.cursor !== undefined) {
      offlineCursor = member.cursor;
      member.cursor = undefined;
    }
    return { ...this.countsOf(room), cameOnline, newMember, lastSeq: room.seq, offlineCursor, epoch: this.epoch };
  }

  async disconnect(roomid: string, uid: string, connId: string, lastDeliveredSeq: number): Promise<DisconnectResult> {
    const room = this.roomCache.peek(roomid)?.room;
    if (!room) return { num: 0, total: 0, wentOffline: false };
    const conns = room.online.get(uid);
    if (!conns || !conns.delete(connId)) return { ...this.countsOf(room), wentOffline: false };
    const wentOffline = conns.size === 0;
    if (wentOffline) {
      room.online.delete(uid);
      const member = room.members.get(uid);
      if (member) member.cursor = Math.max(member.cursor ?? 0, lastDeliveredSeq);
    }
    return { ...this.countsOf(room), wentOffline };
  }

  async leave(roomid: string, uid: string): Promise<LeaveResult> {
    const room = this.roomCache.peek(roomid)?.room;
    this.users.peek(uid)?.rooms.delete(roomid);
    if (!room) return { num: 0, total: 0, wasMember: false };
    const wasMember = room.members.delete(uid);
    room.online.delete(uid);
    return { ...this.countsOf(room), wasMember };
  }

  async counts(roomid: string): Promise<RoomCounts> {
    const room = this.roomCache.peek(roomid)?.room;
    return room ? this.countsOf(room) : { num: 0, total: 0 };
  }

  async members(roomid: string): Promise<MemberInfo[]> {
    const room = this.roomCache.peek(roomid)?.room;
    if (!room) return [];
    const list: MemberInfo[] = [];
    for (const [uid, member] of room.members) {
      list.push({ uid, name: member.name, online: this.isOnline(room, roomid, uid) });
    }
    return list;
  }

  private isOnline(room: RoomState, roomid: string, uid: string): boolean {
    if (roomid.startsWith(DIRECT_ROOM_PREFIX)) return (this.users.peek(uid)?.connections.size ?? 0) > 0;
    return room.online.has(uid);
  }

  async isMember(roomid: string, uid: string): Promise<boolean> {
    return this.roomCache.peek(roomid)?.room.members.has(uid) ?? false;
  }

  async append(draft: MessageDraft): Promise<StoredMessage> {
    const room = this.room(draft.roomid);
    return this.appendTo(room, draft.roomid, draft);
  }

  private appendTo(room: RoomState, roomid: string, draft: MessageDraft): StoredMessage {
    room.seq += 1;
    const message: StoredMessage = { ...draft, seq: room.seq };
    if (this.limits.historyPerRoom > 0) {
      room.history.push(message);
      this.roomCache.set(roomid, { room });
    }
    return message;
  }

  async readAfter(roomid: string, afterSeq: number, limit: number, beforeSeq?: number): Promise<HistorySlice> {
    const room = this.roomCache.get(roomid)?.room;
    if (!room) {
      const lastSeq = this.evictedSeqs.get(roomid) ?? 0;
      return { messages: [], gap: afterSeq !== lastSeq, lastSeq };
    }
    // A client ahead of the room saw a state this store no longer has (restart without snapshot).
    if (afterSeq >= room.seq) return { messages: [], gap: afterSeq > room.seq, lastSeq: room.seq };
    const kept = room.history.toArray();
    const oldestKept = kept.length > 0 ? kept[0].seq : room.seq + 1;
    const below = beforeSeq ?? Number.POSITIVE_INFINITY;
    // The next page forward: the oldest `limit` messages after `afterSeq` (and below `beforeSeq`).
    const messages = kept.filter((m) => m.seq > afterSeq && m.seq < below).slice(0, limit);
    // Only what is no longer kept is a gap; what a later page will bring is not.
    const gap = oldestKept > afterSeq + 1 && afterSeq + 1 < below;
    return { messages, gap, lastSeq: room.seq };
  }

  async readBefore(roomid: string, beforeSeq: number | undefined, limit: number): Promise<HistorySlice> {
    const room = this.roomCache.get(roomid)?.room;
    if (!room) return { messages: [], gap: (beforeSeq ?? 0) > 1, lastSeq: this.evictedSeqs.get(roomid) ?? 0 };
    const before = beforeSeq ?? room.seq + 1;
    const kept = room.history.toArray().filter((m) => m.seq < before);
    const messages = kept.slice(-limit);
    const oldestReturned = messages.length > 0 ? messages[0].seq : before;
    // Everything kept below `before` was returned, yet seqs below the oldest existed: they are gone.
    const gap = kept.length === messages.length && oldestReturned > 1;
    return { messages, gap, lastSeq: room.seq };
  }

  async rooms(uid: string): Promise<RoomSummary[]> {
    const user = this.users.get(uid);
    if (!user) return [];
    const list: RoomSummary[] = [];
    for (const roomid of user.rooms) {
      const room = this.roomCache.peek(roomid)?.room;
      if (!room) {
        user.rooms.delete(roomid);
        continue;
      }
      const last = room.history.last();
      const summary: RoomSummary = { roomid, ...this.countsOf(room), lastSeq: room.seq };
      if (last) summary.last = last;
      if (roomid.startsWith(DIRECT_ROOM_PREFIX)) {
        let online = 0;
        for (const memberUid of room.members.keys()) {
          if (this.isOnline(room, roomid, memberUid)) online += 1;
          if (memberUid !== uid) summary.peer = { uid: memberUid, name: room.members.get(memberUid)!.name };
        }
        summary.num = online;
      }
      list.push(summary);
    }
    return list;
  }

  async appendDirect(draft: MessageDraft, to: string): Promise<DirectResult> {
    const room = this.room(draft.roomid);
    const sender = this.user(draft.uid, draft.name);
    const recipient = this.user(to);
    room.members.set(draft.uid, { name: draft.name });
    if (!room.members.has(to)) room.members.set(to, { name: recipient.name });
    sender.rooms.add(draft.roomid);
    recipient.rooms.add(draft.roomid);
    const message = this.appendTo(room, draft.roomid, draft);
    const queued = recipient.connections.size === 0;
    if (queued) this.pushInbox(recipient, message);
    return { message, queued };
  }

  async queueDirect(to: string, message: StoredMessage): Promise<void> {
    const recipient = this.user(to);
    if (recipient.connections.size > 0) return;
    if (recipient.inbox.some((m) => m.roomid === message.roomid && m.seq === message.seq)) return;
    this.pushInbox(recipient, message);
  }

  private pushInbox(recipient: UserState, message: StoredMessage): void {
    recipient.inbox.push(message);
    if (recipient.inbox.length > this.limits.inboxPerUser) {
      recipient.inbox.shift();
      recipient.inboxGap = true;
    }
  }

  async connectUser(uid: string, name: string, connId: string): Promise<UserConnectResult> {
    const user = this.user(uid, name);
    const firstConnection = user.connections.size === 0;
    user.connections.add(connId);
    if (!firstConnection || (user.inbox.length === 0 && !user.inboxGap)) {
      return { firstConnection, inbox: [], inboxGap: false };
    }
    const { inbox, inboxGap } = user;
    user.inbox = [];
    user.inboxGap = false;
    return { firstConnection, inbox, inboxGap };
  }

  async disconnectUser(uid: string, connId: string): Promise<{ lastConnection: boolean }> {
    const user = this.users.peek(uid);
    if (!user || !user.connections.delete(connId)) return { lastConnection: false };
    return { lastConnection: user.connections.size === 0 };
  }

  async acceptedId(uid: string, clientId: string): Promise<AcceptedMessage | undefined> {
    return this.accepted.get(`${uid}\n${clientId}`);
  }

  async rememberId(uid: string, clientId: string, accepted: AcceptedMessage): Promise<void> {
    this.accepted.set(`${uid}\n${clientId}`, accepted);
  }

  async stats(): Promise<StoreStats> {
    let inboxMessages = 0;
    for (const user of this.users.values()) inboxMessages += user.inbox.length;
    let historyMessages = 0;
    for (const slot of this.roomCache.values()) historyMessages += slot.room.history.length;
    return {
      rooms: this.roomCache.size,
      users: this.users.size,
      historyMessages,
      inboxMessages,
      idempotencyKeys: this.accepted.size,
    };
  }

  /** Least recently used first, so a restore keeps the LRU order. */
  snapshot(): MemorySnapshot {
    const rooms: MemorySnapshot['rooms'] = [];
    for (const id of this.roomCache.rkeys()) {
      const room = this.roomCache.peek(id)!.room;
      const members: MemorySnapshot['rooms'][number]['members'] = [];
      for (const [uid, member] of room.members) members.push([uid, member.name, member.cursor ?? null]);
      rooms.push({ id, seq: room.seq, history: room.history.toArray(), members });
    }
    const users: MemorySnapshot['users'] = [];
    for (const uid of this.users.rkeys()) {
      const user = this.users.peek(uid)!;
      users.push({ uid, name: user.name, rooms: [...user.rooms], inbox: user.inbox, inboxGap: user.inboxGap });
    }
    const accepted: MemorySnapshot['accepted'] = [];
    for (const key of this.accepted.rkeys()) {
      const value = this.accepted.peek(key);
      const ttl = this.accepted.getRemainingTTL(key);
      if (value && ttl > 0) accepted.push([key, value, Math.round(ttl)]);
    }
    return { version: 1, takenAt: Date.now(), epoch: this.epoch, rooms, evictedSeqs: [...this.evictedSeqs.rentries()] as Array<[string, number]>, users, accepted };
  }

  /** Loads a snapshot into this (empty) store. The caller has verified the snapshot as a whole. */
  restore(snapshot: MemorySnapshot): void {
    this.epoch = snapshot.epoch;
    for (const [roomid, seq] of snapshot.evictedSeqs) this.evictedSeqs.set(roomid, seq);
    for (const saved of snapshot.rooms) {
      const history = new RingBuffer<StoredMessage>(Math.max(1, this.limits.historyPerRoom));
      for (const message of saved.history) history.push(message);
      const members = new Map<string, Member>();
      for (const [uid, name, cursor] of saved.members) members.set(uid, cursor === null ? { name } : { name, cursor });
      this.roomCache.set(saved.id, { room: { seq: saved.seq, history, members, online: new Map() } });
    }
    for (const saved of snapshot.users) {
      this.users.set(saved.uid, { name: saved.name, rooms: new Set(saved.rooms), connections: new Set(), inbox: saved.inbox, inboxGap: saved.inboxGap });
    }
    for (const [key, value, ttl] of snapshot.accepted) this.accepted.set(key, value, { ttl });
  }

  async close(): Promise<void> {}
}
