import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
});
