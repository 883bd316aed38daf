import { defineConfig } from 'vitest/config';

/** Options every project shares. */
const sharedTestOptions = {
  pool: 'forks',
  // Two cores: more workers only fight over them and stretch every timing.
  maxWorkers: 2,
  minWorkers: 1,
  testTimeout: 20_000,
  hookTimeout: 30_000,
  reporters: ['default', './scripts/summary-reporter.ts'],
} as const;

/** Protocol suites that start a server: they run again against the server on Deno. */
const PROTOCOL_SUITES = ['server/test/*.test.ts'];
const NOT_PROTOCOL_SUITES = [
  // Unit suites: no server, nothing runtime-specific.
  'server/test/config.test.ts',
  'server/test/memory-store.test.ts',
  'server/test/core.test.ts',
  'server/test/*.node.test.ts',
  // Their servers are in-process Node nodes and Node children by design.
  'server/test/redis-*.test.ts',
  'server/test/deno-*.test.ts',
  '**/node_modules/**',
];

/**
 * `node` runs every suite, the server in-process on Node. `deno` runs the protocol suites against
 * `npm run start:deno` (the `ws` stack on Deno), one Deno child process per server a test starts
 * (server/test/deno-runtime.ts). `deno-native` runs them against the Deno.upgradeWebSocket
 * adapter, less the suites that assert what only `ws` does (docs/deno.md), plus deno-*.test.ts.
 * `redis` runs the protocol suites with every server on one test redis-server (a key prefix each).
 * Suites that need the Node server's internals are named *.node.test.ts. One project alone:
 * `npx vitest run --project redis`.
 */
export default defineConfig({
  test: {
    ...sharedTestOptions,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['server/test/**/*.test.ts', 'mobile/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
          exclude: ['server/test/deno-*.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: { name: 'deno', include: PROTOCOL_SUITES, exclude: NOT_PROTOCOL_SUITES, env: { TEST_RUNTIME: 'deno' } },
      },
      {
        extends: true,
        test: {
          name: 'redis',
          include: PROTOCOL_SUITES,
          exclude: [
            ...NOT_PROTOCOL_SUITES,
            // The embedded store's own snapshot has no meaning on Redis.
            'server/test/snapshot.test.ts',
          ],
          globalSetup: ['server/test/redis-global-setup.ts'],
          env: { TEST_BACKEND: 'redis' },
        },
      },
      {
        extends: true,
        test: {
          name: 'deno-native',
          include: [...PROTOCOL_SUITES, 'server/test/deno-*.test.ts'],
          exclude: [
            ...NOT_PROTOCOL_SUITES.filter((glob) => glob !== 'server/test/deno-*.test.ts'),
            // Deno.serve cannot swap its certificate under open sockets (it restarts the listener);
            // deno-native.test.ts checks that way instead.
            'server/test/certificate-reload.test.ts',
          ],
          env: { TEST_RUNTIME: 'deno', DENO_WEBSOCKET: 'native' },
        },
      },
    ],
  },
});
