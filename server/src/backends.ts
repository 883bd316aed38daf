/**
 * Chooses the backend: embedded (memory + in-process) by default, Redis when REDIS_URL is set.
 */

import type { Config } from './config.ts';
import type { ChatBackend } from './core/backend.ts';
import { LocalBus } from './core/local-bus.ts';
import type { Logger } from './core/logger.ts';
import { MemoryStore } from './core/memory-store.ts';
import { createRedisBackends } from './redis/redis-backends.ts';

export interface MemoryBackend extends ChatBackend {
  kind: 'memory';
  store: MemoryStore;
}

export function createMemoryBackend(config: Config): MemoryBackend {
  const bus = new LocalBus();
  const store = new MemoryStore(config, bus);
  return {
    kind: 'memory',
    store,
    log: store,
    bus,
    healthy: () => true,
    close: async () => {
      await Promise.allSettled([store.close(), bus.close()]);
    },
  };
}

export async function createBackend(config: Config, logger: Logger): Promise<ChatBackend> {
  if (config.redisUrl) return createRedisBackends({ ...config, redisUrl: config.redisUrl }, logger);
  return createMemoryBackend(config);
}
