import { type Envelope, EnvelopeKind, type RoomCounts } from '../core/envelope.ts';
import type { Topic } from '../core/topics.ts';

/**
 * The pub/sub payload: a one-line header, then the frame text as is (no second JSON encoding).
 * `kind|seq|num|total|origin|epoch|roomid\n<text>`; roomid comes last because it may contain `|`.
 * A user event has no room: the roomid place carries its `except` session id.
 * `origin` names the publishing node and publish so the publisher can wait for its own echo.
 * Room messages are published by the append script (room-scripts.ts APPEND), which fills in num,
 * total and the room's epoch; direct messages drained from an inbox by user-scripts.ts likewise.
 */
export function encodeEnvelope(envelope: Envelope, origin: string): string {
  const seq = 'seq' in envelope ? envelope.seq : '';
  const roomid =
    envelope.topic.kind === 'room'
      ? envelope.topic.roomid
      : 'roomid' in envelope
        ? envelope.roomid
        : envelope.kind === EnvelopeKind.UserEvent
          ? (envelope.except ?? '')
          : '';
  const text = ('text' in envelope ? envelope.text : undefined) ?? '';
  return `${envelope.kind}|${seq}|||${origin}||${roomid}\n${text}`;
}

export interface DecodedEnvelope {
  envelope: Envelope;
  origin: string;
  /** Room messages: the room's epoch and counts when the message was appended. */
  epoch: string;
  counts: RoomCounts;
}

const HEADER_FIELDS = 7;

/** The envelope a payload on `topic`'s channel carries, or undefined when it is not one. */
export function decodeEnvelope(topic: Topic, payload: string): DecodedEnvelope | undefined {
  const newline = payload.indexOf('\n');
  if (newline < 0) return undefined;
  const fields = payload.slice(0, newline).split('|');
  if (fields.length < HEADER_FIELDS) return undefined;
  const kind = Number(fields[0]) as EnvelopeKind;
  const seq = fields[1] === '' ? Number.NaN : Number(fields[1]);
  const counts = { num: Number(fields[2]) || 0, total: Number(fields[3]) || 0 };
  const [origin, epoch] = [fields[4], fields[5]];
  const roomid = fields.slice(HEADER_FIELDS - 1).join('|');
  const text = payload.slice(newline + 1);
  const decoded = (envelope: Envelope): DecodedEnvelope => ({ envelope, origin, epoch, counts });
  if (topic.kind === 'room') {
    if (kind === EnvelopeKind.RoomMessage && Number.isSafeInteger(seq)) return decoded({ kind, topic, seq, text });
    if (kind === EnvelopeKind.Notice) return decoded({ kind, topic, text });
    return undefined;
  }
  switch (kind) {
    case EnvelopeKind.DirectMessage:
      return Number.isSafeInteger(seq) ? decoded({ kind, topic, roomid, seq, text }) : undefined;
    case EnvelopeKind.LeftRoom:
      return decoded(text === '' ? { kind, topic, roomid } : { kind, topic, roomid, text });
    case EnvelopeKind.UserEvent:
      return decoded(roomid === '' ? { kind, topic, text } : { kind, topic, text, except: roomid });
    default:
      return undefined;
  }
}
