import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, ErrorCode } from '../src/protocol.ts';
import { connect, connectAs, httpRequest, login, sleep, startTestServer, TEST_CERTS_DIR, type TestServer } from './harness.ts';

let server: TestServer;
const secret = () => readFileSync(join(TEST_CERTS_DIR, 'dev-jwt-secret'), 'utf8').trim();

beforeAll(async () => {
  server = await startTestServer({ AUTH_TIMEOUT_MS: '400' });
});
afterAll(() => server.close());

describe('token in the upgrade URL', () => {
  it('a valid token is accepted and welcomed with the identity', async () => {
    const alice = await connectAs(server, 'alice');
    const welcome = alice.events('welcome')[0];
    expect(welcome).toMatchObject({ uid: alice.user.uid, name: 'alice', protocol: 1 });
    expect(welcome.heartbeatMs).toBeGreaterThan(0);
    // The client offers 撤回 as long as the server allows it (RECALL_WINDOW_MS, default 2 minutes).
    expect(welcome.recallWindowMs).toBe(120_000);
    await alice.close();
  });

  it('an invalid token is refused at the handshake with 401', async () => {
    const { token } = await login(server, 'mallory');
    await expect(connect(server, { token: `${token.slice(0, -3)}AAA` })).rejects.toThrow('401');
    await expect(connect(server, { token: 'not-a-jwt' })).rejects.toThrow('401');
  });

  it('paths other than / are not WebSocket endpoints', async () => {
    await expect(connect(server, { path: '/elsewhere' })).rejects.toThrow('404');
  });
});

describe('auth frame', () => {
  it('before auth every other event gets noauth and is not processed', async () => {
    const anon = await connect(server);
    anon.send({ event: 'join', roomid: 'secret-room' });
    const noauth = await anon.nextEvent('noauth');
    expect(noauth.message).toMatch(/auth/);
    anon.send({ event: 'message', roomid: 'secret-room', message: 'hello?' });
    await anon.waitFor(() => anon.events('noauth').length === 2);

    const bob = await connectAs(server, 'bob');
    await bob.join('secret-room');
    // The joiner's own login follows its joined reply; it need not arrive in the same read.
    await bob.nextEvent('login');
    expect(bob.events('login').map((f) => f.name)).toEqual(['bob']);
    await Promise.all([anon.close(), bob.close()]);
  });

  it('auth then login in one burst: the login waits for the auth', async () => {
    const { token, uid } = await login(server, 'carol');
    const carol = await connect(server);
    carol.send({ event: 'auth', message: token, id: 'a1' });
    carol.send({ event: 'login', roomid: 'burst', id: 'j1' });
    expect(await carol.nextEvent('authed')).toMatchObject({ uid, name: 'carol', ref: 'a1' });
    expect(await carol.nextEvent('joined')).toMatchObject({ roomid: 'burst', num: 1, total: 1 });
    expect(carol.events('noauth')).toHaveLength(0);
    await carol.close();
  });

  it('refuses a wrong signature, alg none, an expired token and a token without sub', async () => {
    const client = await connect(server);
    const now = Math.floor(Date.now() / 1000);
    const forged = jwt.sign({ name: 'eve', sub: 'eve' }, 'x'.repeat(40), { algorithm: 'HS256', expiresIn: 60 });
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'eve', name: 'eve', exp: now + 60 })).toString('base64url')}.`;
    const expired = jwt.sign({ name: 'eve', sub: 'eve', exp: now - 10 }, secret(), { algorithm: 'HS256' });
    const hs512 = jwt.sign({ name: 'eve', sub: 'eve' }, secret(), { algorithm: 'HS512', expiresIn: 60 });
    const noSub = jwt.sign({ name: 'eve' }, secret(), { algorithm: 'HS256', expiresIn: 60 });
    for (const [i, token] of [forged, none, expired, hs512, noSub].entries()) {
      const reply = await client.request({ event: 'auth', message: token, id: `t${i}` });
      expect(reply.event).toBe('noauth');
    }
    expect(client.events('noauth')[2].message).toBe('please auth again, your token is expired!');
    const reply = await client.request({ event: 'join', roomid: 'r' });
    expect(reply.event).toBe('noauth');
    await client.close();
  });

  it('a second auth frame for another user is refused; the same user renews the session', async () => {
    const dave = await connectAs(server, 'dave');
    const other = await login(server, 'erin');
    const refused = await dave.request({ event: 'auth', message: other.token });
    expect(refused).toMatchObject({ event: 'error', code: ErrorCode.ForgedIdentity });
    const renewed = await login(server, 'dave', dave.user.uid);
    const authed = await dave.request({ event: 'auth', message: renewed.token });
    expect(authed).toMatchObject({ event: 'authed', uid: dave.user.uid });
    await dave.close();
  });

  it('an unauthenticated connection is closed after the auth timeout', async () => {
    const idle = await connect(server);
    expect(await idle.closed).toBe(CloseCode.AuthTimeout);
  });

  it('a token that expires on a live connection gets noauth and close 4001', async () => {
    // exp has whole seconds: 2 s leaves at least one for the join, however late in a second it is issued.
    const soon = jwt.sign({ name: 'fay', sub: 'fay-uid' }, secret(), { algorithm: 'HS256', expiresIn: 2 });
    const fay = await connect(server, { token: soon });
    await fay.join('expiring');
    const code = await fay.closed;
    expect(code).toBe(CloseCode.AuthExpired);
    expect(fay.events('noauth').at(-1)?.message).toMatch(/expired/);
  });

  it('renewing with a new auth frame before expiry keeps the connection open', async () => {
    const soon = jwt.sign({ name: 'gus', sub: 'gus-uid' }, secret(), { algorithm: 'HS256', expiresIn: 2 });
    const gus = await connect(server, { token: soon });
    const later = jwt.sign({ name: 'gus', sub: 'gus-uid' }, secret(), { algorithm: 'HS256', expiresIn: 60 });
    await gus.request({ event: 'auth', message: later });
    // Time under test: the first token's expiry must pass (whole seconds, so up to 2 s from now).
    const firstExpiry = (jwt.decode(soon) as { exp: number }).exp * 1000;
    await sleep(firstExpiry - Date.now() + 100);
    // Then a request and its reply: a close or noauth for the old token would have come before it
    // (and a frame after the expiry is itself checked against it).
    expect(await gus.join('still-here')).toMatchObject({ event: 'joined' });
    expect(gus.closeCode).toBeUndefined();
    expect(gus.events('noauth')).toHaveLength(0);
    await gus.close();
  });
});

describe('HTTP', () => {
  it('GET /healthz answers with the store and connection count', async () => {
    const res = await httpRequest<Record<string, unknown>>(server, '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, store: process.env.TEST_BACKEND === 'redis' ? 'redis' : 'memory' });
  });

  it('POST /api/login issues a token for a valid name and refuses bad ones', async () => {
    const ok = await login(server, '小明');
    expect(ok.name).toBe('小明');
    expect(ok.expiresAt).toBeGreaterThan(Date.now());
    const decoded = jwt.decode(ok.token) as jwt.JwtPayload;
    expect(decoded.sub).toBe(ok.uid);
    for (const body of ['{"name":""}', `{"name":"${'x'.repeat(40)}"}`, 'not json', '{"name":"a","uid":"bad uid!"}']) {
      const res = await httpRequest(server, '/api/login', { method: 'POST', body });
      expect(res.status).toBe(400);
    }
    const get = await httpRequest(server, '/api/login');
    expect(get.status).toBe(405);
  });

  it('the development login can be disabled', async () => {
    const locked = await startTestServer({ DEV_LOGIN: 'false', JWT_SECRET: 's'.repeat(40) });
    try {
      const res = await httpRequest(locked, '/api/login', { method: 'POST', body: '{"name":"a"}' });
      expect(res.status).toBe(404);
      const own = jwt.sign({ name: 'ops', sub: 'ops-1' }, 's'.repeat(40), { algorithm: 'HS256', expiresIn: 60 });
      const client = await connect(locked, { token: own });
      expect((await client.nextEvent('welcome')).uid).toBe('ops-1');
      await client.close();
    } finally {
      await locked.close();
    }
  });

  it('with your own RS256 issuer, accepts its tokens and refuses the public key used as an HS256 secret', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-issuer-'));
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(dir, 'issuer.pem'), publicPem);
    const issued = await startTestServer({ JWT_PUBLIC_KEY: join(dir, 'issuer.pem'), DEV_LOGIN: 'false', JWT_ISSUER: 'https://id.example.com' });
    try {
      const good = jwt.sign({ name: 'rs', sub: 'rs-1' }, privateKey, { algorithm: 'RS256', expiresIn: 60, issuer: 'https://id.example.com' });
      const client = await connect(issued, { token: good });
      expect((await client.nextEvent('welcome')).uid).toBe('rs-1');
      await client.close();
      const confused = jwt.sign({ name: 'rs', sub: 'rs-1' }, publicPem, { algorithm: 'HS256', expiresIn: 60, issuer: 'https://id.example.com' });
      await expect(connect(issued, { token: confused })).rejects.toThrow('401');
      const wrongIssuer = jwt.sign({ name: 'rs', sub: 'rs-1' }, privateKey, { algorithm: 'RS256', expiresIn: 60, issuer: 'https://evil.example.com' });
      await expect(connect(issued, { token: wrongIssuer })).rejects.toThrow('401');
    } finally {
      await issued.close();
    }
  });

  it('refuses browsers from origins outside ALLOWED_ORIGINS', async () => {
    const strict = await startTestServer({ ALLOWED_ORIGINS: 'https://chat.example.com' });
    try {
      await expect(connect(strict, { headers: { origin: 'https://evil.example.net' } })).rejects.toThrow('403');
      const ok = await connect(strict, { headers: { origin: 'https://chat.example.com' } });
      await ok.close();
      const res = await httpRequest(strict, '/api/login', { method: 'POST', body: '{"name":"a"}', headers: { origin: 'https://evil.example.net' } });
      expect(res.status).toBe(403);
      // Clients that are no browser (no Origin, no mini-program Referer) are not checked.
      const native = await connect(strict);
      await native.close();
    } finally {
      await strict.close();
    }
  });

  it('lets in only the configured mini-programs, by their Referer', async () => {
    const strict = await startTestServer({ ALLOWED_ORIGINS: 'https://chat.example.com,https://servicewechat.com/wx0123456789abcdef' });
    try {
      const ours = { referer: 'https://servicewechat.com/wx0123456789abcdef/3/page-frame.html' };
      const theirs = { referer: 'https://servicewechat.com/wxfedcba9876543210/1/page-frame.html' };
      const ok = await connect(strict, { headers: ours });
      await ok.close();
      await expect(connect(strict, { headers: theirs })).rejects.toThrow('403');
      const login = await httpRequest(strict, '/api/login', { method: 'POST', body: '{"name":"mp"}', headers: theirs });
      expect(login.status).toBe(403);
      expect((await httpRequest(strict, '/api/login', { method: 'POST', body: '{"name":"mp"}', headers: ours })).status).toBe(200);
    } finally {
      await strict.close();
    }
  });
});
