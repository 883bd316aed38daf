import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
let small: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  small = await startTestServer({ HISTORY_PER_ROOM: '5' });
});
afterAll(async () => {
  await server.close();
  await small.close();
});

const texts = (frames: Array<Record<string, unknown>>) => frames.map((f) => f.message);

describe('offline messages', () => {
  it('what a member missed while away is delivered in order, exactly once, when they log in again', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('away');
    await bob.join('away');
    await alice.say('away', 'before');
    await bob.waitFor(() => bob.messages('away').length === 1);
    await bob.close();
    await alice.nextEvent('logout', { roomid: 'away' });
    for (const t of ['m1', 'm2', 'm3']) await alice.say('away', t);

    const back = await connectAs(server, 'bob', bob.user.uid);
    const joined = await back.join('away');
    expect(joined).toMatchObject({ replayed: 3, gap: false, lastSeq: 4 });
    expect(texts(back.messages('away'))).toEqual(['m1', 'm2', 'm3']);
    expect(back.messages('away').every((m) => m.replay === true)).toBe(true);
    // Live traffic continues after the replay, without a seam.
    await alice.say('away', 'live');
    await back.waitFor(() => back.messages('away').length === 4);
    expect(back.messages('away').map((m) => m.seq)).toEqual([2, 3, 4, 5]);

    // Delivered once: logging in again with nothing missed replays nothing.
    await back.close();
    const again = await connectAs(server, 'bob', bob.user.uid);
    expect(await again.join('away')).toMatchObject({ replayed: 0 });
    await again.settled();
    expect(again.messages('away')).toHaveLength(0);
    await Promise.all([alice.close(), again.close()]);
  });

  it('with two connections the backlog reaches the user once, not once per connection', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const bobTab = await connectAs(server, 'bob', bob.user.uid);
    await alice.join('two');
    await bob.join('two');
    await bobTab.join('two');
    await Promise.all([bob.close(), bobTab.close()]);
    await alice.nextEvent('logout', { roomid: 'two' });
    for (const t of ['x', 'y']) await alice.say('two', t);
    const phone = await connectAs(server, 'bob', bob.user.uid);
    const laptop = await connectAs(server, 'bob', bob.user.uid);
    const [a, b] = await Promise.all([phone.join('two'), laptop.join('two')]);
    expect([a.replayed, b.replayed].sort()).toEqual([0, 2]);
    const got = [...phone.messages('two'), ...laptop.messages('two')];
    expect(texts(got)).toEqual(['x', 'y']);
    await Promise.all([alice.close(), phone.close(), laptop.close()]);
  });

  it('a dropped connection (no close handshake) still gets everything it may have missed', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('drop');
    await bob.join('drop');
    await alice.say('drop', 'seen');
    await bob.waitFor(() => bob.messages('drop').length === 1);
    await bob.drop();
    await alice.nextEvent('logout', { roomid: 'drop' });
    await alice.say('drop', 'missed');
    const back = await connectAs(server, 'bob', bob.user.uid);
    await back.join('drop');
    // Nothing confirmed the first message arrived (no pong since), so it comes again: never lost.
    expect(texts(back.messages('drop'))).toEqual(['seen', 'missed']);
    await Promise.all([alice.close(), back.close()]);
  });
});

describe('resume with since', () => {
  it('replays exactly what came after the given seq', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('resume');
    for (const t of ['a', 'b', 'c', 'd']) await alice.say('resume', t);
    const bob = await connectAs(server, 'bob');
    const joined = await bob.join('resume', { since: 2 });
    expect(joined).toMatchObject({ replayed: 2, gap: false, lastSeq: 4 });
    expect(texts(bob.messages('resume'))).toEqual(['c', 'd']);
    // Re-joining a room the connection is in resumes again without duplicating live traffic.
    const rejoined = await bob.join('resume', { since: 3 });
    expect(rejoined).toMatchObject({ replayed: 1 });
    expect(texts(bob.messages('resume'))).toEqual(['c', 'd', 'd']);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('says gap when kept history no longer reaches back that far', async () => {
    const alice = await connectAs(small, 'alice');
    await alice.join('long');
    for (let i = 1; i <= 8; i += 1) await alice.say('long', `n${i}`);
    const bob = await connectAs(small, 'bob');
    const joined = await bob.join('long', { since: 1 });
    expect(joined).toMatchObject({ gap: true, replayed: 5, lastSeq: 8 });
    expect(texts(bob.messages('long'))).toEqual(['n4', 'n5', 'n6', 'n7', 'n8']);
    const exact = await bob.join('long', { since: 3 });
    expect(exact).toMatchObject({ gap: false, replayed: 5 });
    await Promise.all([alice.close(), bob.close()]);
  });

  it('says gap when the client remembers a seq the server never reached (state lost)', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('fresh-room');
    const joined = await alice.join('fresh-room', { since: 50 });
    expect(joined).toMatchObject({ gap: true, replayed: 0 });
    await alice.close();
  });

  it('after the server lost its state, a resume neither hides new messages nor trusts old seqs', async () => {
    const first = await startTestServer();
    const alice = await connectAs(first, 'alice', 'epoch-alice');
    const before = await alice.join('epoch-room');
    for (const t of ['old1', 'old2', 'old3']) await alice.say('epoch-room', t);
    await first.close();

    const second = await startTestServer();
    try {
      const bob = await connectAs(second, 'bob');
      await bob.join('epoch-room');
      await bob.say('epoch-room', 'new1');
      const back = await connectAs(second, 'alice', 'epoch-alice');
      // The client remembers seq 3 of the former epoch.
      const joined = await back.join('epoch-room', { since: 3, epoch: before.epoch });
      expect(joined.epoch).not.toBe(before.epoch);
      expect(joined).toMatchObject({ gap: true, replayed: 1, lastSeq: 1 });
      expect(back.messages('epoch-room').map((m) => m.message)).toEqual(['new1']);
      // Live traffic with seqs at or below the old since still arrives.
      await bob.say('epoch-room', 'new2');
      await back.waitFor(() => back.messages('epoch-room').length === 2);
      // Without the epoch, a since beyond the room's last seq is reported as a gap, and live traffic flows too.
      const other = await connectAs(second, 'carol');
      expect(await other.join('epoch-room', { since: 9 })).toMatchObject({ gap: true, lastSeq: 2 });
      await bob.say('epoch-room', 'new3');
      await other.waitFor(() => other.messages('epoch-room').some((m) => m.message === 'new3'));
      await Promise.all([bob.close(), back.close(), other.close()]);
    } finally {
      await second.close();
    }
  });

  it('an offline member whose backlog outgrew history is told gap', async () => {
    const alice = await connectAs(small, 'alice');
    const bob = await connectAs(small, 'bob');
    await alice.join('overflow');
    await bob.join('overflow');
    await bob.close();
    await alice.nextEvent('logout', { roomid: 'overflow' });
    for (let i = 1; i <= 7; i += 1) await alice.say('overflow', `o${i}`);
    const back = await connectAs(small, 'bob', bob.user.uid);
    expect(await back.join('overflow')).toMatchObject({ gap: true, replayed: 5 });
    await Promise.all([alice.close(), back.close()]);
  });
});
