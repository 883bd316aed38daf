export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  random?: () => number;
}

/**
 * Exponential backoff with "full jitter": sleep = random(0, min(cap, base * 2^(attempt - 1))), and
 * no wait at all for the first attempt (a socket that just died is most likely back at once: a
 * proxy restart, a network switch). Full jitter spreads the reconnects of many clients after a
 * server restart instead of synchronising them (Marc Brooker, "Exponential Backoff And Jitter",
 * AWS Architecture Blog, 2015).
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** The delay before the next attempt; each call doubles the ceiling, up to the cap. */
  next(): number {
    const attempt = this.attempt;
    this.attempt += 1;
    if (attempt === 0) return 0;
    const ceiling = Math.min(this.options.capMs, this.options.baseMs * 2 ** Math.min(attempt - 1, 30));
    return Math.floor((this.options.random ?? Math.random)() * ceiling);
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
