import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type RoomSummary } from '../src/protocol.ts';
import { connectAs, startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('join notices and counts', () => {
  it('everyone in the room, the joiner included, gets login with num and total', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('r-notice');
    await alice.nextEvent('login', { roomid: 'r-notice' });
    expect(alice.events('login', 'r-notice')).toMatchObject([{ name: 'alice', num: 1, total: 1 }]);

    const bob = await connectAs(server, 'bob');
    await bob.join('r-notice');
    await alice.waitFor(() => alice.events('login', 'r-notice').length === 2);
    expect(alice.events('login', 'r-notice')[1]).toMatchObject({ name: 'bob', uid: bob.user.uid, num: 2, total: 2 });
    // The joiner's own login follows its joined reply; it need not arrive in the same read.
    await bob.nextEvent('login', { roomid: 'r-notice' });
    expect(bob.events('login', 'r-notice')).toMatchObject([{ name: 'bob', num: 2, total: 2 }]);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('closing tells the rest of the room: num drops, total stays (members stay members)', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('r-close');
    await bob.join('r-close');
    await bob.close();
    const logout = await alice.nextEvent('logout', { roomid: 'r-close' });
    expect(logout).toMatchObject({ name: 'bob', uid: bob.user.uid, num: 1, total: 2, reason: 'close' });
    await alice.close();
  });

  it('leave ends the membership: num and total both drop, and the leaver gets left', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('r-leave');
    await bob.join('r-leave');
    const left = await bob.request({ event: 'leave', roomid: 'r-leave' });
    expect(left).toMatchObject({ event: 'left', roomid: 'r-leave' });
    const logout = await alice.nextEvent('logout', { roomid: 'r-leave' });
    expect(logout).toMatchObject({ name: 'bob', num: 1, total: 1, reason: 'leave' });
    expect(bob.events('logout', 'r-leave')).toHaveLength(0);
    const members = await alice.request({ event: 'members', roomid: 'r-leave' });
    expect(members.members).toEqual([{ uid: alice.user.uid, name: 'alice', online: true }]);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('a second connection of the same user does not announce them again', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('r-twice');
    const phone = await connectAs(server, 'alice', alice.user.uid);
    const joined = await phone.join('r-twice');
    expect(joined).toMatchObject({ num: 1, total: 1 });
    expect(alice.events('login', 'r-twice')).toHaveLength(1);
    // A witness: bob is in r-twice and in r-probe, where the phone is alice's only connection. The
    // server leaves a closing connection's rooms one after another, in the order it joined them, so
    // the phone's logout from r-probe reaches bob after anything its close said in r-twice.
    const bob = await connectAs(server, 'bob');
    await bob.join('r-twice');
    await bob.join('r-probe');
    await phone.join('r-probe');
    await phone.close();
    await bob.nextEvent('logout', { roomid: 'r-probe', uid: alice.user.uid });
    // Still online on the first connection: no logout in r-twice, for bob nor (after her own
    // request and its reply) for alice.
    expect(bob.events('logout', 'r-twice')).toHaveLength(0);
    await alice.settled();
    expect(alice.events('logout', 'r-twice')).toHaveLength(0);
    await Promise.all([alice.close(), bob.close()]);
  });
});

describe('rooms are isolated', () => {
  it('messages and notices of one room never reach another', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const carol = await connectAs(server, 'carol');
    await alice.join('iso-a');
    await bob.join('iso-a');
    await carol.join('iso-b');
    await alice.say('iso-a', 'only for a');
    await carol.say('iso-b', 'only for b');
    await bob.waitFor(() => bob.messages().length === 1);
    await alice.waitFor(() => alice.messages().length === 1);
    expect(bob.messages().map((m) => m.message)).toEqual(['only for a']);
    expect(carol.messages().map((m) => m.message)).toEqual(['only for b']);
    expect(carol.events('login').map((f) => f.roomid)).toEqual(['iso-b']);
    // per-room counts
    expect(alice.events('login', 'iso-a').at(-1)).toMatchObject({ num: 2, total: 2 });
    expect(carol.events('login', 'iso-b').at(-1)).toMatchObject({ num: 1, total: 1 });
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  it('one connection can be in several rooms and must name the room when it is', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('multi-1');
    // In exactly one room, the room can be left out (the course's client does).
    await alice.say(undefined, 'implicit');
    expect(alice.messages('multi-1').map((m) => m.message)).toEqual(['implicit']);
    await alice.join('multi-2');
    const ambiguous = await alice.request({ event: 'message', message: 'where?' });
    expect(ambiguous).toMatchObject({ event: 'error', code: ErrorCode.AmbiguousRoom });
    await alice.say('multi-2', 'explicit');
    await alice.waitFor(() => alice.messages('multi-2').length === 1);
    const notMember = await alice.request({ event: 'message', roomid: 'multi-3', message: 'x' });
    expect(notMember).toMatchObject({ event: 'error', code: ErrorCode.NotMember });
    await alice.close();
  });
});

describe('presence and the rooms list', () => {
  it('members lists every member with online state; only members may ask', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('presence');
    await bob.join('presence');
    await bob.close();
    await alice.nextEvent('logout', { roomid: 'presence' });
    const reply = await alice.request({ event: 'members', roomid: 'presence' });
    expect(reply).toMatchObject({ num: 1, total: 2 });
    expect(reply.members).toEqual(
      expect.arrayContaining([
        { uid: alice.user.uid, name: 'alice', online: true },
        { uid: bob.user.uid, name: 'bob', online: false },
      ]),
    );
    const stranger = await connectAs(server, 'stranger');
    const refused = await stranger.request({ event: 'members', roomid: 'presence' });
    expect(refused).toMatchObject({ event: 'error', code: ErrorCode.NotMember });
    await Promise.all([alice.close(), stranger.close()]);
  });

  it('rooms lists the user rooms with counts and the last message', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('list-1');
    await alice.join('list-2');
    await alice.say('list-2', 'latest words');
    const reply = await alice.request({ event: 'rooms' });
    const rooms = reply.rooms as RoomSummary[];
    expect(rooms.map((r) => r.roomid).sort()).toEqual(['list-1', 'list-2']);
    const two = rooms.find((r) => r.roomid === 'list-2')!;
    expect(two).toMatchObject({ num: 1, total: 1, lastSeq: 1 });
    expect(two.last).toMatchObject({ message: 'latest words', name: 'alice', seq: 1 });
    await alice.close();
  });
});
