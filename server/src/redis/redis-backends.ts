/** Wires the Redis store, bus and reaper for REDIS_URL: two connections per node (commands, subscriber). */

import { randomUUID } from 'node:crypto';
import type { ChatBackend } from '../core/backend.ts';
import type { Logger } from '../core/logger.ts';
import { type ChatRedis, defineChatCommands } from './commands.ts';
import { answers, connectRedis, openRedis } from './connection.ts';
import { KeySpace } from './keys.ts';
import { NodeRecovery } from './node-recovery.ts';
import { PresenceReaper } from './presence-reaper.ts';
import { RedisBus } from './redis-bus.ts';
import { type RedisLogLimits, RedisRoomLog } from './redis-room-log.ts';
import { RedisStore, type RedisStoreLimits } from './redis-store.ts';
import type { CaughtUp } from './room-order.ts';
import { SeqWatermarks } from './seq-watermarks.ts';

export interface RedisBackendSettings extends RedisStoreLimits, RedisLogLimits {
  redisUrl: string;
  redisKeyPrefix: string;
  redisPresenceTtlMs: number;
  redisCommandTimeoutMs: number;
  roomLimit: number;
}

export interface RedisBackends extends ChatBackend {
  kind: 'redis';
  store: RedisStore;
  bus: RedisBus;
  nodeId: string;
  reaper: PresenceReaper;
  /** Whether Redis answers a PING within REDIS_COMMAND_TIMEOUT_MS (and both connections are up). */
  ping(): Promise<boolean>;
}

const CONNECT_TIMEOUT_MS = 10_000;

export async function createRedisBackends(settings: RedisBackendSettings, logger: Logger): Promise<RedisBackends> {
  const connection = { url: settings.redisUrl, commandTimeoutMs: settings.redisCommandTimeoutMs };
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
  const recovery = new NodeRecovery(commands, redisStore, bus, logger);
  const reaper = new PresenceReaper(commands, keys, redisStore, bus, recovery, logger, { presenceMs: settings.redisPresenceTtlMs, roomMs: settings.roomTtlMs });
  await reaper.start();
  logger.info('redis connected', {
    node: nodeId,
    prefix: settings.redisKeyPrefix,
    presenceTtlMs: settings.redisPresenceTtlMs,
    commandTimeoutMs: settings.redisCommandTimeoutMs,
  });

  let closing: Promise<void> | undefined;
  const closeAll = (): Promise<void> =>
    (closing ??= (async () => {
      await reaper.stop();
      await Promise.allSettled([commands.quit(), subscriber.quit()]);
    })());
  // Closing the store alone (tests do) ends the connections too.
  redisStore.onClose = closeAll;

  const healthy = (): boolean => commands.status === 'ready' && subscriber.status === 'ready';
  return {
    kind: 'redis',
    store: redisStore,
    log,
    bus,
    healthy,
    ping: async () => healthy() && (await answers(commands)),
    close: async () => {
      await bus.close();
      await closeAll();
    },
    nodeId,
    reaper,
  };
}

/** Reads what a node's subscriber missed (room-scripts.ts CATCH_UP), as the frames the append script published. */
function historyReader(redis: ChatRedis, keys: KeySpace, limit: number) {
  return async (roomid: string, afterSeq: number, epoch: string): Promise<CaughtUp> => {
    const room = keys.room(roomid);
    const reply = await redis.chatCatchUp(room.seq, room.history, room.members, room.online, afterSeq, limit, epoch);
    const caught: CaughtUp = { epoch: String(reply[0]), lastSeq: Number(reply[1]), num: Number(reply[2]), total: Number(reply[3]), messages: [] };
    for (let i = 4; i < reply.length; i += 4) {
      const [seq, stored, num, total] = reply.slice(i, i + 4);
      caught.messages.push({ seq: Number(seq), text: `${String(stored).slice(0, -1)},"num":${num},"total":${total}}` });
    }
    return caught;
  };
}
