/**
 * The plain-TCP read path (socket-reader.ts): every connection reads into one shared buffer and
 * `ws` parses a copy. What a user would notice if that went wrong: a message cut across reads
 * arriving mangled because another connection's read overwrote the buffer, a large message
 * arriving short, the protocol's checks no longer refusing bad frames, or a paused (slow-consumer)
 * connection that keeps reading. The TLS path is what the rest of the suite runs on.
 */

import { randomBytes } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { readIntoSharedBuffer } from '../src/node/socket-reader.ts';
import { CloseCode } from '../src/protocol.ts';
import { connectAs, startTestServer, type TestClient, type TestServer } from './harness.ts';

const MAX_PAYLOAD = 256 * 1024;

/** A client frame as a browser sends it: FIN, the opcode, masked with a random key. */
function clientFrame(payload: Buffer, { opcode = 0x1, masked = true } = {}): Buffer {
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lenBytes + (masked ? 4 : 0));
  head[0] = 0x80 | opcode;
  head[1] = (masked ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127);
  if (lenBytes === 2) head.writeUInt16BE(len, 2);
  if (lenBytes === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!masked) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + lenBytes);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i += 1) body[i] ^= key[i & 3];
  return Buffer.concat([head, body]);
}

const messageFrame = (roomid: string, message: string, id: string): Buffer =>
  clientFrame(Buffer.from(JSON.stringify({ event: 'message', roomid, message, id })));

/** A logged-in client whose TCP socket the test may also write raw bytes to. */
async function rawClient(server: TestServer, name: string): Promise<{ client: TestClient; socket: Socket }> {
  let socket: Socket | undefined;
  const createConnection = (options: object): Socket => {
    socket = net.connect(options as net.NetConnectOpts);
    return socket;
  };
  const client = await connectAs(server, name, undefined, { createConnection });
  return { client, socket: socket! };
}

describe('the shared read buffer on plain TCP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ PLAIN_HTTP: 'true', MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD), MAX_MESSAGE_CHARS: String(MAX_PAYLOAD) });
  });
  afterAll(() => server.close());

  it("a message cut across reads arrives whole, though other connections' reads used the buffer in between", async () => {
    const alice = await rawClient(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const carol = await connectAs(server, 'carol');
    for (const c of [alice.client, bob, carol]) await c.join('cut');
    const text = 'first half, then the rest: 前半と後半 '.repeat(20);
    const second = messageFrame('cut', text, 'a-2');
    const cut = 40;
    // One write: a whole message (its ack proves the server read this far) and the start of the next.
    alice.socket.write(Buffer.concat([messageFrame('cut', 'whole', 'a-1'), second.subarray(0, cut)]));
    await alice.client.nextEvent('ack', { id: 'a-1' });
    // Other connections read into the same buffer meanwhile.
    for (let i = 0; i < 5; i += 1) await bob.say('cut', `bob ${i} ${'x'.repeat(300)}`);
    alice.socket.write(second.subarray(cut));
    await alice.client.nextEvent('ack', { id: 'a-2' });
    const seen = await carol.waitFor(() => carol.messages('cut').find((m) => m.id === 'a-2'));
    expect(seen.message).toBe(text);
    expect(carol.messages('cut').map((m) => m.message.slice(0, 5))).toEqual(['whole', 'bob 0', 'bob 1', 'bob 2', 'bob 3', 'bob 4', 'first']);
    await Promise.all([alice.client.close(), bob.close(), carol.close()]);
  });

  it('a message larger than the shared buffer arrives whole, and fifty frames in one write arrive in order', async () => {
    const alice = await rawClient(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.client.join('big');
    await bob.join('big');
    const big = Array.from({ length: 200_000 }, (_, i) => String.fromCharCode(0x61 + (i % 26))).join('');
    alice.socket.write(messageFrame('big', big, 'big-1'));
    await alice.client.nextEvent('ack', { id: 'big-1' });
    expect((await bob.waitFor(() => bob.messages('big')[0])).message).toBe(big);

    alice.socket.write(Buffer.concat(Array.from({ length: 50 }, (_, i) => messageFrame('big', `n${i}`, `n-${i}`))));
    await alice.client.nextEvent('ack', { id: 'n-49' });
    await bob.waitFor(() => bob.messages('big').length === 51);
    expect(bob.messages('big').map((m) => m.message)).toEqual([big, ...Array.from({ length: 50 }, (_, i) => `n${i}`)]);
    await Promise.all([alice.client.close(), bob.close()]);
  });

  it("ws's checks still refuse bad frames: unmasked 1002, over MAX_PAYLOAD_BYTES 1009, invalid UTF-8 1007; the room carries on", async () => {
    const bob = await connectAs(server, 'bob');
    await bob.join('checks');
    // RFC 6455's codes, sent by ws's Receiver: 1002 protocol error, 1007 invalid payload data.
    const cases: [Buffer, number][] = [
      [clientFrame(Buffer.from('{"event":"rooms"}'), { masked: false }), 1002],
      [clientFrame(Buffer.alloc(MAX_PAYLOAD + 1, 0x20)), CloseCode.MessageTooBig],
      [clientFrame(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 1007],
    ];
    for (const [frame, code] of cases) {
      const mallory = await rawClient(server, 'mallory');
      mallory.socket.write(frame);
      expect(await mallory.client.closed).toBe(code);
      await bob.say('checks', `still here after ${code}`);
    }
    expect(bob.messages('checks').map((m) => m.message)).toEqual(['still here after 1002', 'still here after 1009', 'still here after 1007']);
    await bob.close();
  });
});

describe('readIntoSharedBuffer on a socket of its own', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  async function acceptedPair(): Promise<{ accepted: Socket; client: Socket }> {
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const accepting = new Promise<Socket>((resolve) => listener.once('connection', resolve));
    const client = net.connect((listener.address() as AddressInfo).port, '127.0.0.1');
    const accepted = await accepting;
    cleanups.push(() => {
      client.destroy();
      accepted.destroy();
      listener.close();
    });
    return { accepted, client };
  }

  it('a paused socket stops reading: the sender backs up, and after resume every byte arrives in order', async () => {
    const { accepted, client } = await acceptedPair();
    const chunks: Buffer[] = [];
    let receivedBytes = 0;
    accepted.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      receivedBytes += chunk.length;
    });
    expect(readIntoSharedBuffer(accepted)).toBe(true);
    accepted.pause();
    const sent = randomBytes(8 * 1024 * 1024);
    client.write(sent);
    // The kernel's buffers fill and the rest stays in the client's stream: nothing is being read.
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (client.writableLength > 0 && client.writableNeedDrain) resolve();
        else setImmediate(check);
      };
      check();
    });
    expect(receivedBytes).toBeLessThan(sent.length);
    accepted.resume();
    await new Promise<void>((resolve) => client.once('drain', resolve));
    client.end();
    await new Promise<void>((resolve) => accepted.once('end', resolve));
    expect(Buffer.concat(chunks).equals(sent)).toBe(true);
  });

  it('is refused for a TLS socket and for a socket already reading into its own buffer', async () => {
    const { accepted } = await acceptedPair();
    expect(readIntoSharedBuffer(accepted)).toBe(true);
    expect(readIntoSharedBuffer(accepted)).toBe(false);
    const fakeTls = Object.assign(new net.Socket(), { encrypted: true });
    cleanups.push(() => fakeTls.destroy());
    expect(readIntoSharedBuffer(fakeTls)).toBe(false);
  });

  it('leaves a ws server on plain TCP working end to end', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    cleanups.push(() => wss.close());
    const adopted: boolean[] = [];
    wss.on('connection', (ws, req) => {
      adopted.push(readIntoSharedBuffer(req.socket));
      ws.on('message', (data) => ws.send(`echo ${data.toString()}`));
    });
    const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    cleanups.push(() => ws.terminate());
    await new Promise<void>((resolve) => ws.once('open', resolve));
    const replies: string[] = [];
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        replies.push(data.toString());
        if (replies.length === 3) resolve();
      }),
    );
    for (const word of ['一', 'two', 'three']) ws.send(word);
    await done;
    expect(adopted).toEqual([true]);
    expect(replies).toEqual(['echo 一', 'echo two', 'echo three']);
  });
});
