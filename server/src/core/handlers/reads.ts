/** Requests that only read: `members`, `rooms`, `history`. */

import { type ChatMessage, ErrorCode, type HistoryRequest, type MembersRequest, type RoomsRequest, ServerEvent } from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import type { StoredMessage } from '../room-log.ts';
import type { Session } from '../session.ts';

export const HISTORY_PAGE_MAX = 100;
export const HISTORY_PAGE_DEFAULT = 50;

/** Upper bound of a message's bytes on the wire: UTF-8 is at most 3 bytes a UTF-16 unit, plus its fields. */
function wireBytes(message: StoredMessage): number {
  return 3 * (message.message.length + message.name.length) + 300;
}

/**
 * The part of a page that fits in `budget` bytes: the oldest messages when paging forward, the
 * newest when paging back (at least one, so paging always moves). The client pages on from there.
 */
function fit(messages: StoredMessage[], budget: number, keep: 'oldest' | 'newest'): StoredMessage[] {
  let bytes = 0;
  const ordered = keep === 'oldest' ? messages : [...messages].reverse();
  let count = 0;
  for (const message of ordered) {
    bytes += wireBytes(message);
    if (bytes > budget && count > 0) break;
    count += 1;
  }
  if (count === messages.length) return messages;
  return keep === 'oldest' ? messages.slice(0, count) : messages.slice(messages.length - count);
}

async function refuseNonMember<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, ref: string | undefined): Promise<boolean> {
  if (await ctx.store.isMember(roomid, session.identity!.uid)) return false;
  ctx.out.error(session, { code: ErrorCode.NotMember, message: `not a member of ${roomid}`, ref });
  return true;
}

export async function handleMembers<P>(ctx: CoreContext<P>, session: Session<P>, frame: MembersRequest): Promise<void> {
  if (await refuseNonMember(ctx, session, frame.roomid, frame.id)) return;
  // A reply that can be large goes out only once the connection has read what came before.
  if (!(await ctx.out.writable(session))) return;
  const members = await ctx.store.members(frame.roomid);
  const num = members.filter((m) => m.online).length;
  ctx.out.send(session, { event: ServerEvent.Members, roomid: frame.roomid, members, num, total: members.length, ref: frame.id });
}

export async function handleRooms<P>(ctx: CoreContext<P>, session: Session<P>, frame: RoomsRequest): Promise<void> {
  if (!(await ctx.out.writable(session))) return;
  ctx.out.send(session, { event: ServerEvent.Rooms, rooms: await ctx.store.rooms(session.identity!.uid), ref: frame.id });
}

export async function handleHistory<P>(ctx: CoreContext<P>, session: Session<P>, frame: HistoryRequest): Promise<void> {
  const { roomid, before, after, limit, id: ref } = frame;
  if (limit !== undefined && (limit < 1 || limit > HISTORY_PAGE_MAX)) {
    return ctx.out.error(session, { code: ErrorCode.InvalidField, message: `limit must be 1-${HISTORY_PAGE_MAX}`, ref });
  }
  if (after !== undefined && before !== undefined && before <= after + 1) {
    return ctx.out.error(session, { code: ErrorCode.InvalidField, message: 'before must be above after + 1: nothing lies between them', ref });
  }
  if (await refuseNonMember(ctx, session, roomid, ref)) return;
  if (!(await ctx.out.writable(session))) return;
  const count = limit ?? HISTORY_PAGE_DEFAULT;
  const forward = after !== undefined;
  const slice = forward ? await ctx.log.readAfter(roomid, after, count, before) : await ctx.log.readBefore(roomid, before, count);
  const messages = fit(slice.messages, ctx.settings.sendBufferLimitBytes / 4, forward ? 'oldest' : 'newest');
  // Older messages cut for size are still kept: only an uncut page back can say they are gone.
  const gap = forward ? slice.gap : slice.gap && messages.length === slice.messages.length;
  ctx.out.send(session, { event: ServerEvent.History, roomid, messages: messages as ChatMessage[], gap, lastSeq: slice.lastSeq, ref });
}
