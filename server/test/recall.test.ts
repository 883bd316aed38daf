/**
 * Recall (撤回) and quotes (引用), as members see them: the notice reaches everyone once, live or when
 * they come back, and the recalled text is never delivered again: not in history, replay, `rooms`,
 * an offline inbox or a quote of it.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directRoomId, ErrorCode } from '../src/protocol.ts';
import { connectAs, startTestServer, type TestClient, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** Every frame the client received, as text: to show that a recalled text appears nowhere. */
const everything = (client: TestClient): string => client.frames.map((f) => JSON.stringify(f)).join('\n');

const isNotice = (seq: number) => (f: Record<string, unknown>) => f.event === 'message' && f.kind === 'recall' && f.recall === seq;

describe('recall in a room', () => {
  it("reaches every member and the sender's other devices live; history and rooms keep a tombstone, not the text", async () => {
    const alice = await connectAs(server, 'alice');
    const alicePhone = await connectAs(server, 'alice', alice.user.uid);
    const bob = await connectAs(server, 'bob');
    for (const client of [alice, alicePhone, bob]) await client.join('r-live');
    const sent = await alice.say('r-live', '说错了的话');
    await bob.nextEvent('message', { seq: sent.seq });
    const ack = await alice.request({ event: 'recall', roomid: 'r-live', seq: sent.seq, id: 'recall-1' });
    expect(ack).toMatchObject({ event: 'ack', id: 'recall-1', roomid: 'r-live', seq: (sent.seq as number) + 1 });
    for (const client of [alice, alicePhone, bob]) {
      const notice = await client.next(isNotice(sent.seq as number));
      expect(notice).toMatchObject({ seq: ack.seq, uid: alice.user.uid, name: 'alice', message: 'alice撤回了一条消息', roomid: 'r-live', num: 2, total: 2 });
    }
    const history = await bob.request({ event: 'history', roomid: 'r-live' });
    expect(history.messages).toEqual([
      expect.objectContaining({ seq: sent.seq, uid: alice.user.uid, message: '', recalled: { uid: alice.user.uid, name: 'alice', ts: ack.ts } }),
      expect.objectContaining({ seq: ack.seq, kind: 'recall', recall: sent.seq }),
    ]);
    const rooms = await bob.request({ event: 'rooms' });
    expect(rooms.rooms).toContainEqual(expect.objectContaining({ roomid: 'r-live', last: expect.objectContaining({ kind: 'recall', recall: sent.seq }) }));
    expect(JSON.stringify([history, rooms])).not.toContain('说错了');
    await Promise.all([alice.close(), alicePhone.close(), bob.close()]);
  });

  it('a member who was away gets the tombstone and the notice once when they come back, never the text', async () => {
    const alice = await connectAs(server, 'alice');
    const carol = await connectAs(server, 'carol');
    await alice.join('r-away');
    await carol.join('r-away');
    await carol.close();
    await alice.nextEvent('logout', { uid: carol.user.uid });
    const sent = await alice.say('r-away', 'oops, wrong room');
    await alice.say('r-away', 'still here');
    const ack = await alice.request({ event: 'recall', roomid: 'r-away', seq: sent.seq });
    const back = await connectAs(server, 'carol', carol.user.uid);
    const joined = await back.join('r-away');
    expect(joined).toMatchObject({ replayed: 3, gap: false });
    expect(back.messages('r-away').map((m) => [m.seq, m.message, m.kind ?? 'text', m.replay])).toEqual([
      [sent.seq, '', 'text', true],
      [(sent.seq as number) + 1, 'still here', 'text', true],
      [ack.seq, 'alice撤回了一条消息', 'recall', true],
    ]);
    expect(everything(back)).not.toContain('wrong room');
    await Promise.all([alice.close(), back.close()]);
  });

  it("is idempotent by id; a second recall, someone else's message, an unknown seq and a notice are refused with their codes", async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const outsider = await connectAs(server, 'outsider');
    // bob opens the room, so bob owns it and alice is a plain member, who recalls only her own.
    await bob.join('r-errors');
    await alice.join('r-errors');
    const sent = await alice.say('r-errors', 'mine');
    const fromBob = await bob.say('r-errors', "bob's");
    expect(await alice.request({ event: 'recall', roomid: 'r-errors', seq: fromBob.seq })).toMatchObject({ event: 'error', code: ErrorCode.NotYourMessage });
    expect(await alice.request({ event: 'recall', roomid: 'r-errors', seq: 999 })).toMatchObject({ event: 'error', code: ErrorCode.UnknownMessage });
    expect(await outsider.request({ event: 'recall', roomid: 'r-errors', seq: sent.seq })).toMatchObject({ event: 'error', code: ErrorCode.NotMember });
    const first = await alice.request({ event: 'recall', roomid: 'r-errors', seq: sent.seq, id: 'once' });
    const resent = await alice.request({ event: 'recall', roomid: 'r-errors', seq: sent.seq, id: 'once' });
    expect(resent).toMatchObject({ event: 'ack', seq: first.seq, duplicate: true });
    expect(await alice.request({ event: 'recall', roomid: 'r-errors', seq: sent.seq, id: 'twice' })).toMatchObject({
      event: 'error',
      code: ErrorCode.AlreadyRecalled,
    });
    expect(await alice.request({ event: 'recall', roomid: 'r-errors', seq: first.seq })).toMatchObject({ event: 'error', code: ErrorCode.UnknownMessage });
    // Everything before this reply has arrived: bob saw one notice, not two.
    await bob.request({ event: 'rooms' });
    expect(bob.messages('r-errors').filter((m) => m.kind === 'recall')).toHaveLength(1);
    await Promise.all([alice.close(), bob.close(), outsider.close()]);
  });
});

describe('recall by role', () => {
  it("the owner and an admin recall anyone's message; a plain member, muted, still recalls their own", async () => {
    const owner = await connectAs(server, 'owner');
    const admin = await connectAs(server, 'admin');
    const member = await connectAs(server, 'member');
    await owner.join('r-roles');
    await admin.join('r-roles');
    await member.join('r-roles');
    expect(await owner.request({ event: 'admin', roomid: 'r-roles', user: admin.user.uid, admin: true })).toMatchObject({ event: 'group' });
    const first = await member.say('r-roles', 'first');
    const second = await member.say('r-roles', 'second');
    const third = await member.say('r-roles', 'third');
    const byOwner = await owner.request({ event: 'recall', roomid: 'r-roles', seq: first.seq, id: 'o' });
    expect(byOwner).toMatchObject({ event: 'ack' });
    expect(await admin.request({ event: 'recall', roomid: 'r-roles', seq: second.seq, id: 'a' })).toMatchObject({ event: 'ack' });
    expect(await member.request({ event: 'recall', roomid: 'r-roles', seq: byOwner.seq })).toMatchObject({ code: ErrorCode.UnknownMessage });
    // Muted: the member cannot talk, but may still take their own message back.
    expect(await owner.request({ event: 'mute', roomid: 'r-roles', user: member.user.uid, seconds: 600 })).toMatchObject({ event: 'group' });
    expect(await member.request({ event: 'message', roomid: 'r-roles', message: 'muted', id: 'm' })).toMatchObject({ code: ErrorCode.Muted });
    expect(await member.request({ event: 'recall', roomid: 'r-roles', seq: third.seq, id: 'r' })).toMatchObject({ event: 'ack' });
    const history = await owner.request({ event: 'history', roomid: 'r-roles' });
    const kept = (history.messages as Record<string, unknown>[]).filter((m) => m.kind !== 'recall' && m.system === undefined);
    expect(kept.map((m) => [m.seq, m.message, (m.recalled as { uid: string } | undefined)?.uid])).toEqual([
      [first.seq, '', owner.user.uid],
      [second.seq, '', admin.user.uid],
      [third.seq, '', member.user.uid],
    ]);
    await Promise.all([owner.close(), admin.close(), member.close()]);
  });
});

describe('recall in a direct chat', () => {
  it('an offline recipient finds the tombstone and the notice in their inbox, never the text', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const bobUid = bob.user.uid;
    await bob.close();
    const roomid = directRoomId(alice.user.uid, bobUid);
    const sent = await alice.request({ event: 'message', to: bobUid, message: '发错人了', id: 'dm-wrong' });
    const ack = await alice.request({ event: 'recall', roomid, seq: sent.seq, id: 'dm-recall' });
    expect(ack).toMatchObject({ event: 'ack', roomid, seq: (sent.seq as number) + 1 });
    const back = await connectAs(server, 'bob', bobUid);
    await back.waitFor(() => back.messages().length === 2);
    expect(back.messages().map((m) => [m.seq, m.message, m.kind ?? 'text', m.replay, m.to])).toEqual([
      [sent.seq, '', 'text', true, bobUid],
      [ack.seq, 'alice撤回了一条消息', 'recall', true, bobUid],
    ]);
    const history = await back.request({ event: 'history', roomid });
    expect(everything(back)).not.toContain('发错人了');
    expect(history.messages.map((m: { recalled?: unknown }) => m.recalled !== undefined)).toEqual([true, false]);
    await Promise.all([alice.close(), back.close()]);
  });

  it('an online recipient gets the notice live; only the sender may recall', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    const roomid = directRoomId(alice.user.uid, bob.user.uid);
    const sent = await alice.request({ event: 'message', to: bob.user.uid, message: 'hi', id: 'dm-live' });
    await bob.nextEvent('message', { id: 'dm-live' });
    expect(await bob.request({ event: 'recall', roomid, seq: sent.seq })).toMatchObject({ event: 'error', code: ErrorCode.NotYourMessage });
    await alice.request({ event: 'recall', roomid, seq: sent.seq });
    const notice = await bob.next(isNotice(sent.seq as number));
    expect(notice).toMatchObject({ roomid, to: bob.user.uid, uid: alice.user.uid });
    expect(notice.replay).toBeUndefined();
    await Promise.all([alice.close(), bob.close()]);
  });
});

describe('quotes', () => {
  it('carry a snapshot of the quoted message; recalling it strips the excerpt from every quote', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await alice.join('q-room');
    await bob.join('q-room');
    const long = '这是一段很长的话，'.repeat(10);
    const original = await alice.say('q-room', long);
    const reply = await bob.request({ event: 'message', roomid: 'q-room', message: '同意', quote: { roomid: 'q-room', seq: original.seq }, id: 'q-1' });
    const live = await alice.nextEvent('message', { id: 'q-1' });
    expect(live.quote).toEqual({ seq: original.seq, uid: alice.user.uid, name: 'alice', excerpt: `${Array.from(long).slice(0, 50).join('')}…` });
    await alice.request({ event: 'recall', roomid: 'q-room', seq: original.seq });
    const history = await bob.request({ event: 'history', roomid: 'q-room' });
    const quoting = history.messages.find((m: { seq: number }) => m.seq === reply.seq);
    expect(quoting).toMatchObject({ message: '同意', quote: { seq: original.seq, uid: alice.user.uid, name: 'alice', recalled: true } });
    expect(quoting.quote.excerpt).toBeUndefined();
    // A new quote of the recalled message shows it as recalled.
    await bob.request({ event: 'message', roomid: 'q-room', message: '?', quote: { roomid: 'q-room', seq: original.seq }, id: 'q-2' });
    const late = await alice.nextEvent('message', { id: 'q-2' });
    expect(late.quote).toEqual({ seq: original.seq, uid: alice.user.uid, name: 'alice', recalled: true });
    expect(JSON.stringify(history)).not.toContain('很长的话');
    await Promise.all([alice.close(), bob.close()]);
  });

  it('are refused for another room, a message not kept, and a recall notice', async () => {
    const alice = await connectAs(server, 'alice');
    await alice.join('q-here');
    await alice.join('q-there');
    const there = await alice.say('q-there', 'elsewhere');
    const quote = (q: Record<string, unknown>) => alice.request({ event: 'message', roomid: 'q-here', message: 'x', quote: q });
    expect(await quote({ roomid: 'q-there', seq: there.seq })).toMatchObject({ event: 'error', code: ErrorCode.InvalidField });
    expect(await quote({ roomid: 'q-here', seq: 42 })).toMatchObject({ event: 'error', code: ErrorCode.UnknownMessage });
    const mine = await alice.say('q-here', 'soon gone');
    const notice = await alice.request({ event: 'recall', roomid: 'q-here', seq: mine.seq });
    expect(await quote({ roomid: 'q-here', seq: notice.seq })).toMatchObject({ event: 'error', code: ErrorCode.InvalidField });
    await alice.close();
  });
});
