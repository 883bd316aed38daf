import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatClient, type ChatClientOptions } from '../src/lib/chat-client';
import { type ConnectionState, canTransition, stateKey } from '../src/lib/connection-state';
import { MemoryStorage } from '../src/lib/storage';
import { CredentialsRejected, type TokenSource } from '../src/lib/token-source';
import { MemoryServer } from './support/memory-server';

/**
 * Unit tests of the client's state machines on an in-memory server (fake timers, no network).
 * What they prove against the real server is in chat-client.test.ts and the app tests.
 */

const HOUR = 3_600_000;

class Tokens implements TokenSource {
  refreshes = 0;
  /** The login endpoint says no (401/404): renewal is impossible. */
  rejecting = false;
  constructor(
    private readonly server: MemoryServer,
    private token: string | undefined,
  ) {}
  current(): string | undefined {
    return this.token;
  }
  expiresAt(): number | undefined {
    return this.token ? this.server.tokens.get(this.token)?.expiresAt : undefined;
  }
  uid(): string {
    return 'u-alice';
  }
  async refresh(): Promise<string> {
    if (this.rejecting) throw new CredentialsRejected('401');
    this.refreshes += 1;
    this.token = `fresh-${this.refreshes}`;
    this.server.tokens.set(this.token, { uid: 'u-alice', name: 'alice', expiresAt: Date.now() + HOUR });
    return this.token;
  }
}

function setup(options: Partial<ChatClientOptions> = {}, reuse?: { server: MemoryServer; storage: MemoryStorage }) {
  const server = reuse?.server ?? new MemoryServer();
  server.tokens.set('t1', { uid: 'u-alice', name: 'alice', expiresAt: Date.now() + HOUR });
  const tokens = new Tokens(server, 't1');
  const storage = reuse?.storage ?? new MemoryStorage();
  const client = new ChatClient({ url: 'wss://chat.test/', transport: server, auth: tokens, storage, backoff: { baseMs: 100, capMs: 1_000 }, ...options });
  const states: ConnectionState[] = [];
  client.on('state', (s) => states.push(s));
  const texts: string[] = [];
  client.on('message', (m) => texts.push(m.message));
  return { server, tokens, storage, client, states, texts, keys: () => states.map(stateKey) };
}

/** Lets every queued frame and timer of the next `ms` run. */
const run = (ms = 10) => vi.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('connection state machine', () => {
  it('goes stopped -> connecting -> online, joins its rooms, and back to stopped', async () => {
    const { client, server, keys } = setup();
    client.joinRoom('lobby');
    expect(client.roomState('lobby')).toBe('unsubscribed');
    client.start();
    await run();
    expect(keys()).toEqual(['connecting', 'online']);
    expect(client.roomState('lobby')).toBe('joined');
    expect(server.framesOf('join')).toEqual([expect.objectContaining({ roomid: 'lobby' })]);
    client.stop();
    expect(keys()).toEqual(['connecting', 'online', 'offline:stopped']);
    expect(server.last.closed).toBe(true);
    expect(client.roomState('lobby')).toBe('unsubscribed');
  });

  it('the transition table refuses what the client must never do', () => {
    const stopped: ConnectionState = { status: 'offline', reason: 'stopped' };
    const unauthorized: ConnectionState = { status: 'offline', reason: 'unauthorized' };
    expect(canTransition(stopped, { status: 'online' })).toBe(false);
    expect(canTransition({ status: 'reconnecting', retryAt: 0, attempt: 1 }, { status: 'online' })).toBe(false);
    expect(canTransition(unauthorized, { status: 'connecting' })).toBe(false);
    expect(canTransition({ status: 'online' }, { status: 'online' })).toBe(false);
    expect(canTransition({ status: 'connecting' }, { status: 'online' })).toBe(true);
  });

  it('a closed socket waits out the backoff, reconnects, and resumes each room after its last seq', async () => {
    // A fixed jitter: a random delay under 10 ms (one run in ten) would let the second attempt go within the first run().
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { client, server, keys, texts } = setup();
    client.joinRoom('lobby');
    client.start();
    await run();
    server.post('lobby', 'one');
    await run();
    server.refusing = true;
    server.last.drop(1006);
    await run();
    // The first attempt goes at once (and is refused here); the next waits out the backoff.
    expect(keys()).toEqual(['connecting', 'online', 'reconnecting', 'connecting', 'reconnecting']);
    expect(client.roomState('lobby')).toBe('unsubscribed');
    server.post('lobby', 'two');
    server.refusing = false;
    await run(1_000);
    expect(keys()).toEqual(['connecting', 'online', 'reconnecting', 'connecting', 'reconnecting', 'connecting', 'online']);
    expect(server.framesOf('join').map((f) => f.since)).toEqual([undefined, 1]);
    expect(texts).toEqual(['one', 'two']);
    expect(client.roomState('lobby')).toBe('joined');
  });

  it('a reply meant for an earlier join, or for a room left meanwhile, changes nothing', async () => {
    const { client, server } = setup();
    server.intercept = (_conn, frame) => {
      // Hold every join: the test answers them by hand.
      return frame.event === 'join';
    };
    client.joinRoom('lobby');
    client.start();
    await run();
    expect(client.roomState('lobby')).toBe('joining');
    const join = server.framesOf('join')[0];
    server.last.push({ event: 'joined', roomid: 'lobby', num: 1, total: 1, lastSeq: 0, replayed: 0, gap: false, ref: 'not-that-join' } as never);
    await run();
    expect(client.roomState('lobby')).toBe('joining');
    client.leaveRoom('lobby');
    server.last.push({ event: 'joined', roomid: 'lobby', num: 1, total: 1, lastSeq: 0, replayed: 0, gap: false, ref: join.id } as never);
    await run();
    expect(client.roomState('lobby')).toBeUndefined();
    expect(client.joinedRooms).toEqual([]);
  });

  it('network down drops the socket at once; network up connects without waiting for the backoff', async () => {
    const { client, server, keys } = setup();
    client.start();
    await run();
    client.setNetworkAvailable(false);
    expect(keys().slice(-1)).toEqual(['offline:network']);
    expect(server.last.closed).toBe(true);
    await run(5_000);
    expect(server.connections).toHaveLength(1);
    client.setNetworkAvailable(true);
    await run();
    expect(keys().slice(-2)).toEqual(['connecting', 'online']);
    expect(server.connections).toHaveLength(2);
  });

  it('a silent socket is given up by the heartbeat watchdog and replaced', async () => {
    const { client, server, keys } = setup({ heartbeatGrace: () => 1_000 });
    server.heartbeatMs = 2_000;
    client.start();
    await run();
    server.last.silent = true;
    // interval + grace after the last frame, which came within the first run().
    await run(2_900);
    expect(keys().slice(-1)).toEqual(['online']);
    await run(200);
    expect(keys().slice(2)).toContain('reconnecting');
    await run(1_000);
    expect(keys().slice(-2)).toEqual(['connecting', 'online']);
    expect(server.connections).toHaveLength(2);
  });

  it('noauth: refreshes the token, authenticates again on the same socket and joins its rooms again', async () => {
    const { client, server, tokens } = setup();
    // Revoked on the server, though the client still thinks it valid.
    server.tokens.delete('t1');
    client.joinRoom('lobby');
    client.start();
    await run();
    expect(tokens.refreshes).toBe(1);
    expect(server.connections).toHaveLength(1);
    expect(server.framesOf('auth').map((f) => f.message)).toEqual(['t1', 'fresh-1']);
    expect(client.state.status).toBe('online');
    expect(client.roomState('lobby')).toBe('joined');
  });

  it('outbox: a message waits for its room to be joined, and after a lost ack is resent with the same id', async () => {
    const { client, server } = setup();
    client.joinRoom('lobby');
    const acks: string[] = [];
    client.on('outbox', (m) => m.status === 'sent' && acks.push(m.id));
    const message = client.send('lobby', 'hello');
    client.start();
    // The first message frame is swallowed with its socket: no ack.
    server.intercept = (conn, frame) => {
      if (frame.event !== 'message') return false;
      conn.drop(1006);
      return true;
    };
    await run();
    expect(server.framesOf('message').map((f) => f.id)).toEqual([message.id]);
    server.intercept = undefined;
    await run(1_000);
    expect(server.framesOf('message').map((f) => f.id)).toEqual([message.id, message.id]);
    expect(acks).toEqual([message.id]);
    expect(server.room('lobby').messages.map((m) => m.message)).toEqual(['hello']);
  });

  it('a new server epoch: the room is joined again from seq 0, once', async () => {
    const { client, server, texts } = setup();
    client.joinRoom('lobby');
    client.start();
    await run();
    server.post('lobby', 'before');
    await run();
    client.setNetworkAvailable(false);
    // The server lost its state: seqs start over under a new epoch.
    server.rooms.clear();
    server.epoch = 'epoch-2';
    server.post('lobby', 'after the restart');
    client.setNetworkAvailable(true);
    await run(1_000);
    expect(server.framesOf('join').map((f) => [f.since, f.epoch])).toEqual([
      [undefined, undefined],
      [1, 'epoch-1'],
      [0, 'epoch-2'],
    ]);
    expect(texts).toEqual(['before', 'after the restart']);
    expect(client.roomState('lobby')).toBe('joined');
  });

  it('a relaunch shows what the phone kept and resumes after it, never before it', async () => {
    const first = setup();
    first.client.joinRoom('lobby');
    first.client.start();
    await run();
    first.server.post('lobby', 'one');
    first.server.post('lobby', 'two');
    await run();
    // WeChat hides the app (everything is written), then kills it.
    first.client.appHidden();
    first.server.last.drop(1006);
    first.server.post('lobby', 'three');

    const second = setup({}, { server: first.server, storage: first.storage });
    expect(second.client.storedRooms()).toEqual([
      expect.objectContaining({
        roomid: 'lobby',
        unread: 2,
        messages: [expect.objectContaining({ message: 'one' }), expect.objectContaining({ message: 'two' })],
      }),
    ]);
    second.client.start();
    await run();
    expect(second.server.framesOf('join').at(-1)).toMatchObject({ roomid: 'lobby', since: 2, epoch: 'epoch-1' });
    expect(second.texts).toEqual(['three']);
    expect(second.client.unreadOf('lobby')).toBe(3);
    second.client.openRoom('lobby');
    expect(second.client.unreadOf('lobby')).toBe(0);
  });

  it('back from the background, or on another kind of network, an open socket is replaced at once', async () => {
    const { client, server, keys } = setup();
    client.setNetwork(true, 'wifi');
    client.start();
    await run();
    client.appShown();
    client.setNetwork(true, 'wifi');
    expect(server.connections).toHaveLength(1);
    client.appHidden();
    client.appShown();
    await run();
    expect(server.connections).toHaveLength(2);
    expect(server.connections[0].closed).toBe(true);
    client.setNetwork(true, '4g');
    await run();
    expect(server.connections).toHaveLength(3);
    expect(keys()).toEqual(['connecting', 'online', 'connecting', 'online', 'connecting', 'online']);
  });

  it('the outbox timer runs only while online: a long tunnel does not fail a message', async () => {
    const { client, server } = setup({ outboxTimeoutMs: 1_000 });
    client.joinRoom('lobby');
    const outcomes: string[] = [];
    client.on('outbox', (m) => outcomes.push(m.status));
    client.start();
    await run();
    client.setNetwork(false);
    client.send('lobby', 'in the tunnel');
    await run(60_000);
    expect(outcomes).toEqual(['sending']);
    client.setNetwork(true);
    await run(1_000);
    expect(outcomes).toEqual(['sending', 'sent']);
    expect(server.room('lobby').messages.map((m) => m.message)).toEqual(['in the tunnel']);
  });

  it('renews the token on the live socket before it expires', async () => {
    const { client, server, tokens } = setup();
    server.tokens.get('t1')!.expiresAt = Date.now() + 30_000;
    client.start();
    await run();
    await run(19_000);
    expect(tokens.refreshes).toBe(0);
    await run(2_000);
    expect(tokens.refreshes).toBe(1);
    expect(server.framesOf('auth').map((f) => f.message)).toEqual(['t1', 'fresh-1']);
    expect(server.connections).toHaveLength(1);
    expect(client.state.status).toBe('online');
  });

  it('a refresh credential the server refuses ends in unauthorized, and nothing more is tried', async () => {
    const { client, server, tokens, keys } = setup();
    server.tokens.delete('t1');
    tokens.rejecting = true;
    client.start();
    await run(60_000);
    expect(keys()).toEqual(['connecting', 'offline:unauthorized']);
    expect(server.connections).toHaveLength(1);
  });

  it('a request refused for the rate limit is sent again, same id, and its answer counts', async () => {
    const { client, server } = setup();
    let refused = false;
    server.intercept = (conn, frame) => {
      if (frame.event !== 'join' || refused) return false;
      refused = true;
      conn.push({ event: 'error', code: 4429, message: 'too many frames; slow down', ref: frame.id } as never);
      return true;
    };
    client.joinRoom('lobby');
    client.start();
    await run(2_000);
    const joins = server.framesOf('join');
    expect(joins.map((f) => f.id)).toEqual([joins[0].id, joins[0].id]);
    expect(client.roomState('lobby')).toBe('joined');
  });

  it('a room left on another device (left without ref) is forgotten here', async () => {
    const { client, server } = setup();
    const left: string[] = [];
    client.on('left', (l) => left.push(l.roomid));
    client.joinRoom('lobby');
    client.joinRoom('other');
    client.start();
    await run();
    server.last.push({ event: 'left', roomid: 'lobby' } as never);
    await run();
    expect(left).toEqual(['lobby']);
    expect(client.joinedRooms).toEqual(['other']);
    server.last.drop(1006);
    await run(1_000);
    expect(server.framesOf('join').map((f) => f.roomid)).toEqual(['lobby', 'other', 'other']);
  });
});
