/**
 * `npm run bench:compare`: starts each server in turn (same run, same load), finds its highest
 * sustainable deliveries/s (p99 under the limit, nothing lost) at each room size, repeats the key
 * points, measures memory per idle connection and the HTTP side, prints ratios against each peer,
 * and writes JSON to bench/results/ (and, with --write-docs, docs/benchmarks.md and the plot).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dialectByName } from './dialects.ts';
import { destroyAgents } from './http.ts';
import { type HttpBenchResult, httpBench } from './httpbench.ts';
import { Session, type StepResult } from './loadgen.ts';
import { BENCH_DIR, launch, PEERS, REPO_DIR, type RunningPeer, versions } from './peers.ts';
import { type PlotSeries, plotSvg } from './plot.ts';
import { processesRss, waitForQuietMachine as waitUntilQuiet } from './procstat.ts';
import { si } from './report.ts';
import { cpuAtSameRates } from './same-rates.ts';
import { median as finiteMedian } from './stats.ts';
import { Turns } from './turns.ts';
import { DEFAULT_WORKLOADS, runsOn, type Workload, workloadByName } from './workloads.ts';

interface CompareArgs {
  servers: string[];
  /** Workload names (workloads.ts). */
  workloads: string[];
  /** Members of the small-room and direct-message workloads. */
  smallMembers: number;
  /** Runs saved before workloads existed: one-room sizes. */
  members?: number[];
  p99LimitMs: number;
  durationS: number;
  warmupS: number;
  repeats: number;
  size: number;
  publishers: number;
  bisections: number;
  /** Where every search starts; default per workload (50k in one room, 10k in small rooms and direct chats). */
  startDeliveries?: number;
  maxDeliveries: number;
  idle: number;
  idleServers: string[];
  http: boolean;
  wssMembers: number;
  writeDocs: boolean;
  /** Servers' searches take turns step by step (all servers up at once), not one after another. */
  interleave: boolean;
}

const HELP = `Usage: npm run bench:compare -- [options]
  --servers LIST       default ours,naive,socketio,uws; also ours-wss, ours-alt, ours-deno,
                       ours-deno-native, ours-redis1, ours-redis3, socketio-redis3, bare-ws,
                       ws-pubsub (the uWS peer's protocol on ws)
  --workloads LIST     default room100,room1000,rooms10,dm: one room of 100 and of 1,000
                       members (10 publishers); 10,000 members in rooms of 10 (one publisher a
                       room); 5,000 direct-message pairs (one publisher a pair). room<N> and
                       rooms<K> take other sizes
  --members LIST       shortcut for one-room workloads only: --members 100 = --workloads room100
  --small-members N    members of the rooms<K> and dm workloads, default 10000
  --p99 MS             p99 limit for "sustainable", default 100
  --duration SEC       measured seconds per step, default 3
  --warmup SEC         default 1
  --repeats N          runs at the sustained point, default 3
  --size BYTES         message text, default 100
  --publishers P       publishers of a one-room workload, default 10
  --bisections N       default 3
  --start D            deliveries/s where every search starts (default 50k in one room, 10k in
                       small rooms and direct chats)
  --wait-budget SEC    longest wait, all steps together, for other processes to go quiet
                       (default 180); a step that fails while they use > 40% of a core runs again
  --idle N             idle connections for memory per connection, default 10000 (0: skip)
  --idle-servers LIST  default bare-ws,ours,naive,socketio,uws
  --wss-members N      also search ours over TLS at this room size (0: skip), default 1000
  --no-http            skip autocannon on /healthz and /api/login
  --quick              duration 2, repeats 2, bisections 2, idle 2000
  --interleave         all servers of a workload up at once, their searches taking turns step by
                       step, so that a noisy minute of the machine falls on each of them alike
  --write-docs         update docs/benchmarks.md (generated section) and docs/benchmarks-plot.svg
  --render FILE        only rewrite those docs from a saved bench/results/compare-*.json
`;

/** --render FILE: rewrite the docs from a saved bench/results JSON, without running anything. */
let renderFrom: string | undefined;

function parse(argv: string[]): CompareArgs {
  const a: CompareArgs = {
    servers: ['ours', 'naive', 'socketio', 'uws'],
    workloads: DEFAULT_WORKLOADS,
    smallMembers: 10_000,
    p99LimitMs: 100,
    durationS: 3,
    warmupS: 1,
    repeats: 3,
    size: 100,
    publishers: 10,
    bisections: 3,
    maxDeliveries: 3_200_000,
    idle: 10_000,
    idleServers: ['bare-ws', 'ours', 'naive', 'socketio', 'uws'],
    http: true,
    wssMembers: 1000,
    writeDocs: false,
    interleave: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const v = () => argv[++i];
    const list = () => v().split(',').filter(Boolean);
    switch (f) {
      case '--servers':
        a.servers = list();
        break;
      case '--workloads':
        a.workloads = list();
        break;
      case '--members':
        a.workloads = list().map((m) => `room${Number(m)}`);
        break;
      case '--small-members':
        a.smallMembers = Number(v());
        break;
      case '--p99':
        a.p99LimitMs = Number(v());
        break;
      case '--duration':
        a.durationS = Number(v());
        break;
      case '--warmup':
        a.warmupS = Number(v());
        break;
      case '--repeats':
        a.repeats = Math.max(1, Number(v()));
        break;
      case '--size':
        a.size = Number(v());
        break;
      case '--publishers':
        a.publishers = Number(v());
        break;
      case '--bisections':
        a.bisections = Number(v());
        break;
      case '--start':
        a.startDeliveries = Number(v());
        break;
      case '--wait-budget':
        busyBudget.ms = Number(v()) * 1000;
        break;
      case '--max':
        a.maxDeliveries = Number(v());
        break;
      case '--idle':
        a.idle = Number(v());
        break;
      case '--idle-servers':
        a.idleServers = list();
        break;
      case '--wss-members':
        a.wssMembers = Number(v());
        break;
      case '--no-http':
        a.http = false;
        break;
      case '--quick':
        a.durationS = 2;
        a.repeats = 2;
        a.bisections = 2;
        a.idle = 2000;
        break;
      case '--write-docs':
        a.writeDocs = true;
        break;
      case '--interleave':
        a.interleave = true;
        break;
      case '--render':
        renderFrom = v();
        break;
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        return process.exit(0);
      default:
        throw new Error(`unknown option ${f}\n${HELP}`);
    }
  }
  return a;
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

export interface Point {
  server: string;
  /** Workload id; absent in runs saved before workloads (one room of `members`). */
  workload?: string;
  members: number;
  target: number;
  achieved: number;
  p50: number;
  p99: number;
  lost: number;
  pass: boolean;
  why: string;
  serverUserPct?: number;
  serverSysPct?: number;
  loadgenPct: number;
  othersPct?: number;
  softirqPct?: number;
  serverUsPerDelivery?: number;
  serverUserUsPerDelivery?: number;
  serverSysUsPerDelivery?: number;
  loadgenUsPerDelivery: number;
  loadgenBound: boolean;
  /** Server processes summed in the server figures (1 unless several nodes). */
  nodes?: number;
  /** redis-server, apart. */
  auxPct?: number;
  auxUsPerDelivery?: number;
}

export interface Sustained {
  server: string;
  workload?: string;
  members: number;
  sustained: number;
  passes: string;
  p99AtSustained: number;
  half: number;
  p99AtHalf: number;
  serverUsPerDelivery?: number;
  serverUserUsPerDelivery?: number;
  serverSysUsPerDelivery?: number;
  loadgenUsPerDelivery: number;
  serverUserPct?: number;
  serverSysPct?: number;
  loadgenUserPct: number;
  loadgenSysPct: number;
  othersPct?: number;
  loadgenBound: boolean;
  bound: string;
  connectP50: number;
  nodes?: number;
  auxUserPct?: number;
  auxSysPct?: number;
  auxUsPerDelivery?: number;
  error?: string;
}

function toPoint(server: string, workload: string, r: StepResult, limit: number): Point {
  const why: string[] = [];
  if (r.membersAlive < r.members) why.push(`${r.members - r.membersAlive} members not connected`);
  if (r.lost > 0) why.push(`lost ${r.lost}`);
  if (r.duplicated > 0) why.push(`dup ${r.duplicated}`);
  if (r.closed > 0) why.push(`closed ${JSON.stringify(r.closeCodes)}`);
  if (r.errors > 0) why.push(`errors ${JSON.stringify(r.errorCodes)}`);
  if (r.latency.p99 >= limit) why.push(`p99 ${r.latency.p99} ms`);
  if (r.deliveriesPerSec < 0.95 * r.targetDeliveriesPerSec) why.push(`achieved ${si(r.deliveriesPerSec)}/s`);
  if (r.sentPerSec < 0.95 * r.rate) why.push(`load generator sent ${r.sentPerSec}/s of ${r.rate}`);
  const usPer = (pct: number | undefined) =>
    pct === undefined || r.deliveriesPerSec === 0 ? undefined : Math.round(((pct / 100) * 1e6 * 100) / r.deliveriesPerSec) / 100;
  return {
    server,
    workload,
    members: r.members,
    target: r.targetDeliveriesPerSec,
    achieved: r.deliveriesPerSec,
    p50: r.latency.p50,
    p99: r.latency.p99,
    lost: r.lost,
    pass: why.length === 0,
    why: why.join(', '),
    serverUserPct: r.cpu.serverUserPct,
    serverSysPct: r.cpu.serverSysPct,
    loadgenPct: Math.round((r.cpu.loadgenUserPct + r.cpu.loadgenSysPct) * 10) / 10,
    othersPct: r.cpu.othersPct,
    softirqPct: r.cpu.softirqPct,
    serverUsPerDelivery: r.cpu.serverUsPerDelivery,
    serverUserUsPerDelivery: usPer(r.cpu.serverUserPct),
    serverSysUsPerDelivery: usPer(r.cpu.serverSysPct),
    loadgenUsPerDelivery: r.cpu.loadgenUsPerDelivery,
    loadgenBound: r.loadgenBound,
    nodes: r.nodes,
    ...(r.cpu.auxUserPct !== undefined
      ? { auxPct: Math.round(((r.cpu.auxUserPct ?? 0) + (r.cpu.auxSysPct ?? 0)) * 10) / 10, auxUsPerDelivery: r.cpu.auxUsPerDelivery }
      : {}),
  };
}

/** Waits (bounded, --wait-budget for the whole run, 3 min by default) while other processes use more than 40% of a core. */
const busyBudget = { ms: 180_000 };
/** Other processes' share of a core above which a failed step is run again. */
const DISTURBED_PCT = 40;
const waitForQuietMachine = (pids: number[]) => waitUntilQuiet(pids, busyBudget, log);

/** 0 when there is nothing to summarise: the tables print it as such. */
const median = (xs: number[]) => (xs.length === 0 ? 0 : finiteMedian(xs));

/** Descriptors kept free beside the members' sockets: /proc reads for CPU figures, logins, the servers' pipes. */
const DESCRIPTOR_MARGIN = 500;

/** This process's limit on open files (the soft one), from /proc/self/limits; undefined where there is none. */
function openFilesLimit(): number | undefined {
  try {
    const line = fs
      .readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

async function searchServer(id: string, w: Workload, a: CompareArgs, points: Point[], turns = new Turns()): Promise<Sustained> {
  const members = w.members;
  const spec = PEERS[id];
  let peer: RunningPeer | undefined;
  let session: Session | undefined;
  try {
    // Starting and connecting load the machine: not while another server's step runs.
    await turns.run(async () => {
      peer = await launch(spec);
      log(
        `${id}: pid ${peer.pids.join(',')} at ${peer.urls.join(' ')}${peer.auxPids.length ? `, redis-server pid ${peer.auxPids.join(',')}` : ''}, ${w.label}`,
      );
      session = new Session({
        url: peer.url,
        ...(peer.urls.length > 1 ? { urls: peer.urls } : {}),
        dialect: dialectByName(spec.protocol),
        members,
        rooms: w.rooms,
        publishers: w.publishers,
        direct: w.direct,
        serverPid: peer.pid,
        serverPids: peer.pids,
        auxPids: peer.auxPids,
        log: (l) => log(`${id}: ${l}`),
      });
      await session.connect();
    });
    if (!peer || !session) throw new Error('not started');
    const measure = (deliveries: number, durationS: number) => turns.run(() => measureNow(deliveries, durationS));
    const measureNow = async (deliveries: number, durationS: number): Promise<{ p: Point; r: StepResult }> => {
      await session!.reconnectClosed();
      // An overloaded step can leave seconds of backlog (small rooms: each message costs the most).
      await session!.quiesce(300, 30_000);
      await waitForQuietMachine([...peer!.pids, ...peer!.auxPids]);
      // A server may close members (slow consumers of the previous, overloaded step) only once its
      // backlog drains, i.e. during the waits above: reconnect those too.
      await session!.reconnectClosed();
      const r = await session!.step({ rate: deliveries / w.perMessage, size: a.size, warmupMs: a.warmupS * 1000, durationMs: durationS * 1000, drainMs: 1500 });
      const p = toPoint(id, w.id, r, a.p99LimitMs);
      points.push(p);
      log(
        `${id.padEnd(8)} ${w.id.padStart(8)}  target ${si(deliveries).padStart(8)}  got ${si(p.achieved).padStart(8)}  p50 ${p.p50.toFixed(1)} p99 ${p.p99.toFixed(1)} ms  ` +
          `srv ${p.serverUserPct ?? '?'}+${p.serverSysPct ?? '?'}%${p.auxPct !== undefined ? `  redis ${p.auxPct}%` : ''}  lg ${p.loadgenPct}%  others ${p.othersPct ?? '?'}% irq ${p.softirqPct ?? '?'}%  ${p.pass ? 'PASS' : `FAIL ${p.why}`}`,
      );
      return { p, r };
    };
    // A step that failed while other processes used more than DISTURBED_PCT of a core is run once more,
    // whichever server it is: the failure may be theirs. Both runs stay in the steps table.
    const step = async (deliveries: number, durationS = a.durationS): Promise<{ p: Point; r: StepResult }> => {
      const first = await measure(deliveries, durationS);
      if (first.p.pass || (first.p.othersPct ?? 0) <= DISTURBED_PCT) return first;
      first.p.why += ` (other processes ${first.p.othersPct}%: run again)`;
      return measure(deliveries, durationS);
    };
    let pass = 0;
    let passResult: StepResult | undefined;
    let fail = 0;
    const start = a.startDeliveries ?? w.startDeliveries;
    for (let d = start; d <= a.maxDeliveries; d *= 2) {
      const { p, r } = await step(d);
      if (p.pass) {
        pass = d;
        passResult = r;
      } else {
        fail = d;
        break;
      }
    }
    if (pass === 0) {
      // Below the start: go down.
      for (let d = start / 2; d >= 1000; d /= 2) {
        const { p, r } = await step(d);
        if (p.pass) {
          pass = d;
          passResult = r;
          fail = d * 2;
          break;
        }
      }
    }
    for (let i = 0; i < a.bisections && fail > 0 && pass > 0; i++) {
      const mid = Math.round(Math.sqrt(pass * fail) / 1000) * 1000;
      const { p, r } = await step(mid);
      if (p.pass) {
        pass = mid;
        passResult = r;
      } else fail = mid;
    }
    // Repeat the sustained point: it must pass a majority of `repeats` runs, else the next lower
    // passing rate is tried (at most 3 candidates); then measure at half of it as often.
    const candidates = [...new Set(points.filter((p) => p.server === id && p.workload === w.id && p.pass).map((p) => p.target))].sort((x, y) => y - x);
    let reps: { p: Point; r: StepResult }[] = [];
    for (const cand of candidates.slice(0, 3)) {
      reps = cand === pass && passResult ? [{ p: toPoint(id, w.id, passResult, a.p99LimitMs), r: passResult }] : [];
      for (let i = reps.length; i < a.repeats; i++) reps.push(await step(cand));
      pass = cand;
      if (reps.filter((x) => x.p.pass).length * 2 > reps.length) break;
    }
    // Half load is repeated as often as the sustained point: one 3 s run's p99 moves by up to 2×.
    const halves: { p: Point; r: StepResult }[] = [];
    for (let i = 0; pass > 0 && i < a.repeats; i++) halves.push(await step(Math.round(pass / 2)));
    const okReps = reps.filter((x) => x.p.pass);
    const ref = okReps.length > 0 ? okReps : reps;
    const mid = ref.length ? ref.sort((x, y) => x.p.p99 - y.p.p99)[Math.floor((ref.length - 1) / 2)] : undefined;
    const r = mid?.r;
    const lgPct = r ? r.cpu.loadgenUserPct + r.cpu.loadgenSysPct : 0;
    const srvPct = r ? (r.cpu.serverUserPct ?? 0) + (r.cpu.serverSysPct ?? 0) : 0;
    const auxPct = r ? (r.cpu.auxUserPct ?? 0) + (r.cpu.auxSysPct ?? 0) : 0;
    const machinePct = r ? (r.cpu.othersPct ?? 0) + (r.cpu.softirqPct ?? 0) + lgPct + srvPct + auxPct : 0;
    const multi = (peer.pids.length > 1 || peer.auxPids.length > 0) && r;
    const bound = !r
      ? 'no passing point'
      : multi && machinePct >= 170
        ? `machine: both cores busy (servers ${srvPct.toFixed(0)}% summed over ${peer.pids.length}, redis ${auxPct.toFixed(0)}%, load generator ${lgPct.toFixed(0)}%, irq ${r.cpu.softirqPct}%)`
        : lgPct >= 90
          ? `load generator (${lgPct.toFixed(0)}% of a core)`
          : srvPct >= 90
            ? `server CPU (${srvPct.toFixed(0)}% of a core)`
            : (r.cpu.othersPct ?? 0) + (r.cpu.softirqPct ?? 0) + lgPct + srvPct >= 170
              ? `machine: both cores busy (other processes ${r.cpu.othersPct}%, irq ${r.cpu.softirqPct}%)`
              : `latency limit / event-loop lag (server ${srvPct.toFixed(0)}%, load generator ${lgPct.toFixed(0)}%)`;
    const medianOf = (f: (p: Point) => number | undefined) => median(reps.map((x) => f(x.p) ?? NaN).filter((v) => !Number.isNaN(v))) || undefined;
    return {
      server: id,
      workload: w.id,
      members,
      sustained: pass,
      passes: `${okReps.length}/${reps.length}`,
      p99AtSustained: median(reps.map((x) => x.p.p99)),
      half: halves.length ? halves[0].p.target : 0,
      p99AtHalf: halves.length ? median(halves.map((x) => x.p.p99)) : 0,
      serverUsPerDelivery: medianOf((p) => p.serverUsPerDelivery),
      serverUserUsPerDelivery: medianOf((p) => p.serverUserUsPerDelivery),
      serverSysUsPerDelivery: medianOf((p) => p.serverSysUsPerDelivery),
      loadgenUsPerDelivery: median(reps.map((x) => x.p.loadgenUsPerDelivery)),
      serverUserPct: r?.cpu.serverUserPct,
      serverSysPct: r?.cpu.serverSysPct,
      loadgenUserPct: r?.cpu.loadgenUserPct ?? 0,
      loadgenSysPct: r?.cpu.loadgenSysPct ?? 0,
      othersPct: r?.cpu.othersPct,
      loadgenBound: r?.loadgenBound ?? false,
      bound,
      connectP50: r?.connect.p50 ?? 0,
      nodes: peer.pids.length,
      ...(peer.auxPids.length
        ? {
            auxUserPct: r?.cpu.auxUserPct,
            auxSysPct: r?.cpu.auxSysPct,
            auxUsPerDelivery: median(reps.map((x) => x.p.auxUsPerDelivery ?? NaN).filter((v) => !Number.isNaN(v))) || undefined,
          }
        : {}),
    };
  } catch (err) {
    log(`${id}: FAILED ${(err as Error).message}`);
    return {
      server: id,
      workload: w.id,
      members,
      sustained: 0,
      passes: '0/0',
      p99AtSustained: 0,
      half: 0,
      p99AtHalf: 0,
      loadgenUsPerDelivery: 0,
      loadgenUserPct: 0,
      loadgenSysPct: 0,
      loadgenBound: false,
      bound: 'error',
      connectP50: 0,
      error: (err as Error).message,
    };
  } finally {
    await session?.close();
    await peer?.stop();
  }
}

export interface IdleResult {
  server: string;
  connections: number;
  rssBefore: number;
  rssAfter: number;
  perConnection: number;
  error?: string;
}

async function idleMemory(id: string, n: number): Promise<IdleResult> {
  const spec = PEERS[id];
  let peer: RunningPeer | undefined;
  let session: Session | undefined;
  const minRss = async (ms: number) => {
    let min = Infinity;
    const end = Date.now() + ms;
    while (Date.now() < end) {
      min = Math.min(min, processesRss(peer!.pids) ?? Infinity);
      await new Promise((r) => setTimeout(r, 100));
    }
    return min;
  };
  try {
    peer = await launch(spec);
    // 100 members a room: realistic, and it keeps the join broadcasts (presence) small.
    session = new Session({
      url: peer.url,
      ...(peer.urls.length > 1 ? { urls: peer.urls } : {}),
      dialect: dialectByName(spec.protocol),
      members: n,
      rooms: Math.max(1, Math.ceil(n / 100)),
      publishers: 1,
      serverPid: peer.pid,
      serverPids: peer.pids,
      connectConcurrency: 128,
      log: (l) => log(`${id} idle: ${l}`),
    });
    await session.login(); // logins first: their garbage is then in the baseline too
    await new Promise((r) => setTimeout(r, 1000));
    const before = await minRss(1500);
    await session.open();
    await new Promise((r) => setTimeout(r, 2000));
    const after = await minRss(2000);
    const connected = n - session.connectErrors;
    const res = {
      server: id,
      connections: connected,
      rssBefore: before,
      rssAfter: after,
      perConnection: Math.round((after - before) / Math.max(1, connected)),
    };
    log(`${id} idle: ${connected} connections, RSS ${si(before, 'B')} → ${si(after, 'B')}: ${(res.perConnection / 1024).toFixed(2)} KiB per connection`);
    return res;
  } catch (err) {
    log(`${id} idle: FAILED ${(err as Error).message}`);
    return { server: id, connections: 0, rssBefore: 0, rssAfter: 0, perConnection: 0, error: (err as Error).message };
  } finally {
    await session?.close();
    await peer?.stop();
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    nproc: cpus.length,
    cpu: cpus[0]?.model ?? '?',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    platform: `${os.platform()} ${os.arch()}`,
  };
}

const LABELS: Record<string, string> = {
  'ours-alt': 'ours + proposed transport',
  'ours-wss': 'ours over TLS',
  'ours-deno': 'ours on Deno (ws)',
  'ours-deno-native': 'ours on Deno (native)',
  'ours-redis1': 'ours, 1 node + Redis',
  'ours-redis3': 'ours, 3 nodes + Redis',
  'socketio-redis3': 'socket.io, 3 processes + Redis adapter',
};
const COLORS: Record<string, string> = {
  ours: '#1f77b4',
  'ours-wss': '#17becf',
  'ours-alt': '#ff7f0e',
  naive: '#d62728',
  socketio: '#2ca02c',
  uws: '#9467bd',
  'ws-pubsub': '#c5b0d5',
  'ours-deno': '#8c564b',
  'ours-deno-native': '#e377c2',
  'ours-redis1': '#bcbd22',
  'ours-redis3': '#7f7f7f',
  'socketio-redis3': '#98df8a',
};

const DASHES = [undefined, '6,4', '2,3', '10,3,2,3'];

/** Ratios worth reading besides "ours ÷ each peer", when both servers ran: [numerator, denominator]. */
const EXTRA_PAIRS: [string, string][] = [
  ['ours-redis3', 'socketio-redis3'],
  ['ours-redis3', 'ours-redis1'],
  ['socketio-redis3', 'socketio'],
  ['ours-deno', 'ours-deno-native'],
  ['ws-pubsub', 'uws'],
];

/** The workload of a saved result: its id, or (runs saved before workloads) one room of `members`. */
const workloadOf = (x: { workload?: string; members: number }) => x.workload ?? `room${x.members}`;

/** Labels of the workloads in a saved run, in the order they ran. */
function workloadsIn(out: CompareOutput): Workload[] {
  const ids = [...new Set([...out.sustained.map(workloadOf), ...out.points.map(workloadOf)])];
  return ids.map((id) => workloadByName(id, { publishers: out.args.publishers, smallMembers: out.args.smallMembers ?? 10_000 }));
}

function resultsMarkdown(out: CompareOutput): string {
  const L: string[] = [];
  const v = out.versions;
  const workloads = workloadsIn(out);
  const labelOf = (id: string) => workloads.find((w) => w.id === id)?.label ?? id;
  L.push(
    `Run ${out.date} on ${out.machine.nproc} × ${out.machine.cpu}, ${out.machine.memGiB} GiB, Linux ${out.machine.kernel}; Node ${v.node}, ws ${v.ws}, socket.io ${v['socket.io']}, uwebsockets ${v.uwebsockets ?? 'not installed'}. ` +
      `Workloads: ${workloads.map((w) => `${w.id} = ${w.label}${w.rooms === 1 ? `, ${w.publishers} publishers` : w.direct ? ', one publisher a pair' : ', one publisher a room'}`).join('; ')}. ` +
      `${out.args.size}-byte message text; steps of ${out.args.warmupS} s warm-up + ${out.args.durationS} s; sustainable = p99 < ${out.args.p99LimitMs} ms, nothing lost, ≥ 95% of the target delivered; the sustained point and half of it run ${out.args.repeats}× each (passes shown; p99 is the median). ` +
      'Server µs/delivery is user + system CPU of the server process per delivery at the sustained point.',
  );
  L.push('');
  // Several nodes or a redis-server: the server figures are summed over the nodes, Redis apart.
  const scaleOut = out.sustained.some((s) => (s.nodes ?? 1) > 1 || s.auxUserPct !== undefined);
  if (scaleOut) {
    L.push(
      '| server | nodes | workload | sustained deliveries/s | passes | p99 at sustained | p99 at half | servers CPU user+sys (sum) | servers µs/delivery (sum) | redis-server CPU | redis µs/delivery | servers + redis µs/delivery | load gen CPU user+sys | load gen µs/delivery | other processes | bound |',
    );
    L.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  } else {
    L.push(
      '| server | workload | sustained deliveries/s | passes | p99 at sustained | p99 at half | server CPU user+sys | server µs/delivery (user + sys) | load gen CPU user+sys | load gen µs/delivery | other processes | bound |',
    );
    L.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  }
  for (const s of out.sustained) {
    const head = scaleOut ? `| ${s.server} | ${s.nodes ?? 1} | ${workloadOf(s)} |` : `| ${s.server} | ${workloadOf(s)} |`;
    const split =
      s.serverUserUsPerDelivery !== undefined && s.serverSysUsPerDelivery !== undefined ? ` (${s.serverUserUsPerDelivery} + ${s.serverSysUsPerDelivery})` : '';
    const redis = scaleOut
      ? ` ${s.auxUserPct === undefined ? '-' : `${s.auxUserPct}% + ${s.auxSysPct}%`} | ${s.auxUsPerDelivery ?? '-'} | ${s.serverUsPerDelivery === undefined ? '?' : Math.round((s.serverUsPerDelivery + (s.auxUsPerDelivery ?? 0)) * 100) / 100} |`
      : '';
    L.push(
      `${head} ${s.error ? `error: ${s.error.slice(0, 60)}` : si(s.sustained)} | ${s.passes} | ${s.p99AtSustained} ms | ${s.p99AtHalf} ms (at ${si(s.half)}) | ${s.serverUserPct ?? '?'}% + ${s.serverSysPct ?? '?'}% | ${s.serverUsPerDelivery ?? '?'}${split} |${redis} ${s.loadgenUserPct}% + ${s.loadgenSysPct}% | ${s.loadgenUsPerDelivery} | ${s.othersPct ?? '?'}% | ${s.bound} |`,
    );
  }
  L.push('');
  L.push(
    'Ratios in this run: sustained deliveries/s (server ÷ peer), server CPU per delivery (server ÷ peer; below 1 = the server is cheaper; ' +
      'with Redis, servers + redis-server summed), each at its own sustained rate and at the rates both passed (the median of the ratios at each such rate; ' +
      "a cost per delivery falls as the rate rises, so the first favours whichever sustained more) and p99 at half of each one's sustained rate (server ÷ peer):",
  );
  L.push('');
  L.push('| workload | server | peer | deliveries/s | server µs/delivery | server µs/delivery at the same rates | p99 at half |');
  L.push('|---|---|---|---|---|---|---|');
  const times = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)}×`);
  for (const r of out.ratios) {
    // Runs saved before this table kept peer ÷ server for CPU per delivery.
    const cpu = r.cpuPerServer ?? (r.cpuPerDelivery ? 1 / r.cpuPerDelivery : null);
    // Computed from the points, so a saved run renders it too.
    const same = cpuAtSameRates(out.points, r.workload, r.of ?? 'ours', r.peer);
    const sameText = same ? `${times(same.ratio)} (at ${same.rates.map((x) => si(x)).join(', ')})` : 'n/a';
    L.push(
      `| ${r.workload ? labelOf(r.workload) : `one room of ${r.members}`} | ${r.of ?? 'ours'} | ${r.peer} | ${times(r.throughput)} | ${times(cpu)} | ${sameText} | ${times(r.p99AtHalf)} |`,
    );
  }
  if (out.idle.length) {
    L.push('');
    L.push(`Memory per idle connection (${out.args.idle} connections, 100 a room; RSS growth, minimum over 2 s after settling):`);
    L.push('');
    L.push('| server | connections | RSS before | RSS after | per connection | vs bare ws |');
    L.push('|---|---|---|---|---|---|');
    const bare = out.idle.find((x) => x.server === 'bare-ws');
    for (const m of out.idle) {
      L.push(
        `| ${m.server} | ${m.connections} | ${si(m.rssBefore, 'B')} | ${si(m.rssAfter, 'B')} | ${(m.perConnection / 1024).toFixed(2)} KiB | ${bare && m.server !== 'bare-ws' ? `${m.perConnection - bare.perConnection >= 0 ? '+' : ''}${((m.perConnection - bare.perConnection) / 1024).toFixed(2)} KiB` : ''} |`,
      );
    }
  }
  if (out.http.length) {
    L.push('');
    L.push('HTTP side (autocannon, 32 connections, 5 s, our server over plain HTTP):');
    L.push('');
    L.push('| request | req/s | p50 | p99 | max | errors | non-2xx |');
    L.push('|---|---|---|---|---|---|---|');
    for (const h of out.http)
      L.push(`| ${h.method} ${h.path} | ${si(h.requestsPerSec)} | ${h.latencyP50} ms | ${h.latencyP99} ms | ${h.latencyMax} ms | ${h.errors} | ${h.non2xx} |`);
  }
  L.push('');
  L.push("All steps (the plot's points):");
  L.push('');
  L.push('| server | workload | target | achieved | p50 | p99 | server user+sys | load gen | other processes | irq | result |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const p of out.points)
    L.push(
      `| ${p.server} | ${workloadOf(p)} | ${si(p.target)} | ${si(p.achieved)} | ${p.p50} | ${p.p99} | ${p.serverUserPct ?? '?'}+${p.serverSysPct ?? '?'}%${p.auxPct !== undefined ? ` (+ redis ${p.auxPct}%)` : ''} | ${p.loadgenPct}% | ${p.othersPct ?? '?'}% | ${p.softirqPct ?? '?'}% | ${p.pass ? 'pass' : p.why} |`,
    );
  return L.join('\n');
}

interface CompareOutput {
  date: string;
  machine: ReturnType<typeof machine>;
  versions: Record<string, string | undefined>;
  args: CompareArgs;
  sustained: Sustained[];
  ratios: {
    workload?: string;
    members: number;
    of?: string;
    peer: string;
    throughput: number | null;
    /** Server ÷ peer CPU per delivery (below 1: the server is cheaper). */
    cpuPerServer?: number | null;
    /** Runs saved before cpuPerServer: peer ÷ server. */
    cpuPerDelivery?: number | null;
    p99AtHalf?: number | null;
  }[];
  idle: IdleResult[];
  http: Omit<HttpBenchResult, 'table'>[];
  points: Point[];
  skipped: Record<string, string>;
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  if (renderFrom) {
    const saved = JSON.parse(fs.readFileSync(renderFrom, 'utf8')) as CompareOutput;
    writeDocs(saved, resultsMarkdown(saved));
    return;
  }
  const started = Date.now();
  const skipped: Record<string, string> = {};
  const servers = a.servers.filter((id) => {
    const spec = PEERS[id];
    const why = spec ? spec.available() : 'unknown server';
    if (why) {
      skipped[id] = why;
      log(`skipping ${id}: ${why}`);
    }
    return !why;
  });
  const points: Point[] = [];
  const sustained: Sustained[] = [];
  const workloads = a.workloads.map((name) => workloadByName(name, a));
  if (a.interleave) {
    // Every server's members are connected at once, each a descriptor of this process.
    const limit = openFilesLimit();
    for (const w of workloads) {
      const needed = servers.filter((id) => runsOn(w, PEERS[id].protocol)).length * w.members + DESCRIPTOR_MARGIN;
      if (limit !== undefined && needed > limit) {
        throw new Error(
          `--interleave: ${w.id} keeps ${needed} descriptors open (every server's ${w.members} members at once), over this process's limit of ${limit}; name fewer servers or raise the limit (ulimit -n)`,
        );
      }
    }
  }
  for (const w of workloads) {
    const turns = new Turns();
    const searches: Promise<Sustained>[] = [];
    for (const id of servers) {
      if (!runsOn(w, PEERS[id].protocol)) {
        log(`${id}: skipping ${w.id} (one room for everyone)`);
        continue;
      }
      const search = searchServer(id, w, a, points, turns);
      searches.push(search);
      if (!a.interleave) await search;
    }
    sustained.push(...(await Promise.all(searches)));
  }
  if (a.wssMembers > 0 && servers.includes('ours') && !PEERS['ours-wss'].available()) {
    sustained.push(await searchServer('ours-wss', workloadByName(`room${a.wssMembers}`, a), a, points));
  }
  const http: HttpBenchResult[] = [];
  if (a.http && servers.includes('ours')) {
    const peer = await launch(PEERS.ours);
    try {
      for (const h of await httpBench(`http://127.0.0.1:${peer.port}`)) {
        http.push(h);
        log(`http ${h.method} ${h.path}: ${si(h.requestsPerSec)} req/s, p99 ${h.latencyP99} ms, ${h.errors} errors, ${h.non2xx} non-2xx`);
      }
    } finally {
      await peer.stop();
    }
  }
  const idle: IdleResult[] = [];
  if (a.idle > 0) for (const id of a.idleServers.filter((x) => PEERS[x] && !PEERS[x].available())) idle.push(await idleMemory(id, a.idle));

  const ratios: CompareOutput['ratios'] = [];
  // CPU per delivery of a server: its processes summed, plus its redis-server.
  const cost = (s: Sustained) => (s.serverUsPerDelivery ? s.serverUsPerDelivery + (s.auxUsPerDelivery ?? 0) : undefined);
  const ratio = (w: Workload, x: Sustained, y: Sustained) => {
    const cx = cost(x);
    const cy = cost(y);
    ratios.push({
      workload: w.id,
      members: w.members,
      of: x.server,
      peer: y.server,
      throughput: y.sustained > 0 && x.sustained > 0 ? x.sustained / y.sustained : null,
      cpuPerServer: cx && cy ? cx / cy : null,
      p99AtHalf: x.p99AtHalf > 0 && y.p99AtHalf > 0 ? x.p99AtHalf / y.p99AtHalf : null,
    });
  };
  for (const w of workloads) {
    const at = (id: string) => sustained.find((s) => s.server === id && s.workload === w.id);
    const ours = at('ours');
    if (ours) for (const s of sustained.filter((x) => x.workload === w.id && x.server !== 'ours')) ratio(w, ours, s);
    for (const [x, y] of EXTRA_PAIRS) {
      const sx = at(x);
      const sy = at(y);
      if (sx && sy) ratio(w, sx, sy);
    }
  }
  const out: CompareOutput = {
    date: new Date().toISOString(),
    machine: machine(),
    versions: versions(),
    args: a,
    sustained,
    ratios,
    idle,
    http: http.map(({ table: _t, ...rest }) => rest),
    points,
    skipped,
  };
  const md = resultsMarkdown(out);
  process.stdout.write(`\n${md}\n\ncompare took ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  fs.mkdirSync(path.join(BENCH_DIR, 'results'), { recursive: true });
  const file = path.join(BENCH_DIR, 'results', `compare-${out.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(out, null, 2));
  log(`wrote ${path.relative(REPO_DIR, file)}`);
  if (a.writeDocs) writeDocs(out, md);
}

export function writeDocs(out: CompareOutput, md: string): void {
  const series: PlotSeries[] = [];
  const workloads = workloadsIn(out);
  for (const id of [...new Set(out.points.map((p) => p.server))]) {
    for (const w of workloads) {
      const raw = out.points.filter((p) => p.server === id && workloadOf(p) === w.id && p.achieved > 0);
      if (raw.length === 0) continue;
      // One point per target rate: the median of its runs (repeats), passed if most runs passed.
      const pts = [...new Set(raw.map((p) => p.target))].map((t) => {
        const runs = raw.filter((p) => p.target === t);
        return {
          ...runs[0],
          achieved: median(runs.map((p) => p.achieved)),
          p99: median(runs.map((p) => p.p99)),
          pass: runs.filter((p) => p.pass).length * 2 > runs.length,
        };
      });
      series.push({
        label: `${LABELS[id] ?? id}, ${w.label}`,
        color: COLORS[id] ?? '#444',
        // One line style per workload, in the order they ran: solid, dashed, dotted, dash-dot.
        dash: DASHES[workloads.indexOf(w) % DASHES.length],
        points: pts.map((p) => ({ x: p.achieved, y: Math.max(p.p99, 0.01), pass: p.pass })),
      });
    }
  }
  const svg = plotSvg(`p99 latency vs deliveries/s (${out.date.slice(0, 10)}, ${out.machine.nproc} cores)`, series, out.args.p99LimitMs);
  const docs = path.join(REPO_DIR, 'docs');
  fs.writeFileSync(path.join(docs, 'benchmarks-plot.svg'), svg);
  const file = path.join(docs, 'benchmarks.md');
  const start = '<!-- compare:start (generated by npm run bench:compare -- --write-docs) -->';
  const end = '<!-- compare:end -->';
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : `# Benchmarks\n\n${start}\n${end}\n`;
  if (!text.includes(start)) text += `\n${start}\n${end}\n`;
  text =
    text.slice(0, text.indexOf(start) + start.length) +
    '\n' +
    md +
    '\n\n![p99 latency against deliveries/s](benchmarks-plot.svg)\n' +
    text.slice(text.indexOf(end));
  fs.writeFileSync(file, text);
  log('wrote docs/benchmarks.md (generated section) and docs/benchmarks-plot.svg');
}

// Interrupted: exit through process.exit so that peers.ts kills every server and redis-server it started.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping the servers`);
    process.exit(130);
  });
}

main().then(
  () => {
    destroyAgents();
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`compare: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
