import { LRUCache } from 'lru-cache';

/**
 * The highest seq this node has seen per room (joins, appends, deliveries). Sent with every append
 * as a floor, so a Redis that lost its data (restart without persistence) resumes each room's
 * counter where this node saw it, instead of sending seqs that connections would drop as old.
 */
export class SeqWatermarks {
  private readonly seqs: LRUCache<string, number>;

  constructor(maxRooms: number) {
    this.seqs = new LRUCache({ max: maxRooms });
  }

  note(roomid: string, seq: number): void {
    const known = this.seqs.get(roomid);
    if (known === undefined || seq > known) this.seqs.set(roomid, seq);
  }

  get(roomid: string): number {
    return this.seqs.get(roomid) ?? 0;
  }
}
