/**
 * Test harness: a real server on a free loopback port over real TLS with the development
 * certificate, and real `ws` clients that record every frame.
 */

import { mkdirSync, readFileSync } from 'node:fs';
import { request as plainRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.ts';
import { startNodeServer } from '../src/node/server.ts';
import type { LoginResponse, ServerFrame } from '../src/protocol.ts';
import { redisBackendEnv } from './redis-test-backend.ts';

/** One certificate for the whole run, generated on first use like a fresh install would. */
export const TEST_CERTS_DIR = join(tmpdir(), 'chatroom-test-certs');
mkdirSync(TEST_CERTS_DIR, { recursive: true });

/** What a test may use of a server: its addresses and its certificate, whatever runs it. */
export interface TestServer {
  url: string;
  httpUrl: string;
  port: number;
  tls: { cert: string } | undefined;
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the server under test. TEST_RUNTIME=deno runs the same suite against the Deno adapter in
 * a Deno process (deno-runtime.ts); the default is the Node adapter in this process.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  if (process.env.TEST_RUNTIME === 'deno') {
    const { startDenoTestServer } = await import('./deno-runtime.ts');
    return startDenoTestServer(testEnv(env));
  }
  const merged = testEnv(env);
  const server = await startNodeServer(loadConfig(merged));
  return { url: server.url, httpUrl: server.httpUrl, port: server.port, tls: server.tls, env: merged, close: server.close };
}

/**
 * The two ways the Node transport writes, for describe.each: through the socket's stream (TLS, the
 * default here) and straight to the TCP handle (plain ws://).
 */
export const OVER_TLS_AND_PLAIN_TCP: [string, Record<string, string>][] = [
  ['TLS', {}],
  ['plain TCP', { PLAIN_HTTP: 'true' }],
];

export function testEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    CERTS_DIR: TEST_CERTS_DIR,
    LOG_LEVEL: 'silent',
    SHUTDOWN_TIMEOUT_MS: '1000',
    RATE_LIMIT_PER_SEC: '1000',
    RATE_LIMIT_BURST: '1000',
    // Every test client comes from 127.0.0.1; admission-control tests set their own limits.
    CONNECTIONS_PER_ADDRESS: '0',
    HANDSHAKES_PER_SEC: '0',
    LOGIN_PER_MINUTE: '0',
    PENDING_PER_ADDRESS: '0',
    // Suites that push thousands of frames set RATE_LIMIT_* themselves; the user's limit follows.
    USER_RATE_PER_SEC: '1000000',
    USER_RATE_BURST: '1000000',
    ROOMS_CREATED_PER_HOUR: '100000',
    DIRECT_PEERS_PER_HOUR: '100000',
    SNAPSHOT_PATH: 'off',
    // TEST_BACKEND=redis: the same suite against Redis (a prefix of its own per server).
    ...redisBackendEnv(),
    ...env,
  };
}

export interface HttpResult<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export function httpRequest<T = unknown>(
  server: TestServer,
  path: string,
  options: { method?: string; body?: string; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<HttpResult<T>> {
  const url = new URL(path, server.httpUrl);
  const doRequest = url.protocol === 'https:' ? request : plainRequest;
  return new Promise((resolve, reject) => {
    const req = doRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, ca: server.tls?.cert, servername: 'localhost', localAddress: options.localAddress },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T, text });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The HS256 secret the server verifies with: JWT_SECRET, or the development secret in CERTS_DIR. */
export function serverSecret(server: TestServer): string {
  return server.env.JWT_SECRET ?? readFileSync(join(server.env.CERTS_DIR ?? TEST_CERTS_DIR, 'dev-jwt-secret'), 'utf8').trim();
}

/**
 * A new account from the development login; with `uid`, a token for that existing user signed the
 * way a team's own issuer would (the development login never lets a client pick a uid).
 */
export async function login(server: TestServer, name: string, uid?: string): Promise<LoginResponse> {
  if (uid !== undefined) {
    const token = jwt.sign({ name }, serverSecret(server), { algorithm: 'HS256', subject: uid, expiresIn: 3600 });
    return { token, uid, name, expiresAt: Date.now() + 3_600_000, refreshToken: '' };
  }
  const res = await httpRequest<LoginResponse>(server, '/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return res.body;
}

/** A received frame: assertions read any of its fields, whichever event it is. */
// biome-ignore lint/suspicious/noExplicitAny: a test reads the fields of whatever event arrived
type Frame = ServerFrame & Record<string, any>;

/** A real WebSocket client that records every frame it receives. */
export class TestClient {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private readonly waiters = new Set<() => void>();
  readonly closed: Promise<number>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const wake of this.waiters) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        for (const wake of this.waiters) wake();
        resolve(code);
      });
    });
    ws.on('error', () => {});
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Frames of one event, optionally in one room. */
  events(event: string, roomid?: string): Frame[] {
    return this.frames.filter((f) => f.event === event && (roomid === undefined || f.roomid === roomid));
  }

  messages(roomid?: string): Frame[] {
    return this.events('message', roomid);
  }

  /** Waits for the first frame (received from `from` on) that matches. */
  async next(match: (frame: Frame) => boolean, timeoutMs = 3000, from = 0): Promise<Frame> {
    return this.waitFor(() => this.frames.slice(from).find(match), timeoutMs, 'a matching frame');
  }

  async nextEvent(event: string, extra: Record<string, unknown> = {}, timeoutMs = 3000): Promise<Frame> {
    return this.next((f) => f.event === event && Object.entries(extra).every(([k, v]) => f[k] === v), timeoutMs);
  }

  async waitFor<T>(probe: () => T | undefined | false, timeoutMs = 3000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.frames
          .slice(-50)
          .map((f) => JSON.stringify(f))
          .join('\n  ');
        const closed = this.closeCode === undefined ? '' : ` (closed with ${this.closeCode} ${this.closeReason})`;
        throw new Error(`timed out waiting for ${what}${closed}; the last ${Math.min(50, this.frames.length)} of ${this.frames.length} frames:\n  ${seen}`);
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 200));
        this.waiters.add(wake);
      });
    }
  }

  /** Sends a request with an id and waits for the reply that carries it as `ref` (or `id` for acks). */
  async request(frame: Record<string, unknown>, timeoutMs = 3000): Promise<Frame> {
    const id = (frame.id as string | undefined) ?? `req-${Math.random().toString(36).slice(2)}`;
    const from = this.frames.length;
    this.send({ ...frame, id });
    return this.next((f) => f.ref === id || (f.event === 'ack' && f.id === id), timeoutMs, from);
  }

  async join(roomid: string, extra: Record<string, unknown> = {}): Promise<Frame> {
    const reply = await this.request({ event: 'join', roomid, ...extra });
    if (reply.event !== 'joined') throw new Error(`join ${roomid} failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  async say(roomid: string | undefined, message: string, id = `m-${Math.random().toString(36).slice(2)}`, timeoutMs = 3000): Promise<Frame> {
    const reply = await this.request({ event: 'message', message, id, ...(roomid ? { roomid } : {}) }, timeoutMs);
    if (reply.event !== 'ack') throw new Error(`send failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  /**
   * A barrier: a request and its reply. Everything the server sent this connection before it
   * handled the request has arrived when this resolves, so a check that something did NOT arrive
   * is made after it, never after a sleep.
   */
  async settled(): Promise<void> {
    await this.request({ event: 'rooms' });
  }

  close(code = 1000): Promise<number> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
    return this.closed;
  }

  /** Drops the TCP connection without a closing handshake, like a phone losing its network. */
  drop(): Promise<number> {
    this.ws.terminate();
    return this.closed;
  }
}

export interface ConnectOptions {
  token?: string;
  /** Ask for the `welcome` frame without a token (`?v=1`). */
  v?: boolean;
  headers?: Record<string, string>;
  /** Answer heartbeat pings (default true), as every real client does. */
  pong?: boolean;
  path?: string;
  /** The client's own address (127.0.0.2 and so on are this machine too), to be another client to per-address limits. */
  localAddress?: string;
  /** Opens the TCP connection (plain ws:// only), so a test can also write raw bytes to it. */
  createConnection?: (options: object) => Duplex;
}

export async function connect(server: TestServer, options: ConnectOptions = {}): Promise<TestClient> {
  const url = new URL(options.path ?? '/', server.url);
  if (options.token) url.searchParams.set('token', options.token);
  if (options.v) url.searchParams.set('v', '1');
  const ws = new WebSocket(url, {
    ca: server.tls?.cert,
    headers: options.headers,
    localAddress: options.localAddress,
    ...(options.createConnection ? { createConnection: options.createConnection } : {}),
  });
  const client = new TestClient(ws);
  if (options.pong !== false) {
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('"heartbeat"') && JSON.parse(text).message === 'ping') {
        ws.send(JSON.stringify({ event: 'heartbeat', message: 'pong' }));
      }
    });
  }
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return client;
}

/** Logs a user in over HTTP and opens an authenticated connection. */
export async function connectAs(
  server: TestServer,
  name: string,
  uid?: string,
  options: Omit<ConnectOptions, 'token'> = {},
): Promise<TestClient & { user: LoginResponse }> {
  const user = await login(server, name, uid);
  const client = await connect(server, { ...options, token: user.token });
  await client.nextEvent('welcome');
  return Object.assign(client, { user });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `probe` holds, polling; for server-side state. */
export async function eventually(probe: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
