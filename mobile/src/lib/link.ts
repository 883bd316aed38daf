import type { ClientFrame } from '@chatroom/server/protocol';
import { HeartbeatWatchdog } from './heartbeat-watchdog';
import { type PacerOptions, Priority, RequestPacer } from './request-pacer';
import type { Socket, SocketHandlers, Transport } from './transport';

/** A request sent on this socket and not answered yet: what to send again if the server refuses it. */
interface InFlight {
  frame: ClientFrame;
  priority: Priority;
}

/**
 * One socket attempt and everything that lives only as long as it: whether it opened and is
 * authenticated, its paced send queue and the requests waiting for a reply, its timers, its token
 * refresh in flight. The client keeps at most one; a callback from a link that is no longer the
 * current one is ignored, so nothing of an old socket leaks into a new one.
 */
export class Link {
  readonly openedAt = Date.now();
  opened = false;
  authed = false;
  /** A token refresh for this socket is in flight. */
  refreshing = false;
  /** Expiry of the token this socket is authenticated with (from `authed`). */
  tokenExpiresAt = 0;
  /** `noauth` answers in a row: after a fresh token is refused too, retrying at once only loops. */
  noAuthInARow = 0;
  /** The last error the runtime reported, to tell an untrusted certificate from an unreachable host. */
  lastError = '';
  readonly watchdog: HeartbeatWatchdog;
  private readonly socket: Socket;
  private readonly pacer: RequestPacer;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;

  constructor(transport: Transport, url: string, handlers: SocketHandlers, onSilent: () => void, grace: (intervalMs: number) => number, pace?: PacerOptions) {
    this.watchdog = new HeartbeatWatchdog(onSilent, grace);
    this.pacer = new RequestPacer((frame) => this.write(frame), pace);
    this.socket = transport.open(url, {
      ...handlers,
      onOpen: () => {
        this.opened = true;
        handlers.onOpen();
      },
      onError: (error) => {
        this.lastError = describeError(error);
        handlers.onError(error);
      },
    });
  }

  /**
   * Queues a frame behind the pace. Before `authed`, anything but auth and heartbeats would only
   * earn a `noauth`: it is dropped, and the client sends it again once authenticated.
   */
  send(frame: ClientFrame, priority = Priority.Sync): void {
    if (this.closed) return;
    if (!this.authed && frame.event !== 'auth' && frame.event !== 'heartbeat') return;
    const id = 'id' in frame ? frame.id : undefined;
    if (id !== undefined) this.inFlight.set(id, { frame, priority });
    this.pacer.push(frame, priority, id);
  }

  /** The request with this id was answered (or refused for good). */
  answered(id: string | undefined): ClientFrame | undefined {
    if (id === undefined) return undefined;
    this.pacer.answered(id);
    const request = this.inFlight.get(id);
    this.inFlight.delete(id);
    return request?.frame;
  }

  request(id: string | undefined): ClientFrame | undefined {
    return id === undefined ? undefined : this.inFlight.get(id)?.frame;
  }

  /** The server refused the request for its rate limit: send the same frame again, slower. */
  resend(id: string, afterMs = 0): boolean {
    const request = this.inFlight.get(id);
    if (!request) return false;
    // Refused: no longer in flight on the server's side; in flight again once sent again.
    this.pacer.answered(id);
    if (afterMs === 0) {
      this.pacer.slowDown();
      this.pacer.push(request.frame, request.priority, id);
    } else {
      this.after(afterMs, () => this.pacer.push(request.frame, request.priority, id));
    }
    return true;
  }

  /** A timer that dies with the link. */
  after(ms: number, run: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  /** Ends the link: its timers and queue stop and the socket is closed (its close callback is ignored by then). */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.watchdog.stop();
    this.pacer.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.socket.close(1000, reason);
  }

  private write(frame: ClientFrame): void {
    try {
      this.socket.send(JSON.stringify(frame));
    } catch {
      // The socket is closing; its close callback reconnects and the outbox resends.
    }
  }
}

function describeError(error: unknown): string {
  if (typeof error === 'string') return error;
  const e = error as { errMsg?: unknown; message?: unknown; error?: { message?: unknown } } | undefined;
  return String(e?.errMsg ?? e?.message ?? e?.error?.message ?? '');
}
