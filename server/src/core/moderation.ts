/**
 * The content moderation hook: every text a user supplies is offered to a ContentModerator before
 * it is stored: a message's text, and a room's title and notice (user-text.ts); display names will
 * go through the same hook when WeChat login gives them. The default allows everything; a deployment plugs in its
 * own (WeChat's msgSecCheck, a word list, a review queue) through ChatApp's options.
 *
 * A refusal is answered with ErrorCode.ContentRefused and its reason, and nothing is stored. A
 * moderator that throws (its service unreachable) fails the request like a store error
 * (ErrorCode.Unavailable): the client resends, and nothing unchecked gets through.
 */

/** Where a text comes from: WeChat's msgSecCheck wants a scene, and a reviewer wants to know. */
export type ModeratedField = 'message' | 'room-name' | 'notice' | 'display-name';

export interface ModerationContext {
  field: ModeratedField;
  /** Who wrote it (map it to an openid for msgSecCheck). */
  uid: string;
  /** The room or direct chat it is for, when there is one. */
  roomid?: string;
}

export type ModerationVerdict = { allow: true } | { allow: false; reason: string };

export interface ContentModerator {
  check(text: string, context: ModerationContext): ModerationVerdict | Promise<ModerationVerdict>;
}

const ALLOW: ModerationVerdict = { allow: true };

/** The default: every text is allowed. */
export const allowEverything: ContentModerator = {
  check: () => ALLOW,
};
