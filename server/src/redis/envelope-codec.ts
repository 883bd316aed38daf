import { EnvelopeKind, type Envelope } from '../core/bus.ts';

/**
 * The pub/sub payload: a one-line header, then the frame text as is (no second JSON encoding).
 * `kind|seq|num|total|origin|roomid\n<text>`; roomid comes last because it may contain `|`.
 * `origin` names the publishing node and publish so the publisher can wait for its own echo.
 * The append script (room-scripts.ts) writes the same header for Message envelopes.
 */
export function encodeEnvelope(envelope: Envelope, origin: string): string {
  const { kind, seq, num, total, roomid } = envelope;
  return `${kind}|${seq ?? ''}|${num ?? ''}|${total ?? ''}|${origin}|${roomid ?? ''}\n${envelope.text}`;
}

export interface DecodedEnvelope {
  envelope: Envelope;
  origin: string;
}

export function decodeEnvelope(topic: string, payload: string): DecodedEnvelope | undefined {
  const newline = payload.indexOf('\n');
  if (newline < 0) return undefined;
  const fields = payload.slice(0, newline).split('|');
  if (fields.length < 6) return undefined;
  const [kind, seq, num, total, origin] = fields;
  const roomid = fields.slice(5).join('|');
  const envelope: Envelope = { topic, kind: Number(kind) as EnvelopeKind, text: payload.slice(newline + 1) };
  if (roomid !== '') envelope.roomid = roomid;
  if (seq !== '') envelope.seq = Number(seq);
  if (num !== '') envelope.num = Number(num);
  if (total !== '') envelope.total = Number(total);
  return { envelope, origin };
}
