import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { startTestServer, type TestServer } from '../../../server/test/harness';
import { MpWeixinRuntime } from './mp-weixin-runtime';

/** The compiled mini-program the simulator runs. */
export const MP_DIR = fileURLToPath(new URL('../../dist/build/mp-weixin/', import.meta.url));

/** Polls `probe` until it gives a value (a wait on state, never a proof of absence). */
export async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts the app on a phone (a fresh one, or the storage of a killed runtime: a relaunch); killed by `cleanups`. */
export function launchApp(target: TestServer, cleanups: Array<() => unknown>, storage?: Map<string, unknown>): MpWeixinRuntime {
  if (!existsSync(`${MP_DIR}app.json`)) throw new Error(`${MP_DIR} is not built: run npm run build -w mobile`);
  const runtime = new MpWeixinRuntime(MP_DIR, target.tls?.cert, storage);
  cleanups.push(() => runtime.kill());
  runtime.start();
  return runtime;
}

/** The login page: nickname and, since this build names no server, the server's address. */
export async function signIn(runtime: MpWeixinRuntime, name: string, wsUrl: string): Promise<void> {
  const page = runtime.open('pages/login/index');
  page.querySelector('.name-input')!.dispatchEvent('input', { detail: { value: name } });
  page.querySelector('.server-input')!.dispatchEvent('input', { detail: { value: wsUrl } });
  page.querySelector('.login-button')!.dispatchEvent('tap');
  await until(() => runtime.record.navigations.includes('/pages/conversations/index'), 'login and the conversation list');
  runtime.closePage(page);
}

/**
 * What every mini-program test file shares: a list of things a test started (closed after it,
 * last first, whatever happened), a server on it, and the app launched on it. Call at the top of
 * the file: it registers the afterEach.
 */
export function mpTestScope() {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    cleanups,
    async server(env: Record<string, string> = {}): Promise<TestServer> {
      const started = await startTestServer(env);
      cleanups.push(() => started.close());
      return started;
    },
    /** Starts the app on a phone (a fresh one, or the storage of a killed runtime: a relaunch). */
    launch(target: TestServer, storage?: Map<string, unknown>): MpWeixinRuntime {
      return launchApp(target, cleanups, storage);
    },
  };
}
