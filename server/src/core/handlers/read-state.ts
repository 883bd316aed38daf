/**
 * Read state: `read` moves the user's read cursor in a room or direct chat; `receipts` and
 * `readers` tell the sender of a message how many, and who, have read it.
 *
 * Cost is bounded by design. A cursor update is one store step on the room and one frame to the
 * user's own connections (plus one to the peer in a direct chat): nothing goes to the room's other
 * members, whatever its size. Updates are coalesced per connection and room: the first in a quiet
 * spell is applied at once, later ones within READ_COALESCE_MS are merged (the highest seq wins)
 * and applied when that time is up. Read counts are computed only when the sender asks, from every
 * member's cursor (one read of the room's cursors per request).
 */

import {
  directRoomMembers,
  ErrorCode,
  RECEIPTS_MAX,
  type ReadEvent,
  type ReadersRequest,
  type ReadFrame,
  type ReceiptsRequest,
  ServerEvent,
} from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import { EnvelopeKind } from '../envelope.ts';
import type { Session } from '../session.ts';
import { userTopic } from '../topics.ts';

/** One connection's updates for one room within the current window. */
interface ReadWindow {
  /** The window ends (and a merged update is applied) at this time. */
  until: number;
  /** The merged update waiting for the window's end, with the request ids it answers. */
  pending?: { seq: number; refs: string[] };
  timer?: ReturnType<typeof setTimeout>;
}

export class ReadCoalescer<P> {
  private readonly windows = new WeakMap<Session<P>, Map<string, ReadWindow>>();

  constructor(private readonly intervalMs: number) {}

  /** Applies the update now, or merges it into the one waiting for this connection and room. */
  async submit(ctx: CoreContext<P>, session: Session<P>, roomid: string, seq: number, ref: string | undefined): Promise<void> {
    let rooms = this.windows.get(session);
    if (!rooms) this.windows.set(session, (rooms = new Map()));
    const now = Date.now();
    const window = rooms.get(roomid);
    if (!window || (now >= window.until && !window.pending)) {
      rooms.set(roomid, { until: now + this.intervalMs });
      return applyRead(ctx, session, roomid, seq, ref === undefined ? [] : [ref]);
    }
    const pending = (window.pending ??= { seq, refs: [] });
    pending.seq = Math.max(pending.seq, seq);
    if (ref !== undefined) pending.refs.push(ref);
    window.timer ??= setTimeout(() => void this.flushRoom(ctx, session, roomid), Math.max(0, window.until - now));
  }

  /** Applies whatever this connection has waiting (it is closing). */
  async flush(ctx: CoreContext<P>, session: Session<P>): Promise<void> {
    const rooms = this.windows.get(session);
    if (!rooms) return;
    await Promise.all([...rooms.keys()].map((roomid) => this.flushRoom(ctx, session, roomid)));
  }

  private async flushRoom(ctx: CoreContext<P>, session: Session<P>, roomid: string): Promise<void> {
    const window = this.windows.get(session)?.get(roomid);
    if (!window?.pending) return;
    const { seq, refs } = window.pending;
    clearTimeout(window.timer);
    window.pending = undefined;
    window.timer = undefined;
    window.until = Date.now() + this.intervalMs;
    try {
      await applyRead(ctx, session, roomid, seq, refs);
    } catch (err) {
      ctx.logger.warn('read cursor not saved', { conn: session.id, roomid, err: String(err) });
      for (const ref of refs) ctx.out.error(session, { code: ErrorCode.Unavailable, message: 'the read cursor was not saved; send it again', ref });
    }
  }
}

async function applyRead<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, seq: number, refs: string[]): Promise<void> {
  const { uid } = session.identity!;
  const marked = await ctx.store.markRead(roomid, uid, seq);
  if (!marked) {
    for (const ref of refs.length > 0 ? refs : [undefined]) ctx.out.error(session, { code: ErrorCode.NotMember, message: `not a member of ${roomid}`, ref });
    return;
  }
  const event: ReadEvent = { event: ServerEvent.Read, roomid, uid, seq: marked.read };
  if (marked.moved) {
    const text = JSON.stringify(event);
    // The user's other devices (this one knows); in a direct chat also the peer, who shows 已读 under their messages.
    const pair = directRoomMembers(roomid);
    const peer = pair && (pair[0] === uid ? pair[1] : pair[0]);
    await Promise.all([
      ctx.bus.publish({ kind: EnvelopeKind.UserEvent, topic: userTopic(uid), text, except: session.id }),
      peer !== undefined && peer !== uid ? ctx.bus.publish({ kind: EnvelopeKind.UserEvent, topic: userTopic(peer), text }) : undefined,
    ]);
  }
  for (const ref of refs) ctx.out.send(session, { ...event, ref });
}

export async function handleRead<P>(ctx: CoreContext<P>, session: Session<P>, frame: ReadFrame): Promise<void> {
  await ctx.reads.submit(ctx, session, frame.roomid, frame.seq, frame.id);
}

/** Members other than `uid`, their cursors ascending. */
async function othersCursors<P>(ctx: CoreContext<P>, roomid: string, uid: string) {
  return (await ctx.store.readCursors(roomid)).filter((member) => member.uid !== uid).sort((a, b) => a.read - b.read);
}

async function refuseNonMember<P>(ctx: CoreContext<P>, session: Session<P>, roomid: string, ref: string | undefined): Promise<boolean> {
  if (await ctx.store.isMember(roomid, session.identity!.uid)) return false;
  ctx.out.error(session, { code: ErrorCode.NotMember, message: `not a member of ${roomid}`, ref });
  return true;
}

export async function handleReceipts<P>(ctx: CoreContext<P>, session: Session<P>, frame: ReceiptsRequest): Promise<void> {
  const { roomid, id: ref } = frame;
  const { uid } = session.identity!;
  if (await refuseNonMember(ctx, session, roomid, ref)) return;
  const asked = [...new Set(frame.seqs)].sort((a, b) => a - b);
  const page = await ctx.log.readAfter(roomid, asked[0] - 1, RECEIPTS_MAX, asked[asked.length - 1] + 1);
  // Only one's own messages: read receipts are the sender's to see.
  const own = new Set(page.messages.filter((m) => m.uid === uid && m.kind !== 'recall' && !m.recalled).map((m) => m.seq));
  const seqs = asked.filter((seq) => own.has(seq));
  const cursors = seqs.length > 0 ? (await othersCursors(ctx, roomid, uid)).map((member) => member.read) : [];
  const members = seqs.length > 0 ? cursors.length : (await ctx.store.counts(roomid)).total - 1;
  const receipts = seqs.map((seq) => ({ seq, count: cursors.length - firstAtLeast(cursors, seq) }));
  ctx.out.send(session, { event: ServerEvent.Receipts, roomid, receipts, members, ref });
}

export async function handleReaders<P>(ctx: CoreContext<P>, session: Session<P>, frame: ReadersRequest): Promise<void> {
  const { roomid, seq, id: ref } = frame;
  const { uid } = session.identity!;
  if (await refuseNonMember(ctx, session, roomid, ref)) return;
  const [message] = (await ctx.log.readAfter(roomid, seq - 1, 1, seq + 1)).messages;
  if (message?.seq !== seq || message.kind === 'recall') {
    return ctx.out.error(session, { code: ErrorCode.UnknownMessage, message: `message ${seq} of ${roomid} is not kept`, ref });
  }
  if (message.uid !== uid) return ctx.out.error(session, { code: ErrorCode.NotYourMessage, message: 'read receipts are for your own messages', ref });
  // The list can be as long as the room: sent once the connection has read what came before.
  if (!(await ctx.out.writable(session))) return;
  const others = await othersCursors(ctx, roomid, uid);
  const readers = others.filter((member) => member.read >= seq).map(({ uid: reader, name }) => ({ uid: reader, name }));
  ctx.out.send(session, { event: ServerEvent.Readers, roomid, seq, readers, members: others.length, ref });
}

/** The index of the first value ≥ `seq` in ascending `values` (values.length when none). */
function firstAtLeast(values: number[], seq: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (values[middle] < seq) low = middle + 1;
    else high = middle;
  }
  return low;
}
