/**
 * The HTTP side, runtime-neutral: `POST /api/login` (development login), `GET /healthz`, CORS and
 * origin checks, and static file resolution for the built H5 client. Adapters translate their
 * request objects to HttpRequest and write the HttpReply.
 */

import type { LoginResponse } from '../protocol.ts';
import { type Authenticator, cleanName } from './auth.ts';
import type { KeyedBuckets } from './rate-limiter.ts';

export interface HttpRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  origin: string | undefined;
  /** The Host header: a browser login from another origin is refused unless ALLOWED_ORIGINS names it. */
  host: string | undefined;
  /** Checked for mini-programs, which send no Origin (see originAllowed). */
  referer?: string;
  /** The client's address (after TRUST_PROXY), for the /metrics loopback rule. */
  remoteAddress: string;
  authorization: string | undefined;
  /** The body as text, or undefined when it is longer than `limit` bytes (the rest is not kept). */
  readBody(limit: number): Promise<string | undefined>;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export interface HttpApiDeps {
  auth: Authenticator;
  devLogin: boolean;
  /** Logins per client address (LOGIN_PER_MINUTE); undefined: unlimited. */
  loginLimiter?: KeyedBuckets;
  allowedOrigins: string[];
  health: () => Promise<Record<string, unknown> & { ok: boolean }>;
  metrics?: { contentType: string; render(): Promise<string> };
  /** Bearer token for /metrics; without one only loopback addresses may scrape. */
  metricsToken?: string;
  /** Reads a file of the built H5 client by its relative path, or undefined when absent. */
  readStatic?: (relativePath: string) => Promise<Uint8Array | undefined>;
}

export const LOGIN_BODY_LIMIT = 4096;

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
  png: 'image/png',
  jpg: 'image/jpeg',
  svg: 'image/svg+xml',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  txt: 'text/plain; charset=utf-8',
};

const MINI_PROGRAM_REFERER = /^https:\/\/servicewechat\.com\/([^/]+)\//;

/**
 * Browsers send `Origin`: it must be listed (an empty list or `*` allows any). A WeChat
 * mini-program sends no Origin but `Referer: https://servicewechat.com/<appid>/<version>/…`: when
 * the list names any `https://servicewechat.com/<appid>`, only those appids are let in. Clients that
 * send neither (native apps, servers) are not browsers and are not checked.
 */
export function originAllowed(origin: string | undefined, allowed: string[], referer?: string): boolean {
  if (allowed.length === 0 || allowed.includes('*')) return true;
  if (origin !== undefined) return allowed.includes(origin);
  const appid = referer === undefined ? undefined : MINI_PROGRAM_REFERER.exec(referer)?.[1];
  if (appid === undefined) return true;
  const miniPrograms = allowed.filter((entry) => entry.startsWith('https://servicewechat.com/'));
  return miniPrograms.length === 0 || miniPrograms.includes(`https://servicewechat.com/${appid}`);
}

function json(status: number, value: unknown, extra: Record<string, string> = {}): HttpReply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra },
    body: JSON.stringify(value),
  };
}

function corsHeaders(req: HttpRequest, allowed: string[]): Record<string, string> {
  if (req.origin === undefined || !originAllowed(req.origin, allowed)) return {};
  return {
    'access-control-allow-origin': req.origin,
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': 'content-type',
    vary: 'origin',
  };
}

export async function handleHttp(req: HttpRequest, deps: HttpApiDeps): Promise<HttpReply> {
  const cors = corsHeaders(req, deps.allowedOrigins);
  if (req.path === '/healthz') {
    const health = await deps.health();
    return json(health.ok ? 200 : 503, health, cors);
  }
  if (req.path === '/metrics' && deps.metrics) {
    if (!metricsAllowed(req, deps.metricsToken)) return json(403, { error: 'metrics are for loopback or METRICS_TOKEN' });
    return { status: 200, headers: { 'content-type': deps.metrics.contentType, 'cache-control': 'no-store' }, body: await deps.metrics.render() };
  }
  if (req.path === '/api/login') {
    if (req.method === 'OPTIONS') return { status: 204, headers: cors, body: '' };
    if (req.method !== 'POST') return json(405, { error: 'use POST' }, { ...cors, allow: 'POST' });
    if (!loginOriginAllowed(req, deps.allowedOrigins)) return json(403, { error: 'origin not allowed' });
    if (!deps.devLogin || !deps.auth.canIssue) {
      return json(404, { error: 'the development login is disabled on this server; get a token from your own issuer' }, cors);
    }
    if (deps.loginLimiter && !deps.loginLimiter.take(req.remoteAddress)) {
      return json(429, { error: 'too many logins from this address; try again in a minute' }, { ...cors, 'retry-after': '60' });
    }
    return login(req, deps.auth, cors);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
  return serveStatic(req.path, deps);
}

/**
 * The login hands out accounts, so a page on another site must not use it from a visitor's browser:
 * with ALLOWED_ORIGINS empty, a browser (it sends Origin) must be on this server's own origin.
 */
function loginOriginAllowed(req: HttpRequest, allowed: string[]): boolean {
  if (!originAllowed(req.origin, allowed, req.referer)) return false;
  if (allowed.length > 0 || req.origin === undefined) return true;
  try {
    return new URL(req.origin).host === req.host;
  } catch {
    return false;
  }
}

function metricsAllowed(req: HttpRequest, token: string | undefined): boolean {
  if (token !== undefined) return req.authorization === `Bearer ${token}`;
  const address = req.remoteAddress.replace(/^::ffff:/, '');
  return address === '::1' || address.startsWith('127.');
}

/**
 * `{"name"}` creates an account with a fresh uid; `{"name", "refreshToken"}` renews the account the
 * refresh credential names. A uid is never taken from the client: uids are public (every message
 * carries one), so choosing one would be taking over that user.
 */
async function login(req: HttpRequest, auth: Authenticator, cors: Record<string, string>): Promise<HttpReply> {
  const body = await req.readBody(LOGIN_BODY_LIMIT);
  if (body === undefined) return json(413, { error: `body larger than ${LOGIN_BODY_LIMIT} bytes` }, { ...cors, connection: 'close' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return json(400, { error: 'body must be JSON: {"name": "..."}' }, cors);
  }
  const fields = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const name = cleanName(fields.name);
  if (!name) return json(400, { error: 'name must be 1-32 visible characters' }, cors);
  let uid: string | undefined;
  if (fields.refreshToken !== undefined) {
    const refreshed = auth.refreshedUid(fields.refreshToken);
    if (!refreshed.ok) return json(401, { error: refreshed.reason }, cors);
    uid = refreshed.uid;
  } else if (fields.uid !== undefined) {
    return json(400, { error: 'uid is assigned by the server; send refreshToken to keep an account' }, cors);
  }
  const issued: LoginResponse = auth.issue(name, uid);
  return json(200, issued, cors);
}

async function serveStatic(path: string, deps: HttpApiDeps): Promise<HttpReply> {
  const notFound = json(404, { error: 'not found' });
  if (!deps.readStatic) return notFound;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return notFound;
  }
  const parts = decoded.split('/').filter((p) => p.length > 0);
  if (parts.some((p) => p === '..' || p.startsWith('.') || p.includes('\\') || p.includes('\0'))) return notFound;
  const relative = parts.length === 0 ? 'index.html' : parts.join('/');
  const body = await deps.readStatic(relative);
  if (!body) return notFound;
  const ext = relative.slice(relative.lastIndexOf('.') + 1).toLowerCase();
  const immutable = relative.startsWith('assets/');
  return {
    status: 200,
    headers: {
      'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
    },
    body,
  };
}
