/** Connects one upgraded Deno socket to the core: open, frames, close. */

import type { Identity } from '../core/auth.ts';
import type { ChatCore } from '../core/chat-core.ts';
import type { Connection } from '../core/connection.ts';
import { CloseCode } from '../protocol.ts';
import type { SocketCensus } from './socket-census.ts';
import { DenoSocketTransport } from './socket-transport.ts';

export interface SessionOptions {
  address: string;
  identity: Identity | undefined;
  welcome: boolean;
  maxPayloadBytes: number;
  /** Counts the socket against its address until Deno reports it closed, after the core let go of it. */
  census: SocketCensus;
}

const encoder = new TextEncoder();

/** UTF-8 size check without encoding the common case: a UTF-16 unit is 1 to 3 UTF-8 bytes. */
function textTooBig(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return encoder.encode(text).length > limit;
}

export function startSession(core: ChatCore, socket: Deno.ServerWebSocket, options: SessionOptions): void {
  let conn: Connection | undefined;
  const uncount = options.census.add(options.address);
  const gone = (clean: boolean): void => {
    if (conn) core.closed(conn, clean);
  };
  const transport = new DenoSocketTransport(socket, () => gone(false));
  socket.binaryType = 'arraybuffer';
  // Deno refuses send() before the open event, and the welcome frame goes out in core.open.
  socket.onopen = () => {
    conn = core.open(transport, options.address, { identity: options.identity, welcome: options.welcome });
  };
  socket.onmessage = (event) => {
    if (!conn || transport.closing) return;
    const { data } = event;
    // Deno has no frame limit below its own 64 MiB: a frame arrives whole, then is refused here.
    const tooBig = typeof data === 'string' ? textTooBig(data, options.maxPayloadBytes) : (data as ArrayBuffer).byteLength > options.maxPayloadBytes;
    if (tooBig) {
      transport.close(CloseCode.MessageTooBig, 'message too big');
      return;
    }
    if (typeof data === 'string') core.receive(conn, data, false);
    else core.receive(conn, '', true);
  };
  socket.onclose = (event) => {
    uncount();
    gone(event.wasClean);
  };
  // Deno drops the connection after a protocol error (invalid UTF-8, a frame over 64 MiB) and
  // fires close right after. An upgrade that fails (the client left before the 101) fires error
  // alone: that socket never opened.
  socket.onerror = () => {
    if (!conn) uncount();
  };
}
