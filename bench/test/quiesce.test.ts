// `quiesce` waits out a step's backlog before the next step. It must count chat messages, not
// bytes: our server's heartbeat pings keep bytes arriving on idle connections.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatDialect } from '../src/dialects.ts';
import { Session } from '../src/loadgen.ts';
import { launch, PEERS, type RunningPeer } from '../src/peers.ts';

describe('bench harness between steps', () => {
  let peer: RunningPeer;
  beforeAll(async () => {
    // A ping every 50 ms to each connection: bytes keep arriving while no message does.
    peer = await launch(PEERS.ours, { extraEnv: { HEARTBEAT_INTERVAL_MS: '200' } });
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it('is quiet once messages stop, though heartbeat pings keep arriving', async () => {
    const session = new Session({ url: peer.url, dialect: chatDialect({ auth: true }), members: 20, rooms: 2, publishers: 2, serverPid: peer.pid });
    try {
      await session.connect();
      const r = await session.step({ rate: 50, size: 100, warmupMs: 200, durationMs: 500, drainMs: 2000 });
      expect(r.lost).toBe(0);
      expect(r.deliveries).toBeGreaterThan(0);
      const bytesRead = () => session.alive.reduce((sum, m) => sum + (m.ws?.bytesRead ?? 0), 0);
      const before = bytesRead();
      const started = performance.now();
      await session.quiesce(300, 20_000);
      const waited = performance.now() - started;
      const after = bytesRead();
      // Pings did arrive meanwhile, and quiesce did not wait for them to stop (they never do).
      expect(after).toBeGreaterThan(before);
      expect(waited).toBeLessThan(10_000);
    } finally {
      await session.close();
    }
  });
});
