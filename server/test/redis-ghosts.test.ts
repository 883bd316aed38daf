/**
 * No ghosts, no stuck inboxes, when nodes restart, die or pause around a Redis that lost its data:
 * a node registers again as the first thing it does once Redis is back, so if it dies right after,
 * it is reaped like any dead node; a node paused for longer than the presence TTL (a frozen VM) is
 * reaped, and when it wakes it puts its users back, tells their rooms `login`, and hands them the
 * direct messages that waited in their inboxes meanwhile.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs } from './harness.ts';
import { ensureServerBuilt, type ProcessNode, startProcessNode } from './redis-nodes.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`skipping the Redis tests: ${unavailable}`);

const PRESENCE_TTL_MS = 1500;
/** The documented bound (TTL + TTL/2 after the last heartbeat) with room for a loaded CI machine. */
const GHOST_BOUND_MS = PRESENCE_TTL_MS * 1.5 + 3000;
const ENV = { REDIS_PRESENCE_TTL_MS: String(PRESENCE_TTL_MS), REDIS_COMMAND_TIMEOUT_MS: '1000' };

describe.skipIf(unavailable !== undefined)('nodes around a Redis that lost its data', () => {
  let redis: TestRedis;
  const nodes: ProcessNode[] = [];

  beforeAll(async () => {
    ensureServerBuilt();
    redis = await startRedis();
    for (let i = 0; i < 2; i += 1) nodes.push(await startProcessNode(redis.url, ENV));
  });
  afterAll(async () => {
    for (const node of nodes) node.resume();
    await Promise.all(nodes.map((n) => n.kill()));
    await redis?.stop();
  });

  it('a node paused past the TTL is reaped; when it wakes its users are announced again and get what waited in their inbox', async () => {
    // The sleeper wakes up whole: the next test kills it.
    const [sleeper, survivor] = nodes;
    const dana = await connectAs(sleeper, 'dana');
    const bob = await connectAs(survivor, 'bob');
    const sender = await connectAs(survivor, 'sender');
    await bob.join('p-room');
    await dana.join('p-room');
    await bob.nextEvent('login', { uid: dana.user.uid });

    sleeper.pause();
    // The room is told dana timed out; from then on she is offline: direct messages wait for her.
    await bob.nextEvent('logout', { uid: dana.user.uid, reason: 'timeout' }, GHOST_BOUND_MS);
    const ack = await sender.request({ event: 'message', to: dana.user.uid, message: 'sent while your node slept', id: 'slept-1' });
    expect(ack.event).toBe('ack');

    const loginsBefore = bob.events('login', 'p-room').length;
    sleeper.resume();
    // Her node finds it was reaped: it puts her back, the room hears it, and her live connection
    // gets what was queued for her meanwhile.
    await bob.waitFor(
      () =>
        bob
          .events('login', 'p-room')
          .slice(loginsBefore)
          .find((f) => f.uid === dana.user.uid),
      5000,
    );
    await dana.waitFor(() => dana.messages().find((m) => m.message === 'sent while your node slept'), 5000);
    expect(await bob.request({ event: 'members', roomid: 'p-room' })).toMatchObject({ num: 2, total: 2 });

    // Delivered once: a new connection of hers finds nothing left waiting.
    const phone = await connectAs(survivor, 'dana', dana.user.uid);
    await phone.request({ event: 'rooms' });
    expect(phone.messages()).toEqual([]);
    expect(dana.messages().filter((m) => m.message === 'sent while your node slept')).toHaveLength(1);
    await Promise.all([dana.close(), bob.close(), sender.close(), phone.close()]);
  });

  it('a node killed right after Redis restarted empty is reaped: its users go offline and direct messages to them wait in the inbox', async () => {
    const [doomed, survivor] = nodes;
    const sender = await connectAs(survivor, 'sender');
    await redis.kill();
    await redis.start();
    for (const node of [doomed, survivor]) await expect.poll(async () => node.logs.some((l) => l.includes('redis reconnected')), { timeout: 5000 }).toBe(true);

    // Erin connects to the node just back, which dies at once (once it has counted her online:
    // her connection's frames are handled in order, so the reply to a request says so).
    const erin = await connectAs(doomed, 'erin');
    await erin.request({ event: 'rooms' });
    await doomed.kill();
    await erin.closed;
    const dm = (await sender.request({ event: 'message', to: erin.user.uid, message: 'probe', id: 'probe-0' })).roomid as string;
    await expect
      .poll(
        async () =>
          ((await sender.request({ event: 'members', roomid: dm })).members as { uid: string; online: boolean }[]).find((m) => m.uid === erin.user.uid)?.online,
        {
          timeout: GHOST_BOUND_MS,
        },
      )
      .toBe(false);

    const ack = await sender.request({ event: 'message', to: erin.user.uid, message: 'while you were gone', id: 'gone-1' });
    expect(ack.event).toBe('ack');
    const back = await connectAs(survivor, 'erin', erin.user.uid);
    await back.waitFor(() => back.messages().some((m) => m.message === 'while you were gone'), 5000);
    expect(back.messages().find((m) => m.message === 'while you were gone')).toMatchObject({ replay: true });
    await Promise.all([sender.close(), back.close()]);
  });
});
