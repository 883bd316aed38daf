/**
 * The `ws` transport. A fan-out hands every socket the same Buffer, encoded once; each socket is
 * corked on its first write in an event-loop turn and uncorked in setImmediate, so a burst of
 * messages becomes one writev per socket per turn instead of one syscall per message.
 */

import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Transport } from '../core/connection.ts';

/** How long a closing socket may take to finish its handshake before it is dropped. */
const CLOSE_GRACE_MS = 2000;
const TEXT = { binary: false } as const;

const corked: Socket[] = [];
let uncorkScheduled = false;
/** Bumped at every uncork: a transport corked in an older turn must cork again. */
let turn = 0;

function uncorkAll(): void {
  uncorkScheduled = false;
  turn += 1;
  for (let i = 0; i < corked.length; i += 1) corked[i].uncork();
  corked.length = 0;
}

function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}

export function prepareText(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

export class WsTransport implements Transport {
  private corkedTurn = -1;
  /** What the socket still held from earlier turns when this turn's first write corked it. */
  private backlogAtCork = 0;

  constructor(private readonly ws: WebSocket, private readonly compress: boolean) {}

  send(text: string): void {
    this.write(text);
  }

  sendPrepared(payload: unknown): void {
    this.write(payload as Buffer);
  }

  private write(data: string | Buffer): void {
    const ws = this.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    // With permessage-deflate, ws queues frames behind the compressor; corking would not help.
    if (!this.compress && this.corkedTurn !== turn) {
      const socket = socketOf(ws);
      if (socket) {
        this.backlogAtCork = ws.bufferedAmount;
        socket.cork();
        corked.push(socket);
        this.corkedTurn = turn;
        if (!uncorkScheduled) {
          uncorkScheduled = true;
          setImmediate(uncorkAll);
        }
      }
    }
    ws.send(data, TEXT);
  }

  /**
   * The backlog the peer has not read. While corked, this turn's own writes are not a backlog yet
   * (a burst fills the cork before a single byte could be read), so only what earlier turns left counts.
   */
  get bufferedAmount(): number {
    return this.corkedTurn === turn ? this.backlogAtCork : this.ws.bufferedAmount;
  }

  close(code: number, reason: string): void {
    const ws = this.ws;
    if (ws.readyState === WebSocket.CLOSED) return;
    ws.close(code, reason);
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  terminate(): void {
    this.ws.terminate();
  }
}
