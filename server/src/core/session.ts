/**
 * One connection, from its socket's open to its close: who it is (auth), its rooms
 * (subscriptions), its rate limit, its liveness and its lifecycle. The core's handlers read a
 * session and move it through the transitions below; they do not write its fields.
 */

import type { Identity } from './auth.ts';
import type { TokenBucket } from './rate-limiter.ts';
import { Subscription } from './subscription.ts';

/**
 * What a runtime adapter provides for one socket. `send` frames one text message; `sendPrepared`
 * sends a payload made once by the adapter's `prepare` for a fan-out to many sockets.
 */
export interface Transport<P = unknown> {
  send(text: string): void;
  sendPrepared(payload: P): void;
  /** Bytes this connection has waiting: frames queued and not yet written, and the socket's own buffer. */
  readonly bufferedAmount: number;
  /** Frames sent now can still arrive: the socket is not closing or closed. */
  readonly open: boolean;
  /** Stops reading the peer's frames (a connection being closed for reading too slowly). */
  pause?(): void;
  close(code: number, reason: string): void;
  /** Drop the socket at once, without a closing handshake. */
  terminate(): void;
}

/** Why a session ended, as its rooms are told. */
export type EndReason = 'close' | 'timeout';

/** What to do with a frame, by the rate limit. */
export type Admission = 'accept' | 'refuse' | 'close';

/** Direct conversations a session remembers as existing. */
const KNOWN_CONVERSATIONS_MAX = 1000;
/** Closing after this many rate-limited frames in a row. */
const RATE_LIMIT_STRIKES = 50;

export class Session<P = unknown> {
  private currentIdentity: Identity | undefined;
  private readonly rooms = new Map<string, Subscription>();
  /** Heard from since the last heartbeat sweep. */
  private heard = true;
  private limitedInARow = 0;
  private authTimer: ReturnType<typeof setTimeout> | undefined;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private ended = false;
  private endedBySilence = false;
  private closingSlow = false;
  /** The user's connection is counted online in the store. */
  private countedOnline = false;
  private detached = false;
  private detachWaiters: (() => void)[] | undefined;
  /** Peer uid → the direct conversation's roomid, as the store keeps it (conversationWith). */
  private conversations: Map<string, string> | undefined;
  /** Outbound's bookkeeping: the connection is on its list of those that may have output unread. */
  outputWatched = false;
  /** Frames are handled one after another: a connection's messages keep their order. */
  private queue: Promise<void> = Promise.resolve();
  private waiting = 0;

  constructor(
    readonly id: string,
    readonly transport: Transport<P>,
    private readonly bucket: TokenBucket,
    readonly remoteAddress: string,
  ) {}

  // ------------------------------------------------------------------------------------------
  // Identity

  get identity(): Identity | undefined {
    return this.currentIdentity;
  }

  /** The first valid token: the session is this user from now on. */
  authenticated(identity: Identity): void {
    this.currentIdentity = identity;
    clearTimeout(this.authTimer);
  }

  /** A later token of the same user: only the expiry moves. */
  renewed(identity: Identity): void {
    this.currentIdentity = identity;
  }

  get onlineInStore(): boolean {
    return this.countedOnline;
  }

  countedOnlineInStore(): void {
    this.countedOnline = true;
  }

  /** Closes the socket if no token comes within `ms`. */
  armAuthTimeout(ms: number, onTimeout: () => void): void {
    this.authTimer = setTimeout(() => {
      if (!this.currentIdentity && !this.ended) onTimeout();
    }, ms);
  }

  /** Calls `onExpired` when the token expires (re-armed when it was renewed meanwhile). */
  armExpiry(onExpired: () => void): void {
    clearTimeout(this.expiryTimer);
    const identity = this.currentIdentity;
    if (!identity) return;
    const left = identity.expiresAt - Date.now();
    this.expiryTimer = setTimeout(
      () => {
        if (this.ended || !this.currentIdentity) return;
        if (this.currentIdentity.expiresAt > Date.now()) return this.armExpiry(onExpired);
        onExpired();
      },
      Math.min(Math.max(left, 0), MAX_TIMER_MS),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Rooms

  subscription(roomid: string): Subscription | undefined {
    return this.rooms.get(roomid);
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  /** The one room this connection is in, when it is in exactly one. */
  get onlyRoom(): string | undefined {
    return this.rooms.size === 1 ? this.rooms.keys().next().value : undefined;
  }

  subscribe(roomid: string): Subscription {
    let sub = this.rooms.get(roomid);
    if (!sub) {
      sub = new Subscription(roomid);
      this.rooms.set(roomid, sub);
    }
    return sub;
  }

  /** Returns the subscription that ended, if there was one. */
  unsubscribe(roomid: string): Subscription | undefined {
    const sub = this.rooms.get(roomid);
    this.rooms.delete(roomid);
    return sub;
  }

  get subscriptions(): IterableIterator<Subscription> {
    return this.rooms.values();
  }

  /**
   * The roomid of the direct conversation with `peer`, when this connection has seen it exist:
   * the store need not be asked again, and the id is the store's own string, whose hash is
   * computed already, instead of one built for each message (directRoomId).
   */
  conversationWith(peer: string): string | undefined {
    return this.conversations?.get(peer);
  }

  knownConversation(peer: string, roomid: string): void {
    this.conversations ??= new Map();
    if (this.conversations.size < KNOWN_CONVERSATIONS_MAX) this.conversations.set(peer, roomid);
  }

  // ------------------------------------------------------------------------------------------
  // Frames, rate and liveness

  /**
   * A frame arrived: the client is alive, and the rate limits (this connection's, and `userAllows`
   * for its user's over all connections) say what to do with it.
   */
  admit(userAllows: (uid: string) => boolean): Admission {
    this.heard = true;
    if (this.bucket.take() && (!this.currentIdentity || userAllows(this.currentIdentity.uid))) {
      this.limitedInARow = 0;
      return 'accept';
    }
    this.limitedInARow += 1;
    return this.limitedInARow >= RATE_LIMIT_STRIKES ? 'close' : 'refuse';
  }

  /** A heartbeat pong: what was sent before the latest ping has arrived. */
  ponged(): void {
    this.heard = true;
    for (const sub of this.rooms.values()) sub.ponged();
  }

  /**
   * The heartbeat sweep: false when nothing was heard since the last one (the caller terminates
   * the session); otherwise starts a new round, to be followed by a ping.
   */
  sweep(): boolean {
    if (!this.heard) {
      this.endedBySilence = true;
      return false;
    }
    this.heard = false;
    for (const sub of this.rooms.values()) sub.pinged();
    return true;
  }

  /** Runs `task` after every frame received before it. Errors go to `onError`. */
  enqueue(task: () => Promise<void>, onError: (err: unknown) => void): void {
    this.waiting += 1;
    const settled = (): void => void (this.waiting -= 1);
    this.queue = this.queue.then(task).then(settled, (err: unknown) => {
      settled();
      onError(err);
    });
  }

  /** Tasks queued and not finished yet (the one running included). */
  get queued(): number {
    return this.waiting;
  }

  /** Resolves once every task queued so far has run. */
  get idle(): Promise<void> {
    return this.queue;
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle

  /** Frames sent now can still reach the client. */
  get open(): boolean {
    return !this.ended && this.transport.open;
  }

  get closed(): boolean {
    return this.ended;
  }

  get silent(): boolean {
    return this.endedBySilence;
  }

  /** True the first time only: the caller closes the socket as a slow consumer. */
  markSlow(): boolean {
    if (this.closingSlow) return false;
    this.closingSlow = true;
    return true;
  }

  get slow(): boolean {
    return this.closingSlow;
  }

  /** The socket closed. False when it had already. */
  end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    return true;
  }

  whenDetached(): Promise<void> {
    if (this.detached) return Promise.resolve();
    return new Promise((resolve) => (this.detachWaiters ??= []).push(resolve));
  }

  /** The store has let go of this session (after it ended). */
  markDetached(): void {
    this.detached = true;
    for (const resolve of this.detachWaiters ?? []) resolve();
    this.detachWaiters = undefined;
  }
}

/** setTimeout's limit; a later expiry is re-armed when reached. */
const MAX_TIMER_MS = 2_147_483_647;
