/**
 * The embedded store and room log: one process, everything in memory, bounded in bytes.
 *
 * Bounds (docs/configuration.md):
 * - Room history and direct-message inboxes together hold at most STORE_MAX_BYTES (an estimate of
 *   their heap size). Past it, the history of the least recently used room, or the inbox of the
 *   least recently used user, is dropped whole. A dropped history keeps its room's seq counter and
 *   members, so a member who comes back is told `gap`; a dropped inbox is reported as an inbox gap.
 * - HISTORY_PER_ROOM messages per room and at most a quarter of STORE_MAX_BYTES (oldest out first);
 *   INBOX_PER_USER messages per user.
 * - At most ROOM_LIMIT rooms and USER_LIMIT users. A room or user is forgotten only after
 *   ROOM_TTL_MS without activity and with nobody online; a room is never forgotten for space while
 *   it has members, so its membership and roles cannot be pushed out by someone else's traffic.
 *   When the limit is reached, new rooms (and direct messages to users never seen) are refused.
 * - Idempotency: a resent message is recognised while the original is in its room's history.
 *
 * A recall (recall.ts) rewrites the ring buffer's entry in place, and the recipient's inbox entry
 * of a direct message: the text is gone from memory (and from the next snapshot), not hidden.
 */

import { LRUCache } from 'lru-cache';
import { v4 as uuidv4 } from 'uuid';
import type { MemberInfo, RoomSummary } from '../protocol.ts';
import { directRoomMembers, isDirectRoomId, previewOf } from '../protocol.ts';
import { EnvelopeKind } from './envelope.ts';
import { type ChangeOutcome, type GroupChange, type GroupCreation, type GroupState, SendRefused, type Standing } from './group-store.ts';
import type { LocalBus } from './local-bus.ts';
import { type GroupSnapshot, RoomGroup } from './memory-group.ts';
import { type RecallRequest, recallRefusal, tombstoneOf, withQuoteRecalled } from './recall.ts';
import { RingBuffer } from './ring-buffer.ts';
import {
  type Appended,
  type AppendedDirect,
  type HistorySlice,
  type MessageDraft,
  type RecallRefused,
  type RoomLog,
  resendKey,
  type StoredMessage,
  withFields,
} from './room-log.ts';
import {
  type ChatStore,
  type DisconnectResult,
  type JoinOptions,
  type JoinRefusal,
  type JoinResult,
  type LeaveResult,
  type MarkedRead,
  type MemberRead,
  type RoomCounts,
  StoreFullError,
  type StoreStats,
  type UserConnectResult,
} from './store.ts';
import { roomTopic, userTopic } from './topics.ts';
import { messageWire } from './wire.ts';

export interface MemoryStoreLimits {
  historyPerRoom: number;
  /** History and inboxes together, in (estimated heap) bytes. */
  storeMaxBytes: number;
  roomLimit: number;
  roomTtlMs: number;
  userLimit: number;
  inboxPerUser: number;
}

interface Member {
  name: string;
  /** Last seq delivered before the user went offline in this room. */
  cursor?: number;
  /** Read up to this seq (synced across the user's devices). */
  read?: number;
  /** The first and the latest unread message that mentions the member. */
  mention?: Mention;
}

interface Mention {
  first: number;
  last: number;
}

interface Room {
  /** The room's id: the one string every message kept here holds as its `roomid`. */
  id: string;
  /** The room's key in the byte budget (`held`), made once: every append re-sizes it. */
  heldKey: string;
  seq: number;
  /** New whenever the room's seq counter starts from nothing. */
  epoch: string;
  history: RingBuffer<StoredMessage>;
  /**
   * How a resend is recognised (by sender and `id`) while its original is kept, so that it is
   * answered, not stored twice. A kept message is found by its own `id` here: the key is the string
   * the message holds, so keeping it adds no string and looking it up builds none. The sender is
   * compared on a hit, since ids are the clients' own and two senders may use the same one.
   */
  ids: Map<string, number>;
  /**
   * resendKey → seq of a kept message whose `id` another sender's kept message held in `ids` when it
   * was kept. Made on the first such message, dropped when it empties: until then a lookup is one
   * `get` on `ids`.
   */
  sharedIds?: Map<string, number>;
  historyBytes: number;
  members: Map<string, Member>;
  /** uid → that user's connections in the room. */
  online: Map<string, Set<string>>;
  activeAt: number;
  /** Profile, roles, mutes, bans, links (memory-group.ts). */
  group: RoomGroup;
}

interface User {
  name: string;
  rooms: Set<string>;
  connections: Set<string>;
  inbox: StoredMessage[];
  inboxBytes: number;
  inboxGap: boolean;
  activeAt: number;
}

/** An entry of the byte budget: one room's history or one user's inbox. A new object per re-size. */
interface Held {
  bytes: number;
}

/**
 * Everything the store keeps, as plain JSON. Presence is not kept: no connection survives a restart.
 * Members are in join order (who inherits a room goes by it).
 */
export interface MemorySnapshot {
  version: 3;
  takenAt: number;
  rooms: Array<{
    id: string;
    seq: number;
    epoch: string;
    history: StoredMessage[];
    members: Array<[uid: string, name: string, cursor: number | null]>;
    group: GroupSnapshot;
    /** Members' read cursors and unread mentions (absent in snapshots from before read state). */
    reads?: Array<[uid: string, read: number, mentionFirst: number | null, mentionLast: number | null]>;
  }>;
  users: Array<{ uid: string; name: string; rooms: string[]; inbox: StoredMessage[]; inboxGap: boolean }>;
}

/** Estimated heap bytes of a kept message: its strings as UTF-16 and the object around them. */
export function messageBytes(message: StoredMessage): number {
  const chars = message.message.length + message.name.length + message.id.length + message.uid.length + message.roomid.length + (message.to?.length ?? 0);
  return 2 * chars + MESSAGE_OVERHEAD_BYTES + (message.quote || message.mentions || message.recalled || message.image ? extraBytes(message) : 0);
}
const MESSAGE_OVERHEAD_BYTES = 160;
/** The object and fields around a quote, a recall mark, a picture, each mention. */
const PART_OVERHEAD_BYTES = 80;

function extraBytes({ quote, mentions, recalled, image }: StoredMessage): number {
  let bytes = 0;
  if (quote) bytes += PART_OVERHEAD_BYTES + 2 * (quote.uid.length + quote.name.length + (quote.excerpt?.length ?? 0));
  if (recalled) bytes += PART_OVERHEAD_BYTES + 2 * (recalled.uid.length + recalled.name.length);
  if (image) bytes += PART_OVERHEAD_BYTES + 2 * image.url.length;
  if (mentions) for (const uid of mentions) bytes += 16 + 2 * uid.length;
  return bytes;
}
/** The most of STORE_MAX_BYTES one room's history may hold. */
const ROOM_SHARE_OF_STORE = 1 / 4;
const historyKey = (roomid: string): string => `h\n${roomid}`;
const inboxKey = (uid: string): string => `i\n${uid}`;
/** How often idle rooms and users are looked for. */
const SWEEP_EVERY_MS = 60_000;

export class MemoryStore implements ChatStore, RoomLog {
  private readonly roomStates = new Map<string, Room>();
  private readonly users = new Map<string, User>();
  /** The byte budget: what is held for each room's history and user's inbox, least recently used first out. */
  private readonly held: LRUCache<string, Held>;
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    private readonly limits: MemoryStoreLimits,
    private readonly bus: LocalBus,
    private readonly now: () => number = Date.now,
  ) {
    this.held = new LRUCache<string, Held>({
      maxSize: limits.storeMaxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.bytes),
      dispose: (_entry, key, reason) => {
        if (reason === 'evict') this.dropHeld(key);
      },
    });
    this.sweeper = setInterval(() => this.sweep(), Math.min(SWEEP_EVERY_MS, limits.roomTtlMs));
    this.sweeper.unref?.();
  }

  // ------------------------------------------------------------------------------------------
  // Rooms and users

  private newRoom(roomid: string, seq = 0, epoch: string = uuidv4()): Room {
    return {
      id: roomid,
      heldKey: historyKey(roomid),
      seq,
      epoch,
      history: new RingBuffer(Math.max(1, this.limits.historyPerRoom)),
      ids: new Map(),
      historyBytes: 0,
      members: new Map(),
      online: new Map(),
      activeAt: this.now(),
      group: new RoomGroup(),
    };
  }

  /** The room, created when allowed and there is room for it. */
  private roomFor(roomid: string, create: boolean): Room | JoinRefusal {
    let room = this.roomStates.get(roomid);
    if (room) {
      room.activeAt = this.now();
      return room;
    }
    if (!create) return 'no-such-room';
    if (this.roomStates.size >= this.limits.roomLimit) return 'store-full';
    room = this.newRoom(roomid);
    this.roomStates.set(roomid, room);
    return room;
  }

  private userFor(uid: string, name?: string): User {
    let user = this.users.get(uid);
    if (!user) {
      user = { name: name ?? uid, rooms: new Set(), connections: new Set(), inbox: [], inboxBytes: 0, inboxGap: false, activeAt: this.now() };
      this.users.set(uid, user);
    } else {
      if (name !== undefined) user.name = name;
      user.activeAt = this.now();
    }
    return user;
  }

  private countsOf(room: Room): RoomCounts {
    return { num: room.online.size, total: room.members.size };
  }

  /** Forgets rooms and users idle for ROOM_TTL_MS with nobody online (and no inbox waiting, for users). */
  sweep(): void {
    const before = this.now() - this.limits.roomTtlMs;
    for (const [roomid, room] of this.roomStates) {
      if (room.activeAt >= before || room.online.size > 0) continue;
      this.roomStates.delete(roomid);
      this.held.delete(historyKey(roomid));
      for (const uid of room.members.keys()) this.users.get(uid)?.rooms.delete(roomid);
    }
    for (const [uid, user] of this.users) {
      if (user.activeAt >= before || user.connections.size > 0) continue;
      this.users.delete(uid);
      this.held.delete(inboxKey(uid));
    }
  }

  /** The byte budget let go of a history or an inbox: drop it, keeping what tells the loss. */
  private dropHeld(key: string): void {
    const name = key.slice(2);
    if (key.startsWith('h\n')) {
      const room = this.roomStates.get(name);
      if (!room) return;
      room.history = new RingBuffer(Math.max(1, this.limits.historyPerRoom));
      room.ids.clear();
      room.sharedIds = undefined;
      room.historyBytes = 0;
    } else {
      const user = this.users.get(name);
      if (!user || user.inbox.length === 0) return;
      user.inbox = [];
      user.inboxBytes = 0;
      user.inboxGap = true;
    }
  }

  async join(roomid: string, uid: string, name: string, connId: string, options: JoinOptions): Promise<JoinResult | JoinRefusal> {
    const existed = this.roomStates.has(roomid);
    const room = this.roomFor(roomid, options.mayCreate);
    if (typeof room === 'string') return room;
    let member = room.members.get(uid);
    const newMember = member === undefined;
    let viaLink = false;
    if (!member) {
      if (existed) {
        const admission = room.group.admit(uid, room.members, options.link, options.maxMembers ?? Number.POSITIVE_INFINITY, this.now());
        if (admission.refusal) return admission.refusal;
        viaLink = admission.viaLink;
      }
      member = { name };
      room.members.set(uid, member);
    }
    member.name = name;
    room.group.joined(uid);
    this.userFor(uid, name).rooms.add(roomid);
    let conns = room.online.get(uid);
    const cameOnline = conns === undefined;
    if (!conns) {
      conns = new Set();
      room.online.set(uid, conns);
    }
    conns.add(connId);
    // Nothing sent before a member joined is unread for them.
    if (newMember) member.read = room.seq;
    const result: JoinResult = {
      ...this.countsOf(room),
      cameOnline,
      newMember,
      created: !existed,
      lastSeq: room.seq,
      epoch: room.epoch,
      read: member.read ?? 0,
    };
    if (viaLink) result.viaLink = true;
    if (member.mention) result.mention = member.mention.first;
    if (cameOnline && member.cursor !== undefined) {
      result.offlineCursor = member.cursor;
      member.cursor = undefined;
    }
    return result;
  }

  async disconnect(roomid: string, uid: string, connId: string, lastDeliveredSeq: number): Promise<DisconnectResult> {
    const room = this.roomStates.get(roomid);
    if (!room) return { num: 0, total: 0, wentOffline: false };
    const conns = room.online.get(uid);
    if (!conns?.delete(connId)) return { ...this.countsOf(room), wentOffline: false };
    const wentOffline = conns.size === 0;
    if (wentOffline) {
      room.online.delete(uid);
      room.activeAt = this.now();
      const member = room.members.get(uid);
      if (member) member.cursor = Math.max(member.cursor ?? 0, lastDeliveredSeq);
    }
    return { ...this.countsOf(room), wentOffline };
  }

  async leave(roomid: string, uid: string): Promise<LeaveResult> {
    const room = this.roomStates.get(roomid);
    this.users.get(uid)?.rooms.delete(roomid);
    if (!room) return { num: 0, total: 0, wasMember: false };
    const wasMember = room.members.delete(uid);
    room.online.delete(uid);
    const result: LeaveResult = { ...this.countsOf(room), wasMember };
    const heir = room.group.left(uid, room.members);
    if (heir !== undefined) result.heir = { uid: heir, name: room.members.get(heir)!.name };
    return result;
  }

  async counts(roomid: string): Promise<RoomCounts> {
    const room = this.roomStates.get(roomid);
    return room ? this.countsOf(room) : { num: 0, total: 0 };
  }

  async members(roomid: string): Promise<MemberInfo[]> {
    const room = this.roomStates.get(roomid);
    if (!room) return [];
    const list: MemberInfo[] = [];
    for (const [uid, member] of room.members) list.push({ uid, name: member.name, online: this.isOnline(room, roomid, uid) });
    return list;
  }

  private isOnline(room: Room, roomid: string, uid: string): boolean {
    if (isDirectRoomId(roomid)) return (this.users.get(uid)?.connections.size ?? 0) > 0;
    return room.online.has(uid);
  }

  async isMember(roomid: string, uid: string): Promise<boolean> {
    return this.roomStates.get(roomid)?.members.has(uid) ?? false;
  }

  async rooms(uid: string): Promise<RoomSummary[]> {
    const user = this.users.get(uid);
    if (!user) return [];
    const list: RoomSummary[] = [];
    for (const roomid of user.rooms) {
      const room = this.roomStates.get(roomid);
      if (!room) {
        user.rooms.delete(roomid);
        continue;
      }
      const self = room.members.get(uid);
      const read = self?.read ?? 0;
      const summary: RoomSummary = { roomid, ...this.countsOf(room), lastSeq: room.seq, read, unread: Math.max(0, room.seq - read) };
      if (room.group.title !== undefined) summary.title = room.group.title;
      if (room.group.private) summary.private = true;
      if (self?.mention) summary.mention = self.mention.first;
      const last = room.history.last();
      if (last) summary.last = previewOf(last);
      if (isDirectRoomId(roomid)) {
        let online = 0;
        for (const [memberUid, member] of room.members) {
          if (this.isOnline(room, roomid, memberUid)) online += 1;
          if (memberUid !== uid) summary.peer = { uid: memberUid, name: member.name };
        }
        summary.num = online;
        const peerUid = directRoomMembers(roomid)?.find((member) => member !== uid) ?? uid;
        summary.peerRead = room.members.get(peerUid)?.read ?? 0;
      }
      list.push(summary);
    }
    return list;
  }

  async markRead(roomid: string, uid: string, seq: number): Promise<MarkedRead | undefined> {
    const room = this.roomStates.get(roomid);
    const member = room?.members.get(uid);
    if (!room || !member) return undefined;
    const read = member.read ?? 0;
    const to = Math.min(seq, room.seq);
    if (to <= read) return { read, moved: false };
    member.read = to;
    const mention = member.mention;
    // Mentions up to the cursor are read; when later ones remain, the latest stands for them.
    if (mention && mention.last <= to) member.mention = undefined;
    else if (mention && mention.first <= to) member.mention = { first: mention.last, last: mention.last };
    return { read: to, moved: true };
  }

  async readCursors(roomid: string): Promise<MemberRead[]> {
    const room = this.roomStates.get(roomid);
    if (!room) return [];
    return [...room.members].map(([uid, member]) => ({ uid, name: member.name, read: member.read ?? 0 }));
  }

  // ------------------------------------------------------------------------------------------
  // The room log

  /** The message this (uid, id) was accepted as, while its room still keeps it. */
  private accepted(room: Room, draft: MessageDraft): StoredMessage | undefined {
    const seq = room.ids.get(draft.id);
    const kept = seq === undefined ? undefined : this.kept(room, seq);
    if (kept?.uid === draft.uid) return kept;
    const shared = room.sharedIds?.get(resendKey(draft.uid, draft.id));
    return shared === undefined ? undefined : this.kept(room, shared);
  }

  /** Where `seq` is in the room's history (kept seqs are consecutive), or -1. */
  private indexOf(room: Room, seq: number): number {
    const oldest = room.history.at(0);
    const index = oldest === undefined ? -1 : seq - oldest.seq;
    return room.history.at(index)?.seq === seq ? index : -1;
  }

  private kept(room: Room, seq: number): StoredMessage | undefined {
    const index = this.indexOf(room, seq);
    return index < 0 ? undefined : room.history.at(index);
  }

  /** Replaces a kept message in place (a recall's rewrite), keeping the byte count true. */
  private rewrite(room: Room, index: number, message: StoredMessage): void {
    room.historyBytes += messageBytes(message) - messageBytes(room.history.at(index)!);
    room.history.set(index, message);
    this.held.set(room.heldKey, { bytes: room.historyBytes });
  }

  /** A draft quoting a message that was recalled since the quote was made shows the quote as recalled. */
  private quoteAsKept(room: Room, draft: MessageDraft): MessageDraft {
    const quote = draft.quote;
    if (!quote || quote.recalled || !this.kept(room, quote.seq)?.recalled) return draft;
    return withQuoteRecalled(draft, quote.seq);
  }

  /** Notes the message's mentions for members who have not read that far. */
  private noteMentions(room: Room, message: StoredMessage): void {
    if (!message.mentions && !message.mentionAll) return;
    const uids = message.mentionAll ? [...room.members.keys()] : message.mentions!;
    for (const uid of uids) {
      const member = room.members.get(uid);
      if (uid === message.uid || !member || (member.read ?? 0) >= message.seq) continue;
      const { first, last } = member.mention ?? { first: message.seq, last: message.seq };
      member.mention = { first: Math.min(first, message.seq), last: Math.max(last, message.seq) };
    }
  }

  private keep(room: Room, draft: MessageDraft): StoredMessage {
    room.seq += 1;
    room.activeAt = this.now();
    // The room's own roomid, not the draft's: a direct chat's is built per message (directRoomId).
    const message: StoredMessage = withFields(draft, { roomid: room.id, seq: room.seq });
    if (this.limits.historyPerRoom > 0) {
      const overwritten = room.history.push(message);
      if (overwritten) this.forget(room, overwritten);
      if (!room.ids.has(message.id)) room.ids.set(message.id, message.seq);
      else (room.sharedIds ??= new Map()).set(resendKey(message.uid, message.id), message.seq);
      room.historyBytes += messageBytes(message);
      // One room keeps at most a share of the budget: its oldest go first, not other rooms' histories.
      while (room.historyBytes > this.limits.storeMaxBytes * ROOM_SHARE_OF_STORE && room.history.length > 1) this.forget(room, room.history.shift()!);
      this.held.set(room.heldKey, { bytes: room.historyBytes });
    }
    return message;
  }

  private forget(room: Room, message: StoredMessage): void {
    if (room.ids.get(message.id) === message.seq) room.ids.delete(message.id);
    else if (room.sharedIds?.delete(resendKey(message.uid, message.id)) && room.sharedIds.size === 0) room.sharedIds = undefined;
    room.historyBytes -= messageBytes(message);
  }

  async append(draft: MessageDraft): Promise<Appended> {
    const room = this.roomFor(draft.roomid, true);
    if (typeof room === 'string') throw new StoreFullError('ROOM_LIMIT');
    const original = this.accepted(room, draft);
    if (original) return { message: original, duplicate: true };
    // A member's message, not a system notice: refused to someone removed meanwhile, or muted. A
    // recall notice is not checked here: the core checked membership, and a muted member may recall.
    if (draft.system === undefined && draft.recall === undefined) {
      if (room.members.size > 0 && !room.members.has(draft.uid)) throw new SendRefused('not-member');
      const silenced = room.group.silenced(draft.uid, this.now());
      if (silenced) throw silenced;
    }
    const message = this.keep(room, this.quoteAsKept(room, draft));
    this.noteMentions(room, message);
    this.bus.deliver({ kind: EnvelopeKind.RoomMessage, topic: roomTopic(draft.roomid), seq: message.seq, text: messageWire(message, this.countsOf(room)) });
    return { message, duplicate: false };
  }

  async appendDirect(draft: MessageDraft, to: string): Promise<AppendedDirect> {
    if (!this.users.has(to) && this.users.size >= this.limits.userLimit) throw new StoreFullError('USER_LIMIT');
    const room = this.roomFor(draft.roomid, true);
    if (typeof room === 'string') throw new StoreFullError('ROOM_LIMIT');
    const original = this.accepted(room, draft);
    if (original) return { message: original, duplicate: true, queued: true };
    const sender = this.userFor(draft.uid, draft.name);
    const recipient = this.userFor(to);
    const self = room.members.get(draft.uid);
    if (self === undefined) room.members.set(draft.uid, { name: draft.name });
    else self.name = draft.name;
    if (!room.members.has(to)) room.members.set(to, { name: recipient.name });
    sender.rooms.add(draft.roomid);
    recipient.rooms.add(draft.roomid);
    const message = this.keep(room, this.quoteAsKept(room, draft));
    const text = JSON.stringify(message);
    const queued = recipient.connections.size === 0;
    if (queued) this.pushInbox(to, recipient, message);
    else if (to !== draft.uid) this.bus.deliver({ kind: EnvelopeKind.DirectMessage, topic: userTopic(to), roomid: draft.roomid, seq: message.seq, text });
    this.bus.deliver({ kind: EnvelopeKind.DirectMessage, topic: userTopic(draft.uid), roomid: draft.roomid, seq: message.seq, text });
    return { message, duplicate: false, queued };
  }

  /** Synchronous up to and including the notice's append (which has no await either): one atomic step. */
  async recall(request: RecallRequest): Promise<Appended | RecallRefused> {
    const { notice } = request;
    const room = this.roomStates.get(notice.roomid);
    if (!room) return { refused: 'unknown' };
    const original = this.accepted(room, notice);
    if (original) return { message: original, duplicate: true };
    const seq = notice.recall!;
    const index = this.indexOf(room, seq);
    const target = index < 0 ? undefined : room.history.at(index);
    const refused = recallRefusal(target, request);
    if (refused) return { refused };
    const tombstone = tombstoneOf(target!, notice);
    this.rewrite(room, index, tombstone);
    // Later messages quoting it lose their excerpt.
    for (let i = index + 1; i < room.history.length; i += 1) {
      const kept = room.history.at(i)!;
      if (kept.quote?.seq === seq) this.rewrite(room, i, withQuoteRecalled(kept, seq));
    }
    if (notice.to === undefined) return this.append(notice);
    const recipient = this.users.get(notice.to);
    if (recipient) this.rewriteInbox(notice.to, recipient, notice.roomid, seq, tombstone);
    const { message, duplicate } = await this.appendDirect(notice, notice.to);
    return { message, duplicate };
  }

  /** The recalled message, and quotes of it, in an inbox that still holds them. */
  private rewriteInbox(uid: string, user: User, roomid: string, seq: number, tombstone: StoredMessage): void {
    let changed = false;
    user.inbox = user.inbox.map((message) => {
      if (message.roomid !== roomid) return message;
      const rewritten = message.seq === seq ? tombstone : withQuoteRecalled(message, seq);
      if (rewritten === message) return message;
      user.inboxBytes += messageBytes(rewritten) - messageBytes(message);
      changed = true;
      return rewritten;
    });
    if (changed) this.held.set(inboxKey(uid), { bytes: user.inboxBytes });
  }

  async readAfter(roomid: string, afterSeq: number, limit: number, beforeSeq?: number): Promise<HistorySlice> {
    const room = this.roomStates.get(roomid);
    if (!room) return { messages: [], gap: afterSeq > 0, lastSeq: 0 };
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
    const room = this.roomStates.get(roomid);
    if (!room) return { messages: [], gap: (beforeSeq ?? 0) > 1, lastSeq: 0 };
    const before = beforeSeq ?? room.seq + 1;
    const kept = room.history.toArray().filter((m) => m.seq < before);
    const messages = kept.slice(-limit);
    const oldestReturned = messages.length > 0 ? messages[0].seq : before;
    // Everything kept below `before` was returned, yet seqs below the oldest existed: they are gone.
    const gap = kept.length === messages.length && oldestReturned > 1;
    return { messages, gap, lastSeq: room.seq };
  }

  // ------------------------------------------------------------------------------------------
  // Users and inboxes

  async queueDirect(to: string, message: StoredMessage): Promise<void> {
    const recipient = this.userFor(to);
    if (recipient.connections.size > 0) return;
    if (recipient.inbox.some((m) => m.roomid === message.roomid && m.seq === message.seq)) return;
    this.pushInbox(to, recipient, message);
  }

  private pushInbox(uid: string, recipient: User, message: StoredMessage): void {
    recipient.inbox.push(message);
    recipient.inboxBytes += messageBytes(message);
    if (recipient.inbox.length > this.limits.inboxPerUser) {
      recipient.inboxBytes -= messageBytes(recipient.inbox.shift()!);
      recipient.inboxGap = true;
    }
    this.held.set(inboxKey(uid), { bytes: recipient.inboxBytes });
  }

  async connectUser(uid: string, name: string, connId: string): Promise<UserConnectResult> {
    const user = this.userFor(uid, name);
    const firstConnection = user.connections.size === 0;
    user.connections.add(connId);
    if (!firstConnection || (user.inbox.length === 0 && !user.inboxGap)) return { firstConnection, inbox: [], inboxGap: false };
    const { inbox, inboxGap } = user;
    user.inbox = [];
    user.inboxBytes = 0;
    user.inboxGap = false;
    this.held.delete(inboxKey(uid));
    return { firstConnection, inbox, inboxGap };
  }

  async disconnectUser(uid: string, connId: string): Promise<{ lastConnection: boolean }> {
    const user = this.users.get(uid);
    if (!user?.connections.delete(connId)) return { lastConnection: false };
    user.activeAt = this.now();
    return { lastConnection: user.connections.size === 0 };
  }

  async stats(): Promise<StoreStats> {
    let inboxMessages = 0;
    for (const user of this.users.values()) inboxMessages += user.inbox.length;
    let historyMessages = 0;
    for (const room of this.roomStates.values()) historyMessages += room.history.length;
    return { rooms: this.roomStates.size, users: this.users.size, historyMessages, inboxMessages, bytes: this.held.calculatedSize };
  }

  // ------------------------------------------------------------------------------------------
  // Groups (group-store.ts; the group's own state is memory-group.ts)

  async createGroup(roomid: string, uid: string, name: string, group: GroupCreation): Promise<'created' | 'taken' | 'store-full'> {
    if (this.roomStates.has(roomid)) return 'taken';
    const room = this.roomFor(roomid, true);
    if (typeof room === 'string') return 'store-full';
    room.members.set(uid, { name });
    room.group.joined(uid);
    room.group.title = group.title;
    room.group.private = group.private;
    this.userFor(uid, name).rooms.add(roomid);
    return 'created';
  }

  async group(roomid: string, uids: string[]): Promise<GroupState | undefined> {
    const room = this.roomStates.get(roomid);
    return room?.group.view(room.members, this.countsOf(room), uids, this.now());
  }

  async changeGroup(roomid: string, change: GroupChange, expect: Array<[uid: string, standing: Standing]>): Promise<ChangeOutcome> {
    const room = this.roomStates.get(roomid);
    if (!room || expect.some(([uid, standing]) => room.group.standing(uid, room.members) !== standing)) return 'stale';
    const outcome = room.group.apply(change, room.members, this.now());
    if (outcome !== 'done') return outcome;
    room.activeAt = this.now();
    if (change.op === 'invite') {
      room.members.set(change.user, { name: change.name });
      this.userFor(change.user).rooms.add(roomid);
    } else if ((change.op === 'kick' || change.op === 'ban') && room.members.delete(change.user)) {
      room.online.delete(change.user);
      room.group.left(change.user, room.members);
      this.users.get(change.user)?.rooms.delete(roomid);
    }
    return 'done';
  }

  async userName(uid: string): Promise<string | undefined> {
    return this.users.get(uid)?.name;
  }

  // ------------------------------------------------------------------------------------------
  // Snapshot

  /** Least recently used history first, so a restore keeps the byte budget's order. */
  snapshot(): MemorySnapshot {
    const rooms: MemorySnapshot['rooms'] = [];
    const order = [...this.held.rkeys()].filter((key) => key.startsWith('h\n')).map((key) => key.slice(2));
    const ordered = new Set([...this.roomStates.keys()].filter((id) => !this.held.has(historyKey(id))).concat(order));
    for (const id of ordered) {
      const room = this.roomStates.get(id);
      if (!room) continue;
      const members: MemorySnapshot['rooms'][number]['members'] = [];
      const reads: NonNullable<MemorySnapshot['rooms'][number]['reads']> = [];
      for (const [uid, member] of room.members) {
        members.push([uid, member.name, member.cursor ?? null]);
        if (member.read !== undefined || member.mention) reads.push([uid, member.read ?? 0, member.mention?.first ?? null, member.mention?.last ?? null]);
      }
      rooms.push({ id, seq: room.seq, epoch: room.epoch, history: room.history.toArray(), members, group: room.group.toSnapshot(), reads });
    }
    const users: MemorySnapshot['users'] = [];
    for (const [uid, user] of this.users) users.push({ uid, name: user.name, rooms: [...user.rooms], inbox: user.inbox, inboxGap: user.inboxGap });
    return { version: 3, takenAt: this.now(), rooms, users };
  }

  /** Loads a snapshot into this (empty) store. The caller has verified the snapshot as a whole. */
  restore(snapshot: MemorySnapshot): void {
    for (const saved of snapshot.rooms) {
      const room = this.newRoom(saved.id, saved.seq, saved.epoch);
      for (const [uid, name, cursor] of saved.members) room.members.set(uid, cursor === null ? { name } : { name, cursor });
      room.group = RoomGroup.fromSnapshot(saved.group);
      for (const [uid, read, first, last] of saved.reads ?? []) {
        const member = room.members.get(uid);
        if (!member) continue;
        member.read = read;
        if (first !== null && last !== null) member.mention = { first, last };
      }
      this.roomStates.set(saved.id, room);
      room.seq = 0;
      for (const message of saved.history) {
        room.seq = message.seq - 1;
        this.keep(room, message);
      }
      room.seq = saved.seq;
    }
    for (const saved of snapshot.users) {
      const user = this.userFor(saved.uid, saved.name);
      for (const roomid of saved.rooms) user.rooms.add(roomid);
      for (const message of saved.inbox) this.pushInbox(saved.uid, user, message);
      user.inboxGap ||= saved.inboxGap;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
