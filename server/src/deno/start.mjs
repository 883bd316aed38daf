// `npm run start:deno`: runs the server under the Deno binary from node_modules. It passes
// SIGTERM, SIGINT and SIGHUP on to Deno, whose server shuts down gracefully, and exits as Deno did:
// with its exit code, or killed by the same signal. The npm script `exec`s this file so that npm's
// own signal forwarding reaches it: dash (Debian's sh) would otherwise sit in between and die of
// the SIGTERM without passing it on, leaving Deno running with the port bound.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { denoBinary, denoServerArgs } from './deno-command.mjs';

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'];
/** How often the launcher checks that whoever started it is still there. */
const ORPHAN_CHECK_MS = 500;

const child = spawn(denoBinary(), denoServerArgs(), { stdio: 'inherit' });
const running = () => child.exitCode === null && child.signalCode === null;
for (const signal of FORWARDED) {
  process.on(signal, () => {
    if (running()) child.kill(signal);
  });
}

// A parent that dies without passing a signal on (a shell between npm and this file, npm killed
// outright) leaves the launcher adopted by another process: Deno is then stopped as on SIGTERM.
const parent = process.ppid;
const orphanCheck = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(orphanCheck);
  if (running()) child.kill('SIGTERM');
}, ORPHAN_CHECK_MS);

child.on('error', (err) => {
  console.error(`cannot start deno (${err.message}); run npm install, or set DENO_BIN`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  clearInterval(orphanCheck);
  if (signal === null) process.exit(code ?? 1);
  // Killed by a signal: die of the same one, so that the exit status says so (the shell's 128 + n
  // should the signal be one Node ignores).
  process.exitCode = 128 + (constants.signals[signal] ?? 0);
  for (const forwarded of FORWARDED) process.removeAllListeners(forwarded);
  process.kill(process.pid, signal);
});
