/**
 * Configuration from environment variables. Runtime-neutral: takes the environment as a plain record
 * (Node's process.env or Deno.env.toObject()). Every variable is documented in docs/configuration.md.
 */

export type JwtAlgorithm = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512';

export interface Config {
  port: number;
  host: string;
  /** Serve plain HTTP/WS (only behind a TLS-terminating proxy). */
  plainHttp: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** Where the development certificate and JWT secret are generated. */
  certsDir: string;
  jwtSecret?: string;
  /** PEM file of the public key, for RS256/ES256 tokens from your own issuer. */
  jwtPublicKey?: string;
  jwtAlgorithm: JwtAlgorithm;
  jwtIssuer?: string;
  jwtAudience?: string;
  /** The development login `POST /api/login`. */
  devLogin: boolean;
  /** Logins per minute per client address (0: unlimited). */
  loginPerMinute: number;
  tokenTtlSeconds: number;
  /** Lifetime of the development login's refresh credential. */
  refreshTtlSeconds: number;
  heartbeatIntervalMs: number;
  authTimeoutMs: number;
  /** Hard frame limit: larger frames close the connection with 1009 before being buffered whole. */
  maxPayloadBytes: number;
  /** Soft limit on a message's text, in characters: longer gets an error, the connection stays. */
  maxMessageChars: number;
  perMessageDeflate: boolean;
  /** Shortest time between two writes to a socket under sustained traffic; 0 = every event-loop turn. */
  writeCoalesceMs: number;
  historyPerRoom: number;
  /** Embedded store: history and inboxes together, in estimated heap bytes. */
  storeMaxBytes: number;
  roomLimit: number;
  roomTtlMs: number;
  /** Members one room may have (joins, invites and links past it are refused); bans are bounded by it too. */
  roomMaxMembers: number;
  /** Admins one room may have besides its owner. */
  roomMaxAdmins: number;
  userLimit: number;
  inboxPerUser: number;
  roomsPerConnection: number;
  rateLimitPerSec: number;
  rateLimitBurst: number;
  /** Frames per second of one user over all their connections (on one node). */
  userRatePerSec: number;
  userRateBurst: number;
  /** Rooms one user may create per hour, and direct conversations with new people. */
  roomsCreatedPerHour: number;
  directPeersPerHour: number;
  sendBufferLimitBytes: number;
  /** How long a large reply waits for its connection to read what came before (then 4008). */
  drainTimeoutMs: number;
  /** All connections' unread output together; past it the largest backlogs are closed (4008). */
  outputMaxBytes: number;
  /** Frames of one connection waiting for the backend; more get 4503 at once. */
  queuedFramesPerConnection: number;
  /** TCP connections per address that have not finished their TLS handshake or HTTP request. */
  pendingPerAddress: number;
  /** Time allowed for the TLS handshake and for the HTTP request head. */
  handshakeTimeoutMs: number;
  allowedOrigins: string[];
  connectionsPerAddress: number;
  handshakesPerSec: number;
  handshakeBurst: number;
  /** Proxies whose X-Forwarded-For is believed: `loopback` (TRUST_PROXY=true) or their addresses. */
  trustedProxies: string[];
  /** Bearer token for /metrics; without it /metrics answers loopback addresses only. */
  metricsToken?: string;
  /** Embedded mode: state written here on shutdown and loaded on start; undefined = off. */
  snapshotPath?: string;
  /** How often TLS_CERT/TLS_KEY are checked for a renewed certificate. */
  tlsReloadIntervalMs: number;
  staticDir?: string;
  shutdownTimeoutMs: number;
  redisUrl?: string;
  /** Prefix of every Redis key and channel: several deployments can share one Redis. */
  redisKeyPrefix: string;
  /** A node silent this long is taken for dead; its members drop out within 1.5× this. */
  redisPresenceTtlMs: number;
  /**
   * How long a Redis command may take before it fails (the client gets 4503 and resends) and the
   * connection is taken for stalled and opened again; meanwhile requests are refused at once.
   */
  redisCommandTimeoutMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function str(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

const ALGORITHMS: JwtAlgorithm[] = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];
const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

function snapshotPath(env: Env, fallback: string | undefined): string | undefined {
  const raw = str(env, 'SNAPSHOT_PATH') ?? fallback ?? 'data/snapshot.json';
  return raw === 'off' ? undefined : raw;
}

/** TRUST_PROXY: false, true (a proxy on this machine), or the proxies' addresses, comma-separated. */
function trustedProxies(env: Env): string[] {
  const raw = str(env, 'TRUST_PROXY');
  if (raw === undefined) return [];
  const lower = raw.toLowerCase();
  if (['0', 'false', 'no', 'off'].includes(lower)) return [];
  if (['1', 'true', 'yes', 'on'].includes(lower)) return ['loopback'];
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const address of list) {
    if (!/^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)$/.test(address)) {
      throw new ConfigError('TRUST_PROXY', `must be true, false or proxy addresses like 10.0.0.2, got "${address}"`);
    }
  }
  return list;
}

export function loadConfig(env: Env, defaults: Partial<Config> = {}): Config {
  const jwtPublicKey = str(env, 'JWT_PUBLIC_KEY');
  const jwtAlgorithm = (str(env, 'JWT_ALGORITHM') ?? (jwtPublicKey ? 'RS256' : 'HS256')) as JwtAlgorithm;
  if (!ALGORITHMS.includes(jwtAlgorithm)) {
    throw new ConfigError('JWT_ALGORITHM', `must be one of ${ALGORITHMS.join(', ')}, got "${jwtAlgorithm}"`);
  }
  if (jwtAlgorithm.startsWith('HS') && jwtPublicKey) {
    throw new ConfigError('JWT_ALGORITHM', `${jwtAlgorithm} is a shared-secret algorithm; with JWT_PUBLIC_KEY use RS256 or ES256`);
  }
  if (!jwtAlgorithm.startsWith('HS') && !jwtPublicKey) {
    throw new ConfigError('JWT_PUBLIC_KEY', `is required with JWT_ALGORITHM=${jwtAlgorithm}`);
  }
  const jwtSecret = str(env, 'JWT_SECRET');
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 characters');
  }
  const tlsCert = str(env, 'TLS_CERT');
  const tlsKey = str(env, 'TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(tlsCert ? 'TLS_KEY' : 'TLS_CERT', 'TLS_CERT and TLS_KEY must be set together');
  }
  const logLevel = (str(env, 'LOG_LEVEL') ?? defaults.logLevel ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  const redisUrl = str(env, 'REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('REDIS_URL', `must start with redis:// or rediss://, got "${redisUrl}"`);
  }
  const redisKeyPrefix = str(env, 'REDIS_KEY_PREFIX');
  if (redisKeyPrefix !== undefined && /[{}\s]/.test(redisKeyPrefix)) {
    throw new ConfigError('REDIS_KEY_PREFIX', 'must not contain braces or spaces (keys use {…} hash tags for Redis Cluster)');
  }
  const devLogin = bool(env, 'DEV_LOGIN', defaults.devLogin ?? true);
  if (devLogin && !jwtAlgorithm.startsWith('HS')) {
    throw new ConfigError('DEV_LOGIN', 'the development login signs HS256 tokens; set DEV_LOGIN=false with JWT_PUBLIC_KEY');
  }
  // A real certificate means real users: an open login that creates accounts for anyone is then
  // almost surely a mistake, so it must be asked for twice.
  if (devLogin && tlsCert !== undefined && !bool(env, 'DEV_LOGIN_WITH_REAL_CERT', false)) {
    throw new ConfigError('DEV_LOGIN', 'the development login is on with TLS_CERT set; set DEV_LOGIN=false and use your own issuer, or DEV_LOGIN_WITH_REAL_CERT=true to keep it');
  }

  const config: Config = {
    port: int(env, 'PORT', defaults.port ?? 8443, 0, 65535),
    host: str(env, 'HOST') ?? defaults.host ?? '0.0.0.0',
    plainHttp: bool(env, 'PLAIN_HTTP', defaults.plainHttp ?? false),
    tlsCert,
    tlsKey,
    certsDir: str(env, 'CERTS_DIR') ?? defaults.certsDir ?? 'certs',
    jwtSecret,
    jwtPublicKey,
    jwtAlgorithm,
    jwtIssuer: str(env, 'JWT_ISSUER'),
    jwtAudience: str(env, 'JWT_AUDIENCE'),
    devLogin,
    loginPerMinute: int(env, 'LOGIN_PER_MINUTE', defaults.loginPerMinute ?? 20, 0),
    tokenTtlSeconds: int(env, 'TOKEN_TTL_SECONDS', defaults.tokenTtlSeconds ?? 7 * 24 * 3600, 10),
    refreshTtlSeconds: int(env, 'REFRESH_TTL_SECONDS', defaults.refreshTtlSeconds ?? 90 * 24 * 3600, 60),
    heartbeatIntervalMs: int(env, 'HEARTBEAT_INTERVAL_MS', defaults.heartbeatIntervalMs ?? 30_000, 50, 3_600_000),
    authTimeoutMs: int(env, 'AUTH_TIMEOUT_MS', defaults.authTimeoutMs ?? 30_000, 50),
    maxPayloadBytes: int(env, 'MAX_PAYLOAD_BYTES', defaults.maxPayloadBytes ?? 64 * 1024, 1024, 16 * 1024 * 1024),
    maxMessageChars: int(env, 'MAX_MESSAGE_CHARS', defaults.maxMessageChars ?? 5000, 1),
    perMessageDeflate: bool(env, 'PER_MESSAGE_DEFLATE', defaults.perMessageDeflate ?? false),
    writeCoalesceMs: int(env, 'WRITE_COALESCE_MS', defaults.writeCoalesceMs ?? 1, 0, 100),
    historyPerRoom: int(env, 'HISTORY_PER_ROOM', defaults.historyPerRoom ?? 500, 0),
    storeMaxBytes: int(env, 'STORE_MAX_BYTES', defaults.storeMaxBytes ?? 256 * 1024 * 1024, 64 * 1024),
    roomLimit: int(env, 'ROOM_LIMIT', defaults.roomLimit ?? 50_000, 1),
    roomTtlMs: int(env, 'ROOM_TTL_MS', defaults.roomTtlMs ?? 30 * 24 * 3600 * 1000, 1000),
    roomMaxMembers: int(env, 'ROOM_MAX_MEMBERS', defaults.roomMaxMembers ?? 2000, 1),
    roomMaxAdmins: int(env, 'ROOM_MAX_ADMINS', defaults.roomMaxAdmins ?? 10, 0),
    userLimit: int(env, 'USER_LIMIT', defaults.userLimit ?? 200_000, 1),
    inboxPerUser: int(env, 'INBOX_PER_USER', defaults.inboxPerUser ?? 1000, 1),
    roomsPerConnection: int(env, 'ROOMS_PER_CONNECTION', defaults.roomsPerConnection ?? 100, 1),
    rateLimitPerSec: int(env, 'RATE_LIMIT_PER_SEC', defaults.rateLimitPerSec ?? 20, 1),
    rateLimitBurst: int(env, 'RATE_LIMIT_BURST', defaults.rateLimitBurst ?? 40, 1),
    userRatePerSec: int(env, 'USER_RATE_PER_SEC', defaults.userRatePerSec ?? 40, 1),
    userRateBurst: int(env, 'USER_RATE_BURST', defaults.userRateBurst ?? 80, 1),
    roomsCreatedPerHour: int(env, 'ROOMS_CREATED_PER_HOUR', defaults.roomsCreatedPerHour ?? 100, 1),
    directPeersPerHour: int(env, 'DIRECT_PEERS_PER_HOUR', defaults.directPeersPerHour ?? 200, 1),
    sendBufferLimitBytes: int(env, 'SEND_BUFFER_LIMIT_BYTES', defaults.sendBufferLimitBytes ?? 1024 * 1024, 1024),
    drainTimeoutMs: int(env, 'DRAIN_TIMEOUT_MS', defaults.drainTimeoutMs ?? 10_000, 100),
    outputMaxBytes: int(env, 'OUTPUT_MAX_BYTES', defaults.outputMaxBytes ?? 256 * 1024 * 1024, 64 * 1024),
    queuedFramesPerConnection: int(env, 'QUEUED_FRAMES_PER_CONNECTION', defaults.queuedFramesPerConnection ?? 1000, 1, 100_000),
    pendingPerAddress: int(env, 'PENDING_PER_ADDRESS', defaults.pendingPerAddress ?? 20, 0),
    handshakeTimeoutMs: int(env, 'HANDSHAKE_TIMEOUT_MS', defaults.handshakeTimeoutMs ?? 10_000, 100),
    allowedOrigins: (str(env, 'ALLOWED_ORIGINS') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    connectionsPerAddress: int(env, 'CONNECTIONS_PER_ADDRESS', defaults.connectionsPerAddress ?? 1000, 0),
    handshakesPerSec: int(env, 'HANDSHAKES_PER_SEC', defaults.handshakesPerSec ?? 50, 0),
    handshakeBurst: int(env, 'HANDSHAKE_BURST', defaults.handshakeBurst ?? 100, 1),
    trustedProxies: trustedProxies(env),
    metricsToken: str(env, 'METRICS_TOKEN'),
    snapshotPath: snapshotPath(env, defaults.snapshotPath),
    tlsReloadIntervalMs: int(env, 'TLS_RELOAD_INTERVAL_MS', defaults.tlsReloadIntervalMs ?? 60_000, 100),
    staticDir: str(env, 'STATIC_DIR') ?? defaults.staticDir,
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', defaults.shutdownTimeoutMs ?? 5000, 0),
    redisUrl,
    redisKeyPrefix: redisKeyPrefix ?? defaults.redisKeyPrefix ?? 'chat:',
    redisPresenceTtlMs: int(env, 'REDIS_PRESENCE_TTL_MS', defaults.redisPresenceTtlMs ?? 15_000, 300, 3_600_000),
    redisCommandTimeoutMs: int(env, 'REDIS_COMMAND_TIMEOUT_MS', defaults.redisCommandTimeoutMs ?? 2000, 50, 60_000),
    logLevel,
  };
  for (const origin of config.allowedOrigins) {
    // https://servicewechat.com/<appid> names a mini-program (it sends that Referer, no Origin).
    if (origin !== '*' && !/^https?:\/\/[^/\s]+(\/[\w-]+)?$/.test(origin)) {
      throw new ConfigError('ALLOWED_ORIGINS', `"${origin}" is not an origin like https://chat.example.com`);
    }
  }
  return config;
}
