/**
 * Everything a server is besides its sockets and HTTP listener: TLS material, auth, the backend,
 * the embedded snapshot, metrics, the core and the HTTP API's dependencies. Shared by the Node and
 * the Deno adapter, which add only their sockets and listeners; runtime services come through the
 * Platform.
 */

import { resolveAuthSettings } from './auth-settings.ts';
import { createBackend } from './backends.ts';
import type { Config } from './config.ts';
import { Authenticator, type Identity } from './core/auth.ts';
import type { ChatBackend } from './core/backend.ts';
import { ChatCore } from './core/chat-core.ts';
import { type HttpApiDeps, originAllowed } from './core/http-api.ts';
import type { Logger } from './core/logger.ts';
import { MemoryStore } from './core/memory-store.ts';
import type { ContentModerator } from './core/moderation.ts';
import { KeyedBuckets } from './core/rate-limiter.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { joinPath, type Platform } from './platform.ts';
import { loadSnapshot, saveSnapshot } from './snapshot.ts';
import { ensureDevCertificate, readConfiguredTls, type TlsMaterial } from './tls-material.ts';

/** What an adapter knows of an upgrade request. */
export interface UpgradeRequest {
  path: string;
  origin: string | undefined;
  referer: string | undefined;
  /** The client's address (after TRUST_PROXY). */
  address: string;
  query: URLSearchParams;
}

export type UpgradeDecision = { ok: true; identity: Identity | undefined; welcome: boolean } | { ok: false; status: number; message: string };

export interface ChatApp<P = unknown> {
  config: Config;
  logger: Logger;
  platform: Platform;
  core: ChatCore<P>;
  tls: TlsMaterial | undefined;
  backend: ChatBackend;
  metrics: Metrics;
  http: HttpApiDeps;
  /** Whether an upgrade may become a socket, in the same order and with the same answers on every runtime. */
  decideUpgrade(request: UpgradeRequest): UpgradeDecision;
  /** After every socket has closed: writes the snapshot and closes the backend. */
  finish(): Promise<void>;
}

export interface ChatAppOptions<P> {
  platform: Platform;
  /** The adapter's Transport payload for a fan-out, made once for all recipients. */
  prepare: (text: string) => P;
  /** Where the built H5 client is. */
  staticDir: string;
  /** A backend made by the caller (tests wrap one to inject faults); by default from the configuration. */
  backend?: ChatBackend;
  /** Checks user-supplied text before it is stored (WeChat's msgSecCheck, a word list); by default allows everything. */
  moderator?: ContentModerator;
}

export async function createChatApp<P>(config: Config, logger: Logger, options: ChatAppOptions<P>): Promise<ChatApp<P>> {
  const { platform } = options;
  const auth = new Authenticator(await resolveAuthSettings(config, platform));
  let tls: TlsMaterial | undefined;
  if (!config.plainHttp) {
    tls =
      config.tlsCert && config.tlsKey
        ? await readConfiguredTls(platform, config.tlsCert, config.tlsKey)
        : await ensureDevCertificate(platform, config.certsDir, logger);
    logger.info('tls certificate', { source: tls.source, path: tls.certPath, subject: tls.subject, validTo: tls.validTo.toISOString() });
  }
  if (config.devLogin) {
    logger.warn(
      'the development login is on: POST /api/login gives an account to anyone who asks; set DEV_LOGIN=false and JWT_SECRET or JWT_PUBLIC_KEY for your own issuer in production',
    );
  }
  const backend = options.backend ?? (await createBackend(config, logger));
  const snapshotStore = config.snapshotPath && backend.store instanceof MemoryStore ? backend.store : undefined;
  if (snapshotStore) await loadSnapshot(platform, config.snapshotPath!, snapshotStore, logger);
  const metrics = createMetrics(() => core, backend.store, backend.healthy);
  const core = new ChatCore<P>({
    settings: config,
    store: backend.store,
    log: backend.log,
    bus: backend.bus,
    auth,
    logger,
    prepare: options.prepare,
    observeFanOut: metrics.observeFanOut,
    moderator: options.moderator,
  });
  const startedAt = Date.now();
  const http: HttpApiDeps = {
    auth,
    devLogin: config.devLogin,
    loginLimiter: config.loginPerMinute > 0 ? new KeyedBuckets(config.loginPerMinute / 60, config.loginPerMinute) : undefined,
    allowedOrigins: config.allowedOrigins,
    metrics,
    metricsToken: config.metricsToken,
    // The backend is asked, not only its connection's state: a stalled Redis keeps its sockets open.
    health: async () => {
      const backendOk = backend.ping ? await backend.ping() : backend.healthy();
      return {
        ok: !core.isShuttingDown && backendOk,
        status: core.isShuttingDown ? 'shutting down' : backendOk ? 'ok' : 'backend unavailable',
        store: backend.kind,
        connections: core.stats.connections,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      };
    },
    // The core has already refused `..`, dot segments and backslashes in `relative`.
    readStatic: (relative) => platform.readFile(joinPath(options.staticDir, relative)),
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
    if (snapshotStore) await saveSnapshot(platform, config.snapshotPath!, snapshotStore, logger);
    await backend.close();
  };
  return { config, logger, platform, core, tls, backend, metrics, http, decideUpgrade, finish };
}
