import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '../src/protocol.ts';
import { connectAs, httpRequest, OVER_TLS_AND_PLAIN_TCP, startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  // The sender is paced only by the fast member's reading (well over 1,000 frames a second on a
  // quiet machine): the per-user limit, like the per-connection one, is not what this test is about.
  const unlimited = { RATE_LIMIT_PER_SEC: '10000', RATE_LIMIT_BURST: '10000', USER_RATE_PER_SEC: '10000', USER_RATE_BURST: '10000' };
  server = await startTestServer({ SEND_BUFFER_LIMIT_BYTES: String(1024 * 1024), ...unlimited });
});
afterAll(() => server.close());

async function slowConsumerCloses(of: TestServer = server): Promise<number> {
  const metrics = await httpRequest(of, '/metrics');
  return Number(/^chatroom_slow_consumer_closes_total (\d+)/m.exec(metrics.text)?.[1] ?? 0);
}

describe('slow consumers', () => {
  it('a member that stops reading is closed with 4008; the room keeps every message flowing', async () => {
    const sender = await connectAs(server, 'sender');
    const fast = await connectAs(server, 'fast');
    // It does not answer heartbeats either: a reader that stopped sees no ping, and a pong sent
    // after the server's close makes Deno's native socket drop the connection (1006, docs/deno.md).
    // The heartbeat wheel may ping a new connection within its first 250 ms.
    const slow = await connectAs(server, 'slow', undefined, { pong: false });
    for (const c of [sender, fast, slow]) await c.join('firehose');
    // ws's own pause: it stops reading the TCP socket, so the server's writes back up.
    slow.ws.pause();
    const body = 'z'.repeat(4000);
    // Paced so the fast member keeps up; the paused one falls behind by the whole stream (16 MB).
    // Once the server gave up on it, it reads again: its close frame waits behind what was queued.
    const count = 4000;
    for (let i = 0; i < count; i += 1) {
      sender.send({ event: 'message', roomid: 'firehose', message: body, id: `f${i}` });
      if (i % 50 === 49) {
        await fast.waitFor(() => fast.messages('firehose').length === i + 1, 5000, `message ${i + 1}`);
        if (slow.ws.isPaused && (await slowConsumerCloses()) > 0) slow.ws.resume();
      }
    }
    slow.ws.resume();
    expect(await slow.closed).toBe(CloseCode.SlowConsumer);
    expect(slow.messages('firehose').length).toBeLessThan(count);
    expect((await fast.nextEvent('logout', { uid: slow.user.uid })).name).toBe('slow');
    await Promise.all([sender.close(), fast.close()]);
  });
});

describe("all connections' unread output together (OUTPUT_MAX_BYTES)", () => {
  const OUTPUT_MAX = 4 * 1024 * 1024;
  let bounded: TestServer;
  beforeAll(async () => {
    bounded = await startTestServer({
      // Far above what one connection gets here: only the sum over connections can close one.
      SEND_BUFFER_LIMIT_BYTES: String(64 * 1024 * 1024),
      OUTPUT_MAX_BYTES: String(OUTPUT_MAX),
      RATE_LIMIT_PER_SEC: '10000',
      RATE_LIMIT_BURST: '10000',
      USER_RATE_PER_SEC: '10000',
      USER_RATE_BURST: '10000',
    });
  });
  afterAll(() => bounded.close());

  async function unreadOutput(): Promise<number> {
    const metrics = await httpRequest(bounded, '/metrics');
    return Number(/^chatroom_output_unread_bytes (\d+)/m.exec(metrics.text)?.[1]);
  }

  it('closes the largest backlog with 4008, even once nothing more is sent to it; a smaller one stays open and gets everything', async () => {
    const sender = await connectAs(bounded, 'sender');
    const big = await connectAs(bounded, 'big', undefined, { pong: false });
    const small = await connectAs(bounded, 'small', undefined, { pong: false });
    await sender.join('a');
    await sender.join('b');
    await big.join('a');
    await small.join('b');
    big.ws.pause();
    small.ws.pause();
    const body = 'y'.repeat(4000);
    let sent = 0;
    // Sends to `room` in steps of 64 KB, each read back by the sender (its own copy), until `until`.
    const flood = async (room: string, until: () => Promise<boolean>): Promise<void> => {
      for (let step = 0; step < 2000 && !(await until()); step += 1) {
        for (let i = 0; i < 16; i += 1) sender.send({ event: 'message', roomid: room, message: body, id: `${room}${(sent += 1)}` });
        await sender.nextEvent('ack', { id: `${room}${sent}` }, 5000);
      }
    };
    // The kernel takes the first megabytes; then `big` holds 3 MiB the server could not write, under the limit.
    await flood('a', async () => (await unreadOutput()) >= 3 * 1024 * 1024);
    const toBig = sent;
    expect(await unreadOutput()).toBeLessThan(OUTPUT_MAX);
    // Nothing more goes to `big`. `small` fills up until the two together pass the limit.
    await flood('b', async () => (await slowConsumerCloses(bounded)) > 0);
    expect(await slowConsumerCloses(bounded)).toBe(1);
    big.ws.resume();
    expect(await big.closed).toBe(CloseCode.SlowConsumer);
    expect((await sender.nextEvent('logout', { uid: big.user.uid, roomid: 'a' })).name).toBe('big');
    // What it was sent before the close is written out first (it reads again here), then the close.
    expect(big.messages('a').length).toBe(toBig);
    // `small` was not closed: it reads everything sent to it and is still answered.
    small.ws.resume();
    const toSmall = sent - toBig;
    await small.waitFor(() => small.messages('b').length === toSmall, 20_000, `all ${toSmall} messages of b`);
    small.send({ event: 'message', roomid: 'b', message: 'still here', id: 'last' });
    await small.nextEvent('ack', { id: 'last' });
    expect(await unreadOutput()).toBeLessThan(OUTPUT_MAX);
    await Promise.all([sender.close(), small.close()]);
    // Deno's native socket buffers more before the server holds any: more steps to fill it.
  }, 60_000);
});

describe.each(OVER_TLS_AND_PLAIN_TCP)('slow consumers, a burst of large replies (%s)', (_name, env) => {
  let burstServer: TestServer;
  beforeAll(async () => {
    burstServer = await startTestServer({
      SEND_BUFFER_LIMIT_BYTES: String(1024 * 1024),
      DRAIN_TIMEOUT_MS: '1000',
      RATE_LIMIT_BURST: '400',
      USER_RATE_BURST: '400',
      ...env,
    });
  });
  afterAll(() => burstServer.close());

  it('a connection that asks for far more than it reads is closed before its replies are all queued', async () => {
    const writer = await connectAs(burstServer, 'archivist');
    await writer.join('archive');
    const body = 'h'.repeat(5000);
    for (let i = 0; i < 100; i += 1) writer.send({ event: 'message', roomid: 'archive', message: body, id: `a${i}` });
    await writer.nextEvent('ack', { id: 'a99' }, 10_000);
    const reader = await connectAs(burstServer, 'hoarder');
    await reader.join('archive');
    reader.ws.pause();
    // 200 pages (each cut to a quarter of the limit: about 50 MB of replies) asked for at once
    // (the rate limits are raised for it). The frames queued for the next write count
    // against the limit as they are queued, and a page waits until the connection has read its
    // output down to half the limit: one that does not read is closed within DRAIN_TIMEOUT_MS.
    // Loopback's socket buffers take about 50 pages before that.
    const pages = 200;
    const closesBefore = await slowConsumerCloses(burstServer);
    for (let i = 0; i < pages; i += 1) reader.send({ event: 'history', roomid: 'archive', limit: 100, id: `h${i}` });
    // The server's counter, read over HTTP: the reader itself reads nothing until then.
    const deadline = Date.now() + 10_000;
    while ((await slowConsumerCloses(burstServer)) === closesBefore) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection that does not read');
    }
    reader.ws.resume();
    // 4008 when the close frame gets through what is still queued in front of it before the
    // server's grace period (CLOSE_GRACE_MS) ends, else 1006 (docs/benchmarks.md, "Slow consumers").
    expect([CloseCode.SlowConsumer, 1006]).toContain(await reader.closed);
    expect(reader.events('history').length).toBeLessThan(pages / 2);
    await writer.close();
  });
});
