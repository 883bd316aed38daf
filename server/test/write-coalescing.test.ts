import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Flushable, WriteCoalescer } from '../src/node/write-coalescer.ts';
import { connectAs, OVER_TLS_AND_PLAIN_TCP, startTestServer, type TestServer } from './harness.ts';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function recorder(): Flushable & { flushes: number[] } {
  const flushes: number[] = [];
  return { flushes, flush: () => flushes.push(performance.now()) };
}

describe('write coalescing: when queued frames are written', () => {
  it('after a quiet spell, at the end of the same turn: a lone message is not held back', async () => {
    const coalescer = new WriteCoalescer(1_000);
    const socket = recorder();
    coalescer.register(socket);
    await nextTurn();
    expect(socket.flushes).toHaveLength(1);
  });

  it('while the same sockets get frames pass after pass, at most once per interval: later turns share one write', async () => {
    const interval = 200;
    const coalescer = new WriteCoalescer(interval);
    const a = recorder();
    const b = recorder();
    // Two passes in a row that flush the same socket: a busy room.
    coalescer.register(a);
    await nextTurn();
    coalescer.register(a);
    await nextTurn();
    expect(a.flushes).toHaveLength(2);
    const second = a.flushes[1];
    // Frames for two sockets over several turns, right after that: they wait for the interval.
    coalescer.register(a);
    await nextTurn();
    coalescer.register(b);
    await nextTurn();
    expect(a.flushes).toHaveLength(2);
    expect(b.flushes).toHaveLength(0);
    // Time under test: the coalescer's interval timer must fire.
    await new Promise((resolve) => setTimeout(resolve, interval + 100));
    expect(a.flushes).toHaveLength(3);
    expect(b.flushes).toHaveLength(1);
    // Timers may fire a little early; never a whole interval early.
    expect(a.flushes[2] - second).toBeGreaterThan(interval - 5);
  });

  it('while each pass flushes other sockets (small rooms, direct chats), every pass runs at the end of its turn', async () => {
    const coalescer = new WriteCoalescer(1_000);
    const sockets = Array.from({ length: 6 }, recorder);
    for (const socket of sockets) {
      coalescer.register(socket);
      await nextTurn();
      expect(socket.flushes).toHaveLength(1);
    }
    // A socket seen again after other passes is not a busy room either.
    coalescer.register(sockets[0]);
    await nextTurn();
    expect(sockets[0].flushes).toHaveLength(2);
  });

  it('with an interval of 0, every turn that queued something is flushed', async () => {
    const coalescer = new WriteCoalescer(0);
    const socket = recorder();
    for (let turn = 0; turn < 3; turn += 1) {
      coalescer.register(socket);
      await nextTurn();
    }
    expect(socket.flushes).toHaveLength(3);
  });
});

describe.each(OVER_TLS_AND_PLAIN_TCP)('write coalescing over real sockets (%s)', (_name, env) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000', ...env });
  });
  afterAll(() => server.close());

  it("members of overlapping rooms get exactly their rooms' messages, in order, from a burst", async () => {
    // ana is in north only, ben in north and south, cy in south only: their batches differ, and a
    // batch built for one must never be written to another.
    const [ana, ben, cy, pub] = await Promise.all(['ana', 'ben', 'cy', 'pub'].map((n) => connectAs(server, n)));
    await ana.join('north');
    await ben.join('north');
    await ben.join('south');
    await cy.join('south');
    await pub.join('north');
    await pub.join('south');
    const perRoom = 300;
    for (let i = 0; i < perRoom; i += 1) {
      pub.send({ event: 'message', roomid: 'north', message: `n${i}`, id: `n-${i}` });
      pub.send({ event: 'message', roomid: 'south', message: `s${i}`, id: `s-${i}` });
    }
    const expected = (prefix: string) => Array.from({ length: perRoom }, (_, i) => `${prefix}${i}`);
    const texts = (c: typeof ana, room: string) => c.messages(room).map((m) => m.message);
    await ana.waitFor(() => ana.messages('north').length >= perRoom, 10_000, 'north at ana');
    await ben.waitFor(() => ben.messages().length >= 2 * perRoom, 10_000, 'both rooms at ben');
    await cy.waitFor(() => cy.messages('south').length >= perRoom, 10_000, 'south at cy');
    expect(texts(ana, 'north')).toEqual(expected('n'));
    expect(texts(ben, 'north')).toEqual(expected('n'));
    expect(texts(ben, 'south')).toEqual(expected('s'));
    expect(texts(cy, 'south')).toEqual(expected('s'));
    expect(ana.messages('south')).toHaveLength(0);
    expect(cy.messages('north')).toHaveLength(0);
    // Each room's seqs run 1..perRoom with no gap at every member.
    for (const [client, room] of [
      [ana, 'north'],
      [ben, 'north'],
      [ben, 'south'],
      [cy, 'south'],
    ] as const) {
      expect(client.messages(room).map((m) => m.seq)).toEqual(Array.from({ length: perRoom }, (_, i) => i + 1));
    }
    await Promise.all([ana, ben, cy, pub].map((c) => c.close()));
  });
});
