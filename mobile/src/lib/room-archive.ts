import { type ChatMessage, type GroupProfile, type RecallMark, ServerEvent } from '@chatroom/server/protocol';
import { recallIn } from './message-actions';
import { type KeyValueStorage, utf8Length } from './storage';

/** A message as kept on the phone: what the pages show, without the wire-only fields. */
export type KeptMessage = Pick<ChatMessage, 'id' | 'seq' | 'ts' | 'uid' | 'name' | 'message'> &
  Partial<Pick<ChatMessage, 'to' | 'system' | 'kind' | 'quote' | 'mentions' | 'mentionAll' | 'recall' | 'recalled'>>;

/** Fields kept besides the always-present ones. */
const OPTIONAL_FIELDS = ['to', 'system', 'kind', 'quote', 'mentions', 'mentionAll', 'recall', 'recalled'] as const;

/** One room or direct chat on the phone: one storage key, written whole, so its parts never disagree. */
export interface RoomRecord {
  /** The resume point (SeqCursor.through): never ahead of `messages`, which are written with it. */
  through?: number;
  /** The server epoch `through` belongs to. */
  epoch?: string;
  /** The newest messages, oldest first. */
  messages: KeptMessage[];
  /** Read state (read-marks.ts): messages up to this seq have been seen. */
  readSeq: number;
  unread: number;
  /** The newest seq of the room known here (unread = lastSeq − readSeq, as the server counts it). */
  lastSeq?: number;
  /** Direct chats: the other member's name, for the title before any message. */
  peerName?: string;
  /** Direct chats: the peer's read cursor (已读 under own messages up to it). */
  peerRead?: number;
  /** The seq of the first unread message that mentions the user ("[有人@我]"), until read past it. */
  mention?: number;
  /** Rooms: the title and whether it is private (from `rooms`, `invited` or the profile), for the list before any network. */
  title?: string;
  private?: boolean;
  /** Rooms: the profile as the user last saw it as a member (the notice, their role and mute), without the admin lists. */
  group?: GroupProfile;
}

export interface ArchiveLimits {
  /** Messages kept per room. */
  tailMessages: number;
  /** Bytes per room key (WeChat refuses a key over 1 MB). */
  keyBytes: number;
  /** Bytes of all rooms together (WeChat allows 10 MB per mini-program, browsers about 5 MB). */
  totalBytes: number;
  /** What a room keeps at least when space runs out, before it loses its tail altogether. */
  minTailMessages: number;
  /** Writes wait this long, so a burst of messages is one write per room. */
  flushDelayMs: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  tailMessages: 200,
  keyBytes: 128 * 1024,
  totalBytes: 4 * 1024 * 1024,
  minTailMessages: 20,
  flushDelayMs: 1_000,
};

const INDEX_KEY = 'rooms';
const ROOM_KEY_PREFIX = 'room.';

/** Bookkeeping per room, in one small key: bytes written and last activity, to choose what to trim. */
type Index = Record<string, { bytes: number; at: number }>;

/**
 * The phone's copy of every conversation: a bounded tail of messages, the resume cursor and the
 * read state of each room, in a key per room, written in batches (every `flushDelayMs`, and at once
 * when the app goes to the background). Within the byte budget: a room over `keyBytes` loses its
 * oldest messages; all rooms over `totalBytes` trim the least recently active ones first. Older
 * messages than a tail holds are asked from the server (`history before`).
 */
export class RoomArchive {
  private readonly records = new Map<string, RoomRecord>();
  private readonly index: Index;
  private readonly dirty = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Where `through` and `epoch` come from at write time (the room's subscription). */
  cursorOf: (roomid: string) => { through?: number; epoch?: string } = () => ({});

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
  ) {
    this.index = storage.get<Index>(INDEX_KEY) ?? {};
    for (const roomid of Object.keys(this.index)) {
      const record = storage.get<RoomRecord>(ROOM_KEY_PREFIX + roomid);
      if (record) this.records.set(roomid, record);
      else delete this.index[roomid];
    }
  }

  rooms(): string[] {
    return [...this.records.keys()];
  }

  has(roomid: string): boolean {
    return this.records.has(roomid);
  }

  /** The room's record, created empty on first use. Change it, then `touch`. */
  record(roomid: string): RoomRecord {
    let record = this.records.get(roomid);
    if (!record) {
      record = { messages: [], readSeq: 0, unread: 0 };
      this.records.set(roomid, record);
    }
    return record;
  }

  /** A message newer than what the tail may hold: into the tail, in seq order. */
  append(roomid: string, message: ChatMessage): void {
    const tail = this.record(roomid).messages;
    const kept = keep(message);
    let at = tail.length;
    while (at > 0 && tail[at - 1].seq > kept.seq) at -= 1;
    // Older than the whole full tail: it belongs to the server's history, not to the tail.
    if (at === 0 && tail.length >= this.limits.tailMessages) return;
    tail.splice(at, 0, kept);
    if (tail.length > this.limits.tailMessages) tail.splice(0, tail.length - this.limits.tailMessages);
    this.touch(roomid, message.ts);
  }

  /**
   * Message `seq` was recalled: its text (and quote, mentions) leaves the phone, and every kept quote
   * of it turns recalled. Written with the next batch like any change.
   */
  recall(roomid: string, seq: number, mark: RecallMark): void {
    if (!this.records.has(roomid)) return;
    const messages = this.record(roomid).messages;
    if (
      recallIn(
        messages,
        seq,
        mark,
        (m) => m.kind === 'recall',
        (m) => (m.message = ''),
      )
    )
      this.touch(roomid);
  }

  /** The record changed: it is written with the next batch. */
  touch(roomid: string, activityAt?: number): void {
    this.record(roomid);
    const entry = (this.index[roomid] ??= { bytes: 0, at: 0 });
    if (activityAt !== undefined) entry.at = Math.max(entry.at, activityAt);
    this.dirty.add(roomid);
    this.timer ??= setTimeout(() => this.flush(), this.limits.flushDelayMs);
  }

  remove(roomid: string): void {
    this.records.delete(roomid);
    this.dirty.delete(roomid);
    delete this.index[roomid];
    this.storage.remove(ROOM_KEY_PREFIX + roomid);
    this.writeIndex();
  }

  /** Writes every changed room now, within the limits. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty.size === 0) return;
    const rooms = [...this.dirty];
    this.dirty.clear();
    for (const roomid of rooms) this.write(roomid);
    this.enforceTotal();
    this.writeIndex();
  }

  /** No more writes (a stopped client: what is not flushed by now is not written). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private write(roomid: string): void {
    const record = this.records.get(roomid);
    if (!record) return;
    Object.assign(record, this.cursorOf(roomid));
    let text = JSON.stringify(record);
    let bytes = utf8Length(text);
    // Over the per-key limit: the oldest tenth goes until it fits.
    while (bytes > this.limits.keyBytes && record.messages.length > 0) {
      record.messages.splice(0, Math.max(1, Math.ceil(record.messages.length / 10)));
      text = JSON.stringify(record);
      bytes = utf8Length(text);
    }
    try {
      this.storage.set(ROOM_KEY_PREFIX + roomid, record);
    } catch {
      // Storage full (other data of the app, or of another user): make room and try once more.
      this.shrinkAll(new Set([roomid]), this.limits.minTailMessages);
      try {
        this.storage.set(ROOM_KEY_PREFIX + roomid, record);
      } catch {
        this.dirty.add(roomid);
        return;
      }
    }
    this.index[roomid] = { bytes, at: this.index[roomid]?.at ?? 0 };
  }

  /**
   * All rooms over the total: the least recently active lose their older messages first, down to
   * `minTailMessages`, then altogether; the most recently active room (the one on screen, most
   * likely) keeps its tail.
   */
  private enforceTotal(): void {
    if (this.totalBytes() <= this.limits.totalBytes) return;
    const newest = Object.keys(this.index).sort((a, b) => this.index[b].at - this.index[a].at)[0];
    const spare = new Set(newest === undefined ? [] : [newest]);
    this.shrinkAll(spare, this.limits.minTailMessages);
    if (this.totalBytes() > this.limits.totalBytes) this.shrinkAll(spare, 0);
  }

  /** Trims rooms, least recently active first, to `keepMessages`, until the total fits. */
  private shrinkAll(spare: Set<string>, keepMessages: number): void {
    const candidates = Object.keys(this.index)
      .filter((roomid) => !spare.has(roomid))
      .sort((a, b) => this.index[a].at - this.index[b].at);
    for (const roomid of candidates) {
      if (this.totalBytes() <= this.limits.totalBytes) return;
      const record = this.records.get(roomid);
      if (!record || record.messages.length <= keepMessages) continue;
      record.messages.splice(0, record.messages.length - keepMessages);
      this.write(roomid);
    }
  }

  private totalBytes(): number {
    let total = 0;
    for (const entry of Object.values(this.index)) total += entry.bytes;
    return total;
  }

  private writeIndex(): void {
    try {
      this.storage.set(INDEX_KEY, this.index);
    } catch {
      // The index is rebuilt from what loads next time; the room keys are what matter.
    }
  }
}

function keep(message: ChatMessage): KeptMessage {
  const { id, seq, ts, uid, name, message: text } = message;
  const kept: KeptMessage = { id, seq, ts, uid, name, message: text };
  for (const field of OPTIONAL_FIELDS) if (message[field] !== undefined) (kept as Record<string, unknown>)[field] = message[field];
  return kept;
}

/** A kept message as the client emits it. */
export function unkeep(roomid: string, kept: KeptMessage): ChatMessage {
  return { event: ServerEvent.Message, roomid, ...kept };
}
