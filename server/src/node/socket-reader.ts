/**
 * Reads a plain TCP socket's bytes into one buffer shared by every connection, the way net.Socket
 * reads when a client socket is made with the public `onread` option, and hands `ws` a small copy.
 *
 * Why: by default every read allocates a fresh 64 KiB backing store for libuv, shrinks it to what
 * was read (a malloc, a copy and a free), wraps it in an ArrayBuffer the GC must sweep, and pushes
 * it through net.Socket's Readable before `ws` sees it. In small rooms and direct chats a read
 * carries one short frame, so that machinery is most of what the read costs (docs/benchmarks.md,
 * "Small rooms and direct messages"). Here libuv reads into the shared buffer and the bytes read
 * are copied into a Buffer from Node's pool (no malloc below 4 KiB), which is emitted as `data`
 * exactly as the Readable would emit it: `ws`'s Receiver parses and checks it as before (masks,
 * UTF-8, maxPayload, control frames), and its `pause()`/`resume()` still stop and restart the reads.
 *
 * `onread` is public for sockets Node connects, not for sockets a server accepts: net.Socket keeps
 * the option under symbols that this module finds by their description and sets on the accepted
 * socket, and the TCP handle's `useUserBuffer` is what Node itself calls for `onread`. End of
 * stream and errors still take Node's own path. Where any of that is missing (another Node
 * version, Deno, TLS), `readIntoSharedBuffer` returns false and the socket reads as before.
 */

import type { Socket } from 'node:net';
import { tcpHandleOf } from './tcp-handle.ts';

/** libuv's suggested read size, as Node allocates per read by default. */
const SHARED_BUFFER_BYTES = 64 * 1024;
let shared: Buffer | undefined;

interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/** Called by Node's onStreamRead with the socket as `this`: the bytes are in `buffer[0, nread)`. */
function onSharedRead(this: Socket, nread: number, buffer: Buffer): boolean {
  const chunk = Buffer.allocUnsafe(nread);
  buffer.copy(chunk, 0, 0, nread);
  this.emit('data', chunk);
  return true;
}

interface ReadOptionSymbols {
  kBuffer: symbol;
  kBufferCb: symbol;
  kBufferGen: symbol;
}

/**
 * net.Socket's symbols for the `onread` option. They are net's module constants, the same on every
 * socket, so they are looked up on the first socket and kept (null: this Node has none of them).
 */
let readOptionSymbols: ReadOptionSymbols | null | undefined;

function readOptionSymbolsOf(socket: Socket): ReadOptionSymbols | null {
  if (readOptionSymbols !== undefined) return readOptionSymbols;
  const own = Object.getOwnPropertySymbols(socket);
  const named = (description: string) => own.find((s) => s.description === description);
  const kBuffer = named('kBuffer');
  const kBufferCb = named('kBufferCb');
  const kBufferGen = named('kBufferGen');
  readOptionSymbols = kBuffer && kBufferCb && kBufferGen ? { kBuffer, kBufferCb, kBufferGen } : null;
  return readOptionSymbols;
}

/**
 * Makes an accepted plain TCP socket read into the shared buffer. Call after `ws` has taken the
 * socket (its `data` listener is attached); returns false when the socket keeps Node's default reads.
 */
export function readIntoSharedBuffer(socket: Socket): boolean {
  const handle = tcpHandleOf<UserBufferHandle>(socket);
  if (!handle || typeof handle.useUserBuffer !== 'function') return false;
  const symbols = readOptionSymbolsOf(socket);
  if (!symbols) return false;
  const { kBuffer, kBufferCb, kBufferGen } = symbols;
  const fields = socket as unknown as Record<symbol, unknown>;
  // An accepted socket has all three set to null by net.Socket's constructor.
  if (fields[kBuffer] !== null || fields[kBufferGen] !== null) return false;
  shared ??= Buffer.allocUnsafe(SHARED_BUFFER_BYTES);
  fields[kBuffer] = shared;
  fields[kBufferCb] = onSharedRead;
  handle.useUserBuffer(shared);
  return true;
}
