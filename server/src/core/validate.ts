/**
 * Parsing and validating client frames. Every failure becomes a protocol error with a code, never a
 * thrown exception on the connection's path.
 */

import { ClientEvent, ErrorCode, ROOM_ID_PATTERN } from '../protocol.ts';

export class FrameError {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
    readonly ref?: string,
  ) {}
}

/** A parsed frame: a plain object with a known `event`. Field checks happen in each handler. */
export type RawFrame = Record<string, unknown> & { event: ClientEvent };

const EVENTS = new Set<string>(Object.values(ClientEvent));
const MAX_ID_LENGTH = 64;

export function parseFrame(text: string): RawFrame | FrameError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return new FrameError(ErrorCode.InvalidJson, 'frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return new FrameError(ErrorCode.InvalidJson, 'frame must be a JSON object');
  }
  const frame = value as Record<string, unknown>;
  const ref = typeof frame.id === 'string' && frame.id.length <= MAX_ID_LENGTH ? frame.id : undefined;
  if (typeof frame.event !== 'string' || !EVENTS.has(frame.event)) {
    const shown = typeof frame.event === 'string' ? `"${frame.event.slice(0, 32)}"` : 'missing';
    return new FrameError(ErrorCode.UnknownEvent, `unknown event: ${shown}`, ref);
  }
  return frame as RawFrame;
}

export function isFrameError(value: unknown): value is FrameError {
  return value instanceof FrameError;
}

/** Field readers: each returns the value, or a FrameError naming the field. */
export function optionalString(frame: RawFrame, field: string, maxLength: number): string | undefined | FrameError {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return invalid(frame, `${field} must be a string`);
  if (value.length > maxLength) return invalid(frame, `${field} is longer than ${maxLength}`);
  return value;
}

export function optionalSeq(frame: RawFrame, field: string): number | undefined | FrameError {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return invalid(frame, `${field} must be a non-negative integer`);
  }
  return value;
}

export function roomId(frame: RawFrame, required: boolean): string | undefined | FrameError {
  const value = frame.roomid;
  if (value === undefined || value === null) {
    return required ? invalid(frame, 'roomid is required') : undefined;
  }
  // The course's client may send a numeric room id; it names the same room as its string.
  const id = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof id !== 'string' || !ROOM_ID_PATTERN.test(id)) {
    return invalid(frame, 'roomid must be 1-140 letters, digits or _-.:@|');
  }
  return id;
}

export function clientId(frame: RawFrame): string | undefined | FrameError {
  return optionalString(frame, 'id', MAX_ID_LENGTH);
}

export function refOf(frame: RawFrame): string | undefined {
  return typeof frame.id === 'string' && frame.id.length <= MAX_ID_LENGTH ? frame.id : undefined;
}

/** The `id` of a frame not otherwise handled (a rate-limited one), or undefined. */
export function refOfText(text: string): string | undefined {
  const frame = parseFrame(text);
  return isFrameError(frame) ? frame.ref : refOf(frame);
}

export function invalid(frame: RawFrame, message: string): FrameError {
  return new FrameError(ErrorCode.InvalidField, message, refOf(frame));
}
