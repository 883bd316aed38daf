/**
 * The recipient's half of a direct message (user-scripts.ts QUEUE_DIRECT): queued in their inbox
 * when they have no connection, else published to them, atomically with that check.
 */

import { EnvelopeKind } from '../core/envelope.ts';
import { resendKey, type StoredMessage } from '../core/room-log.ts';
import { userTopic } from '../core/topics.ts';
import type { ChatRedis } from './commands.ts';
import { encodeEnvelope } from './envelope-codec.ts';
import type { KeySpace } from './keys.ts';

/** Messages per recipient whose handling QUEUE_DIRECT remembers, so a resend does not do it twice. */
export const HANDLED_PER_USER = 1000;

export enum DirectOutcome {
  /** The recipient had no connection: it waits in their inbox. */
  Queued = 1,
  /** The recipient is online: it was published to their connections. */
  Published = 0,
  /** A resend: the first attempt queued or published it already. */
  HandledBefore = 2,
}

export interface DirectQueueLimits {
  inboxPerUser: number;
  roomTtlMs: number;
}

/**
 * `send`: the message was just appended (or resent); the live copy goes out when the recipient is
 * online. `requeue`: a live copy found only closing sockets on some node; queue it unless the
 * recipient is online elsewhere (that connection got it).
 */
export async function queueDirect(
  redis: ChatRedis,
  keys: KeySpace,
  limits: DirectQueueLimits,
  to: string,
  message: StoredMessage,
  mode: 'send' | 'requeue',
): Promise<DirectOutcome> {
  const recipient = keys.user(to);
  const topic = userTopic(to);
  const text = JSON.stringify(message);
  // To oneself, the sender's own copy covers it.
  const live =
    mode === 'send' && to !== message.uid
      ? encodeEnvelope({ kind: EnvelopeKind.DirectMessage, topic, roomid: message.roomid, seq: message.seq, text }, '')
      : '';
  const outcome = await redis.chatQueueDirect(
    recipient.connections,
    recipient.inbox,
    recipient.info,
    recipient.handled,
    text,
    limits.inboxPerUser,
    limits.roomTtlMs,
    keys.channel(topic),
    live,
    resendKey(message.uid, message.id),
    mode,
    HANDLED_PER_USER,
  );
  return outcome as DirectOutcome;
}
