/** The name a picker offers for @所有人 (owners and admins of a group room). */
export const MENTION_ALL_NAME = '所有人';
export const MENTION_ALL_UID = '*';

export interface MentionPick {
  uid: string;
  name: string;
}

/** Whether the input just got an "@" typed at its end (the member picker opens). */
export function typedAt(previous: string, next: string): boolean {
  // H5 coalesces keystrokes that come within 100 ms: an "@" at the end of a longer text counts too.
  return next.length > previous.length && next.endsWith('@') && next.startsWith(previous);
}

/** The text after choosing `name` in the picker: the typed "@" becomes "@名字 ". */
export function insertMention(text: string, name: string): string {
  const base = text.endsWith('@') ? text.slice(0, -1) : text;
  return `${base}@${name} `;
}

/**
 * What a message sends of the members picked while writing it: only those whose "@名字" is still in
 * the text (the user may have deleted it), each once; @所有人 as `mentionAll`.
 */
export function mentionsIn(text: string, picked: MentionPick[]): { mentions: string[]; mentionAll: boolean } {
  const mentions: string[] = [];
  let mentionAll = false;
  for (const pick of picked) {
    if (!text.includes(`@${pick.name}`)) continue;
    if (pick.uid === MENTION_ALL_UID) mentionAll = true;
    else if (!mentions.includes(pick.uid)) mentions.push(pick.uid);
  }
  return { mentions, mentionAll };
}

/** A bubble's text in pieces, with the "@名字" of the user (or @所有人) marked for highlighting. */
export function mentionSegments(text: string, names: string[]): Array<{ text: string; at: boolean }> {
  const marks = names.filter((n) => n).map((n) => `@${n}`);
  const segments: Array<{ text: string; at: boolean }> = [];
  let rest = text;
  while (rest) {
    let best = -1;
    let mark = '';
    for (const m of marks) {
      const at = rest.indexOf(m);
      if (at >= 0 && (best < 0 || at < best)) {
        best = at;
        mark = m;
      }
    }
    if (best < 0) {
      segments.push({ text: rest, at: false });
      break;
    }
    if (best > 0) segments.push({ text: rest.slice(0, best), at: false });
    segments.push({ text: mark, at: true });
    rest = rest.slice(best + mark.length);
  }
  return segments;
}
