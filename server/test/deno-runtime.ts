import type { TestServer } from './harness.ts';

/** Starts the server under Deno for the protocol suite (TEST_RUNTIME=deno). */
export async function startDenoTestServer(_env: Record<string, string>): Promise<TestServer> {
  throw new Error('the Deno adapter is not built yet');
}
