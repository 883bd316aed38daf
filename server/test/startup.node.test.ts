/**
 * The real `npm start` path: the compiled server in its own process, its development certificate,
 * configuration errors, TLS settings and graceful shutdown on SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import jwt from 'jsonwebtoken';
import { generate } from 'selfsigned';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '../src/protocol.ts';
import { connect, login, type TestServer } from './harness.ts';

const MAIN = resolve(__dirname, '../dist/main.js');
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error('server/dist/main.js is missing: run `npm run build -w server` (npm test does)');
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** One JSON log line of the server: `msg` and whatever fields it carries. */
interface LogLine {
  msg: string;
  level?: string;
  url?: string;
  http?: string;
  [field: string]: unknown;
}

/** The line the server logs about the certificate it serves. */
interface TlsCertificateLog extends LogLine {
  msg: 'tls certificate';
  source: string;
  subject: string;
  validTo: string;
  path: string;
}

const tlsCertificateLog = (logs: LogLine[]): TlsCertificateLog | undefined => logs.find((l): l is TlsCertificateLog => l.msg === 'tls certificate');

interface Started {
  child: ChildProcess;
  server: TestServer;
  logs: LogLine[];
  exited: Promise<number | null>;
}

function run(env: Record<string, string>): { child: ChildProcess; logs: LogLine[]; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: '1500', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const logs: LogLine[] = [];
  let err = '';
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
  });
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, logs, stderr: () => err, exited };
}

async function start(env: Record<string, string>): Promise<Started> {
  const proc = run(env);
  const deadline = Date.now() + 15_000;
  let listening: LogLine | undefined;
  while (!(listening = proc.logs.find((l) => l.msg === 'listening'))) {
    if (proc.child.exitCode !== null) throw new Error(`server exited: ${proc.stderr()}`);
    if (Date.now() > deadline) throw new Error('server did not start');
    // Polls the child's log for its 'listening' line, with the deadline above.
    await new Promise((r) => setTimeout(r, 25));
  }
  const url = (listening.url as string).replace('localhost', '127.0.0.1');
  const httpUrl = (listening.http as string).replace('localhost', '127.0.0.1');
  const tlsLog = tlsCertificateLog(proc.logs);
  const cert = tlsLog ? readFileSync(tlsLog.path, 'utf8') : undefined;
  const server: TestServer = {
    url,
    httpUrl,
    port: Number(new URL(httpUrl).port),
    tls: cert ? { cert } : undefined,
    env,
    close: async () => {
      proc.child.kill('SIGTERM');
      await proc.exited;
    },
  };
  return { child: proc.child, server, logs: proc.logs, exited: proc.exited };
}

describe('first start on a fresh machine', () => {
  it('generates a development certificate once, logs it with its expiry, and reuses it', async () => {
    const certsDir = mkdtempSync(join(tmpdir(), 'chatroom-certs-'));
    const first = await start({ CERTS_DIR: certsDir });
    const log = tlsCertificateLog(first.logs)!;
    expect(log).toMatchObject({ source: 'development' });
    expect(new Date(log.validTo).getTime()).toBeGreaterThan(Date.now() + 365 * 24 * 3600 * 1000);
    expect(log.subject).toContain('127.0.0.1');
    const pem = readFileSync(join(certsDir, 'dev-cert.pem'), 'utf8');
    expect(existsSync(join(certsDir, 'dev-jwt-secret'))).toBe(true);
    // The certificate verifies for 127.0.0.1 against itself as the CA: a real TLS handshake.
    const { token } = await login(first.server, 'alice');
    await first.server.close();

    const second = await start({ CERTS_DIR: certsDir });
    expect(readFileSync(join(certsDir, 'dev-cert.pem'), 'utf8')).toBe(pem);
    expect(second.logs.some((l) => l.msg === 'generated a development certificate')).toBe(false);
    // The generated JWT secret is reused too: tokens survive a restart.
    const client = await connect(second.server, { token });
    await client.close();
    await second.server.close();
  });
});

describe('configuration', () => {
  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ HEARTBEAT_INTERVAL_MS: '-5' }, 'HEARTBEAT_INTERVAL_MS'],
    [{ JWT_ALGORITHM: 'RS256' }, 'JWT_PUBLIC_KEY'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ TLS_CERT: '/nonexistent.pem' }, 'TLS_KEY'],
    [{ PER_MESSAGE_DEFLATE: 'maybe' }, 'PER_MESSAGE_DEFLATE'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
  ])('bad configuration %j stops start-up naming %s', async (env, variable) => {
    const proc = run({ CERTS_DIR: mkdtempSync(join(tmpdir(), 'chatroom-certs-')), ...env });
    const code = await proc.exited;
    expect(code).toBe(78);
    expect(proc.stderr()).toContain(variable);
  });

  it('a JWT_PUBLIC_KEY that cannot be read as a key, or does not fit JWT_ALGORITHM, exits 78 naming the variable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-badjwt-'));
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'ec.pem'), pair.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    writeFileSync(join(dir, 'broken.pem'), '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n');
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ JWT_PUBLIC_KEY: join(dir, 'broken.pem') }, /JWT_PUBLIC_KEY: .*broken\.pem is not a readable PEM public key/],
      [{ JWT_PUBLIC_KEY: join(dir, 'ec.pem'), JWT_ALGORITHM: 'RS256' }, /JWT_PUBLIC_KEY: .*ec\.pem holds a ec key, which RS256/],
    ];
    for (const [env, message] of cases) {
      const proc = run({ CERTS_DIR: dir, DEV_LOGIN: 'false', ...env });
      expect(await proc.exited).toBe(78);
      expect(proc.stderr()).toMatch(message);
      expect(proc.stderr()).not.toMatch(/^\s+at /m);
    }
    // The same key with ES256 starts and lets in the holder of its private key.
    const good = await start({ CERTS_DIR: dir, DEV_LOGIN: 'false', JWT_PUBLIC_KEY: join(dir, 'ec.pem'), JWT_ALGORITHM: 'ES256' });
    const token = jwt.sign({ name: 'es' }, pair.privateKey, { algorithm: 'ES256', subject: 'es-1', expiresIn: 60 });
    const client = await connect(good.server, { token });
    expect((await client.nextEvent('welcome')).uid).toBe('es-1');
    await client.close();
    await good.server.close();
  });

  it('certificate files that are missing, not PEM or not a pair exit 78 naming the variable, not with a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-badtls-'));
    const pair = await generate([{ name: 'commonName', value: 'a.example.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    const other = await generate([{ name: 'commonName', value: 'b.example.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    writeFileSync(join(dir, 'cert.pem'), pair.cert);
    writeFileSync(join(dir, 'other-key.pem'), other.private);
    writeFileSync(join(dir, 'garbage.pem'), 'not a certificate');
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ TLS_CERT: join(dir, 'missing.pem'), TLS_KEY: join(dir, 'other-key.pem') }, /TLS_CERT: cannot read .*missing\.pem: no such file/],
      [{ TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'missing-key.pem') }, /TLS_KEY: cannot read/],
      [{ TLS_CERT: join(dir, 'garbage.pem'), TLS_KEY: join(dir, 'other-key.pem') }, /TLS_CERT: .* is not a PEM certificate/],
      [{ TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'other-key.pem') }, /TLS_KEY: .* is not the private key of/],
    ];
    for (const [env, message] of cases) {
      const proc = run({ CERTS_DIR: dir, DEV_LOGIN: 'false', ...env });
      expect(await proc.exited).toBe(78);
      expect(proc.stderr()).toMatch(message);
      expect(proc.stderr()).not.toMatch(/^\s+at /m);
    }
  });

  it('serves a configured certificate (TLS_CERT/TLS_KEY) and refuses TLS below 1.2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-tls-'));
    const pems = await generate([{ name: 'commonName', value: 'chat.example.test' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'chat.example.test' }] }],
    });
    writeFileSync(join(dir, 'fullchain.pem'), pems.cert);
    writeFileSync(join(dir, 'privkey.pem'), pems.private);
    const { server, logs } = await start({ TLS_CERT: join(dir, 'fullchain.pem'), TLS_KEY: join(dir, 'privkey.pem'), CERTS_DIR: dir, DEV_LOGIN: 'false' });
    expect(logs.find((l) => l.msg === 'tls certificate')).toMatchObject({ source: 'configured', subject: 'DNS:chat.example.test' });
    const served = await new Promise<string>((resolveCert, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: server.port, servername: 'chat.example.test', ca: pems.cert }, () => {
        resolveCert(socket.getPeerX509Certificate()!.subjectAltName!);
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(served).toBe('DNS:chat.example.test');
    const old = await new Promise<string>((resolveErr) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: server.port, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', rejectUnauthorized: false }, () => {
        resolveErr('connected');
        socket.end();
      });
      socket.on('error', (err) => resolveErr(err.message));
    });
    expect(old).not.toBe('connected');
    await server.close();
  });

  it('serves plain HTTP/WS only when PLAIN_HTTP is set, and the H5 client at /', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-static-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>chat</title>');
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    const { server } = await start({ PLAIN_HTTP: 'true', STATIC_DIR: dir, CERTS_DIR: dir });
    expect(server.url.startsWith('ws://')).toBe(true);
    const index = await fetch(`${server.httpUrl}/`);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(await index.text()).toContain('<title>chat</title>');
    const js = await fetch(`${server.httpUrl}/assets/app.js`);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${server.httpUrl}/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
    expect((await fetch(`${server.httpUrl}/nope.js`)).status).toBe(404);
    const { token } = await login(server, 'plain');
    const client = await connect(server, { token });
    await client.close();
    await server.close();
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM closes every socket with 1001 and exits 0 in bounded time', async () => {
    const { server, child, exited, logs } = await start({ CERTS_DIR: mkdtempSync(join(tmpdir(), 'chatroom-certs-')), LOG_LEVEL: 'info' });
    const { token } = await login(server, 'alice');
    const a = await connect(server, { token });
    const b = await connect(server, { token });
    await a.join('logged');
    await a.say('logged', 'secret-body-7f3a');
    const started = Date.now();
    child.kill('SIGTERM');
    expect(await a.closed).toBe(CloseCode.GoingAway);
    expect(await b.closed).toBe(CloseCode.GoingAway);
    expect(a.closeReason).toMatch(/shutting down/);
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
    // Logs are JSON lines without message bodies or tokens.
    const text = JSON.stringify(logs);
    expect(logs.length).toBeGreaterThan(3);
    expect(text).not.toContain('secret-body-7f3a');
    expect(text).not.toContain(token);
  });
});
