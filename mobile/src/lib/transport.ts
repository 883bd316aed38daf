/**
 * The seam between the chat client and a socket implementation. A transport opens one socket per
 * call; the client owns reconnecting. Implementations: UniSocketTransport (uni.connectSocket: the
 * mini-program's SocketTask, the browser WebSocket on H5) and WebSocketTransport (any WHATWG-style
 * constructor, e.g. the `ws` package in Node tests).
 */
export interface SocketHandlers {
  onOpen(): void;
  onMessage(text: string): void;
  onClose(code: number, reason: string): void;
  onError(error: unknown): void;
}

export interface Socket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

export interface Transport {
  open(url: string, handlers: SocketHandlers): Socket;
}
