/**
 * The development login cannot hand out someone else's account, and what a user types as a name
 * cannot make them look like someone else.
 */

import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type LoginResponse } from '../src/protocol.ts';
import { connect, connectAs, httpRequest, login, startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_MESSAGE_CHARS: '200' });
});
afterAll(() => server.close());

const post = (target: TestServer, body: unknown, headers: Record<string, string> = {}) =>
  httpRequest<LoginResponse & { error?: string }>(target, '/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('development login', () => {
  it('assigns the uid: a client that names someone else\'s uid is refused, never given that account', async () => {
    const victim = await login(server, 'victim');
    const claim = await post(server, { name: 'mallory', uid: victim.uid });
    expect(claim.status).toBe(400);
    expect(claim.body.error).toMatch(/refreshToken/);
    const fresh = await post(server, { name: 'victim' });
    expect(fresh.status).toBe(200);
    expect(fresh.body.uid).not.toBe(victim.uid);
  });

  it('the refresh credential renews the same account; it opens no socket itself, and a forged one is refused', async () => {
    const first = await login(server, 'dora');
    const renewed = await post(server, { name: 'dora', refreshToken: first.refreshToken });
    expect(renewed.status).toBe(200);
    expect(renewed.body.uid).toBe(first.uid);
    await expect(connect(server, { token: first.refreshToken })).rejects.toThrow('401');
    const tampered = `${first.refreshToken.slice(0, -4)}AAAA`;
    expect((await post(server, { name: 'dora', refreshToken: tampered })).status).toBe(401);
    const someoneElse = await login(server, 'erin');
    const asErin = await post(server, { name: 'erin', refreshToken: someoneElse.refreshToken });
    expect(asErin.body.uid).toBe(someoneElse.uid);
  });

  it('is limited per address, refuses browsers on other sites, and answers an oversize body with 413', async () => {
    const limited = await startTestServer({ LOGIN_PER_MINUTE: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await post(limited, { name: `n${i}` })).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      // With ALLOWED_ORIGINS empty, a page on this server may log in, a page elsewhere may not.
      expect((await post(server, { name: 'x' }, { origin: 'https://evil.example.net' })).status).toBe(403);
      expect((await post(server, { name: 'x' }, { origin: new URL(server.httpUrl).origin })).status).toBe(200);
    } finally {
      await limited.close();
    }
    const big = await post(server, JSON.stringify({ name: 'x', pad: 'p'.repeat(5000) }));
    expect(big.status).toBe(413);
    // Sent without Content-Length, in chunks: still a 413, not a reset connection.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(new URL('/api/login', server.httpUrl), { method: 'POST', ca: server.tls?.cert, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i += 1) req.write('x'.repeat(1000));
      req.end();
    });
    expect(chunked).toBe(413);
  });
});

describe('names and lengths', () => {
  it('names are NFKC-normalised and stripped of invisible and direction characters; a name of nothing visible is refused', async () => {
    const cases: Array<[string, string | undefined]> = [
      ['ali\u200bce', 'alice'],
      ['\u202eecila', 'ecila'],
      ['ａｌｉｃｅ', 'alice'],
      ['bo\u200fb\u2066', 'bob'],
      ['  小   明  ', '小 明'],
      ['\u3164', undefined],
      ['\u200b\u200d\ufeff', undefined],
    ];
    for (const [typed, shown] of cases) {
      const res = await post(server, { name: typed });
      if (shown === undefined) expect(res.status, JSON.stringify(typed)).toBe(400);
      else expect(res.body.name, JSON.stringify(typed)).toBe(shown);
    }
  });

  it('a message\'s length is counted in characters as the user sees them, not UTF-16 units', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('emoji');
    const full = '😀'.repeat(200);
    expect(await alice.request({ event: 'message', roomid: 'emoji', message: full, id: 'e1' })).toMatchObject({ event: 'ack' });
    const over = await alice.request({ event: 'message', roomid: 'emoji', message: `${full}😀`, id: 'e2' });
    expect(over).toMatchObject({ event: 'error', code: ErrorCode.TooLarge });
    await alice.close();
  });
});
