import type { ChatMessage } from '@chatroom/server/protocol';
import type { RoomArchive } from './room-archive';

/** What the server says of a room's read state (`joined`, a `rooms` entry, a `read` event of one's own). */
export interface ServerReadState {
  /** The user's read cursor. */
  read?: number;
  /** The room's newest seq, when known. */
  lastSeq?: number;
  /** The first unread seq that mentions the user; `null`: the server says there is none. */
  mention?: number | null;
}

/**
 * What the user has read, per room: a read seq (the server's read cursor, synced across the user's
 * devices) and the newest seq known, kept in the room's archive record so a relaunch keeps its
 * badges. Unread is `lastSeq − read`, as the server counts it, so every device shows the same
 * badge. A room is read while it is on screen (`open` until `close`, and not while the app is in
 * the background); reading moves the cursor here and is reported through `reported` (read-reporter.ts
 * sends it, at most every few seconds).
 */
export class ReadMarks {
  /** Rooms on screen, by how many pages show them (a chat and its member list can both be open). */
  private readonly onScreen = new Map<string, number>();
  private foreground = true;
  /** Called when this device read up to `seq` (to be told to the server). */
  reported: (roomid: string, seq: number) => void = () => {};
  /** Called when a room's "[有人@我]" changes. */
  mentionChanged: (roomid: string, seq: number | undefined) => void = () => {};

  constructor(
    private readonly archive: RoomArchive,
    private readonly selfUid: () => string | undefined,
    private readonly changed: (roomid: string, unread: number) => void,
  ) {}

  unread(roomid: string): number {
    return this.archive.has(roomid) ? this.archive.record(roomid).unread : 0;
  }

  mention(roomid: string): number | undefined {
    return this.archive.has(roomid) ? this.archive.record(roomid).mention : undefined;
  }

  readSeq(roomid: string): number {
    return this.archive.has(roomid) ? this.archive.record(roomid).readSeq : 0;
  }

  /** A message that was not seen before arrived (live, replayed, or caught up). */
  incoming(message: ChatMessage): void {
    const record = this.archive.record(message.roomid);
    record.lastSeq = Math.max(record.lastSeq ?? 0, message.seq);
    const self = this.selfUid();
    if (message.seq > record.readSeq) {
      if (this.visible(message.roomid)) {
        this.moveTo(message.roomid, message.seq, true);
        return;
      }
      // One's own message (from another device too) is read up to it, as the sender's next read says.
      if (message.uid === self) record.readSeq = message.seq;
      else if (record.mention === undefined && self !== undefined && (message.mentionAll || message.mentions?.includes(self))) {
        record.mention = message.seq;
        this.mentionChanged(message.roomid, message.seq);
      }
    }
    this.recount(message.roomid);
  }

  /** This device read everything up to `seq` (the room was looked at). */
  markRead(roomid: string, seq: number): void {
    this.moveTo(roomid, seq, true);
  }

  /** The server's read state: its cursor (another device may have moved it), counts, mention. */
  server(roomid: string, state: ServerReadState): void {
    const record = this.archive.record(roomid);
    if (state.lastSeq !== undefined) record.lastSeq = Math.max(record.lastSeq ?? 0, state.lastSeq);
    if (state.mention !== undefined) {
      const mention = state.mention === null ? undefined : state.mention;
      if (mention !== record.mention) {
        record.mention = mention;
        this.mentionChanged(roomid, mention);
      }
    }
    if (state.read !== undefined) this.moveTo(roomid, state.read, false);
    else this.recount(roomid);
  }

  /** The server's seqs started over (a new epoch): the old cursor means nothing any more. */
  restart(roomid: string, read = 0): void {
    const record = this.archive.record(roomid);
    record.readSeq = read;
    record.lastSeq = read;
    this.recount(roomid);
  }

  open(roomid: string, latestSeq: number): void {
    this.onScreen.set(roomid, (this.onScreen.get(roomid) ?? 0) + 1);
    if (this.foreground) this.markRead(roomid, latestSeq);
  }

  close(roomid: string): void {
    const count = (this.onScreen.get(roomid) ?? 0) - 1;
    if (count > 0) this.onScreen.set(roomid, count);
    else this.onScreen.delete(roomid);
  }

  /** The app went to the background: what arrives now is unread, even in the chat left open. */
  background(): void {
    this.foreground = false;
  }

  foregroundAgain(latestSeq: (roomid: string) => number): void {
    this.foreground = true;
    for (const roomid of this.onScreen.keys()) this.markRead(roomid, latestSeq(roomid));
  }

  visible(roomid: string): boolean {
    return this.foreground && this.onScreen.has(roomid);
  }

  private moveTo(roomid: string, seq: number, own: boolean): void {
    const record = this.archive.record(roomid);
    if (seq > record.readSeq) {
      record.readSeq = seq;
      if (own) this.reported(roomid, seq);
    }
    if (record.mention !== undefined && record.mention <= record.readSeq) {
      record.mention = undefined;
      this.mentionChanged(roomid, undefined);
    }
    this.recount(roomid);
  }

  private recount(roomid: string): void {
    const record = this.archive.record(roomid);
    record.lastSeq = Math.max(record.lastSeq ?? 0, record.readSeq);
    const unread = Math.max(0, record.lastSeq - record.readSeq);
    this.archive.touch(roomid);
    if (unread === record.unread) return;
    record.unread = unread;
    this.changed(roomid, unread);
  }
}
