import { EnvelopeKind, type Envelope } from '../core/envelope.ts';
import type { Topic } from '../core/topics.ts';

/**
 * The pub/sub payload: a one-line header, then the frame text as is (no second JSON encoding).
 * `kind|seq|num|total|origin|roomid\n<text>`; roomid comes last because it may contain `|`. A user
 * event has no room: that place carries its `except` session id.
 * `origin` names the publishing node and publish so the publisher can wait for its own echo;
 * num and total are no longer read (the frame carries them) but keep their places, since the
 * append script (room-scripts.ts) writes the same header for room messages.
 */
export function encodeEnvelope(envelope: Envelope, origin: string): string {
  const seq = 'seq' in envelope ? envelope.seq : '';
  const roomid = envelope.topic.kind === 'room' ? envelope.topic.roomid : 'roomid' in envelope ? envelope.roomid : envelope.kind === EnvelopeKind.UserEvent ? (envelope.except ?? '') : '';
  const text = 'text' in envelope ? envelope.text : '';
  return `${envelope.kind}|${seq}|||${origin}|${roomid}\n${text}`;
}

export interface DecodedEnvelope {
  envelope: Envelope;
  origin: string;
}

/** The envelope a payload on `topic`'s channel carries, or undefined when it is not one. */
export function decodeEnvelope(topic: Topic, payload: string): DecodedEnvelope | undefined {
  const newline = payload.indexOf('\n');
  if (newline < 0) return undefined;
  const fields = payload.slice(0, newline).split('|');
  if (fields.length < 6) return undefined;
  const kind = Number(fields[0]) as EnvelopeKind;
  const seq = fields[1] === '' ? Number.NaN : Number(fields[1]);
  const origin = fields[4];
  const roomid = fields.slice(5).join('|');
  const text = payload.slice(newline + 1);
  if (topic.kind === 'room') {
    if (kind === EnvelopeKind.RoomMessage && Number.isSafeInteger(seq)) return { envelope: { kind, topic, seq, text }, origin };
    if (kind === EnvelopeKind.Notice) return { envelope: { kind, topic, text }, origin };
    return undefined;
  }
  switch (kind) {
    case EnvelopeKind.DirectMessage:
      return Number.isSafeInteger(seq) ? { envelope: { kind, topic, roomid, seq, text }, origin } : undefined;
    case EnvelopeKind.LeftRoom:
      return { envelope: { kind, topic, roomid }, origin };
    case EnvelopeKind.UserEvent:
      return { envelope: roomid === '' ? { kind, topic, text } : { kind, topic, text, except: roomid }, origin };
    default:
      return undefined;
  }
}
