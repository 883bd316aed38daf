/**
 * The Redis store answers like the embedded one: the same operations on a MemoryStore and a
 * RedisStore give the same results (counts, cursors, trimmed history and its gap flags, inboxes).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/core/logger.ts';
import { MemoryStore } from '../src/core/memory-store.ts';
import type { ChatStore, MessageDraft } from '../src/core/store.ts';
import { directRoomId, ServerEvent } from '../src/protocol.ts';
import { createRedisBackends, type RedisBackends } from '../src/redis/redis-backends.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`skipping the Redis tests: ${unavailable}`);

const limits = {
  historyPerRoom: 5,
  historyTotal: 100_000,
  roomLimit: 1000,
  roomTtlMs: 60_000,
  userLimit: 1000,
  inboxPerUser: 3,
  idempotencyLimit: 1000,
  idempotencyTtlMs: 60_000,
};

let ts = 1_000;
const draft = (roomid: string, uid: string, message: string, id = `c-${ts}`): MessageDraft => ({
  event: ServerEvent.Message,
  id,
  roomid,
  ts: (ts += 1),
  uid,
  name: uid.toUpperCase(),
  message,
});

describe.skipIf(unavailable !== undefined)('RedisStore and MemoryStore agree', () => {
  let redis: TestRedis;
  let backends: RedisBackends;
  let memory: MemoryStore;

  beforeAll(async () => {
    redis = await startRedis();
    backends = await createRedisBackends(
      { ...limits, redisUrl: redis.url, redisKeyPrefix: 'parity:', redisPresenceTtlMs: 60_000, redisCommandRetries: 2 },
      createLogger('silent'),
    );
    memory = new MemoryStore(limits);
  });
  afterAll(async () => {
    await backends?.store.close();
    await redis?.stop();
  });

  /** Runs the same steps on both stores and compares every result. */
  async function both<T>(step: (store: ChatStore) => Promise<T>): Promise<T> {
    const [fromMemory, fromRedis] = [await step(memory), await step(backends.store)];
    // Epochs are random per store; that they exist is what matters.
    const withoutEpoch = (value: T): unknown => {
      // Order of rooms() is not part of the contract (Redis keeps a user's rooms in a set).
      if (Array.isArray(value) && value.every((v) => typeof v?.roomid === 'string')) {
        return [...value].sort((x, y) => (x.roomid < y.roomid ? -1 : 1));
      }
      // Who sends a direct message's live copy differs by design: Redis does, in the same script.
      if (value !== null && typeof value === 'object' && 'published' in value) return { ...value, published: undefined };
      if (value === null || typeof value !== 'object' || !('epoch' in value)) return value;
      expect(typeof value.epoch).toBe('string');
      return { ...value, epoch: undefined };
    };
    expect(withoutEpoch(fromRedis)).toEqual(withoutEpoch(fromMemory));
    return fromRedis;
  }

  it('joins, disconnects, cursors and leaves', async () => {
    await both((s) => s.join('p-room', 'a', 'A', 'conn-a1'));
    await both((s) => s.join('p-room', 'a', 'A', 'conn-a2'));
    await both((s) => s.join('p-room', 'b', 'B', 'conn-b1'));
    for (let i = 1; i <= 3; i += 1) {
      const message = draft('p-room', 'a', `m${i}`, `p${i}`);
      await both((s) => s.append(message));
    }
    await both((s) => s.disconnect('p-room', 'b', 'conn-b1', 2));
    await both((s) => s.disconnect('p-room', 'b', 'conn-b1', 2));
    await both((s) => s.disconnect('p-room', 'a', 'conn-a1', 3));
    await both((s) => s.counts('p-room'));
    await both((s) => s.members('p-room'));
    await both((s) => s.join('p-room', 'b', 'B', 'conn-b2'));
    await both((s) => s.isMember('p-room', 'b'));
    await both((s) => s.leave('p-room', 'b'));
    await both((s) => s.leave('p-room', 'b'));
    await both((s) => s.isMember('p-room', 'b'));
    await both((s) => s.counts('nowhere'));
    await both((s) => s.disconnect('nowhere', 'a', 'x', 1));
  });

  it('history trimmed to HISTORY_PER_ROOM, with the same gap flags', async () => {
    await both((s) => s.join('p-hist', 'a', 'A', 'conn-h'));
    for (let i = 1; i <= 8; i += 1) {
      const message = draft('p-hist', 'a', `h${i}`);
      await both((s) => s.append(message));
    }
    for (const after of [0, 2, 3, 4, 6, 8, 9]) {
      for (const limit of [2, 5, 10]) await both((s) => s.readAfter('p-hist', after, limit));
    }
    for (const before of [undefined, 1, 2, 5, 6, 9, 20]) {
      for (const limit of [1, 3, 10]) await both((s) => s.readBefore('p-hist', before, limit));
    }
    await both((s) => s.readAfter('never-seen', 0, 10));
    await both((s) => s.readAfter('never-seen', 4, 10));
    await both((s) => s.readBefore('never-seen', 5, 10));
    await both((s) => s.readBefore('never-seen', undefined, 10));
    await both((s) => s.rooms('a'));
  });

  it('direct messages: inbox when offline, capped with a gap, taken by the first connection only', async () => {
    const dm = (i: number) => ({ ...draft(directRoomId('s', 'r'), 's', `d${i}`), to: 'r' });
    await both((s) => s.connectUser('s', 'S', 'conn-s'));
    for (let i = 1; i <= 5; i += 1) {
      const message = dm(i);
      await both((s) => s.appendDirect(message, 'r'));
    }
    await both((s) => s.rooms('s'));
    await both((s) => s.connectUser('r', 'R', 'conn-r1'));
    await both((s) => s.connectUser('r', 'R', 'conn-r2'));
    const sixth = dm(6);
    await both((s) => s.appendDirect(sixth, 'r'));
    await both((s) => s.members(directRoomId('s', 'r')));
    await both((s) => s.disconnectUser('r', 'conn-r1'));
    await both((s) => s.disconnectUser('r', 'conn-r2'));
    await both((s) => s.disconnectUser('r', 'conn-r2'));
    const seventh = dm(7);
    await both((s) => s.appendDirect(seventh, 'r'));
    await both((s) => s.connectUser('r', 'R', 'conn-r3'));
    await both((s) => s.rooms('r'));
  });

  it('a requeued direct message waits for an offline recipient once, and not for an online one', async () => {
    const late = { ...draft(directRoomId('q', 't'), 'q', 'late'), to: 't' };
    const stored = await both((s) => s.appendDirect(late, 't').then((r) => r.message));
    await both((s) => s.connectUser('t', 'T', 'conn-t1'));
    await both((s) => s.queueDirect('t', stored));
    await both((s) => s.disconnectUser('t', 'conn-t1'));
    await both((s) => s.queueDirect('t', stored));
    await both((s) => s.queueDirect('t', stored));
    const back = await both((s) => s.connectUser('t', 'T', 'conn-t2'));
    expect(back.inbox.map((m) => m.message)).toEqual(['late']);
  });

  it('idempotency keys', async () => {
    await both((s) => s.acceptedId('a', 'k1'));
    await both((s) => s.rememberId('a', 'k1', { roomid: 'p-room', seq: 3, ts: 5 }));
    await both((s) => s.acceptedId('a', 'k1'));
  });

  it('a resent append (its reply lost) is answered with the stored message, not stored twice', async () => {
    const once = draft('p-resend', 'a', 'only once', 'same-id');
    const first = await backends.store.append(once);
    const again = await backends.store.append({ ...once, ts: once.ts + 5 });
    expect(again).toEqual(first);
    expect((await backends.store.readAfter('p-resend', 0, 10)).messages).toHaveLength(1);
  });
});
