/**
 * Starting and stopping a server, the same on every runtime: an adapter (node/server.ts,
 * deno/server.ts) brings a Platform, a payload for fan-outs and a listener; this file builds the
 * app, starts the core, names the URLs, and shuts down within SHUTDOWN_TIMEOUT_MS.
 */

import { type ChatApp, createChatApp } from './chat-app.ts';
import type { Config } from './config.ts';
import type { ChatBackend } from './core/backend.ts';
import type { ChatCore } from './core/chat-core.ts';
import type { Logger } from './core/logger.ts';
import type { ContentModerator } from './core/moderation.ts';
import type { Platform } from './platform.ts';
import type { TlsMaterial } from './tls-material.ts';

/** What an adapter's listener gives back once it listens. */
export interface Listener {
  readonly port: number;
  /** Stops accepting new connections. */
  stop(): void;
  /** After shutdown (or its deadline): drops whatever connection is still open. */
  dropAll?(): void;
}

export interface ServerAdapter<P> {
  platform: Platform;
  prepare: (text: string) => P;
  staticDir: string;
  /** Listens on the configured port, routing upgrades and HTTP to the app. */
  listen(app: ChatApp<P>): Promise<Listener>;
  /** Extra fields for the `listening` log line. */
  describe?: Record<string, unknown>;
}

export interface RunningServer {
  url: string;
  httpUrl: string;
  port: number;
  app: ChatApp;
  core: ChatCore;
  tls: TlsMaterial | undefined;
  logger: Logger;
  close(): Promise<void>;
}

export interface StartOptions {
  /** A backend made by the caller (tests wrap one to inject faults). */
  backend?: ChatBackend;
  /** Checks user-supplied text before it is stored (default: allows everything). */
  moderator?: ContentModerator;
}

export async function startServer<P>(config: Config, logger: Logger, adapter: ServerAdapter<P>, options: StartOptions = {}): Promise<RunningServer> {
  const app = await createChatApp(config, logger, {
    platform: adapter.platform,
    prepare: adapter.prepare,
    staticDir: adapter.staticDir,
    backend: options.backend,
    moderator: options.moderator,
  });
  const listener = await adapter.listen(app);
  app.core.start();
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const scheme = app.tls ? 'https' : 'http';
  const httpUrl = `${scheme}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${listener.port}`;
  const url = `${app.tls ? 'wss' : 'ws'}${httpUrl.slice(scheme.length)}/`;
  logger.info('listening', { url, http: httpUrl, store: app.backend.kind, perMessageDeflate: config.perMessageDeflate, ...adapter.describe });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      listener.stop();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, config.shutdownTimeoutMs);
      });
      await Promise.race([app.core.shutdown(), deadline]);
      clearTimeout(timer);
      listener.dropAll?.();
      // After every socket has detached: members' offline cursors are in the store by now.
      await app.finish();
      logger.info('stopped');
    })());

  return { url, httpUrl, port: listener.port, app: app as ChatApp, core: app.core as ChatCore, tls: app.tls, logger, close };
}
