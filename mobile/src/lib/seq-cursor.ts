const REMEMBERED_IDS = 500;

/**
 * What a room has delivered, by seq (per room, from 1, one step per message). `through` is the
 * resume point: every seq up to it has been delivered or is known to be gone, so `since`/`after`
 * = `through` never skips a message. Seqs that came early (above a hole) are held until the hole
 * fills. Recent ids are kept too, so a resend or a replay after the server's seqs started over is
 * still recognised.
 */
export class SeqCursor {
  private above = new Set<number>();
  private readonly ids = new Set<string>();
  private readonly idOrder: string[] = [];

  constructor(
    private done: number | undefined,
    knownIds: Iterable<string> = [],
  ) {
    for (const id of knownIds) this.rememberId(id);
  }

  /** The resume point; undefined when the room was never read on this device. */
  get through(): number | undefined {
    return this.done;
  }

  /** Records a delivered message; false when it was delivered before. */
  accept(id: string, seq: number): boolean {
    if (this.ids.has(id) || seq <= (this.done ?? 0) || this.above.has(seq)) return false;
    this.rememberId(id);
    this.above.add(seq);
    this.advance();
    return true;
  }

  /** Everything up to `seq` has been delivered or is gone (the end of a replay, of a history page). */
  settle(seq: number): void {
    if (this.done !== undefined && seq <= this.done) return;
    this.done = seq;
    for (const s of this.above) if (s <= seq) this.above.delete(s);
    this.advance();
  }

  /**
   * The server's seqs started over (an in-memory server restarted): forget seqs, keep ids, so the
   * new seq 1, 2... are not mistaken for messages already seen.
   */
  restart(): void {
    this.done = 0;
    this.above.clear();
  }

  private advance(): void {
    let next = (this.done ?? 0) + 1;
    while (this.above.delete(next)) {
      this.done = next;
      next += 1;
    }
  }

  private rememberId(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.idOrder.push(id);
    if (this.idOrder.length > REMEMBERED_IDS) this.ids.delete(this.idOrder.shift()!);
  }
}
