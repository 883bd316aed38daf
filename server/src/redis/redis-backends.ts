/** Wires the Redis store, bus and reaper for REDIS_URL: two connections per node (commands, subscriber). */

import { randomUUID } from 'node:crypto';
import type { ChatBackend } from '../core/backend.ts';
import type { Logger } from '../core/logger.ts';
import { defineChatCommands, type ChatRedis } from './commands.ts';
import { connectRedis, openRedis } from './connection.ts';
import { KeySpace } from './keys.ts';
import { PresenceReaper } from './presence-reaper.ts';
import { RedisBus } from './redis-bus.ts';
import { RedisRoomLog, type RedisLogLimits } from './redis-room-log.ts';
import { RedisStore, type RedisStoreLimits } from './redis-store.ts';
import type { FetchedMessage } from './room-order.ts';
import { SeqWatermarks } from './seq-watermarks.ts';

export interface RedisBackendSettings extends RedisStoreLimits, RedisLogLimits {
  redisUrl: string;
  redisKeyPrefix: string;
  redisPresenceTtlMs: number;
  redisCommandRetries: number;
  roomLimit: number;
}

export interface RedisBackends extends ChatBackend {
  kind: 'redis';
  store: RedisStore;
  bus: RedisBus;
  nodeId: string;
  reaper: PresenceReaper;
}

const CONNECT_TIMEOUT_MS = 10_000;

export async function createRedisBackends(settings: RedisBackendSettings, logger: Logger): Promise<RedisBackends> {
  const connection = { url: settings.redisUrl, commandRetries: settings.redisCommandRetries };
  const commands = defineChatCommands(openRedis(connection, logger, 'commands'));
  const subscriber = openRedis(connection, logger, 'subscriber');
  await Promise.all([connectRedis(commands, CONNECT_TIMEOUT_MS), connectRedis(subscriber, CONNECT_TIMEOUT_MS)]);

  const nodeId = randomUUID().slice(0, 12);
  const keys = new KeySpace(settings.redisKeyPrefix);
  const watermarks = new SeqWatermarks(settings.roomLimit);
  const redisStore = new RedisStore(commands, keys, nodeId, settings, watermarks);
  const fetchAfter = historyReader(commands, keys, Math.max(1, settings.historyPerRoom));
  const bus = new RedisBus(commands, subscriber, keys, nodeId, watermarks, fetchAfter, logger);
  const log = new RedisRoomLog(commands, keys, bus, settings, watermarks);
  const reaper = new PresenceReaper(commands, keys, redisStore, bus, settings.redisPresenceTtlMs, logger);
  await reaper.start();
  logger.info('redis connected', { node: nodeId, prefix: settings.redisKeyPrefix, presenceTtlMs: settings.redisPresenceTtlMs });

  let closing: Promise<void> | undefined;
  const closeAll = (): Promise<void> =>
    (closing ??= (async () => {
      await reaper.stop();
      await Promise.allSettled([commands.quit(), subscriber.quit()]);
    })());
  // Closing the store alone (tests do) ends the connections too.
  redisStore.onClose = closeAll;

  return {
    kind: 'redis',
    store: redisStore,
    log,
    bus,
    healthy: () => commands.status === 'ready' && subscriber.status === 'ready',
    close: async () => {
      await bus.close();
      await closeAll();
    },
    nodeId,
    reaper,
  };
}

/** Reads what a node's subscriber missed, as the frames the append script published. */
function historyReader(redis: ChatRedis, keys: KeySpace, limit: number) {
  return async (roomid: string, afterSeq: number): Promise<FetchedMessage[]> => {
    const entries = await redis.xrange(keys.room(roomid).history, `${afterSeq + 1}-0`, '+', 'COUNT', limit);
    return entries.map(([id, fields]) => {
      const field = (name: string): string => fields[fields.indexOf(name) + 1];
      const stored = field('m');
      return { seq: Number(id.split('-')[0]), text: `${stored.slice(0, -1)},"num":${field('n')},"total":${field('t')}}` };
    });
  };
}
