import type { ChatMessage } from '@chatroom/server/protocol';
import type { RoomArchive } from './room-archive';

/**
 * What the user has read, per room: a read seq and the count of others' messages above it, kept in
 * the room's archive record (so a relaunch keeps its badges). A room is read while it is on screen
 * (`open` until `close`, and not while the app is in the background).
 *
 * Designed to be replaced by server-side read cursors: the state is a seq, not a set of ids, so a
 * read seq synced across devices (a later protocol event) only has to call `markRead` with it, and
 * `markRead` is where this device would report its own reads.
 */
export class ReadMarks {
  /** Rooms on screen, by how many pages show them (a chat and its member list can both be open). */
  private readonly onScreen = new Map<string, number>();
  private foreground = true;

  constructor(
    private readonly archive: RoomArchive,
    private readonly selfUid: () => string | undefined,
    private readonly changed: (roomid: string, unread: number) => void,
  ) {}

  unread(roomid: string): number {
    return this.archive.has(roomid) ? this.archive.record(roomid).unread : 0;
  }

  /** A message that was not seen before arrived (live, replayed, or caught up). */
  incoming(message: ChatMessage): void {
    const record = this.archive.record(message.roomid);
    if (message.seq <= record.readSeq) return;
    if (this.visible(message.roomid) || message.uid === this.selfUid()) {
      record.readSeq = message.seq;
    } else {
      record.unread += 1;
      this.changed(message.roomid, record.unread);
    }
    this.archive.touch(message.roomid);
  }

  /** Everything up to `seq` is read (the room was looked at, or another device read it). */
  markRead(roomid: string, seq: number): void {
    const record = this.archive.record(roomid);
    const before = record.unread;
    record.readSeq = Math.max(record.readSeq, seq);
    record.unread = 0;
    this.archive.touch(roomid);
    if (before !== 0) this.changed(roomid, 0);
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

  private visible(roomid: string): boolean {
    return this.foreground && this.onScreen.has(roomid);
  }
}
