/**
 * Several nodes on one Redis act as one chat service: delivery and seq order across nodes, presence
 * agreement, one user on two nodes, offline delivery and resume on any node.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatStore } from '../src/core/store.ts';
import { directRoomId } from '../src/protocol.ts';
import { connectAs, sleep, type TestClient } from './harness.ts';
import { type InProcessNode, startInProcessNode } from './redis-nodes.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`skipping the Redis tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('three nodes on one Redis', () => {
  let redis: TestRedis;
  let nodes: InProcessNode[];
  let a: InProcessNode, b: InProcessNode, c: InProcessNode;

  beforeAll(async () => {
    redis = await startRedis();
    nodes = await Promise.all([0, 1, 2].map(() => startInProcessNode(redis.url)));
    [a, b, c] = nodes;
  });
  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.close()));
    await redis?.stop();
  });

  const seqs = (client: TestClient, roomid: string): number[] => client.messages(roomid).map((m) => m.seq as number);
  const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  it('messages published on every node reach every member once, in the room seq order', async () => {
    const alice = await connectAs(a, 'alice');
    const bob = await connectAs(b, 'bob');
    const carol = await connectAs(c, 'carol');
    for (const client of [alice, bob, carol]) await client.join('x-order');
    const perSender = 20;
    await Promise.all(
      [alice, bob, carol].map(async (client, i) => {
        for (let n = 0; n < perSender; n += 1) await client.say('x-order', `${i}-${n}`);
      }),
    );
    for (const client of [alice, bob, carol]) {
      await client.waitFor(() => client.messages('x-order').length >= perSender * 3, 5000);
      expect(seqs(client, 'x-order')).toEqual(range(1, perSender * 3));
    }
    // Each sender's own messages keep their order too.
    const fromBob = bob
      .messages('x-order')
      .filter((m) => m.uid === bob.user.uid)
      .map((m) => m.message);
    expect(fromBob).toEqual(range(0, perSender - 1).map((n) => `1-${n}`));
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  it('num, total and members are the same whichever node is asked', async () => {
    const alice = await connectAs(a, 'alice');
    const bob = await connectAs(b, 'bob');
    const carol = await connectAs(c, 'carol');
    await alice.join('x-presence');
    await bob.join('x-presence');
    const carolJoined = await carol.join('x-presence');
    expect(carolJoined).toMatchObject({ num: 3, total: 3 });
    await alice.waitFor(() => alice.events('login', 'x-presence').length === 3);
    expect(alice.events('login', 'x-presence').at(-1)).toMatchObject({ uid: carol.user.uid, num: 3, total: 3 });
    await carol.close();
    const logout = await bob.nextEvent('logout', { uid: carol.user.uid });
    expect(logout).toMatchObject({ num: 2, total: 3, reason: 'close' });
    const views = await Promise.all([alice, bob].map((client) => client.request({ event: 'members', roomid: 'x-presence' })));
    for (const view of views) {
      expect(view).toMatchObject({ num: 2, total: 3 });
      expect(view.members).toEqual(views[0].members);
    }
    expect(views[0].members).toContainEqual({ uid: carol.user.uid, name: 'carol', online: false });
    await Promise.all([alice.close(), bob.close()]);
  });

  it('a user with connections on two nodes gets each message once per connection, and offline messages once', async () => {
    const sender = await connectAs(a, 'sender');
    const laptop = await connectAs(b, 'erin');
    await laptop.close();
    await sender.request({ event: 'message', to: laptop.user.uid, message: 'dm 1', id: 'dm-a' });
    await sender.request({ event: 'message', to: laptop.user.uid, message: 'dm 2', id: 'dm-b' });
    const phone = await connectAs(b, 'erin', laptop.user.uid);
    await phone.waitFor(() => phone.messages().length === 2);
    const tablet = await connectAs(c, 'erin', laptop.user.uid);
    await phone.join('x-twice');
    await tablet.join('x-twice');
    await sender.join('x-twice');
    await sender.say('x-twice', 'to both');
    await sender.request({ event: 'message', to: laptop.user.uid, message: 'dm 3', id: 'dm-c' });
    // A barrier across nodes: the sender's node publishes in order and each node's subscriber
    // receives in order, so once this last message is on both devices, so is every copy of what
    // came before it; their own requests' replies then cover what their own node sent them.
    await sender.request({ event: 'message', to: laptop.user.uid, message: 'last', id: 'dm-last' });
    for (const device of [phone, tablet]) {
      await device.nextEvent('message', { id: 'dm-last' });
      await device.settled();
    }
    expect(phone.messages().map((m) => m.message)).toEqual(['dm 1', 'dm 2', 'to both', 'dm 3', 'last']);
    expect(
      phone
        .messages()
        .slice(0, 2)
        .every((m) => m.replay === true),
    ).toBe(true);
    // The inbox went to the first connection only.
    expect(tablet.messages().map((m) => m.message)).toEqual(['to both', 'dm 3', 'last']);
    await Promise.all([sender.close(), phone.close(), tablet.close()]);
  });

  it("a direct message sent while the recipient's last connection is closing is queued, never lost", async () => {
    // Node b is slow to clean up (as under load): Redis still lists frank's closed connection, so
    // the sender's node sends the message live; it finds only a closed socket on b, and must land
    // in frank's inbox instead of nowhere.
    let requeued!: () => void;
    const queuedBySlowNode = new Promise<void>((resolve) => {
      requeued = resolve;
    });
    const slow = await startInProcessNode(
      redis.url,
      {},
      {
        wrapStore: (store) =>
          new Proxy(store, {
            get(target, property, receiver) {
              // The slow node's only queueing is frank's requeued message: the test sees it done.
              if (property === 'queueDirect') {
                return async (...args: Parameters<ChatStore['queueDirect']>) => {
                  await target.queueDirect(...args);
                  requeued();
                };
              }
              if (property !== 'disconnectUser') return Reflect.get(target, property, receiver);
              return async (uid: string, connId: string) => {
                // The slowness under test, not a wait for something: the cleanup takes this long.
                await sleep(300);
                return target.disconnectUser(uid, connId);
              };
            },
          }),
      },
    );
    try {
      const sender = await connectAs(a, 'sender');
      const frank = await connectAs(slow, 'frank');
      await frank.close();
      await sender.request({ event: 'message', to: frank.user.uid, message: 'while closing', id: 'closing-1' });
      // The slow node requeues once its cleanup is done; coming back earlier is the next test's race.
      await queuedBySlowNode;
      const back = await connectAs(c, 'frank', frank.user.uid);
      await back.waitFor(() => back.messages().length === 1, 3000, 'the message from the inbox');
      // Everything sent before this reply has arrived by now: the message came once.
      await back.request({ event: 'rooms' });
      expect(back.messages().map((m) => [m.message, m.replay])).toEqual([['while closing', true]]);
      await Promise.all([sender.close(), back.close()]);
    } finally {
      await slow.close();
    }
  });

  it('a member who went offline on one node gets what they missed when they come back on another', async () => {
    const alice = await connectAs(a, 'alice');
    const bob = await connectAs(b, 'bob');
    await alice.join('x-offline');
    await bob.join('x-offline');
    await alice.say('x-offline', 'seen');
    await bob.waitFor(() => bob.messages('x-offline').length === 1);
    await bob.close();
    await alice.say('x-offline', 'missed 1');
    await alice.say('x-offline', 'missed 2');
    const back = await connectAs(c, 'bob', bob.user.uid);
    const joined = await back.join('x-offline');
    expect(joined).toMatchObject({ replayed: 2, gap: false });
    expect(back.messages('x-offline').map((m) => [m.seq, m.message, m.replay])).toEqual([
      [2, 'missed 1', true],
      [3, 'missed 2', true],
    ]);
    await Promise.all([alice.close(), back.close()]);
  });

  it('resume with since works on any node; history and rooms agree everywhere', async () => {
    const alice = await connectAs(a, 'alice');
    await alice.join('x-resume');
    for (let i = 1; i <= 5; i += 1) await alice.say('x-resume', `m${i}`);
    const bob = await connectAs(b, 'bob');
    const joined = await bob.join('x-resume', { since: 2 });
    expect(joined).toMatchObject({ replayed: 3, lastSeq: 5, gap: false });
    expect(seqs(bob, 'x-resume')).toEqual([3, 4, 5]);
    const history = await bob.request({ event: 'history', roomid: 'x-resume', before: 3, limit: 10 });
    expect((history.messages as { seq: number }[]).map((m) => m.seq)).toEqual([1, 2]);
    const rooms = await (await connectAs(c, 'alice', alice.user.uid)).request({ event: 'rooms' });
    expect(rooms.rooms).toContainEqual(expect.objectContaining({ roomid: 'x-resume', lastSeq: 5, total: 2, last: expect.objectContaining({ message: 'm5' }) }));
    await Promise.all([alice.close(), bob.close()]);
  });

  it('leaving on one node takes the user out of the room on every node', async () => {
    const alice = await connectAs(a, 'alice');
    const phone = await connectAs(b, 'alice', alice.user.uid);
    const bob = await connectAs(c, 'bob');
    for (const client of [alice, phone, bob]) await client.join('x-leave');
    await alice.request({ event: 'leave', roomid: 'x-leave' });
    await phone.nextEvent('left', { roomid: 'x-leave' });
    expect(await bob.nextEvent('logout', { uid: alice.user.uid })).toMatchObject({ reason: 'leave', num: 1, total: 1 });
    await bob.say('x-leave', 'after leave');
    // A barrier across nodes: bob's node publishes his direct message after the room message, and
    // the phone's node receives them in that order, so once it is on the phone, the room message
    // would have been too.
    await bob.request({ event: 'message', to: alice.user.uid, message: 'after the room', id: 'x-leave-dm' });
    await phone.nextEvent('message', { id: 'x-leave-dm' });
    expect(phone.messages('x-leave')).toHaveLength(0);
    await Promise.all([alice.close(), phone.close(), bob.close()]);
  });

  it('a node whose subscriber missed messages (connection killed) catches up from history, in order', async () => {
    const alice = await connectAs(a, 'alice');
    const bob = await connectAs(b, 'bob');
    await alice.join('x-catchup');
    await bob.join('x-catchup');
    await alice.say('x-catchup', 'one');
    await bob.waitFor(() => bob.messages('x-catchup').length === 1);
    const admin = redis.client();
    await admin.client('KILL', 'TYPE', 'pubsub');
    // Published while every node's subscriber is reconnecting.
    await Promise.all([alice.say('x-catchup', 'two'), alice.say('x-catchup', 'three')]);
    await alice.say('x-catchup', 'four');
    for (const client of [alice, bob]) {
      await client.waitFor(() => client.messages('x-catchup').length === 4, 5000);
      expect(client.messages('x-catchup').map((m) => m.message)).toEqual(['one', 'two', 'three', 'four']);
    }
    await Promise.all([alice.close(), bob.close()]);
  });

  it('a recall on one node reaches members on another live, and an offline member who comes back on a third', async () => {
    const alice = await connectAs(a, 'alice');
    const bob = await connectAs(b, 'bob');
    const carol = await connectAs(c, 'carol');
    for (const client of [alice, bob, carol]) await client.join('x-recall');
    await carol.close();
    await alice.nextEvent('logout', { uid: carol.user.uid });
    const sent = await alice.say('x-recall', '不该发的');
    await bob.nextEvent('message', { seq: sent.seq });
    const ack = await alice.request({ event: 'recall', roomid: 'x-recall', seq: sent.seq });
    expect(await bob.nextEvent('message', { seq: ack.seq })).toMatchObject({ kind: 'recall', recall: sent.seq });
    const back = await connectAs(c, 'carol', carol.user.uid);
    expect(await back.join('x-recall')).toMatchObject({ replayed: 2 });
    expect(back.messages('x-recall').map((m) => [m.seq, m.message, m.kind])).toEqual([
      [sent.seq, '', undefined],
      [ack.seq, 'alice撤回了一条消息', 'recall'],
    ]);
    // The recalled direct message of an offline recipient, recalled on node a, met on node b.
    const dave = await connectAs(b, 'dave');
    await dave.close();
    const dm = await alice.request({ event: 'message', to: dave.user.uid, message: '私信不该发', id: 'x-dm' });
    await alice.request({ event: 'recall', roomid: directRoomId(alice.user.uid, dave.user.uid), seq: dm.seq });
    const daveBack = await connectAs(b, 'dave', dave.user.uid);
    await daveBack.waitFor(() => daveBack.messages().length === 2);
    expect(daveBack.messages().map((m) => [m.message, m.kind, m.replay])).toEqual([
      ['', undefined, true],
      ['alice撤回了一条消息', 'recall', true],
    ]);
    expect(JSON.stringify([...back.frames, ...daveBack.frames])).not.toMatch(/不该发/);
    await Promise.all([alice.close(), bob.close(), back.close(), daveBack.close()]);
  });

  it("a read cursor set on one node reaches the user's devices and the direct chat's peer on others, and rooms everywhere", async () => {
    const alice = await connectAs(a, 'alice');
    const alicePhone = await connectAs(b, 'alice', alice.user.uid);
    const bob = await connectAs(c, 'bob');
    await alice.join('x-read');
    await bob.join('x-read');
    for (let i = 1; i <= 3; i += 1) await bob.say('x-read', `m${i}`);
    await alice.request({ event: 'read', roomid: 'x-read', seq: 2 });
    expect(await alicePhone.nextEvent('read', { roomid: 'x-read' })).toMatchObject({ uid: alice.user.uid, seq: 2 });
    const aliceOnC = await connectAs(c, 'alice', alice.user.uid);
    const rooms = await aliceOnC.request({ event: 'rooms' });
    expect(rooms.rooms).toContainEqual(expect.objectContaining({ roomid: 'x-read', read: 2, unread: 1 }));
    await aliceOnC.close();
    const roomid = directRoomId(alice.user.uid, bob.user.uid);
    const dm = await bob.request({ event: 'message', to: alice.user.uid, message: 'read me', id: 'x-read-dm' });
    await alicePhone.request({ event: 'read', roomid, seq: dm.seq });
    expect(await bob.nextEvent('read', { roomid })).toMatchObject({ uid: alice.user.uid, seq: dm.seq });
    await Promise.all([alice.close(), alicePhone.close(), bob.close()]);
  });
});
