/**
 * The Transport over a socket from Deno.upgradeWebSocket. Deno's send() queues the frame and
 * writes it off the JS thread; bufferedAmount counts what is queued and not yet written.
 */

import type { Transport } from '../core/connection.ts';
import { CloseCode } from '../protocol.ts';

const OPEN = 1;
/** How long a closing socket may take to finish its handshake before the core stops waiting. */
const CLOSE_GRACE_MS = 2000;
/** How long a close waits for queued frames to be written before it goes out anyway. */
const DRAIN_BEFORE_CLOSE_MS = 1000;
const DRAIN_POLL_MS = 5;

/**
 * Fan-out payloads stay strings: send(Uint8Array) would make a binary frame, and our frames are
 * JSON text. Deno copies the string into its write buffer either way.
 */
export function prepareText(text: string): string {
  return text;
}

export class DenoSocketTransport implements Transport {
  /** Set by close(): frames in either direction are dropped from then on. */
  closing = false;

  /**
   * `gone` tells the core the socket is finished with. Deno has no terminate(): nothing can drop
   * an upgraded socket's queued frames or its TCP connection, so a peer that stops reading keeps
   * both until it reads again or its connection fails (SocketCensus still counts it until then).
   * What this transport can do is stop adding to the queue at close().
   */
  constructor(
    private readonly socket: Deno.ServerWebSocket,
    private readonly gone: () => void,
  ) {}

  send(text: string): void {
    if (!this.closing && this.socket.readyState === OPEN) this.socket.send(text);
  }

  sendPrepared(payload: unknown): void {
    if (!this.closing && this.socket.readyState === OPEN) this.socket.send(payload as string);
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  get open(): boolean {
    return !this.closing && this.socket.readyState === OPEN;
  }

  /**
   * A Deno server socket that receives any data frame after close() drops the connection at
   * once, cancelling a close frame still queued behind other frames: the peer would see 1006
   * instead of our code. So the close frame goes out only once the queue has drained.
   */
  close(code: number, reason: string): void {
    if (this.closing || this.socket.readyState !== OPEN) return;
    this.closing = true;
    const giveUpAt = Date.now() + DRAIN_BEFORE_CLOSE_MS;
    const closeWhenDrained = (): void => {
      if (this.socket.readyState !== OPEN) return;
      if (this.socket.bufferedAmount > 0 && Date.now() < giveUpAt) {
        setTimeout(closeWhenDrained, DRAIN_POLL_MS);
        return;
      }
      this.socket.close(code, reason);
    };
    closeWhenDrained();
    setTimeout(this.gone, CLOSE_GRACE_MS);
  }

  /**
   * The nearest Deno has: a close frame the peer may never read, no more frames after it, and the
   * core lets go at once. The socket itself closes when the peer answers or the kernel gives up.
   */
  terminate(): void {
    if (this.socket.readyState === OPEN) this.socket.close(CloseCode.HeartbeatTimeout, 'heartbeat timeout');
    this.closing = true;
    this.gone();
  }
}
