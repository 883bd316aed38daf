import type { ClientFrame } from '@chatroom/server/protocol';
import { HeartbeatWatchdog } from './heartbeat-watchdog';
import type { Socket, SocketHandlers, Transport } from './transport';

/**
 * One socket attempt and everything that lives only as long as it: whether it is authenticated,
 * its timers, its token refresh in flight. The client keeps at most one; a callback from a link
 * that is no longer the current one is ignored, so nothing of an old socket leaks into a new one.
 */
export class Link {
  authed = false;
  /** A token refresh for this socket is in flight. */
  refreshing = false;
  /** `noauth` answers in a row: after a fresh token is refused too, retrying at once only loops. */
  noAuthInARow = 0;
  readonly watchdog: HeartbeatWatchdog;
  private readonly socket: Socket;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;

  constructor(transport: Transport, url: string, handlers: SocketHandlers, onSilent: () => void, grace: (intervalMs: number) => number) {
    this.watchdog = new HeartbeatWatchdog(onSilent, grace);
    this.socket = transport.open(url, handlers);
  }

  /** Sends a frame; anything but auth and heartbeats before `authed` would only earn a `noauth`. */
  send(frame: ClientFrame): void {
    if (this.closed) return;
    if (!this.authed && frame.event !== 'auth' && frame.event !== 'heartbeat') return;
    try {
      this.socket.send(JSON.stringify(frame));
    } catch {
      // The socket is closing; its close callback reconnects and the outbox resends.
    }
  }

  /** A timer that dies with the link. */
  after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  /** Ends the link: its timers stop and the socket is closed (its close callback is ignored by then). */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.watchdog.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.socket.close(1000, reason);
  }
}
