import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../core/logger.ts';

/**
 * ioredis connections with the reconnect policy the chat needs: reconnect forever, keep commands
 * issued during a short outage queued, and fail them (the client is told to resend) once the
 * outage outlasts REDIS_COMMAND_RETRIES reconnect attempts, so nothing waits unbounded.
 * Commands in flight when a connection breaks are resent after reconnecting; the scripts are
 * written so that a resent one does no harm (see APPEND's recent ids and CONNECT_USER's taken inbox).
 */

export interface RedisConnectionSettings {
  url: string;
  commandRetries: number;
}

const RECONNECT_STEP_MS = 100;
const RECONNECT_MAX_MS = 1000;

export function openRedis(settings: RedisConnectionSettings, logger: Logger, role: 'commands' | 'subscriber'): Redis {
  const options: RedisOptions = {
    lazyConnect: true,
    connectionName: `chat-${role}`,
    retryStrategy: (times) => Math.min(times * RECONNECT_STEP_MS, RECONNECT_MAX_MS),
    maxRetriesPerRequest: settings.commandRetries,
    enableAutoPipelining: role === 'commands',
    // RedisBus resubscribes itself, so it can catch up from history once the subscriptions stand.
    autoResubscribe: false,
  };
  const redis = new Redis(settings.url, options);
  let lost = false;
  let lastError = '';
  redis.on('ready', () => {
    if (lost) logger.info('redis reconnected', { role });
    lost = false;
    lastError = '';
  });
  redis.on('close', () => {
    if (lost || redis.status === 'end') return;
    lost = true;
    logger.warn('redis connection lost, reconnecting', { role });
  });
  redis.on('error', (err: Error) => {
    // ioredis reports every failed reconnect attempt: log each distinct error once per outage.
    if (err.message === lastError) return;
    lastError = err.message;
    logger.warn('redis error', { role, err: err.message });
  });
  return redis;
}

/** Connects, failing fast at startup (a wrong REDIS_URL should stop the node, not hang it). */
export async function connectRedis(redis: Redis, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`REDIS_URL: no connection within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([redis.connect(), timeout]);
  } catch (err) {
    redis.disconnect();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
