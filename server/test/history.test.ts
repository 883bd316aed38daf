import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/protocol.ts';
import { connectAs, startTestServer, type TestClient, type TestServer } from './harness.ts';

let server: TestServer;
let trimmed: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  // Keeps the newest 3 of each room: older messages are gone.
  trimmed = await startTestServer({ HISTORY_PER_ROOM: '3' });
});
afterAll(() => Promise.all([server.close(), trimmed.close()]));

async function roomWith(target: TestServer, roomid: string, count: number): Promise<TestClient> {
  const alice = await connectAs(target, 'alice');
  await alice.join(roomid);
  for (let i = 1; i <= count; i += 1) await alice.say(roomid, `m${i}`);
  return alice;
}

const seqs = (reply: Record<string, unknown>): number[] => (reply.messages as { seq: number }[]).map((m) => m.seq);

describe('history paging', () => {
  it('after + limit is the next page forward, not the newest; no gap when nothing was dropped', async () => {
    const alice = await roomWith(server, 'page-after', 5);
    const page = await alice.request({ event: 'history', roomid: 'page-after', after: 2, limit: 2 });
    expect(page).toMatchObject({ event: 'history', gap: false, lastSeq: 5 });
    expect(seqs(page)).toEqual([3, 4]);
    const rest = await alice.request({ event: 'history', roomid: 'page-after', after: 4, limit: 2 });
    expect(seqs(rest)).toEqual([5]);
    expect(await alice.request({ event: 'history', roomid: 'page-after', after: 5 })).toMatchObject({ messages: [], gap: false, lastSeq: 5 });
    await alice.close();
  });

  it('before + limit pages back from the newest; with after it reads the window between them', async () => {
    const alice = await roomWith(server, 'page-before', 5);
    expect(seqs(await alice.request({ event: 'history', roomid: 'page-before', limit: 2 }))).toEqual([4, 5]);
    expect(seqs(await alice.request({ event: 'history', roomid: 'page-before', before: 4, limit: 2 }))).toEqual([2, 3]);
    const first = await alice.request({ event: 'history', roomid: 'page-before', before: 2, limit: 2 });
    expect(seqs(first)).toEqual([1]);
    expect(first.gap).toBe(false);
    expect(seqs(await alice.request({ event: 'history', roomid: 'page-before', after: 1, before: 5 }))).toEqual([2, 3, 4]);
    expect(seqs(await alice.request({ event: 'history', roomid: 'page-before', after: 1, before: 5, limit: 2 }))).toEqual([2, 3]);
    await alice.close();
  });

  it('limits at the edges: 1 and 100 are served; 0, 101 and an empty window are refused, not guessed', async () => {
    const alice = await roomWith(server, 'page-limits', 3);
    expect(seqs(await alice.request({ event: 'history', roomid: 'page-limits', limit: 1 }))).toEqual([3]);
    expect(seqs(await alice.request({ event: 'history', roomid: 'page-limits', limit: 100 }))).toEqual([1, 2, 3]);
    for (const bad of [{ limit: 0 }, { limit: 101 }, { after: 2, before: 3 }, { after: 3, before: 1 }]) {
      const reply = await alice.request({ event: 'history', roomid: 'page-limits', ...bad });
      expect(reply).toMatchObject({ event: 'error', code: ErrorCode.InvalidField });
    }
    await alice.close();
  });

  it('reports a gap only for messages no longer kept', async () => {
    const alice = await roomWith(trimmed, 'page-trimmed', 6);
    // Kept: 4, 5, 6. From 1 on, 2 and 3 are gone.
    const fromOne = await alice.request({ event: 'history', roomid: 'page-trimmed', after: 1, limit: 2 });
    expect(seqs(fromOne)).toEqual([4, 5]);
    expect(fromOne.gap).toBe(true);
    const kept = await alice.request({ event: 'history', roomid: 'page-trimmed', after: 4, limit: 1 });
    expect(seqs(kept)).toEqual([5]);
    expect(kept.gap).toBe(false);
    const back = await alice.request({ event: 'history', roomid: 'page-trimmed', before: 5 });
    expect(seqs(back)).toEqual([4]);
    expect(back.gap).toBe(true);
    await alice.close();
  });
});
