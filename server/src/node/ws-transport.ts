/**
 * The `ws` transport. A fan-out frames its message once (WebSocket header and payload in one
 * Buffer); each socket queues the frames it gets and, when the WriteCoalescer says, writes all of
 * them at once. A delivery then costs an array push; ws's Sender (a header allocation and two
 * Writable.write calls per message) is bypassed for data frames. That is safe without
 * permessage-deflate, where the Sender never holds frames back; with it, frames still go through
 * ws.send. On a plain TCP socket the write goes straight to the handle (socket-writer.ts), else
 * through socket.write.
 */

import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Transport } from '../core/connection.ts';
import { type DirectWriter, directWriter } from './socket-writer.ts';
import type { WriteCoalescer } from './write-coalescer.ts';

/** How long a closing socket may take to finish its handshake before it is dropped. */
const CLOSE_GRACE_MS = 2000;
const TEXT = { binary: false } as const;
/**
 * A queue this big is written at once instead of waiting for the coalescer: nothing is gained by
 * holding more, and what the kernel takes no longer counts against the slow-consumer limit.
 */
export const FLUSH_AT_BYTES = 64 * 1024;

function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}

/**
 * One final, unmasked text frame: header and payload in one Buffer, the text encoded straight
 * into it (one allocation and no copy).
 */
function frameOf(text: string): Buffer {
  const len = Buffer.byteLength(text, 'utf8');
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(hdr + len);
  frame[0] = 0x81;
  if (hdr === 2) frame[1] = len;
  else if (hdr === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    frame.writeUInt32BE(len >>> 0, 6);
  }
  frame.write(text, hdr, len, 'utf8');
  return frame;
}

/** The payload of a frame made by frameOf (for the permessage-deflate path). */
function payloadOf(frame: Buffer): Buffer {
  const b1 = frame[1] & 0x7f;
  return frame.subarray(b1 < 126 ? 2 : b1 === 126 ? 4 : 10);
}

/**
 * The last batch made by flush. The members of a room get the same frames in the same order, so
 * the one Buffer concatenated for the first of them is written to the rest: one copy per room
 * instead of one per member.
 */
let lastFirst: Buffer | undefined;
let lastRest: Buffer[] = [];
let lastBatch: Buffer | undefined;

function batchOf(first: Buffer, rest: Buffer[], bytes: number): Buffer {
  if (first === lastFirst && rest.length === lastRest.length) {
    let same = true;
    for (let i = 0; i < rest.length; i += 1) {
      if (rest[i] !== lastRest[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastBatch!;
  }
  lastFirst = first;
  lastRest = rest;
  lastBatch = Buffer.concat([first, ...rest], bytes);
  return lastBatch;
}

/**
 * The last text framed and its frame. A direct message is fanned out twice with the same text (to
 * the recipient's connections and to the sender's): the second fan-out reuses the frame.
 */
let lastText: string | undefined;
let lastFrame: Buffer | undefined;

export function prepareText(text: string): Buffer {
  if (text !== lastText) {
    lastFrame = frameOf(text);
    lastText = text;
  }
  return lastFrame!;
}

export class WsTransport implements Transport {
  /** Frames waiting for the next flush: the first, and any after it (most flushes write one). */
  private first: Buffer | undefined;
  private rest: Buffer[] | undefined;
  private queuedBytes = 0;
  private registered = false;
  /** Set at the first flush: undefined before, null when the socket is written through its stream. */
  private writer: DirectWriter | null | undefined;
  /** The coalescer's bookkeeping (Flushable). */
  flushPass = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly compress: boolean,
    private readonly coalescer: WriteCoalescer,
  ) {}

  send(text: string): void {
    if (this.compress) {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text, TEXT);
      return;
    }
    this.enqueue(prepareText(text));
  }

  sendPrepared(payload: unknown): void {
    const frame = payload as Buffer;
    if (this.compress) {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(payloadOf(frame), TEXT);
      return;
    }
    this.enqueue(frame);
  }

  private enqueue(frame: Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.first === undefined) this.first = frame;
    else if (this.rest === undefined) this.rest = [frame];
    else this.rest.push(frame);
    this.queuedBytes += frame.length;
    if (this.queuedBytes >= FLUSH_AT_BYTES) this.flush();
    else if (!this.registered) {
      this.registered = true;
      this.coalescer.register(this);
    }
  }

  /** Writes the queued frames in one go. Called by the coalescer, when the queue is big, and before a close frame. */
  flush(): void {
    this.registered = false;
    const first = this.first;
    if (first === undefined) return;
    const rest = this.rest;
    const bytes = this.queuedBytes;
    this.first = undefined;
    this.rest = undefined;
    this.queuedBytes = 0;
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const data = rest === undefined ? first : batchOf(first, rest, bytes);
    if (this.writer === undefined) this.writer = directWriter(socketOf(this.ws)) ?? null;
    if (this.writer?.write(data, bytes)) return;
    const socket = socketOf(this.ws);
    if (socket && !socket.destroyed) socket.write(data);
  }

  /**
   * What this connection has waiting and the peer has not read: the frames queued here, and what
   * the socket holds (its stream's buffer, libuv's queue; ws.bufferedAmount on the stream path).
   * What the kernel took is not counted. A burst in one turn counts at once, before any write.
   */
  get bufferedAmount(): number {
    const writer = this.writer;
    return this.queuedBytes + (writer ? writer.backlog : this.ws.bufferedAmount);
  }

  /** Stops reading from the connection (a slow consumer being closed: nothing more it sends is handled). */
  pause(): void {
    this.ws.pause();
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(code: number, reason: string): void {
    const ws = this.ws;
    if (ws.readyState === WebSocket.CLOSED) return;
    this.flush();
    ws.close(code, reason);
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  terminate(): void {
    this.first = undefined;
    this.rest = undefined;
    this.queuedBytes = 0;
    this.ws.terminate();
  }
}
