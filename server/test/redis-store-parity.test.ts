/**
 * The Redis backend answers like the embedded one: the same operations on both give the same
 * results (counts, cursors, trimmed history and its gap flags, inboxes, duplicates) and fan out
 * the same envelopes, byte for byte.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../src/backends.ts';
import { loadConfig } from '../src/config.ts';
import type { ChatBackend } from '../src/core/backend.ts';
import type { Envelope } from '../src/core/envelope.ts';
import { type GroupChange, SendRefused, type Standing } from '../src/core/group-store.ts';
import { createLogger } from '../src/core/logger.ts';
import type { MemoryStore } from '../src/core/memory-store.ts';
import { quoteOf } from '../src/core/quote.ts';
import { type RecallRequest, recallNotice } from '../src/core/recall.ts';
import type { MessageDraft } from '../src/core/room-log.ts';
import { roomTopic, type Topic, userTopic } from '../src/core/topics.ts';
import { directRoomId, ServerEvent } from '../src/protocol.ts';
import { createRedisBackends, type RedisBackends } from '../src/redis/redis-backends.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`skipping the Redis tests: ${unavailable}`);

const limits = { HISTORY_PER_ROOM: '5', INBOX_PER_USER: '3', ROOM_TTL_MS: '60000' };

let ts = 1_000;
const draft = (roomid: string, uid: string, message: string, id = `c-${ts}`): MessageDraft => ({
  event: ServerEvent.Message,
  id,
  roomid,
  ts: (ts += 1),
  uid,
  name: uid.toUpperCase(),
  message,
});

/** Every envelope a backend's bus hands this node, in order. */
function recorder(backend: ChatBackend): Envelope[] {
  const seen: Envelope[] = [];
  backend.bus.onEnvelope((envelope) => seen.push(envelope));
  return seen;
}

describe.skipIf(unavailable !== undefined)('the Redis backend and the embedded one agree', () => {
  let redis: TestRedis;
  let onRedis: RedisBackends;
  let inMemory: ChatBackend;
  let redisEnvelopes: Envelope[];
  let memoryEnvelopes: Envelope[];

  beforeAll(async () => {
    redis = await startRedis();
    const config = loadConfig({ ...limits, REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'parity:', REDIS_PRESENCE_TTL_MS: '60000' });
    onRedis = await createRedisBackends({ ...config, redisUrl: redis.url }, createLogger('silent'));
    inMemory = createMemoryBackend(loadConfig(limits));
    redisEnvelopes = recorder(onRedis);
    memoryEnvelopes = recorder(inMemory);
    const topics: Topic[] = [
      roomTopic('p-room'),
      roomTopic('p-hist'),
      roomTopic('p-resend'),
      roomTopic('p-shared'),
      roomTopic('p-recall'),
      userTopic('s'),
      userTopic('r'),
    ];
    for (const topic of topics) await Promise.all([onRedis.bus.subscribe(topic), inMemory.bus.subscribe(topic)]);
  });
  afterAll(async () => {
    await Promise.all([onRedis?.close(), inMemory?.close()]);
    await redis?.stop();
  });

  /**
   * Runs the same step on both backends and compares every result, and the envelopes each fanned
   * out meanwhile. Epochs are random per backend: each must be a string.
   */
  async function both<T>(step: (backend: ChatBackend) => Promise<T>): Promise<T> {
    const [memoryFrom, redisFrom] = [memoryEnvelopes.length, redisEnvelopes.length];
    const fromMemory = await step(inMemory);
    const fromRedis = await step(onRedis);
    const comparable = (value: T): unknown => {
      // Order of rooms() is not part of the contract (Redis keeps a user's rooms in a set).
      if (Array.isArray(value) && value.every((v) => typeof v?.roomid === 'string')) {
        return [...value].sort((x, y) => (x.roomid < y.roomid ? -1 : 1));
      }
      if (value === null || typeof value !== 'object' || !('epoch' in value) || !('lastSeq' in value)) return value;
      expect(typeof value.epoch).toBe('string');
      return { ...value, epoch: undefined };
    };
    expect(comparable(fromRedis)).toEqual(comparable(fromMemory));
    // Redis hands envelopes over from its subscriber connection: wait until it has as many.
    const expected = memoryEnvelopes.length - memoryFrom;
    const deadline = Date.now() + 2000;
    while (redisEnvelopes.length - redisFrom < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(redisEnvelopes.slice(redisFrom)).toEqual(memoryEnvelopes.slice(memoryFrom));
    return fromRedis;
  }

  const join = (roomid: string, uid: string, name: string, connId: string) => (b: ChatBackend) => b.store.join(roomid, uid, name, connId, { mayCreate: true });

  it('joins, disconnects, cursors and leaves', async () => {
    await both(join('p-room', 'a', 'A', 'conn-a1'));
    await both(join('p-room', 'a', 'A', 'conn-a2'));
    await both(join('p-room', 'b', 'B', 'conn-b1'));
    for (let i = 1; i <= 3; i += 1) {
      const message = draft('p-room', 'a', `m${i}`, `p${i}`);
      await both((s) => s.log.append(message));
    }
    await both((s) => s.store.disconnect('p-room', 'b', 'conn-b1', 2));
    await both((s) => s.store.disconnect('p-room', 'b', 'conn-b1', 2));
    await both((s) => s.store.disconnect('p-room', 'a', 'conn-a1', 3));
    await both((s) => s.store.counts('p-room'));
    await both((s) => s.store.members('p-room'));
    await both(join('p-room', 'b', 'B', 'conn-b2'));
    await both((s) => s.store.isMember('p-room', 'b'));
    await both((s) => s.store.leave('p-room', 'b'));
    await both((s) => s.store.leave('p-room', 'b'));
    await both((s) => s.store.isMember('p-room', 'b'));
    await both((s) => s.store.counts('nowhere'));
    await both((s) => s.store.disconnect('nowhere', 'a', 'x', 1));
    // The messages and notices fanned out were compared too.
    expect(memoryEnvelopes.filter((e) => e.topic.kind === 'room').length).toBeGreaterThanOrEqual(3);
  });

  it('history trimmed to HISTORY_PER_ROOM, with the same gap flags', async () => {
    await both(join('p-hist', 'a', 'A', 'conn-h'));
    for (let i = 1; i <= 8; i += 1) {
      const message = draft('p-hist', 'a', `h${i}`);
      await both((s) => s.log.append(message));
    }
    for (const after of [0, 2, 3, 4, 6, 8, 9]) {
      for (const limit of [2, 5, 10]) await both((s) => s.log.readAfter('p-hist', after, limit));
    }
    for (const before of [undefined, 1, 2, 5, 6, 9, 20]) {
      for (const limit of [1, 3, 10]) await both((s) => s.log.readBefore('p-hist', before, limit));
    }
    await both((s) => s.log.readAfter('never-seen', 0, 10));
    await both((s) => s.log.readAfter('never-seen', 4, 10));
    await both((s) => s.log.readBefore('never-seen', 5, 10));
    await both((s) => s.log.readBefore('never-seen', undefined, 10));
    await both((s) => s.store.rooms('a'));
  });

  it('direct messages: inbox when offline, capped with a gap, taken by the first connection only', async () => {
    const dm = (i: number) => ({ ...draft(directRoomId('s', 'r'), 's', `d${i}`), to: 'r' });
    await both((s) => s.store.connectUser('s', 'S', 'conn-s'));
    for (let i = 1; i <= 5; i += 1) {
      const message = dm(i);
      await both((s) => s.log.appendDirect(message, 'r'));
    }
    await both((s) => s.store.rooms('s'));
    await both((s) => s.store.connectUser('r', 'R', 'conn-r1'));
    await both((s) => s.store.connectUser('r', 'R', 'conn-r2'));
    const sixth = dm(6);
    await both((s) => s.log.appendDirect(sixth, 'r'));
    await both((s) => s.store.members(directRoomId('s', 'r')));
    await both((s) => s.store.disconnectUser('r', 'conn-r1'));
    await both((s) => s.store.disconnectUser('r', 'conn-r2'));
    await both((s) => s.store.disconnectUser('r', 'conn-r2'));
    const seventh = dm(7);
    await both((s) => s.log.appendDirect(seventh, 'r'));
    await both((s) => s.store.connectUser('r', 'R', 'conn-r3'));
    await both((s) => s.store.rooms('r'));
  });

  it('a requeued direct message waits for an offline recipient once, and not for an online one', async () => {
    const late = { ...draft(directRoomId('q', 't'), 'q', 'late'), to: 't' };
    const stored = await both((s) => s.log.appendDirect(late, 't').then((r) => r.message));
    await both((s) => s.store.connectUser('t', 'T', 'conn-t1'));
    await both((s) => s.store.queueDirect('t', stored));
    await both((s) => s.store.disconnectUser('t', 'conn-t1'));
    await both((s) => s.store.queueDirect('t', stored));
    await both((s) => s.store.queueDirect('t', stored));
    const back = await both((s) => s.store.connectUser('t', 'T', 'conn-t2'));
    expect(back.inbox.map((m) => m.message)).toEqual(['late']);
  });

  it('a resent append (its reply lost) is answered with the stored message, not stored or fanned out twice', async () => {
    await both(join('p-resend', 'a', 'A', 'conn-r'));
    const once = draft('p-resend', 'a', 'only once', 'same-id');
    const first = await both((s) => s.log.append(once));
    expect(first.duplicate).toBe(false);
    const again = await both((s) => s.log.append({ ...once, ts: once.ts + 5, message: 'changed' }));
    expect(again).toEqual({ message: first.message, duplicate: true });
    await both((s) => s.log.readAfter('p-resend', 0, 10));
    const dm = { ...draft(directRoomId('s', 'r'), 's', 'dm once', 'dm-same'), to: 'r' };
    await both((s) => s.log.appendDirect(dm, 'r'));
    const dmAgain = await both((s) => s.log.appendDirect(dm, 'r'));
    expect(dmAgain.duplicate).toBe(true);
  });

  it("two senders' messages with the same id are two messages, and each resend is answered with its own, while it is kept", async () => {
    await both(join('p-shared', 'a', 'A', 'conn-sa'));
    await both(join('p-shared', 'b', 'B', 'conn-sb'));
    const append = (uid: string, message: string, id: string) => {
      const sent = draft('p-shared', uid, message, id);
      return both((s) => s.log.append(sent));
    };
    const fromA = await append('a', 'from a', 'same');
    const fromB = await append('b', 'from b', 'same');
    expect([fromA.duplicate, fromB.duplicate, fromB.message.seq]).toEqual([false, false, fromA.message.seq + 1]);
    expect(await append('a', 'resent', 'same')).toEqual({ message: fromA.message, duplicate: true });
    expect(await append('b', 'resent', 'same')).toEqual({ message: fromB.message, duplicate: true });
    // HISTORY_PER_ROOM is 5: four more messages push a's out, and b's is still recognised.
    for (let i = 0; i < 4; i += 1) await append('a', `filler ${i}`, `filler-${i}`);
    expect(await append('b', 'resent', 'same')).toEqual({ message: fromB.message, duplicate: true });
    // a's original is no longer kept, so the same id from a is a new message (which pushes b's out).
    const newFromA = await append('a', 'from a again', 'same');
    expect(newFromA.duplicate).toBe(false);
    expect(await append('a', 'resent', 'same')).toEqual({ message: newFromA.message, duplicate: true });
    const newFromB = await append('b', 'from b again', 'same');
    expect(newFromB.duplicate).toBe(false);
    expect(await append('b', 'resent', 'same')).toEqual({ message: newFromB.message, duplicate: true });
    expect(await append('a', 'resent', 'same')).toEqual({ message: newFromA.message, duplicate: true });
    expect((await both((s) => s.log.readAfter('p-shared', 0, 10))).messages.map((m) => [m.uid, m.id])).toEqual([
      ['a', 'filler-1'],
      ['a', 'filler-2'],
      ['a', 'filler-3'],
      ['a', 'same'],
      ['b', 'same'],
    ]);
  });

  it('groups: creation, the view, changes checked against standings, admission, succession, send refusals', async () => {
    const room = 'g:parity';
    await Promise.all([onRedis.bus.subscribe(roomTopic(room)), inMemory.bus.subscribe(roomTopic(room))]);
    const change = (c: GroupChange, expect: Array<[string, Standing]>) => (b: ChatBackend) => b.store.changeGroup(room, c, expect);
    const view = (uids: string[]) => (b: ChatBackend) => b.store.group(room, uids);
    const joinWith = (uid: string, options: { link?: string; maxMembers?: number }) => (b: ChatBackend) =>
      b.store.join(room, uid, uid.toUpperCase(), `conn-${uid}`, { mayCreate: false, ...options });
    /** An append, or how the log refused it. */
    const send = (uid: string, text: string) => {
      const message = draft(room, uid, text, `${uid}-${text}`);
      return (b: ChatBackend) =>
        b.log.append(message).catch((err: unknown) => {
          if (err instanceof SendRefused) return { refused: err.reason, until: err.until };
          throw err;
        });
    };
    const soon = Date.now() + 600_000;

    expect(await both((s) => s.store.createGroup(room, 'o', 'O', { title: '对照群', private: true }))).toBe('created');
    expect(await both((s) => s.store.createGroup(room, 'x', 'X', { title: 'taken', private: false }))).toBe('taken');
    await both((s) => s.store.connectUser('i', 'I', 'conn-i'));
    expect(await both((s) => s.store.userName('i'))).toBe('I');
    expect(await both((s) => s.store.userName('never-seen'))).toBeUndefined();
    await both(view(['o', 'i']));
    expect(await both((s) => s.store.group('g:absent', ['o']))).toBeUndefined();
    for (const uid of ['a', 'm', 'b', 'c'])
      await both(
        change({ op: 'invite', user: uid, name: uid.toUpperCase(), maxMembers: 10 }, [
          ['o', 'owner'],
          [uid, 'none'],
        ]),
      );
    expect(await both(change({ op: 'invite', user: 'z', name: 'Z', maxMembers: 5 }, [['o', 'owner']]))).toBe('full');
    // Judged on standings that no longer hold: nothing happens.
    expect(
      await both(
        change({ op: 'kick', user: 'm' }, [
          ['o', 'admin'],
          ['m', 'member'],
        ]),
      ),
    ).toBe('stale');
    expect(
      await both(
        change({ op: 'kick', user: 'm' }, [
          ['o', 'owner'],
          ['m', 'none'],
        ]),
      ),
    ).toBe('stale');
    expect(await both(change({ op: 'unban', user: 'm' }, [['o', 'owner']]))).toBe('done');
    expect(await both((s) => s.store.changeGroup('g:absent', { op: 'unban', user: 'm' }, []))).toBe('stale');
    await both(
      change({ op: 'role', user: 'a', role: 'admin', maxAdmins: 2 }, [
        ['o', 'owner'],
        ['a', 'member'],
      ]),
    );
    await both(
      change({ op: 'role', user: 'c', role: 'admin', maxAdmins: 2 }, [
        ['o', 'owner'],
        ['c', 'member'],
      ]),
    );
    expect(
      await both(
        change({ op: 'role', user: 'm', role: 'admin', maxAdmins: 2 }, [
          ['o', 'owner'],
          ['m', 'member'],
        ]),
      ),
    ).toBe('full');
    await both(
      change({ op: 'mute', user: 'm', until: soon }, [
        ['a', 'admin'],
        ['m', 'member'],
      ]),
    );
    await both(change({ op: 'profile', title: '新名', notice: { text: '公告\n第二行', uid: 'o', name: 'O', ts: 1234 }, muteAll: true }, [['o', 'owner']]));
    await both(change({ op: 'link', key: 'key-1', expiresAt: soon, maxLinks: 2 }, [['a', 'admin']]));
    await both(change({ op: 'link', key: 'key-2', expiresAt: soon + 1, maxLinks: 2 }, [['a', 'admin']]));
    expect(await both(change({ op: 'link', key: 'key-3', expiresAt: soon, maxLinks: 2 }, [['a', 'admin']]))).toBe('full');
    await both(change({ op: 'revoke', key: 'key-2' }, [['a', 'admin']]));
    await both(
      change({ op: 'ban', user: 'q', name: 'Q', maxBans: 10 }, [
        ['o', 'owner'],
        ['q', 'none'],
      ]),
    );
    await both(
      change({ op: 'ban', user: 'b', name: 'B', maxBans: 10 }, [
        ['a', 'admin'],
        ['b', 'member'],
      ]),
    );
    await both(view(['o', 'a', 'm', 'b', 'q']));

    // Admission of new members to the private room.
    expect(await both(joinWith('z', {}))).toBe('hidden');
    expect(await both(joinWith('z', { link: 'no-such-key' }))).toBe('bad-link');
    expect(await both(joinWith('b', { link: 'key-1' }))).toBe('banned');
    expect(await both(joinWith('z', { link: 'key-1', maxMembers: 4 }))).toBe('full');
    expect(await both(joinWith('z', { link: 'key-1', maxMembers: 10 }))).toMatchObject({ viaLink: true, newMember: true });
    expect(await both(joinWith('m', {}))).toMatchObject({ newMember: false });

    // Sends: the muted, the removed, 全员禁言 (admins spared), notices always.
    expect(await both(send('m', 'muted'))).toEqual({ refused: 'muted', until: soon });
    expect(await both(send('b', 'removed'))).toEqual({ refused: 'not-member', until: undefined });
    expect(await both(send('z', 'all muted'))).toEqual({ refused: 'mute-all', until: undefined });
    await both(send('a', 'an admin speaks'));
    const notice = { ...draft(room, 'z', 'a notice', 'notice-1'), system: { type: 'linked' as const } };
    await both((s) => s.log.append(notice));
    await both(change({ op: 'profile', notice: null, muteAll: false }, [['o', 'owner']]));
    await both(send('z', 'now z speaks'));

    // The owner leaves: the admin who joined first owns the room; then hands it over.
    expect(await both((s) => s.store.leave(room, 'o'))).toMatchObject({ heir: { uid: 'a', name: 'A' } });
    await both(
      change({ op: 'transfer', from: 'a', user: 'z' }, [
        ['a', 'owner'],
        ['z', 'member'],
      ]),
    );
    expect(
      await both(
        change({ op: 'kick', user: 'c' }, [
          ['z', 'owner'],
          ['c', 'admin'],
        ]),
      ),
    ).toBe('done');
    expect(await both(view(['a', 'z', 'c']))).toMatchObject({ owner: 'z', admins: [] });
    expect(await both((s) => s.store.leave(room, 'a'))).not.toHaveProperty('heir');
    await both((s) => s.store.rooms('z'));
  });

  it('a join of a room that does not exist is refused when it may not create it', async () => {
    expect(await both((s) => s.store.join('p-absent', 'a', 'A', 'conn-x', { mayCreate: false }))).toBe('no-such-room');
    expect(await both((s) => s.store.rooms('a'))).not.toContainEqual(expect.objectContaining({ roomid: 'p-absent' }));
    const created = await both(join('p-absent', 'a', 'A', 'conn-x'));
    expect(created).toMatchObject({ created: true });
    expect(await both(join('p-absent', 'b', 'B', 'conn-y'))).toMatchObject({ created: false });
  });

  const inMemoryBackend = (): ChatBackend => inMemory;
  const recall =
    (notice: MessageDraft, windowMs = 60_000, scope: RecallRequest['scope'] = 'own') =>
    (b: ChatBackend) =>
      b.log.recall({ notice, scope, windowMs });

  it('recall: the tombstone, quotes of it, the notice, refusals and resends; a quote made before a recall lands as recalled', async () => {
    await both(join('p-recall', 'a', 'A', 'conn-ra'));
    await both(join('p-recall', 'b', 'B', 'conn-rb'));
    const first = draft('p-recall', 'a', 'secret text', 'rc-1');
    const secret = await both((s) => s.log.append(first).then((r) => r.message));
    const quoting = { ...draft('p-recall', 'b', 'quoting it', 'rc-2'), quote: quoteOf(secret) };
    await both((s) => s.log.append(quoting));
    const mentioning = { ...draft('p-recall', 'a', 'hey @b', 'rc-3'), mentions: ['b'] };
    const other = await both((s) => s.log.append(mentioning).then((r) => r.message));
    const notice = recallNotice({ uid: 'a', name: 'A' }, 'recall-1', 'p-recall', secret.seq, (ts += 1));
    expect(await both(recall(notice))).toMatchObject({ duplicate: false, message: { kind: 'recall', recall: secret.seq } });
    expect(await both(recall(notice))).toMatchObject({ duplicate: true });
    const again = recallNotice({ uid: 'a', name: 'A' }, 'recall-2', 'p-recall', secret.seq, (ts += 1));
    expect(await both(recall(again))).toEqual({ refused: 'recalled' });
    expect(await both(recall(recallNotice({ uid: 'b', name: 'B' }, 'recall-3', 'p-recall', other.seq, (ts += 1))))).toEqual({ refused: 'not-yours' });
    expect(await both(recall(recallNotice({ uid: 'a', name: 'A' }, 'recall-4', 'p-recall', 99, (ts += 1))))).toEqual({ refused: 'unknown' });
    expect(await both(recall(recallNotice({ uid: 'a', name: 'A' }, 'recall-5', 'p-recall', other.seq, (ts += 1)), 0))).toEqual({ refused: 'too-late' });
    // Quoted while it could still be read, appended after the recall.
    const stale = { ...draft('p-recall', 'b', 'late quote', 'rc-6'), quote: quoteOf(secret) };
    expect((await both((s) => s.log.append(stale))).message.quote).toEqual({ seq: secret.seq, uid: 'a', name: 'A', recalled: true });
    const history = await both((s) => s.log.readAfter('p-recall', 0, 10));
    expect(JSON.stringify(history)).not.toContain('secret text');
    await both((s) => s.log.readBefore('p-recall', undefined, 2));
    await both((s) => s.store.rooms('b'));
  });

  it("recall in a direct chat rewrites the offline recipient's inbox and queues the notice", async () => {
    const roomid = directRoomId('s', 'r');
    await both((s) => s.store.disconnectUser('r', 'conn-r3'));
    const words = { ...draft(roomid, 's', 'private words'), to: 'r' };
    const sent = await both((s) => s.log.appendDirect(words, 'r').then((r) => r.message));
    const quoting = { ...draft(roomid, 's', 'and a quote'), to: 'r', quote: quoteOf(sent) };
    await both((s) => s.log.appendDirect(quoting, 'r'));
    const notice = recallNotice({ uid: 's', name: 'S' }, 'dm-recall', roomid, sent.seq, (ts += 1), 'r');
    await both(recall(notice));
    const back = await both((s) => s.store.connectUser('r', 'R', 'conn-r4'));
    expect(back.inbox.map((m) => [m.seq, m.message, m.kind, m.quote?.recalled])).toEqual([
      [sent.seq, '', undefined, undefined],
      [sent.seq + 1, 'and a quote', undefined, true],
      [sent.seq + 2, 'S撤回了一条消息', 'recall', undefined],
    ]);
    expect(JSON.stringify(back)).not.toContain('private words');
  });

  it('read cursors and mentions', async () => {
    await both(join('p-reads', 'a', 'A', 'conn-pa'));
    const before = draft('p-reads', 'a', 'before b');
    await both((s) => s.log.append(before));
    await both(join('p-reads', 'b', 'B', 'conn-pb'));
    await both(join('p-reads', 'c', 'C', 'conn-pc'));
    for (const mention of [{ mentions: ['b', 'a', 'ghost'] }, { mentionAll: true as const }, {}, { mentions: ['c'] }]) {
      const message = { ...draft('p-reads', 'a', 'look'), ...mention };
      await both((s) => s.log.append(message));
    }
    await both((s) => s.store.rooms('b'));
    await both((s) => s.store.rooms('c'));
    await both((s) => s.store.markRead('p-reads', 'b', 2));
    await both((s) => s.store.rooms('b'));
    await both((s) => s.store.markRead('p-reads', 'b', 1));
    await both((s) => s.store.markRead('p-reads', 'b', 99));
    await both((s) => s.store.markRead('p-reads', 'c', 3));
    await both((s) => s.store.markRead('p-reads', 'nobody', 3));
    await both((s) => s.store.rooms('b'));
    await both((s) => s.store.rooms('c'));
    await both((s) => s.store.readCursors('p-reads').then((list) => list.sort((x, y) => (x.uid < y.uid ? -1 : 1))));
    await both(join('p-reads', 'c', 'C', 'conn-pc2'));
    await both((s) => s.store.leave('p-reads', 'c'));
    const rejoined = await both(join('p-reads', 'c', 'C', 'conn-pc3'));
    expect(rejoined).toMatchObject({ read: 5, newMember: true });
  });

  it("a recalled text is gone from Redis's memory and the embedded snapshot, not only from what is read back", async () => {
    const admin = redis.client();
    // Uncompressed, so that the text would show in a key's serialised value.
    await admin.config('SET', 'rdbcompression', 'no');
    const stored = async (text: string): Promise<boolean> => {
      const dumps = await Promise.all((await admin.keys('parity:*')).map((key) => admin.dumpBuffer(key)));
      const inRedis = Buffer.concat(dumps.filter((dump): dump is Buffer => dump !== null)).includes(Buffer.from(text));
      const inMemory = JSON.stringify((inMemoryBackend().store as MemoryStore).snapshot()).includes(text);
      expect(inMemory).toBe(inRedis);
      return inRedis;
    };
    await both(join('p-gone', 'a', 'A', 'conn-g'));
    const needle = draft('p-gone', 'a', 'needle 针 in the stream');
    const sent = await both((s) => s.log.append(needle).then((r) => r.message));
    for (let i = 0; i < 3; i += 1) {
      const after = draft('p-gone', 'a', `after ${i}`);
      await both((s) => s.log.append(after));
    }
    expect(await stored('needle 针')).toBe(true);
    await both(recall(recallNotice({ uid: 'a', name: 'A' }, 'gone', 'p-gone', sent.seq, (ts += 1))));
    expect(await stored('needle 针')).toBe(false);
    // The earlier tests' recalled texts, in a room's history and in an inbox.
    expect(await stored('secret text')).toBe(false);
    expect(await stored('private words')).toBe(false);
    admin.disconnect();
  });
});
