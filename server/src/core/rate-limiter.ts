import { LRUCache } from 'lru-cache';

/**
 * Token bucket: `ratePerSec` tokens a second up to `burst`. A frame costs one token. Refill is
 * computed from elapsed time on each take, so an idle connection costs nothing.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now: number = Date.now(),
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  take(now: number = Date.now()): boolean {
    if (!this.available(now)) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether a token could be taken now, without taking it. */
  available(now: number = Date.now()): boolean {
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSec) / 1000);
      this.updatedAt = now;
    }
    return this.tokens >= 1;
  }
}

/**
 * A token bucket per key (a client address, a user), created on first use. Buckets of idle keys
 * refill to full anyway, so the least recently used are forgotten when there are too many.
 */
export class KeyedBuckets {
  private readonly buckets: LRUCache<string, TokenBucket>;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    maxKeys = 100_000,
  ) {
    this.buckets = new LRUCache({ max: maxKeys });
  }

  take(key: string, now: number = Date.now()): boolean {
    return this.bucket(key, now).take(now);
  }

  available(key: string, now: number = Date.now()): boolean {
    return this.buckets.get(key)?.available(now) ?? true;
  }

  private bucket(key: string, now: number): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.ratePerSec, this.burst, now);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}
