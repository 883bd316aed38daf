/**
 * The one place free text that a user writes for others to see outside a message (a room's title
 * and notice) is checked before it is kept. It allows everything for now. The content moderator
 * that checks message text plugs in here with the same context (field, author, room); its refusal
 * reaches the author as an error naming the field, and nothing is kept.
 */

export interface UserTextContext {
  /** The names a content moderator knows these fields by. */
  field: 'room-name' | 'notice';
  /** Who wrote it. */
  uid: string;
  /** The room it is for; absent when the room does not exist yet (`create`). */
  roomid?: string;
}

/** Why `text` may not be kept, or undefined when it may. */
export async function reviewUserText(_text: string, _context: UserTextContext): Promise<string | undefined> {
  return undefined;
}
