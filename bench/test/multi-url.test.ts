// Multi-URL load generation: members (and publishers) spread round-robin over two servers, each
// logging in and connecting at its own node; CPU summed over both processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/args.ts';
import { courseDialect } from '../src/dialects.ts';
import { Session } from '../src/loadgen.ts';
import { launch, PEERS, type RunningPeer } from '../src/peers.ts';
import { formatTables } from '../src/report.ts';

describe('bench harness, several URLs', () => {
  const peers: RunningPeer[] = [];
  beforeAll(async () => {
    peers.push(...(await Promise.all([launch(PEERS.naive), launch(PEERS.naive)])));
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.stop()));
  });

  it('spreads members and publishers over both nodes and counts deliveries from both, none lost', async () => {
    // The naive servers are independent (each is one room of its own clients), so 2 rooms over 2
    // URLs: member i is in room i mod 2 on node i mod 2, and each room lives on one node.
    const session = new Session({
      url: peers[0].url,
      urls: peers.map((p) => p.url),
      dialect: courseDialect(),
      members: 40,
      rooms: 2,
      publishers: 4,
      serverPids: peers.map((p) => p.pid),
    });
    try {
      await session.connect();
      const r = await session.step({ rate: 100, size: 100, warmupMs: 300, durationMs: 1200, drainMs: 2000 });
      const json = JSON.parse(JSON.stringify(r)) as typeof r;
      expect(json.urls).toEqual(peers.map((p) => p.url));
      expect(json.nodes).toBe(2);
      expect(json.connectErrors).toBe(0);
      expect(json.lost).toBe(0);
      expect(json.duplicated).toBe(0);
      // 100 messages/s over 2 rooms of 20: 2,000 deliveries/s in all.
      expect(json.deliveries).toBeGreaterThan(100 * 1.2 * 20 * 0.9);
      const perNode = [0, 1].map((n) => session.members.filter((m) => m.node === n).reduce((a, m) => a + m.got, 0));
      expect(perNode[0]).toBeGreaterThan(0);
      expect(perNode[1]).toBeGreaterThan(0);
      expect(Math.abs(perNode[0] - perNode[1])).toBeLessThan(0.2 * (perNode[0] + perNode[1]));
      expect(json.cpu.serverUserPct).toBeTypeOf('number');
      expect(formatTables(r)).toContain('server (2 processes, summed)');
    } finally {
      await session.close();
    }
  });

  it('parses several URLs, and keeps one URL as before', () => {
    const many = parseArgs(['-c', '10', 'ws://127.0.0.1:1/', 'ws://127.0.0.1:2/', '--server-pid', '11,12']);
    expect(many.url).toBe('ws://127.0.0.1:1/');
    expect(many.urls).toEqual(['ws://127.0.0.1:1/', 'ws://127.0.0.1:2/']);
    expect(many.serverPids).toEqual([11, 12]);
    const one = parseArgs(['ws://127.0.0.1:1/', '--server-pid', '11']);
    expect(one.urls).toEqual(['ws://127.0.0.1:1/']);
    expect(one.serverPid).toBe(11);
    expect(one.serverPids).toBeUndefined();
  });
});
