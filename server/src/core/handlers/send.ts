/**
 * `message`: to a room the connection is in, or (`to`) a direct message. The room log gives the
 * seq, keeps and fans out in one step; an `id` makes the send idempotent and asks for an `ack`.
 */

import { v4 as uuidv4 } from 'uuid';
import { ErrorCode, ServerEvent, directRoomId, type SendFrame } from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import type { Appended } from '../room-log.ts';
import type { Session } from '../session.ts';

export async function handleSend<P>(ctx: CoreContext<P>, session: Session<P>, frame: SendFrame): Promise<void> {
  const identity = session.identity!;
  const ref = frame.id;
  const draft = { event: ServerEvent.Message, id: frame.id ?? uuidv4(), ts: Date.now(), uid: identity.uid, name: identity.name, message: frame.message } as const;
  if (frame.to !== undefined) {
    const appended = await ctx.log.appendDirect({ ...draft, roomid: directRoomId(identity.uid, frame.to), to: frame.to }, frame.to);
    return ack(ctx, session, ref, appended);
  }
  const roomid = frame.roomid ?? session.onlyRoom;
  if (roomid === undefined) {
    return ctx.out.error(session, { code: ErrorCode.AmbiguousRoom, message: 'say which room: this connection is in zero or several rooms', ref });
  }
  if (!session.subscription(roomid)) {
    return ctx.out.error(session, { code: ErrorCode.NotMember, message: `join ${roomid} before sending to it`, ref });
  }
  return ack(ctx, session, ref, await ctx.log.append({ ...draft, roomid }));
}

function ack<P>(ctx: CoreContext<P>, session: Session<P>, id: string | undefined, { message, duplicate }: Appended): void {
  if (id === undefined) return;
  ctx.out.send(session, { event: ServerEvent.Ack, id, roomid: message.roomid, seq: message.seq, ts: message.ts, ...(duplicate ? { duplicate: true } : {}) });
}
