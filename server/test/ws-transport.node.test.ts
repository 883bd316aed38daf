/**
 * The `ws` transport on its own, over real sockets: what `bufferedAmount` counts (the core closes a
 * slow consumer on it), and that frames arrive whole and in order whichever way they were written:
 * straight to the TCP handle (plain ws://), queued by libuv when the peer stops reading, or through
 * the socket's stream (TLS, and ws's own ping and close frames).
 */

import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { WriteCoalescer } from '../src/node/write-coalescer.ts';
import { FLUSH_AT_BYTES, WsTransport } from '../src/node/ws-transport.ts';
import { eventually } from './harness.ts';
import { makeCertificate } from './test-certificates.ts';

/** SEND_BUFFER_LIMIT_BYTES's default. */
const LIMIT = 1024 * 1024;

interface Pair {
  transport: WsTransport;
  serverWs: WebSocket;
  client: WebSocket;
  /** What the client got, in order: message texts and `ping`. */
  received: string[];
  clientSocket: Socket;
}

const opened: { http: Server; wss: WebSocketServer; client: WebSocket }[] = [];
afterEach(async () => {
  for (const { http, wss, client } of opened.splice(0)) {
    client.terminate();
    wss.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  }
});

async function openPair(secure: boolean): Promise<Pair> {
  const tls = secure ? await makeCertificate('transport-test') : undefined;
  const http = tls ? createHttpsServer(tls) : createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const connected = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`${secure ? 'wss' : 'ws'}://127.0.0.1:${port}/`, { ca: tls?.cert, perMessageDeflate: false });
  opened.push({ http, wss, client });
  const received: string[] = [];
  client.on('message', (data) => received.push(data.toString()));
  client.on('ping', () => received.push('ping'));
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  const serverWs = await connected;
  const transport = new WsTransport(serverWs, false, new WriteCoalescer(1));
  return { transport, serverWs, client, received, clientSocket: (client as unknown as { _socket: Socket })._socket };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe.each([
  ['plain TCP: written to the handle', false],
  ['TLS: written through the stream', true],
])('ws transport, %s', (_name, secure) => {
  it('counts frames queued in this turn before any is written, and nothing once the client has read them', async () => {
    const { transport, client, received } = await openPair(secure);
    const texts = ['one', 'two', 'three'];
    for (const text of texts) transport.send(text);
    // Three frames of 2-byte header + text, none written yet.
    expect(transport.bufferedAmount).toBe(texts.reduce((sum, t) => sum + 2 + t.length, 0));
    await eventually(() => received.length === texts.length, 10_000, 'the three frames');
    expect(received).toEqual(texts);
    await eventually(() => transport.bufferedAmount === 0, 10_000, 'an empty backlog');
    expect(client.readyState).toBe(WebSocket.OPEN);
  });

  it('sees a burst to a client that does not read pass the limit within the turn; every frame still arrives, in order', async () => {
    const { transport, serverWs, received, clientSocket } = await openPair(secure);
    clientSocket.pause();
    await nextTurn();
    const body = 'x'.repeat(60_000);
    // Far more than the kernel takes for a peer that does not read (its buffers are a few MiB).
    const cap = 256 * 1024 * 1024;
    let sent = 0;
    let bytes = 0;
    // One synchronous burst, as a batch of large replies is: the check the core makes after every send.
    while (transport.bufferedAmount <= LIMIT && bytes < cap) {
      transport.send(`${sent}:${body}`);
      sent += 1;
      bytes += body.length;
    }
    expect(bytes).toBeLessThan(cap);
    expect(transport.bufferedAmount).toBeGreaterThan(LIMIT);
    // Held by this process: the limit, the last frame and at most one flush threshold over it.
    expect(transport.bufferedAmount).toBeLessThanOrEqual(LIMIT + body.length + FLUSH_AT_BYTES + 16);
    // ws's own frames go through the stream; they must not overtake what is queued before them.
    serverWs.ping();
    transport.send(`${sent}:after the ping`);
    sent += 1;
    clientSocket.resume();
    await eventually(() => received.length === sent + 1, 20_000, `${sent} frames and the ping`);
    const order = received.map((text) => (text === 'ping' ? 'ping' : Number(text.slice(0, text.indexOf(':')))));
    expect(order).toEqual([...Array.from({ length: sent - 1 }, (_, i) => i), 'ping', sent - 1]);
    expect(received.slice(0, sent - 1).every((text) => text.endsWith(body))).toBe(true);
    await eventually(() => transport.bufferedAmount === 0, 10_000, 'an empty backlog once everything was read');
  });

  it('frames text of every length encoding and multi-byte UTF-8 intact, the same text twice included', async () => {
    const { transport, received } = await openPair(secure);
    // 7-bit, 16-bit and 64-bit payload lengths; 3-byte UTF-8 characters across the boundaries.
    const texts = ['你好', '小明: '.padEnd(125, '好'), 'x'.repeat(126), '群'.repeat(30_000), 'y'.repeat(70_000), '群'.repeat(30_000)];
    for (const text of texts) transport.send(text);
    await eventually(() => received.length === texts.length, 10_000, 'every frame');
    expect(received).toEqual(texts);
  });

  it('writes what is queued before the close frame', async () => {
    const { transport, client, received } = await openPair(secure);
    for (let i = 0; i < 5; i += 1) transport.send(`frame ${i}`);
    const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
    transport.close(4008, 'reading too slowly');
    expect(await closed).toBe(4008);
    expect(received).toEqual([0, 1, 2, 3, 4].map((i) => `frame ${i}`));
  });
});

// A TLS client socket cannot send a TCP reset (resetAndDestroy needs a TCP handle).
describe('ws transport, plain TCP: written to the handle', () => {
  it('a peer that resets the connection with writes still queued: the server side closes and lets go of them', async () => {
    const { transport, serverWs, clientSocket } = await openPair(false);
    clientSocket.pause();
    await nextTurn();
    const body = 'r'.repeat(60_000);
    while (transport.bufferedAmount <= LIMIT) transport.send(body);
    const closed = new Promise<number>((resolve) => serverWs.once('close', (code) => resolve(code)));
    clientSocket.resetAndDestroy();
    expect(await closed).toBe(1006);
    expect(transport.open).toBe(false);
    await eventually(() => transport.bufferedAmount === 0, 10_000, 'nothing counted once the socket is gone');
  });
});
