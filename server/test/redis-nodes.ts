/**
 * Test helper: chat server nodes sharing one Redis, either in this process (fast) or as separate
 * `node server/dist/main.js` processes (for kill -9). All nodes share JWT_SECRET, so a token from
 * one node's login works on every node, as behind a load balancer.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import type { ChatBackend } from '../src/core/backend.ts';
import { createLogger } from '../src/core/logger.ts';
import type { ChatStore } from '../src/core/store.ts';
import { type RunningServer, startNodeServer } from '../src/node/server.ts';
import { createRedisBackends, type RedisBackends } from '../src/redis/redis-backends.ts';
import { httpRequest, sleep, type TestClient, type TestServer, testEnv } from './harness.ts';

export const SHARED_JWT_SECRET = 'redis-tests-shared-secret-0123456789abcdef';
const SERVER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface InProcessNode extends TestServer {
  running: RunningServer;
  /** The node's Redis backend as built (its store unwrapped): the reaper, the store's local presence. */
  redis: RedisBackends;
}

export function nodeEnv(redisUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return testEnv({ REDIS_URL: redisUrl, JWT_SECRET: SHARED_JWT_SECRET, REDIS_KEY_PREFIX: 'chat:', ...env });
}

export interface NodeOptions {
  /** Wraps the node's store, e.g. to make one operation slow, as a node under load is. */
  wrapStore?: (store: ChatStore) => ChatStore;
}

export async function startInProcessNode(redisUrl: string, env: Record<string, string> = {}, options: NodeOptions = {}): Promise<InProcessNode> {
  const merged = nodeEnv(redisUrl, env);
  const config = loadConfig(merged);
  const redis = await createRedisBackends({ ...config, redisUrl }, createLogger('silent'));
  const backend: ChatBackend = options.wrapStore ? { ...redis, store: options.wrapStore(redis.store) } : redis;
  const running = await startNodeServer(config, undefined, { backend });
  return { url: running.url, httpUrl: running.httpUrl, port: running.port, tls: running.tls, env: merged, close: running.close, running, redis };
}

export interface ProcessNode extends TestServer {
  /** Every stdout line (JSON logs) so far. */
  logs: string[];
  child: ChildProcess;
  /** kill -9: no goodbye to Redis, no close frames to clients. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: the node stops answering anyone (a long GC pause, a frozen VM) and resumes. */
  pause(): void;
  resume(): void;
  /** Resident memory of the node process now, in bytes (from /proc). */
  rss(): number;
}

/** Rebuilds server/dist when a source file is newer than its output (vitest runs the sources). */
export function ensureServerBuilt(): void {
  const src = join(SERVER_DIR, 'src');
  const stale = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return stale(path);
      // Declaration files emit nothing: counting them stale rebuilt dist/ on every call, under
      // the feet of other suites that were starting dist/main.js.
      if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) return false;
      const out = join(SERVER_DIR, 'dist', relative(src, path)).replace(/\.ts$/, '.js');
      return !existsSync(out) || statSync(out).mtimeMs < statSync(path).mtimeMs;
    });
  if (!stale(src)) return;
  const build = spawnSync('npx', ['tsc', '-p', SERVER_DIR], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build -w server failed:\n${build.stdout}${build.stderr}`);
}

export async function startProcessNode(redisUrl: string, env: Record<string, string> = {}): Promise<ProcessNode> {
  return startServerProcess(nodeEnv(redisUrl, { PLAIN_HTTP: 'true', LOG_LEVEL: 'info', ...env }));
}

/**
 * `node server/dist/main.js` with exactly this environment (and PATH), as systemd would start it;
 * resolves once it logs `listening` (so LOG_LEVEL must let info through).
 */
export async function startServerProcess(merged: Record<string, string>, tls?: { cert: string }): Promise<ProcessNode> {
  const child = spawn(process.execPath, [join(SERVER_DIR, 'dist', 'main.js')], {
    env: { PATH: process.env.PATH, ...merged },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = await new Promise<{ url: string; http: string }>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`node did not start:\n${logs.join('\n')}\n${stderr}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        logs.push(line);
        if (line.includes('"msg":"listening"')) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { url: string; http: string });
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code}:\n${logs.join('\n')}\n${stderr}`));
    });
  });
  const port = Number(new URL(listening.http).port);
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url: listening.url.replace('localhost', '127.0.0.1'),
    httpUrl: listening.http.replace('localhost', '127.0.0.1'),
    port,
    tls,
    env: merged,
    logs,
    child,
    close: () => {
      child.kill('SIGCONT');
      return stop('SIGTERM');
    },
    kill: () => stop('SIGKILL'),
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    rss: () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
  };
}

export interface Health {
  ok: boolean;
  status: string;
  store: string;
}

export async function health(server: TestServer): Promise<Health> {
  return (await httpRequest<Health>(server, '/healthz')).body;
}

/**
 * Sends until acknowledged, resending the same id after each refusal (4503, "send it again"), as a
 * client does while Redis is away.
 */
export async function sayUntilAcked(client: TestClient, roomid: string, message: string, id: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const reply = await client.request({ event: 'message', roomid, message, id }, 15_000);
    if (reply.event === 'ack') return reply;
    if (reply.event !== 'error' || reply.code !== 4503) throw new Error(`${id}: not a refusal to resend: ${JSON.stringify(reply)}`);
    // A client's back-off between resends: time passing is the point, bounded by the attempts.
    await sleep(150);
  }
  throw new Error(`${id} never acknowledged`);
}
