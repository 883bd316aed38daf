import { LRUCache } from 'lru-cache';

/**
 * What this node knows of each room's seqs: the epoch they belong to and the highest seq seen in it
 * (joins, appends, deliveries). Sent with every join and append as a floor, and put back into Redis
 * when it reconnects to a Redis that restarted (RESTORE_FLOOR), so a Redis that lost or rolled back
 * its data continues each room's seqs where this node saw them, in the same epoch, instead of handing
 * out seqs that connections would drop as old (see counter() in lua-prelude.ts).
 */
export class SeqWatermarks {
  private readonly rooms: LRUCache<string, { epoch: string; seq: number }>;

  constructor(maxRooms: number) {
    this.rooms = new LRUCache({ max: maxRooms });
  }

  /** `epoch` when known: a seq of another epoch than the one noted starts the room's floor again. */
  note(roomid: string, seq: number, epoch?: string): void {
    const known = this.rooms.get(roomid);
    if (!known || (epoch !== undefined && epoch !== '' && epoch !== known.epoch)) {
      this.rooms.set(roomid, { epoch: epoch ?? known?.epoch ?? '', seq });
    } else if (seq > known.seq) {
      known.seq = seq;
    }
  }

  /** The highest seq seen in the room's epoch, 0 when none. */
  floor(roomid: string): number {
    return this.rooms.get(roomid)?.seq ?? 0;
  }

  /** The room's epoch as this node last saw it, '' when unknown. */
  epoch(roomid: string): string {
    return this.rooms.get(roomid)?.epoch ?? '';
  }
}
