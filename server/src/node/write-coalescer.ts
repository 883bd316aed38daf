/**
 * Decides when queued frames are written. Transports queue a turn's frames and register here; the
 * coalescer flushes every registered transport in one pass at the end of the event-loop turn
 * (setImmediate), so a lone message is never held back.
 *
 * When the same sockets keep getting frames pass after pass (a busy room: most sockets of a pass
 * were in the one before too), the next pass waits until `intervalMs` after the previous one
 * started, so the frames of several turns share one socket write. Each write is a system call on
 * the server and a wake-up and a read on the client, so sharing them is where a busy room's CPU
 * goes down. When they do not (many small rooms, direct chats: a socket gets a frame now and then),
 * waiting would only add latency, and every pass runs at the end of its turn
 * (docs/benchmarks.md).
 */

export interface Flushable {
  flush(): void;
  /** The coalescer's bookkeeping: the pass that last flushed this transport. */
  flushPass?: number;
}

function runFlush(coalescer: WriteCoalescer): void {
  coalescer.flushNow();
}

export class WriteCoalescer {
  private pending: Flushable[] = [];
  private scheduled = false;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private pass = 0;
  /** The last pass found its sockets busy: the next one waits out the interval. */
  private busy = false;

  /** `intervalMs` 0 flushes at the end of every turn that queued something. */
  constructor(private readonly intervalMs: number) {}

  /** Called once per transport per flush, when it queues its first frame. */
  register(transport: Flushable): void {
    this.pending.push(transport);
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.busy ? this.lastFlushAt + this.intervalMs - performance.now() : 0;
    if (wait <= 0) setImmediate(runFlush, this);
    else setTimeout(runFlush, wait, this);
  }

  flushNow(): void {
    this.scheduled = false;
    // Measured from the start: a long flush (a big room) already spaces the next one out.
    this.lastFlushAt = performance.now();
    const batch = this.pending;
    this.pending = [];
    const pass = (this.pass += 1);
    let repeated = 0;
    for (let i = 0; i < batch.length; i += 1) {
      const transport = batch[i];
      if (transport.flushPass === pass - 1) repeated += 1;
      transport.flushPass = pass;
      transport.flush();
    }
    this.busy = repeated * 2 > batch.length;
  }
}
