// Runs the harness for ~2 s against the course's naive peer and checks its result is sane.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/args.ts';
import { courseDialect } from '../src/dialects.ts';
import { Session } from '../src/loadgen.ts';
import { launch, PEERS, type RunningPeer } from '../src/peers.ts';
import { formatTables } from '../src/report.ts';
import { isLoopbackHost } from '../src/wsclient.ts';

describe('bench harness', () => {
  let peer: RunningPeer;
  beforeAll(async () => {
    peer = await launch(PEERS.naive);
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it('counts every delivery of a 2 s run against the naive server, none lost', async () => {
    const session = new Session({ url: peer.url, dialect: courseDialect(), members: 50, rooms: 1, publishers: 5, serverPid: peer.pid });
    try {
      await session.connect();
      const r = await session.step({ rate: 100, size: 100, warmupMs: 500, durationMs: 1500, drainMs: 2000 });
      const json = JSON.parse(JSON.stringify(r)) as typeof r;
      expect(json.connectErrors).toBe(0);
      expect(json.sent).toBeGreaterThanOrEqual(150);
      // Every member (senders included) gets every message: 50 deliveries per message.
      expect(json.deliveries).toBeGreaterThan(100 * 1.5 * 50 * 0.9);
      expect(json.lost).toBe(0);
      expect(json.duplicated).toBe(0);
      expect(json.latency.count).toBe(json.deliveries);
      expect(json.latency.p99).toBeGreaterThan(0);
      expect(json.latency.p50).toBeLessThanOrEqual(json.latency.p99);
      expect(json.cpu.serverUserPct).toBeTypeOf('number');
      expect(formatTables(r)).toContain('Latency');
    } finally {
      await session.close();
    }
  });

  it('accepts loopback targets only', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(() => new Session({ url: 'ws://192.168.1.2:80/', dialect: courseDialect(), members: 1, rooms: 1, publishers: 1 })).toThrow(/loopback/);
    expect(parseArgs(['-c', '10', '-D', '5000', 'ws://127.0.0.1:1/']).members).toBe(10);
  });
});
