import { describe, expect, it } from 'vitest';
import { LocalBus } from '../src/core/local-bus.ts';
import { MemoryStore, type MemoryStoreLimits, messageBytes } from '../src/core/memory-store.ts';
import { ServerEvent } from '../src/protocol.ts';

const limits = (overrides: Partial<MemoryStoreLimits> = {}): MemoryStoreLimits => ({
  historyPerRoom: 10,
  storeMaxBytes: 1024 * 1024,
  roomLimit: 100,
  roomTtlMs: 60_000,
  userLimit: 100,
  inboxPerUser: 3,
  ...overrides,
});

let sent = 0;
const draft = (roomid: string, message: string, uid = 'u1') => ({
  event: ServerEvent.Message as const,
  id: `m-${(sent += 1)}`,
  roomid,
  ts: Date.now(),
  uid,
  name: uid,
  message,
});

const store = (overrides: Partial<MemoryStoreLimits> = {}, now?: () => number) => new MemoryStore(limits(overrides), new LocalBus(), now);
const join = (s: MemoryStore, roomid: string, uid: string, conn: string) => s.join(roomid, uid, uid, conn, { mayCreate: true });

describe('memory store bounds', () => {
  it('STORE_MAX_BYTES bounds history and inboxes together: the least recently used history goes, and says gap', async () => {
    const oneMessage = messageBytes({ ...draft('room0', 'x'.repeat(1000)), seq: 1 });
    const s = store({ historyPerRoom: 100, storeMaxBytes: oneMessage * 44 });
    for (let r = 0; r < 8; r += 1) for (let i = 0; i < 10; i += 1) await s.append(draft(`room${r}`, 'x'.repeat(1000)));
    expect((await s.stats()).bytes).toBeLessThanOrEqual(oneMessage * 44);
    // A room keeps at most a quarter of the budget (11 of 44): the newest room is whole.
    expect((await s.readAfter('room7', 0, 100)).messages).toHaveLength(10);
    const evicted = await s.readAfter('room0', 0, 100);
    expect(evicted).toMatchObject({ messages: [], gap: true, lastSeq: 10 });
    // The room goes on counting where it stopped.
    expect((await s.append(draft('room0', 'again'))).message.seq).toBe(11);
    await s.close();
  });

  it('one room keeps at most a quarter of STORE_MAX_BYTES: its oldest go, other rooms keep theirs', async () => {
    const oneMessage = messageBytes({ ...draft('busy', 'x'.repeat(1000)), seq: 1 });
    const s = store({ historyPerRoom: 1000, storeMaxBytes: oneMessage * 40 });
    for (let i = 0; i < 5; i += 1) await s.append(draft('quiet', 'x'.repeat(1000)));
    for (let i = 0; i < 100; i += 1) await s.append(draft('busy', 'x'.repeat(1000)));
    const busy = await s.readAfter('busy', 0, 1000);
    expect(busy.messages.length).toBeLessThanOrEqual(10);
    expect(busy.messages.at(-1)?.seq).toBe(100);
    expect(busy.gap).toBe(true);
    expect((await s.readAfter('quiet', 0, 100)).messages).toHaveLength(5);
    await s.close();
  });

  it('an evicted history keeps members, cursors and seq: a member coming back is replayed from the cursor and told gap', async () => {
    const big = 'y'.repeat(2000);
    const s = store({ historyPerRoom: 100, storeMaxBytes: messageBytes({ ...draft('quiet', big), seq: 1 }) * 12 });
    await join(s, 'quiet', 'bob', 'c1');
    await join(s, 'quiet', 'alice', 'c2');
    await s.append(draft('quiet', 'seen', 'alice'));
    await s.disconnect('quiet', 'bob', 'c1', 1);
    for (let i = 0; i < 2; i += 1) await s.append(draft('quiet', big, 'alice'));
    // Someone else's traffic in other rooms pushes the quiet room's history out.
    for (let r = 0; r < 6; r += 1) for (let i = 0; i < 2; i += 1) await s.append(draft(`busy${r}`, big, 'carol'));
    const back = await join(s, 'quiet', 'bob', 'c3');
    expect(back).toMatchObject({ cameOnline: true, newMember: false, offlineCursor: 1, lastSeq: 3, total: 2 });
    expect(await s.readAfter('quiet', 1, 50)).toMatchObject({ messages: [], gap: true, lastSeq: 3 });
    expect((await s.members('quiet')).map((m) => m.uid).sort()).toEqual(['alice', 'bob']);
    await s.close();
  });

  it('a full inbox drops its oldest and says so', async () => {
    const s = store({ inboxPerUser: 3 });
    await s.connectUser('bob', 'bob', 'c0');
    await s.disconnectUser('bob', 'c0');
    for (let i = 0; i < 5; i += 1) {
      const { queued } = await s.appendDirect({ ...draft('dm:alice|bob', `d${i}`, 'alice'), to: 'bob' }, 'bob');
      expect(queued).toBe(true);
    }
    const first = await s.connectUser('bob', 'bob', 'c1');
    expect(first.inbox.map((m) => m.message)).toEqual(['d2', 'd3', 'd4']);
    expect(first.inboxGap).toBe(true);
    const second = await s.connectUser('bob', 'bob', 'c2');
    expect(second).toMatchObject({ firstConnection: false, inbox: [] });
    await s.close();
  });

  it('offline cursors are taken once, by the connection that brings the user back online', async () => {
    const s = store();
    await join(s, 'r', 'bob', 'c1');
    const left = await s.disconnect('r', 'bob', 'c1', 7);
    expect(left).toMatchObject({ wentOffline: true, num: 0, total: 1 });
    const back = await join(s, 'r', 'bob', 'c2');
    expect(back).toMatchObject({ cameOnline: true, newMember: false, offlineCursor: 7 });
    const second = await join(s, 'r', 'bob', 'c3');
    expect(second).not.toHaveProperty('offlineCursor');
    await s.close();
  });

  it('ROOM_LIMIT refuses new rooms instead of evicting rooms that have members', async () => {
    const s = store({ roomLimit: 2 });
    await join(s, 'a', 'u', 'c1');
    await join(s, 'b', 'u', 'c1');
    expect(await join(s, 'c', 'u', 'c1')).toBe('store-full');
    expect(await s.isMember('a', 'u')).toBe(true);
    expect(await join(s, 'a', 'v', 'c2')).toMatchObject({ created: false, total: 2 });
    await s.close();
  });

  it('rooms and users idle for ROOM_TTL_MS with nobody online are forgotten; an online one is kept', async () => {
    let now = 1_000_000;
    const s = store({ roomTtlMs: 10_000 }, () => now);
    await join(s, 'idle', 'u', 'c1');
    await s.disconnect('idle', 'u', 'c1', 0);
    await s.disconnectUser('u', 'c1');
    await join(s, 'busy', 'v', 'c2');
    now += 20_000;
    s.sweep();
    expect((await s.stats()).rooms).toBe(1);
    expect(await s.isMember('idle', 'u')).toBe(false);
    expect(await s.isMember('busy', 'v')).toBe(true);
    await s.close();
  });

  it('a snapshot keeps read cursors, unread mentions, the room owner and recalled messages as tombstones', async () => {
    const s = store();
    await join(s, 'kept', 'alice', 'c1');
    await join(s, 'kept', 'bob', 'c2');
    const first = await s.append(draft('kept', 'to recall', 'alice'));
    await s.append({ ...draft('kept', '@bob', 'alice'), mentions: ['bob'] });
    await s.append(draft('kept', 'more', 'alice'));
    await s.markRead('kept', 'alice', 3);
    await s.recall({ notice: { ...draft('kept', 'alice撤回了一条消息', 'alice'), kind: 'recall', recall: first.message.seq }, scope: 'own', windowMs: 60_000 });
    const restored = store();
    restored.restore(JSON.parse(JSON.stringify(s.snapshot())));
    expect((await restored.group('kept', ['alice']))?.owner).toBe('alice');
    expect((await restored.rooms('bob'))[0]).toMatchObject({ read: 0, unread: 4, mention: 2 });
    expect((await restored.rooms('alice'))[0]).toMatchObject({ read: 3, unread: 1 });
    expect((await restored.readAfter('kept', 0, 1)).messages[0]).toMatchObject({ message: '', recalled: { uid: 'alice' } });
    expect(JSON.stringify(restored.snapshot())).not.toContain('to recall');
    await Promise.all([s.close(), restored.close()]);
  });

  it('a recall keeps the byte budget true: the tombstone counts for what it holds', async () => {
    const s = store();
    const sent = await s.append(draft('bytes', 'x'.repeat(10_000)));
    const before = (await s.stats()).bytes!;
    await s.recall({ notice: { ...draft('bytes', 'u1撤回了一条消息'), kind: 'recall', recall: sent.message.seq }, scope: 'own', windowMs: 60_000 });
    const [tombstone, notice] = (await s.readAfter('bytes', 0, 10)).messages;
    expect((await s.stats()).bytes).toBe(before - messageBytes(sent.message) + messageBytes(tombstone) + messageBytes(notice));
    await s.close();
  });
});

describe('groups in the embedded store', () => {
  it('mutes and invite links run out with the clock; a snapshot keeps roles, bans, mutes, links and join order', async () => {
    let clock = 1_000_000;
    const s = store({}, () => clock);
    await s.createGroup('g:x', 'o', 'O', { title: '群', private: true });
    for (const uid of ['a', 'm', 'b']) await s.changeGroup('g:x', { op: 'invite', user: uid, name: uid.toUpperCase(), maxMembers: 10 }, [['o', 'owner']]);
    await s.changeGroup('g:x', { op: 'role', user: 'a', role: 'admin', maxAdmins: 3 }, [['o', 'owner']]);
    await s.changeGroup('g:x', { op: 'ban', user: 'b', name: 'B', maxBans: 10 }, [
      ['o', 'owner'],
      ['b', 'member'],
    ]);
    await s.changeGroup('g:x', { op: 'mute', user: 'm', until: clock + 1000 }, [['o', 'owner']]);
    await s.changeGroup('g:x', { op: 'link', key: 'k', expiresAt: clock + 1000, maxLinks: 5 }, [['o', 'owner']]);

    const restored = store({}, () => clock);
    restored.restore(JSON.parse(JSON.stringify(s.snapshot())));
    for (const copy of [s, restored]) {
      expect(await copy.group('g:x', ['m'])).toMatchObject({
        title: '群',
        private: true,
        owner: 'o',
        admins: ['a'],
        bans: [{ uid: 'b', name: 'B' }],
        mutes: [{ uid: 'm', until: clock + 1000 }],
      });
      await expect(copy.append(draft('g:x', 'muted', 'm'))).rejects.toMatchObject({ reason: 'muted', until: clock + 1000 });
      expect(await copy.join('g:x', 'b', 'B', 'conn-b', { mayCreate: false, link: 'k' })).toBe('banned');
      expect(await copy.join('g:x', 'z', 'Z', 'conn-z', { mayCreate: false })).toBe('hidden');
    }
    clock += 1000;
    for (const copy of [s, restored]) {
      expect((await copy.append(draft('g:x', 'free again', 'm'))).duplicate).toBe(false);
      expect(await copy.join('g:x', 'z', 'Z', 'conn-z', { mayCreate: false, link: 'k' })).toBe('bad-link');
      expect(await copy.group('g:x', [])).toMatchObject({ mutes: [], links: [] });
      // Join order survives too: the owner's heir is the admin, then the member who joined first.
      expect(await copy.leave('g:x', 'o')).toMatchObject({ heir: { uid: 'a' } });
      expect(await copy.leave('g:x', 'a')).toMatchObject({ heir: { uid: 'm' } });
    }
    await Promise.all([s.close(), restored.close()]);
  });
});
