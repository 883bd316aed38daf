const REMEMBERED = 500;

/**
 * What a room has delivered: the highest `seq` (sent back as `since` to resume) and the recent ids
 * and seqs, so a replay, a history page or a resend never shows a message twice, even when they
 * arrive out of order.
 */
export class SeqCursor {
  private ids = new Set<string>();
  private seqs = new Set<number>();
  private order: Array<[string, number]> = [];
  /** Seqs up to this one count as seen: from an earlier run of the app, or forgotten for space. */
  private floor: number;

  constructor(private last: number | undefined) {
    this.floor = last ?? 0;
  }

  /** The highest seq delivered, undefined before the first. */
  get since(): number | undefined {
    return this.last;
  }

  /** Records a delivered message; false when it was delivered before. */
  accept(id: string, seq: number): boolean {
    if (this.ids.has(id) || this.seqs.has(seq) || seq <= this.floor) return false;
    this.ids.add(id);
    this.seqs.add(seq);
    this.order.push([id, seq]);
    if (this.order.length > REMEMBERED) {
      const [oldId, oldSeq] = this.order.shift()!;
      this.ids.delete(oldId);
      this.seqs.delete(oldSeq);
      this.floor = Math.max(this.floor, oldSeq);
    }
    if (this.last === undefined || seq > this.last) this.last = seq;
    return true;
  }

  /**
   * The server's seqs started over (an in-memory server restarted): forget seqs, keep ids, so the
   * new seq 1, 2... are not mistaken for messages already seen.
   */
  restart(): void {
    this.last = 0;
    this.seqs.clear();
    this.order = this.order.map(([id]) => [id, 0]);
    this.floor = 0;
  }
}
