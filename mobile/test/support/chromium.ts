import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const INSTALL_HINT = 'install chromium: apt-get install -y chromium';

/** Missing Chromium fails on CI; locally the suite is skipped with the install hint. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (process.env.CI === 'true') return true; // run, and let launchChromium fail loudly
  console.warn(`H5 end-to-end test skipped: ${CHROMIUM_PATH} is missing; ${INSTALL_HINT}`);
  return false;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing; ${INSTALL_HINT}`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A phone: 390×844 CSS pixels (iPhone 12 to 14), touch, the dev server's self-signed certificate. */
export const PHONE_CONTEXT = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  ignoreHTTPSErrors: true,
  locale: 'zh-CN',
} as const;

/**
 * For a describe block of H5 tests: Chromium launched before them (the build at `h5Dir` must exist) and closed
 * after, with every server they push to `servers`.
 */
export function chromiumSuite(h5Dir: string): { browser: () => Browser; servers: Array<{ close(): Promise<unknown> }> } {
  let browser: Browser | undefined;
  const servers: Array<{ close(): Promise<unknown> }> = [];
  beforeAll(async () => {
    if (!existsSync(`${h5Dir}index.html`)) throw new Error(`${h5Dir} is not built: run npm run build -w mobile`);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
  });
  return { browser: () => browser!, servers };
}
