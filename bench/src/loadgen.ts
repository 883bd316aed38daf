/**
 * The load generator: a Session connects N members over R rooms once, then runs steps: P publishers
 * send messages of S bytes at a total rate for warm-up + duration, and every delivery is matched to
 * its send by a marker in the message text: `~B<run>.<publisher>.<seq>.<sendTimeUs>~xxxx…`.
 *
 * Latency is receive time minus send time, both from performance.now() in this process, recorded in
 * an HDR histogram (µs). Lost = expected deliveries (sent × members of the room) that had not
 * arrived when the drain ended; duplicated = a (publisher, seq) a member had already seen.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Dialect, DialectMember } from './dialects.ts';
import { type Histogram, type LatencySummary, newHistogram, type SampleSummary, summarize, summarizeSamples } from './histogram.ts';
import { httpJson, pool } from './http.ts';
import { type CpuReport, CpuWindow, processesRss } from './procstat.ts';
import { connectWebSocket, type FrameHandler, isLoopbackHost, type RawWebSocket } from './wsclient.ts';

const MARK = Buffer.from('~B');

export interface SessionOptions {
  url: string;
  /**
   * Several nodes of one service: member i (publishers included) connects to, and logs in at,
   * urls[i mod urls.length]. When set, `url` is only the first one's label; default [url].
   */
  urls?: string[];
  dialect: Dialect;
  members: number;
  rooms: number;
  publishers: number;
  connectConcurrency?: number;
  connectTimeoutMs?: number;
  /** Local addresses to spread connections over; default 127.0.0.1, .2, … when one runs out of ports. */
  sourceAddresses?: string[];
  perAddress?: number;
  serverPid?: number;
  /** Every server process (nodes): their CPU and RSS are summed. Default [serverPid]. */
  serverPids?: number[];
  /** Processes the server needs besides itself (redis-server): CPU summed and reported apart. */
  auxPids?: number[];
  namePrefix?: string;
  roomPrefix?: string;
  /** How many members (never publishers) stop reading during a step. */
  slow?: number;
  /**
   * Direct messages instead of rooms: members i and i + members/2 are a pair (`rooms` is taken to be
   * members/2), join nothing, and a publisher sends each message to its partner; the server delivers
   * it to the partner and back to the sender (the sender's other devices), two deliveries a message.
   */
  direct?: boolean;
  log?: (line: string) => void;
}

export interface StepOptions {
  /** Messages per second, all publishers together. */
  rate: number;
  /** Message text length in bytes (marker included). */
  size: number;
  warmupMs: number;
  durationMs: number;
  /** Longest wait after the last send for the last deliveries. */
  drainMs: number;
  /** Every member (slow ones aside) sends a read-cursor update this often, staggered over the interval. */
  readIntervalMs?: number;
  progress?: (p: Progress) => void;
}

export interface Progress {
  phase: 'warmup' | 'run' | 'drain';
  elapsedS: number;
  deliveriesPerSec: number;
  p99: number;
  sent: number;
  errors: number;
}

export interface StepResult {
  protocol: string;
  url: string;
  /** With several nodes: every URL, members spread round-robin. */
  urls?: string[];
  /** Server processes measured (their CPU summed). */
  nodes: number;
  members: number;
  /** Members connected when the step started (the target counts only these). */
  membersAlive: number;
  rooms: number;
  publishers: number;
  size: number;
  /** Target messages/s and the deliveries/s that implies. */
  rate: number;
  targetDeliveriesPerSec: number;
  durationS: number;
  sent: number;
  sentPerSec: number;
  deliveries: number;
  deliveriesPerSec: number;
  bytesPerSec: number;
  /** Deliveries per TCP read at the members: how many frames the server coalesced per write. */
  deliveriesPerRead: number;
  latency: LatencySummary;
  deliveriesSamples: SampleSummary;
  bytesSamples: SampleSummary;
  connect: LatencySummary;
  connectErrors: number;
  errors: number;
  errorCodes: Record<string, number>;
  acks: number;
  /** Read-cursor updates sent (--read-interval), in all and per second of the measured window. */
  reads: number;
  readsPerSec: number;
  lost: number;
  duplicated: number;
  stale: number;
  closed: number;
  closeCodes: Record<string, number>;
  slow: number;
  slowClosed: number;
  slowCloseCodes: Record<string, number>;
  cpu: {
    serverUserPct?: number;
    serverSysPct?: number;
    loadgenUserPct: number;
    loadgenSysPct: number;
    othersPct?: number;
    softirqPct?: number;
    /** µs of CPU (user + sys) per delivery; with several nodes, summed over them. */
    serverUsPerDelivery?: number;
    loadgenUsPerDelivery: number;
    /** Auxiliary processes (redis-server), summed, apart from the server's figures. */
    auxUserPct?: number;
    auxSysPct?: number;
    auxUsPerDelivery?: number;
  };
  serverRssBefore?: number;
  serverRssAfter?: number;
  /** The load generator used ≥ 90% of a core: the figure may be its bound, not the server's. */
  loadgenBound: boolean;
}

class Member implements DialectMember, FrameHandler {
  ws!: RawWebSocket;
  token?: string;
  /** The user id the server knows this member by (from the login; the name where there is none). */
  uid: string;
  /** Direct messages: the partner. */
  peer?: Member;
  acks = 0;
  errors = 0;
  errorCodes = new Map<string, number>();
  next: Int32Array;
  got = 0;
  slow = false;
  closeCode = 0;
  private waiters = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private early = new Map<string, unknown>();

  constructor(
    readonly session: Session,
    readonly index: number,
    readonly name: string,
    readonly roomIndex: number,
    readonly room: string,
    publishers: number,
    /** Index of the node (URL) this member uses. */
    readonly node: number,
  ) {
    this.next = new Int32Array(publishers);
    this.uid = name;
  }

  get peerUid(): string | undefined {
    return this.peer?.uid;
  }

  attach(ws: RawWebSocket): void {
    this.ws = ws;
  }

  onText(buf: Buffer, start: number, end: number, now: number): void {
    const at = buf.indexOf(MARK, start);
    if (at < 0 || at >= end) {
      this.session.dialect.onControl(this, buf.toString('utf8', start, end));
      return;
    }
    let i = at + 2;
    let c = 0;
    let run = 0;
    while (i < end && (c = buf[i++]) !== 46) run = run * 10 + c - 48;
    let pub = 0;
    while (i < end && (c = buf[i++]) !== 46) pub = pub * 10 + c - 48;
    let seq = 0;
    while (i < end && (c = buf[i++]) !== 46) seq = seq * 10 + c - 48;
    let t = 0;
    while (i < end && (c = buf[i++]) !== 126) t = t * 10 + c - 48;
    this.session.deliver(this, run, pub, seq, t, now);
  }

  onClose(code: number): void {
    this.closeCode = code;
    this.session.memberClosed(this, code);
    for (const [kind, w] of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`closed with ${code} while waiting for ${kind}`));
    }
    this.waiters.clear();
  }

  signal(kind: string, detail?: unknown): void {
    const w = this.waiters.get(kind);
    if (!w) {
      this.early.set(kind, detail);
      return;
    }
    this.waiters.delete(kind);
    clearTimeout(w.timer);
    if (detail instanceof Error) w.reject(detail);
    else w.resolve(detail);
  }

  expect(kind: string, timeoutMs: number): Promise<unknown> {
    if (this.early.has(kind)) {
      const d = this.early.get(kind);
      this.early.delete(kind);
      return d instanceof Error ? Promise.reject(d) : Promise.resolve(d);
    }
    if (this.ws?.closed) return Promise.reject(new Error(`closed with ${this.closeCode} before ${kind}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(kind);
        reject(new Error(`timeout waiting for ${kind}`));
      }, timeoutMs);
      this.waiters.set(kind, { resolve, reject, timer });
    });
  }
}

function loopbackSources(hostname: string, count: number, perAddress: number): (string | undefined)[] {
  const h = hostname.replace(/^\[|\]$/g, '');
  const v4 = h === 'localhost' || /^127\./.test(h);
  const needed = Math.ceil(count / perAddress);
  if (!v4 || needed <= 1) return [undefined];
  return Array.from({ length: needed }, (_, i) => `127.0.0.${1 + i}`);
}

export class Session {
  readonly dialect: Dialect;
  readonly members: Member[] = [];
  readonly url: URL;
  /** One URL per node; members spread round-robin. */
  readonly urls: URL[];
  run = 0;
  private hist: Histogram = newHistogram();
  readonly connectHist: Histogram = newHistogram();
  connectErrors = 0;
  readonly connectErrorKinds = new Map<string, number>();
  private measureFrom = 0;
  private measureTo = 0;
  private measured = 0;
  private deliveredTotal = 0;
  /** Chat messages that reached a member, of any step, counted for `quiesce`. */
  private arrived = 0;
  private duplicated = 0;
  private stale = 0;
  private closedDuring = new Map<string, number>();
  private stepActive = false;

  constructor(readonly opts: SessionOptions) {
    this.urls = (opts.urls?.length ? opts.urls : [opts.url]).map((u) => new URL(u));
    this.url = this.urls[0];
    for (const u of this.urls) {
      if (!isLoopbackHost(u.hostname)) throw new Error(`refusing ${u.hostname}: the harness only targets loopback addresses`);
    }
    this.dialect = opts.dialect;
    if (opts.direct) {
      if (!this.dialect.direct) throw new Error(`the ${this.dialect.name} protocol has no direct messages`);
      if (opts.members % 2 !== 0) throw new Error('direct messages need an even number of members (pairs)');
      opts.rooms = opts.members / 2;
      if (opts.publishers > opts.rooms) throw new Error('direct messages: at most one publisher per pair');
    }
    if (opts.publishers > opts.members) throw new Error('more publishers than members');
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** Creates the members and, for protocols with auth, logs each one in through POST /api/login. */
  async login(): Promise<void> {
    const o = this.opts;
    const n = o.members;
    const rooms = Math.max(1, o.rooms);
    const prefix = o.namePrefix ?? `b${process.pid % 10000}x${Date.now() % 100000}`;
    const roomPrefix = o.roomPrefix ?? `bench-${prefix}-`;
    for (let i = 0; i < n; i++) {
      const r = i % rooms;
      this.members.push(new Member(this, i, `${prefix}-${i}`.slice(0, 32), r, `${roomPrefix}${r}`, o.publishers, i % this.urls.length));
    }
    if (o.direct) {
      for (let i = 0; i < n / 2; i++) {
        this.members[i].peer = this.members[i + n / 2];
        this.members[i + n / 2].peer = this.members[i];
      }
    }
    const slow = Math.min(o.slow ?? 0, n - o.publishers);
    for (let i = 0; i < slow; i++) this.members[n - 1 - i].slow = true;
    if (!this.dialect.login) return;
    // Each member logs in at its own node.
    const loginUrls = this.urls.map((u) => {
      const l = new URL('/api/login', u);
      l.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
      return l;
    });
    const t0 = performance.now();
    await pool(n, 16, async (i) => {
      const m = this.members[i];
      const res = await httpJson('POST', loginUrls[m.node], { name: m.name });
      const { token, uid } = (res.json ?? {}) as { token?: string; uid?: string };
      if (res.status !== 200 || !token) throw new Error(`POST /api/login: ${res.status} ${JSON.stringify(res.json)}`);
      m.token = token;
      if (uid) m.uid = uid;
    });
    this.log(`logged in ${n} members in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  private async openOne(m: Member, localAddress: string | undefined, timeout: number): Promise<void> {
    const start = performance.now();
    try {
      m.closeCode = 0;
      m.ws = await connectWebSocket(this.dialect.url(this.urls[m.node], m), { localAddress, timeoutMs: timeout, handler: m });
      await this.dialect.setup(m, timeout);
      this.connectHist.recordValue(Math.max(1, Math.round((performance.now() - start) * 1000)));
    } catch (err) {
      this.connectErrors++;
      const kind = (err as Error).message.replace(/\d+/g, 'N');
      this.connectErrorKinds.set(kind, (this.connectErrorKinds.get(kind) ?? 0) + 1);
      m.ws?.socket.destroy();
    }
  }

  private sources(): (string | undefined)[] {
    const o = this.opts;
    return o.sourceAddresses?.length ? o.sourceAddresses : loopbackSources(this.url.hostname, o.members, o.perAddress ?? 25_000);
  }

  /** Opens every member's connection and puts it in its room. */
  async open(): Promise<void> {
    const o = this.opts;
    const n = this.members.length;
    const sources = this.sources();
    const perAddr = Math.ceil(n / sources.length);
    const timeout = o.connectTimeoutMs ?? 15_000;
    const t0 = performance.now();
    let done = 0;
    await pool(n, o.connectConcurrency ?? 64, async (i) => {
      await this.openOne(this.members[i], sources[Math.floor(i / perAddr)], timeout);
      done++;
      if (done % 2000 === 0) this.log(`connected ${done}/${n}`);
    });
    this.log(
      `connected ${n - this.connectErrors}/${n} in ${((performance.now() - t0) / 1000).toFixed(1)} s` +
        (this.connectErrors ? ` (${this.connectErrors} failed: ${JSON.stringify(Object.fromEntries(this.connectErrorKinds))})` : ''),
    );
    if (this.connectErrors === n) throw new Error(`no member could connect: ${JSON.stringify(Object.fromEntries(this.connectErrorKinds))}`);
  }

  async connect(): Promise<void> {
    await this.login();
    await this.open();
  }

  /** Reconnects members the server closed (after an overloaded step); returns how many. */
  async reconnectClosed(): Promise<number> {
    const dead = this.members.filter((m) => m.ws?.closed);
    if (dead.length === 0) return 0;
    const sources = this.sources();
    const perAddr = Math.ceil(this.members.length / sources.length);
    await pool(dead.length, 32, (i) => this.openOne(dead[i], sources[Math.floor(dead[i].index / perAddr)], 15_000));
    this.log(`reconnected ${dead.length} members`);
    return dead.length;
  }

  get alive(): Member[] {
    return this.members.filter((m) => m.ws && !m.ws.closed);
  }

  deliver(m: Member, run: number, pub: number, seq: number, tUs: number, now: number): void {
    this.arrived++;
    if (run !== this.run || m.slow) {
      this.stale++;
      return;
    }
    if (seq < m.next[pub]) {
      this.duplicated++;
      return;
    }
    m.next[pub] = seq + 1;
    m.got++;
    this.deliveredTotal++;
    if (tUs >= this.measureFrom && tUs < this.measureTo) {
      const lat = now * 1000 - tUs;
      this.hist.recordValue(Math.max(lat, 1));
      this.measured++;
    }
  }

  memberClosed(m: Member, code: number): void {
    if (!this.stepActive || m.slow) return;
    const k = String(code);
    this.closedDuring.set(k, (this.closedDuring.get(k) ?? 0) + 1);
  }

  /** One load step. Bounded: sending stops after warm-up + duration, the drain after drainMs. */
  async step(s: StepOptions): Promise<StepResult> {
    const o = this.opts;
    this.run++;
    const run = this.run;
    this.hist = newHistogram();
    this.measured = 0;
    this.deliveredTotal = 0;
    this.duplicated = 0;
    this.stale = 0;
    this.closedDuring.clear();
    for (const m of this.members) {
      m.next.fill(0);
      m.got = 0;
      m.acks = 0;
      m.errors = 0;
      m.errorCodes.clear();
    }
    const live = this.alive;
    const serverPids = o.serverPids?.length ? o.serverPids : o.serverPid ? [o.serverPid] : [];
    const pubs = this.members.slice(0, o.publishers).filter((m) => m.ws && !m.ws.closed);
    if (pubs.length === 0) throw new Error('no publisher is connected');
    const sentBy = new Int32Array(o.publishers);
    const slowMembers = live.filter((m) => m.slow);
    for (const m of slowMembers) m.ws.socket.pause();
    this.stepActive = true;

    const pads = new Map<number, string>();
    const pad = (len: number) => {
      let p = pads.get(len);
      if (p === undefined) {
        p = 'x'.repeat(Math.max(0, len));
        pads.set(len, p);
      }
      return p;
    };
    const useId = this.dialect.name.startsWith('chat') || this.dialect.name === 'socketio';

    const t0 = performance.now();
    const warmEnd = t0 + s.warmupMs;
    const sendEnd = warmEnd + s.durationMs;
    this.measureFrom = Math.round(warmEnd * 1000);
    this.measureTo = Math.round(sendEnd * 1000);
    let sent = 0;
    let sentInWindow = 0;
    let cursorUpdates = 0;
    let cursorUpdatesInWindow = 0;
    let cpu: CpuWindow | undefined;
    let rssBefore: number | undefined;
    const samplesD: number[] = [];
    const samplesB: number[] = [];
    let lastD = 0;
    let lastB = 0;
    const sumOverLive = (count: (ws: RawWebSocket) => number): number => {
      let n = 0;
      for (const m of live) n += count(m.ws);
      return n;
    };
    const bytesNow = () => sumOverLive((ws) => ws.bytesRead);
    const readsNow = () => sumOverLive((ws) => ws.reads);
    let bytesAtStart = 0;
    let readsAtStart = 0;
    const maxBurst = Math.max(1, Math.ceil(s.rate * 0.5));

    await new Promise<void>((resolve) => {
      const sendTimer = setInterval(() => {
        const now = performance.now();
        if (now >= sendEnd) {
          clearInterval(sendTimer);
          resolve();
          return;
        }
        const due = Math.floor(((now - t0) / 1000) * s.rate);
        let n = Math.min(due - sent, maxBurst);
        while (n-- > 0) {
          const k = sent % pubs.length;
          const p = pubs[k];
          const seq = sentBy[p.index]++;
          const tUs = Math.round(performance.now() * 1000);
          const head = `~B${run}.${p.index}.${seq}.${tUs}~`;
          const text = head + pad(s.size - head.length);
          this.dialect.publish(p, text, useId ? randomUUID() : '');
          sent++;
          if (tUs >= this.measureFrom) sentInWindow++;
        }
      }, 1);
      const readers = s.readIntervalMs && this.dialect.readCursor ? live.filter((m) => !m.slow) : [];
      if (readers.length > 0) {
        const interval = s.readIntervalMs!;
        // Member k's updates are due at t0 + k·interval/n, then every interval.
        const nextAt = Float64Array.from(readers, (_, k) => t0 + (k * interval) / readers.length);
        const readTimer = setInterval(() => {
          const now = performance.now();
          if (now >= sendEnd) return clearInterval(readTimer);
          for (let k = 0; k < readers.length; k++) {
            if (nextAt[k] > now) continue;
            nextAt[k] += interval;
            this.dialect.readCursor!(readers[k]);
            cursorUpdates++;
            if (now >= warmEnd) cursorUpdatesInWindow++;
          }
        }, 5);
      }
      // Window start: CPU and byte counters.
      setTimeout(
        () => {
          cpu = new CpuWindow(serverPids, o.auxPids);
          rssBefore = serverPids.length ? processesRss(serverPids) : undefined;
          bytesAtStart = bytesNow();
          readsAtStart = readsNow();
        },
        Math.max(0, warmEnd - performance.now()),
      );
      const progressTimer = setInterval(() => {
        const now = performance.now();
        if (now >= sendEnd) {
          clearInterval(progressTimer);
          return;
        }
        const d = this.deliveredTotal - lastD;
        const b = bytesNow();
        if (now > warmEnd + 500) {
          samplesD.push(d);
          samplesB.push(b - lastB);
        }
        lastD = this.deliveredTotal;
        lastB = b;
        s.progress?.({
          phase: now < warmEnd ? 'warmup' : 'run',
          elapsedS: (now - t0) / 1000,
          deliveriesPerSec: d,
          p99: this.hist.totalCount ? this.hist.getValueAtPercentile(99) / 1000 : 0,
          sent,
          errors: live.reduce((a, m) => a + m.errors, 0),
        });
      }, 1000);
    });
    const cpuReport: CpuReport | undefined = cpu?.finish();
    const bytesInWindow = bytesNow() - bytesAtStart;
    const readsInWindow = readsNow() - readsAtStart;
    const rssAfter = serverPids.length ? processesRss(serverPids) : undefined;

    // Drain: until every expected delivery arrived, or drainMs.
    const expectedFor = (m: Member) => {
      let e = 0;
      for (let p = 0; p < o.publishers; p++) if (p % Math.max(1, o.rooms) === m.roomIndex) e += sentBy[p];
      return e;
    };
    const liveSet = new Set(live);
    const counted = this.members.filter((m) => m.ws && !m.slow && liveSet.has(m));
    const expectedTotal = counted.reduce((a, m) => a + expectedFor(m), 0);
    const drainEnd = performance.now() + s.drainMs;
    while (performance.now() < drainEnd) {
      const got = counted.reduce((a, m) => a + m.got, 0);
      if (got >= expectedTotal) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    s.progress?.({
      phase: 'drain',
      elapsedS: (performance.now() - t0) / 1000,
      deliveriesPerSec: 0,
      p99: this.hist.totalCount ? this.hist.getValueAtPercentile(99) / 1000 : 0,
      sent,
      errors: 0,
    });
    let lost = 0;
    for (const m of counted) lost += Math.max(0, expectedFor(m) - m.got);
    this.stepActive = false;

    // Slow members read again: what did the server do with them?
    const slowCloseCodes: Record<string, number> = {};
    let slowClosed = 0;
    if (slowMembers.length > 0) {
      for (const m of slowMembers) m.ws.socket.resume();
      const until = performance.now() + 3000;
      while (performance.now() < until && slowMembers.some((m) => !m.ws.closed)) await new Promise((r) => setTimeout(r, 50));
      for (const m of slowMembers) {
        if (m.ws.closed) {
          slowClosed++;
          const k = String(m.closeCode || m.ws.closeCode || 1006);
          slowCloseCodes[k] = (slowCloseCodes[k] ?? 0) + 1;
        }
      }
    }

    const durS = s.durationMs / 1000;
    const errorCodes: Record<string, number> = {};
    let errors = 0;
    let acks = 0;
    for (const m of live) {
      errors += m.errors;
      acks += m.acks;
      for (const [k, v] of m.errorCodes) errorCodes[k] = (errorCodes[k] ?? 0) + v;
    }
    const wallS = cpuReport ? cpuReport.wallUs / 1e6 : durS;
    const serverCpuUs = cpuReport?.server ? cpuReport.server.user + cpuReport.server.system : undefined;
    const loadgenCpuUs = cpuReport ? cpuReport.loadgen.user + cpuReport.loadgen.system : 0;
    const auxCpuUs = cpuReport?.aux ? cpuReport.aux.user + cpuReport.aux.system : undefined;
    const deliveriesPerSec = this.measured / durS;
    const pct = (us: number | undefined) => (us === undefined ? undefined : Math.round((us / (wallS * 1e6)) * 1000) / 10);
    const loadgenPct = pct(loadgenCpuUs) ?? 0;
    const avgRoom = live.length / Math.max(1, o.rooms);
    const closedAll = Object.fromEntries(this.closedDuring);
    return {
      protocol: this.dialect.name,
      url: this.opts.url,
      ...(this.urls.length > 1 ? { urls: this.urls.map((u) => u.toString()) } : {}),
      nodes: Math.max(1, serverPids.length),
      members: o.members,
      membersAlive: live.length,
      rooms: o.rooms,
      publishers: o.publishers,
      size: s.size,
      rate: s.rate,
      targetDeliveriesPerSec: Math.round(s.rate * avgRoom),
      durationS: durS,
      sent,
      sentPerSec: Math.round(sentInWindow / durS),
      deliveries: this.measured,
      deliveriesPerSec: Math.round(deliveriesPerSec),
      bytesPerSec: Math.round(bytesInWindow / wallS),
      deliveriesPerRead: readsInWindow > 0 ? Math.round((this.measured / readsInWindow) * 100) / 100 : 0,
      latency: summarize(this.hist),
      deliveriesSamples: summarizeSamples(samplesD),
      bytesSamples: summarizeSamples(samplesB),
      connect: summarize(this.connectHist),
      connectErrors: this.connectErrors,
      errors,
      errorCodes,
      acks,
      reads: cursorUpdates,
      readsPerSec: Math.round(cursorUpdatesInWindow / durS),
      lost,
      duplicated: this.duplicated,
      stale: this.stale,
      closed: Object.values(closedAll).reduce((a, b) => a + b, 0),
      closeCodes: closedAll,
      slow: slowMembers.length,
      slowClosed,
      slowCloseCodes,
      cpu: {
        serverUserPct: pct(cpuReport?.server?.user),
        serverSysPct: pct(cpuReport?.server?.system),
        loadgenUserPct: pct(cpuReport?.loadgen.user) ?? 0,
        loadgenSysPct: pct(cpuReport?.loadgen.system) ?? 0,
        othersPct: cpuReport?.othersPct === undefined ? undefined : Math.round(cpuReport.othersPct * 10) / 10,
        softirqPct: cpuReport?.softirqPct === undefined ? undefined : Math.round(cpuReport.softirqPct * 10) / 10,
        serverUsPerDelivery: serverCpuUs === undefined || this.measured === 0 ? undefined : Math.round((serverCpuUs / (deliveriesPerSec * wallS)) * 100) / 100,
        loadgenUsPerDelivery: this.measured === 0 ? 0 : Math.round((loadgenCpuUs / (deliveriesPerSec * wallS)) * 100) / 100,
        ...(cpuReport?.aux
          ? {
              auxUserPct: pct(cpuReport.aux.user),
              auxSysPct: pct(cpuReport.aux.system),
              auxUsPerDelivery: auxCpuUs === undefined || this.measured === 0 ? undefined : Math.round((auxCpuUs / (deliveriesPerSec * wallS)) * 100) / 100,
            }
          : {}),
      },
      serverRssBefore: rssBefore,
      serverRssAfter: rssAfter,
      loadgenBound: loadgenPct >= 90,
    };
  }

  /**
   * Waits until no chat message has arrived for quietMs (a previous overloaded step's backlog), at
   * most maxMs. Counts messages, not bytes: a server's heartbeat pings keep bytes arriving on an
   * idle connection, and counting those made every step wait the whole maxMs.
   */
  async quiesce(quietMs = 500, maxMs = 15_000): Promise<void> {
    const end = performance.now() + maxMs;
    let last = -1;
    let quietSince = performance.now();
    while (performance.now() < end) {
      if (this.arrived !== last) {
        last = this.arrived;
        quietSince = performance.now();
      } else if (performance.now() - quietSince >= quietMs) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    for (const m of this.members) m.ws?.close();
    const end = performance.now() + 3000;
    while (performance.now() < end && this.members.some((m) => m.ws && !m.ws.closed)) await new Promise((r) => setTimeout(r, 50));
    for (const m of this.members) if (m.ws && !m.ws.closed) m.ws.socket.destroy();
  }
}
