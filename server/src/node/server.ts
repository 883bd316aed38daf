/**
 * The Node adapter: one HTTPS (or, when asked, plain HTTP) server on one port carrying the
 * WebSocket endpoint at `/` (the `ws` package), the HTTP API and the built H5 client. Everything
 * else is shared with the Deno adapter (running-server.ts, chat-app.ts).
 */

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as wsModule from 'ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { ChatApp } from '../chat-app.ts';
import type { Config } from '../config.ts';
import { clientAddress, isTrustedProxy } from '../core/admission.ts';
import type { ChatCore } from '../core/chat-core.ts';
import { type HttpRequest, handleHttp } from '../core/http-api.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import type { Session } from '../core/session.ts';
import { type Listener, type RunningServer, type StartOptions, startServer } from '../running-server.ts';
import { watchCertificate } from '../tls-material.ts';
import { nodePlatform } from './platform.ts';
import { keepReceiverFragmentArrays, receiverClass } from './receiver-fragments.ts';
import { readIntoSharedBuffer } from './socket-reader.ts';
import { WriteCoalescer } from './write-coalescer.ts';
import { prepareText, WsTransport } from './ws-transport.ts';

export type { RunningServer };

/** The H5 build, when present, relative to this file in both src/ and dist/. */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../../mobile/dist/build/h5/', import.meta.url));

type Payload = ReturnType<typeof prepareText>;
const SESSION = Symbol('session');
const CORE = Symbol('core');
type TaggedSocket = WebSocket & { [SESSION]: Session<Payload>; [CORE]: ChatCore<Payload> };

function onSocketMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const socket = this as TaggedSocket;
  socket[CORE].receive(socket[SESSION], isBinary ? '' : data.toString('utf8'), isBinary);
}

function onSocketClose(this: WebSocket, code: number): void {
  const socket = this as TaggedSocket;
  socket[CORE].closed(socket[SESSION], code !== 1006);
}

function onSocketError(this: WebSocket): void {
  // ws closes the socket after an error (bad frame, invalid UTF-8, over maxPayload) with a close code.
}

export function startNodeServer(config: Config, logger: Logger = createLogger(config.logLevel), options: StartOptions = {}): Promise<RunningServer> {
  return startServer(
    config,
    logger,
    {
      platform: nodePlatform,
      prepare: prepareText,
      staticDir: config.staticDir ?? DEFAULT_STATIC_DIR,
      listen: (app) => listen(app),
      describe: { websocket: 'ws' },
    },
    options,
  );
}

async function listen(app: ChatApp<Payload>): Promise<Listener> {
  const { config, core, tls, logger } = app;
  const addressOf = (req: IncomingMessage): string => {
    const forwarded = req.headers['x-forwarded-for'];
    return clientAddress(req.socket.remoteAddress, Array.isArray(forwarded) ? forwarded.join(',') : forwarded, config.trustedProxies);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const request: HttpRequest = {
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0],
      origin: req.headers.origin,
      host: req.headers.host,
      referer: req.headers.referer,
      remoteAddress: addressOf(req),
      authorization: req.headers.authorization,
      readBody: (limit) => readBody(req, limit),
    };
    handleHttp(request, app.http).then(
      (reply) => {
        res.writeHead(reply.status, reply.headers);
        res.end(req.method === 'HEAD' ? undefined : reply.body);
      },
      (err: unknown) => {
        logger.error('http handler failed', { path: request.path, err: String(err) });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"internal error"}');
      },
    );
  };

  const server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', handshakeTimeout: config.handshakeTimeoutMs }, onRequest)
    : createHttpServer(onRequest);
  // A request head must be complete within the handshake timeout, a whole request soon after.
  server.headersTimeout = config.handshakeTimeoutMs;
  server.requestTimeout = config.handshakeTimeoutMs * 3;
  const pending = new PendingConnections(config.pendingPerAddress, config.trustedProxies);
  server.on('connection', (socket: Socket) => pending.opened(socket));
  server.on('request', (req: IncomingMessage) => pending.finished(req.socket));

  // A message's buffers die young instead of being promoted with the array ws drops (receiver-fragments.ts).
  if (!keepReceiverFragmentArrays(receiverClass(wsModule))) logger.warn('ws Receiver without dataMessage: fragments arrays not kept');
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: config.maxPayloadBytes,
    perMessageDeflate: config.perMessageDeflate
      ? {
          // The course's settings: cheap compression, no context kept between messages.
          zlibDeflateOptions: { chunkSize: 1024, memLevel: 7, level: 3 },
          zlibInflateOptions: { chunkSize: 10 * 1024 },
          clientNoContextTakeover: true,
          serverNoContextTakeover: true,
          serverMaxWindowBits: 10,
          concurrencyLimit: 10,
          threshold: 1024,
        }
      : false,
  });

  const coalescer = new WriteCoalescer(config.writeCoalesceMs);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    pending.finished(req.socket);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, message: string): void => {
      socket.end(
        `HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
      );
    };
    const address = addressOf(req);
    const decision = app.decideUpgrade({ path: url.pathname, origin: req.headers.origin, referer: req.headers.referer, address, query: url.searchParams });
    if (!decision.ok) return refuse(decision.status, decision.message);
    const { identity, welcome } = decision;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const tagged = ws as TaggedSocket;
      tagged[CORE] = core;
      tagged[SESSION] = core.open(new WsTransport(ws, config.perMessageDeflate, coalescer), address, { identity, welcome });
      ws.on('message', onSocketMessage);
      ws.on('close', onSocketClose);
      ws.on('error', onSocketError);
      readIntoSharedBuffer(socket as Socket);
    });
  });

  const stopWatching =
    tls?.source === 'configured' && 'setSecureContext' in server
      ? watchCertificate(
          app.platform,
          tls,
          config.tlsReloadIntervalMs,
          (next) => server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' }),
          logger,
        )
      : undefined;

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () => {
      stopWatching?.();
      server.close();
    },
    dropAll: () => {
      server.closeAllConnections();
      wss.close();
    },
  };
}

/**
 * TCP connections per client address that have not yet finished their TLS handshake and HTTP
 * request: a client that opens sockets and then drips (or sends nothing) is cut off at
 * PENDING_PER_ADDRESS, and every such socket is dropped after HANDSHAKE_TIMEOUT_MS by Node's own
 * timeouts. A trusted proxy's sockets (TRUST_PROXY) are all the proxy's: the proxy bounds this instead.
 */
class PendingConnections {
  private readonly byAddress = new Map<string, number>();
  private readonly counted = new WeakSet<Socket>();

  constructor(
    private readonly limit: number,
    private readonly trustedProxies: readonly string[],
  ) {}

  opened(socket: Socket): void {
    if (this.limit === 0 || isTrustedProxy(socket.remoteAddress, this.trustedProxies)) return;
    const address = socket.remoteAddress ?? 'unknown';
    const count = this.byAddress.get(address) ?? 0;
    if (count >= this.limit) {
      socket.destroy();
      return;
    }
    this.byAddress.set(address, count + 1);
    this.counted.add(socket);
    socket.once('close', () => this.finished(socket));
  }

  /** The request arrived on `socket` (over TLS, a TLSSocket whose `_parent` is the TCP socket counted). */
  finished(socket: Socket): void {
    const tcp = (socket as Socket & { _parent?: Socket })._parent ?? socket;
    if (!this.counted.delete(tcp)) return;
    socket = tcp;
    const address = socket.remoteAddress ?? 'unknown';
    const count = (this.byAddress.get(address) ?? 1) - 1;
    if (count <= 0) this.byAddress.delete(address);
    else this.byAddress.set(address, count);
  }
}

/** What an oversize body may still send after the 413 is decided before the socket is dropped. */
const DISCARD_LIMIT = 1024 * 1024;

/**
 * The body, or undefined past `limit` bytes. An oversize body is read on and thrown away (up to
 * DISCARD_LIMIT) instead of resetting the socket, so the client gets its 413.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolveBody, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = declared > limit;
    if (over) resolveBody(undefined);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > DISCARD_LIMIT) req.destroy();
      if (over) return;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolveBody(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolveBody(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}
