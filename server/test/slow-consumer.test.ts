import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '../src/protocol.ts';
import { connectAs, httpRequest, startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  // The sender is paced only by the fast member's reading (well over 1,000 frames a second on a
  // quiet machine): the per-user limit, like the per-connection one, is not what this test is about.
  const unlimited = { RATE_LIMIT_PER_SEC: '10000', RATE_LIMIT_BURST: '10000', USER_RATE_PER_SEC: '10000', USER_RATE_BURST: '10000' };
  server = await startTestServer({ SEND_BUFFER_LIMIT_BYTES: String(1024 * 1024), ...unlimited });
});
afterAll(() => server.close());

async function slowConsumerCloses(): Promise<number> {
  const metrics = await httpRequest(server, '/metrics');
  return Number(/^chatroom_slow_consumer_closes_total (\d+)/m.exec(metrics.text)?.[1] ?? 0);
}

describe('slow consumers', () => {
  it('a member that stops reading is closed with 4008; the room keeps every message flowing', async () => {
    const sender = await connectAs(server, 'sender');
    const fast = await connectAs(server, 'fast');
    const slow = await connectAs(server, 'slow');
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
