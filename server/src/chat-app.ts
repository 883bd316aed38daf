/**
 * Everything a server is besides its sockets and HTTP listener: TLS material, auth, backends, the
 * embedded snapshot, metrics, the core and the HTTP API's dependencies. Shared by the Node and the
 * Deno adapter, which add only their sockets and listeners.
 */

import { createBackends, type Backends } from './backends.ts';
import type { Config } from './config.ts';
import { Authenticator } from './core/auth.ts';
import { ChatCore } from './core/chat-core.ts';
import type { HttpApiDeps } from './core/http-api.ts';
import type { Logger } from './core/logger.ts';
import { MemoryStore } from './core/memory-store.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { resolveAuthSettings } from './node/secrets.ts';
import { ensureDevCertificate, readTlsFiles, type TlsMaterial } from './node/tls.ts';
import { loadSnapshot, saveSnapshot } from './snapshot.ts';

export interface ChatApp {
  core: ChatCore;
  tls: TlsMaterial | undefined;
  backends: Backends;
  metrics: Metrics;
  http: HttpApiDeps;
  /** After every socket has closed: writes the snapshot and closes the backends. */
  finish(): Promise<void>;
}

export interface ChatAppOptions {
  /** The adapter's Transport payload for a fan-out, made once for all recipients. */
  prepare: (text: string) => unknown;
  readStatic: (relativePath: string) => Promise<Uint8Array | undefined>;
}

export async function createChatApp(config: Config, logger: Logger, options: ChatAppOptions): Promise<ChatApp> {
  const auth = new Authenticator(resolveAuthSettings(config));
  let tls: TlsMaterial | undefined;
  if (!config.plainHttp) {
    tls = config.tlsCert && config.tlsKey ? readTlsFiles(config.tlsCert, config.tlsKey) : await ensureDevCertificate(config.certsDir, logger);
    logger.info('tls certificate', { source: tls.source, path: tls.certPath, subject: tls.subject, validTo: tls.validTo.toISOString() });
  }
  const backends = await createBackends(config, logger);
  const snapshotStore = config.snapshotPath && backends.store instanceof MemoryStore ? backends.store : undefined;
  if (snapshotStore) await loadSnapshot(config.snapshotPath!, snapshotStore, logger);
  const metrics = createMetrics(() => core, backends.store, backends.healthy);
  const core = new ChatCore({
    settings: config,
    store: backends.store,
    bus: backends.bus,
    auth,
    logger,
    prepare: options.prepare,
    observeFanOut: metrics.observeFanOut,
  });
  const startedAt = Date.now();
  const http: HttpApiDeps = {
    auth,
    devLogin: config.devLogin,
    allowedOrigins: config.allowedOrigins,
    metrics,
    metricsToken: config.metricsToken,
    health: () => ({
      ok: !core.isShuttingDown && backends.healthy(),
      status: core.isShuttingDown ? 'shutting down' : backends.healthy() ? 'ok' : 'backend unavailable',
      store: backends.kind,
      connections: core.stats.connections,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    }),
    readStatic: options.readStatic,
  };
  const finish = async (): Promise<void> => {
    if (snapshotStore) await saveSnapshot(config.snapshotPath!, snapshotStore, logger);
    await Promise.allSettled([backends.store.close(), backends.bus.close()]);
  };
  return { core, tls, backends, metrics, http, finish };
}
