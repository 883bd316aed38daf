/** Requests that only read: `members`, `rooms`, `history`. */

import { ErrorCode, ServerEvent, type ChatMessage, type HistoryRequest, type MembersRequest, type RoomsRequest } from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import type { Session } from '../session.ts';

export const HISTORY_PAGE_MAX = 100;
export const HISTORY_PAGE_DEFAULT = 50;

async function refuseNonMember<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, ref: string | undefined): Promise<boolean> {
  if (await ctx.store.isMember(roomid, session.identity!.uid)) return false;
  ctx.out.error(session, { code: ErrorCode.NotMember, message: `not a member of ${roomid}`, ref });
  return true;
}

export async function handleMembers<P>(ctx: CoreContext<P>, session: Session<P>, frame: MembersRequest): Promise<void> {
  if (await refuseNonMember(ctx, session, frame.roomid, frame.id)) return;
  const members = await ctx.store.members(frame.roomid);
  const num = members.filter((m) => m.online).length;
  ctx.out.send(session, { event: ServerEvent.Members, roomid: frame.roomid, members, num, total: members.length, ref: frame.id });
}

export async function handleRooms<P>(ctx: CoreContext<P>, session: Session<P>, frame: RoomsRequest): Promise<void> {
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
  const count = limit ?? HISTORY_PAGE_DEFAULT;
  const slice = after !== undefined ? await ctx.log.readAfter(roomid, after, count, before) : await ctx.log.readBefore(roomid, before, count);
  ctx.out.send(session, { event: ServerEvent.History, roomid, messages: slice.messages as ChatMessage[], gap: slice.gap, lastSeq: slice.lastSeq, ref });
}
