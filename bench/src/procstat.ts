/** CPU and memory of processes from /proc (Linux). Everything returns undefined where unreadable. */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* keep 100 */
}

export interface CpuTimes {
  /** Microseconds. */
  user: number;
  system: number;
}

/** utime and stime of a process (its threads included), in µs. */
export function processCpu(pid: number): CpuTimes | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3); utime is field 14, stime field 15.
    return { user: (Number(fields[11]) * 1e6) / clkTck, system: (Number(fields[12]) * 1e6) / clkTck };
  } catch {
    return undefined;
  }
}

/** Resident set size in bytes. */
export function processRss(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU: busy and total jiffies over all cores (for the "others" share). */
export function machineCpu(): { busy: number; total: number; softirq: number; cores: number } | undefined {
  try {
    const lines = fs.readFileSync('/proc/stat', 'utf8').split('\n');
    const f = lines[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const cores = lines.filter((l) => /^cpu\d+ /.test(l)).length;
    return { busy: ((total - idle) * 1e6) / clkTck, total: (total * 1e6) / clkTck, softirq: (((f[5] ?? 0) + (f[6] ?? 0)) * 1e6) / clkTck, cores };
  } catch {
    return undefined;
  }
}

/** The pid of the process listening on a local TCP port, found through /proc/net/tcp{,6}. */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue;
      const localPort = parseInt(cols[1].split(':')[1], 16);
      if (localPort === port) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m && inodes.has(m[1])) return Number(pid);
      } catch {
        /* gone */
      }
    }
  }
  return undefined;
}

/** Sum of utime/stime over several processes; undefined if any is unreadable. */
export function processesCpu(pids: number[]): CpuTimes | undefined {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const t = processCpu(pid);
    if (!t) return undefined;
    user += t.user;
    system += t.system;
  }
  return { user, system };
}

/** Sum of the RSS of several processes; undefined if any is unreadable. */
export function processesRss(pids: number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const r = processRss(pid);
    if (r === undefined) return undefined;
    sum += r;
  }
  return sum;
}

/**
 * A CPU sampler over an interval: the server (one pid, or the sum over several server processes),
 * auxiliary processes such as redis-server (summed, reported apart), this process, and the machine.
 */
export class CpuWindow {
  private readonly serverPids: number[];
  private s0: CpuTimes | undefined;
  private a0: CpuTimes | undefined;
  private l0 = process.cpuUsage();
  private m0 = machineCpu();
  private t0 = process.hrtime.bigint();

  constructor(
    serverPid: number | number[] | undefined,
    private readonly auxPids: number[] = [],
  ) {
    this.serverPids = serverPid === undefined ? [] : Array.isArray(serverPid) ? serverPid : [serverPid];
    this.s0 = this.serverPids.length ? processesCpu(this.serverPids) : undefined;
    this.a0 = auxPids.length ? processesCpu(auxPids) : undefined;
  }

  finish(): CpuReport {
    const wallUs = Number(process.hrtime.bigint() - this.t0) / 1000;
    const l = process.cpuUsage(this.l0);
    const s1 = this.serverPids.length ? processesCpu(this.serverPids) : undefined;
    const a1 = this.auxPids.length ? processesCpu(this.auxPids) : undefined;
    const m1 = machineCpu();
    const server = this.s0 && s1 ? { user: s1.user - this.s0.user, system: s1.system - this.s0.system } : undefined;
    const aux = this.a0 && a1 ? { user: a1.user - this.a0.user, system: a1.system - this.a0.system } : undefined;
    const loadgen = { user: l.user, system: l.system };
    let othersPct: number | undefined;
    let softirqPct: number | undefined;
    let cores: number | undefined;
    if (this.m0 && m1) {
      cores = m1.cores;
      const busy = m1.busy - this.m0.busy;
      const mine = loadgen.user + loadgen.system + (server ? server.user + server.system : 0) + (aux ? aux.user + aux.system : 0);
      softirqPct = ((m1.softirq - this.m0.softirq) / wallUs) * 100;
      othersPct = Math.max(0, ((busy - mine) / wallUs) * 100 - softirqPct);
    }
    return { wallUs, server, aux, loadgen, othersPct, softirqPct, cores };
  }
}

export interface CpuReport {
  wallUs: number;
  /** The server process, or the sum over the server's processes (nodes). */
  server?: CpuTimes;
  /** Auxiliary processes the server needs (redis-server), summed. */
  aux?: CpuTimes;
  loadgen: CpuTimes;
  /** CPU used by every other process on the machine, in % of one core (interrupts excluded). */
  othersPct?: number;
  /** Interrupt and softirq time not charged to a process (loopback TCP partly lands here). */
  softirqPct?: number;
  cores?: number;
}

/** How busy the rest of the machine is now: % of one core used by other processes over `ms`. */
export async function othersBusy(ms: number, pids: number[]): Promise<number | undefined> {
  const m0 = machineCpu();
  const p0 = pids.map((p) => processCpu(p));
  const l0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, ms));
  const m1 = machineCpu();
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  if (!m0 || !m1) return undefined;
  let mine = 0;
  pids.forEach((p, i) => {
    const a = p0[i];
    const b = processCpu(p);
    if (a && b) mine += b.user + b.system - a.user - a.system;
  });
  const l = process.cpuUsage(l0);
  mine += l.user + l.system;
  return Math.max(0, ((m1.busy - m0.busy - mine - (m1.softirq - m0.softirq)) / wallUs) * 100);
}

/**
 * Waits while other processes use more than `thresholdPct` of a core, in steps of 2.4 s, for at most what is left
 * of `budget.ms` (shared by every wait of a run, so a busy machine delays a run by a bounded time).
 */
export async function waitForQuietMachine(pids: number[], budget: { ms: number }, log: (line: string) => void, thresholdPct = 40): Promise<void> {
  for (;;) {
    const busy = await othersBusy(400, pids);
    if (busy === undefined || busy < thresholdPct || budget.ms <= 0) return;
    log(`machine busy: other processes use ${busy.toFixed(0)}% of a core; waiting (budget ${Math.round(budget.ms / 1000)} s left)`);
    await new Promise((r) => setTimeout(r, 2000));
    budget.ms -= 2400;
  }
}
