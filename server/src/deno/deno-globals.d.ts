/**
 * The few Deno APIs the Deno adapter uses, declared for `tsc` (which builds with Node's types).
 * Deno itself never reads this file: it has the real declarations built in.
 */

declare namespace Deno {
  interface NetAddr {
    transport: 'tcp' | 'udp';
    hostname: string;
    port: number;
  }

  interface ServeHandlerInfo {
    remoteAddr: NetAddr;
  }

  interface ServeOptions {
    hostname?: string;
    port?: number;
    reusePort?: boolean;
    cert?: string;
    key?: string;
    signal?: AbortSignal;
    onListen?: (addr: NetAddr) => void;
    onError?: (error: unknown) => Response | Promise<Response>;
    handler: (request: Request, info: ServeHandlerInfo) => Response | Promise<Response>;
  }

  interface HttpServer {
    readonly addr: NetAddr;
    readonly finished: Promise<void>;
    shutdown(): Promise<void>;
  }

  function serve(options: ServeOptions): HttpServer;

  interface WebSocketMessageEvent {
    readonly data: string | ArrayBuffer | Blob;
  }

  interface WebSocketCloseEvent {
    readonly code: number;
    readonly reason: string;
    readonly wasClean: boolean;
  }

  /** The server side of a WebSocket from Deno.upgradeWebSocket (the WHATWG WebSocket class). */
  interface ServerWebSocket {
    readonly readyState: number;
    readonly bufferedAmount: number;
    binaryType: 'blob' | 'arraybuffer';
    onopen: ((event: Event) => void) | null;
    onmessage: ((event: WebSocketMessageEvent) => void) | null;
    onclose: ((event: WebSocketCloseEvent) => void) | null;
    onerror: ((event: Event) => void) | null;
    send(data: string | ArrayBufferLike | ArrayBufferView): void;
    close(code?: number, reason?: string): void;
  }

  interface UpgradeWebSocketOptions {
    protocol?: string;
    /** Seconds without a frame from the client before a ping; as long again for its pong. 0: off. */
    idleTimeout?: number;
  }

  function upgradeWebSocket(request: Request, options?: UpgradeWebSocketOptions): { socket: ServerWebSocket; response: Response };

  function readFile(path: string | URL): Promise<Uint8Array>;
  function addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  function exit(code?: number): never;

  const env: { toObject(): Record<string, string> };
}
