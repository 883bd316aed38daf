import { describe, expect, it } from 'vitest';
import { MemoryStore, type MemoryStoreLimits } from '../src/core/memory-store.ts';
import { ServerEvent } from '../src/protocol.ts';

const limits = (overrides: Partial<MemoryStoreLimits> = {}): MemoryStoreLimits => ({
  historyPerRoom: 10,
  historyTotal: 1000,
  roomLimit: 100,
  roomTtlMs: 60_000,
  userLimit: 100,
  inboxPerUser: 3,
  idempotencyLimit: 100,
  idempotencyTtlMs: 60_000,
  ...overrides,
});

const draft = (roomid: string, message: string, uid = 'u1') => ({
  event: ServerEvent.Message as const,
  id: `${roomid}-${message}`,
  roomid,
  ts: Date.now(),
  uid,
  name: uid,
  message,
});

describe('memory store bounds', () => {
  it('an evicted room keeps counting seqs from where it stopped and reports the gap', async () => {
    const store = new MemoryStore(limits({ roomLimit: 2 }));
    for (let i = 0; i < 4; i += 1) await store.append(draft('old', `m${i}`));
    await store.append(draft('b', 'x'));
    await store.append(draft('c', 'x'));
    // 'old' was the least recently used of three rooms with room for two.
    const after = await store.readAfter('old', 2, 10);
    expect(after).toMatchObject({ messages: [], gap: true, lastSeq: 4 });
    const next = await store.append(draft('old', 'again'));
    expect(next.seq).toBe(5);
    expect(await store.readAfter('old', 3, 10)).toMatchObject({ gap: true });
    expect((await store.readAfter('old', 4, 10)).messages.map((m) => m.message)).toEqual(['again']);
  });

  it('HISTORY_TOTAL bounds kept messages across all rooms', async () => {
    const store = new MemoryStore(limits({ historyPerRoom: 100, historyTotal: 50, roomLimit: 100 }));
    for (let r = 0; r < 5; r += 1) for (let i = 0; i < 20; i += 1) await store.append(draft(`room${r}`, `m${i}`));
    let kept = 0;
    for (let r = 0; r < 5; r += 1) kept += (await store.readAfter(`room${r}`, 0, 1000)).messages.length;
    expect(kept).toBeLessThanOrEqual(50);
    expect((await store.readAfter('room4', 0, 1000)).messages).toHaveLength(20);
    expect((await store.readAfter('room0', 0, 1000)).gap).toBe(true);
  });

  it('a full inbox drops its oldest and says so', async () => {
    const store = new MemoryStore(limits({ inboxPerUser: 3 }));
    await store.connectUser('bob', 'bob', 'c0');
    await store.disconnectUser('bob', 'c0');
    for (let i = 0; i < 5; i += 1) {
      const { queued } = await store.appendDirect({ ...draft('dm:alice|bob', `d${i}`, 'alice'), to: 'bob' }, 'bob');
      expect(queued).toBe(true);
    }
    const first = await store.connectUser('bob', 'bob', 'c1');
    expect(first.inbox.map((m) => m.message)).toEqual(['d2', 'd3', 'd4']);
    expect(first.inboxGap).toBe(true);
    const second = await store.connectUser('bob', 'bob', 'c2');
    expect(second).toMatchObject({ firstConnection: false, inbox: [] });
  });

  it('offline cursors are taken once, by the connection that brings the user back online', async () => {
    const store = new MemoryStore(limits());
    await store.join('r', 'bob', 'bob', 'c1');
    const left = await store.disconnect('r', 'bob', 'c1', 7);
    expect(left).toMatchObject({ wentOffline: true, num: 0, total: 1 });
    const back = await store.join('r', 'bob', 'bob', 'c2');
    expect(back).toMatchObject({ cameOnline: true, newMember: false, offlineCursor: 7 });
    const second = await store.join('r', 'bob', 'bob', 'c3');
    expect(second.offlineCursor).toBeUndefined();
  });
});
