/**
 * The Node adapter: one HTTPS (or, when asked, plain HTTP) server on one port carrying the
 * WebSocket endpoint at `/`, the HTTP API and the built H5 client.
 */

import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { createChatApp } from '../chat-app.ts';
import type { Config } from '../config.ts';
import { clientAddress } from '../core/admission.ts';
import { ChatCore } from '../core/chat-core.ts';
import type { Connection } from '../core/connection.ts';
import { handleHttp, type HttpRequest } from '../core/http-api.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { watchCertificate, type TlsMaterial } from './tls.ts';
import { WriteCoalescer } from './write-coalescer.ts';
import { WsTransport, prepareText } from './ws-transport.ts';

export interface RunningServer {
  url: string;
  httpUrl: string;
  port: number;
  core: ChatCore;
  tls: TlsMaterial | undefined;
  logger: Logger;
  close(): Promise<void>;
}

/** The H5 build, when present, relative to this file in both src/ and dist/. */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../../mobile/dist/build/h5/', import.meta.url));

const CONN = Symbol('connection');
type TaggedSocket = WebSocket & { [CONN]: Connection; [CORE]: ChatCore };
const CORE = Symbol('core');

function onSocketMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const socket = this as TaggedSocket;
  socket[CORE].receive(socket[CONN], isBinary ? '' : data.toString('utf8'), isBinary);
}

function onSocketClose(this: WebSocket, code: number): void {
  const socket = this as TaggedSocket;
  socket[CORE].closed(socket[CONN], code !== 1006);
}

function onSocketError(this: WebSocket): void {
  // ws closes the socket after an error (bad frame, invalid UTF-8, over maxPayload) with a close code.
}

export async function startNodeServer(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const staticDir = config.staticDir ?? DEFAULT_STATIC_DIR;
  const app = await createChatApp(config, logger, {
    prepare: prepareText,
    readStatic: async (relative: string) => {
      try {
        return await readFile(resolve(staticDir, relative));
      } catch {
        return undefined;
      }
    },
  });
  const { core, tls, backends } = app;
  const httpDeps = app.http;
  const addressOf = (req: IncomingMessage): string => {
    const forwarded = req.headers['x-forwarded-for'];
    return clientAddress(req.socket.remoteAddress, Array.isArray(forwarded) ? forwarded.join(',') : forwarded, config.trustProxy);
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
    handleHttp(request, httpDeps).then(
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
    ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, onRequest)
    : createHttpServer(onRequest);

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
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, message: string): void => {
      socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
    };
    const address = addressOf(req);
    const decision = app.decideUpgrade({ path: url.pathname, origin: req.headers.origin, referer: req.headers.referer, address, query: url.searchParams });
    if (!decision.ok) return refuse(decision.status, decision.message);
    const { identity, welcome } = decision;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const tagged = ws as TaggedSocket;
      tagged[CORE] = core;
      tagged[CONN] = core.open(new WsTransport(ws, config.perMessageDeflate, coalescer), address, { identity, welcome });
      ws.on('message', onSocketMessage);
      ws.on('close', onSocketClose);
      ws.on('error', onSocketError);
    });
  });

  const stopWatching =
    tls?.source === 'configured' && 'setSecureContext' in server
      ? watchCertificate(tls, config.tlsReloadIntervalMs, (next) => server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' }), logger)
      : undefined;

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  core.start();
  const { port } = server.address() as AddressInfo;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const scheme = tls ? 'https' : 'http';
  const httpUrl = `${scheme}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  const url = `${tls ? 'wss' : 'ws'}${httpUrl.slice(scheme.length)}/`;
  logger.info('listening', { url, http: httpUrl, store: backends.kind, perMessageDeflate: config.perMessageDeflate });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      stopWatching?.();
      server.close();
      const finished = core.shutdown();
      const deadline = new Promise<void>((r) => setTimeout(r, config.shutdownTimeoutMs).unref());
      await Promise.race([finished, deadline]);
      server.closeAllConnections();
      wss.close();
      // After every socket has detached: members' offline cursors are in the store by now.
      await app.finish();
      logger.info('stopped');
    })());

  return { url, httpUrl, port, core, tls, logger, close };
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
