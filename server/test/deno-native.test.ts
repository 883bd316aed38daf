/**
 * What the native Deno adapter (DENO_WEBSOCKET=native: Deno.serve and Deno.upgradeWebSocket) does
 * differently from the `ws` stack, where Deno gives it no choice (docs/deno.md). The protocol suite
 * runs against it too (vitest project `deno-native`).
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CloseCode } from '../src/protocol.ts';
import { startDenoTestServer } from './deno-runtime.ts';
import { connectAs, login, sleep, TestClient, testEnv } from './harness.ts';
import { makeCertificate } from './test-certificates.ts';

const NATIVE = { DENO_WEBSOCKET: 'native' };

function handshake(port: number, version: 'TLSv1.1' | 'TLSv1.2'): Promise<{ ok: boolean; commonName?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: version, maxVersion: version }, () => {
      resolve({ ok: true, commonName: String(socket.getPeerCertificate().subject.CN) });
      socket.end();
    });
    socket.on('error', () => resolve({ ok: false }));
  });
}

describe('the native Deno adapter', () => {
  it('speaks TLS 1.2 and refuses TLS 1.1; SIGTERM closes open sockets with 1001', async () => {
    const server = await startDenoTestServer(testEnv(NATIVE));
    expect((await handshake(server.port, 'TLSv1.2')).ok).toBe(true);
    expect((await handshake(server.port, 'TLSv1.1')).ok).toBe(false);
    const alice = await connectAs(server, 'alice');
    await alice.join('deno-shutdown');
    await server.close();
    expect(await alice.closed).toBe(CloseCode.GoingAway);
  });

  it('invalid UTF-8 drops only that connection (Deno sends no 1007); the room carries on', async () => {
    const server = await startDenoTestServer(testEnv(NATIVE));
    try {
      const alice = await connectAs(server, 'alice');
      const bob = await connectAs(server, 'bob');
      await alice.join('deno-utf8');
      await bob.join('deno-utf8');
      alice.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      expect(await alice.closed).toBe(1006);
      await bob.say('deno-utf8', 'still here');
      expect((await bob.nextEvent('logout', { roomid: 'deno-utf8' })).name).toBe('alice');
      await bob.close();
    } finally {
      await server.close();
    }
  });

  it('a renewed TLS_CERT/TLS_KEY serves new handshakes; open sockets are moved over with 1001', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-deno-renew-'));
    const certPath = join(dir, 'fullchain.pem');
    const keyPath = join(dir, 'privkey.pem');
    const first = await makeCertificate('first.example.test');
    writeFileSync(certPath, first.cert);
    writeFileSync(keyPath, first.key);
    const server = await startDenoTestServer(
      testEnv({
        ...NATIVE,
        TLS_CERT: certPath,
        TLS_KEY: keyPath,
        TLS_RELOAD_INTERVAL_MS: '100',
        DEV_LOGIN: 'false',
        JWT_SECRET: 'renewal-test-secret-0123456789abcdef',
      }),
    );
    try {
      expect((await handshake(server.port, 'TLSv1.2')).commonName).toBe('first.example.test');
      const { token } = await login({ ...server, tls: { cert: first.cert } }, 'alice', 'alice-renewal');
      const open = new TestClient(new WebSocket(`${server.url}?token=${token}`, { ca: first.cert }));
      await open.nextEvent('welcome');

      const second = await makeCertificate('second.example.test');
      writeFileSync(keyPath, second.key);
      writeFileSync(certPath, second.cert);
      const deadline = Date.now() + 5000;
      while ((await handshake(server.port, 'TLSv1.2')).commonName !== 'second.example.test') {
        if (Date.now() > deadline) throw new Error('the renewed certificate was not picked up');
        // Polls a new handshake until the deadline: the reload is on the server's own timer.
        await sleep(100);
      }
      // Deno.serve closes the retired listener's sockets with 1001: clients reconnect and resume.
      expect(await open.closed).toBe(CloseCode.GoingAway);
    } finally {
      await server.close();
    }
  });
});
