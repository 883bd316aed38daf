import type { Socket, SocketHandlers, Transport } from './transport';

type ConnectSocket = (options: UniNamespace.ConnectSocketOption) => UniNamespace.SocketTask;

/** `uni.connectSocket`: SocketTask on the mini-program, the browser WebSocket on H5. */
export class UniSocketTransport implements Transport {
  constructor(private readonly connectSocket: ConnectSocket) {}

  open(url: string, handlers: SocketHandlers): Socket {
    let opened = false;
    let closed = false;
    const finish = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      handlers.onClose(code, reason);
    };
    // Without success/fail/complete, uni.connectSocket returns a Promise instead of the SocketTask.
    const task = this.connectSocket({
      url,
      complete: () => {},
      fail: (err: unknown) => {
        handlers.onError(err);
        finish(1006, 'connect failed');
      },
    });
    task.onOpen(() => {
      opened = true;
      handlers.onOpen();
    });
    task.onMessage((res) => {
      if (typeof res.data === 'string') handlers.onMessage(res.data);
    });
    task.onError((err) => handlers.onError(err));
    task.onClose((res: { code?: number; reason?: string }) => finish(res?.code ?? 1006, res?.reason ?? ''));
    return {
      send: (text) => task.send({ data: text }),
      close: (code = 1000, reason = '') => {
        // A SocketTask that never opened cannot be closed cleanly; report the close ourselves.
        try {
          task.close({ code, reason });
        } catch {
          /* already closed */
        }
        if (!opened) finish(code, reason);
      },
    };
  }
}
