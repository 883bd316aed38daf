import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { login, sleep, startTestServer, TestClient } from './harness.ts';
import { makeCertificate } from './test-certificates.ts';

function servedCommonName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(String(socket.getPeerCertificate().subject.CN));
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('certificate renewal', () => {
  it('a renewed TLS_CERT/TLS_KEY is picked up live: new handshakes get it, open sockets stay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-renew-'));
    const certPath = join(dir, 'fullchain.pem');
    const keyPath = join(dir, 'privkey.pem');
    const first = await makeCertificate('first.example.test');
    writeFileSync(certPath, first.cert);
    writeFileSync(keyPath, first.key);
    const server = await startTestServer({
      TLS_CERT: certPath,
      TLS_KEY: keyPath,
      TLS_RELOAD_INTERVAL_MS: '100',
      DEV_LOGIN: 'false',
      JWT_SECRET: 'renewal-test-secret-0123456789abcdef',
    });
    try {
      expect(await servedCommonName(server.port)).toBe('first.example.test');
      const { token } = await login({ ...server, tls: { cert: first.cert } }, 'alice', 'alice-renewal');
      const open = new TestClient(new WebSocket(`${server.url}?token=${token}`, { ca: first.cert }));
      await open.nextEvent('welcome');
      await open.join('renewal');

      const second = await makeCertificate('second.example.test');
      writeFileSync(keyPath, second.key);
      writeFileSync(certPath, second.cert);
      const deadline = Date.now() + 5000;
      while ((await servedCommonName(server.port)) !== 'second.example.test') {
        if (Date.now() > deadline) throw new Error('the renewed certificate was not picked up');
        // Polls a new handshake until the deadline: the reload is on the server's own timer.
        await sleep(100);
      }
      // The socket opened before the renewal is still there and still works.
      expect(open.closeCode).toBeUndefined();
      await open.say('renewal', 'still here');
      await open.close();
    } finally {
      await server.close();
    }
  });
});
