/**
 * `npm run start:deno`: the server on Deno, configured from the environment like `npm start`.
 *
 * DENO_WEBSOCKET picks the WebSocket stack: `ws` (default) runs the Node adapter, node:https and
 * the `ws` package, on Deno's Node compatibility; `native` runs the Deno adapter (Deno.serve and
 * Deno.upgradeWebSocket). docs/deno.md has the measurements behind the default.
 */

import { ConfigError, loadConfig } from './config.ts';
import { startDenoServer } from './deno/server.ts';
import { createPinoLogger } from './logger.ts';
import { startNodeServer } from './node/server.ts';

const STACKS = ['ws', 'native'] as const;

async function main(): Promise<void> {
  const env = Deno.env.toObject();
  const config = loadConfig(env);
  const stack = env.DENO_WEBSOCKET?.trim() || 'ws';
  if (!(STACKS as readonly string[]).includes(stack)) throw new ConfigError('DENO_WEBSOCKET', `must be ws or native, got "${stack}"`);
  const logger = createPinoLogger(config.logLevel);
  const server = stack === 'native' ? await startDenoServer(config, logger) : await startNodeServer(config, logger);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    setTimeout(() => Deno.exit(1), config.shutdownTimeoutMs + 2000);
    server.close().then(() => Deno.exit(0), () => Deno.exit(1));
  };
  Deno.addSignalListener('SIGTERM', () => stop('SIGTERM'));
  Deno.addSignalListener('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`configuration error: ${err.message}`);
    Deno.exit(78);
  }
  console.error(err);
  Deno.exit(1);
});
