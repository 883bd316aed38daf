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
});
