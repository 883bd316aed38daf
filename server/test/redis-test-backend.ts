/**
 * Runs the core protocol suite on Redis (the `redis` project in vitest.config.mts): the harness's testEnv adds what
 * `redisBackendEnv()` returns. Every server the suite starts gets its own key prefix on the one
 * Redis that redis-global-setup.ts started, so servers share nothing, as with the memory store.
 */

import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';

export function redisBackendEnv(): Record<string, string> {
  if (process.env.TEST_BACKEND !== 'redis') return {};
  const url = inject('testRedisUrl');
  if (!url) throw new Error('TEST_BACKEND=redis needs the Redis of redis-global-setup.ts (run the `redis` project of vitest.config.mts)');
  return { REDIS_URL: url, REDIS_KEY_PREFIX: `t-${randomUUID().slice(0, 8)}:` };
}
