/**
 * The libuv TCP handle under a plain TCP socket on Node: socket-writer.ts writes to it and
 * socket-reader.ts reads from it, past net.Socket's streams. Undefined where there is none to use:
 * TLS (the bytes must go through the encryption), Deno (no libuv handle), a socket already closed.
 */

import type { Socket } from 'node:net';

export function tcpHandleOf<H>(socket: Socket | undefined): Partial<H> | undefined {
  if ('Deno' in globalThis || !socket || (socket as { encrypted?: boolean }).encrypted) return undefined;
  const handle = (socket as unknown as { _handle?: { constructor?: { name?: string } } })._handle;
  return handle?.constructor?.name === 'TCP' ? (handle as Partial<H>) : undefined;
}
