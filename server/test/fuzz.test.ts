/**
 * Property-based fuzzing of frames over real sockets: whatever a client sends, the server answers
 * with documented errors or close codes, keeps running, and other rooms never notice.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientEvent, CloseCode, ErrorCode } from '../src/protocol.ts';
import { connectAs, httpRequest, startTestServer, type TestClient, type TestServer } from './harness.ts';

const MAX_PAYLOAD = 16 * 1024;
const ERROR_CODES = new Set<number>(Object.values(ErrorCode).filter((v) => typeof v === 'number') as number[]);
// Invalid UTF-8: ws closes with 1007; Deno.upgradeWebSocket drops the connection, which the client sees as 1006 (docs/deno.md).
const INVALID_UTF8_CLOSE = process.env.DENO_WEBSOCKET === 'native' ? 1006 : 1007;
const CLOSE_CODES = new Set<number>([...(Object.values(CloseCode).filter((v) => typeof v === 'number') as number[]), INVALID_UTF8_CLOSE]);
const KNOWN_REPLIES = new Set([
  'error',
  'noauth',
  'authed',
  'joined',
  'left',
  'login',
  'logout',
  'message',
  'ack',
  'members',
  'rooms',
  'history',
  'heartbeat',
  'welcome',
  'read',
  'receipts',
  'readers',
  'typing',
]);

type Wire = { kind: 'text'; data: string } | { kind: 'binary'; data: Uint8Array } | { kind: 'fragments'; parts: string[] } | { kind: 'bad-utf8' };

const eventName = fc.oneof(fc.constantFrom(...Object.values(ClientEvent)), fc.string({ maxLength: 12 }));
const fieldValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.constant(''), fc.integer(), fc.double());
const frameObject = fc.record(
  {
    event: eventName,
    roomid: fc.oneof(fc.constantFrom('fuzz', 'watch', 'dm:x|y', ''), fc.string({ maxLength: 150 }), fc.jsonValue({ maxDepth: 1 })),
    message: fieldValue,
    to: fieldValue,
    id: fc.oneof(fc.uuid(), fc.string({ maxLength: 80 }), fc.integer()),
    since: fc.oneof(fc.integer({ min: -5, max: 1e9 }), fc.double(), fc.string({ maxLength: 5 })),
    uid: fieldValue,
    name: fieldValue,
    limit: fieldValue,
    seq: fc.oneof(fc.integer({ min: -2, max: 40 }), fieldValue),
    seqs: fc.oneof(fc.array(fc.integer({ min: -1, max: 300 }), { maxLength: 120 }), fieldValue),
    quote: fc.oneof(fc.record({ roomid: fc.constantFrom('fuzz', 'watch', 'dm:x|y'), seq: fc.integer({ min: 0, max: 20 }) }), fieldValue),
    mentions: fc.oneof(fc.array(fc.string({ maxLength: 70 }), { maxLength: 60 }), fieldValue),
    mentionAll: fc.oneof(fc.boolean(), fieldValue),
    kind: fc.oneof(fc.constantFrom('text', 'image', 'recall'), fieldValue),
  },
  { requiredKeys: [] },
);
const deepNesting = fc.integer({ min: 100, max: MAX_PAYLOAD / 2 - 10 }).map((n) => '['.repeat(n) + ']'.repeat(n));
const wire: fc.Arbitrary<Wire> = fc.oneof(
  { weight: 6, arbitrary: frameObject.map((o) => ({ kind: 'text' as const, data: JSON.stringify(o) })) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }).map((data) => ({ kind: 'text' as const, data })) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }).map((data) => ({ kind: 'text' as const, data })) },
  { weight: 1, arbitrary: deepNesting.map((data) => ({ kind: 'text' as const, data })) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1000, max: MAX_PAYLOAD * 2 })
      .map((n) => ({ kind: 'text' as const, data: JSON.stringify({ event: 'message', roomid: 'fuzz', message: 'x'.repeat(n) }) })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((data) => ({ kind: 'binary' as const, data })) },
  {
    weight: 1,
    arbitrary: fc.array(fc.string({ maxLength: 40 }), { minLength: 2, maxLength: 5 }).map((parts) => ({
      kind: 'fragments' as const,
      parts: [
        JSON.stringify({ event: 'message', roomid: 'fuzz', message: parts.join('') }).slice(0, 10),
        JSON.stringify({ event: 'message', roomid: 'fuzz', message: parts.join('') }).slice(10),
      ],
    })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'bad-utf8' as const }) },
);

let server: TestServer;
let watcherA: TestClient;
let watcherB: TestClient;
beforeAll(async () => {
  server = await startTestServer({ MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD), MAX_MESSAGE_CHARS: '2000' });
  watcherA = await connectAs(server, 'watcher-a');
  watcherB = await connectAs(server, 'watcher-b');
  await watcherA.join('watch');
  await watcherB.join('watch');
});
afterAll(async () => {
  await Promise.all([watcherA.close(), watcherB.close()]);
  await server.close();
});

function transmit(client: TestClient, item: Wire): void {
  const ws = client.ws;
  if (ws.readyState !== ws.OPEN) return;
  if (item.kind === 'text') ws.send(item.data);
  else if (item.kind === 'binary') ws.send(item.data, { binary: true });
  else if (item.kind === 'bad-utf8') ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false });
  else for (const [i, part] of item.parts.entries()) ws.send(part, { fin: i === item.parts.length - 1 });
}

describe('fuzzing frames over real sockets', () => {
  it('every frame gets a documented answer; the server and other rooms carry on', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(wire, { minLength: 1, maxLength: 12 }), async (frames) => {
        run += 1;
        const fuzzer = await connectAs(server, 'fuzzer');
        await fuzzer.join('fuzz');
        for (const item of frames) transmit(fuzzer, item);
        // A marker request: once it is answered, everything before it was handled.
        if (fuzzer.ws.readyState === fuzzer.ws.OPEN) fuzzer.send({ event: 'rooms', id: `marker-${run}` });
        await fuzzer.waitFor(() => fuzzer.closeCode !== undefined || fuzzer.frames.some((f) => f.ref === `marker-${run}`), 5000, 'the marker reply or a close');
        for (const frame of fuzzer.frames) {
          expect(KNOWN_REPLIES.has(frame.event), JSON.stringify(frame)).toBe(true);
          if (frame.event === 'error') expect(ERROR_CODES.has(frame.code as number), JSON.stringify(frame)).toBe(true);
        }
        if (fuzzer.closeCode !== undefined) expect(CLOSE_CODES.has(fuzzer.closeCode), `close ${fuzzer.closeCode}`).toBe(true);
        await fuzzer.close();
      }),
      { numRuns: 40, interruptAfterTimeLimit: 60_000 },
    );
    expect((await httpRequest(server, '/healthz')).status).toBe(200);
    await watcherA.say('watch', 'still talking');
    await watcherB.waitFor(() => watcherB.messages('watch').length === 1);
    await Promise.all([watcherA.settled(), watcherB.settled()]);
    for (const watcher of [watcherA, watcherB]) {
      expect(watcher.frames.filter((f) => f.roomid !== undefined && f.roomid !== 'watch')).toEqual([]);
      expect(watcher.events('error')).toEqual([]);
    }
  });
});
