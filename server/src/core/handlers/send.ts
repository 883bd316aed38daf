/**
 * `message`: to a room the connection is in, or (`to`) a direct message. The room log gives the
 * seq, keeps and fans out in one step; an `id` makes the send idempotent and asks for an `ack`.
 */

import { v4 as uuidv4 } from 'uuid';
import { ErrorCode, ServerEvent, directRoomId, type SendFrame } from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import { sendRefusal } from '../group-hooks.ts';
import { SendRefused } from '../group-store.ts';
import type { Appended, MessageDraft } from '../room-log.ts';
import { StoreFullError } from '../store.ts';
import type { Session } from '../session.ts';

export async function handleSend<P>(ctx: CoreContext<P>, session: Session<P>, frame: SendFrame): Promise<void> {
  const identity = session.identity!;
  const ref = frame.id;
  const draft = { event: ServerEvent.Message, id: frame.id ?? uuidv4(), ts: Date.now(), uid: identity.uid, name: identity.name, message: frame.message } as const;
  if (frame.to !== undefined) return sendDirect(ctx, session, frame.to, draft, ref);
  const roomid = frame.roomid ?? session.onlyRoom;
  if (roomid === undefined) {
    return ctx.out.error(session, { code: ErrorCode.AmbiguousRoom, message: 'say which room: this connection is in zero or several rooms', ref });
  }
  if (!session.subscription(roomid)) {
    return ctx.out.error(session, { code: ErrorCode.NotMember, message: `join ${roomid} before sending to it`, ref });
  }
  try {
    return ack(ctx, session, ref, await ctx.log.append({ ...draft, roomid }));
  } catch (err) {
    if (err instanceof SendRefused) return ctx.out.error(session, { ...sendRefusal(roomid, err), ref });
    if (err instanceof StoreFullError) return ctx.out.error(session, { code: ErrorCode.TooManyRooms, message: err.message, ref });
    throw err;
  }
}

async function sendDirect<P>(ctx: CoreContext<P>, session: Session<P>, to: string, draft: Omit<MessageDraft, 'roomid'>, ref: string | undefined): Promise<void> {
  const { uid } = session.identity!;
  const roomid = directRoomId(uid, to);
  // Starting a conversation with someone new creates a room and maybe a user: bounded per sender.
  const known = session.knowsConversation(roomid) || (await ctx.store.isMember(roomid, uid));
  if (!known && !ctx.quotas.directPeers.take(uid)) {
    return ctx.out.error(session, { code: ErrorCode.TooManyRooms, message: 'you have started as many new conversations as you may for now (DIRECT_PEERS_PER_HOUR)', ref });
  }
  let appended;
  try {
    appended = await ctx.log.appendDirect({ ...draft, roomid, to }, to);
  } catch (err) {
    if (err instanceof StoreFullError) return ctx.out.error(session, { code: ErrorCode.TooManyRooms, message: err.message, ref });
    throw err;
  }
  session.knownConversation(roomid);
  return ack(ctx, session, ref, appended);
}

function ack<P>(ctx: CoreContext<P>, session: Session<P>, id: string | undefined, { message, duplicate }: Appended): void {
  if (id === undefined) return;
  ctx.out.send(session, { event: ServerEvent.Ack, id, roomid: message.roomid, seq: message.seq, ts: message.ts, ...(duplicate ? { duplicate: true } : {}) });
}
