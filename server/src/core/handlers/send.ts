/**
 * `message`: to a room the connection is in, or (`to`) a direct message. The room log gives the
 * seq, keeps and fans out in one step; an `id` makes the send idempotent and asks for an `ack`.
 * Before that, a quote is resolved to its snapshot, mentions are checked, and the text goes past
 * the moderation hook.
 */

import { v4 as uuidv4 } from 'uuid';
import { directRoomId, ErrorCode, isDirectRoomId, type QuoteSnapshot, type SendFrame, ServerEvent } from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import { FrameError } from '../frames.ts';
import { sendRefusal } from '../group-hooks.ts';
import { SendRefused } from '../group-store.ts';
import type { ModerationVerdict } from '../moderation.ts';
import { quoteOf } from '../quote.ts';
import { type Appended, type AppendedDirect, type MessageDraft, withFields } from '../room-log.ts';
import type { Session } from '../session.ts';
import { StoreFullError } from '../store.ts';

type Draft = Omit<MessageDraft, 'roomid'>;

export async function handleSend<P>(ctx: CoreContext<P>, session: Session<P>, frame: SendFrame): Promise<void> {
  const identity = session.identity!;
  const ref = frame.id;
  const draft: Draft = { event: ServerEvent.Message, id: frame.id ?? uuidv4(), ts: Date.now(), uid: identity.uid, name: identity.name, message: frame.message };
  if (frame.to !== undefined) return sendDirect(ctx, session, frame, draft, ref);
  const roomid = frame.roomid ?? session.onlyRoom;
  if (roomid === undefined) {
    return ctx.out.error(session, { code: ErrorCode.AmbiguousRoom, message: 'say which room: this connection is in zero or several rooms', ref });
  }
  if (!session.subscription(roomid)) {
    return ctx.out.error(session, { code: ErrorCode.NotMember, message: `join ${roomid} before sending to it`, ref });
  }
  const checking = withContent(ctx, frame, draft, roomid);
  const refused = checking instanceof Promise ? await checking : checking;
  if (refused) return ctx.out.error(session, refused);
  try {
    return acknowledge(ctx, session, ref, await ctx.log.append(withFields(draft, { roomid })));
  } catch (err) {
    if (err instanceof SendRefused) return ctx.out.error(session, { ...sendRefusal(roomid, err), ref });
    if (err instanceof StoreFullError) return ctx.out.error(session, { code: ErrorCode.TooManyRooms, message: err.message, ref });
    throw err;
  }
}

async function sendDirect<P>(ctx: CoreContext<P>, session: Session<P>, frame: SendFrame, draft: Draft, ref: string | undefined): Promise<void> {
  const { uid } = session.identity!;
  const to = frame.to!;
  const knownRoomid = session.conversationWith(to);
  const roomid = knownRoomid ?? directRoomId(uid, to);
  // Starting a conversation with someone new creates a room and maybe a user: bounded per sender.
  const known = knownRoomid !== undefined || (await ctx.store.isMember(roomid, uid));
  if (!known && !ctx.quotas.directPeers.take(uid)) {
    return ctx.out.error(session, {
      code: ErrorCode.TooManyRooms,
      message: 'you have started as many new conversations as you may for now (DIRECT_PEERS_PER_HOUR)',
      ref,
    });
  }
  const checking = withContent(ctx, frame, draft, roomid);
  const refused = checking instanceof Promise ? await checking : checking;
  if (refused) return ctx.out.error(session, refused);
  let appended: AppendedDirect;
  try {
    appended = await ctx.log.appendDirect(withFields(draft, { roomid, to }), to);
  } catch (err) {
    if (err instanceof StoreFullError) return ctx.out.error(session, { code: ErrorCode.TooManyRooms, message: err.message, ref });
    throw err;
  }
  session.knownConversation(to, appended.message.roomid);
  return acknowledge(ctx, session, ref, appended);
}

type Refusal = FrameError | undefined;

/**
 * Adds what the frame asks for beyond its text (a quote's snapshot, mentions) to `draft`, then asks
 * the moderation hook about the text. Returns why the message is refused, or undefined; without a
 * promise when nothing had to wait (a plain text and a moderator that answers at once: the hot path).
 */
function withContent<P>(ctx: CoreContext<P>, frame: SendFrame, draft: Draft, roomid: string): Refusal | Promise<Refusal> {
  if (frame.quote === undefined && frame.mentions === undefined && !frame.mentionAll) return moderate(ctx, frame, draft, roomid);
  return withQuoteAndMentions(ctx, frame, draft, roomid);
}

async function withQuoteAndMentions<P>(ctx: CoreContext<P>, frame: SendFrame, draft: Draft, roomid: string): Promise<Refusal> {
  const ref = frame.id;
  if (frame.quote !== undefined) {
    const quote = await quoteFor(ctx, roomid, frame.quote, ref);
    if (quote instanceof FrameError) return quote;
    draft.quote = quote;
  }
  if (frame.mentions !== undefined || frame.mentionAll) {
    if (isDirectRoomId(roomid)) return new FrameError(ErrorCode.MentionNotAllowed, 'mentions are for rooms, not direct chats', ref);
    if (frame.mentionAll && !(await ctx.policy.mayMentionAll(ctx.store, draft.uid, roomid))) {
      return new FrameError(ErrorCode.MentionNotAllowed, "only the room's owner may mention everyone", ref);
    }
    if (frame.mentions !== undefined && frame.mentions.length > 0) draft.mentions = frame.mentions;
    if (frame.mentionAll) draft.mentionAll = true;
  }
  return moderate(ctx, frame, draft, roomid);
}

function moderate<P>(ctx: CoreContext<P>, frame: SendFrame, draft: Draft, roomid: string): Refusal | Promise<Refusal> {
  const verdict = ctx.moderator.check(frame.message, { field: 'message', uid: draft.uid, roomid });
  if (verdict instanceof Promise) return verdict.then((result) => refusalOf(result, frame.id));
  return refusalOf(verdict, frame.id);
}

function refusalOf(verdict: ModerationVerdict, ref: string | undefined): Refusal {
  return verdict.allow ? undefined : new FrameError(ErrorCode.ContentRefused, `message refused: ${verdict.reason}`, ref);
}

/** The snapshot of the quoted message; it must be a kept message of the same room. */
async function quoteFor<P>(
  ctx: CoreContext<P>,
  roomid: string,
  quote: NonNullable<SendFrame['quote']>,
  ref: string | undefined,
): Promise<QuoteSnapshot | FrameError> {
  if (quote.roomid !== roomid) return new FrameError(ErrorCode.InvalidField, 'a message can only quote a message of the same room', ref);
  const [quoted] = (await ctx.log.readAfter(roomid, quote.seq - 1, 1, quote.seq + 1)).messages;
  if (quoted?.seq !== quote.seq) return new FrameError(ErrorCode.UnknownMessage, `message ${quote.seq} of ${roomid} is not kept`, ref);
  if (quoted.kind === 'recall') return new FrameError(ErrorCode.InvalidField, 'a recall notice cannot be quoted', ref);
  return quoteOf(quoted);
}

/** The `ack` for a request with an id: the seq its message (or recall notice) was stored with. */
export function acknowledge<P>(ctx: CoreContext<P>, session: Session<P>, id: string | undefined, { message, duplicate }: Appended): void {
  if (id === undefined) return;
  ctx.out.send(session, { event: ServerEvent.Ack, id, roomid: message.roomid, seq: message.seq, ts: message.ts, ...(duplicate ? { duplicate: true } : {}) });
}
