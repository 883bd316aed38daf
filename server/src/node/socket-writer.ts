/**
 * Writes a plain TCP socket's bytes straight to its libuv handle, the way net.Socket's own write
 * ends up doing, without the stream machinery in between.
 *
 * Why: when a delivery cannot be coalesced (small rooms, direct chats: one frame per socket per
 * turn), `socket.write` spends its JavaScript on Writable state, a WriteWrap per write, a nextTick
 * for the callback and the socket's timeout bookkeeping before the system call
 * (docs/benchmarks.md, "Small rooms and direct messages"). Here a write is the handle's
 * `writeBuffer`: libuv tries the write at once, and only what the kernel does not take is queued
 * by libuv, in order, and reported back through `oncomplete`.
 *
 * The handle needs a WriteWrap only for a write that does not finish at once, so one spare is
 * reused until that happens. WriteWrap is not public API: it comes from `process.binding`, which
 * Node still provides for this module. Where it is missing (Deno) or the socket is not plain TCP
 * (TLS), `directWriter` returns undefined and the caller writes through the stream.
 */

import type { Socket } from 'node:net';
import { tcpHandleOf } from './tcp-handle.ts';

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

interface TcpHandle {
  writeBuffer(req: WriteReq, data: Buffer): number;
}

/** A WriteWrap: the handle calls `oncomplete` with it as `this` when a queued write is done. */
interface WriteReq {
  oncomplete?: (this: WriteReq, status: number) => void;
  writer?: DirectWriter;
  bytes?: number;
  data?: Buffer;
}

/** The part of a Writable's state read here (net.Socket's `_writableState`; `ws` reads it too). */
interface WritableState {
  length: number;
  corked: number;
}

function loadStreamWrap(): StreamWrapBinding | undefined {
  if ('Deno' in globalThis) return undefined;
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    const { WriteWrap, streamBaseState, kLastWriteWasAsync } = binding;
    if (typeof WriteWrap !== 'function' || !(streamBaseState instanceof Int32Array) || typeof kLastWriteWasAsync !== 'number') return undefined;
    return { WriteWrap, streamBaseState, kLastWriteWasAsync };
  } catch {
    return undefined;
  }
}

const streamWrap = loadStreamWrap();
/** After a handle write: [kLastWriteWasAsync] is 0 when the kernel took every byte at once. */
const streamBaseState = streamWrap?.streamBaseState ?? new Int32Array(0);
const kLastWriteWasAsync = streamWrap?.kLastWriteWasAsync ?? 0;
let spareReq: WriteReq | undefined;

function onQueuedWriteDone(this: WriteReq, status: number): void {
  const writer = this.writer!;
  writer.pendingBytes -= this.bytes!;
  this.writer = undefined;
  this.data = undefined;
  // A failed write (the peer reset the connection): the close event tells the core.
  if (status < 0) writer.socket.destroy();
}

export class DirectWriter {
  /** Bytes of writes libuv has queued (the kernel did not take them at once) and not finished. */
  pendingBytes = 0;

  constructor(
    readonly socket: Socket,
    private readonly handle: TcpHandle,
    private readonly state: WritableState,
  ) {}

  /** What the socket holds and the peer has not read: libuv's queue and the stream's buffer. */
  get backlog(): number {
    return this.pendingBytes + this.state.length;
  }

  /**
   * Writes `data` now and returns true; or returns false when it must go through the stream: the
   * stream holds earlier bytes, which stay in front, or the socket is gone.
   */
  write(data: Buffer, bytes: number): boolean {
    const state = this.state;
    if (state.length !== 0 || state.corked !== 0 || (this.socket as unknown as { _handle: unknown })._handle !== this.handle) return false;
    const req = spareReq ?? new streamWrap!.WriteWrap();
    spareReq = undefined;
    const err = this.handle.writeBuffer(req, data);
    if (err !== 0) {
      spareReq = req;
      this.socket.destroy();
      return true;
    }
    if (streamBaseState[kLastWriteWasAsync] === 0) {
      spareReq = req;
      return true;
    }
    // libuv keeps the rest until the peer reads: the Buffer must live until then.
    req.writer = this;
    req.bytes = bytes;
    req.data = data;
    req.oncomplete = onQueuedWriteDone;
    this.pendingBytes += bytes;
    return true;
  }
}

/** A DirectWriter for a plain TCP socket on Node, else undefined (TLS, Deno, no handle). */
export function directWriter(socket: Socket | undefined): DirectWriter | undefined {
  const handle = tcpHandleOf<TcpHandle>(socket);
  if (!streamWrap || !handle || typeof handle.writeBuffer !== 'function') return undefined;
  const state = (socket as unknown as { _writableState?: WritableState })._writableState;
  if (!state) return undefined;
  return new DirectWriter(socket!, handle as TcpHandle, state);
}
