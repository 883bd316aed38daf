/**
 * Launches the servers under test as separate processes (so /proc gives each one's CPU): our server
 * from its build (server/dist/main.js) or on Deno (server/src/deno/start.mjs), the peers in
 * bench/peers/, and for the scale-out servers several processes on a private redis-server.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpJson } from './http.ts';
import { pidListeningOn } from './procstat.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_DIR = path.resolve(here, '..');
export const REPO_DIR = path.resolve(BENCH_DIR, '..');

/** Our server's entry; BENCH_OURS_MAIN points at another build (say, a proposed change) to compare. */
export const OURS_MAIN = process.env.BENCH_OURS_MAIN ? path.resolve(process.env.BENCH_OURS_MAIN) : path.join(REPO_DIR, 'server', 'dist', 'main.js');
/** Our server on Deno: the launcher of `npm run start:deno` (a Node process that spawns deno). */
export const OURS_DENO_START = path.join(REPO_DIR, 'server', 'src', 'deno', 'start.mjs');
export const REDIS_SERVER = process.env.BENCH_REDIS_SERVER ?? '/usr/bin/redis-server';

export interface PeerSpec {
  id: string;
  label: string;
  /** Dialect name (dialects.ts). */
  protocol: string;
  script: string;
  env?: Record<string, string>;
  /** Node's flags before the script. */
  nodeArgs?: string[];
  /** Readiness: a LISTENING line on stdout, or GET /healthz answering 200. */
  ready: 'stdout' | 'healthz';
  secure?: boolean;
  /** Variables removed from the inherited environment (so the default applies). */
  unsetEnv?: string[];
  /** Working directory (default: the repository for ours, bench/ for the peers). */
  cwd?: string;
  /**
   * The measured process is the one listening on the port, not the one spawned (the Deno launcher
   * is a Node process that spawns deno; the listener is deno).
   */
  pidFromPort?: boolean;
  /** Processes of the server, each on its own port (default 1); members spread over them. */
  nodes?: number;
  /** Start a private redis-server and give each process REDIS_URL. */
  redis?: boolean;
  startTimeoutMs?: number;
  available(): string | undefined;
}

export interface RunningPeer {
  spec: PeerSpec;
  /** The (first) measured server process. */
  pid: number;
  port: number;
  url: string;
  /** Every node: measured pid, port and URL (one entry for a single-process server). */
  pids: number[];
  ports: number[];
  urls: string[];
  /** redis-server, when the server uses one: measured apart. */
  auxPids: number[];
  stop(): Promise<void>;
}

function oursEnv(secure: boolean, certsDir: string): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PLAIN_HTTP: secure ? 'false' : 'true',
    LOG_LEVEL: 'warn',
    DEV_LOGIN: 'true',
    // Publishers send far above a person's rate; the bench is not testing the limiter.
    RATE_LIMIT_PER_SEC: '1000000',
    RATE_LIMIT_BURST: '1000000',
    JWT_SECRET: 'bench-only-secret-not-for-production-0123456789',
    CERTS_DIR: certsDir,
    PER_MESSAGE_DEFLATE: 'false',
    // Every bench connection comes from 127.0.0.1: the per-address admission limits would refuse
    // them (they guard against one abusive address, which is not what is measured here).
    CONNECTIONS_PER_ADDRESS: '0',
    HANDSHAKES_PER_SEC: '0',
    LOGIN_PER_MINUTE: '0',
    PENDING_PER_ADDRESS: '0',
    USER_RATE_PER_SEC: '1000000',
    USER_RATE_BURST: '1000000',
    ROOMS_CREATED_PER_HOUR: '1000000',
    DIRECT_PEERS_PER_HOUR: '1000000',
    // No snapshot file of the in-memory store at shutdown.
    SNAPSHOT_PATH: 'off',
  };
}

let certsDir: string | undefined;
function benchCertsDir(): string {
  certsDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'chat-bench-certs-'));
  return certsDir;
}

function resolvable(name: string): string | undefined {
  try {
    const pkg = path.join(BENCH_DIR, 'node_modules', name, 'package.json');
    const rootPkg = path.join(REPO_DIR, 'node_modules', name, 'package.json');
    const file = fs.existsSync(pkg) ? pkg : rootPkg;
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

function redisVersion(): string | undefined {
  try {
    return /v=([\d.]+)/.exec(execFileSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined;
  }
}

export function versions(): Record<string, string | undefined> {
  return {
    node: process.versions.node,
    ws: resolvable('ws'),
    'socket.io': resolvable('socket.io'),
    uwebsockets: resolvable('uwebsockets'),
    autocannon: resolvable('autocannon'),
    'hdr-histogram-js': resolvable('hdr-histogram-js'),
    '@socket.io/redis-adapter': resolvable('@socket.io/redis-adapter'),
    ioredis: resolvable('ioredis'),
    deno: resolvable('deno'),
    'redis-server': redisVersion(),
  };
}

const oursBuilt = () => (fs.existsSync(OURS_MAIN) ? undefined : `${OURS_MAIN} missing: npm run build -w server`);
const denoThere = () => (fs.existsSync(OURS_DENO_START) ? undefined : `${OURS_DENO_START} missing`);
const redisThere = () => (fs.existsSync(REDIS_SERVER) ? undefined : `${REDIS_SERVER} missing (BENCH_REDIS_SERVER names another)`);

export const PEERS: Record<string, PeerSpec> = {
  ours: {
    id: 'ours',
    label: 'ours (ws, encode once, cork per turn)',
    protocol: 'chat',
    script: OURS_MAIN,
    ready: 'healthz',
    available: () => (fs.existsSync(OURS_MAIN) ? undefined : `${OURS_MAIN} missing: npm run build -w server`),
  },
  'ours-wss': {
    id: 'ours-wss',
    label: 'ours over TLS (wss)',
    protocol: 'chat',
    script: OURS_MAIN,
    ready: 'healthz',
    secure: true,
    available: () => (fs.existsSync(OURS_MAIN) ? undefined : `${OURS_MAIN} missing: npm run build -w server`),
  },
  /** Another build of our server (BENCH_OURS_ALT_MAIN), measured in the same run: a proposed change. */
  'ours-alt': {
    id: 'ours-alt',
    label: 'ours, alternative build (BENCH_OURS_ALT_MAIN)',
    protocol: 'chat',
    script: process.env.BENCH_OURS_ALT_MAIN ? path.resolve(process.env.BENCH_OURS_ALT_MAIN) : '',
    // Node's flags for it, space-separated: a runtime flag measured against the same build without it.
    nodeArgs: process.env.BENCH_OURS_ALT_NODE_ARGS?.split(/\s+/).filter(Boolean),
    ready: 'healthz',
    available: () =>
      process.env.BENCH_OURS_ALT_MAIN && fs.existsSync(process.env.BENCH_OURS_ALT_MAIN)
        ? undefined
        : "set BENCH_OURS_ALT_MAIN to another build's server/dist/main.js",
  },
  /** Our server on Deno, `ws` stack (DENO_WEBSOCKET unset), TypeScript source run as is. */
  'ours-deno': {
    id: 'ours-deno',
    label: 'ours on Deno (ws stack)',
    protocol: 'chat',
    script: OURS_DENO_START,
    cwd: REPO_DIR,
    unsetEnv: ['DENO_WEBSOCKET'],
    pidFromPort: true,
    ready: 'healthz',
    startTimeoutMs: 60_000,
    available: denoThere,
  },
  /** Our server on Deno with Deno.serve + Deno.upgradeWebSocket (DENO_WEBSOCKET=native). */
  'ours-deno-native': {
    id: 'ours-deno-native',
    label: 'ours on Deno (Deno.upgradeWebSocket)',
    protocol: 'chat',
    script: OURS_DENO_START,
    cwd: REPO_DIR,
    env: { DENO_WEBSOCKET: 'native' },
    pidFromPort: true,
    ready: 'healthz',
    startTimeoutMs: 60_000,
    available: denoThere,
  },
  /** One node on a private Redis: the Redis cost without the multi-node cost. */
  'ours-redis1': {
    id: 'ours-redis1',
    label: 'ours, 1 node + Redis',
    protocol: 'chat',
    script: OURS_MAIN,
    ready: 'healthz',
    redis: true,
    available: () => oursBuilt() ?? redisThere(),
  },
  /** Three nodes on one private Redis, the same JWT_SECRET; members spread over the three. */
  'ours-redis3': {
    id: 'ours-redis3',
    label: 'ours, 3 nodes + Redis',
    protocol: 'chat',
    script: OURS_MAIN,
    ready: 'healthz',
    redis: true,
    nodes: 3,
    available: () => oursBuilt() ?? redisThere(),
  },
  /** socket.io 4 rooms (same peer script) on three processes with @socket.io/redis-adapter. */
  'socketio-redis3': {
    id: 'socketio-redis3',
    label: 'socket.io 4 rooms, 3 processes + @socket.io/redis-adapter',
    protocol: 'socketio',
    script: path.join(BENCH_DIR, 'peers', 'socketio-rooms.mjs'),
    ready: 'stdout',
    redis: true,
    nodes: 3,
    available: () =>
      !resolvable('socket.io')
        ? 'socket.io not installed'
        : !resolvable('@socket.io/redis-adapter') || !resolvable('ioredis')
          ? 'npm install @socket.io/redis-adapter ioredis -w bench'
          : redisThere(),
  },
  naive: {
    id: 'naive',
    label: "course's naive ws server",
    protocol: 'course',
    script: path.join(BENCH_DIR, 'peers', 'naive-ws.mjs'),
    ready: 'stdout',
    available: () => undefined,
  },
  socketio: {
    id: 'socketio',
    label: 'socket.io 4 rooms (websocket)',
    protocol: 'socketio',
    script: path.join(BENCH_DIR, 'peers', 'socketio-rooms.mjs'),
    ready: 'stdout',
    available: () => (resolvable('socket.io') ? undefined : 'socket.io not installed'),
  },
  uws: {
    id: 'uws',
    label: 'uWebSockets.js pub/sub',
    protocol: 'chat-noauth',
    script: path.join(BENCH_DIR, 'peers', 'uws-pubsub.mjs'),
    ready: 'stdout',
    available: () => {
      if (!resolvable('uwebsockets')) return 'npm package uwebsockets not installed';
      return undefined;
    },
  },
  /** The uWS peer's protocol on `ws`, doing nothing else: what `ws` itself charges for the same work. */
  'ws-pubsub': {
    id: 'ws-pubsub',
    label: 'ws pub/sub (the uWS peer on ws)',
    protocol: 'chat-noauth',
    script: path.join(BENCH_DIR, 'peers', 'ws-pubsub.mjs'),
    ready: 'stdout',
    available: () => undefined,
  },
  'bare-ws': {
    id: 'bare-ws',
    label: 'bare ws server',
    protocol: 'course',
    script: path.join(BENCH_DIR, 'peers', 'bare-ws.mjs'),
    ready: 'stdout',
    available: () => undefined,
  },
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Every child process still running, killed (SIGKILL) if the harness exits without stopping it. */
const live = new Map<number, ChildProcess>();
const livePids = new Set<number>();
let exitHook = false;
function track(child: ChildProcess, extraPid?: () => number | undefined): void {
  live.set(child.pid!, child);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of live.values()) c.kill('SIGKILL');
      for (const pid of livePids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    });
  }
  child.on('exit', () => {
    live.delete(child.pid!);
    const p = extraPid?.();
    if (p !== undefined) livePids.delete(p);
  });
}

const alivePid = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function stopChild(child: ChildProcess, isExited: () => boolean, extraPid?: number): Promise<void> {
  if (!isExited()) {
    child.kill('SIGTERM');
    const until = Date.now() + 5000;
    while (!isExited() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (!isExited()) child.kill('SIGKILL');
  }
  // A grandchild (deno under its Node launcher) must not outlive the launcher.
  if (extraPid !== undefined && extraPid !== child.pid) {
    const until = Date.now() + 3000;
    while (alivePid(extraPid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (alivePid(extraPid)) {
      try {
        process.kill(extraPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    livePids.delete(extraPid);
  }
}

interface RedisHandle {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** A private redis-server on a free loopback port, no persistence, in a temporary directory. */
export async function startRedis(timeoutMs = 10_000): Promise<RedisHandle> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-bench-redis-'));
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', '', '--daemonize', 'no'],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  track(child);
  let output = '';
  let exited = false;
  child.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  child.on('exit', () => (exited = true));
  child.on('error', (err) => {
    exited = true;
    output += String(err);
  });
  const stop = async () => {
    await stopChild(child, () => exited);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!output.includes('Ready to accept connections')) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid!, port, stop };
}

interface NodeHandle {
  pid: number;
  port: number;
  url: string;
  stop(): Promise<void>;
}

interface LaunchOptions {
  extraEnv?: Record<string, string>;
  nodeArgs?: string[];
  /** A command the server runs under, say valgrind with its options: `[...wrapper, node, ...spec's and these nodeArgs, script]`. */
  wrapper?: string[];
  timeoutMs?: number;
}

async function launchOne(spec: PeerSpec, opts: LaunchOptions): Promise<NodeHandle> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    ...(spec.id.startsWith('ours') ? oursEnv(Boolean(spec.secure), benchCertsDir()) : {}),
    ...spec.env,
    ...opts.extraEnv,
  };
  for (const k of spec.unsetEnv ?? []) delete env[k];
  let measured: number | undefined;
  const argv = [...(opts.wrapper ?? []), process.execPath, ...(spec.nodeArgs ?? []), ...(opts.nodeArgs ?? []), spec.script];
  const child: ChildProcess = spawn(argv[0], argv.slice(1), {
    cwd: spec.cwd ?? (spec.id.startsWith('ours') ? path.resolve(path.dirname(spec.script), '..', '..') : BENCH_DIR),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child, () => measured);
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  let stopping = false;
  child.on('exit', (code, signal) => {
    exited = true;
    // A server that ends on its own (or by someone else's signal) mid-run says so: the steps after
    // it fail to connect, and its own last words tell a crash from a shutdown.
    if (measured !== undefined && !stopping)
      process.stderr.write(`${spec.id}: server exited during the run (${signal ?? `code ${code}`}); its last output:\n${output.slice(-1500)}\n`);
  });
  const scheme = spec.secure ? 'wss' : 'ws';
  const url = `${scheme}://127.0.0.1:${port}/`;
  const timeout = opts.timeoutMs ?? spec.startTimeoutMs ?? 20_000;
  const deadline = Date.now() + timeout;
  for (;;) {
    if (exited) throw new Error(`${spec.id} exited during start: ${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${spec.id} not ready after ${timeout} ms: ${output}`);
    }
    if (spec.ready === 'stdout') {
      if (output.includes('LISTENING')) break;
    } else {
      try {
        const res = await httpJson('GET', new URL(`${spec.secure ? 'https' : 'http'}://127.0.0.1:${port}/healthz`), undefined, 1000);
        if (res.status === 200) break;
      } catch {
        /* not yet */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  measured = child.pid!;
  if (spec.pidFromPort) {
    const p = pidListeningOn(port);
    if (p === undefined) {
      await stopChild(child, () => exited);
      throw new Error(`${spec.id}: no process found listening on port ${port}`);
    }
    measured = p;
    livePids.add(p);
  }
  const pid = measured;
  return {
    pid,
    port,
    url,
    stop: () => {
      stopping = true;
      return stopChild(child, () => exited, pid);
    },
  };
}

/**
 * Starts a server under test: its redis-server first if it needs one, then its node processes
 * (in parallel). Whatever started is stopped again if any part fails.
 */
export async function launch(spec: PeerSpec, opts: LaunchOptions = {}): Promise<RunningPeer> {
  const missing = spec.available();
  if (missing) throw new Error(`${spec.id}: ${missing}`);
  let redis: RedisHandle | undefined;
  const nodes: NodeHandle[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  };
  try {
    if (spec.redis) redis = await startRedis();
    const extraEnv = { ...(redis ? { REDIS_URL: `redis://127.0.0.1:${redis.port}` } : {}), ...opts.extraEnv };
    const count = Math.max(1, spec.nodes ?? 1);
    const started = await Promise.allSettled(Array.from({ length: count }, () => launchOne(spec, { ...opts, extraEnv })));
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    spec,
    pid: nodes[0].pid,
    port: nodes[0].port,
    url: nodes[0].url,
    pids: nodes.map((n) => n.pid),
    ports: nodes.map((n) => n.port),
    urls: nodes.map((n) => n.url),
    auxPids: redis ? [redis.pid] : [],
    stop: stopAll,
  };
}
