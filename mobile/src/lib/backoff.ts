export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  random?: () => number;
}

/**
 * Exponential backoff with "full jitter": sleep = random(0, min(cap, base * 2^attempt)).
 * Spreads the reconnects of many clients after a server restart instead of synchronising them
 * (Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** The delay before the next attempt; each call doubles the ceiling, up to the cap. */
  next(): number {
    const ceiling = Math.min(this.options.capMs, this.options.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.floor((this.options.random ?? Math.random)() * ceiling);
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
