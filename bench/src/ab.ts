import { destroyAgents } from './http.ts';
import type { Session, StepResult } from './loadgen.ts';
import { launch, PEERS, type RunningPeer } from './peers.ts';
import { waitForQuietMachine } from './procstat.ts';
import { si } from './report.ts';
import { median } from './stats.ts';
import { toolArgs, toolLoad, toolSession } from './tool-args.ts';

async function main(): Promise<void> {
  const args = toolArgs();
  const servers = args.opt('--servers', 'ours,ours-alt').split(',').filter(Boolean);
  const load = toolLoad(args, { members: 10_000, rooms: 1000 });
  const { members, rooms, publishers, direct } = load;
  const deliveries = args.num('--deliveries', 50_000);
  const rounds = args.num('--rounds', 3);
  const duration = args.num('--duration', 4);
  const log = (l: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);
  const running: { id: string; peer: RunningPeer; session: Session }[] = [];
  const results = new Map<string, StepResult[]>();
  try {
    for (const id of servers) {
      const peer = await launch(PEERS[id]);
      const session = toolSession(id, peer, load, { serverPid: peer.pid, log: (l) => log(`${id}: ${l}`) });
      running.push({ id, peer, session });
      await session.connect();
      results.set(id, []);
    }
    const perRoom = members / rooms;
    // Each step waits (5 minutes at most in all) while other processes use more than 40 % of a core.
    const budget = { ms: 300_000 };
    for (let round = 0; round < rounds; round++) {
      for (const { id, session, peer } of running) {
        await session.quiesce(300, 10_000);
        await waitForQuietMachine(peer.pids, budget, log);
        const r = await session.step({ rate: deliveries / perRoom, size: 100, warmupMs: 1000, durationMs: duration * 1000, drainMs: 2000 });
        results.get(id)!.push(r);
        log(
          `${id.padEnd(10)} round ${round + 1}: ${si(r.deliveriesPerSec)}/s of ${si(r.targetDeliveriesPerSec)}, p50 ${r.latency.p50} p99 ${r.latency.p99} ms, ` +
            `server ${r.cpu.serverUserPct}% user + ${r.cpu.serverSysPct}% sys = ${r.cpu.serverUsPerDelivery} µs/delivery, ` +
            `load gen ${r.cpu.loadgenUsPerDelivery} µs/delivery, irq ${r.cpu.softirqPct}%, others ${r.cpu.othersPct}%, lost ${r.lost}, dup ${r.duplicated}, closed ${r.closed}`,
        );
      }
    }
  } finally {
    for (const { session, peer } of running) {
      await session.close();
      await peer.stop();
    }
    destroyAgents();
  }
  process.stdout.write(
    `\n${direct ? `${members / 2} direct-message pairs` : `${members} members in ${rooms} rooms`}, ${publishers} publishers, ${si(deliveries)} deliveries/s, ${rounds} rounds of ${duration} s\n`,
  );
  process.stdout.write('| server | server µs/delivery | user µs | sys µs | p50 ms | p99 ms | lost |\n|---|---|---|---|---|---|---|\n');
  for (const [id, rs] of results) {
    const per = (pct: number | undefined, r: StepResult) => (((pct ?? NaN) / 100) * 1e6) / r.deliveriesPerSec;
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '?');
    process.stdout.write(
      `| ${id} | ${f(median(rs.map((r) => r.cpu.serverUsPerDelivery ?? NaN)))} | ${f(median(rs.map((r) => per(r.cpu.serverUserPct, r))))} | ${f(median(rs.map((r) => per(r.cpu.serverSysPct, r))))} | ` +
        `${f(median(rs.map((r) => r.latency.p50)))} | ${f(median(rs.map((r) => r.latency.p99)))} | ${rs.reduce((a, r) => a + r.lost, 0)} |\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`ab: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
