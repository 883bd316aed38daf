/**
 * Groups on two nodes of one Redis: the permission matrix with its cast spread over both, a
 * removal reaching the user's devices on every node, and roles, bans and mutes that outlive the
 * nodes that made them.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/protocol.ts';
import { type Cast, castOn, closeCast, runPermissionMatrix } from './group-matrix.ts';
import { connectAs } from './harness.ts';
import { type InProcessNode, startInProcessNode } from './redis-nodes.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis-server.ts';

const unavailable = redisUnavailable();
if (unavailable) console.warn(`skipping the Redis tests: ${unavailable}`);

/** The matrix makes a room per case, and its cast joins each one. */
const NODE_ENV = { ROOMS_PER_CONNECTION: '1000' };

describe.skipIf(unavailable !== undefined)('groups on two nodes of one Redis', () => {
  let redis: TestRedis;
  let a: InProcessNode, b: InProcessNode;
  let cast: Cast | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startInProcessNode(redis.url, NODE_ENV), startInProcessNode(redis.url, NODE_ENV)]);
  });
  afterAll(async () => {
    await closeCast(cast);
    await Promise.all([a?.close(), b?.close()]);
    await redis?.stop();
  });

  it('the permission matrix, with the owner, admin, member and non-member on different nodes', async () => {
    cast = await castOn([a, b]);
    expect(await runPermissionMatrix(cast)).toBe(19 * 4 * 2);
  }, 180_000);

  it('a member removed on one node leaves the room on every device on every node', async () => {
    const owner = await connectAs(a, 'owner');
    const laptop = await connectAs(a, 'troll');
    const phone = await connectAs(b, 'troll', laptop.user.uid);
    const bystander = await connectAs(b, 'bystander');
    const { roomid } = await owner.request({ event: 'create', title: '跨节点' });
    for (const user of [laptop.user.uid, bystander.user.uid]) await owner.request({ event: 'invite', roomid, user });
    for (const client of [owner, laptop, phone, bystander]) await client.join(roomid);
    await owner.request({ event: 'ban', roomid, user: laptop.user.uid });
    for (const device of [laptop, phone]) expect(await device.nextEvent('left', { roomid })).toMatchObject({ reason: 'ban', by: { uid: owner.user.uid } });
    expect(await bystander.nextEvent('logout', { uid: laptop.user.uid })).toMatchObject({ reason: 'kick', total: 2 });
    await owner.say(roomid, 'without the troll');
    await bystander.waitFor(() => bystander.messages(roomid).some((m) => m.message === 'without the troll'));
    // Both devices have had their reply to a later request: nothing more from the room reached them.
    for (const device of [laptop, phone]) {
      expect(await device.request({ event: 'message', roomid, message: 'let me back' })).toMatchObject({ code: ErrorCode.NotMember });
      expect(device.messages(roomid).map((m) => m.message)).not.toContain('without the troll');
    }
    expect(await phone.request({ event: 'join', roomid })).toMatchObject({ code: ErrorCode.Banned });
    await Promise.all([owner, laptop, phone, bystander].map((client) => client.close()));
  });

  it('roles, bans and mutes outlive the nodes that made them', async () => {
    const owner = await connectAs(a, 'owner');
    const admin = await connectAs(b, 'admin');
    const talker = await connectAs(a, 'talker');
    const troll = await connectAs(b, 'troll');
    const { roomid } = await owner.request({ event: 'create', title: '换节点' });
    for (const user of [admin.user.uid, talker.user.uid, troll.user.uid]) await owner.request({ event: 'invite', roomid, user });
    await owner.request({ event: 'admin', roomid, user: admin.user.uid, admin: true });
    await admin.request({ event: 'ban', roomid, user: troll.user.uid });
    const { mutes } = await admin.request({ event: 'mute', roomid, user: talker.user.uid, seconds: 3600 });
    await Promise.all([owner, admin, talker, troll].map((client) => client.close()));
    // Both nodes go; a new one serves the room.
    await Promise.all([a.close(), b.close()]);
    const c = await startInProcessNode(redis.url, NODE_ENV);
    try {
      const trollAgain = await connectAs(c, 'troll', troll.user.uid);
      expect(await trollAgain.request({ event: 'join', roomid })).toMatchObject({ code: ErrorCode.Banned });
      const talkerAgain = await connectAs(c, 'talker', talker.user.uid);
      expect((await talkerAgain.join(roomid)).group).toMatchObject({ owner: owner.user.uid, admins: [admin.user.uid], mutedUntil: mutes[0].until });
      expect(await talkerAgain.request({ event: 'message', roomid, message: 'muted still?' })).toMatchObject({ code: ErrorCode.Muted, until: mutes[0].until });
      await Promise.all([trollAgain.close(), talkerAgain.close()]);
    } finally {
      await c.close();
    }
  });
});
