import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['server/test/**/*.test.ts', 'mobile/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    pool: 'forks',
    // Two cores: more workers only fight over them and stretch every timing.
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 20_000,
    hookTimeout: 30_000,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
