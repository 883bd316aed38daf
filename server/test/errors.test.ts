import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, ErrorCode } from '../src/protocol.ts';
import { connectAs, startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_PAYLOAD_BYTES: '4096', MAX_MESSAGE_CHARS: '200' });
});
afterAll(() => server.close());

describe('bad input gets an error; the connection, the server and other rooms carry on', () => {
  it('each bad frame gets its documented error code and nothing is broadcast', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const carol = await connectAs(server, 'carol');
    await alice.join('bad');
    await bob.join('bad');
    await carol.join('other');
    const cases: Array<[unknown, ErrorCode]> = [
      ['{not json', ErrorCode.InvalidJson],
      ['[1,2,3]', ErrorCode.InvalidJson],
      ['"just a string"', ErrorCode.InvalidJson],
      ['null', ErrorCode.InvalidJson],
      [{ message: 'no event' }, ErrorCode.UnknownEvent],
      [{ event: 'explode' }, ErrorCode.UnknownEvent],
      [{ event: 42 }, ErrorCode.UnknownEvent],
      [{ event: 'message', roomid: 'bad', message: 42 }, ErrorCode.InvalidField],
      [{ event: 'message', roomid: 'bad', message: '   ' }, ErrorCode.InvalidField],
      [{ event: 'message', roomid: 'bad', message: 'x'.repeat(201) }, ErrorCode.TooLarge],
      [{ event: 'message', roomid: { $ne: 1 }, message: 'hi' }, ErrorCode.InvalidField],
      [{ event: 'message', roomid: 'bad', message: 'hi', id: 7 }, ErrorCode.InvalidField],
      [{ event: 'message', roomid: 'other', message: 'sneak' }, ErrorCode.NotMember],
      [{ event: 'message', to: 'not a uid!', message: 'hi' }, ErrorCode.InvalidField],
      [{ event: 'message', roomid: 'bad', message: 'hi', uid: bob.user.uid }, ErrorCode.ForgedIdentity],
      [{ event: 'message', roomid: 'bad', message: 'hi', name: 'bob' }, ErrorCode.ForgedIdentity],
      [{ event: 'join', roomid: '' }, ErrorCode.InvalidField],
      [{ event: 'join', roomid: 'a b' }, ErrorCode.InvalidField],
      [{ event: 'join', roomid: 'dm:x|y' }, ErrorCode.InvalidField],
      [{ event: 'join', roomid: 'ok', since: -1 }, ErrorCode.InvalidField],
      [{ event: 'join', roomid: 'ok', since: '3' }, ErrorCode.InvalidField],
      [{ event: 'login', roomid: 'ok', uid: 'someone-else' }, ErrorCode.ForgedIdentity],
      [{ event: 'history', roomid: 'bad', limit: 1.5 }, ErrorCode.InvalidField],
      [{ event: 'leave', roomid: 'never-joined' }, ErrorCode.NotMember],
    ];
    for (const [frame, code] of cases) {
      const from = alice.frames.length;
      alice.send(frame);
      const reply = await alice.next((f) => f.event === 'error', 2000, from);
      expect(reply.code, JSON.stringify(frame)).toBe(code);
      expect(typeof reply.message).toBe('string');
    }
    // The error carries the frame's id as ref.
    const withRef = await alice.request({ event: 'message', roomid: 'bad', message: 5, id: 'ref-me' });
    expect(withRef).toMatchObject({ event: 'error', code: ErrorCode.InvalidField, ref: 'ref-me' });

    await alice.say('bad', 'still works');
    await bob.waitFor(() => bob.messages('bad').length === 1);
    expect(bob.messages('bad').map((m) => m.message)).toEqual(['still works']);
    expect(bob.events('error')).toHaveLength(0);
    expect(carol.messages()).toHaveLength(0);
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  it('a binary frame gets an error and the connection stays', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('bin');
    alice.ws.send(Buffer.from([1, 2, 3]));
    expect(await alice.nextEvent('error')).toMatchObject({ code: ErrorCode.BinaryFrame });
    await alice.say('bin', 'text still flows');
    await alice.close();
  });

  it('a frame over maxPayload closes only that connection with 1009; the room carries on', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('big');
    await bob.join('big');
    alice.send({ event: 'message', roomid: 'big', message: 'y'.repeat(10_000) });
    expect(await alice.closed).toBe(CloseCode.MessageTooBig);
    expect((await bob.nextEvent('logout', { roomid: 'big' })).name).toBe('alice');
    const carol = await connectAs(server, 'carol');
    await carol.join('big');
    await carol.say('big', 'after the storm');
    await bob.waitFor(() => bob.messages('big').length === 1);
    await Promise.all([bob.close(), carol.close()]);
  });

  it('invalid UTF-8 in a text frame closes that connection with 1007', async () => {
    const alice = await connectAs(server, 'alice');
    // A text frame whose payload is not UTF-8: bypass ws's own encoding.
    alice.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    // Deno.upgradeWebSocket (DENO_WEBSOCKET=native) drops such a connection without a close frame (docs/deno.md).
    expect(await alice.closed).toBe(process.env.DENO_WEBSOCKET === 'native' ? 1006 : 1007);
  });

  it('a flood is rate limited with an error, then closed', async () => {
    const strict = await startTestServer({ RATE_LIMIT_PER_SEC: '5', RATE_LIMIT_BURST: '5' });
    try {
      const alice = await connectAs(strict, 'alice');
      for (let i = 0; i < 100; i += 1) alice.send({ event: 'rooms' });
      expect(await alice.nextEvent('error', { code: ErrorCode.RateLimited })).toBeTruthy();
      expect(await alice.closed).toBe(CloseCode.RateLimited);
      // Others are unaffected.
      const bob = await connectAs(strict, 'bob');
      await bob.join('calm');
      await bob.close();
    } finally {
      await strict.close();
    }
  });
});
