/**
 * Everything a server is besides its sockets and HTTP listener: TLS material, auth, backends, the
 * embedded snapshot, metrics, the core and the HTTP API's dependencies. Shared by the Node and the
 * Deno adapter, which add only their sockets and listeners.
 */

import { createBackends, type Backends } from './backends.ts';
import type { Config } from './config.ts';
import { Authenticator, type Identity } from './core/auth.ts';
import { ChatCore } from './core/chat-core.ts';
import { originAllowed, type HttpApiDeps } from './core/http-api.ts';
import type { Logger } from './core/logger.ts';
import { MemoryStore } from './core/memory-store.ts';
import { KeyedBuckets } from './core/rate-limiter.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { resolveAuthSettings } from './node/secrets.ts';
import { ensureDevCertificate, readConfiguredTls, type TlsMaterial } from './node/tls.ts';
import { loadSnapshot, saveSnapshot } from './snapshot.ts';

/** What an adapter knows of an upgrade request. */
export interface UpgradeRequest {
  path: string;
  origin: string | undefined;
  referer: string | undefined;
  /** The client's address (after TRUST_PROXY). */
  address: string;
  query: URLSearchParams;
}

export type UpgradeDecision =
  | { ok: true; identity: Identity | undefined; welcome: boolean }
  | { ok: false; status: number; message: string };

export interface ChatApp {
  core: ChatCore;
  tls: TlsMaterial | undefined;
  backends: Backends;
  metrics: Metrics;
  http: HttpApiDeps;
  /** Whether an upgrade may become a socket, in the same order and with the same answers on every runtime. */
  decideUpgrade(request: UpgradeRequest): UpgradeDecision;
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
    tls = config.tlsCert && config.tlsKey ? readConfiguredTls(config.tlsCert, config.tlsKey) : await ensureDevCertificate(config.certsDir, logger);
    logger.info('tls certificate', { source: tls.source, path: tls.certPath, subject: tls.subject, validTo: tls.validTo.toISOString() });
  }
  if (config.devLogin) {
    logger.warn('the development login is on: POST /api/login gives an account to anyone who asks; set DEV_LOGIN=false and JWT_SECRET or JWT_PUBLIC_KEY for your own issuer in production');
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
    loginLimiter: config.loginPerMinute > 0 ? new KeyedBuckets(config.loginPerMinute / 60, config.loginPerMinute) : undefined,
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
  const decideUpgrade = (request: UpgradeRequest): UpgradeDecision => {
    const refuse = (status: number, message: string, reason?: string): UpgradeDecision => {
      if (reason) metrics.refusedHandshake(reason);
      return { ok: false, status, message };
    };
    if (request.path !== '/' && request.path !== '/ws') return refuse(404, 'Not Found');
    if (core.isShuttingDown) return refuse(503, 'Service Unavailable');
    if (!originAllowed(request.origin, config.allowedOrigins, request.referer)) return refuse(403, 'Forbidden', 'origin');
    const refusal = core.admit(request.address);
    if (refusal) return refuse(429, 'Too Many Requests', refusal);
    const token = request.query.get('token');
    let identity: Identity | undefined;
    if (token !== null) {
      const result = core.verifyToken(token);
      if (!result.ok) return refuse(401, 'Unauthorized', 'token');
      identity = result.identity;
    }
    return { ok: true, identity, welcome: token !== null || request.query.has('v') };
  };
  const finish = async (): Promise<void> => {
    if (snapshotStore) await saveSnapshot(config.snapshotPath!, snapshotStore, logger);
    await Promise.allSettled([backends.store.close(), backends.bus.close()]);
  };
  return { core, tls, backends, metrics, http, decideUpgrade, finish };
}
