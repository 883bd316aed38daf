import { directRoomId } from '@chatroom/server/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Authenticator } from '../../server/src/core/auth';
import { connect, connectAs, login, startTestServer, type TestClient, type TestServer } from '../../server/test/harness';
import { LibClient } from './support/lib-client';
import { TcpProxy } from './support/tcp-proxy';

const ROOM = 'lobby-test';

/** Everything a test started, closed in afterEach whatever happened. */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serverWithProxy(env: Record<string, string> = {}): Promise<{ server: TestServer; proxy: TcpProxy }> {
  const server = await startTestServer(env);
  cleanups.push(() => server.close());
  const proxy = await TcpProxy.start(server.port);
  cleanups.push(() => proxy.close());
  return { server, proxy };
}

async function libClient(
  server: TestServer,
  name: string,
  via?: TcpProxy,
  extra: Partial<ConstructorParameters<typeof LibClient>[0]> = {},
): Promise<LibClient> {
  const wsUrl = via ? `wss://127.0.0.1:${via.port}/` : server.url;
  const client = new LibClient({ wsUrl, httpUrl: server.httpUrl, ca: server.tls?.cert, name, ...extra });
  cleanups.push(() => client.stop());
  if (!extra.session) await client.login(name);
  return client;
}

async function peer(server: TestServer, name: string): Promise<TestClient> {
  const client = await connectAs(server, name);
  cleanups.push(() => client.close());
  await client.join(ROOM);
  return client;
}

describe('mobile chat client against the real server', () => {
  it('reconnects after the socket is cut and after a server restart, and keeps chatting both ways', async () => {
    const { server, proxy } = await serverWithProxy();
    const alice = await libClient(server, 'alice', proxy);
    alice.client.joinRoom(ROOM);
    alice.client.start();
    await alice.online();
    await alice.joinedRoom(ROOM);
    const bob = await peer(server, 'bob');

    const statesBefore = alice.states.length;
    const cutAt = Date.now();
    proxy.cutAll();
    // Full jitter may pick a delay near 0, so the state can be online again before a poll sees it:
    // read the recorded transitions instead.
    const waiting = await alice.waitFor(() => alice.states.slice(statesBefore).find((s) => s.status === 'reconnecting'), 'reconnecting after the cut');
    expect(waiting.status === 'reconnecting' && waiting.retryAt - cutAt).toBeLessThanOrEqual(1_000 + 200);
    await alice.online();
    expect(proxy.connections).toBe(2);

    await bob.say(ROOM, 'still there?');
    await alice.waitFor(() => alice.texts(ROOM).includes('still there?'), 'bob after the cut');
    alice.client.send(ROOM, 'yes');
    await bob.next((f) => f.event === 'message' && f.message === 'yes');

    // The server restarts on the same port: its memory (and its seqs) start over.
    const port = server.port;
    const joinedBefore = alice.joined.length;
    await server.close();
    await alice.waitFor(() => alice.client.state.status !== 'online', 'offline after the restart');
    const restarted = await startTestServer({ PORT: String(port) });
    cleanups.push(() => restarted.close());
    await alice.online();
    await alice.joinedRoom(ROOM, joinedBefore);
    const carol = await connectAs(restarted, 'carol');
    cleanups.push(() => carol.close());
    await carol.join(ROOM);
    await carol.say(ROOM, 'first after restart');
    await alice.waitFor(() => alice.texts(ROOM).includes('first after restart'), 'a message with seq 1 after the restart');
    alice.client.send(ROOM, 'welcome back');
    await carol.next((f) => f.event === 'message' && f.message === 'welcome back');
  });

  it('resends an unacknowledged message with the same id after a reconnect, delivered once', async () => {
    const { server, proxy } = await serverWithProxy();
    const alice = await libClient(server, 'alice', proxy);
    alice.client.joinRoom(ROOM);
    alice.client.start();
    await alice.joinedRoom(ROOM);
    const bob = await peer(server, 'bob');

    // The server gets the message but its ack never reaches alice.
    proxy.mute('down');
    const sent = alice.client.send(ROOM, 'exactly once');
    await bob.next((f) => f.event === 'message' && f.message === 'exactly once');
    expect(alice.outbox.filter((m) => m.id === sent.id).map((m) => m.status)).toEqual(['sending']);

    proxy.cutAll();
    // Written while the socket is down: queued, sent after the reconnect.
    const queued = alice.client.send(ROOM, 'written offline');
    await alice.waitFor(() => alice.outbox.some((m) => m.id === sent.id && m.status === 'sent'), 'the first message acked');
    await alice.waitFor(() => alice.outbox.some((m) => m.id === queued.id && m.status === 'sent'), 'the queued message acked');
    await bob.next((f) => f.event === 'message' && f.message === 'written offline');

    await new Promise((r) => setTimeout(r, 200));
    expect(bob.messages(ROOM).filter((f) => f.message === 'exactly once')).toHaveLength(1);
    expect(bob.messages(ROOM).filter((f) => f.message === 'written offline')).toHaveLength(1);
    expect(alice.messages.filter((m) => m.id === sent.id)).toHaveLength(1);
    expect(alice.texts(ROOM)).toEqual(['exactly once', 'written offline']);
  });

  it('marks a message failed after the bounded time online without an ack, and sends it on retry', async () => {
    const { server, proxy } = await serverWithProxy();
    const alice = await libClient(server, 'alice', proxy, { client: { outboxTimeoutMs: 600 } });
    alice.client.joinRoom(ROOM);
    alice.client.start();
    await alice.joinedRoom(ROOM);
    const bob = await peer(server, 'bob');

    // Online, but nothing alice sends reaches the server: the socket looks fine, no ack comes.
    proxy.mute('up');
    const message = alice.client.send(ROOM, 'will fail first');
    await alice.waitFor(() => alice.outbox.some((m) => m.id === message.id && m.status === 'failed'), 'failed', 3_000);
    expect(alice.client.state.status).toBe('online');
    proxy.cutAll();
    await alice.waitFor(() => alice.states.at(-1)?.status === 'online' && proxy.connections === 2, 'a new socket');
    await alice.joinedRoom(ROOM, 1);
    // A failed message waits for the user: nothing goes out by itself.
    await bob.request({ event: 'rooms' });
    await new Promise((r) => setTimeout(r, 300));
    expect(bob.messages(ROOM)).toHaveLength(0);

    alice.client.retry(message.id);
    await bob.next((f) => f.event === 'message' && f.message === 'will fail first' && f.id === message.id);
    await alice.waitFor(() => alice.outbox.some((m) => m.id === message.id && m.status === 'sent'), 'sent on retry');
  });

  it('a message written in a tunnel stays pending however long the tunnel is, and goes out when the network returns', async () => {
    const { server, proxy } = await serverWithProxy();
    const alice = await libClient(server, 'alice', proxy, { client: { outboxTimeoutMs: 600 } });
    alice.client.joinRoom(ROOM);
    alice.client.start();
    await alice.joinedRoom(ROOM);
    const bob = await peer(server, 'bob');

    proxy.refusing = true;
    proxy.cutAll();
    const message = alice.client.send(ROOM, 'from the tunnel');
    // Three times the failure timeout without a connection: the timer only runs while online.
    await new Promise((r) => setTimeout(r, 1_800));
    expect(alice.outbox.filter((m) => m.id === message.id).map((m) => m.status)).toEqual(['sending']);
    proxy.refusing = false;
    alice.client.reconnectNow();
    await bob.next((f) => f.event === 'message' && f.message === 'from the tunnel', 5_000);
    await alice.waitFor(() => alice.outbox.some((m) => m.id === message.id && m.status === 'sent'), 'acknowledged');
  });

  it('resumes with since: exactly the missed messages, once and in order, and reports a gap', async () => {
    const { server, proxy } = await serverWithProxy({ HISTORY_PER_ROOM: '4' });
    const alice = await libClient(server, 'alice', proxy);
    alice.client.joinRoom(ROOM);
    alice.client.start();
    await alice.joinedRoom(ROOM);
    const bob = await peer(server, 'bob');
    await bob.say(ROOM, 'seen live');
    await alice.waitFor(() => alice.texts(ROOM).includes('seen live'), 'the live message');

    proxy.refusing = true;
    proxy.cutAll();
    for (const text of ['missed 1', 'missed 2', 'missed 3']) await bob.say(ROOM, text);
    const joins = alice.joined.length;
    proxy.refusing = false;
    alice.client.reconnectNow();
    await alice.joinedRoom(ROOM, joins);
    await alice.waitFor(() => alice.texts(ROOM).length === 4, 'four messages');
    expect(alice.texts(ROOM)).toEqual(['seen live', 'missed 1', 'missed 2', 'missed 3']);
    expect(alice.messages.slice(1).every((m) => m.replay)).toBe(true);
    expect(alice.gaps).toEqual([]);

    // Offline for longer than the room keeps (4 messages): the oldest missed ones are gone.
    alice.stop();
    for (let i = 1; i <= 6; i++) await bob.say(ROOM, `long ${i}`);
    // A relaunched app: a new client over the same storage resumes from the stored seq.
    const relaunched = await libClient(server, 'alice', proxy, { storage: alice.storage, session: alice.sessions.value });
    relaunched.client.start();
    await relaunched.joinedRoom(ROOM);
    await relaunched.waitFor(() => relaunched.texts(ROOM).length === 4, 'the kept messages');
    expect(relaunched.texts(ROOM)).toEqual(['long 3', 'long 4', 'long 5', 'long 6']);
    expect(relaunched.gaps).toEqual([ROOM]);
  });

  it('refreshes an expired token on noauth and stays the same user', async () => {
    const secret = 'mobile-test-secret-0123456789abcdef0123456789';
    const { server } = await serverWithProxy({ JWT_SECRET: secret });
    const original = await login(server, 'dora');
    // The server's own issuer, with a lifetime that ended a minute ago.
    const issuer = new Authenticator({ algorithm: 'HS256', verifyKey: secret, signKey: secret, tokenTtlSeconds: -60, refreshTtlSeconds: 3600 });
    const expired = issuer.issue('dora', original.uid).token;
    const dora = await libClient(server, 'dora', undefined, {
      session: { ...original, token: expired, expiresAt: Date.now() - 60_000, color: '#10aeff' },
    });
    const authed: string[] = [];
    dora.client.on('authed', (a) => authed.push(a.uid));
    dora.client.joinRoom(ROOM);
    dora.client.start();
    await dora.joinedRoom(ROOM);
    expect(dora.logins).toEqual([{ name: 'dora', refreshToken: original.refreshToken }]);
    expect(authed).toEqual([original.uid]);
    expect(dora.sessions.current()).not.toBe(expired);

    const bob = await peer(server, 'bob');
    dora.client.send(ROOM, 'token renewed');
    const received = await bob.next((f) => f.event === 'message' && f.message === 'token renewed');
    expect(received.uid).toBe(original.uid);
  });

  it('heartbeat watchdog: a silent half-open socket is closed and replaced, a healthy one is kept', async () => {
    const { server, proxy } = await serverWithProxy({ HEARTBEAT_INTERVAL_MS: '400' });
    const alice = await libClient(server, 'alice', proxy, { client: { heartbeatGrace: () => 400 } });
    alice.client.joinRoom(ROOM);
    alice.client.start();
    await alice.joinedRoom(ROOM);

    // Healthy: pings arrive and are answered, so nothing is torn down over many intervals.
    await new Promise((r) => setTimeout(r, 1_600));
    expect(proxy.connections).toBe(1);
    expect(alice.client.state.status).toBe('online');

    // The TCP connection stays open but nothing gets through: only the watchdog can notice.
    const mutedAt = Date.now();
    const statesBefore = alice.states.length;
    proxy.mute('both');
    // Read the recorded transitions: with full jitter the replacement socket can be online again
    // before a poll of the current state would see it leave 'online'.
    await alice.waitFor(() => alice.states.slice(statesBefore).some((s) => s.status !== 'online'), 'the watchdog firing', 3_000);
    // interval + grace = 800 ms after the last frame, with room for a busy machine.
    expect(Date.now() - mutedAt).toBeLessThan(2_000);
    await alice.online();
    expect(proxy.connections).toBe(2);
    const bob = await peer(server, 'bob');
    await bob.say(ROOM, 'after the watchdog');
    await alice.waitFor(() => alice.texts(ROOM).includes('after the watchdog'), 'a message on the new socket');
  });

  it('a burst of 300 direct messages this device missed arrives whole, in order, once', { timeout: 30_000 }, async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const account = await login(server, 'alice');
    // Her other device is online: the messages go there, not to her offline inbox.
    const otherDevice = await connect(server, { token: account.token });
    cleanups.push(() => otherDevice.close());
    await otherDevice.request({ event: 'rooms' });
    const bob = await connectAs(server, 'bob');
    cleanups.push(() => bob.close());
    const dm = directRoomId(account.uid, bob.user.uid);

    // This device knew the chat up to its first message.
    const phone = await libClient(server, 'alice', undefined, { session: { ...account, color: '#07c160' } });
    phone.client.start();
    await phone.online();
    bob.send({ event: 'message', to: account.uid, message: 'dm 0', id: 'dm-0' });
    await phone.waitFor(() => phone.texts(dm).includes('dm 0'), 'the first direct message');
    phone.stop();

    const texts = Array.from({ length: 300 }, (_, i) => `dm ${i + 1}`);
    for (const [i, text] of texts.entries()) bob.send({ event: 'message', to: account.uid, message: text, id: `dm-${i + 1}` });
    await bob.next((f) => f.event === 'ack' && f.id === 'dm-300', 10_000);

    const relaunched = await libClient(server, 'alice', undefined, { storage: phone.storage, session: phone.sessions.value });
    relaunched.client.start();
    await relaunched.waitFor(() => relaunched.texts(dm).length >= 300, '300 messages', 10_000);
    // Everything asked for before this round trip has been answered by the end of it.
    await relaunched.roundTrip();
    expect(relaunched.texts(dm)).toEqual(texts);

    // The other device read them all: the server's read cursor says so to every device.
    await otherDevice.request({ event: 'read', roomid: dm, seq: 301, id: 'read-all' });
    // A device that never saw the chat (first delivered to the other device) gets it too.
    const fresh = await libClient(server, 'alice', undefined, { session: { ...account, color: '#07c160' } });
    fresh.client.start();
    await fresh.waitFor(() => fresh.historyTexts(dm).includes('dm 300'), 'the direct chat', 10_000);
    // Its newest page, read on the other device: shown, not new, not counted (the server's cursor is at its end).
    await fresh.roundTrip();
    expect(fresh.historyTexts(dm)).toEqual(texts.slice(-50));
    expect(fresh.texts(dm)).toEqual([]);
    expect(fresh.client.unreadOf(dm)).toBe(0);
  });

  it('renews the token before it expires: the socket stays up and no 4001 comes', { timeout: 20_000 }, async () => {
    const secret = 'mobile-test-secret-0123456789abcdef0123456789';
    const { server, proxy } = await serverWithProxy({ JWT_SECRET: secret });
    const original = await login(server, 'erin');
    const issuer = new Authenticator({ algorithm: 'HS256', verifyKey: secret, signKey: secret, tokenTtlSeconds: 2, refreshTtlSeconds: 3600 });
    const shortLived = issuer.issue('erin', original.uid);
    const erin = await libClient(server, 'erin', proxy, { session: { ...original, ...shortLived, color: '#10aeff' } });
    erin.client.joinRoom(ROOM);
    erin.client.start();
    await erin.joinedRoom(ROOM);
    await erin.waitFor(() => erin.logins.length === 1, 'a renewal before the expiry', 3_000);
    // Past the first token's expiry.
    await new Promise((r) => setTimeout(r, Math.max(0, shortLived.expiresAt - Date.now()) + 500));
    expect(proxy.connections).toBe(1);
    expect(erin.client.state.status).toBe('online');
    const bob = await peer(server, 'bob');
    erin.client.send(ROOM, 'still here');
    await bob.next((f) => f.event === 'message' && f.message === 'still here');
  });

  it('a room left on another device is left here too, and not joined again after a reconnect', async () => {
    const { server, proxy } = await serverWithProxy();
    const alice = await libClient(server, 'alice', proxy);
    alice.client.joinRoom(ROOM);
    alice.client.joinRoom('other-room');
    alice.client.start();
    await alice.joinedRoom(ROOM);
    const session = alice.sessions.value!;
    const otherDevice = await connect(server, { token: session.token });
    cleanups.push(() => otherDevice.close());
    await otherDevice.request({ event: 'leave', roomid: ROOM });
    await alice.waitFor(() => !alice.client.joinedRooms.includes(ROOM), 'the room gone from this device');

    const joins = alice.joined.length;
    proxy.cutAll();
    await alice.joinedRoom('other-room', joins);
    const rooms = await otherDevice.request({ event: 'rooms' });
    expect((rooms.rooms as Array<{ roomid: string }>).map((r) => r.roomid)).toEqual(['other-room']);
  });
});
