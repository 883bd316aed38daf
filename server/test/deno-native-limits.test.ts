/**
 * What the native Deno adapter does where Deno sets no limit of its own (docs/deno.md): a
 * fragmented message Deno would assemble without bound, and sockets Deno cannot abort.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../src/protocol.ts';
import { startDenoTestServer } from './deno-runtime.ts';
import { connect, connectAs, httpRequest, type TestServer, testEnv } from './harness.ts';

const NATIVE = { DENO_WEBSOCKET: 'native' };
const MiB = 1024 * 1024;

/** A client frame: masked, as RFC 6455 requires of clients. */
function clientFrame(opcode: number, fin: boolean, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const header = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + 4 + len);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (header === 2) frame[1] = 0x80 | len;
  else if (header === 4) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  mask.copy(frame, header);
  for (let i = 0; i < len; i += 1) frame[header + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/**
 * Asks for an upgrade and then, whatever the answer, sends one text message of `mib` MiB as 1 MiB
 * fragments (a text frame with FIN=0, continuation frames, the last with FIN=1). Resolves with the
 * server's answer once the server closes the connection or everything is sent.
 */
function sendFragmentedMessage(port: number, headers: Record<string, string>, mib: number): Promise<{ answer: string; sentMiB: number }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const fragment = Buffer.alloc(MiB, 'a');
    const first = clientFrame(0x1, false, fragment);
    const middle = clientFrame(0x0, false, fragment);
    const last = clientFrame(0x0, true, fragment);
    let answer = '';
    let sent = 0;
    const pump = (): void => {
      while (sent < mib && !socket.destroyed) {
        sent += 1;
        if (!socket.write(sent === 1 ? first : sent === mib ? last : middle)) {
          socket.once('drain', pump);
          return;
        }
      }
      // Everything is out: give the server time to answer, then hang up.
      if (!socket.destroyed) setTimeout(() => socket.end(), 2000);
    };
    socket.on('data', (data: Buffer) => {
      const answered = answer.includes('\r\n\r\n');
      answer += data.toString('latin1');
      // The answer read first: a refusal followed by a reset could otherwise lose it.
      if (!answered && answer.includes('\r\n\r\n')) pump();
    });
    const finish = (): void => resolve({ answer, sentMiB: sent });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.once('secureConnect', () => {
      const extra = Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      socket.write(
        `GET /?v=1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      );
    });
  });
}

/** Resident memory of a process, from /proc/<pid>/status. */
function rssBytes(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib) * 1024;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function slowConsumerCloses(server: TestServer): Promise<number> {
  const metrics = await httpRequest(server, '/metrics');
  return Number(/^chatroom_slow_consumer_closes_total (\d+)/m.exec(metrics.text)?.[1] ?? 0);
}

describe('the native Deno adapter where Deno sets no limit', () => {
  it('a remote client is refused before its upgrade: a 600 MiB fragmented message leaves the server up, its memory flat', async () => {
    // TRUST_PROXY: the attacker's address is the one a proxy on this machine forwards.
    const server = await startDenoTestServer(testEnv({ ...NATIVE, TRUST_PROXY: 'true' }));
    try {
      const bob = await connectAs(server, 'bob');
      const carol = await connectAs(server, 'carol');
      await bob.join('deno-fragments');
      await carol.join('deno-fragments');
      const baseline = rssBytes(server.pid);
      let peak = baseline;
      const sampler = setInterval(() => {
        if (isRunning(server.pid)) peak = Math.max(peak, rssBytes(server.pid));
      }, 20);
      let attack: { answer: string; sentMiB: number };
      try {
        attack = await sendFragmentedMessage(server.port, { 'X-Forwarded-For': '198.51.100.7' }, 600);
      } finally {
        clearInterval(sampler);
      }
      // Before this refusal, Deno answered 101, assembled the message (RSS past 1.2 GB) and died.
      expect(attack.answer).toMatch(/^HTTP\/1\.1 403 /);
      expect(attack.answer).toContain('DENO_WEBSOCKET=native serves loopback clients only');
      expect(isRunning(server.pid)).toBe(true);
      expect(peak - baseline).toBeLessThan(64 * MiB);
      await bob.say('deno-fragments', 'still here');
      expect((await carol.nextEvent('message', { roomid: 'deno-fragments' })).message).toBe('still here');
      await Promise.all([bob.close(), carol.close()]);
    } finally {
      await server.close();
    }
  });

  it('a forwarded upgrade is local only if TRUST_PROXY vouches for the header: without it, it is refused', async () => {
    const [server, untrusting] = await Promise.all([startDenoTestServer(testEnv({ ...NATIVE, TRUST_PROXY: 'true' })), startDenoTestServer(testEnv(NATIVE))]);
    try {
      const local = await connect(server, { headers: { 'X-Forwarded-For': '127.0.0.1' } });
      await expect(connect(untrusting, { headers: { 'X-Forwarded-For': '127.0.0.1' } })).rejects.toThrow('403');
      const direct = await connect(untrusting);
      await Promise.all([local.close(), direct.close()]);
    } finally {
      await Promise.all([server.close(), untrusting.close()]);
    }
  });

  it('a slow consumer closed with 4008 counts against its address until its socket has really closed', async () => {
    const server = await startDenoTestServer(
      testEnv({
        ...NATIVE,
        CONNECTIONS_PER_ADDRESS: '3',
        SEND_BUFFER_LIMIT_BYTES: String(256 * 1024),
        MAX_MESSAGE_CHARS: '16000',
        RATE_LIMIT_PER_SEC: '10000',
        RATE_LIMIT_BURST: '10000',
      }),
    );
    try {
      const sender = await connectAs(server, 'sender');
      const watcher = await connectAs(server, 'watcher');
      const slow = await connectAs(server, 'slow');
      for (const c of [sender, watcher, slow]) await c.join('firehose');
      // ws's own pause: it stops reading the TCP socket, so the server's writes back up.
      slow.ws.pause();
      // Until the server gives up on the paused member: the kernel's buffers fill first, then Deno's
      // queue. Paced in bursts of 160 KB, which the members that read take without a backlog.
      const body = 'z'.repeat(16_000);
      for (let sent = 0; sent % 100 !== 0 || (await slowConsumerCloses(server)) === 0; ) {
        if (sent >= 5000) throw new Error('the paused member was never closed as a slow consumer');
        for (const end = sent + 10; sent < end; sent += 1) sender.send({ event: 'message', roomid: 'firehose', message: body, id: `f${sent}` });
        await watcher.waitFor(() => watcher.messages('firehose').length === sent, 5000, `message ${sent}`);
      }
      // The core has let go of it (its room is told), but Deno still holds the socket and its queue.
      expect((await watcher.nextEvent('logout', { uid: slow.user.uid }, 5000)).name).toBe('slow');
      await expect(connect(server, { token: slow.user.token })).rejects.toThrow('429');

      // Once it reads, it gets its close frame and answers it: the socket is really closed.
      slow.ws.resume();
      expect(await slow.closed).toBe(CloseCode.SlowConsumer);
      const next = await connect(server, { token: slow.user.token });
      await Promise.all([next.close(), sender.close(), watcher.close()]);
    } finally {
      await server.close();
    }
  });
});
