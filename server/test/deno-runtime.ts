/**
 * TEST_RUNTIME=deno: the server under test runs in a Deno child process, started the way
 * `npm run start:deno` starts it, and the suite talks to it over the network only.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { denoBinary, denoServerArgs } from '../src/deno/deno-command.mjs';
import type { TestServer } from './harness.ts';

const START_TIMEOUT_MS = 20_000;
/** Lines kept to explain a server that failed to start. */
const KEPT_LINES = 40;

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

interface LogLine {
  msg?: string;
  url?: string;
  http?: string;
  path?: string;
  source?: string;
}

/** A Deno test server, with the process id for what only the process shows (its memory). */
export interface DenoTestServer extends TestServer {
  pid: number;
}

export async function startDenoTestServer(env: Record<string, string>): Promise<DenoTestServer> {
  // The address comes from the `listening` line, so the child logs at info even when tests ask for silence.
  const level = env.LOG_LEVEL === 'debug' ? 'debug' : 'info';
  const child = spawn(denoBinary(), denoServerArgs(), {
    env: { ...process.env, ...env, LOG_LEVEL: level, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  const recent: string[] = [];
  const keep = (line: string): void => {
    recent.push(line);
    if (recent.length > KEPT_LINES) recent.shift();
  };
  createInterface({ input: child.stderr! }).on('line', keep);

  let certPath: string | undefined;
  const listening = new Promise<LogLine>((resolve, reject) => {
    // Read every line for as long as the server runs: a full pipe would block its synchronous logging.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      keep(line);
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        return;
      }
      if (entry.msg === 'tls certificate') certPath = entry.path;
      if (entry.msg === 'listening') resolve(entry);
    });
    child.once('error', reject);
    void exited.then((code) => reject(new Error(`the Deno server exited with ${code} before listening:\n${recent.join('\n')}`)));
    setTimeout(() => reject(new Error(`the Deno server did not listen within ${START_TIMEOUT_MS} ms:\n${recent.join('\n')}`)), START_TIMEOUT_MS).unref();
  });

  let ready: LogLine;
  try {
    ready = await listening;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const httpUrl = ready.http!;
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), Number(env.SHUTDOWN_TIMEOUT_MS ?? 5000) + 5000);
    await exited;
    clearTimeout(killer);
  };
  return {
    url: ready.url!,
    httpUrl,
    port: Number(new URL(httpUrl).port),
    tls: certPath ? { cert: readFileSync(certPath, 'utf8') } : undefined,
    env,
    close,
    pid: child.pid!,
  };
}
