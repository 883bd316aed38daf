import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directRoomId } from '../src/protocol.ts';
import { connectAs, sleep, startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('room messages', () => {
  it('reach every connection in the room, the sender included, with server-set fields', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('chat');
    await bob.join('chat');
    const ack = await alice.say('chat', '你好', 'client-id-1');
    expect(ack).toMatchObject({ event: 'ack', id: 'client-id-1', roomid: 'chat', seq: 1 });
    const atBob = await bob.nextEvent('message');
    const atAlice = alice.messages()[0];
    for (const message of [atBob, atAlice]) {
      expect(message).toMatchObject({
        event: 'message',
        id: 'client-id-1',
        roomid: 'chat',
        seq: 1,
        uid: alice.user.uid,
        name: 'alice',
        message: '你好',
        num: 2,
        total: 2,
      });
      expect(message.ts).toBeGreaterThan(Date.now() - 10_000);
    }
    await Promise.all([alice.close(), bob.close()]);
  });

  it('without an id the server assigns a uuid and sends no ack', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('no-id');
    alice.send({ event: 'message', message: 'plain' });
    const message = await alice.nextEvent('message');
    expect(message.id).toMatch(/^[0-9a-f-]{36}$/);
    await alice.settled();
    expect(alice.events('ack')).toHaveLength(0);
    expect(alice.frames.map((f) => f.event)).toEqual(['welcome', 'joined', 'login', 'message', 'rooms']);
    await alice.close();
  });

  it('seq is strictly increasing and every member sees the same order under concurrent senders', async () => {
    const clients = await Promise.all(['a', 'b', 'c', 'd'].map((n) => connectAs(server, n)));
    for (const c of clients) await c.join('race');
    const perSender = 25;
    clients.forEach((c, i) => {
      for (let k = 0; k < perSender; k += 1) c.send({ event: 'message', roomid: 'race', message: `${i}:${k}`, id: `race-${i}-${k}` });
    });
    const total = perSender * clients.length;
    for (const c of clients) await c.waitFor(() => c.messages('race').length === total, 5000, `${total} messages`);
    const orders = clients.map((c) => c.messages('race').map((m) => m.seq as number));
    for (const order of orders) {
      expect(order).toEqual(orders[0]);
      expect(order).toEqual([...order].sort((x, y) => x - y));
      expect(new Set(order).size).toBe(total);
    }
    // Each sender's own messages keep the order it sent them in.
    const texts = clients[0].messages('race').map((m) => m.message as string);
    for (let i = 0; i < clients.length; i += 1) {
      const mine = texts.filter((t) => t.startsWith(`${i}:`)).map((t) => Number(t.split(':')[1]));
      expect(mine).toEqual([...Array(perSender).keys()]);
    }
    await Promise.all(clients.map((c) => c.close()));
  });

  it('a resend with the same id is acknowledged with the original seq and never delivered twice', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('idem');
    await bob.join('idem');
    const first = await alice.say('idem', 'once', 'dup-1');
    // The phone reconnects and resends what it has no ack for.
    await alice.close();
    const again = await connectAs(server, 'alice', alice.user.uid);
    await again.join('idem');
    const second = await again.request({ event: 'message', roomid: 'idem', message: 'once', id: 'dup-1' });
    expect(second).toMatchObject({ event: 'ack', id: 'dup-1', seq: first.seq, duplicate: true });
    await again.say('idem', 'after');
    await bob.waitFor(() => bob.messages('idem').length === 2);
    expect(bob.messages('idem').map((m) => m.message)).toEqual(['once', 'after']);
    await Promise.all([again.close(), bob.close()]);
  });
});

describe('direct messages', () => {
  it('reach every connection of the recipient and the sender, in a shared conversation id', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const bobPhone = await connectAs(server, 'bob', bob.user.uid);
    const ack = await alice.request({ event: 'message', to: bob.user.uid, message: 'psst', id: 'dm-1' });
    const roomid = directRoomId(alice.user.uid, bob.user.uid);
    expect(ack).toMatchObject({ event: 'ack', roomid, seq: 1 });
    for (const c of [alice, bob, bobPhone]) {
      const m = await c.nextEvent('message', { id: 'dm-1' });
      expect(m).toMatchObject({ roomid, to: bob.user.uid, uid: alice.user.uid, message: 'psst' });
    }
    const outsider = await connectAs(server, 'outsider');
    await outsider.settled();
    expect(outsider.messages()).toHaveLength(0);
    await Promise.all([alice.close(), bob.close(), bobPhone.close(), outsider.close()]);
  });

  it('are queued for an offline user and delivered once, in order, when they come back', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const bobUid = bob.user.uid;
    await bob.close();
    await sleep(50);
    for (const text of ['one', 'two', 'three']) await alice.request({ event: 'message', to: bobUid, message: text });
    const back = await connectAs(server, 'bob', bobUid);
    await back.waitFor(() => back.messages().length === 3);
    expect(back.messages().map((m) => m.message)).toEqual(['one', 'two', 'three']);
    expect(back.messages().every((m) => m.replay === true)).toBe(true);
    const secondDevice = await connectAs(server, 'bob', bobUid);
    await secondDevice.settled();
    expect(secondDevice.messages()).toHaveLength(0);
    expect(back.messages()).toHaveLength(3);
    // The conversation shows in both users' room lists.
    const rooms = await back.request({ event: 'rooms' });
    expect(rooms.rooms).toEqual([expect.objectContaining({ roomid: directRoomId(alice.user.uid, bobUid), peer: { uid: alice.user.uid, name: 'alice' } })]);
    await Promise.all([alice.close(), back.close(), secondDevice.close()]);
  });

  it('history reads a direct conversation for its two members only', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    for (const text of ['h1', 'h2', 'h3']) await alice.request({ event: 'message', to: bob.user.uid, message: text });
    const roomid = directRoomId(alice.user.uid, bob.user.uid);
    const page = await bob.request({ event: 'history', roomid, limit: 2 });
    expect((page.messages as { message: string }[]).map((m) => m.message)).toEqual(['h2', 'h3']);
    const after = await bob.request({ event: 'history', roomid, after: 1 });
    expect((after.messages as { message: string }[]).map((m) => m.message)).toEqual(['h2', 'h3']);
    const eve = await connectAs(server, 'eve');
    expect((await eve.request({ event: 'history', roomid })).event).toBe('error');
    await Promise.all([alice.close(), bob.close(), eve.close()]);
  });
});
