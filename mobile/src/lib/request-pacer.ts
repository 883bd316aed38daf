import type { ClientFrame } from '@chatroom/server/protocol';

/** What goes first when frames wait: auth and heartbeats, then what the user typed, then catch-up. */
export enum Priority {
  Control = 0,
  Message = 1,
  Sync = 2,
}

export interface PacerOptions {
  /** Sustained frames a second. */
  ratePerSec: number;
  /** Frames at once after a quiet spell. */
  burst: number;
  /** Requests sent and not answered yet, at most. */
  maxInFlight: number;
}

/**
 * Against the server's defaults (RATE_LIMIT_PER_SEC 20, RATE_LIMIT_BURST 40, docs/protocol.md). The
 * server counts frames when it reads them, and a stalled network (or a busy server) can deliver
 * what was sent over seconds all at once. Whatever arrives together was unanswered together, so
 * it is at most `maxInFlight`; with what the bucket lets out meanwhile that stays within the
 * server's burst: maxInFlight + burst = 32 <= 40, and 16/s < 20/s sustained, leaving room for
 * heartbeat answers.
 */
export const DEFAULT_PACE: PacerOptions = { ratePerSec: 16, burst: 16, maxInFlight: 16 };

/** A request whose answer never comes (a server that dropped it) frees its place after this long. */
const IN_FLIGHT_EXPIRY_MS = 10_000;

/**
 * A client-side limit in front of one socket, so a reconnect of a user in many rooms (a join per
 * room, history pages per direct chat) never trips the server's rate limit: a token bucket for the
 * rate, and a window of requests awaiting their answer. Frames wait in three queues by priority.
 * A refused frame (error 4429) is queued again by the client, and `slowDown` halves the pace for
 * the rest of this socket, for a server configured below the defaults.
 */
export class RequestPacer {
  private tokens: number;
  private updatedAt: number;
  private rate: number;
  private readonly queues: Array<Array<{ frame: ClientFrame; id?: string }>> = [[], [], []];
  /** Request ids sent and not answered, with when they were sent. */
  private readonly inFlight = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pausedUntil = 0;
  private stopped = false;

  constructor(
    private readonly write: (frame: ClientFrame) => void,
    private readonly options: PacerOptions = DEFAULT_PACE,
  ) {
    this.rate = options.ratePerSec;
    this.tokens = options.burst;
    this.updatedAt = Date.now();
  }

  /** Queues a frame; `id` when an answer will come for it (it then counts in flight until `answered`). */
  push(frame: ClientFrame, priority: Priority, id?: string): void {
    if (this.stopped) return;
    this.queues[priority].push({ frame, id });
    this.pump();
  }

  answered(id: string): void {
    if (this.inFlight.delete(id)) this.pump();
  }

  /** The server refused a frame: wait a second (its bucket refills) and go at half the pace. */
  slowDown(): void {
    this.rate = Math.max(2, this.rate / 2);
    this.tokens = 0;
    this.pausedUntil = Date.now() + 1_000;
    this.schedule();
  }

  get waiting(): number {
    return this.queues.reduce((sum, q) => sum + q.length, 0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const queue of this.queues) queue.length = 0;
  }

  private pump(): void {
    const now = Date.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.updatedAt) * this.rate) / 1000);
    this.updatedAt = now;
    for (const [id, sentAt] of this.inFlight) if (now - sentAt > IN_FLIGHT_EXPIRY_MS) this.inFlight.delete(id);
    if (now < this.pausedUntil) return this.schedule();
    for (const queue of this.queues) {
      while (queue.length > 0 && this.tokens >= 1) {
        // Frames that expect an answer wait for a place in the window; heartbeat answers never do.
        if (queue[0].id !== undefined && this.inFlight.size >= this.options.maxInFlight) break;
        const { frame, id } = queue.shift()!;
        this.tokens -= 1;
        if (id !== undefined) this.inFlight.set(id, now);
        this.write(frame);
        if (this.stopped) return;
      }
    }
    this.schedule();
  }

  /** (Re)arms the one timer for the earliest moment something can go: the wait may have just got shorter. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting === 0 || this.stopped) return;
    const now = Date.now();
    const windowFull = this.inFlight.size >= this.options.maxInFlight;
    const untilToken = this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.rate);
    // A full window waits for an answer (`answered` pumps again), or for the oldest request to expire.
    const untilExpiry = windowFull ? Math.min(...this.inFlight.values()) + IN_FLIGHT_EXPIRY_MS - now : 0;
    const delay = Math.max(untilToken, this.pausedUntil - now, untilExpiry, 0);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, delay);
  }
}
