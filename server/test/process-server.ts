/**
 * The server as its own process (`node server/dist/main.js`), for tests that measure it from the
 * outside: its memory (RSS from /proc), its /healthz latency, how it exits.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest, type TestServer, testEnv } from './harness.ts';

/** CHATROOM_MAIN runs another build (a before/after comparison). */
const MAIN = process.env.CHATROOM_MAIN ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');

export interface ProcessServer extends TestServer {
  child: ChildProcess;
  /** Every stdout line (JSON logs) so far. */
  logs: string[];
  /** Resident memory of the server process now, in bytes. */
  rss(): number;
  /** Milliseconds /healthz takes to answer now. */
  healthLatency(): Promise<number>;
  /** A counter from /metrics (loopback may scrape). */
  metric(name: string): Promise<number>;
}

export async function startProcessServer(env: Record<string, string> = {}): Promise<ProcessServer> {
  if (!existsSync(MAIN)) throw new Error('server/dist/main.js is missing: run `npm run build -w server`');
  // A certificate and secret of its own: the child and this process must agree on both.
  const merged = testEnv({ CERTS_DIR: mkdtempSync(join(tmpdir(), 'chatroom-proc-')), LOG_LEVEL: 'info', ...env });
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH, ...merged }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = await new Promise<{ url: string; http: string }>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs.join('\n')}\n${stderr}`)), 15_000);
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
      reject(new Error(`server exited with ${code}:\n${logs.join('\n')}\n${stderr}`));
    });
  });
  const server: ProcessServer = {
    url: listening.url.replace('localhost', '127.0.0.1'),
    httpUrl: listening.http.replace('localhost', '127.0.0.1'),
    port: Number(new URL(listening.http).port),
    tls: { cert: readFileSync(join(merged.CERTS_DIR, 'dev-cert.pem'), 'utf8') },
    env: merged,
    child,
    logs,
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    healthLatency: async () => {
      const started = performance.now();
      await httpRequest(server, '/healthz');
      return performance.now() - started;
    },
    metric: async (name) => {
      const res = await httpRequest(server, '/metrics');
      const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, 'm').exec(res.text);
      return match ? Number(match[1]) : 0;
    },
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return server;
}
