/**
 * `npm run profile -w bench -- [--server ours] [--members 1000] [--rooms 1 | --direct] [--publishers 10]
 * [--deliveries 400000] [--duration 5] [--perf | --syscalls]`: runs a server through one load step and prints where
 * its CPU went during the measured window (warm-up, login and connect excluded), so a lost target can be explained.
 *
 * By default the server runs under `node --cpu-prof` (JavaScript self time by function; a system call counts as
 * the native function that made it). With `--perf`, `perf record` samples the server process instead (with
 * `--perf-basic-prof` for JavaScript names), which splits the kernel's share by function too. With `--syscalls`,
 * `perf stat` counts the server's system calls by kind in the window, per delivery.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { destroyAgents } from './http.ts';
import { launch, PEERS } from './peers.ts';
import { toolArgs, toolLoad, toolSession } from './tool-args.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** The monotonic clock V8's profiler stamps samples with (CLOCK_MONOTONIC, µs), shared across processes. */
/** The system calls `--syscalls` counts. */
const SYSCALLS = ['write', 'writev', 'sendto', 'sendmsg', 'read', 'readv', 'recvfrom', 'recvmsg', 'epoll_wait', 'epoll_pwait', 'epoll_ctl'];

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Self time by function; with `window`, only samples taken in [from, to) (monotonicUs). */
export function summarizeProfile(file: string, top = 30, window?: { from: number; to: number }): string {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number };
  const self = new Map<string, number>();
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  let t = prof.startTime;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i];
    if (window && (t < window.from || t >= window.to)) continue;
    const f = byId.get(prof.samples[i])!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + 1);
    total++;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return rows.map(([k, c]) => `${((c / total) * 100).toFixed(1).padStart(5)}%  ${k}`).join('\n');
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', () => {});
    child.on('error', reject);
    child.on('exit', () => resolve(out));
  });
}

async function main(): Promise<void> {
  const args = toolArgs();
  const id = args.opt('--server', 'ours');
  const load = toolLoad(args, { members: 1000, rooms: 1, publishers: 10 });
  const { members, rooms } = load;
  const deliveries = args.num('--deliveries', 400_000);
  const duration = args.num('--duration', 5);
  const usePerf = args.flag('--perf');
  const countSyscalls = args.flag('--syscalls');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-bench-prof-'));
  const nodeArgs = usePerf ? ['--perf-basic-prof'] : countSyscalls ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  const peer = await launch(PEERS[id], { nodeArgs });
  const session = toolSession(id, peer, load, { serverPid: peer.pid, log: (l) => process.stderr.write(`${l}\n`) });
  const warmupMs = 1000;
  const perfData = path.join(dir, 'perf.data');
  let window: { from: number; to: number } | undefined;
  let perfDone: Promise<string> | undefined;
  let delivered = 0;
  try {
    await session.connect();
    const from = monotonicUs() + warmupMs * 1000;
    window = { from, to: from + duration * 1e6 };
    if (usePerf || countSyscalls) {
      const perfArgs = usePerf
        ? ['record', '-F', '499', '-g', '-p', String(peer.pid), '-o', perfData]
        : ['stat', '-x', ',', '-o', perfData, '-e', SYSCALLS.map((c) => `syscalls:sys_enter_${c}`).join(','), '-p', String(peer.pid)];
      perfDone = new Promise((r) => setTimeout(r, warmupMs)).then(() => run('perf', [...perfArgs, '--', 'sleep', String(duration)]));
    }
    const r = await session.step({ rate: deliveries / (members / rooms), size: 100, warmupMs, durationMs: duration * 1000, drainMs: 2000 });
    process.stdout.write(
      `${id} ${members} members in ${rooms} room(s), target ${deliveries}/s: got ${r.deliveriesPerSec}/s, p50 ${r.latency.p50} p99 ${r.latency.p99} ms, lost ${r.lost}, ${r.deliveriesPerRead} deliveries per read, ` +
        `server ${r.cpu.serverUserPct}% user + ${r.cpu.serverSysPct}% sys, ${r.cpu.serverUsPerDelivery} µs/delivery; load generator ${r.cpu.loadgenUserPct}+${r.cpu.loadgenSysPct}%\n`,
    );
    delivered = r.deliveriesPerSec * duration;
    await perfDone;
  } finally {
    await session.close();
    await peer.stop();
    destroyAgents();
  }
  if (countSyscalls) {
    // perf stat -x: value,unit,event,...
    const rows = fs
      .readFileSync(perfData, 'utf8')
      .split('\n')
      .filter((l) => l.includes('syscalls:'));
    process.stdout.write(`system calls of the server in the measured window, per delivery (${Math.round(delivered)} deliveries):\n`);
    for (const row of rows) {
      const [value, , event] = row.split(',');
      process.stdout.write(`${(Number(value) / delivered).toFixed(3).padStart(8)}  ${event.replace('syscalls:sys_enter_', '')}\n`);
    }
    return;
  }
  if (usePerf) {
    const report = await run('perf', ['report', '-i', perfData, '--stdio', '--no-children', '--sort', 'dso,sym', '-g', 'none', '--percent-limit', '0.7']);
    process.stdout.write(
      `perf data: ${perfData}\nself time in the measured window, by shared object and symbol:\n${report
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .join('\n')}\n`,
    );
    return;
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no profile written in ${dir}`);
  const file = path.join(dir, files[0]);
  process.stdout.write(`profile: ${file}\nself time in the measured window:\n${summarizeProfile(file, 30, window)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`profile: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
