// `npm run start:deno`: runs the server under the Deno binary from node_modules, passing signals on
// so that SIGTERM/SIGINT reach the server's graceful shutdown.

import { spawn } from 'node:child_process';
import { denoBinary, denoServerArgs } from './deno-command.mjs';

const child = spawn(denoBinary(), denoServerArgs(), { stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('error', (err) => {
  console.error(`cannot start deno (${err.message}); run npm install, or set DENO_BIN`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
