/**
 * The core on an in-memory transport: no sockets, no TLS, the embedded backend, and the clock in
 * the test's hands (vitest's fake timers drive the heartbeat). These pin the exactly-once rules of
 * a connection's cursors: a replay racing live messages, a close in the middle of a delivery, the
 * requeue of a direct message that met only a closing connection, and what an abrupt close keeps.
 */

import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryBackend } from '../src/backends.ts';
import { loadConfig } from '../src/config.ts';
import { Authenticator } from '../src/core/auth.ts';
import { ChatCore } from '../src/core/chat-core.ts';
import { createLogger } from '../src/core/logger.ts';
import type { ContentModerator, ModerationContext } from '../src/core/moderation.ts';
import type { Session, Transport } from '../src/core/session.ts';
import { directRoomId, ErrorCode, type ServerFrame } from '../src/protocol.ts';

const SECRET = 'core-test-secret-0123456789abcdef0123456789';

/** A socket that is a list: what the core sent, whether it is open, and nothing else. */
class MemoryTransport implements Transport<string> {
  readonly frames: (ServerFrame & Record<string, unknown>)[] = [];
  open = true;
  closedWith: number | undefined;
  bufferedAmount = 0;
  /** What the adapter does when its socket's close event fires: tell the core. */
  onClosed: (clean: boolean) => void = () => {};

  send(text: string): void {
    if (this.open) this.frames.push(JSON.parse(text));
  }

  sendPrepared(payload: string): void {
    this.send(payload);
  }

  close(code: number): void {
    if (!this.open) return;
    this.closedWith ??= code;
    this.open = false;
    queueMicrotask(() => this.onClosed(true));
  }

  terminate(): void {
    if (!this.open) return;
    this.open = false;
    queueMicrotask(() => this.onClosed(false));
  }

  seqs(roomid: string): number[] {
    return this.frames.filter((f) => f.event === 'message' && f.roomid === roomid).map((f) => f.seq as number);
  }
}

interface Client {
  transport: MemoryTransport;
  session: Session<string>;
  uid: string;
  /** Sends a frame and resolves once the core has handled it and everything before it. */
  send(frame: Record<string, unknown>): Promise<void>;
  /** The connection ends; `clean` as if the client sent a close frame. */
  end(clean: boolean): Promise<void>;
}

let cores: ChatCore<string>[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(cores.map((core) => core.shutdown()));
  cores = [];
});

function startCore(env: Record<string, string> = {}, moderator?: ContentModerator) {
  const config = loadConfig({
    JWT_SECRET: SECRET,
    RATE_LIMIT_PER_SEC: '10000',
    RATE_LIMIT_BURST: '10000',
    USER_RATE_PER_SEC: '10000',
    USER_RATE_BURST: '10000',
    ...env,
  });
  const backend = createMemoryBackend(config);
  const core = new ChatCore<string>({
    settings: config,
    store: backend.store,
    log: backend.log,
    bus: backend.bus,
    auth: new Authenticator({ algorithm: 'HS256', verifyKey: SECRET, tokenTtlSeconds: 3600, refreshTtlSeconds: 3600 }),
    logger: createLogger('silent'),
    prepare: (text) => text,
    moderator,
  });
  core.start();
  cores.push(core);
  const connect = async (uid: string): Promise<Client> => {
    const transport = new MemoryTransport();
    const identity = { uid, name: uid, expiresAt: Date.now() + 3_600_000 };
    const session = core.open(transport, '127.0.0.1', { identity });
    transport.onClosed = (clean) => core.closed(session, clean);
    await session.idle;
    return {
      transport,
      session,
      uid,
      send: async (frame) => {
        core.receive(session, JSON.stringify(frame), false);
        await session.idle;
      },
      end: async (clean) => {
        transport.open = false;
        core.closed(session, clean);
        await session.whenDetached();
      },
    };
  };
  return { core, backend, connect };
}

describe('core: cursors and exactly-once delivery', () => {
  it('a replay racing live messages sends each message once, in seq order', async () => {
    const { connect } = startCore();
    const alice = await connect('alice');
    await alice.send({ event: 'join', roomid: 'race', id: 'j' });
    for (let i = 1; i <= 120; i += 1) await alice.send({ event: 'message', roomid: 'race', message: `m${i}`, id: `a${i}` });
    const bob = await connect('bob');
    // Bob's join replays 120 messages in pages of 50, yielding between pages; alice keeps talking.
    const joining = bob.send({ event: 'join', roomid: 'race', since: 0, id: 'jb' });
    const live = (async () => {
      for (let i = 121; i <= 160; i += 1) {
        await alice.send({ event: 'message', roomid: 'race', message: `m${i}`, id: `a${i}` });
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all([joining, live]);
    expect(bob.transport.seqs('race')).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    const joined = bob.transport.frames.find((f) => f.event === 'joined')!;
    expect(joined.gap).toBe(false);
  });

  it('a message fanned out to a connection that is already closing is not counted as sent: it is replayed on return', async () => {
    const { connect } = startCore();
    const alice = await connect('alice');
    const bob = await connect('bob');
    for (const c of [alice, bob]) await c.send({ event: 'join', roomid: 'closing', id: 'j' });
    await alice.send({ event: 'message', roomid: 'closing', message: 'seen', id: 'm1' });
    // Bob's socket is gone, the core has not heard yet: the next message cannot reach him.
    bob.transport.open = false;
    await alice.send({ event: 'message', roomid: 'closing', message: 'missed', id: 'm2' });
    await bob.end(true);
    const back = await connect('bob');
    await back.send({ event: 'join', roomid: 'closing', id: 'j2' });
    expect(back.transport.frames.filter((f) => f.event === 'message').map((f) => f.message)).toEqual(['missed']);
  });

  it('after an abrupt end only what a pong confirmed counts as delivered', async () => {
    vi.useFakeTimers();
    const { connect } = startCore({ HEARTBEAT_INTERVAL_MS: '1000' });
    const alice = await connect('alice');
    const bob = await connect('bob');
    for (const c of [alice, bob]) await c.send({ event: 'join', roomid: 'pong', id: 'j' });
    await alice.send({ event: 'message', roomid: 'pong', message: 'one', id: 'p1' });
    vi.advanceTimersByTime(1000);
    await bob.send({ event: 'heartbeat', message: 'pong' });
    await alice.send({ event: 'message', roomid: 'pong', message: 'two', id: 'p2' });
    vi.advanceTimersByTime(1000);
    // Bob got 'two' but never answered the ping after it: the connection drops.
    await bob.end(false);
    const back = await connect('bob');
    await back.send({ event: 'join', roomid: 'pong', id: 'j2' });
    expect(back.transport.frames.filter((f) => f.event === 'message').map((f) => f.message)).toEqual(['two']);
  });

  it('a silent connection is terminated by the heartbeat and its room is told timeout', async () => {
    vi.useFakeTimers();
    const { connect } = startCore({ HEARTBEAT_INTERVAL_MS: '1000' });
    const alice = await connect('alice');
    const bob = await connect('bob');
    for (const c of [alice, bob]) await c.send({ event: 'join', roomid: 'quiet', id: 'j' });
    vi.advanceTimersByTime(1000);
    await alice.send({ event: 'heartbeat', message: 'pong' });
    vi.advanceTimersByTime(1000);
    expect(bob.transport.open).toBe(false);
    await bob.session.whenDetached();
    await alice.send({ event: 'rooms', id: 'barrier' });
    expect(alice.transport.frames.filter((f) => f.event === 'logout')).toEqual([expect.objectContaining({ uid: 'bob', reason: 'timeout' })]);
  });

  it('a direct message that met only a closing connection waits in the inbox for the next one', async () => {
    const { connect } = startCore();
    const alice = await connect('alice');
    const bob = await connect('bob');
    // The store still counts bob online; his only socket is closing.
    bob.transport.open = false;
    await alice.send({ event: 'message', to: 'bob', message: 'while closing', id: 'd1' });
    await bob.end(false);
    const back = await connect('bob');
    expect(back.transport.frames.filter((f) => f.event === 'message')).toEqual([
      expect.objectContaining({ message: 'while closing', roomid: directRoomId('alice', 'bob'), replay: true }),
    ]);
  });

  it('a resend with the same id is acked as a duplicate and fanned out to nobody again', async () => {
    const { connect } = startCore();
    const alice = await connect('alice');
    const bob = await connect('bob');
    for (const c of [alice, bob]) await c.send({ event: 'join', roomid: 'dup', id: 'j' });
    await alice.send({ event: 'message', roomid: 'dup', message: 'once', id: 'same' });
    await alice.send({ event: 'message', roomid: 'dup', message: 'once', id: 'same' });
    const acks = alice.transport.frames.filter((f) => f.event === 'ack');
    expect(acks).toEqual([expect.objectContaining({ seq: 1 }), expect.objectContaining({ seq: 1, duplicate: true })]);
    expect(bob.transport.seqs('dup')).toEqual([1]);
  });
});

describe('core: messaging rules that depend on time and hooks', () => {
  const frames = (client: Client, event: string) => client.transport.frames.filter((f) => f.event === event);

  it("one's own message can be recalled within RECALL_WINDOW_MS of its ts, not after", async () => {
    vi.useFakeTimers();
    const { connect } = startCore({ RECALL_WINDOW_MS: '120000', HEARTBEAT_INTERVAL_MS: '3600000' });
    const alice = await connect('alice');
    // The room's owner recalls anything at any age: alice is a plain member of bob's room.
    const bob = await connect('bob');
    await bob.send({ event: 'join', roomid: 'window', id: 'j' });
    await alice.send({ event: 'join', roomid: 'window', id: 'j' });
    await alice.send({ event: 'message', roomid: 'window', message: 'quick', id: 'm1' });
    await alice.send({ event: 'message', roomid: 'window', message: 'slow', id: 'm2' });
    vi.advanceTimersByTime(120_000);
    await alice.send({ event: 'recall', roomid: 'window', seq: 1, id: 'r1' });
    vi.advanceTimersByTime(1);
    await alice.send({ event: 'recall', roomid: 'window', seq: 2, id: 'r2' });
    expect(frames(alice, 'ack').find((f) => f.id === 'r1')).toMatchObject({ seq: 3 });
    expect(frames(alice, 'error')).toEqual([expect.objectContaining({ code: ErrorCode.RecallTooLate, ref: 'r2' })]);
  });

  it('the moderation hook sees every message text first: a refusal stores nothing, a failing hook is Unavailable', async () => {
    const seen: [string, ModerationContext][] = [];
    const moderator: ContentModerator = {
      check: async (text, context) => {
        seen.push([text, context]);
        if (text.includes('违禁')) return { allow: false, reason: 'sensitive words' };
        if (text.includes('timeout')) throw new Error('moderation service unreachable');
        return { allow: true };
      },
    };
    const { connect, backend } = startCore({}, moderator);
    const alice = await connect('alice');
    const bob = await connect('bob');
    for (const c of [alice, bob]) await c.send({ event: 'join', roomid: 'checked', id: 'j' });
    await alice.send({ event: 'message', roomid: 'checked', message: '含违禁词', id: 'bad' });
    await alice.send({ event: 'message', roomid: 'checked', message: 'timeout', id: 'down' });
    await alice.send({ event: 'message', to: 'bob', message: '私聊违禁', id: 'bad-dm' });
    await alice.send({ event: 'message', roomid: 'checked', message: 'fine', id: 'ok' });
    expect(frames(alice, 'error').map((f) => [f.ref, f.code])).toEqual([
      ['bad', ErrorCode.ContentRefused],
      ['down', ErrorCode.Unavailable],
      ['bad-dm', ErrorCode.ContentRefused],
    ]);
    expect(frames(alice, 'error')[0].message).toContain('sensitive words');
    expect(bob.transport.frames.filter((f) => f.event === 'message').map((f) => f.message)).toEqual(['fine']);
    expect((await backend.log.readAfter('checked', 0, 10)).messages.map((m) => m.message)).toEqual(['fine']);
    expect(seen.map(([text, context]) => [text, context.field, context.uid, context.roomid])).toEqual([
      ['含违禁词', 'message', 'alice', 'checked'],
      ['timeout', 'message', 'alice', 'checked'],
      ['私聊违禁', 'message', 'alice', directRoomId('alice', 'bob')],
      ['fine', 'message', 'alice', 'checked'],
    ]);
  });

  it('read updates within READ_COALESCE_MS reach the store and the other devices once, when the window ends', async () => {
    vi.useFakeTimers();
    const { connect, backend } = startCore({ READ_COALESCE_MS: '1000' });
    const phone = await connect('alice');
    const laptop = await connect('alice');
    await phone.send({ event: 'join', roomid: 'merge', id: 'j' });
    for (let i = 1; i <= 5; i += 1) await phone.send({ event: 'message', roomid: 'merge', message: `m${i}`, id: `m${i}` });
    const marks: number[] = [];
    const markRead = backend.store.markRead.bind(backend.store);
    backend.store.markRead = (roomid, uid, seq) => {
      marks.push(seq);
      return markRead(roomid, uid, seq);
    };
    await phone.send({ event: 'read', roomid: 'merge', seq: 1, id: 'r1' });
    await phone.send({ event: 'read', roomid: 'merge', seq: 4, id: 'r2' });
    await phone.send({ event: 'read', roomid: 'merge', seq: 3, id: 'r3' });
    expect(marks).toEqual([1]);
    // The phone is answered; the other devices are told.
    expect(frames(phone, 'read').map((f) => f.ref)).toEqual(['r1']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(marks).toEqual([1, 4]);
    expect(
      frames(phone, 'read')
        .filter((f) => f.ref !== undefined)
        .map((f) => [f.ref, f.seq]),
    ).toEqual([
      ['r1', 1],
      ['r2', 4],
      ['r3', 4],
    ]);
    expect(frames(laptop, 'read').map((f) => f.seq)).toEqual([1, 4]);
    // A quiet spell later the next update is applied at once again; one waiting when the connection closes is saved.
    await vi.advanceTimersByTimeAsync(1000);
    await phone.send({ event: 'read', roomid: 'merge', seq: 5 });
    expect(marks).toEqual([1, 4, 5]);
  });

  it('a read update still waiting when its connection closes is saved', async () => {
    vi.useFakeTimers();
    const { connect, backend } = startCore({ READ_COALESCE_MS: '60000' });
    const alice = await connect('alice');
    await alice.send({ event: 'join', roomid: 'closing-read', id: 'j' });
    for (let i = 1; i <= 3; i += 1) await alice.send({ event: 'message', roomid: 'closing-read', message: `m${i}`, id: `m${i}` });
    await alice.send({ event: 'read', roomid: 'closing-read', seq: 1 });
    await alice.send({ event: 'read', roomid: 'closing-read', seq: 3 });
    expect(await backend.store.rooms('alice')).toEqual([expect.objectContaining({ roomid: 'closing-read', read: 1 })]);
    await alice.end(true);
    expect(await backend.store.rooms('alice')).toEqual([expect.objectContaining({ roomid: 'closing-read', read: 3 })]);
  });

  it('typing goes to the peer at most once per TYPING_INTERVAL_MS per connection', async () => {
    vi.useFakeTimers();
    const { connect } = startCore({ TYPING_INTERVAL_MS: '3000' });
    const alice = await connect('alice');
    const bob = await connect('bob');
    await alice.send({ event: 'message', to: 'bob', message: 'hi', id: 'd' });
    await alice.send({ event: 'typing', to: 'bob' });
    vi.advanceTimersByTime(2999);
    await alice.send({ event: 'typing', to: 'bob' });
    vi.advanceTimersByTime(1);
    await alice.send({ event: 'typing', to: 'bob' });
    expect(frames(bob, 'typing')).toHaveLength(2);
    expect(frames(alice, 'typing')).toHaveLength(0);
  });
});
