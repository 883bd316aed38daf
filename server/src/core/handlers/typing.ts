/**
 * `typing` (对方正在输入…): passed on to the open connections of a direct chat's peer, and to
 * nobody else. Never stored or queued: a peer with no connection open simply does not see it. At
 * most one per TYPING_INTERVAL_MS per connection goes on; the rest are dropped without an answer.
 */

import { directRoomId, ErrorCode, ServerEvent, type TypingEvent, type TypingFrame } from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import { EnvelopeKind } from '../envelope.ts';
import type { Session } from '../session.ts';
import { userTopic } from '../topics.ts';

/** When each connection last passed a `typing` on. */
const lastPassedOn = new WeakMap<Session<unknown>, number>();

export async function handleTyping<P>(ctx: CoreContext<P>, session: Session<P>, frame: TypingFrame): Promise<void> {
  const { uid, name } = session.identity!;
  let roomid = session.conversationWith(frame.to);
  // Only within a conversation that exists: no "typing…" from strangers.
  if (roomid === undefined) {
    roomid = directRoomId(uid, frame.to);
    if (!(await ctx.store.isMember(roomid, uid))) {
      return ctx.out.error(session, { code: ErrorCode.NotMember, message: `no conversation with ${frame.to}`, ref: frame.id });
    }
    session.knownConversation(frame.to, roomid);
  }
  if (frame.to === uid) return;
  const now = Date.now();
  const last = lastPassedOn.get(session);
  if (last !== undefined && now - last < ctx.settings.typingIntervalMs) return;
  lastPassedOn.set(session, now);
  const event: TypingEvent = { event: ServerEvent.Typing, roomid, uid, name };
  await ctx.bus.publish({ kind: EnvelopeKind.UserEvent, topic: userTopic(frame.to), text: JSON.stringify(event) });
}
