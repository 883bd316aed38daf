/**
 * Redis loses a room's seq counter under live connections: nothing acknowledged may then go
 * undelivered. After a restart without persistence the nodes put their seq floors back as soon as
 * they reconnect, so a node that never saw the room continues its seqs; when the counter is lost
 * without a reconnect (a flush), the seqs start over in a new epoch, and every node that sees it
 * tells its connections with an unrequested `joined` (new `epoch`, `gap: true`), on which the
 * mobile client resumes the room from the start.
 *
 * The presence TTL is long: heartbeats (every 20 s) play no part in what these tests see.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibClient } from '../../mobile/test/support/lib-client.ts';
import { connectAs, type TestClient } from './harness.ts';
import { type InProcessNode, startInProcessNode } from './redis-nodes.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`skipping the Redis tests: ${unavailable}`);

const ENV = { REDIS_PRESENCE_TTL_MS: '60000' };

type Frame = TestClient['frames'][number];

/** The message frames and unrequested `joined` frames of a room, in the order they came. */
function roomStream(client: TestClient, roomid: string): Frame[] {
  return client.frames.filter((f) => f.roomid === roomid && (f.event === 'message' || (f.event === 'joined' && f.ref === undefined)));
}

describe.skipIf(unavailable !== undefined)('a room whose seq counter Redis lost', () => {
  let redis: TestRedis;
  let one: InProcessNode;
  let two: InProcessNode;

  beforeAll(async () => {
    redis = await startRedis();
    [one, two] = await Promise.all([startInProcessNode(redis.url, ENV), startInProcessNode(redis.url, ENV)]);
  });
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
    await redis?.stop();
  });

  it('after a restart without persistence, a node that never saw the room continues its seqs: the floors are back on reconnect', async () => {
    const alice = await connectAs(one, 'alice');
    const bob = await connectAs(one, 'bob');
    const before = await alice.join('e-restart');
    await bob.join('e-restart');
    for (const text of ['one', 'two', 'three']) await alice.say('e-restart', text);
    await bob.waitFor(() => bob.messages('e-restart').length === 3);

    await redis.kill();
    await redis.start();
    // Node one puts the room's counter back when it reconnects, not at its next heartbeat (20 s).
    const inspect = redis.client();
    await expect.poll(() => inspect.hget('chat:{r:e-restart}:seq', 'seq'), { timeout: 5000 }).toBe('3');

    // Carol's node has never seen the room: it has no floor of its own to give.
    const carol = await connectAs(two, 'carol');
    const joined = await carol.join('e-restart');
    expect(joined).toMatchObject({ lastSeq: 3, epoch: before.epoch });
    expect(await carol.say('e-restart', 'after')).toMatchObject({ seq: 4 });
    for (const client of [alice, bob]) {
      await client.waitFor(() => client.messages('e-restart').length === 4, 5000);
      expect(client.messages('e-restart').map((m) => [m.seq, m.message])).toEqual([
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
        [4, 'after'],
      ]);
    }
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  it('lost without a reconnect (flushed), the room starts a new epoch; its members are told, get every message, and the mobile client resumes', async () => {
    const bob = await connectAs(one, 'bob');
    const first = await bob.join('e-flush');
    const alice = new LibClient({ wsUrl: one.url, httpUrl: one.httpUrl, ca: one.tls?.cert, name: 'alice' });
    await alice.login('alice');
    alice.client.joinRoom('e-flush');
    alice.client.start();
    await alice.waitFor(() => alice.joined.some((j) => j.roomid === 'e-flush'), 'alice in the room');
    for (const text of ['one', 'two', 'three']) await bob.say('e-flush', text);
    await alice.waitFor(() => alice.texts('e-flush').length === 3, 'the first three');

    await redis.client().flushall();
    // Carol's node never saw the room: its counter starts over, at seq 1 of a new epoch.
    const carol = await connectAs(two, 'carol');
    const joined = await carol.join('e-flush');
    expect(joined.epoch).not.toBe(first.epoch);
    expect(await carol.say('e-flush', 'after the flush')).toMatchObject({ seq: 1 });

    // Bob's connection is told the seqs started over, before the message that starts them.
    await bob.waitFor(() => bob.messages('e-flush').some((m) => m.message === 'after the flush'), 5000);
    const stream = roomStream(bob, 'e-flush');
    const notice = stream.findIndex((f) => f.event === 'joined');
    expect(stream[notice]).toMatchObject({ epoch: joined.epoch, gap: true, replayed: 0, lastSeq: 0 });
    expect(stream.slice(notice + 1).map((f) => [f.seq, f.message])).toEqual([[1, 'after the flush']]);

    // The mobile client resumes the room in the new epoch and keeps every message once.
    await alice.waitFor(() => alice.texts('e-flush').includes('after the flush'), 'the first message of the new epoch');
    await alice.waitFor(
      () => alice.joined.filter((j) => j.roomid === 'e-flush' && j.epoch === joined.epoch && j.ref !== undefined).length > 0,
      'alice resumed in the new epoch',
    );
    // Redis lost the membership too: a client told the room restarted joins it again (the mobile
    // client does, and answers a 4404 the same way), then talks on.
    await bob.join('e-flush', { since: 1, epoch: joined.epoch });
    await bob.say('e-flush', 'and on');
    await alice.waitFor(() => alice.texts('e-flush').includes('and on'), 'a later message');
    expect(alice.texts('e-flush')).toEqual(['one', 'two', 'three', 'after the flush', 'and on']);
    alice.client.send('e-flush', 'from the phone');
    await carol.next((f) => f.event === 'message' && f.message === 'from the phone', 5000);
    expect(carol.messages('e-flush').map((m) => [m.seq, m.message])).toEqual([
      [1, 'after the flush'],
      [2, 'and on'],
      [3, 'from the phone'],
    ]);
    alice.client.stop();
    await Promise.all([bob.close(), carol.close()]);
  });
});
