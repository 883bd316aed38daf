/**
 * `node bench/dist/profile.js [--server ours] [--members 1000] [--deliveries 400000] [--duration 5]`:
 * runs a server under `node --cpu-prof` through one load step and prints where its CPU went
 * (self time by function, top 30), so a lost target can be explained.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dialectByName } from './dialects.ts';
import { Session } from './loadgen.ts';
import { PEERS, launch } from './peers.ts';
import { destroyAgents } from './http.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export function summarizeProfile(file: string, top = 30): string {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const self = new Map<string, number>();
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  for (const s of prof.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  let total = 0;
  for (const [id, c] of counts) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? path.basename(f.url) + ':' + (f.lineNumber + 1) : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + c);
    total += c;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return rows.map(([k, c]) => `${((c / total) * 100).toFixed(1).padStart(5)}%  ${k}`).join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  const id = opt('--server', 'ours');
  const members = Number(opt('--members', '1000'));
  const deliveries = Number(opt('--deliveries', '400000'));
  const duration = Number(opt('--duration', '5'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-bench-prof-'));
  const peer = await launch(PEERS[id], { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  const session = new Session({ url: peer.url, dialect: dialectByName(PEERS[id].protocol), members, rooms: 1, publishers: 10, serverPid: peer.pid, log: (l) => process.stderr.write(l + '\n') });
  try {
    await session.connect();
    const r = await session.step({ rate: deliveries / members, size: 100, warmupMs: 1000, durationMs: duration * 1000, drainMs: 2000 });
    process.stdout.write(
      `${id} ${members} members, target ${deliveries}/s: got ${r.deliveriesPerSec}/s, p50 ${r.latency.p50} p99 ${r.latency.p99} ms, lost ${r.lost}, ${r.deliveriesPerRead} deliveries per read, ` +
        `server ${r.cpu.serverUserPct}% user + ${r.cpu.serverSysPct}% sys, ${r.cpu.serverUsPerDelivery} µs/delivery; load generator ${r.cpu.loadgenUserPct}+${r.cpu.loadgenSysPct}%\n`,
    );
  } finally {
    await session.close();
    await peer.stop();
    destroyAgents();
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no profile written in ${dir}`);
  const file = path.join(dir, files[0]);
  process.stdout.write(`profile: ${file}\nself time, whole server process run (setup included):\n${summarizeProfile(file)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`profile: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
