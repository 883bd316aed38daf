import { EnvelopeKind, type RoomCounts, type RoomMessageEnvelope } from '../core/envelope.ts';
import { roomTopic } from '../core/topics.ts';

/** A room message as the subscriber received it: the envelope, and the room's epoch and counts from its header. */
export interface Published {
  envelope: RoomMessageEnvelope;
  epoch: string;
  counts: RoomCounts;
}

/** A message read back from a room's history stream, as its envelope's frame text. */
export interface FetchedMessage {
  seq: number;
  text: string;
}

/** What a node's subscriber missed, read from history (CATCH_UP): nothing when the room is in another epoch. */
export interface CaughtUp extends RoomCounts {
  epoch: string;
  lastSeq: number;
  messages: FetchedMessage[];
}

export type FetchAfter = (roomid: string, afterSeq: number, epoch: string) => Promise<CaughtUp>;

export interface RoomOrderHooks {
  emit(envelope: RoomMessageEnvelope): void;
  /** The room's seqs started over (a new epoch): its connections must resume from the start. */
  restarted(epoch: string, lastSeq: number, counts: RoomCounts): void;
  /** The epoch this node knew for the room before any message came ('' when none). */
  knownEpoch(): string;
  onError(err: unknown): void;
}

/**
 * Keeps one room's Message envelopes in seq order on this node, without holes. Redis pub/sub already
 * delivers a room's messages in seq order (the append script publishes them); a hole means this
 * node's subscriber missed some (it was reconnecting). Then the room's history fills the hole before
 * anything newer goes out: the core drops an envelope whose seq is not above the last it delivered,
 * so a late one would be lost.
 *
 * Every message carries the room's epoch. A message of another epoch than the last (Redis lost or
 * rolled back the room's counter, and its seqs started over) resets the order at that message and
 * is announced first (`restarted`), so this node's connections reset their cursors instead of
 * dropping the new seqs as already seen.
 */
export class RoomOrder {
  private last: number | undefined;
  private epoch: string | undefined;
  private held: Published[] = [];
  private filling = false;

  constructor(
    private readonly roomid: string,
    private readonly fetchAfter: FetchAfter,
    private readonly hooks: RoomOrderHooks,
  ) {}

  get lastSeq(): number | undefined {
    return this.last;
  }

  /** The epoch of the messages delivered last. */
  get currentEpoch(): string | undefined {
    return this.epoch;
  }

  receive(published: Published): void {
    if (this.filling) this.held.push(published);
    else this.accept(published);
  }

  /** After the subscriber reconnected: whatever was published meanwhile comes from history. */
  catchUp(): void {
    if (this.last !== undefined && !this.filling) void this.fill();
  }

  private accept(published: Published): void {
    this.followEpoch(published);
    const seq = published.envelope.seq;
    if (this.last === undefined || seq === this.last + 1) {
      this.deliver(published.envelope);
    } else if (seq > this.last + 1) {
      this.held.push(published);
      void this.fill();
    }
    // seq <= last: already delivered.
  }

  private followEpoch({ envelope, epoch, counts }: Published): void {
    const known = this.epoch ?? this.hooks.knownEpoch();
    if (known !== '' && epoch !== known) this.restart(epoch, envelope.seq - 1, counts);
    this.epoch = epoch;
  }

  private restart(epoch: string, lastSeq: number, counts: RoomCounts): void {
    this.epoch = epoch;
    this.last = lastSeq;
    this.hooks.restarted(epoch, lastSeq, counts);
  }

  private deliver(envelope: RoomMessageEnvelope): void {
    if (this.last !== undefined && envelope.seq <= this.last) return;
    this.last = envelope.seq;
    this.hooks.emit(envelope);
  }

  private async fill(): Promise<void> {
    this.filling = true;
    try {
      const epoch = this.epoch ?? '';
      const caught = await this.fetchAfter(this.roomid, this.last!, epoch);
      if (caught.epoch !== epoch) {
        // What the new epoch holds, the connections replay when they resume from the start.
        if (caught.epoch !== '') this.restart(caught.epoch, caught.lastSeq, caught);
      } else {
        for (const { seq, text } of caught.messages) {
          this.deliver({ kind: EnvelopeKind.RoomMessage, topic: roomTopic(this.roomid), seq, text });
        }
      }
    } catch (err) {
      // History unreachable: what was not kept is a gap the client sees on its next resume.
      this.hooks.onError(err);
    } finally {
      this.filling = false;
      // What history could not fill stays a hole: the rest goes out, for resumes to report the gap.
      const held = this.held;
      this.held = [];
      for (const published of held) {
        this.followEpoch(published);
        this.deliver(published.envelope);
      }
    }
  }
}
