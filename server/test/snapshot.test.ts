import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MemorySnapshot } from '../src/core/memory-store.ts';
import { nodePlatform } from '../src/node/platform.ts';
import { ErrorCode } from '../src/protocol.ts';
import { writeSnapshot } from '../src/snapshot.ts';
import { connectAs, startTestServer } from './harness.ts';

describe('embedded mode survives a restart', () => {
  it('offline messages, seqs, direct inboxes and idempotency keys come back after a graceful restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-snapshot-'));
    const env = { SNAPSHOT_PATH: join(dir, 'state.json') };
    let server = await startTestServer(env);
    const alice = await connectAs(server, 'alice', 'snap-alice');
    const bob = await connectAs(server, 'bob', 'snap-bob');
    await alice.join('keep');
    await bob.join('keep');
    await bob.close();
    await alice.nextEvent('logout', { roomid: 'keep' });
    await alice.say('keep', 'first', 'keep-1');
    await alice.say('keep', 'second', 'keep-2');
    await alice.request({ event: 'message', to: 'snap-bob', message: 'private' });
    await server.close();
    expect(await alice.closed).toBe(1001);

    server = await startTestServer({ ...env, PORT: '0' });
    try {
      const bobAgain = await connectAs(server, 'bob', 'snap-bob');
      await bobAgain.waitFor(() => bobAgain.messages().some((m) => m.message === 'private'));
      const joined = await bobAgain.join('keep');
      expect(joined).toMatchObject({ replayed: 2, gap: false, total: 2 });
      expect(bobAgain.messages('keep').map((m) => m.message)).toEqual(['first', 'second']);
      const aliceAgain = await connectAs(server, 'alice', 'snap-alice');
      await aliceAgain.join('keep');
      // Seqs go on; a resend of an id from before the restart is still recognised.
      expect(await aliceAgain.say('keep', 'third')).toMatchObject({ seq: 3 });
      expect(await aliceAgain.request({ event: 'message', roomid: 'keep', message: 'first', id: 'keep-1' })).toMatchObject({ seq: 1, duplicate: true });
      await Promise.all([bobAgain.close(), aliceAgain.close()]);
    } finally {
      await server.close();
    }
  });

  it('a torn or altered snapshot is detected, moved aside and never half-loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-snapshot-'));
    const path = join(dir, 'state.json');
    let server = await startTestServer({ SNAPSHOT_PATH: path });
    const alice = await connectAs(server, 'alice', 'torn-alice');
    await alice.join('torn');
    await alice.say('torn', 'kept?');
    await server.close();
    const whole = readFileSync(path);

    for (const damaged of [whole.subarray(0, whole.length - 20), Buffer.from(whole.toString().replace('kept?', 'kept!'))]) {
      writeFileSync(path, damaged);
      server = await startTestServer({ SNAPSHOT_PATH: path });
      try {
        const again = await connectAs(server, 'alice', 'torn-alice');
        const joined = await again.join('torn', { since: 0 });
        // Nothing from the damaged file: the room starts over (and says seq 0).
        expect(joined).toMatchObject({ replayed: 0, lastSeq: 0 });
        await again.close();
      } finally {
        await server.close();
      }
      const aside = readdirSync(dir).filter((f) => f.startsWith('state.json.corrupt-'));
      expect(aside.length).toBeGreaterThan(0);
    }
  });

  it('roles, bans, mutes and privacy come back after a graceful restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-snapshot-'));
    const env = { SNAPSHOT_PATH: join(dir, 'state.json') };
    let server = await startTestServer(env);
    const owner = await connectAs(server, 'owner', 'g-owner');
    const admin = await connectAs(server, 'admin', 'g-admin');
    const talker = await connectAs(server, 'talker', 'g-talker');
    const troll = await connectAs(server, 'troll', 'g-troll');
    const { roomid } = await owner.request({ event: 'create', title: '重启', private: true });
    for (const member of [admin, talker, troll]) await owner.request({ event: 'invite', roomid, user: member.user.uid });
    await owner.request({ event: 'admin', roomid, user: admin.user.uid, admin: true });
    await owner.request({ event: 'ban', roomid, user: troll.user.uid });
    const { mutes } = await admin.request({ event: 'mute', roomid, user: talker.user.uid, seconds: 3600 });
    await server.close();

    server = await startTestServer({ ...env, PORT: '0' });
    try {
      const [trollAgain, talkerAgain, stranger, adminAgain] = await Promise.all([
        connectAs(server, 'troll', 'g-troll'),
        connectAs(server, 'talker', 'g-talker'),
        connectAs(server, 'stranger', 'g-stranger'),
        connectAs(server, 'admin', 'g-admin'),
      ]);
      expect(await trollAgain.request({ event: 'join', roomid })).toMatchObject({ code: ErrorCode.NotMember });
      expect(await stranger.request({ event: 'join', roomid })).toMatchObject({ code: ErrorCode.NotMember });
      const joined = await talkerAgain.join(roomid);
      expect(joined.group).toMatchObject({ title: '重启', private: true, owner: 'g-owner', admins: ['g-admin'], mutedUntil: mutes[0].until });
      expect(await talkerAgain.request({ event: 'message', roomid, message: 'still muted?' })).toMatchObject({ code: ErrorCode.Muted, until: mutes[0].until });
      expect(await adminAgain.request({ event: 'group', roomid })).toMatchObject({ role: 'admin', bans: [{ uid: 'g-troll', name: 'troll' }] });
      const { link } = await adminAgain.request({ event: 'link', roomid });
      expect(await trollAgain.request({ event: 'join', roomid, link })).toMatchObject({ code: ErrorCode.Banned });
      await Promise.all([trollAgain, talkerAgain, stranger, adminAgain].map((c) => c.close()));
    } finally {
      await server.close();
    }
  });

  it('a snapshot from before groups (version 2) loads: each room is open and its earliest member owns it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatroom-snapshot-'));
    const path = join(dir, 'state.json');
    const message = { event: 'message', id: 'old-1', roomid: 'old-room', seq: 1, ts: 1, uid: 'v2-first', name: 'first', message: 'from v2' };
    const v2 = {
      version: 2,
      takenAt: Date.now(),
      rooms: [{ id: 'old-room', seq: 1, epoch: 'e-v2', history: [message], members: [['v2-first', 'first', 1], ['v2-second', 'second', null]] }],
      users: [
        { uid: 'v2-first', name: 'first', rooms: ['old-room'], inbox: [], inboxGap: false },
        { uid: 'v2-second', name: 'second', rooms: ['old-room'], inbox: [], inboxGap: false },
      ],
    };
    await writeSnapshot(nodePlatform, path, v2 as unknown as MemorySnapshot);
    const server = await startTestServer({ SNAPSHOT_PATH: path });
    try {
      const first = await connectAs(server, 'first', 'v2-first');
      const second = await connectAs(server, 'second', 'v2-second');
      expect(await second.join('old-room', { since: 0, epoch: 'e-v2' })).toMatchObject({ replayed: 1, group: { role: 'member', owner: 'v2-first', private: false } });
      expect((await first.join('old-room')).group).toMatchObject({ role: 'owner' });
      expect(await first.request({ event: 'kick', roomid: 'old-room', user: 'v2-second' })).toMatchObject({ total: 1 });
      await Promise.all([first.close(), second.close()]);
    } finally {
      await server.close();
    }
  });
});
