/** `leave` ends a membership, on every connection of the user, wherever it is. */

import { ErrorCode, type LeaveFrame, ServerEvent } from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import { EnvelopeKind, type LeftRoomEnvelope } from '../envelope.ts';
import { afterLeave } from '../group-hooks.ts';
import type { Session } from '../session.ts';
import { roomTopic, userTopic } from '../topics.ts';
import { presenceWire } from '../wire.ts';

export async function handleLeave<P>(ctx: CoreContext<P>, session: Session<P>, frame: LeaveFrame): Promise<void> {
  const { roomid, id: ref } = frame;
  const identity = session.identity!;
  if (!session.subscription(roomid) && !(await ctx.store.isMember(roomid, identity.uid))) {
    return ctx.out.error(session, { code: ErrorCode.NotMember, message: `not a member of ${roomid}`, ref });
  }
  await dropRoom(ctx, session, roomid);
  ctx.out.reply(session, { event: ServerEvent.Left, roomid, ref });
  const result = await ctx.store.leave(roomid, identity.uid);
  await ctx.bus.publish({ kind: EnvelopeKind.LeftRoom, topic: userTopic(identity.uid), roomid });
  if (result.wasMember) {
    const text = presenceWire(ServerEvent.Logout, identity, roomid, result, 'leave');
    await ctx.bus.publish({ kind: EnvelopeKind.Notice, topic: roomTopic(roomid), text });
  }
  await afterLeave(ctx, session, roomid, result);
}

/** This connection is no longer in the room (the store is the caller's business). */
export async function dropRoom<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string): Promise<void> {
  if (session.unsubscribe(roomid)) await ctx.registry.removeFromRoom(roomid, session);
}

/**
 * The user left the room on another connection, or was removed from it (the envelope then carries
 * the `left` frame saying why): this connection leaves it too, and is told. A removal is told to
 * every connection of the user, in the room or not, so each device's rooms list follows.
 */
export async function leftElsewhere<P>(ctx: CoreContext<P>, session: Session<P>, envelope: LeftRoomEnvelope): Promise<void> {
  const sub = session.subscription(envelope.roomid);
  if (!sub && envelope.text === undefined) return;
  if (sub) {
    await dropRoom(ctx, session, envelope.roomid);
    // The store dropped the user's presence already; this lets the node's own bookkeeping go too.
    await ctx.store.disconnect(envelope.roomid, session.identity!.uid, session.id, sub.lastSent);
  }
  if (envelope.text !== undefined) ctx.out.sendText(session, envelope.text);
  else ctx.out.send(session, { event: ServerEvent.Left, roomid: envelope.roomid });
}
