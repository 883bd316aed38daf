/**
 * One connection's place in one room: which of the room's messages this connection has been sent,
 * and which it has surely received. Every move of those cursors happens here, through the named
 * transitions below; nothing else writes them.
 *
 * - `sent`: the highest seq sent on this connection. A live message at or below it is not sent
 *   again (a replay already sent it, or a bus delivered it twice): exactly once per connection.
 * - `confirmed`: everything up to it has surely arrived: the client answered a heartbeat ping sent
 *   after it. After an abrupt close only this much counts as delivered (the offline cursor).
 * - While a join replays history, live traffic for the room is held and offered again after it.
 */

import { type Envelope, EnvelopeKind } from './envelope.ts';

export class Subscription {
  private sent = 0;
  /** `sent` when the latest heartbeat ping went out. */
  private sentAtPing = 0;
  private confirmed = 0;
  private held: Envelope[] | undefined;
  /** The client asked for replies (its join had an id): it understands frames the course's client would show as chat lines. */
  private wantsReplies = false;

  constructor(readonly roomid: string) {}

  /** The room's newest seq this connection has been sent. */
  get lastSent(): number {
    return this.sent;
  }

  get replaying(): boolean {
    return this.held !== undefined;
  }

  /** A join begins: live traffic is held until the join has replayed what it replays. */
  beginJoin(wantsReplies: boolean): void {
    this.held ??= [];
    this.wantsReplies = wantsReplies;
  }

  /**
   * The join replays nothing: live delivery goes on after the room's newest seq. A fresh
   * subscription counts that seq as confirmed (nothing before it is owed to this connection).
   * Returns what was held, to be offered again in order.
   */
  joinedAt(roomLastSeq: number, fresh: boolean): Envelope[] {
    this.sent = Math.max(this.sent, roomLastSeq);
    if (fresh) this.sentAtPing = this.confirmed = roomLastSeq;
    return this.release();
  }

  /**
   * The join replayed the room from `from` up to `roomLastSeq` (the room's newest when the replay
   * read it; the room's own seq, never the client's: a resume from before a state loss must not hide
   * the new messages that reuse those seqs). Only `from` is confirmed.
   */
  replayedTo(from: number, roomLastSeq: number): Envelope[] {
    this.sent = roomLastSeq;
    this.sentAtPing = this.confirmed = Math.min(from, roomLastSeq);
    return this.release();
  }

  /** Whether a live envelope goes out now; held during a join, and a message goes out once. */
  offer(envelope: Envelope): boolean {
    if (this.held) {
      this.held.push(envelope);
      return false;
    }
    if (envelope.kind === EnvelopeKind.RoomRestarted) {
      // The room's new seqs are all new to this connection. The notice (an unrequested `joined`)
      // goes only to clients that use request ids; the course's client would render it as a line.
      this.sent = this.sentAtPing = this.confirmed = 0;
      return this.wantsReplies;
    }
    if (envelope.kind !== EnvelopeKind.RoomMessage) return true;
    if (envelope.seq <= this.sent) return false;
    this.sent = envelope.seq;
    return true;
  }

  /** A heartbeat ping is going out now. */
  pinged(): void {
    this.sentAtPing = this.sent;
  }

  /** The client answered the latest ping: what was sent before it has arrived. */
  ponged(): void {
    this.confirmed = this.sentAtPing;
  }

  /** The cursor to keep when the connection ends: all that was sent after a clean close, else what was confirmed. */
  cursorOnClose(clean: boolean): number {
    return clean ? this.sent : this.confirmed;
  }

  private release(): Envelope[] {
    const held = this.held ?? [];
    this.held = undefined;
    return held;
  }
}
