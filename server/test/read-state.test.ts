/**
 * Read state (已读/未读) and mentions (@), as users see them: a read cursor kept by the server and
 * synced across a user's devices, unread counts and mentions in `rooms` and `joined` (offline
 * members included), the peer's cursor in a direct chat, and read receipts for one's own messages.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directRoomId, ErrorCode } from '../src/protocol.ts';
import { connectAs, startTestServer, type TestClient, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ READ_COALESCE_MS: '300' });
});
afterAll(() => server.close());

async function summary(client: TestClient, roomid: string): Promise<Record<string, unknown>> {
  const reply = await client.request({ event: 'rooms' });
  return (reply.rooms as Record<string, unknown>[]).find((room) => room.roomid === roomid)!;
}

describe('read cursors', () => {
  it("are kept by the server, reach the user's other devices, and give unread counts in rooms and joined", async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const bobPhone = await connectAs(server, 'bob', bob.user.uid);
    await alice.join('rs-sync');
    const joined = await bob.join('rs-sync');
    expect(joined).toMatchObject({ read: 0, lastSeq: 0 });
    for (let i = 1; i <= 5; i += 1) await alice.say('rs-sync', `m${i}`);
    expect(await summary(bob, 'rs-sync')).toMatchObject({ lastSeq: 5, read: 0, unread: 5 });
    const reply = await bob.request({ event: 'read', roomid: 'rs-sync', seq: 3 });
    expect(reply).toMatchObject({ event: 'read', roomid: 'rs-sync', uid: bob.user.uid, seq: 3 });
    // The phone never joined the room: the cursor follows the user, not the room's connections.
    expect(await bobPhone.nextEvent('read', { roomid: 'rs-sync' })).toMatchObject({ uid: bob.user.uid, seq: 3 });
    expect(await summary(bobPhone, 'rs-sync')).toMatchObject({ read: 3, unread: 2 });
    // The device that moved it is answered, not told again (everything before this reply has arrived).
    await bob.request({ event: 'rooms' });
    expect(bob.events('read').map((f) => f.ref)).toEqual([reply.ref]);
    // Never back, never past the newest seq.
    expect(await bob.request({ event: 'read', roomid: 'rs-sync', seq: 2 })).toMatchObject({ seq: 3 });
    expect(await bob.request({ event: 'read', roomid: 'rs-sync', seq: 99 })).toMatchObject({ seq: 5 });
    // A reinstall: a new connection, nothing kept on the device.
    await Promise.all([bob.close(), bobPhone.close()]);
    const fresh = await connectAs(server, 'bob', bob.user.uid);
    expect(await fresh.join('rs-sync')).toMatchObject({ read: 5, lastSeq: 5 });
    expect(await fresh.request({ event: 'read', roomid: 'not-mine', seq: 1 })).toMatchObject({ event: 'error', code: ErrorCode.NotMember });
    await Promise.all([alice.close(), fresh.close()]);
  });

  it('a new member has nothing unread from before they joined', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('rs-new');
    for (let i = 1; i <= 3; i += 1) await alice.say('rs-new', `old ${i}`);
    const carol = await connectAs(server, 'carol');
    expect(await carol.join('rs-new')).toMatchObject({ read: 3, lastSeq: 3 });
    await alice.say('rs-new', 'new');
    expect(await summary(carol, 'rs-new')).toMatchObject({ read: 3, unread: 1 });
    await Promise.all([alice.close(), carol.close()]);
  });

  it('updates within READ_COALESCE_MS are merged: each request is answered, the highest seq is kept', async () => {
    const alice = await connectAs(server, 'alice');
    const other = await connectAs(server, 'alice', alice.user.uid);
    await alice.join('rs-merge');
    for (let i = 1; i <= 4; i += 1) await alice.say('rs-merge', `m${i}`);
    const replies = await Promise.all([2, 4, 3].map((seq) => alice.request({ event: 'read', roomid: 'rs-merge', seq })));
    expect(replies.map((r) => r.seq)).toEqual([2, 4, 4]);
    await other.waitFor(() => other.events('read', 'rs-merge').some((f) => f.seq === 4));
    expect(other.events('read', 'rs-merge').map((f) => f.seq)).toEqual([2, 4]);
    await Promise.all([alice.close(), other.close()]);
  });
});

describe('direct chats', () => {
  it("the sender is told when the peer reads, and rooms carries the peer's cursor", async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const roomid = directRoomId(alice.user.uid, bob.user.uid);
    const first = await alice.request({ event: 'message', to: bob.user.uid, message: 'one', id: 'd1' });
    await alice.request({ event: 'message', to: bob.user.uid, message: 'two', id: 'd2' });
    expect(await summary(bob, roomid)).toMatchObject({ read: 0, unread: 2, peerRead: 0 });
    await bob.request({ event: 'read', roomid, seq: first.seq });
    expect(await alice.nextEvent('read', { roomid })).toMatchObject({ uid: bob.user.uid, seq: first.seq });
    expect(await summary(alice, roomid)).toMatchObject({ peerRead: first.seq });
    expect(await summary(bob, roomid)).toMatchObject({ read: first.seq, unread: 1 });
    await Promise.all([alice.close(), bob.close()]);
  });
});

describe('read receipts in a room', () => {
  it("the sender gets counts and readers of their own messages, nobody else's", async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const carol = await connectAs(server, 'carol');
    for (const client of [alice, bob, carol]) await client.join('rs-receipts');
    const m1 = await alice.say('rs-receipts', 'first');
    const m2 = await alice.say('rs-receipts', 'second');
    const fromBob = await bob.say('rs-receipts', 'bob');
    await bob.request({ event: 'read', roomid: 'rs-receipts', seq: m1.seq });
    await carol.request({ event: 'read', roomid: 'rs-receipts', seq: fromBob.seq });
    const receipts = await alice.request({ event: 'receipts', roomid: 'rs-receipts', seqs: [m2.seq, m1.seq, fromBob.seq] });
    expect(receipts).toMatchObject({
      event: 'receipts',
      members: 2,
      receipts: [
        { seq: m1.seq, count: 2 },
        { seq: m2.seq, count: 1 },
      ],
    });
    const readers = await alice.request({ event: 'readers', roomid: 'rs-receipts', seq: m2.seq });
    expect(readers).toMatchObject({ event: 'readers', seq: m2.seq, members: 2, readers: [{ uid: carol.user.uid, name: 'carol' }] });
    expect(await bob.request({ event: 'readers', roomid: 'rs-receipts', seq: m1.seq })).toMatchObject({ event: 'error', code: ErrorCode.NotYourMessage });
    expect(await bob.request({ event: 'receipts', roomid: 'rs-receipts', seqs: [m1.seq] })).toMatchObject({ receipts: [] });
    expect(await alice.request({ event: 'readers', roomid: 'rs-receipts', seq: 77 })).toMatchObject({ event: 'error', code: ErrorCode.UnknownMessage });
    expect(await alice.request({ event: 'receipts', roomid: 'rs-receipts', seqs: [1, 200] })).toMatchObject({ event: 'error', code: ErrorCode.InvalidField });
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });
});

describe('mentions', () => {
  it('reach a mentioned member who is offline through rooms and joined, until they read past them', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const carol = await connectAs(server, 'carol');
    for (const client of [alice, bob, carol]) await client.join('rs-mention');
    await bob.close();
    await alice.say('rs-mention', 'no mention');
    const first = await alice.request({ event: 'message', roomid: 'rs-mention', message: '@bob 看这里', mentions: [bob.user.uid], id: 'at-1' });
    const second = await alice.request({ event: 'message', roomid: 'rs-mention', message: '@bob 还有这里', mentions: [bob.user.uid], id: 'at-2' });
    expect((await carol.nextEvent('message', { id: 'at-1' })).mentions).toEqual([bob.user.uid]);
    expect(await summary(carol, 'rs-mention')).not.toHaveProperty('mention');
    const back = await connectAs(server, 'bob', bob.user.uid);
    expect(await summary(back, 'rs-mention')).toMatchObject({ mention: first.seq, unread: 3 });
    expect(await back.join('rs-mention')).toMatchObject({ mention: first.seq });
    await back.request({ event: 'read', roomid: 'rs-mention', seq: first.seq });
    expect(await summary(back, 'rs-mention')).toMatchObject({ mention: second.seq });
    await back.request({ event: 'read', roomid: 'rs-mention', seq: second.seq });
    expect(await summary(back, 'rs-mention')).not.toHaveProperty('mention');
    await Promise.all([alice.close(), back.close(), carol.close()]);
  });

  it("@所有人 is the room creator's, mentions everyone but the sender; mentions are refused in direct chats", async () => {
    const creator = await connectAs(server, 'creator');
    const bob = await connectAs(server, 'bob');
    const carol = await connectAs(server, 'carol');
    for (const client of [creator, bob, carol]) await client.join('rs-all');
    expect(await bob.request({ event: 'message', roomid: 'rs-all', message: '@所有人', mentionAll: true })).toMatchObject({
      event: 'error',
      code: ErrorCode.MentionNotAllowed,
    });
    const all = await creator.request({ event: 'message', roomid: 'rs-all', message: '@所有人 开会', mentionAll: true, id: 'all-1' });
    expect(all).toMatchObject({ event: 'ack' });
    expect(await carol.nextEvent('message', { id: 'all-1' })).toMatchObject({ mentionAll: true });
    for (const client of [bob, carol]) expect(await summary(client, 'rs-all')).toMatchObject({ mention: all.seq });
    expect(await summary(creator, 'rs-all')).not.toHaveProperty('mention');
    const direct = await bob.request({ event: 'message', to: carol.user.uid, message: 'hi', mentions: [carol.user.uid] });
    expect(direct).toMatchObject({ event: 'error', code: ErrorCode.MentionNotAllowed });
    await Promise.all([creator.close(), bob.close(), carol.close()]);
  });
});
