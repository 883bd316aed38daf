import {
  ClientEvent,
  CloseCode,
  ErrorCode,
  HEARTBEAT_PONG,
  ServerEvent,
  type AuthedEvent,
  type ChatMessage,
  type ClientFrame,
  type ErrorEvent,
  type HistoryEvent,
  type JoinedEvent,
  type MembersEvent,
  type PresenceEvent,
  type RoomSummary,
  type ServerFrame,
} from '@chatroom/server/protocol';
import { Backoff } from './backoff';
import type { ConnectionState } from './connection-state';
import { directPeer, isDirectRoom } from './direct-room';
import { TypedEmitter } from './emitter';
import { HeartbeatWatchdog, defaultGrace } from './heartbeat-watchdog';
import { Outbox, type OutgoingMessage } from './outbox';
import { RoomCursors } from './room-cursors';
import type { KeyValueStorage } from './storage';
import type { TokenSource } from './token-source';
import type { Socket, Transport } from './transport';

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
 * One socket for all rooms: authenticates, joins and resumes rooms, keeps the outbox, and
 * reconnects with backoff when the socket closes or the heartbeat stops.
 */
export class ChatClient extends TypedEmitter<ChatClientEvents> {
  private readonly outbox: Outbox;
  private readonly cursors: RoomCursors;
  private readonly backoff: Backoff;
  private readonly watchdog: HeartbeatWatchdog;
  private readonly rooms: Set<string>;
  /** Rooms joined on the current socket; only there can their messages be sent. */
  private readonly joinedNow = new Set<string>();
  private socket: Socket | undefined;
  /** Bumped for every socket, so late callbacks of an old one are ignored. */
  private generation = 0;
  private authed = false;
  private running = false;
  private networkUp = true;
  private refreshing = false;
  private tokenStale = false;
  private noAuthInARow = 0;
  private requestCounter = 0;
  /** Rooms re-joined from seq 0 on this socket because the server's seqs started over. */
  private readonly resynced = new Set<string>();
  private lastAttemptAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private currentState: ConnectionState = { status: 'offline', reason: 'stopped' };

  constructor(private readonly options: ChatClientOptions) {
    super();
    this.outbox = new Outbox(options.outboxTimeoutMs ?? 30_000, (m) => this.emit('outbox', { ...m }));
    this.cursors = new RoomCursors(options.storage);
    this.backoff = new Backoff(options.backoff ?? { baseMs: 1_000, capMs: 30_000 });
    this.watchdog = new HeartbeatWatchdog(
      () => this.abandon('heartbeat timeout'),
      options.heartbeatGrace ?? defaultGrace,
    );
    this.rooms = new Set(options.storage.get<string[]>(ROOMS_KEY) ?? []);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get joinedRooms(): string[] {
    return [...this.rooms];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.abandon('stopped');
    this.setState({ status: 'offline', reason: 'stopped' });
  }

  /** App back in the foreground, or the network came back: try now instead of waiting out the backoff. */
  reconnectNow(): void {
    if (!this.running || !this.networkUp || this.socket) return;
    const wait = this.lastAttemptAt + (this.options.minAttemptIntervalMs ?? 1_000) - Date.now();
    if (wait <= 0) this.connect();
    else this.scheduleAt(Date.now() + wait);
  }

  setNetworkAvailable(up: boolean): void {
    if (up === this.networkUp) return;
    this.networkUp = up;
    if (!up) {
      // The old socket is most likely half-open now; a new network means a new connection anyway.
      this.abandon('network lost');
      if (this.running) this.setState({ status: 'offline', reason: 'network' });
    } else {
      this.reconnectNow();
    }
  }

  joinRoom(roomid: string): void {
    if (!this.rooms.has(roomid)) {
      this.rooms.add(roomid);
      this.saveRooms();
    }
    if (this.authed && !this.joinedNow.has(roomid)) this.sendJoin(roomid);
  }

  leaveRoom(roomid: string): void {
    this.rooms.delete(roomid);
    this.joinedNow.delete(roomid);
    this.saveRooms();
    this.cursors.forget(roomid);
    this.transmit({ event: ClientEvent.Leave, roomid, id: this.nextId() });
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
    this.transmit({ event: ClientEvent.Rooms, id: this.nextId() });
  }

  requestMembers(roomid: string): void {
    this.transmit({ event: ClientEvent.Members, roomid, id: this.nextId() });
  }

  /** Older messages of a room or direct chat, for scrolling up. */
  requestHistory(roomid: string, before?: number, limit = 50): void {
    this.transmit({ event: ClientEvent.History, roomid, ...(before !== undefined ? { before } : {}), limit, id: this.nextId() });
  }

  // -------------------------------------------------------------------------------------------
  // Connection lifecycle

  private connect(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!this.running || !this.networkUp || this.socket) return;
    const generation = ++this.generation;
    this.lastAttemptAt = Date.now();
    this.setState({ status: 'connecting' });
    const current = () => generation === this.generation;
    try {
      this.socket = this.options.transport.open(withWelcome(this.options.url), {
        onOpen: () => current() && void this.authenticate(),
        onMessage: (text) => current() && this.receive(text),
        onClose: (code) => current() && this.disconnected(code),
        onError: () => {},
      });
    } catch {
      // A URL the runtime refuses outright: retried like any failed attempt.
      this.disconnected(1006);
      return;
    }
    this.connectTimer = setTimeout(() => {
      if (current() && !this.authed) this.abandon('connect timeout');
    }, this.options.connectTimeoutMs ?? 10_000);
  }

  private async authenticate(): Promise<void> {
    let token = this.tokenStale ? undefined : this.options.auth.current();
    if (!token) {
      const generation = this.generation;
      try {
        token = await this.options.auth.refresh();
        this.tokenStale = false;
      } catch {
        if (generation === this.generation) this.abandon('login failed');
        return;
      }
      if (generation !== this.generation) return;
    }
    this.transmit({ event: ClientEvent.Auth, message: token, id: this.nextId() });
  }

  /** Closes the current socket on purpose; its own close callback is ignored from now on. */
  private abandon(reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    this.generation += 1;
    socket.close(1000, reason);
    this.disconnected(1000);
  }

  private disconnected(code: number): void {
    this.socket = undefined;
    this.authed = false;
    this.joinedNow.clear();
    this.resynced.clear();
    this.watchdog.stop();
    clearTimeout(this.connectTimer);
    clearTimeout(this.stableTimer);
    if (code === CloseCode.AuthExpired) this.tokenStale = true;
    if (!this.running) return;
    if (!this.networkUp) {
      this.setState({ status: 'offline', reason: 'network' });
      return;
    }
    this.scheduleAt(Date.now() + this.backoff.next());
  }

  private scheduleAt(retryAt: number): void {
    clearTimeout(this.retryTimer);
    this.setState({ status: 'reconnecting', retryAt, attempt: this.backoff.attempts });
    this.retryTimer = setTimeout(() => this.connect(), Math.max(0, retryAt - Date.now()));
  }

  private setState(state: ConnectionState): void {
    this.currentState = state;
    this.emit('state', state);
  }

  // -------------------------------------------------------------------------------------------
  // Frames

  private receive(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    // Any frame proves the server is alive, not only its pings.
    this.watchdog.feed();
    switch (frame.event) {
      case ServerEvent.Welcome:
        this.watchdog.start(frame.heartbeatMs);
        break;
      case ServerEvent.Heartbeat:
        this.transmit({ event: ClientEvent.Heartbeat, message: HEARTBEAT_PONG });
        break;
      case ServerEvent.Authed:
        this.onAuthed(frame);
        break;
      case ServerEvent.NoAuth:
        void this.onNoAuth();
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

  private onAuthed(frame: AuthedEvent): void {
    this.authed = true;
    this.noAuthInARow = 0;
    clearTimeout(this.connectTimer);
    clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => this.backoff.reset(), this.options.stableAfterMs ?? 5_000);
    this.setState({ status: 'online' });
    this.emit('authed', frame);
    for (const roomid of this.rooms) this.sendJoin(roomid);
    this.requestRooms();
    // Direct chats need no join: the server queues what arrives while no socket is open and
    // replays it now; `history after` fetches what a half-open socket swallowed.
    for (const roomid of this.cursors.rooms()) {
      const after = this.cursors.since(roomid);
      if (isDirectRoom(roomid) && after !== undefined) {
        this.transmit({ event: ClientEvent.History, roomid, after, limit: 100, id: this.nextId() });
      }
    }
    for (const message of this.outbox.pending()) if (message.to) this.sendOutgoing(message);
  }

  private async onNoAuth(): Promise<void> {
    if (this.refreshing) return;
    this.authed = false;
    this.noAuthInARow += 1;
    const generation = this.generation;
    if (this.noAuthInARow > 2) {
      // A fresh token was refused too: retrying at once would only loop.
      this.abandon('token refused');
      return;
    }
    this.refreshing = true;
    try {
      const token = await this.options.auth.refresh();
      if (generation === this.generation) this.transmit({ event: ClientEvent.Auth, message: token, id: this.nextId() });
    } catch {
      if (generation === this.generation) this.abandon('login failed');
    } finally {
      this.refreshing = false;
    }
  }

  private onJoined(frame: JoinedEvent): void {
    const since = this.cursors.since(frame.roomid) ?? 0;
    const knownEpoch = this.cursors.epoch(frame.roomid);
    const epochChanged = frame.epoch !== undefined && knownEpoch !== undefined && frame.epoch !== knownEpoch;
    if (frame.epoch !== undefined) this.cursors.setEpoch(frame.roomid, frame.epoch);
    if (since > 0 && !this.resynced.has(frame.roomid) && (epochChanged || frame.lastSeq < since || (frame.gap && frame.replayed === 0))) {
      // The room's seqs started over (the server lost its state: a new epoch). What was replayed was
      // dropped as "already seen" by seq; join again from 0, or the new seqs would look like old ones.
      this.resynced.add(frame.roomid);
      this.cursors.restart(frame.roomid);
      this.sendJoin(frame.roomid);
      return;
    }
    this.joinedNow.add(frame.roomid);
    if (frame.gap) this.emit('gap', { roomid: frame.roomid });
    this.emit('joined', frame);
    for (const message of this.outbox.pending(frame.roomid)) this.sendOutgoing(message);
  }

  private onMessage(frame: ChatMessage): void {
    if (!this.cursors.accept(frame.roomid, frame.id, frame.seq)) return;
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
    for (const message of frame.messages) this.onMessage({ ...message, roomid: frame.roomid });
    this.emit('history', frame);
  }

  private onError(frame: ErrorEvent): void {
    const message = frame.ref ? this.outbox.get(frame.ref) : undefined;
    if (message && message.status === 'sending') {
      if (frame.code === ErrorCode.NotMember) {
        this.joinedNow.delete(message.roomid);
        this.joinRoom(message.roomid);
      } else if (TRANSIENT_ERRORS.has(frame.code)) {
        const generation = this.generation;
        setTimeout(() => generation === this.generation && this.sendOutgoing(message), 1_000);
      } else {
        const failed = this.outbox.fail(message.id, frame.message);
        if (failed) this.emit('outbox', { ...failed });
      }
    } else if (frame.code === ErrorCode.AuthFailed) {
      void this.onNoAuth();
    }
    this.emit('error', frame);
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private sendJoin(roomid: string): void {
    const since = this.cursors.since(roomid);
    // Replies (joined, authed) come only to frames with an id.
    const epoch = this.cursors.epoch(roomid);
    this.transmit({ event: ClientEvent.Join, roomid, ...(since !== undefined ? { since, ...(epoch ? { epoch } : {}) } : {}), id: this.nextId() });
  }

  private nextId(): string {
    this.requestCounter += 1;
    return `r${this.requestCounter}`;
  }

  /** Sends it if the socket can carry it now; otherwise it goes out after the next auth or join. */
  private sendOutgoing(message: OutgoingMessage): void {
    if (message.status !== 'sending' || !this.authed) return;
    if (message.to) {
      this.transmit({ event: ClientEvent.Message, to: message.to, message: message.text, id: message.id });
    } else if (this.joinedNow.has(message.roomid)) {
      this.transmit({ event: ClientEvent.Message, roomid: message.roomid, message: message.text, id: message.id });
    } else {
      this.joinRoom(message.roomid);
    }
  }

  private transmit(frame: ClientFrame): void {
    // Anything but auth and heartbeats before `authed` would only earn a `noauth`.
    if (!this.authed && frame.event !== ClientEvent.Auth && frame.event !== ClientEvent.Heartbeat) return;
    try {
      this.socket?.send(JSON.stringify(frame));
    } catch {
      // The socket is closing; its close callback reconnects and the outbox resends.
    }
  }

  private saveRooms(): void {
    this.options.storage.set(ROOMS_KEY, [...this.rooms]);
  }
}

/** `?v=1` asks the server for its `welcome` frame (heartbeat interval) when the token comes later in an `auth` frame. */
function withWelcome(url: string): string {
  return /[?&]v=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}v=1`;
}
