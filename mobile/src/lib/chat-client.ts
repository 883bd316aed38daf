import {
  ClientEvent,
  CloseCode,
  ErrorCode,
  HEARTBEAT_PONG,
  ServerEvent,
  type AuthedEvent,
  type ChatMessage,
  type ErrorEvent,
  type HistoryEvent,
  type JoinedEvent,
  type MembersEvent,
  type PresenceEvent,
  type RoomSummary,
  type ServerFrame,
} from '@chatroom/server/protocol';
import { Backoff } from './backoff';
import { InvalidTransition, canTransition, type ConnectionState } from './connection-state';
import { directPeer, isDirectRoom } from './direct-room';
import { TypedEmitter } from './emitter';
import { defaultGrace } from './heartbeat-watchdog';
import { Link } from './link';
import { Outbox, type OutgoingMessage } from './outbox';
import { CursorStore } from './room-cursors';
import { RoomSubscription } from './room-subscription';
import type { KeyValueStorage } from './storage';
import type { TokenSource } from './token-source';
import type { Transport } from './transport';

export interface ChatClientOptions {
  /** `wss://host/`; the token goes in an `auth` frame, not the URL. */
  url: string;
  transport: Transport;
  auth: TokenSource;
  storage: KeyValueStorage;
  backoff?: { baseMs: number; capMs: number };
  /** An unacknowledged message is marked failed after this long. */
  outboxTimeoutMs?: number;
  /** Give up on a socket that is not authenticated after this long. */
  connectTimeoutMs?: number;
  /** The backoff starts over only once a connection has stayed up this long (no storm on flapping). */
  stableAfterMs?: number;
  /** The shortest time between two attempts, even when asked to reconnect at once. */
  minAttemptIntervalMs?: number;
  heartbeatGrace?: (intervalMs: number) => number;
}

export interface ChatClientEvents {
  state: ConnectionState;
  authed: AuthedEvent;
  /** A message not seen before (live, replayed, or the echo of an own message). */
  message: ChatMessage;
  /** An own message changed: sending, sent (acked) or failed. */
  outbox: OutgoingMessage;
  presence: PresenceEvent;
  joined: JoinedEvent;
  /** Earlier messages of the room are no longer kept on the server. */
  gap: { roomid: string };
  rooms: RoomSummary[];
  members: MembersEvent;
  history: HistoryEvent;
  error: ErrorEvent;
}

const ROOMS_KEY = 'chat.rooms';
/** Server-side errors after which resending the same frame later can succeed. */
const TRANSIENT_ERRORS = new Set<number>([ErrorCode.Unavailable, ErrorCode.RateLimited]);

/**
 * One socket for all rooms, as an explicit state machine (see connection-state.ts): the connection
 * state changes only in `setState`, which checks the transition and runs what leaving a state
 * implies (its socket or its retry timer ends). Each room is a RoomSubscription that owns its
 * state on the socket, its cursor and epoch and its requests in flight.
 */
export class ChatClient extends TypedEmitter<ChatClientEvents> {
  private current: ConnectionState = { status: 'offline', reason: 'stopped' };
  /** The socket of `connecting` and `online`; undefined in every other state. */
  private link: Link | undefined;
  private readonly subscriptions = new Map<string, RoomSubscription>();
  /** Group rooms the user is in (persisted); direct chats need no membership of their own. */
  private readonly memberOf: Set<string>;
  private readonly outbox: Outbox;
  private readonly cursorStore: CursorStore;
  private readonly backoff: Backoff;
  /** Input from the device, not a state of the socket: whether any network is up. */
  private networkUp = true;
  private requestCounter = 0;
  private lastAttemptAt = 0;
  /** Runs the next attempt of `reconnecting`; cleared whenever that state is left. */
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set by close 4001: the stored token is known to be expired, so the next socket refreshes first. */
  private tokenStale = false;

  constructor(private readonly options: ChatClientOptions) {
    super();
    this.outbox = new Outbox(options.outboxTimeoutMs ?? 30_000, (m) => this.emit('outbox', { ...m }));
    this.cursorStore = new CursorStore(options.storage);
    this.backoff = new Backoff(options.backoff ?? { baseMs: 1_000, capMs: 30_000 });
    this.memberOf = new Set(options.storage.get<string[]>(ROOMS_KEY) ?? []);
    for (const [roomid, saved] of this.cursorStore.load()) this.subscriptions.set(roomid, new RoomSubscription(roomid, saved));
    for (const roomid of this.memberOf) this.subscription(roomid);
  }

  get state(): ConnectionState {
    return this.current;
  }

  get joinedRooms(): string[] {
    return [...this.memberOf];
  }

  /** A room's state on the current socket (tests and diagnostics). */
  roomState(roomid: string): RoomSubscription['state'] | undefined {
    return this.subscriptions.get(roomid)?.state;
  }

  start(): void {
    if (this.current.status !== 'offline' || this.current.reason !== 'stopped') return;
    if (this.networkUp) this.connect();
    else this.setState({ status: 'offline', reason: 'network' });
  }

  stop(): void {
    if (this.current.status === 'offline' && this.current.reason === 'stopped') return;
    this.setState({ status: 'offline', reason: 'stopped' });
  }

  /** App back in the foreground, or the network came back: try now instead of waiting out the backoff. */
  reconnectNow(): void {
    if (this.current.status !== 'reconnecting' && !(this.current.status === 'offline' && this.current.reason === 'network')) return;
    if (!this.networkUp) return;
    const wait = this.lastAttemptAt + (this.options.minAttemptIntervalMs ?? 1_000) - Date.now();
    if (wait <= 0) this.connect();
    else this.scheduleAt(Date.now() + wait);
  }

  setNetworkAvailable(up: boolean): void {
    if (up === this.networkUp) return;
    this.networkUp = up;
    if (this.isStopped()) return;
    // Down: the old socket is most likely half-open now; a new network means a new connection anyway.
    if (!up) this.setState({ status: 'offline', reason: 'network' });
    else this.reconnectNow();
  }

  joinRoom(roomid: string): void {
    if (!this.memberOf.has(roomid)) {
      this.memberOf.add(roomid);
      this.saveRooms();
    }
    const sub = this.subscription(roomid);
    if (this.link?.authed && sub.state === 'unsubscribed') this.sendJoin(sub);
  }

  leaveRoom(roomid: string): void {
    this.memberOf.delete(roomid);
    this.saveRooms();
    const sub = this.subscriptions.get(roomid);
    if (sub) {
      sub.setState('left');
      this.subscriptions.delete(roomid);
      this.saveCursors();
    }
    this.link?.send({ event: ClientEvent.Leave, roomid, id: this.nextId() });
  }

  /** Queues a message for a room or a direct chat (`dm:` id); it is sent as soon as that is possible. */
  send(roomid: string, text: string): OutgoingMessage {
    const self = this.options.auth.uid();
    const to = isDirectRoom(roomid) && self ? directPeer(roomid, self) : undefined;
    const message = this.outbox.add(roomid, text, to);
    this.emit('outbox', { ...message });
    this.sendOutgoing(message);
    return message;
  }

  /** A failed message, sent again with the same id. */
  retry(id: string): void {
    const message = this.outbox.retry(id);
    if (!message) return;
    this.emit('outbox', { ...message });
    this.sendOutgoing(message);
  }

  requestRooms(): void {
    this.link?.send({ event: ClientEvent.Rooms, id: this.nextId() });
  }

  requestMembers(roomid: string): void {
    this.link?.send({ event: ClientEvent.Members, roomid, id: this.nextId() });
  }

  /** Older messages of a room or direct chat, for scrolling up. */
  requestHistory(roomid: string, before?: number, limit = 50): void {
    this.link?.send({ event: ClientEvent.History, roomid, ...(before !== undefined ? { before } : {}), limit, id: this.nextId() });
  }

  // -------------------------------------------------------------------------------------------
  // The connection state machine

  /**
   * The one place the connection state changes. Leaving `connecting` or `online` ends the socket
   * (and with it every room's subscription on it); leaving `reconnecting` ends its timer.
   */
  private setState(next: ConnectionState): void {
    const previous = this.current;
    if (!canTransition(previous, next)) throw new InvalidTransition(previous, next);
    if (previous.status === 'reconnecting') {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    if ((previous.status === 'connecting' || previous.status === 'online') && next.status !== 'online') this.dropLink();
    this.current = next;
    this.emit('state', next);
  }

  private isStopped(): boolean {
    return this.current.status === 'offline' && (this.current.reason === 'stopped' || this.current.reason === 'unauthorized');
  }

  private connect(): void {
    this.lastAttemptAt = Date.now();
    this.setState({ status: 'connecting' });
    let link: Link | undefined;
    const mine = () => link !== undefined && link === this.link;
    try {
      link = new Link(
        this.options.transport,
        withWelcome(this.options.url),
        {
          onOpen: () => mine() && void this.authenticate(link!),
          onMessage: (text) => mine() && this.receive(link!, text),
          onClose: (code) => mine() && this.socketClosed(code),
          onError: () => {},
        },
        () => mine() && this.socketClosed(1006),
        this.options.heartbeatGrace ?? defaultGrace,
      );
    } catch {
      // A URL the runtime refuses outright: retried like any failed attempt.
      this.socketClosed(1006);
      return;
    }
    this.link = link;
    link.after(this.options.connectTimeoutMs ?? 10_000, () => mine() && !link!.authed && this.socketClosed(1006));
  }

  /** The socket ended (closed, timed out, went silent): wait, then try again. */
  private socketClosed(code: number): void {
    if (code === CloseCode.AuthExpired) this.tokenStale = true;
    if (!this.networkUp) this.setState({ status: 'offline', reason: 'network' });
    else this.scheduleAt(Date.now() + this.backoff.next());
  }

  private scheduleAt(retryAt: number): void {
    this.setState({ status: 'reconnecting', retryAt, attempt: this.backoff.attempts });
    this.retryTimer = setTimeout(() => this.connect(), Math.max(0, retryAt - Date.now()));
  }

  /** Ends the current socket; the rooms on it are no longer joined, the outbox waits. */
  private dropLink(): void {
    const link = this.link;
    if (!link) return;
    this.link = undefined;
    link.close('closing');
    for (const sub of this.subscriptions.values()) sub.socketLost();
  }

  // -------------------------------------------------------------------------------------------
  // Auth

  private async authenticate(link: Link): Promise<void> {
    let token = this.tokenStale ? undefined : this.options.auth.current();
    if (!token) {
      try {
        token = await this.options.auth.refresh();
        this.tokenStale = false;
      } catch {
        if (link === this.link) this.socketClosed(1000);
        return;
      }
      if (link !== this.link) return;
    }
    link.send({ event: ClientEvent.Auth, message: token, id: this.nextId() });
  }

  /**
   * The first `authed` of a socket, or the one after a `noauth` on it: frames refused meanwhile were
   * not processed, so every room is joined again (with `since`, so nothing is delivered twice).
   */
  private onAuthed(link: Link, frame: AuthedEvent): void {
    link.authed = true;
    link.noAuthInARow = 0;
    if (this.current.status !== 'online') {
      link.after(this.options.stableAfterMs ?? 5_000, () => this.backoff.reset());
      this.setState({ status: 'online' });
    }
    for (const sub of this.subscriptions.values()) sub.socketLost();
    this.emit('authed', frame);
    for (const roomid of this.memberOf) this.sendJoin(this.subscription(roomid));
    this.requestRooms();
    // Direct chats need no join: the server queues what arrives while no socket is open and
    // replays it now; `history after` fetches what a half-open socket swallowed.
    for (const sub of this.subscriptions.values()) {
      if (!sub.direct) continue;
      sub.setState('joined');
      const after = sub.cursor.since;
      if (after !== undefined) {
        const id = this.nextId();
        sub.pending.add(id);
        link.send({ event: ClientEvent.History, roomid: sub.roomid, after, limit: 100, id });
      }
    }
    for (const message of this.outbox.pending()) if (message.to) this.sendOutgoing(message);
  }

  private async onNoAuth(link: Link): Promise<void> {
    if (link.refreshing) return;
    link.authed = false;
    link.noAuthInARow += 1;
    // A fresh token was refused too: retrying at once would only loop.
    if (link.noAuthInARow > 2) return this.socketClosed(1000);
    link.refreshing = true;
    try {
      const token = await this.options.auth.refresh();
      if (link === this.link) link.send({ event: ClientEvent.Auth, message: token, id: this.nextId() });
    } catch {
      if (link === this.link) this.socketClosed(1000);
    } finally {
      link.refreshing = false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Frames

  private receive(link: Link, text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    // Any frame proves the server is alive, not only its pings.
    link.watchdog.feed();
    switch (frame.event) {
      case ServerEvent.Welcome:
        link.watchdog.start(frame.heartbeatMs);
        break;
      case ServerEvent.Heartbeat:
        link.send({ event: ClientEvent.Heartbeat, message: HEARTBEAT_PONG });
        break;
      case ServerEvent.Authed:
        this.onAuthed(link, frame);
        break;
      case ServerEvent.NoAuth:
        void this.onNoAuth(link);
        break;
      case ServerEvent.Joined:
        this.onJoined(frame);
        break;
      case ServerEvent.Message:
        this.onMessage(frame);
        break;
      case ServerEvent.Ack: {
        const message = this.outbox.acknowledge(frame.id, frame.seq);
        if (message) this.emit('outbox', { ...message });
        break;
      }
      case ServerEvent.Login:
      case ServerEvent.Logout:
        this.emit('presence', frame);
        break;
      case ServerEvent.Rooms:
        this.onRooms(frame.rooms);
        break;
      case ServerEvent.Members:
        this.emit('members', frame);
        break;
      case ServerEvent.History:
        this.onHistory(frame);
        break;
      case ServerEvent.Error:
        this.onError(frame);
        break;
    }
  }

  private onJoined(frame: JoinedEvent): void {
    const sub = this.subscriptions.get(frame.roomid);
    // A reply to a join this socket no longer waits for (left meanwhile, or joined again since).
    if (!sub || sub.state !== 'joining' || (frame.ref !== undefined && frame.ref !== sub.joinRef)) return;
    const since = sub.cursor.since ?? 0;
    const epochChanged = frame.epoch !== undefined && sub.epoch !== undefined && frame.epoch !== sub.epoch;
    if (frame.epoch !== undefined && frame.epoch !== sub.epoch) {
      sub.epoch = frame.epoch;
      this.saveCursors();
    }
    if (since > 0 && !sub.resynced && (epochChanged || frame.lastSeq < since || (frame.gap && frame.replayed === 0))) {
      // The room's seqs started over (the server lost its state: a new epoch). What was replayed was
      // dropped as "already seen" by seq; join again from 0, or the new seqs would look like old ones.
      sub.resynced = true;
      sub.cursor.restart();
      this.saveCursors();
      this.sendJoin(sub);
      return;
    }
    sub.setState('joined');
    if (frame.gap) this.emit('gap', { roomid: frame.roomid });
    this.emit('joined', frame);
    for (const message of this.outbox.pending(frame.roomid)) this.sendOutgoing(message);
  }

  private onMessage(frame: ChatMessage): void {
    if (!this.subscription(frame.roomid).cursor.accept(frame.id, frame.seq)) return;
    this.saveCursors();
    const own = this.outbox.acknowledge(frame.id, frame.seq);
    if (own) this.emit('outbox', { ...own });
    this.emit('message', frame);
  }

  private onRooms(rooms: RoomSummary[]): void {
    // Rooms this user joined elsewhere (another device) are joined here too, for their badges.
    for (const room of rooms) if (!isDirectRoom(room.roomid)) this.joinRoom(room.roomid);
    this.emit('rooms', rooms);
  }

  /** New ones among them count as messages (a direct chat catching up); the rest are older pages. */
  private onHistory(frame: HistoryEvent): void {
    if (frame.ref !== undefined) this.subscriptions.get(frame.roomid)?.pending.delete(frame.ref);
    for (const message of frame.messages) this.onMessage({ ...message, roomid: frame.roomid });
    this.emit('history', frame);
  }

  private onError(frame: ErrorEvent): void {
    const message = frame.ref ? this.outbox.get(frame.ref) : undefined;
    if (message && message.status === 'sending') {
      if (frame.code === ErrorCode.NotMember) {
        const sub = this.subscription(message.roomid);
        if (sub.state === 'joined') sub.setState('unsubscribed');
        this.joinRoom(message.roomid);
      } else if (TRANSIENT_ERRORS.has(frame.code)) {
        const link = this.link;
        link?.after(1_000, () => link === this.link && this.sendOutgoing(message));
      } else {
        const failed = this.outbox.fail(message.id, frame.message);
        if (failed) this.emit('outbox', { ...failed });
      }
    } else if (frame.code === ErrorCode.AuthFailed && this.link) {
      void this.onNoAuth(this.link);
    }
    this.emit('error', frame);
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private subscription(roomid: string): RoomSubscription {
    let sub = this.subscriptions.get(roomid);
    if (!sub) {
      sub = new RoomSubscription(roomid);
      this.subscriptions.set(roomid, sub);
    }
    return sub;
  }

  private sendJoin(sub: RoomSubscription): void {
    if (!this.link?.authed) return;
    const id = this.nextId();
    sub.joining(id);
    const since = sub.cursor.since;
    const epoch = sub.epoch;
    this.link.send({ event: ClientEvent.Join, roomid: sub.roomid, ...(since !== undefined ? { since, ...(epoch ? { epoch } : {}) } : {}), id });
  }

  private nextId(): string {
    this.requestCounter += 1;
    return `r${this.requestCounter}`;
  }

  /** Sends it if the socket can carry it now; otherwise it goes out after the next auth or join. */
  private sendOutgoing(message: OutgoingMessage): void {
    const link = this.link;
    if (message.status !== 'sending' || !link?.authed) return;
    if (message.to) {
      link.send({ event: ClientEvent.Message, to: message.to, message: message.text, id: message.id });
    } else if (this.subscriptions.get(message.roomid)?.state === 'joined') {
      link.send({ event: ClientEvent.Message, roomid: message.roomid, message: message.text, id: message.id });
    } else {
      this.joinRoom(message.roomid);
    }
  }

  private saveRooms(): void {
    this.options.storage.set(ROOMS_KEY, [...this.memberOf]);
  }

  private saveCursors(): void {
    this.cursorStore.save(this.subscriptions.values());
  }
}

/** `?v=1` asks the server for its `welcome` frame (heartbeat interval) when the token comes later in an `auth` frame. */
function withWelcome(url: string): string {
  return /[?&]v=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}v=1`;
}

