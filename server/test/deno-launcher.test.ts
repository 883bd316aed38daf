/**
 * `npm run start:deno` as an operator or a supervisor runs it: npm, the launcher
 * (server/src/deno/start.mjs) and Deno, real processes on a real port. SIGTERM must stop Deno,
 * free the port and end every process, whichever of them gets it.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually, testEnv } from './harness.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Deno's main exits at the latest this long after SHUTDOWN_TIMEOUT_MS; npm and the launcher add their own exits. */
const EXIT_MARGIN_MS = 5000;

/** The fields of /proc/<pid>/stat after the command name (which, in parentheses, may contain spaces). */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Child processes of `pid` (the parent is the field after the state). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(statFields(entry)?.[1]) === pid)
    .map(Number);
}

function descendantsOf(pid: number): number[] {
  return childrenOf(pid).flatMap((child) => [child, ...descendantsOf(child)]);
}

/** A zombie (exited, not yet reaped by whoever adopted it) holds neither the port nor memory. */
function isRunning(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Whether the port can be listened on again, i.e. nothing holds it. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

interface Started {
  npm: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  port: number;
  /** npm's descendants once the server listens: the shell if any, the launcher, Deno. */
  tree: number[];
}

async function startNpm(): Promise<Started> {
  const port = await freePort();
  // LOG_LEVEL info for the `listening` line.
  const env = { ...process.env, ...testEnv({ PORT: String(port), LOG_LEVEL: 'info', NO_COLOR: '1' }) };
  const npm = spawn('npm', ['run', 'start:deno'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const output: string[] = [];
  createInterface({ input: npm.stderr! }).on('line', (line) => output.push(line));
  await new Promise<void>((resolve, reject) => {
    // Read every line for as long as it runs: a full pipe would block the server's logging.
    createInterface({ input: npm.stdout! }).on('line', (line) => {
      output.push(line);
      if (line.includes('"msg":"listening"')) resolve();
    });
    void exited.then(({ code }) => reject(new Error(`npm run start:deno exited with ${code} before listening:\n${output.join('\n')}`)));
  });
  return { npm, exited, port, tree: descendantsOf(npm.pid!) };
}

/** Sends SIGTERM to `target`, then checks what an operator would: npm's status, the processes, the port. */
async function stopWith(started: Started, target: number): Promise<void> {
  const { npm, exited, port, tree } = started;
  const shutdownTimeoutMs = Number(testEnv().SHUTDOWN_TIMEOUT_MS);
  try {
    process.kill(target, 'SIGTERM');
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), shutdownTimeoutMs + EXIT_MARGIN_MS).unref());
    // Deno shuts down gracefully and exits 0; the launcher and npm exit with its status.
    expect(await Promise.race([exited, deadline])).toEqual({ code: 0, signal: null });
    expect(tree.filter(isRunning)).toEqual([]);
    expect(await portIsFree(port)).toBe(true);
  } finally {
    for (const pid of [npm.pid!, ...tree].filter(isRunning)) process.kill(pid, 'SIGKILL');
  }
}

describe('npm run start:deno and signals', () => {
  it('SIGTERM to npm stops Deno: npm exits with its status, no process is left, the port is free', async () => {
    const started = await startNpm();
    expect(started.tree.length).toBeGreaterThanOrEqual(2);
    await stopWith(started, started.npm.pid!);
  });

  it('SIGTERM to the process npm starts does the same', async () => {
    const started = await startNpm();
    await stopWith(started, childrenOf(started.npm.pid!)[0]);
  });

  it('npm killed outright (SIGKILL) leaves no Deno behind: the orphaned launcher stops it', async () => {
    const { npm, port, tree } = await startNpm();
    try {
      npm.kill('SIGKILL');
      const shutdownTimeoutMs = Number(testEnv().SHUTDOWN_TIMEOUT_MS);
      await eventually(() => tree.every((pid) => !isRunning(pid)), shutdownTimeoutMs + EXIT_MARGIN_MS, 'the launcher and Deno to exit');
      expect(await portIsFree(port)).toBe(true);
    } finally {
      for (const pid of tree.filter(isRunning)) process.kill(pid, 'SIGKILL');
    }
  });
});
