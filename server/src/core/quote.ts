/** Quotes (引用): the snapshot a quoting message carries of the message it quotes. */

import { IMAGE_PREVIEW, QUOTE_EXCERPT_MAX_CHARS, type QuoteSnapshot } from '../protocol.ts';
import type { StoredMessage } from './room-log.ts';

/** The quoted text cut to QUOTE_EXCERPT_MAX_CHARS code points (then "…"); IMAGE_PREVIEW for a picture. */
export function excerptOf(message: StoredMessage): string {
  if (message.kind === 'image') return IMAGE_PREVIEW;
  const text = message.message;
  if (text.length <= QUOTE_EXCERPT_MAX_CHARS) return text;
  const points = Array.from(text);
  return points.length <= QUOTE_EXCERPT_MAX_CHARS ? text : `${points.slice(0, QUOTE_EXCERPT_MAX_CHARS).join('')}…`;
}

/** What a message quoting `quoted` shows of it: its sender and an excerpt, or that it was recalled. */
export function quoteOf(quoted: StoredMessage): QuoteSnapshot {
  const snapshot: QuoteSnapshot = { seq: quoted.seq, uid: quoted.uid, name: quoted.name };
  if (quoted.kind === 'image') snapshot.kind = 'image';
  if (quoted.recalled) snapshot.recalled = true;
  else snapshot.excerpt = excerptOf(quoted);
  return snapshot;
}
