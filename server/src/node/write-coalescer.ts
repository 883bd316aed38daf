/**
 * Decides when queued frames are written. Transports queue a turn's frames and register here; the
 * coalescer flushes every registered transport at most once per `intervalMs`. After a quiet spell
 * the flush runs at the end of the current event-loop turn (no added delay at a person's pace);
 * under sustained traffic it waits out the rest of the interval, so the frames of several turns
 * share one socket.write. Each write is a system call on the server and a wake-up and a read on
 * the client, so sharing them is where a busy room's CPU goes down (docs/benchmarks.md).
 */

export interface Flushable {
  flush(): void;
}

function runFlush(coalescer: WriteCoalescer): void {
  coalescer.flushNow();
}

export class WriteCoalescer {
  private pending: Flushable[] = [];
  private scheduled = false;
  private lastFlushAt = Number.NEGATIVE_INFINITY;

  /** `intervalMs` 0 flushes at the end of every turn that queued something. */
  constructor(private readonly intervalMs: number) {}

  /** Called once per transport per flush, when it queues its first frame. */
  register(transport: Flushable): void {
    this.pending.push(transport);
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.lastFlushAt + this.intervalMs - performance.now();
    if (wait <= 0) setImmediate(runFlush, this);
    else setTimeout(runFlush, wait, this);
  }

  flushNow(): void {
    this.scheduled = false;
    // Measured from the start: a long flush (a big room) already spaces the next one out.
    this.lastFlushAt = performance.now();
    const batch = this.pending;
    this.pending = [];
    for (let i = 0; i < batch.length; i += 1) batch[i].flush();
  }
}
