import type { Identity } from './auth.ts';
import type { Envelope } from './bus.ts';
import { TokenBucket } from './rate-limiter.ts';

/**
 * What a runtime adapter provides for one socket. `send` frames one text message; `sendPrepared`
 * sends a payload made once by the adapter's `prepare` for a fan-out to many sockets.
 */
export interface Transport {
  send(text: string): void;
  sendPrepared(payload: unknown): void;
  /** Bytes queued for the socket and not yet written. */
  readonly bufferedAmount: number;
  /** Frames sent now can still arrive: the socket is not closing or closed. */
  readonly open: boolean;
  close(code: number, reason: string): void;
  /** Drop the socket at once, without a closing handshake. */
  terminate(): void;
}

/** Per room state of one connection. */
export interface RoomSubscription {
  /** Highest seq sent to this connection. */
  lastSeq: number;
  /** lastSeq when the latest heartbeat ping was sent. */
  pingSeq: number;
  /** pingSeq when the client last answered: everything up to it has surely arrived. */
  confirmedSeq: number;
  /** While the join replays history, live traffic for the room waits here. */
  pending?: Envelope[];
}

export class Connection {
  identity: Identity | undefined;
  readonly rooms = new Map<string, RoomSubscription>();
  /** Answered since the last heartbeat sweep. */
  alive = true;
  closed = false;
  /** Frames are handled one after another: a connection's messages keep their order. */
  queue: Promise<void> = Promise.resolve();
  authTimer: ReturnType<typeof setTimeout> | undefined;
  expiryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Frames refused by the rate limiter in a row. */
  limitedInARow = 0;
  /** The user's connection is counted online in the store. */
  userConnected = false;
  /** Terminated by the heartbeat sweep: its rooms are told `reason: "timeout"`. */
  terminatedForSilence = false;
  slowClosed = false;
  /** The store has let go of this connection (set after close, by detach). */
  detached = false;
  private detachWaiters: (() => void)[] | undefined;

  constructor(
    readonly id: string,
    readonly transport: Transport,
    readonly bucket: TokenBucket,
    readonly remoteAddress: string,
  ) {}

  /** Frames sent now can still reach the client. */
  get open(): boolean {
    return !this.closed && this.transport.open;
  }

  whenDetached(): Promise<void> {
    if (this.detached) return Promise.resolve();
    return new Promise((resolve) => (this.detachWaiters ??= []).push(resolve));
  }

  markDetached(): void {
    this.detached = true;
    for (const resolve of this.detachWaiters ?? []) resolve();
    this.detachWaiters = undefined;
  }
}
