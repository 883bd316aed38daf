import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChatMessage, directRoomId } from '@chatroom/server/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { connectAs, startTestServer, type TestClient, type TestServer } from '../../server/test/harness';
import type { KeyValueStorage } from '../src/lib/storage';
import { LibClient } from './support/lib-client';

const ROOM = 'msg-room';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(): Promise<TestServer> {
  const started = await startTestServer();
  cleanups.push(() => started.close());
  return started;
}

async function libClient(target: TestServer, name: string, extra: Partial<ConstructorParameters<typeof LibClient>[0]> = {}): Promise<LibClient> {
  const client = new LibClient({ wsUrl: target.url, httpUrl: target.httpUrl, ca: target.tls?.cert, name, ...extra });
  cleanups.push(() => client.stop());
  if (!extra.session) await client.login(name);
  return client;
}

async function peer(target: TestServer, name: string, roomid = ROOM): Promise<TestClient & { user: { uid: string } }> {
  const client = await connectAs(target, name);
  cleanups.push(() => client.close());
  await client.join(roomid);
  return client;
}

/** Everything the phone keeps, as one string: what a recalled text must not be found in. */
function dump(storage: KeyValueStorage): string {
  return storage
    .keys()
    .map((k) => `${k}=${JSON.stringify(storage.get(k))}`)
    .join('\n');
}

/** Alice on the library client in ROOM, online and joined. */
async function aliceIn(target: TestServer): Promise<LibClient> {
  const alice = await libClient(target, 'alice');
  alice.client.joinRoom(ROOM);
  alice.client.start();
  await alice.joinedRoom(ROOM);
  return alice;
}

/** Alice on the library client, online, and bob on a raw socket: their direct chat. */
async function directChat(): Promise<{ target: TestServer; alice: LibClient; bob: TestClient & { user: { uid: string } }; dm: string }> {
  const target = await server();
  const alice = await libClient(target, 'alice');
  alice.client.start();
  await alice.online();
  const bob = await connectAs(target, 'bob');
  cleanups.push(() => bob.close());
  return { target, alice, bob, dm: directRoomId(alice.sessions.uid()!, bob.user.uid) };
}

describe('messaging features of the mobile client against the real server', () => {
  it('a recall replaces the message and every quote of it, live and in what the phone keeps', { timeout: 20_000 }, async () => {
    const target = await server();
    const alice = await aliceIn(target);
    const bob = await peer(target, 'bob');
    const sent = alice.client.send(ROOM, '发错了，这句要撤回');
    const original = await bob.next((f) => f.event === 'message' && f.id === sent.id);
    // Bob quotes it, alice sees the quote with its excerpt.
    await bob.request({ event: 'message', roomid: ROOM, message: '你说什么？', quote: { roomid: ROOM, seq: original.seq }, id: 'bob-quote' });
    const quoting = await alice.waitFor(() => alice.messages.find((m) => m.id === 'bob-quote'), 'the quote');
    expect(quoting.quote).toMatchObject({ seq: original.seq, name: 'alice', excerpt: '发错了，这句要撤回' });

    expect(alice.client.recall(ROOM, original.seq as number)).toBe(true);
    const notice = await bob.next((f) => f.event === 'message' && f.kind === 'recall');
    expect(notice).toMatchObject({ recall: original.seq, uid: alice.sessions.uid(), message: 'alice撤回了一条消息' });
    await alice.waitFor(() => alice.messages.find((m) => m.kind === 'recall'), 'the notice on alice’s side');
    alice.client.appHidden();
    const kept = dump(alice.storage);
    expect(kept).not.toContain('发错了，这句要撤回');
    const record = alice.storage.get<{ messages: ChatMessage[] }>(alice.storage.keys().find((k) => k.endsWith(`room.${ROOM}`))!)!;
    expect(record.messages.find((m) => m.seq === original.seq)).toMatchObject({ message: '', recalled: { name: 'alice' } });
    expect(record.messages.find((m) => m.id === 'bob-quote')?.quote).toMatchObject({ recalled: true });
    expect(record.messages.find((m) => m.id === 'bob-quote')?.quote?.excerpt).toBeUndefined();
  });

  it('a recall made while the phone was away reaches it on reconnect; a quote and mentions go out from the outbox', { timeout: 20_000 }, async () => {
    const target = await server();
    const alice = await aliceIn(target);
    const bob = await peer(target, 'bob');
    const said = await bob.say(ROOM, '鲍勃说错的话');
    await alice.waitFor(() => alice.texts(ROOM).includes('鲍勃说错的话'), 'bob’s message');
    alice.stop();

    await bob.request({ event: 'recall', roomid: ROOM, seq: said.seq, id: 'bob-recall' });
    const back = await libClient(target, 'alice', { storage: alice.storage, session: alice.sessions.value });
    // Written before the socket is up: it waits in the outbox with its quote and mention.
    const quoted = back.client.send(ROOM, '@bob 收到', {
      quote: { seq: said.seq as number, uid: bob.user.uid, name: 'bob', excerpt: '鲍勃说错的话' },
      mentions: [bob.user.uid],
    });
    back.client.start();
    await back.waitFor(() => back.messages.find((m) => m.kind === 'recall' && m.recall === said.seq), 'the recall notice, replayed');
    const echo = await bob.next((f) => f.event === 'message' && f.id === quoted.id, 5_000);
    expect(echo.mentions).toEqual([bob.user.uid]);
    // The quoted message was recalled before this one was sent: the server's snapshot says so.
    expect(echo.quote).toMatchObject({ seq: said.seq, recalled: true });
    back.client.appHidden();
    expect(dump(back.storage)).not.toContain('鲍勃说错的话');
  });

  it('a recall in a direct chat reaches the phone that was away, by catch-up', { timeout: 20_000 }, async () => {
    const { target, alice, bob, dm } = await directChat();
    const said = await bob.request({ event: 'message', to: alice.sessions.uid(), message: '私聊里说错的', id: 'dm-wrong' });
    await alice.waitFor(() => alice.texts(dm).includes('私聊里说错的'), 'the direct message');
    alice.stop();
    // Alice's other device is online, so the notice is not queued for her: this phone catches up by history.
    const other = await connectAs(target, 'alice', alice.sessions.uid());
    cleanups.push(() => other.close());
    await other.settled();
    await bob.request({ event: 'recall', roomid: dm, seq: said.seq, id: 'dm-recall' });
    await other.next((f) => f.event === 'message' && f.kind === 'recall');
    const back = await libClient(target, 'alice', { storage: alice.storage, session: alice.sessions.value });
    back.client.start();
    await back.waitFor(() => back.messages.find((m) => m.roomid === dm && m.kind === 'recall' && m.recall === said.seq), 'the recall, caught up');
    back.client.appHidden();
    expect(dump(back.storage)).not.toContain('私聊里说错的');
  });

  it('read state: the cursor is reported when a chat is opened, synced from other devices, and shown to the peer', { timeout: 20_000 }, async () => {
    const target = await server();
    const alice = await aliceIn(target);
    const bob = await peer(target, 'bob');
    const sent = alice.client.send(ROOM, '谁看了？');
    const mine = await bob.next((f) => f.event === 'message' && f.id === sent.id);
    // Bob has not read past it until he says so; then alice's receipts count him.
    await bob.request({ event: 'read', roomid: ROOM, seq: mine.seq });
    const receipts: Array<{ seq: number; count: number }> = [];
    alice.client.on('receipts', (r) => receipts.push(...r.receipts));
    alice.client.requestReceipts(ROOM, [mine.seq as number]);
    await alice.waitFor(() => receipts.find((r) => r.seq === mine.seq && r.count === 1), 'one reader');

    // Bob writes while alice's chat is closed: unread; her other device reads it: 0 here too.
    await bob.say(ROOM, '未读的一条');
    await alice.waitFor(() => alice.client.unreadOf(ROOM) === 1, 'one unread');
    const other = await connectAs(target, 'alice', alice.sessions.uid());
    cleanups.push(() => other.close());
    const last = bob.messages(ROOM).at(-1)!;
    await other.request({ event: 'read', roomid: ROOM, seq: last.seq });
    await alice.waitFor(() => alice.client.unreadOf(ROOM) === 0, 'read on the other device');

    // Opening the chat reports the cursor at once: bob's next message is read by alice once she looks.
    const third = await bob.say(ROOM, '打开就已读');
    await alice.waitFor(() => alice.client.unreadOf(ROOM) === 1, 'unread again');
    alice.client.openRoom(ROOM);
    const seen = await other.next((f) => f.event === 'read' && f.roomid === ROOM && f.seq === third.seq);
    expect(seen.uid).toBe(alice.sessions.uid());

    // Direct chat: bob's read cursor reaches alice as peerRead.
    const dm = directRoomId(alice.sessions.uid()!, bob.user.uid);
    const peerReads: number[] = [];
    alice.client.on('peerRead', (p) => p.roomid === dm && peerReads.push(p.seq));
    const direct = alice.client.send(dm, '私聊一句');
    const got = await bob.next((f) => f.event === 'message' && f.id === direct.id);
    bob.send({ event: 'read', roomid: dm, seq: got.seq });
    await alice.waitFor(() => peerReads.includes(got.seq as number), 'peer read');
  });

  it('mentions: [有人@我] from the server and live, cleared when the chat is read', { timeout: 20_000 }, async () => {
    const target = await server();
    const alice = await aliceIn(target);
    const bob = await peer(target, 'bob');
    const mentions: Array<number | undefined> = [];
    alice.client.on('mention', (m) => m.roomid === ROOM && mentions.push(m.seq));
    const hi = await bob.request({ event: 'message', roomid: ROOM, message: '@alice 看这里', mentions: [alice.sessions.uid()], id: 'at-alice' });
    await alice.waitFor(() => mentions.includes(hi.seq as number), 'the live mention');
    alice.stop();

    // Relaunched: the rooms reply still says so; reading the chat clears it.
    const back = await libClient(target, 'alice', { storage: alice.storage, session: alice.sessions.value });
    const seen: Array<number | undefined> = [];
    back.client.on('mention', (m) => m.roomid === ROOM && seen.push(m.seq));
    expect(back.client.storedRooms().find((r) => r.roomid === ROOM)?.mention).toBe(hi.seq);
    back.client.start();
    await back.joinedRoom(ROOM);
    back.client.openRoom(ROOM);
    await back.waitFor(() => seen.includes(undefined), 'the mention cleared');
    await back.roundTrip();
    expect(back.rooms.at(-1)?.find((r) => r.roomid === ROOM)?.mention).toBeUndefined();
  });

  it('typing: shown on the peer’s typing event, ended by their message', { timeout: 20_000 }, async () => {
    const { alice, bob, dm } = await directChat();
    await bob.request({ event: 'message', to: alice.sessions.uid(), message: '在吗', id: 'dm-1' });
    await alice.waitFor(() => alice.texts(dm).includes('在吗'), 'the first direct message');
    const typing: boolean[] = [];
    alice.client.on('typing', (t) => t.roomid === dm && typing.push(t.typing));
    bob.send({ event: 'typing', to: alice.sessions.uid() });
    await alice.waitFor(() => typing.includes(true) && alice.client.isTyping(dm), 'typing shown');
    await bob.request({ event: 'message', to: alice.sessions.uid(), message: '打完了', id: 'dm-2' });
    await alice.waitFor(() => typing.at(-1) === false, 'typing ended by the message');
    expect(alice.client.isTyping(dm)).toBe(false);

    // Alice types: one frame reaches bob, the next keystrokes within 3 s do not add any.
    alice.client.typing(dm);
    alice.client.typing(dm);
    await bob.next((f) => f.event === 'typing' && f.roomid === dm);
    await bob.settled();
    expect(bob.events('typing').length).toBe(1);
  });

  it('after a server restart: a recall, the read cursor and a quote still work', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-msg-restart-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { SNAPSHOT_PATH: join(dir, 'snapshot.json') };
    const first = await startTestServer(env);
    const alice = await libClient(first, 'alice');
    alice.client.joinRoom(ROOM);
    alice.client.start();
    await alice.joinedRoom(ROOM);
    const sent = alice.client.send(ROOM, '重启前的话');
    await alice.waitFor(() => alice.outbox.some((m) => m.id === sent.id && m.status === 'sent'), 'acked');
    const seq = alice.outbox.find((m) => m.id === sent.id && m.seq !== undefined)!.seq!;
    alice.client.openRoom(ROOM);
    alice.client.closeRoom(ROOM);
    await first.close();
    await alice.waitFor(() => alice.client.state.status !== 'online', 'the socket gone');

    const second = await startTestServer({ ...env, PORT: String(first.port) });
    cleanups.push(() => second.close());
    const joinedBefore = alice.joined.length;
    await alice.waitFor(() => alice.joined.slice(joinedBefore).some((j) => j.roomid === ROOM), 'joined again after the restart', 20_000);
    const bob = await peer(second, 'bob');
    // Alice's read cursor survived the restart: nothing is unread.
    expect(alice.client.unreadOf(ROOM)).toBe(0);
    await bob.request({ event: 'message', roomid: ROOM, message: '引用重启前的', quote: { roomid: ROOM, seq }, id: 'q-after' });
    const quoted = await alice.waitFor(() => alice.messages.find((m) => m.id === 'q-after'), 'the quote');
    expect(quoted.quote).toMatchObject({ seq, excerpt: '重启前的话' });
    expect(alice.client.recall(ROOM, seq)).toBe(true);
    await bob.next((f) => f.event === 'message' && f.kind === 'recall' && f.recall === seq);
    await alice.waitFor(() => alice.messages.some((m) => m.kind === 'recall' && m.recall === seq), 'the notice');
    alice.client.appHidden();
    expect(dump(alice.storage)).not.toContain('重启前的话');
  });
});
