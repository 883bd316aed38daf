/**
 * `login`/`join`: the connection subscribes to a room, the room hears of it, and what the member
 * missed is replayed before anything live: from `since` when the client says where it stopped,
 * else from the offline cursor the store kept. The replay is read and sent a page at a time, each
 * page only once the connection has read what came before (a client that stops reading is closed
 * as a slow consumer instead of growing the server's memory).
 */

import { ErrorCode, isDirectRoomId, isGroupRoomId, type JoinFrame, ServerEvent } from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import { type Envelope, EnvelopeKind } from '../envelope.ts';
import { afterJoin, joinRefusal, profileOnJoin } from '../group-hooks.ts';
import type { Session } from '../session.ts';
import type { JoinRefusal, RoomCounts } from '../store.ts';
import type { Subscription } from '../subscription.ts';
import { roomTopic } from '../topics.ts';
import { presenceWire } from '../wire.ts';

/** Messages read from the log per replay page. */
export const REPLAY_PAGE_MESSAGES = 50;

const REFUSALS: Partial<Record<JoinRefusal, string>> = {
  // Only refused when the user may not create one now.
  'no-such-room': 'you have created as many rooms as you may for now (ROOMS_CREATED_PER_HOUR); join one that exists',
  'store-full': 'this server holds as many rooms as it may (ROOM_LIMIT); try again later',
};

export async function handleJoin<P>(ctx: CoreContext<P>, session: Session<P>, frame: JoinFrame): Promise<void> {
  const { roomid, id: ref } = frame;
  if (isDirectRoomId(roomid)) {
    return ctx.out.error(session, { code: ErrorCode.InvalidField, message: 'direct chats need no join; read them with history', ref });
  }
  const rejoin = session.subscription(roomid) !== undefined;
  if (!rejoin && session.roomCount >= ctx.settings.roomsPerConnection) {
    return ctx.out.error(session, { code: ErrorCode.TooManyRooms, message: 'too many rooms on one connection', ref });
  }
  const sub = session.subscribe(roomid);
  sub.beginJoin(ref !== undefined);
  try {
    await join(ctx, session, frame, sub, rejoin);
  } finally {
    // A join that failed midway (the store did not answer: 4503) must not hold the room's live
    // traffic for good; the subscription stays (the store may count it) and the client resends.
    if (sub.replaying && session.subscription(roomid) === sub) ctx.fanOut.release(session, roomid, sub.joinedAt(0, false));
  }
}

async function join<P>(ctx: CoreContext<P>, session: Session<P>, frame: JoinFrame, sub: Subscription, rejoin: boolean): Promise<void> {
  const { roomid, id: ref } = frame;
  const identity = session.identity!;
  // Subscribed before the store counts the member in: nothing published from then on is missed.
  if (!rejoin) await ctx.registry.addToRoom(roomid, session);
  // Server-chosen ids are made by `create` only, and a join with an invite link never makes a room.
  const mayCreate = ctx.quotas.roomsCreated.available(identity.uid) && !isGroupRoomId(roomid) && frame.link === undefined;
  const options = { mayCreate, link: frame.link, maxMembers: ctx.settings.roomMaxMembers };
  const joined = await ctx.store.join(roomid, identity.uid, identity.name, session.id, options);
  if (typeof joined !== 'string' && joined.created) ctx.quotas.roomsCreated.take(identity.uid);
  if (typeof joined === 'string') {
    if (!rejoin) {
      session.unsubscribe(roomid);
      await ctx.registry.removeFromRoom(roomid, session);
    } else sub.joinedAt(0, false);
    const refusal = joinRefusal(roomid, joined, frame.link, ctx.settings.roomMaxMembers);
    return ctx.out.error(session, refusal ? { ...refusal, ref } : { code: ErrorCode.TooManyRooms, message: REFUSALS[joined]!, ref });
  }
  const notice = { kind: EnvelopeKind.Notice, topic: roomTopic(roomid), text: presenceWire(ServerEvent.Login, identity, roomid, joined) } as const;
  // A second connection of a member already online is not announced; it still sees its own login.
  if (joined.cameOnline) await ctx.bus.publish(notice);
  else sub.offer(notice);

  // Read before the replay: from the moment the replay ends, live traffic goes out, and `joined` must precede it.
  const group = await profileOnJoin(ctx, session, roomid, ref);

  // A client resuming from another epoch (the room's seqs started over) has seqs that mean nothing here.
  const epochChanged = frame.since !== undefined && frame.epoch !== undefined && frame.epoch !== joined.epoch;
  const from = epochChanged ? 0 : (frame.since ?? joined.offlineCursor);
  let replayed = 0;
  let gap = epochChanged;
  let held: Envelope[];
  if (from === undefined) {
    held = sub.joinedAt(joined.lastSeq, !rejoin);
  } else {
    const result = await replay(ctx, session, roomid, from, joined);
    replayed = result.replayed;
    gap ||= result.gap;
    held = sub.replayedTo(from, result.lastSeq);
  }
  ctx.out.reply(session, {
    event: ServerEvent.Joined,
    roomid,
    num: joined.num,
    total: joined.total,
    lastSeq: sub.lastSent,
    replayed,
    gap,
    epoch: joined.epoch,
    group,
    read: joined.read,
    ...(joined.mention !== undefined ? { mention: joined.mention } : {}),
    ref,
  });
  ctx.fanOut.release(session, roomid, held);
  await afterJoin(ctx, session, roomid, joined);
}

interface Replayed {
  replayed: number;
  gap: boolean;
  /** The room's newest seq when the replay last read it. */
  lastSeq: number;
}

async function replay<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, from: number, counts: RoomCounts): Promise<Replayed> {
  const result: Replayed = { replayed: 0, gap: false, lastSeq: from };
  let cursor = from;
  for (;;) {
    const page = await ctx.log.readAfter(roomid, cursor, REPLAY_PAGE_MESSAGES);
    result.gap ||= page.gap;
    result.lastSeq = page.lastSeq;
    for (const message of page.messages) {
      // Sent as fast as the client reads: a connection that stops reading is closed, not buffered for.
      if (ctx.out.backedUp(session) && !(await ctx.out.writable(session))) return result;
      ctx.out.sendText(session, JSON.stringify({ ...message, num: counts.num, total: counts.total, replay: true }));
      cursor = message.seq;
      result.replayed += 1;
    }
    if (page.messages.length < REPLAY_PAGE_MESSAGES || cursor >= page.lastSeq) return result;
    // A page at a time, with a turn of the event loop between pages: other connections are
    // served, and queued frames are written, even when the log answers without waiting (memory).
    await new Promise((resolve) => setImmediate(resolve));
  }
}
