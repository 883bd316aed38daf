import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatClient, type ChatClientOptions } from '../src/lib/chat-client';
import { canTransition, stateKey, type ConnectionState } from '../src/lib/connection-state';
import { MemoryStorage } from '../src/lib/storage';
import type { TokenSource } from '../src/lib/token-source';
import { MemoryServer } from './support/memory-server';

/**
 * Unit tests of the client's state machines on an in-memory server (fake timers, no network).
 * What they prove against the real server is in chat-client.test.ts and the app tests.
 */

const HOUR = 3_600_000;

class Tokens implements TokenSource {
  refreshes = 0;
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
    this.refreshes += 1;
    this.token = `fresh-${this.refreshes}`;
    this.server.tokens.set(this.token, { uid: 'u-alice', name: 'alice', expiresAt: Date.now() + HOUR });
    return this.token;
  }
}

function setup(options: Partial<ChatClientOptions> = {}) {
  const server = new MemoryServer();
  server.tokens.set('t1', { uid: 'u-alice', name: 'alice', expiresAt: Date.now() + HOUR });
  const tokens = new Tokens(server, 't1');
  const storage = new MemoryStorage();
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
    server.intercept = (conn, frame) => {
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
    expect(server.framesOf('join').map((f) => [f.since, f.epoch])).toEqual([[undefined, undefined], [1, 'epoch-1'], [0, 'epoch-2']]);
    expect(texts).toEqual(['before', 'after the restart']);
    expect(client.roomState('lobby')).toBe('joined');
  });
});
