/**
 * `recall` (撤回): the room log rewrites the message and appends the recall notice in one step
 * (recall.ts); this handler checks membership, asks the room policy what the user may recall, and
 * answers: an `ack` of the notice's seq, or the error that says why not.
 */

import { v4 as uuidv4 } from 'uuid';
import { directRoomMembers, ErrorCode, type RecallFrame } from '../../protocol.ts';
import type { CoreContext } from '../context.ts';
import { type RecallRefusal, recallNotice } from '../recall.ts';
import { isRecallRefused } from '../room-log.ts';
import type { Session } from '../session.ts';
import { acknowledge } from './send.ts';

const REFUSALS: Record<RecallRefusal, [ErrorCode, string]> = {
  unknown: [ErrorCode.UnknownMessage, 'no such message is kept in this room'],
  'not-yours': [ErrorCode.NotYourMessage, 'you can only recall your own messages here'],
  'too-late': [ErrorCode.RecallTooLate, 'too late to recall this message'],
  recalled: [ErrorCode.AlreadyRecalled, 'this message was recalled already'],
};

export async function handleRecall<P>(ctx: CoreContext<P>, session: Session<P>, frame: RecallFrame): Promise<void> {
  const { roomid, seq, id: ref } = frame;
  const identity = session.identity!;
  if (!(await ctx.store.isMember(roomid, identity.uid))) {
    return ctx.out.error(session, { code: ErrorCode.NotMember, message: `not a member of ${roomid}`, ref });
  }
  // In a direct chat the notice goes to the other member (to oneself in a chat with oneself).
  const pair = directRoomMembers(roomid);
  const to = pair && (pair[0] === identity.uid ? pair[1] : pair[0]);
  const scope = await ctx.policy.recallScope(ctx.store, identity.uid, roomid);
  const notice = recallNotice(identity, frame.id ?? uuidv4(), roomid, seq, Date.now(), to);
  const result = await ctx.log.recall({ notice, scope, windowMs: ctx.settings.recallWindowMs });
  if (isRecallRefused(result)) {
    const [code, message] = REFUSALS[result.refused];
    return ctx.out.error(session, { code, message: `${message} (${roomid} seq ${seq})`, ref });
  }
  acknowledge(ctx, session, ref, result);
}
