/** vitest globalSetup of the `redis` project: one redis-server for the whole core suite. */

import type { TestProject } from 'vitest/node';
import { redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    testRedisUrl: string;
  }
}

let redis: TestRedis | undefined;

export async function setup(project: TestProject): Promise<void> {
  const unavailable = redisUnavailable();
  if (unavailable) throw new Error(`TEST_BACKEND=redis: ${unavailable}`);
  redis = await startRedis();
  project.provide('testRedisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}
