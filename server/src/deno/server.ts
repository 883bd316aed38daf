/**
 * The Deno adapter: Deno.serve carries the WebSocket endpoint at `/` (Deno.upgradeWebSocket), the
 * HTTP API and the built H5 client on one port, over TLS 1.2+ (rustls offers nothing older).
 * Everything else is shared with the Node adapter (running-server.ts, chat-app.ts).
 */

import type { ChatApp } from '../chat-app.ts';
import type { Config } from '../config.ts';
import { clientAddress } from '../core/admission.ts';
import { handleHttp } from '../core/http-api.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { type Listener, type RunningServer, type StartOptions, startServer } from '../running-server.ts';
import { refusal, toHttpRequest, toResponse } from './http-exchange.ts';
import { listen } from './listener.ts';
import { REMOTE_CLIENT_REFUSAL, refuseRemoteClient } from './loopback-only.ts';
import { denoPlatform } from './platform.ts';
import { SocketCensus } from './socket-census.ts';
import { startSession } from './socket-session.ts';
import { prepareText } from './socket-transport.ts';

/** The H5 build, when present, relative to this file (src/deno/ or dist/deno/). */
const DEFAULT_STATIC_DIR = decodeURIComponent(new URL('../../../mobile/dist/build/h5/', import.meta.url).pathname);

export function startDenoServer(config: Config, logger: Logger = createLogger(config.logLevel), options: StartOptions = {}): Promise<RunningServer> {
  if (config.perMessageDeflate) {
    logger.warn('PER_MESSAGE_DEFLATE is not available on Deno: Deno.upgradeWebSocket negotiates no compression');
  }
  logger.warn(`${REMOTE_CLIENT_REFUSAL}: Deno.upgradeWebSocket assembles a fragmented message without a size limit`);
  return startServer(
    { ...config, perMessageDeflate: false },
    logger,
    {
      platform: denoPlatform,
      prepare: prepareText,
      staticDir: config.staticDir ?? DEFAULT_STATIC_DIR,
      listen: async (app) => serve(app),
      describe: { websocket: 'deno-native' },
    },
    options,
  );
}

function serve(app: ChatApp<string>): Listener {
  const { config, core } = app;
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
    // The core counts sessions; a socket it let go of may linger on Deno (no terminate): count those too.
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
    const address = clientAddress(info.remoteAddr.hostname, forwardedFor, config.trustedProxies);
    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      return refuseRemoteClient(info.remoteAddr.hostname, forwardedFor, config.trustedProxies) ?? upgrade(request, url, address);
    }
    const reply = await handleHttp(toHttpRequest(request, url, address), app.http);
    return toResponse(reply, request.method);
  };

  return listen(app as ChatApp, handler);
}
