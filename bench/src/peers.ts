/**
 * Launches the servers under test as separate processes (so /proc gives each one's CPU): our server
 * from its build (server/dist/main.js), and the peers in bench/peers/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpJson } from './http.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_DIR = path.resolve(here, '..');
export const REPO_DIR = path.resolve(BENCH_DIR, '..');

/** Our server's entry; BENCH_OURS_MAIN points at another build (say, a proposed change) to compare. */
export const OURS_MAIN = process.env.BENCH_OURS_MAIN ? path.resolve(process.env.BENCH_OURS_MAIN) : path.join(REPO_DIR, 'server', 'dist', 'main.js');

export interface PeerSpec {
  id: string;
  label: string;
  /** Dialect name (dialects.ts). */
  protocol: string;
  script: string;
  env?: Record<string, string>;
  /** Readiness: a LISTENING line on stdout, or GET /healthz answering 200. */
  ready: 'stdout' | 'healthz';
  secure?: boolean;
  available(): string | undefined;
}

export interface RunningPeer {
  spec: PeerSpec;
  pid: number;
  port: number;
  url: string;
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

export function versions(): Record<string, string | undefined> {
  return {
    node: process.versions.node,
    ws: resolvable('ws'),
    'socket.io': resolvable('socket.io'),
    uwebsockets: resolvable('uwebsockets'),
    autocannon: resolvable('autocannon'),
    'hdr-histogram-js': resolvable('hdr-histogram-js'),
  };
}

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
    ready: 'healthz',
    available: () => (process.env.BENCH_OURS_ALT_MAIN && fs.existsSync(process.env.BENCH_OURS_ALT_MAIN) ? undefined : 'set BENCH_OURS_ALT_MAIN to another build\'s server/dist/main.js'),
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

export async function launch(spec: PeerSpec, opts: { extraEnv?: Record<string, string>; nodeArgs?: string[]; timeoutMs?: number } = {}): Promise<RunningPeer> {
  const missing = spec.available();
  if (missing) throw new Error(`${spec.id}: ${missing}`);
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    ...(spec.id.startsWith('ours') ? oursEnv(Boolean(spec.secure), benchCertsDir()) : {}),
    ...spec.env,
    ...opts.extraEnv,
  };
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), spec.script], {
    cwd: spec.id.startsWith('ours') ? path.resolve(path.dirname(spec.script), '..', '..') : BENCH_DIR,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const scheme = spec.secure ? 'wss' : 'ws';
  const url = `${scheme}://127.0.0.1:${port}/`;
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    if (exited) throw new Error(`${spec.id} exited during start: ${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${spec.id} not ready after ${opts.timeoutMs ?? 20_000} ms: ${output}`);
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
  return {
    spec,
    pid: child.pid!,
    port,
    url,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const until = Date.now() + 5000;
      while (!exited && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      if (!exited) child.kill('SIGKILL');
    },
  };
}
