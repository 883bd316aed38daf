/**
 * Chooses the store and the bus: embedded (memory + in-process) by default, Redis when REDIS_URL
 * is set. The core sees only the ChatStore and Bus interfaces.
 */

import type { Config } from './config.ts';
import type { Bus } from './core/bus.ts';
import { LocalBus } from './core/local-bus.ts';
import type { Logger } from './core/logger.ts';
import { MemoryStore } from './core/memory-store.ts';
import type { ChatStore } from './core/store.ts';
import { createRedisBackends } from './redis/redis-backends.ts';

export interface Backends {
  store: ChatStore;
  bus: Bus;
  kind: 'memory' | 'redis';
  /** False while an external backend is unreachable. */
  healthy: () => boolean;
}

export async function createBackends(config: Config, logger: Logger): Promise<Backends> {
  if (config.redisUrl) {
    const redis = await createRedisBackends({ ...config, redisUrl: config.redisUrl }, logger);
    return { store: redis.store, bus: redis.bus, kind: 'redis', healthy: redis.healthy };
  }
  return {
    store: new MemoryStore(config),
    bus: new LocalBus(),
    kind: 'memory',
    healthy: () => true,
  };
}
