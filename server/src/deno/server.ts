/**
 * The Deno adapter: Deno.serve carries the WebSocket endpoint at `/` (Deno.upgradeWebSocket), the
 * HTTP API and the built H5 client on one port, over TLS 1.2+ (rustls offers nothing older).
 * It mirrors the Node adapter's handshake rules, log lines and shutdown.
 */

import type { Config } from '../config.ts';
import { clientAddress } from '../core/admission.ts';
import { handleHttp } from '../core/http-api.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import type { TlsMaterial } from '../node/tls.ts';
import { createChatApp, type ChatApp } from '../chat-app.ts';
import { refusal, toHttpRequest, toResponse } from './http-exchange.ts';
import { listen } from './listener.ts';
import { REMOTE_CLIENT_REFUSAL, refuseRemoteClient } from './loopback-only.ts';
import { SocketCensus } from './socket-census.ts';
import { startSession } from './socket-session.ts';
import { prepareText } from './socket-transport.ts';

export interface RunningDenoServer {
  url: string;
  httpUrl: string;
  port: number;
  app: ChatApp;
  tls: TlsMaterial | undefined;
  close(): Promise<void>;
}

/** The H5 build, when present, relative to this file (src/deno/ or dist/deno/). */
const DEFAULT_STATIC_DIR = new URL('../../../mobile/dist/build/h5/', import.meta.url);

function staticReader(config: Config): (relative: string) => Promise<Uint8Array | undefined> {
  const base = config.staticDir === undefined ? DEFAULT_STATIC_DIR : `${config.staticDir.replace(/\/+$/, '')}/`;
  // The core has already refused `..`, dot segments and backslashes in `relative`.
  return async (relative) => {
    try {
      return await Deno.readFile(base instanceof URL ? new URL(relative, base) : base + relative);
    } catch {
      return undefined;
    }
  };
}

export async function startDenoServer(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningDenoServer> {
  if (config.perMessageDeflate) {
    logger.warn('PER_MESSAGE_DEFLATE is not available on Deno: Deno.upgradeWebSocket negotiates no compression');
  }
  logger.warn(`${REMOTE_CLIENT_REFUSAL}: Deno.upgradeWebSocket assembles a fragmented message without a size limit`);
  const app = await createChatApp(config, logger, { prepare: prepareText, readStatic: staticReader(config) });
  const { core } = app;
  const sockets = new SocketCensus(config.connectionsPerAddress);

  const upgrade = (request: Request, url: URL, address: string): Response => {
    const decision = app.decideUpgrade({
      path: url.pathname,
      origin: request.headers.get('origin') ?? undefined,
      referer: request.headers.get('referer') ?? undefined,
      address,
      query: url.searchParams,
    });
    if (!decision.ok) return refusal(decision.status, decision.message);
    if (sockets.full(address)) {
      app.metrics.refusedHandshake('too-many-connections');
      return refusal(429, 'Too Many Requests');
    }
    const { identity, welcome } = decision;
    let upgraded: ReturnType<typeof Deno.upgradeWebSocket>;
    try {
      // The core's heartbeat finds silent clients; Deno's own ping timer would only duplicate it.
      upgraded = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
    } catch {
      return refusal(400, 'Bad Request');
    }
    startSession(core, upgraded.socket, { address, identity, welcome, maxPayloadBytes: config.maxPayloadBytes, census: sockets });
    return upgraded.response;
  };

  const handler = async (request: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    const url = new URL(request.url);
    const forwardedFor = request.headers.get('x-forwarded-for') ?? undefined;
    const address = clientAddress(info.remoteAddr.hostname, forwardedFor, config.trustProxy);
    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      return refuseRemoteClient(info.remoteAddr.hostname, forwardedFor, config.trustProxy) ?? upgrade(request, url, address);
    }
    const reply = await handleHttp(toHttpRequest(request, url, address), app.http);
    return toResponse(reply, request.method);
  };

  const listener = listen(config, app.tls, handler, logger);
  core.start();
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const scheme = app.tls ? 'https' : 'http';
  const httpUrl = `${scheme}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${listener.port}`;
  const url = `${app.tls ? 'wss' : 'ws'}${httpUrl.slice(scheme.length)}/`;
  logger.info('listening', { url, http: httpUrl, store: app.backends.kind, perMessageDeflate: false, websocket: 'deno-native' });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      listener.stop();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, config.shutdownTimeoutMs);
      });
      await Promise.race([core.shutdown(), deadline]);
      clearTimeout(timer);
      await app.finish();
      logger.info('stopped');
    })());

  return { url, httpUrl, port: listener.port, app, tls: app.tls, close };
}
