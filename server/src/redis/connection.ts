import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../core/logger.ts';

/**
 * ioredis connections with the failure policy the chat needs: nothing waits on Redis without a
 * bound, and nothing is queued while Redis cannot answer.
 *
 * - Every command has a deadline (REDIS_COMMAND_TIMEOUT_MS). A command that misses it fails (the
 *   client gets 4503 and resends) and the connection is taken for stalled (Redis paused, a network
 *   that drops packets): it is dropped and opened again, and until Redis answers the ready check,
 *   every command fails at once instead of joining a queue.
 * - No offline queue, and commands in flight when a connection breaks fail rather than being sent
 *   again later: a resend is the client's, with the same id, which the scripts recognise (APPEND's
 *   recent ids, QUEUE_DIRECT's handled ids, CONNECT_USER's taken inbox).
 * - Reconnects run forever (100 ms, 200 ms … then every second).
 */

export interface RedisConnectionSettings {
  url: string;
  commandTimeoutMs: number;
}

export const RECONNECT_STEP_MS = 100;
export const RECONNECT_MAX_MS = 1000;

const TIMED_OUT = 'Command timed out';

/** The Redis client with the stall check: a command past its deadline drops the connection. */
class DeadlineRedis extends Redis {
  private dropping = false;

  override sendCommand(...args: Parameters<Redis['sendCommand']>): ReturnType<Redis['sendCommand']> {
    const [command] = args;
    const sent = super.sendCommand(...args);
    command.promise.catch((err: Error) => {
      if (err.message === TIMED_OUT) this.stalled();
    });
    return sent;
  }

  /** Once per stall: the commands still waiting fail now, and the next ones until Redis answers again. */
  private stalled(): void {
    if (this.dropping || this.status !== 'ready') return;
    this.dropping = true;
    this.emit('stalled');
    this.disconnect(true);
    this.once('ready', () => (this.dropping = false));
  }
}

export function openRedis(settings: RedisConnectionSettings, logger: Logger, role: 'commands' | 'subscriber'): Redis {
  const options: RedisOptions = {
    lazyConnect: true,
    connectionName: `chat-${role}`,
    retryStrategy: (times) => Math.min(times * RECONNECT_STEP_MS, RECONNECT_MAX_MS),
    commandTimeout: settings.commandTimeoutMs,
    // A connection that does not complete within the deadline is tried again.
    connectTimeout: Math.max(settings.commandTimeoutMs, 1000),
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // Commands in flight when the connection closes fail at once.
    maxRetriesPerRequest: 0,
    enableAutoPipelining: role === 'commands',
    // RedisBus resubscribes itself, so it can catch up from history once the subscriptions stand.
    autoResubscribe: false,
  };
  const redis = new DeadlineRedis(settings.url, options);
  let lost = false;
  let lastError = '';
  redis.on('ready', () => {
    if (lost) logger.info('redis reconnected', { role });
    lost = false;
    lastError = '';
  });
  redis.on('stalled', () => logger.warn('redis did not answer in time, reconnecting', { role, deadlineMs: settings.commandTimeoutMs }));
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

/** Whether Redis answers a PING within the command deadline (for /healthz). */
export async function answers(redis: Redis): Promise<boolean> {
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}
