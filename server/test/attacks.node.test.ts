/**
 * Attacks on memory, tried from one machine against the server as its own process: each checks
 * the refusal the attacker gets, that the server's memory stays within a stated bound, and that
 * other users carry on (docs/reliability.md lists the figures).
 */

import { connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/protocol.ts';
import { connect, connectAs, login, type TestClient } from './harness.ts';
import { type ProcessServer, startProcessServer } from './process-server.ts';

const MiB = 1024 * 1024;
/** A full-size message of the default MAX_MESSAGE_CHARS: 5,000 CJK characters, 15,000 bytes of UTF-8. */
const BIG = '汉'.repeat(5000);

let server: ProcessServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Sends `count` messages as fast as the server acks them (ids make every send wait for its ack). */
async function fill(client: TestClient, roomid: string, count: number, text = BIG): Promise<void> {
  const window = 10;
  for (let i = 0; i < count; i += window) {
    await Promise.all(
      Array.from({ length: Math.min(window, count - i) }, (_, k) =>
        client.request({ event: 'message', roomid, message: text, id: `${roomid}-${i + k}` }, 15_000),
      ),
    );
  }
  // What the sender got back is not under test; keep the client's own memory small.
  client.frames.length = 0;
}

/** Samples the server's RSS every 50 ms while `during` runs; returns the highest. */
async function peakRss(target: ProcessServer, during: () => Promise<void>): Promise<number> {
  let peak = target.rss();
  const timer = setInterval(() => (peak = Math.max(peak, target.rss())), 50);
  try {
    await during();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, target.rss());
}

/** A message round trip for someone who is not the attacker, in ms. */
async function roundTrip(client: TestClient, roomid: string): Promise<number> {
  const started = performance.now();
  await client.say(roomid, 'still here');
  return performance.now() - started;
}

describe('attacks on memory', () => {
  it('a connection that stops reading and repeats join since:0 on a full room is closed with 4008; memory stays bounded', { timeout: 60_000 }, async () => {
    server = await startProcessServer({ DRAIN_TIMEOUT_MS: '1000' });
    const filler = await connectAs(server, 'filler');
    await filler.join('full');
    await fill(filler, 'full', 500);
    const bystander = await connectAs(server, 'bystander');
    await bystander.join('elsewhere');
    const baseline = server.rss();

    const attackers = await Promise.all([connectAs(server, 'eve'), connectAs(server, 'mallory')]);
    const latencies: number[] = [];
    const peak = await peakRss(server, async () => {
      for (const attacker of attackers) {
        await attacker.join('full', { since: 500 });
        attacker.ws.pause();
        for (let i = 0; i < 40; i += 1) attacker.send({ event: 'join', roomid: 'full', since: 0, id: `again-${i}` });
      }
      const deadline = Date.now() + 20_000;
      while ((await server!.metric('chatroom_slow_consumer_closes_total')) < 2) {
        if (Date.now() > deadline) throw new Error('the attackers were not closed as slow consumers');
        latencies.push(await roundTrip(bystander, 'elsewhere'), await server!.healthLatency());
      }
    });
    console.log(
      'attack figures:',
      JSON.stringify({
        attack: 'join since:0 x40, not reading',
        rssGrowthMiB: +((peak - baseline) / MiB).toFixed(1),
        worstOtherMs: Math.round(Math.max(...latencies)),
      }),
    );
    // Before the fix: hundreds of MiB per connection within seconds. Each attacker may hold about
    // SEND_BUFFER_LIMIT_BYTES (1 MiB) plus one replay page and the kernel's socket buffers.
    expect(peak - baseline).toBeLessThan(64 * MiB);
    expect(Math.max(...latencies)).toBeLessThan(2000);
    await Promise.all([filler.close(), bystander.close(), ...attackers.map((a) => a.drop())]);
  });

  it('a connection that stops reading and repeats rooms for a user in hundreds of rooms is closed; memory stays bounded', { timeout: 60_000 }, async () => {
    server = await startProcessServer({ DRAIN_TIMEOUT_MS: '1000', ROOMS_PER_CONNECTION: '300' });
    const eve = await connectAs(server, 'eve');
    for (let r = 0; r < 300; r += 1) {
      await eve.join(`r${r}`);
      await eve.say(`r${r}`, BIG);
    }
    await eve.close();
    const again = await connectAs(server, 'eve', eve.user.uid);
    const one = await again.request({ event: 'rooms' });
    // The conversation list carries previews, not whole messages.
    expect(JSON.stringify(one).length).toBeLessThan(300 * 1000);
    const baseline = server.rss();
    const peak = await peakRss(server, async () => {
      again.ws.pause();
      for (let i = 0; i < 60; i += 1) again.send({ event: 'rooms', id: `rooms-${i}` });
      const deadline = Date.now() + 20_000;
      while ((await server!.metric('chatroom_slow_consumer_closes_total')) < 1) {
        if (Date.now() > deadline) throw new Error('the attacker was not closed as a slow consumer');
        // Polls the metric until the deadline (the client is paused: no reply can come to it).
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    console.log(
      'attack figures:',
      JSON.stringify({
        attack: 'rooms x60 for 300 rooms, not reading',
        replyBytes: JSON.stringify(one).length,
        rssGrowthMiB: +((peak - baseline) / MiB).toFixed(1),
      }),
    );
    expect(peak - baseline).toBeLessThan(48 * MiB);
    await again.drop();
  });

  it('history and inboxes are bounded in bytes: a patient sender fills STORE_MAX_BYTES, not the heap, and the oldest rooms say gap', {
    timeout: 90_000,
  }, async () => {
    // A heap too small for what was sent: keeping it all (the count-bounded store) ends in a crash.
    server = await startProcessServer({ STORE_MAX_BYTES: String(4 * MiB), NODE_OPTIONS: '--max-old-space-size=32' });
    const sender = await connectAs(server, 'patient');
    for (let r = 0; r < 3; r += 1) await sender.join(`keep-${r}`);
    const baseline = server.rss();
    // 1,500 full-size messages: 22 MB of UTF-8, 15 MB on the heap if all were kept (HISTORY_PER_ROOM 500).
    for (let r = 0; r < 3; r += 1) await fill(sender, `keep-${r}`, 500);
    const storeBytes = await server.metric('chatroom_store_bytes');
    console.log(
      'attack figures:',
      JSON.stringify({
        attack: '1,500 x 15 KB messages, STORE_MAX_BYTES 4 MiB, 32 MiB heap',
        storeMiB: +(storeBytes / MiB).toFixed(2),
        rssGrowthMiB: +((server.rss() - baseline) / MiB).toFixed(1),
      }),
    );
    expect(storeBytes).toBeLessThanOrEqual(4 * MiB);
    expect(server.child.exitCode).toBeNull();
    expect(server.rss() - baseline).toBeLessThan(48 * MiB);
    const first = await sender.request({ event: 'history', roomid: 'keep-0', after: 0, limit: 10 });
    expect(first).toMatchObject({ event: 'history', gap: true, lastSeq: 500 });
    await sender.close();
  });

  it('sockets that never finish their TLS handshake are cut off per address and time out', { timeout: 30_000 }, async () => {
    server = await startProcessServer({ PENDING_PER_ADDRESS: '5', HANDSHAKE_TIMEOUT_MS: '1000' });
    const neighbour = await login(server, 'neighbour');
    // Raw TCP sockets that never start TLS; the server may cut one off before it is even connected.
    const started = Date.now();
    const closes = Array.from({ length: 10 }, () => {
      const socket = tcpConnect({ host: '127.0.0.1', port: server!.port, localAddress: '127.0.0.1' });
      socket.on('error', () => {});
      return new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    });
    // A real client from another address still gets in while they hang.
    const other = await connect(server, { token: neighbour.token, localAddress: '127.0.0.2' });
    await other.nextEvent('welcome');
    await other.join('lobby');
    const times = await Promise.all(closes);
    const immediate = times.filter((t) => t - started < 500).length;
    console.log(
      'attack figures:',
      JSON.stringify({ attack: '10 silent TCP sockets, PENDING_PER_ADDRESS 5', droppedAtOnce: immediate, lastClosedAfterMs: Math.max(...times) - started }),
    );
    expect(immediate).toBeGreaterThanOrEqual(5);
    expect(Math.max(...times) - started).toBeLessThan(5000);
    await other.close();
  });
});

describe('attacks on fairness', () => {
  it('a thousand connections of one user do not multiply the rate limit: USER_RATE_BURST is shared', { timeout: 30_000 }, async () => {
    server = await startProcessServer({ USER_RATE_PER_SEC: '1', USER_RATE_BURST: '10' });
    const first = await connectAs(server, 'flood');
    const devices = [first, ...(await Promise.all(Array.from({ length: 4 }, () => connectAs(server!, 'flood', first.user.uid))))];
    for (const device of devices) await device.join('shared');
    const replies = await Promise.all(
      devices.flatMap((device, d) =>
        Array.from({ length: 10 }, (_, i) => device.request({ event: 'message', roomid: 'shared', message: `m${d}-${i}`, id: `f${d}-${i}` })),
      ),
    );
    const accepted = replies.filter((r) => r.event === 'ack').length;
    const refused = replies.filter((r) => r.event === 'error' && r.code === ErrorCode.RateLimited).length;
    console.log('attack figures:', JSON.stringify({ attack: '5 devices x 10 messages, USER_RATE_BURST 10', accepted, refused }));
    // The joins took 5 of the burst; about 5 more messages fit, whatever the number of devices.
    expect(accepted).toBeLessThanOrEqual(8);
    expect(accepted + refused).toBe(50);
    await Promise.all(devices.map((d) => d.close()));
  });
});
