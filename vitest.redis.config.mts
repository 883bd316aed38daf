import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.mts';

/**
 * The core protocol suite again, with every server on Redis (REDIS_URL) instead of the embedded
 * store: `npm run build && npx vitest run -c vitest.redis.config.mts`. The Redis scale-out tests themselves
 * (redis-*.test.ts) run in the default config.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['server/test/**/*.test.ts'],
      exclude: ['server/test/redis-*.test.ts', '**/node_modules/**'],
      globalSetup: ['server/test/redis-global-setup.ts'],
      env: { TEST_BACKEND: 'redis' },
    },
  }),
);
