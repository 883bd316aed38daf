/**
 * Redis stalled (SIGSTOP) or down: every request is answered at once with 4503 ("not accepted, send
 * it again") instead of waiting, /healthz turns red, a node's memory does not grow with the outage,
 * and once Redis answers again every resent message is delivered once, in order. A stall is not a
 * death: no node is reaped for the silence Redis imposed, and nobody is told `logout`.
 *
 * Short deadlines from the environment keep this fast: REDIS_COMMAND_TIMEOUT_MS=1000 and
 * REDIS_PRESENCE_TTL_MS=1500 (a node silent that long is taken for dead; reaped within 1.5× that).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, connectAs, httpRequest, sleep, type TestClient } from './harness.ts';
import { ensureServerBuilt, type InProcessNode, type ProcessNode, sayUntilAcked, startInProcessNode, startProcessNode } from './redis-nodes.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`skipping the Redis tests: ${unavailable}`);

const DEADLINE_MS = 1000;
const PRESENCE_TTL_MS = 1500;
const ENV = { REDIS_COMMAND_TIMEOUT_MS: String(DEADLINE_MS), REDIS_PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) };
/** How late a refusal may come: the deadline, with room for a loaded CI machine. */
const ANSWER_BOUND_MS = DEADLINE_MS + 1700;
const MiB = 1024 * 1024;

describe.skipIf(unavailable !== undefined)('Redis paused (SIGSTOP) under two nodes', () => {
  let redis: TestRedis;
  let nodes: InProcessNode[];

  beforeAll(async () => {
    redis = await startRedis();
    nodes = await Promise.all([startInProcessNode(redis.url, ENV), startInProcessNode(redis.url, ENV)]);
  });
  afterAll(async () => {
    redis?.resume();
    await Promise.all((nodes ?? []).map((n) => n.close()));
    await redis?.stop();
  });

  it('requests get 4503 within the deadline, /healthz is red, and afterwards every resent message is delivered once', async () => {
    const [one, two] = nodes;
    const alice = await connectAs(one, 'alice');
    const bob = await connectAs(two, 'bob');
    await alice.join('s-pause');
    await bob.join('s-pause');
    await alice.say('s-pause', 'before');
    await bob.waitFor(() => bob.messages('s-pause').length === 1);

    redis.pause();
    const pausedAt = Date.now();
    for (const node of nodes) {
      const asked = Date.now();
      const health = await httpRequest<{ status: string }>(node, '/healthz');
      expect(Date.now() - asked).toBeLessThan(ANSWER_BOUND_MS);
      expect(health).toMatchObject({ status: 503, body: { status: 'backend unavailable' } });
    }
    const ids = Array.from({ length: 30 }, (_, i) => `paused-${i}`);
    const sentAt = Date.now();
    const replies = await Promise.all(
      ids.map(async (id) => {
        const reply = await alice.request({ event: 'message', roomid: 's-pause', message: id, id }, 10_000);
        return { reply, ms: Date.now() - sentAt };
      }),
    );
    for (const { reply, ms } of replies) {
      expect(reply).toMatchObject({ event: 'error', code: 4503 });
      expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    }

    // The stall under test lasts at least a second, whatever the checks above took.
    await sleep(Math.max(0, pausedAt + 1000 - Date.now()));
    redis.resume();
    for (const node of nodes) await expect.poll(async () => (await httpRequest(node, '/healthz')).status, { timeout: 5000 }).toBe(200);

    // The client resends what was refused. Some of it Redis may have stored when it resumed (the
    // 4503 came before): that resend is acknowledged as a duplicate; either way it is delivered once.
    for (const id of ids) await sayUntilAcked(alice, 's-pause', id, id);
    await bob.waitFor(() => bob.messages('s-pause').length === ids.length + 1, 5000);
    const received = bob.messages('s-pause');
    expect(received.map((m) => m.message).sort()).toEqual(['before', ...ids].sort());
    const seqs = received.map((m) => m.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('a stall longer than the presence TTL reaps no node: nobody is told logout, everybody stays online', async () => {
    const [one, two] = nodes;
    const alice = await connectAs(one, 'alice');
    const bob = await connectAs(two, 'bob');
    await alice.join('s-reap');
    await bob.join('s-reap');
    await alice.nextEvent('login', { uid: bob.user.uid });

    // Twice: what a node's reaper does right after a stall depends on the order Redis serves the
    // nodes' waiting commands in when it resumes.
    for (let stall = 0; stall < 2; stall += 1) {
      redis.pause();
      // Longer than a dead node needs to be reaped (TTL × 1.5): every node looks silent to Redis.
      await sleep(PRESENCE_TTL_MS * 2);
      redis.resume();
      // Once both nodes may reap again (their own heartbeats sound for a TTL and a reconnect delay),
      // a round on each finds nobody dead.
      await expect.poll(() => nodes.every((n) => n.redis.reaper.mayReap), { timeout: PRESENCE_TTL_MS * 5 }).toBe(true);
      expect(await Promise.all(nodes.map((n) => n.redis.reaper.reap()))).toEqual([[], []]);
    }
    await alice.say('s-reap', 'still here');
    await bob.nextEvent('message', { message: 'still here' });
    // The replies are barriers: a logout sent before them would have arrived.
    for (const client of [alice, bob]) {
      expect(await client.request({ event: 'members', roomid: 's-reap' })).toMatchObject({ num: 2, total: 2 });
      expect(client.events('logout')).toEqual([]);
    }
    await Promise.all([alice.close(), bob.close()]);
  });
});

describe.skipIf(unavailable !== undefined)('a flood while Redis cannot answer', () => {
  let redis: TestRedis;
  let node: ProcessNode;

  beforeAll(async () => {
    ensureServerBuilt();
    redis = await startRedis();
    node = await startProcessNode(redis.url, {
      ...ENV,
      QUEUED_FRAMES_PER_CONNECTION: String(QUEUE_BOUND),
      RATE_LIMIT_PER_SEC: '100000',
      RATE_LIMIT_BURST: '100000',
      USER_RATE_PER_SEC: '100000',
      USER_RATE_BURST: '100000',
    });
  });
  afterAll(async () => {
    redis?.resume();
    await node?.close();
    await redis?.stop();
  });

  const QUEUE_BOUND = 16;
  const CONNECTIONS = 4;
  const FRAMES = 600;
  const TEXT = 'x'.repeat(4000);

  /**
   * Every connection sends FRAMES messages at once; resolves with the replies' codes, how many were
   * refused for the queue bound (not for Redis), and the node's peak RSS growth.
   */
  async function flood(clients: TestClient[], tag: string): Promise<{ codes: Set<unknown>; queueFull: number; growth: number; ms: number }> {
    const baseline = node.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, node.rss())), 50);
    const started = Date.now();
    try {
      const from = clients.map((c) => c.frames.length);
      clients.forEach((client, c) => {
        for (let i = 0; i < FRAMES; i += 1) client.send({ event: 'message', roomid: 'flood', message: TEXT, id: `${tag}-${c}-${i}` });
      });
      const codes = new Set<unknown>();
      let queueFull = 0;
      await Promise.all(
        clients.map(async (client, c) => {
          const replies = await client.waitFor(
            () => {
              const answered = client.frames
                .slice(from[c])
                .filter((f) => (typeof f.ref === 'string' && f.ref.startsWith(`${tag}-`)) || (f.event === 'ack' && String(f.id).startsWith(`${tag}-`)));
              return answered.length >= FRAMES && answered;
            },
            30_000,
            `${FRAMES} answers`,
          );
          for (const reply of replies) codes.add(reply.event === 'error' ? reply.code : reply.event);
          queueFull += replies.filter((r) => String(r.message).startsWith('too many of your requests are waiting')).length;
        }),
      );
      return { codes, queueFull, growth: Math.max(peak, node.rss()) - baseline, ms: Date.now() - started };
    } finally {
      clearInterval(sampler);
    }
  }

  it('down, then paused: every frame is refused with 4503 at once, and the memory of the node does not grow with the outage', async () => {
    const clients: TestClient[] = [];
    for (let c = 0; c < CONNECTIONS; c += 1) {
      const client = await connectAs(node, `flooder-${c}`);
      await client.join('flood');
      clients.push(client);
    }
    const watcher = await connect(node);

    await redis.kill();
    await expect.poll(async () => (await httpRequest(node, '/healthz')).status, { timeout: 5000 }).toBe(503);
    const down = await flood(clients, 'down');
    await redis.start();
    await expect.poll(async () => (await httpRequest(node, '/healthz')).status, { timeout: 5000 }).toBe(200);
    redis.pause();
    const paused = await flood(clients, 'paused');
    redis.resume();

    console.log(
      'flood figures:',
      JSON.stringify({ frames: CONNECTIONS * FRAMES, down, paused }, (_, v) => (v instanceof Set ? [...v] : v)),
    );
    for (const result of [down, paused]) {
      expect([...result.codes]).toEqual([4503]);
      // 2,400 frames of 4 KB each: about 10 MB arrive; nothing of it may stay queued.
      expect(result.growth).toBeLessThan(64 * MiB);
      expect(result.ms).toBeLessThan(15_000);
    }
    // While the first frame of each connection waits out the deadline on the paused Redis, the
    // others queue behind it: past QUEUED_FRAMES_PER_CONNECTION they are refused on arrival.
    expect(paused.queueFull).toBeGreaterThan(0);
    await Promise.all([...clients, watcher].map((c) => c.close()));
  });
});
