/**
 * The `ws` transport. A fan-out frames its message once (WebSocket header and payload in one
 * Buffer); each socket queues the frames it gets and, when the WriteCoalescer says, makes ONE
 * socket.write of all of them. A delivery then costs an array push; ws's Sender (a header
 * allocation and two Writable.write calls per message) is bypassed for data frames. That is safe
 * without permessage-deflate, where the Sender never holds frames back; with it, frames still go
 * through ws.send.
 */

import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Transport } from '../core/connection.ts';
import type { WriteCoalescer } from './write-coalescer.ts';

/** How long a closing socket may take to finish its handshake before it is dropped. */
const CLOSE_GRACE_MS = 2000;
const TEXT = { binary: false } as const;

function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}

/** One final, unmasked text frame: header and payload in one Buffer. */
function frameOf(payload: Buffer): Buffer {
  const len = payload.length;
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
  payload.copy(frame, hdr);
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
let lastFrames: Buffer[] = [];
let lastBatch: Buffer | undefined;

function batchOf(frames: Buffer[], bytes: number): Buffer {
  if (frames.length === 1) return frames[0];
  if (lastBatch !== undefined && lastFrames.length === frames.length) {
    let same = true;
    for (let i = 0; i < frames.length; i += 1) {
      if (frames[i] !== lastFrames[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastBatch;
  }
  lastFrames = frames;
  lastBatch = Buffer.concat(frames, bytes);
  return lastBatch;
}

export function prepareText(text: string): Buffer {
  return frameOf(Buffer.from(text, 'utf8'));
}

export class WsTransport implements Transport {
  private queue: Buffer[] | null = null;
  private queuedBytes = 0;

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
    if (this.queue === null) {
      this.queue = [frame];
      this.coalescer.register(this);
    } else this.queue.push(frame);
    this.queuedBytes += frame.length;
  }

  /** Writes the queued frames in one go. Called by the coalescer, and before a close frame. */
  flush(): void {
    const queue = this.queue;
    if (queue === null) return;
    const bytes = this.queuedBytes;
    this.queue = null;
    this.queuedBytes = 0;
    const socket = socketOf(this.ws);
    if (this.ws.readyState !== WebSocket.OPEN || !socket) return;
    socket.write(batchOf(queue, bytes));
  }

  /** What the peer has not read yet: the frames queued here and what earlier flushes left in the socket. */
  get bufferedAmount(): number {
    return this.queuedBytes + this.ws.bufferedAmount;
  }

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
    this.queue = null;
    this.queuedBytes = 0;
    this.ws.terminate();
  }
}
