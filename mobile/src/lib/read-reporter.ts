/**
 * Tells the server how far the user has read, per room: at most one `read` per room every
 * `intervalMs` while reading (the newest seq seen by then), and at once on `flush` (the chat was
 * left, the app goes to the background). What could not be sent (no socket) goes after the next
 * `online`. The server keeps the highest cursor, so a repeat does no harm.
 */
export class ReadReporter {
  /** The newest seq read, per room, not yet sent. */
  private readonly wanted = new Map<string, number>();
  private readonly sentAt = new Map<string, number>();
  private readonly sentSeq = new Map<string, number>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    /** Sends `read`; false when there is no socket to send it on. */
    private readonly send: (roomid: string, seq: number) => boolean,
    private readonly intervalMs = 3_000,
  ) {}

  /** The user has read `roomid` up to `seq`. */
  seen(roomid: string, seq: number): void {
    if (seq <= Math.max(this.sentSeq.get(roomid) ?? 0, this.wanted.get(roomid) ?? 0)) return;
    this.wanted.set(roomid, seq);
    if (this.timers.has(roomid)) return;
    const wait = (this.sentAt.get(roomid) ?? -Infinity) + this.intervalMs - Date.now();
    if (wait <= 0) this.sendNow(roomid);
    else
      this.timers.set(
        roomid,
        setTimeout(() => {
          this.timers.delete(roomid);
          this.sendNow(roomid);
        }, wait),
      );
  }

  /** Sends what waits now (leaving a chat, going to the background): one room, or all. */
  flush(roomid?: string): void {
    for (const room of roomid === undefined ? [...this.wanted.keys()] : [roomid]) {
      clearTimeout(this.timers.get(room));
      this.timers.delete(room);
      this.sendNow(room);
    }
  }

  /** A socket is up again: what could not go out before goes now. */
  online(): void {
    this.flush();
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private sendNow(roomid: string): void {
    const seq = this.wanted.get(roomid);
    if (seq === undefined) return;
    if (!this.send(roomid, seq)) return;
    this.wanted.delete(roomid);
    this.sentSeq.set(roomid, Math.max(seq, this.sentSeq.get(roomid) ?? 0));
    this.sentAt.set(roomid, Date.now());
  }
}
