/**
 * Free text a user writes for others to see outside a message (a room's title and notice) goes
 * past the same content moderator as message text (moderation.ts), with its field, author and room.
 * A refusal reaches the author as ContentRefused naming the field, and nothing is kept; a moderator
 * that throws fails the request like a store error (the handler answers Unavailable).
 */

import type { ContentModerator } from './moderation.ts';

export interface UserTextContext {
  /** The names a content moderator knows these fields by. */
  field: 'room-name' | 'notice';
  /** Who wrote it. */
  uid: string;
  /** The room it is for; absent when the room does not exist yet (`create`). */
  roomid?: string;
}

/** Why `text` may not be kept, or undefined when it may. */
export async function reviewUserText(moderator: ContentModerator, text: string, context: UserTextContext): Promise<string | undefined> {
  const verdict = await moderator.check(text, context);
  return verdict.allow ? undefined : verdict.reason;
}
