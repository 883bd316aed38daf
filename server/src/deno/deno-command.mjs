// How Node-side tooling (npm scripts, the test harness) starts the server under Deno. Plain
// JavaScript so that Node 20 runs it without a TypeScript loader.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The Deno entry point of the server. */
export const DENO_MAIN = fileURLToPath(new URL('../main-deno.ts', import.meta.url));

/** What the server needs: its port, its files (certificates, snapshot, H5 build), its environment; pino reads the hostname. */
export const DENO_PERMISSIONS = ['--allow-net', '--allow-read', '--allow-write', '--allow-env', '--allow-sys'];

/** The `deno` npm package ships the binary in one optional dependency per platform. */
function platformPackage() {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  if (process.platform === 'linux') return `@deno/linux-${arch}-glibc`;
  if (process.platform === 'darwin') return `@deno/darwin-${arch}`;
  if (process.platform === 'win32') return `@deno/win32-${arch}`;
  return undefined;
}

function packageFile(name, file) {
  try {
    const path = join(dirname(require.resolve(`${name}/package.json`)), file);
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Deno binary: $DENO_BIN, else the platform package's binary (there whether or not npm ran
 * the `deno` package's postinstall), else the copy that postinstall makes, else `deno` on PATH.
 */
export function denoBinary() {
  if (process.env.DENO_BIN) return process.env.DENO_BIN;
  const exe = process.platform === 'win32' ? 'deno.exe' : 'deno';
  const platform = platformPackage();
  return (platform && packageFile(platform, exe)) ?? packageFile('deno', exe) ?? 'deno';
}

/** Deno.serve with TLS and reusePort, for certificate reload (listener.ts), is still unstable. */
export const DENO_UNSTABLE = ['--unstable-net'];

/** The arguments of `deno` that run the server. */
export function denoServerArgs() {
  return ['run', ...DENO_PERMISSIONS, ...DENO_UNSTABLE, DENO_MAIN];
}
