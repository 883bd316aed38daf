/**
 * Failures with several node processes on one Redis: a node killed with -9 leaves no ghost members
 * and its clients recover on another node; Redis killed and restarted: nodes reconnect, say so in
 * logs and health, and what clients sent meanwhile is delivered once or refused for a resend.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, type TestClient } from './harness.ts';
import { ensureServerBuilt, health, type ProcessNode, sayUntilAcked, startProcessNode } from './redis-nodes.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`skipping the Redis tests: ${unavailable}`);

const PRESENCE_TTL_MS = 1500;
/** The documented bound (TTL + TTL/2 after the last heartbeat) with room for a loaded CI machine. */
const GHOST_BOUND_MS = PRESENCE_TTL_MS * 1.5 + 2000;

const seqs = (client: TestClient, roomid: string): number[] => client.messages(roomid).map((m) => m.seq as number);

/** Two server processes on a private redis-server for one describe block; `stop` ends the nodes. */
function twoNodesOnRedis(redisOptions: Parameters<typeof startRedis>[0], stop: 'kill' | 'close') {
  const cluster = { redis: undefined as unknown as TestRedis, nodes: [] as ProcessNode[] };
  beforeAll(async () => {
    ensureServerBuilt();
    cluster.redis = await startRedis(redisOptions);
    for (let i = 0; i < 2; i += 1) cluster.nodes.push(await startProcessNode(cluster.redis.url, { REDIS_PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) }));
  });
  afterAll(async () => {
    await Promise.all(cluster.nodes.map((n) => n[stop]()));
    await cluster.redis?.stop();
  });
  return cluster;
}

describe.skipIf(unavailable !== undefined)('a node killed with -9', () => {
  const { nodes } = twoNodesOnRedis(undefined, 'kill');

  it('its members drop out within the bound, the room is told, and its clients resume on another node', async () => {
    const [doomed, survivor] = nodes;
    const alice = await connectAs(doomed, 'alice');
    const bob = await connectAs(survivor, 'bob');
    await alice.join('kill-room');
    await bob.join('kill-room');
    await alice.say('kill-room', 'before');
    await bob.waitFor(() => bob.messages('kill-room').length === 1);

    const killedAt = Date.now();
    await doomed.kill();
    await alice.closed;
    // Sent while alice's node is dead and before anyone noticed.
    await bob.say('kill-room', 'during 1');
    await bob.say('kill-room', 'during 2');

    const logout = await bob.nextEvent('logout', { uid: alice.user.uid }, GHOST_BOUND_MS);
    expect(Date.now() - killedAt).toBeLessThan(GHOST_BOUND_MS);
    expect(logout).toMatchObject({ roomid: 'kill-room', reason: 'timeout', num: 1, total: 2 });
    const members = await bob.request({ event: 'members', roomid: 'kill-room' });
    expect(members.members).toContainEqual({ uid: alice.user.uid, name: 'alice', online: false });
    expect(members).toMatchObject({ num: 1, total: 2 });

    // Alice's client reconnects through the load balancer, to the survivor, and resumes.
    const back = await connectAs(survivor, 'alice', alice.user.uid);
    const joined = await back.join('kill-room', { since: 1 });
    expect(joined).toMatchObject({ replayed: 2, gap: false, lastSeq: 3, num: 2, total: 2 });
    expect(back.messages('kill-room').map((m) => [m.seq, m.message])).toEqual([
      [2, 'during 1'],
      [3, 'during 2'],
    ]);
    await bob.say('kill-room', 'after');
    await back.waitFor(() => back.messages('kill-room').length === 3);
    expect(seqs(back, 'kill-room')).toEqual([2, 3, 4]);
    await Promise.all([bob.close(), back.close()]);
  });

  it('a direct message to a user whose node died waits in their inbox', async () => {
    const [, survivor] = nodes;
    const sender = await connectAs(survivor, 'sender');
    const dana = await connectAs(survivor, 'dana');
    await dana.close();
    const ack = await sender.request({ event: 'message', to: dana.user.uid, message: 'while you were away', id: 'dm-1' });
    expect(ack.event).toBe('ack');
    const again = await connectAs(survivor, 'dana', dana.user.uid);
    await again.waitFor(() => again.messages().length === 1);
    expect(again.messages()[0]).toMatchObject({ message: 'while you were away', replay: true });
    // A barrier: a live message down the same path, then dana's own request and its reply. A second
    // copy of the first message would have come before them.
    await sender.request({ event: 'message', to: dana.user.uid, message: 'welcome back', id: 'dm-2' });
    await again.nextEvent('message', { id: 'dm-2' });
    await again.settled();
    expect(again.messages().map((m) => m.message)).toEqual(['while you were away', 'welcome back']);
    await Promise.all([sender.close(), again.close()]);
  });
});

describe.skipIf(unavailable !== undefined)('Redis killed and restarted', () => {
  const cluster = twoNodesOnRedis({ appendonly: true }, 'close');
  const { nodes } = cluster;

  it('nodes reconnect and say so; what was sent meanwhile is delivered once, in order', async () => {
    const [one, two] = nodes;
    const alice = await connectAs(one, 'alice');
    const bob = await connectAs(two, 'bob');
    await alice.join('restart-room');
    await bob.join('restart-room');
    await alice.say('restart-room', 'first');
    await bob.waitFor(() => bob.messages('restart-room').length === 1);

    await cluster.redis.kill();
    for (const node of nodes) await expect.poll(async () => (await health(node)).status, { timeout: 5000 }).toBe('backend unavailable');
    // Each node notices on its own schedule (a command or its heartbeat): wait for both to say so.
    await expect.poll(() => nodes.map((n) => n.logs.some((l) => l.includes('redis connection lost'))), { timeout: 5000 }).toEqual([true, true]);

    // Sent during the outage: held, then accepted once Redis is back (or refused and resent).
    const pending = sayUntilAcked(alice, 'restart-room', 'during outage', 'out-1');
    // Redis is only started again once the node has handled the message without it: refused (the
    // client resends it until it is acknowledged).
    await alice.next((f) => f.event === 'error' && f.ref === 'out-1', 5000);
    await cluster.redis.start();
    const ack = await pending;
    expect(ack).toMatchObject({ event: 'ack', seq: 2 });

    for (const node of nodes) await expect.poll(async () => (await health(node)).ok, { timeout: 5000 }).toBe(true);
    await expect.poll(() => nodes.map((n) => n.logs.some((l) => l.includes('redis reconnected'))), { timeout: 5000 }).toEqual([true, true]);

    await bob.say('restart-room', 'after');
    for (const client of [alice, bob]) {
      await client.waitFor(() => client.messages('restart-room').length === 3, 5000);
      expect(client.messages('restart-room').map((m) => [m.seq, m.message])).toEqual([
        [1, 'first'],
        [2, 'during outage'],
        [3, 'after'],
      ]);
    }
    // Presence survived (appendonly): both still online, as seen from either node.
    const members = await alice.request({ event: 'members', roomid: 'restart-room' });
    expect(members).toMatchObject({ num: 2, total: 2 });
    await Promise.all([alice.close(), bob.close()]);
  });
});

describe.skipIf(unavailable !== undefined)('Redis restarted empty (no persistence)', () => {
  const cluster = twoNodesOnRedis(undefined, 'close');
  const { nodes } = cluster;

  it('nodes put their live presence back and seqs continue; nothing already delivered is sent again', async () => {
    const [one, two] = nodes;
    const alice = await connectAs(one, 'alice');
    const bob = await connectAs(two, 'bob');
    const before = await alice.join('empty-room');
    await bob.join('empty-room');
    await alice.say('empty-room', 'one');
    await alice.say('empty-room', 'two');
    await bob.waitFor(() => bob.messages('empty-room').length === 2);

    await cluster.redis.kill();
    await cluster.redis.start();
    for (const node of nodes) await expect.poll(async () => (await health(node)).ok, { timeout: 5000 }).toBe(true);
    // Within a heartbeat (TTL/3) each node notices Redis forgot it and restores its connections.
    await expect.poll(async () => (await alice.request({ event: 'members', roomid: 'empty-room' })).num, { timeout: PRESENCE_TTL_MS * 2 }).toBe(2);
    // The log line comes over the node's stdout pipe, possibly after Redis already shows the state.
    await expect.poll(() => nodes.map((n) => n.logs.some((l) => l.includes('presence restored'))), { timeout: 5000 }).toEqual([true, true]);

    await bob.say('empty-room', 'three');
    for (const client of [alice, bob]) {
      await client.waitFor(() => client.messages('empty-room').length === 3, 5000);
      expect(client.messages('empty-room').map((m) => [m.seq, m.message])).toEqual([
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
      ]);
    }
    // The nodes kept the room in its epoch: seqs are still comparable. A client resuming from
    // before the loss gets what history still has and is told of the rest: a gap.
    const resumer = await connectAs(two, 'bob', bob.user.uid);
    const resumed = await resumer.join('empty-room', { since: 1, epoch: before.epoch });
    expect(resumed).toMatchObject({ epoch: before.epoch, gap: true, lastSeq: 3, replayed: 1 });
    expect(resumer.messages('empty-room').map((m) => m.seq)).toEqual([3]);
    await Promise.all([alice.close(), bob.close(), resumer.close()]);
  });
});
