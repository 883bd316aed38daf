/**
 * Typing (对方正在输入…): reaches the open connections of the direct chat's peer and nobody else,
 * at most once per TYPING_INTERVAL_MS per connection, and is never kept for later.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directRoomId, ErrorCode } from '../src/protocol.ts';
import { connectAs, startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ TYPING_INTERVAL_MS: '60000' });
});
afterAll(() => server.close());

describe('typing', () => {
  it('reaches every open connection of the peer, once per interval, and nobody else', async () => {
    const alice = await connectAs(server, 'alice');
    const aliceTab = await connectAs(server, 'alice', alice.user.uid);
    const bob = await connectAs(server, 'bob');
    const bobPhone = await connectAs(server, 'bob', bob.user.uid);
    const carol = await connectAs(server, 'carol');
    await alice.request({ event: 'message', to: bob.user.uid, message: 'hi' });
    alice.send({ event: 'typing', to: bob.user.uid });
    alice.send({ event: 'typing', to: bob.user.uid });
    const roomid = directRoomId(alice.user.uid, bob.user.uid);
    for (const client of [bob, bobPhone]) expect(await client.nextEvent('typing')).toEqual({ event: 'typing', roomid, uid: alice.user.uid, name: 'alice' });
    // Everything alice sent before these replies has been handled and passed on by now.
    await alice.request({ event: 'rooms' });
    await Promise.all([bob, bobPhone, aliceTab, carol].map((client) => client.request({ event: 'rooms' })));
    expect(bob.events('typing')).toHaveLength(1);
    expect(bobPhone.events('typing')).toHaveLength(1);
    expect(aliceTab.events('typing')).toHaveLength(0);
    expect(carol.events('typing')).toHaveLength(0);
    expect(alice.events('error')).toHaveLength(0);
    await Promise.all([alice.close(), aliceTab.close(), bob.close(), bobPhone.close(), carol.close()]);
  });

  it('is never queued for a peer who is offline, and is refused outside a conversation', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const stranger = await connectAs(server, 'stranger');
    await alice.request({ event: 'message', to: bob.user.uid, message: 'hi' });
    await bob.close();
    // A message is queued for bob; a typing is not.
    await alice.request({ event: 'message', to: bob.user.uid, message: 'queued' });
    alice.send({ event: 'typing', to: bob.user.uid });
    expect(await stranger.request({ event: 'typing', to: alice.user.uid })).toMatchObject({ event: 'error', code: ErrorCode.NotMember });
    await alice.request({ event: 'rooms' });
    const back = await connectAs(server, 'bob', bob.user.uid);
    await back.request({ event: 'rooms' });
    expect(back.events('typing')).toHaveLength(0);
    expect(back.messages().map((m) => m.message)).toEqual(['queued']);
    await Promise.all([alice.close(), back.close(), stranger.close()]);
  });
});
