import { EnvelopeKind, type RoomMessageEnvelope } from '../core/envelope.ts';
import { roomTopic } from '../core/topics.ts';

/** A message read back from a room's history stream, as its envelope's frame text. */
export interface FetchedMessage {
  seq: number;
  text: string;
}

export type FetchAfter = (roomid: string, afterSeq: number) => Promise<FetchedMessage[]>;

/**
 * Keeps one room's Message envelopes in seq order on this node, without holes. Redis pub/sub already
 * delivers a room's messages in seq order (the append script publishes them); a hole means this
 * node's subscriber missed some (it was reconnecting). Then the room's history fills the hole before
 * anything newer goes out: the core drops an envelope whose seq is not above the last it delivered,
 * so a late one would be lost.
 */
export class RoomOrder {
  private last: number | undefined;
  private held: RoomMessageEnvelope[] = [];
  private filling = false;

  constructor(
    private readonly roomid: string,
    private readonly fetchAfter: FetchAfter,
    private readonly emit: (envelope: RoomMessageEnvelope) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  get lastSeq(): number | undefined {
    return this.last;
  }

  receive(envelope: RoomMessageEnvelope): void {
    const seq = envelope.seq;
    if (this.filling) {
      this.held.push(envelope);
    } else if (this.last === undefined || seq === this.last + 1) {
      this.deliver(envelope);
    } else if (seq > this.last + 1) {
      this.held.push(envelope);
      void this.fill();
    }
    // seq <= last: already delivered.
  }

  /** After the subscriber reconnected: whatever was published meanwhile comes from history. */
  catchUp(): void {
    if (this.last !== undefined && !this.filling) void this.fill();
  }

  private deliver(envelope: RoomMessageEnvelope): void {
    if (this.last !== undefined && envelope.seq <= this.last) return;
    this.last = envelope.seq;
    this.emit(envelope);
  }

  private async fill(): Promise<void> {
    this.filling = true;
    try {
      const missed = await this.fetchAfter(this.roomid, this.last!);
      for (const { seq, text } of missed) {
        this.deliver({ kind: EnvelopeKind.RoomMessage, topic: roomTopic(this.roomid), seq, text });
      }
    } catch (err) {
      // History unreachable: what was not kept is a gap the client sees on its next resume.
      this.onError(err);
    } finally {
      this.filling = false;
      const held = this.held.sort((a, b) => a.seq - b.seq);
      this.held = [];
      for (const envelope of held) this.deliver(envelope);
    }
  }
}
