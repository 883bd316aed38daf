import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, connectAs, login, startTestServer, type TestServer } from './harness.ts';

const INTERVAL = 300;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ HEARTBEAT_INTERVAL_MS: String(INTERVAL) });
});
afterAll(() => server.close());

describe('heartbeat', () => {
  it('the server pings every interval and a client that answers stays connected', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('beat');
    // Three pings (three intervals) answered, then a request and its reply: still connected.
    await alice.waitFor(() => alice.events('heartbeat').length >= 3, INTERVAL * 10, 'three pings');
    expect(alice.events('heartbeat')[0]).toEqual({ event: 'heartbeat', message: 'ping' });
    await alice.settled();
    expect(alice.closeCode).toBeUndefined();
    await alice.close();
  });

  it('a silent client is terminated within two intervals and its rooms are told', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('silence');
    const { token, uid } = await login(server, 'mute');
    const mute = await connect(server, { token, pong: false });
    // Frames are liveness too, so the silent client sends nothing after joining.
    mute.send({ event: 'join', roomid: 'silence' });
    await alice.nextEvent('login', { uid });
    const started = Date.now();
    await mute.closed;
    const took = Date.now() - started;
    expect(took).toBeLessThanOrEqual(INTERVAL * 2 + 250);
    const logout = await alice.nextEvent('logout', { uid });
    expect(logout).toMatchObject({ roomid: 'silence', reason: 'timeout', num: 1, total: 2 });
    await alice.close();
  });

  it('pings are spread over the interval, not sent to every connection at once; each connection still gets one an interval', async () => {
    // 1 s in four ticks of 250 ms: eight connections are pinged two a tick.
    const spread = await startTestServer({ HEARTBEAT_INTERVAL_MS: '1000' });
    try {
      const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => connectAs(spread, `beat${i}`)));
      const pingsAt = clients.map((client) => {
        const times: number[] = [];
        client.ws.on('message', (data) => {
          if (String(data).includes('"heartbeat"')) times.push(Date.now());
        });
        return times;
      });
      for (const [i, client] of clients.entries()) await client.waitFor(() => pingsAt[i].length >= 2, 5000, 'two pings');
      const firsts = pingsAt.map((times) => times[0]);
      // All at once would put every first ping in the same turn; a quarter of them a tick spreads them.
      expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThanOrEqual(400);
      for (const times of pingsAt) {
        expect(times[1] - times[0]).toBeGreaterThanOrEqual(800);
        expect(times[1] - times[0]).toBeLessThanOrEqual(1400);
      }
      await Promise.all(clients.map((client) => client.close()));
    } finally {
      await spread.close();
    }
  });
});
