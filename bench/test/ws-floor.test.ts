// The `ws` floor (peers/ws-pubsub.mjs) is only a floor if it does the uWS peer's work: the same
// frames to the same members for the same load. Both run here, rooms of 10 and direct pairs, and
// must count the same deliveries and acks per message, none lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatDialect } from '../src/dialects.ts';
import { Session, type StepResult } from '../src/loadgen.ts';
import { launch, PEERS, type RunningPeer } from '../src/peers.ts';

const LOADS = {
  'rooms of 10': { members: 40, rooms: 4, publishers: 4, direct: false },
  'direct pairs': { members: 40, rooms: 0, publishers: 20, direct: true },
};

async function run(peer: RunningPeer, load: (typeof LOADS)[keyof typeof LOADS]): Promise<StepResult> {
  const session = new Session({ url: peer.url, dialect: chatDialect({ auth: false }), serverPid: peer.pid, ...load });
  try {
    await session.connect();
    return await session.step({ rate: 100, size: 100, warmupMs: 300, durationMs: 1000, drainMs: 2000 });
  } finally {
    await session.close();
  }
}

describe('the ws pub/sub floor', () => {
  const peers: Record<string, RunningPeer> = {};
  beforeAll(async () => {
    expect(PEERS.uws.available()).toBeUndefined();
    peers.uws = await launch(PEERS.uws);
    peers.ws = await launch(PEERS['ws-pubsub']);
  });
  afterAll(async () => {
    await Promise.all(Object.values(peers).map((p) => p.stop()));
  });

  for (const [name, load] of Object.entries(LOADS)) {
    it(`delivers what the uWS peer delivers in ${name}, every message acked, none lost`, async () => {
      const results = { uws: await run(peers.uws, load), ws: await run(peers.ws, load) };
      // Deliveries are counted for the messages sent in the measured window.
      const perMessage = (r: StepResult) => r.deliveries / (r.sentPerSec * r.durationS);
      for (const r of Object.values(results)) {
        expect(r.sent).toBeGreaterThan(50);
        expect(r.lost).toBe(0);
        expect(r.duplicated).toBe(0);
        expect(r.acks).toBe(r.sent);
      }
      // Rooms of 10: every member of the room, the sender too; a direct pair: partner and sender.
      const expected = load.direct ? 2 : load.members / load.rooms;
      for (const r of Object.values(results)) {
        expect(perMessage(r)).toBeGreaterThan(expected * 0.95);
        expect(perMessage(r)).toBeLessThan(expected * 1.05);
      }
    });
  }
});
