import type { Socket, SocketHandlers, Transport } from './transport';

/** The part of a WHATWG WebSocket the client uses (browser WebSocket, the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor<Options> = new (url: string, options?: Options) => WebSocketLike;

/** Any WHATWG-style WebSocket constructor; in Node tests, `ws` with its TLS options. */
export class WebSocketTransport<Options = never> implements Transport {
  constructor(
    private readonly WebSocketImpl: WebSocketConstructor<Options>,
    private readonly options?: Options,
  ) {}

  open(url: string, handlers: SocketHandlers): Socket {
    const socket = this.options === undefined ? new this.WebSocketImpl(url) : new this.WebSocketImpl(url, this.options);
    let closed = false;
    socket.onopen = () => handlers.onOpen();
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') handlers.onMessage(event.data);
      else if (event.data != null) handlers.onMessage(String(event.data));
    };
    socket.onerror = (event) => handlers.onError(event);
    socket.onclose = (event) => {
      if (closed) return;
      closed = true;
      handlers.onClose(event.code, event.reason);
    };
    return {
      send: (text) => socket.send(text),
      close: (code = 1000, reason = '') => {
        try {
          socket.close(code, reason);
        } catch {
          /* not open yet or already closing */
        }
      },
    };
  }
}
