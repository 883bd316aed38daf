/**
 * Detects a dead server on a socket that looks open (a half-open TCP connection after a network
 * change, a frozen proxy): the server pings every `intervalMs`; when nothing arrives within
 * interval + grace, `onTimeout` runs once.
 */
export class HeartbeatWatchdog {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timeoutMs = 0;

  constructor(
    private readonly onTimeout: () => void,
    private readonly graceFor: (intervalMs: number) => number = defaultGrace,
  ) {}

  start(intervalMs: number): void {
    this.timeoutMs = intervalMs + this.graceFor(intervalMs);
    this.feed();
  }

  /** The server is alive: restart the countdown. */
  feed(): void {
    if (this.timeoutMs === 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stop();
      this.onTimeout();
    }, this.timeoutMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timeoutMs = 0;
  }
}

/** Half an interval, within 1 s to 10 s: enough for a ping delayed by a busy server or network. */
export function defaultGrace(intervalMs: number): number {
  return Math.min(10_000, Math.max(1_000, intervalMs / 2));
}
