import {
  type AuthedEvent,
  type ChatMessage,
  ClientEvent,
  type ClientFrame,
  ErrorCode,
  type ErrorEvent,
  type GroupEvent,
  HEARTBEAT_PONG,
  type HistoryEvent,
  type InvitedEvent,
  isGroupRoomId,
  type JoinedEvent,
  type LeftEvent,
  type MembersEvent,
  type PresenceEvent,
  type ReadEvent,
  type ReadersEvent,
  type ReceiptsEvent,
  type RoomSummary,
  ServerEvent,
  type ServerFrame,
} from '@chatroom/server/protocol';
import { Backoff } from './backoff';
import { type ConnectionState, canTransition, type DisconnectCause, InvalidTransition } from './connection-state';
import { directPeer, isDirectRoom } from './direct-room';
import { TypedEmitter } from './emitter';
import { GroupActions, type GroupRequestFrame } from './group-actions';
import { defaultGrace } from './heartbeat-watchdog';
import { Link } from './link';
import { RECALL_WINDOW_MS } from './message-actions';
import { type MessageExtras, Outbox, type OutgoingMessage } from './outbox';
import { NOT_CONNECTED, PendingRequests, RequestFailed } from './pending-requests';
import { ReadMarks } from './read-marks';
import { ReadReporter } from './read-reporter';
import { type PacerOptions, Priority } from './request-pacer';
import { type ArchiveLimits, DEFAULT_ARCHIVE_LIMITS, RoomArchive, type RoomRecord, unkeep } from './room-archive';
import { type HistoryPurpose, RoomSubscription } from './room-subscription';
import type { KeyValueStorage } from './storage';
import { CredentialsRejected, type TokenSource } from './token-source';
import type { Transport } from './transport';
import { TypingIndicator, TypingSender } from './typing';

export interface ChatClientOptions {
  /** `wss://host/`; the token goes in an `auth` frame, not the URL. */
  url: string;
  transport: Transport;
  auth: TokenSource;
  /** This user's storage (`userStorage` in storage.ts): rooms, messages, cursors, read state, outbox. */
  storage: KeyValueStorage;
  backoff?: { baseMs: number; capMs: number };
  /** An unacknowledged message is marked failed after this long connected without an ack. */
  outboxTimeoutMs?: number;
  /** Give up on a socket that is not authenticated after this long. */
  connectTimeoutMs?: number;
  /** The backoff starts over only once a connection has stayed up this long (no storm on flapping). */
  stableAfterMs?: number;
  /** The shortest time between two attempts when asked to reconnect at once by a repeated event. */
  minAttemptIntervalMs?: number;
  heartbeatGrace?: (intervalMs: number) => number;
  /** The client-side rate limit (request-pacer.ts). */
  pace?: PacerOptions;
  archive?: Partial<ArchiveLimits>;
}

export interface ChatClientEvents {
  state: ConnectionState;
  authed: AuthedEvent;
  /** A message not seen before (live, replayed, caught up, or the echo of an own message). */
  message: ChatMessage;
  /** An own message changed: sending, sent (acked) or failed. */
  outbox: OutgoingMessage;
  presence: PresenceEvent;
  joined: JoinedEvent;
  /** Messages of the room before seq `beforeSeq` (or before what comes next) are no longer kept on the server. */
  gap: { roomid: string; beforeSeq?: number };
  rooms: RoomSummary[];
  members: MembersEvent;
  /** A page of history; `older` ones are for scrolling up, the others were caught up. */
  history: HistoryEvent & { purpose: HistoryPurpose };
  /** A request was refused; `request` names what it was, `roomid` the room it was about. */
  error: ErrorEvent & { request?: string; roomid?: string };
  /**
   * The user is no longer in the room: left here or on another device, removed by `by` (`reason`
   * kick or ban), or found gone after a reconnect (not listed in `rooms`, a join refused).
   */
  left: Pick<LeftEvent, 'roomid' | 'reason' | 'by'>;
  unread: { roomid: string; count: number };
  /** "[有人@我]": the first unread message that mentions the user, or none any more. */
  mention: { roomid: string; seq: number | undefined };
  /** A direct chat's peer has read up to `seq` (已读 under one's own messages). */
  peerRead: { roomid: string; seq: number };
  /** The peer of a direct chat started or stopped typing (对方正在输入…). */
  typing: { roomid: string; typing: boolean };
  receipts: ReceiptsEvent;
  readers: ReadersEvent;
  /** A room's profile as the user sees it as a member (from `joined`, a group request, a refresh after a notice). */
  group: GroupEvent;
  /** Someone added the user to a room; the client joins it. */
  invited: InvitedEvent;
}

/** A room as the phone has it at launch, for the pages to show before any network: the archive's fields (room-archive.ts RoomRecord). */
export type StoredRoom = Pick<RoomRecord, 'unread' | 'peerName' | 'peerRead' | 'mention' | 'title' | 'private' | 'group'> & {
  roomid: string;
  messages: ChatMessage[];
};

const MEMBER_OF_KEY = 'member-of';
/** Catch-up pages are as large as the server allows. */
const PAGE_LIMIT = 100;
/** A direct chat new to this device opens with its newest messages. */
const FIRST_LOOK_LIMIT = 50;
/** A connection attempt younger than this is left alone by a network change: it is on the new network. */
const FRESH_ATTEMPT_MS = 500;

/**
 * One socket for all rooms, as an explicit state machine (see connection-state.ts): the connection
 * state changes only in `setState`, which checks the transition and runs what leaving a state
 * implies (its socket or its retry timer ends). Each room is a RoomSubscription that owns its
 * state on the socket, its cursor and epoch and its requests in flight. What the user had (tails,
 * cursors, read state, outbox) lives in storage and comes back with a relaunch.
 */
export class ChatClient extends TypedEmitter<ChatClientEvents> {
  /** Group requests (docs/protocol.md#groups): each resolves with its reply or rejects with RequestFailed. */
  readonly groups: GroupActions;
  /** How long one's own messages may be recalled: the server's RECALL_WINDOW_MS from `welcome`. */
  recallWindowMs = RECALL_WINDOW_MS;
  private current: ConnectionState = { status: 'offline', reason: 'stopped' };
  /** The socket of `connecting` and `online`; undefined in every other state. */
  private link: Link | undefined;
  private readonly subscriptions = new Map<string, RoomSubscription>();
  /** Group rooms the user is in (persisted); direct chats need no membership of their own. */
  private readonly memberOf: Set<string>;
  private readonly outbox: Outbox;
  private readonly archive: RoomArchive;
  private readonly reads: ReadMarks;
  private readonly readReporter: ReadReporter;
  private readonly typingSender: TypingSender;
  private readonly typingIndicator: TypingIndicator;
  private readonly backoff: Backoff;
  /** Requests the user waits on, by request id (and `join:<roomid>` for joins by invite link). */
  private readonly requests = new PendingRequests();
  /** Input from the device, not a state of the socket: whether any network is up, and which. */
  private networkUp = true;
  private networkType: string | undefined;
  /** Input from the app: when it went to the background, if it is there. */
  private hiddenAt: number | undefined;
  private requestCounter = 0;
  private lastAttemptAt = 0;
  /** Runs the next attempt of `reconnecting`; cleared whenever that state is left. */
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: ChatClientOptions) {
    super();
    this.groups = new GroupActions((frame) => this.request(frame));
    const storage = options.storage;
    this.archive = new RoomArchive(storage, { ...DEFAULT_ARCHIVE_LIMITS, ...options.archive });
    this.archive.cursorOf = (roomid) => {
      const sub = this.subscriptions.get(roomid);
      return sub ? { through: sub.cursor.through, epoch: sub.epoch } : {};
    };
    this.reads = new ReadMarks(
      this.archive,
      () => options.auth.uid(),
      (roomid, count) => this.emit('unread', { roomid, count }),
    );
    this.readReporter = new ReadReporter((roomid, seq) => this.sendFrame({ event: ClientEvent.Read, roomid, seq }));
    this.reads.reported = (roomid, seq) => this.readReporter.seen(roomid, seq);
    this.reads.mentionChanged = (roomid, seq) => this.emit('mention', { roomid, seq });
    this.typingSender = new TypingSender((to) => this.sendFrame({ event: ClientEvent.Typing, to }, Priority.Message));
    this.typingIndicator = new TypingIndicator((roomid, typing) => this.emit('typing', { roomid, typing }));
    this.outbox = new Outbox(storage, options.outboxTimeoutMs ?? 30_000, (m) => this.emit('outbox', m));
    this.backoff = new Backoff(options.backoff ?? { baseMs: 1_000, capMs: 30_000 });
    this.memberOf = new Set(storage.get<string[]>(MEMBER_OF_KEY) ?? []);
    for (const roomid of this.archive.rooms()) {
      const record = this.archive.record(roomid);
      this.subscriptions.set(roomid, new RoomSubscription(roomid, { through: record.through, epoch: record.epoch, ids: record.messages.map((m) => m.id) }));
    }
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

  /** Every room the phone holds, with its messages and badge, for the pages at launch. */
  storedRooms(): StoredRoom[] {
    const rooms = new Set([...this.archive.rooms(), ...this.memberOf]);
    return [...rooms].map((roomid) => {
      const record = this.archive.has(roomid) ? this.archive.record(roomid) : undefined;
      return {
        roomid,
        messages: (record?.messages ?? []).map((m) => unkeep(roomid, m)),
        unread: record?.unread ?? 0,
        peerName: record?.peerName,
        peerRead: record?.peerRead,
        mention: record?.mention,
        title: record?.title,
        private: record?.private,
        group: record?.group,
      };
    });
  }

  /** Own messages not acknowledged yet (from before a relaunch too), oldest first. */
  unsent(): OutgoingMessage[] {
    return this.outbox.all();
  }

  start(): void {
    if (this.current.status !== 'offline' || this.current.reason !== 'stopped') return;
    if (this.networkUp) this.connect();
    else this.setState({ status: 'offline', reason: 'network' });
  }

  /** Stops for good (sign-out, or the app closing): what is not written yet is written now. */
  stop(): void {
    this.readReporter.flush();
    this.readReporter.stop();
    this.archive.flush();
    this.archive.stop();
    if (this.current.status === 'offline' && this.current.reason === 'stopped') return;
    this.setState({ status: 'offline', reason: 'stopped' });
  }

  /** The app went to the background: write everything now (WeChat may kill it without a word). */
  appHidden(): void {
    this.hiddenAt = Date.now();
    this.reads.background();
    this.readReporter.flush();
    this.archive.flush();
  }

  /**
   * Back in the foreground. WeChat suspends a hidden mini-program within seconds and its socket
   * dies without a close event, so whatever socket there is gets replaced at once.
   */
  appShown(): void {
    this.reads.foregroundAgain((roomid) => this.latestSeq(roomid));
    const wasHidden = this.hiddenAt !== undefined;
    this.hiddenAt = undefined;
    if (wasHidden) this.reconnectNow(true);
  }

  /**
   * Try now instead of waiting out the backoff. `fresh`: the environment changed (network, back
   * from the background), so even a socket that looks open is replaced.
   */
  reconnectNow(fresh = false): void {
    if (this.isStopped() || !this.networkUp) return;
    switch (this.current.status) {
      case 'offline':
        // The network was down and is back.
        return this.connect();
      case 'online':
        if (fresh) this.connect();
        return;
      case 'connecting':
        // An attempt this young is already on the new network; an older one may be stuck on the old.
        if (fresh && this.link && Date.now() - this.link.openedAt >= FRESH_ATTEMPT_MS) this.connect();
        return;
      case 'reconnecting': {
        const wait = fresh ? 0 : this.lastAttemptAt + (this.options.minAttemptIntervalMs ?? 1_000) - Date.now();
        if (wait <= 0) this.connect();
        else this.scheduleAt(Date.now() + wait, this.current.cause);
      }
    }
  }

  /** The device's network: `type` (wifi, 4g…) changing while up means a new path, so a new socket. */
  setNetwork(up: boolean, type?: string): void {
    const typeChanged = up && type !== undefined && this.networkType !== undefined && type !== this.networkType;
    if (type !== undefined && up) this.networkType = type;
    if (up === this.networkUp && !typeChanged) return;
    this.networkUp = up;
    if (this.isStopped()) return;
    // Down: the old socket is most likely half-open now; a new network means a new connection anyway.
    if (!up) this.setState({ status: 'offline', reason: 'network' });
    else this.reconnectNow(true);
  }

  setNetworkAvailable(up: boolean): void {
    this.setNetwork(up);
  }

  joinRoom(roomid: string): void {
    if (isDirectRoom(roomid)) return;
    if (!this.memberOf.has(roomid)) {
      this.memberOf.add(roomid);
      this.saveMembership();
    }
    const sub = this.subscription(roomid);
    if (this.link?.authed && sub.state === 'unsubscribed' && !sub.awaitingRooms) this.sendJoin(sub);
  }

  /**
   * Joins a room with an invite link's key (a private room's way in): resolves once joined, rejects
   * with RequestFailed (4419 a bad link, 4417 banned, 4418 full, NOT_CONNECTED) and forgets the room.
   * Resolves with undefined when the room was joined on this socket already.
   */
  joinWithLink(roomid: string, link: string): Promise<JoinedEvent | undefined> {
    if (!this.link?.authed) return Promise.reject(new RequestFailed(NOT_CONNECTED));
    const joined = this.requests.wait<JoinedEvent | undefined>(joinKey(roomid));
    const sub = this.subscription(roomid);
    sub.link = link;
    sub.awaitingRooms = false;
    if (sub.state === 'joined') this.requests.resolve(joinKey(roomid), undefined);
    else this.joinRoom(roomid);
    return joined;
  }

  leaveRoom(roomid: string): void {
    this.forgetRoom(roomid);
    this.link?.send({ event: ClientEvent.Leave, roomid, id: this.nextId() });
  }

  /** The room is on screen: it is read, and what arrives in it is read too. */
  openRoom(roomid: string): void {
    this.reads.open(roomid, this.latestSeq(roomid));
  }

  closeRoom(roomid: string): void {
    this.reads.close(roomid);
    this.readReporter.flush(roomid);
  }

  unreadOf(roomid: string): number {
    return this.reads.unread(roomid);
  }

  /** The user's read cursor in a room, as far as this device knows. */
  readSeqOf(roomid: string): number {
    return this.reads.readSeq(roomid);
  }

  /** Queues a message for a room or a direct chat (`dm:` id); it is sent as soon as that is possible. */
  send(roomid: string, text: string, extras: MessageExtras = {}): OutgoingMessage {
    const self = this.options.auth.uid();
    const to = isDirectRoom(roomid) && self ? directPeer(roomid, self) : undefined;
    const message = this.outbox.add(roomid, text, to, extras);
    this.emit('outbox', { ...message });
    this.sendOutgoing(message);
    return message;
  }

  /** A failed message, sent again with the same id. */
  retry(id: string): void {
    const message = this.outbox.retry(id);
    if (!message) return;
    this.emit('outbox', message);
    this.sendOutgoing(message);
  }

  /** A failed message the user deletes: it leaves the outbox for good. */
  discard(id: string): boolean {
    if (this.outbox.get(id)?.status !== 'failed') return false;
    this.outbox.discard(id);
    return true;
  }

  /**
   * Recalls message `seq` (撤回). The notice comes back like a message and rewrites the timeline
   * and the archive; a refusal is an `error` with `request: 'recall'`. False without a socket.
   */
  recall(roomid: string, seq: number): boolean {
    return this.sendFrame({ event: ClientEvent.Recall, roomid, seq, id: this.nextId() }, Priority.Message);
  }

  /** The user is typing in a direct chat: "typing" to the peer, at most every 3 s. */
  typing(roomid: string): void {
    const self = this.options.auth.uid();
    const to = isDirectRoom(roomid) && self ? directPeer(roomid, self) : undefined;
    if (to) this.typingSender.typed(to);
  }

  isTyping(roomid: string): boolean {
    return this.typingIndicator.isTyping(roomid);
  }

  /** Read counts of one's own messages in a room ("N人已读"), answered with a `receipts` event. */
  requestReceipts(roomid: string, seqs: number[]): boolean {
    if (seqs.length === 0) return false;
    return this.sendFrame({ event: ClientEvent.Receipts, roomid, seqs, id: this.nextId() });
  }

  /** Who has read one's own message `seq`, answered with a `readers` event. */
  requestReaders(roomid: string, seq: number): boolean {
    return this.sendFrame({ event: ClientEvent.Readers, roomid, seq, id: this.nextId() });
  }

  requestRooms(): void {
    this.link?.send({ event: ClientEvent.Rooms, id: this.nextId() });
  }

  /** The room's profile again (a settings page opening); the answer comes as a `group` event. */
  refreshGroup(roomid: string): void {
    const sub = this.subscriptions.get(roomid);
    if (!sub || sub.direct || !this.memberOf.has(roomid)) return;
    if (sub.refreshingGroup) {
      sub.groupStale = true;
      return;
    }
    sub.refreshingGroup = true;
    // A refresh nobody waits on: its failure (offline, no longer a member) says nothing new.
    this.request({ event: ClientEvent.Group, roomid })
      .catch(() => undefined)
      .finally(() => {
        if (this.subscriptions.get(roomid) !== sub || !sub.refreshingGroup) return;
        sub.refreshingGroup = false;
        if (!sub.groupStale) return;
        sub.groupStale = false;
        this.refreshGroup(roomid);
      });
  }

  requestMembers(roomid: string): void {
    this.link?.send({ event: ClientEvent.Members, roomid, id: this.nextId() });
  }

  /**
   * Older messages of a room or direct chat, for scrolling up. A room not joined yet on this socket
   * asks once it is (the server answers only members). False when the socket cannot ask now.
   */
  requestHistory(roomid: string, before?: number, limit = 50): boolean {
    if (!this.link?.authed) return false;
    const sub = this.subscription(roomid);
    const range = { ...(before !== undefined ? { before } : {}), limit };
    if (sub.direct || sub.state === 'joined') this.sendHistory(sub, 'older', range);
    else sub.afterJoin = range;
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // The connection state machine

  /**
   * The one place the connection state changes. Leaving `connecting` or `online` ends the socket
   * (and with it every room's subscription on it); leaving `reconnecting` ends its timer; the
   * outbox's failure timers run only in `online`.
   */
  private setState(next: ConnectionState): void {
    const previous = this.current;
    if (!canTransition(previous, next)) throw new InvalidTransition(previous, next);
    if (previous.status === 'reconnecting') {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    if ((previous.status === 'connecting' || previous.status === 'online') && next.status !== 'online') this.dropLink();
    if (next.status === 'online') this.outbox.resume();
    else this.outbox.pause();
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
          onClose: (code) => mine() && this.socketClosed(closeCause(link!, code)),
          onError: () => {},
        },
        () => mine() && this.socketClosed({ kind: 'silent' }),
        this.options.heartbeatGrace ?? defaultGrace,
        this.options.pace,
      );
    } catch {
      // A URL the runtime refuses outright: retried like any failed attempt.
      this.socketClosed({ kind: 'unreachable' });
      return;
    }
    this.link = link;
    link.after(this.options.connectTimeoutMs ?? 10_000, () => mine() && !link!.authed && this.socketClosed({ kind: 'silent' }));
  }

  /** The socket ended (closed, timed out, went silent): try again, at once the first time, then backing off. */
  private socketClosed(cause: DisconnectCause): void {
    if (!this.networkUp) this.setState({ status: 'offline', reason: 'network' });
    else this.scheduleAt(Date.now() + this.backoff.next(), cause);
  }

  private scheduleAt(retryAt: number, cause?: DisconnectCause): void {
    this.setState({ status: 'reconnecting', retryAt, attempt: this.backoff.attempts, ...(cause ? { cause } : {}) });
    this.retryTimer = setTimeout(() => this.connect(), Math.max(0, retryAt - Date.now()));
  }

  /** Ends the current socket; the rooms on it are no longer joined, the outbox waits. */
  private dropLink(): void {
    const link = this.link;
    if (!link) return;
    this.link = undefined;
    link.close('closing');
    for (const sub of this.subscriptions.values()) sub.socketLost();
    // Their replies would come on this socket: the user learns now that they did not go through.
    this.requests.rejectAll(new RequestFailed(NOT_CONNECTED));
  }

  /** Renewal is impossible: the pages send the user to the login page. */
  private unauthorized(): void {
    if (this.isStopped()) return;
    this.setState({ status: 'offline', reason: 'unauthorized' });
  }

  // -------------------------------------------------------------------------------------------
  // Auth

  private async authenticate(link: Link): Promise<void> {
    // Expired (after a 4001 too): renewed first. A device clock far behind gets `noauth` and renews then.
    const expiresAt = this.options.auth.expiresAt();
    const expired = expiresAt !== undefined && expiresAt <= Date.now() + 1_000;
    let token = expired ? undefined : this.options.auth.current();
    if (!token) {
      token = await this.freshToken(link);
      if (!token) return;
    }
    link.send({ event: ClientEvent.Auth, message: token, id: this.nextId() }, Priority.Control);
  }

  /** A new token for this socket, or undefined when it failed (and the failure was handled). */
  private async freshToken(link: Link): Promise<string | undefined> {
    try {
      const token = await this.options.auth.refresh();
      return link === this.link ? token : undefined;
    } catch (err) {
      if (link !== this.link) return undefined;
      if (err instanceof CredentialsRejected) this.unauthorized();
      else this.socketClosed({ kind: 'login' });
      return undefined;
    }
  }

  /**
   * `authed`: the first of a socket, or the one after a `noauth` on it (frames refused meanwhile
   * were not processed, so every room is joined again, with `since`, so nothing comes twice), or
   * the answer to a renewal (nothing else changes).
   */
  private onAuthed(link: Link, frame: AuthedEvent): void {
    const renewal = link.authed;
    link.authed = true;
    link.noAuthInARow = 0;
    this.scheduleRenewal(link, frame.expiresAt);
    if (renewal) return;
    if (this.current.status !== 'online') {
      link.after(this.options.stableAfterMs ?? 5_000, () => this.backoff.reset());
      this.setState({ status: 'online' });
    }
    for (const sub of this.subscriptions.values()) sub.socketLost();
    this.emit('authed', frame);
    // The room list drives the direct chats' catch-up and tells of rooms joined elsewhere.
    this.requestRooms();
    const byActivity = [...this.memberOf].sort((a, b) => this.latestTs(b) - this.latestTs(a));
    for (const roomid of byActivity) {
      const sub = this.subscription(roomid);
      // A created room waits for `rooms` to say the user is still in it (see awaitingRooms).
      if (isGroupRoomId(roomid) && sub.link === undefined) sub.awaitingRooms = true;
      else this.sendJoin(sub);
    }
    for (const sub of this.subscriptions.values()) if (sub.direct) sub.setState('joined');
    for (const message of this.outbox.pending()) if (message.to) this.sendOutgoing(message);
    this.readReporter.online();
  }

  /** Renews the token on the live socket before it expires, so no 4001 ever closes it. */
  private scheduleRenewal(link: Link, expiresAt: number): void {
    link.tokenExpiresAt = expiresAt;
    const lifetime = expiresAt - Date.now();
    // A third of the lifetime ahead, at most five minutes: a 7-day token renews 5 minutes early.
    const lead = Math.min(300_000, lifetime / 3);
    link.after(Math.max(0, lifetime - lead), () => void this.renew(link, expiresAt));
  }

  private async renew(link: Link, expiresAt: number): Promise<void> {
    // Superseded: the socket is gone, or a newer token (with its own renewal) came meanwhile.
    if (link !== this.link || link.refreshing || link.tokenExpiresAt !== expiresAt) return;
    link.refreshing = true;
    try {
      const token = await this.options.auth.refresh();
      if (link === this.link) link.send({ event: ClientEvent.Auth, message: token, id: this.nextId() }, Priority.Control);
    } catch (err) {
      if (link !== this.link) return;
      if (err instanceof CredentialsRejected) return this.unauthorized();
      // No network to the login endpoint right now: try again while the token still holds.
      const left = expiresAt - Date.now();
      if (left > 2_000) link.after(Math.min(30_000, left / 2), () => void this.renew(link, expiresAt));
    } finally {
      link.refreshing = false;
    }
  }

  private async onNoAuth(link: Link): Promise<void> {
    if (link.refreshing) return;
    link.authed = false;
    link.noAuthInARow += 1;
    // A fresh token was refused too: retrying at once would only loop.
    if (link.noAuthInARow > 2) return this.socketClosed({ kind: 'login' });
    link.refreshing = true;
    try {
      const token = await this.freshToken(link);
      if (token) link.send({ event: ClientEvent.Auth, message: token, id: this.nextId() }, Priority.Control);
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
    const request = 'ref' in frame && frame.event !== ServerEvent.Error ? link.answered(frame.ref) : undefined;
    switch (frame.event) {
      case ServerEvent.Welcome:
        link.watchdog.start(frame.heartbeatMs);
        if (typeof frame.recallWindowMs === 'number') this.recallWindowMs = frame.recallWindowMs;
        break;
      case ServerEvent.Heartbeat:
        link.send({ event: ClientEvent.Heartbeat, message: HEARTBEAT_PONG }, Priority.Control);
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
      case ServerEvent.Left:
        // Without ref: the user left the room on another device, or was removed from it.
        if (frame.ref === undefined) this.forgetRoom(frame.roomid, { reason: frame.reason, by: frame.by });
        break;
      case ServerEvent.Group:
        // A room the user created: it is theirs, and joined at once.
        if (request?.event === ClientEvent.Create) this.joinRoom(frame.roomid);
        this.keepGroup(frame);
        this.requests.resolve(frame.ref, frame);
        break;
      case ServerEvent.Link:
        this.requests.resolve(frame.ref, frame);
        break;
      case ServerEvent.Invited:
        this.invited(frame);
        break;
      case ServerEvent.Message:
        this.deliver(frame);
        break;
      case ServerEvent.Ack: {
        link.answered(frame.id);
        const message = this.outbox.acknowledge(frame.id, frame.seq);
        if (message) this.emit('outbox', message);
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
        this.onError(link, frame);
        break;
      case ServerEvent.Read:
        this.onRead(frame);
        break;
      case ServerEvent.Typing:
        this.typingIndicator.typing(frame.roomid, frame.uid);
        break;
      case ServerEvent.Receipts:
        this.emit('receipts', frame);
        break;
      case ServerEvent.Readers:
        this.emit('readers', frame);
        break;
    }
  }

  private onJoined(frame: JoinedEvent): void {
    const sub = this.subscriptions.get(frame.roomid);
    if (frame.ref === undefined && sub?.state === 'joined' && frame.epoch !== undefined && frame.epoch !== sub.epoch) {
      // Unrequested: the server lost the room's seq counter and started a new epoch under this live
      // socket. The seqs that follow start over; join again from the start of the new epoch.
      sub.epoch = frame.epoch;
      sub.cursor.restart();
      this.reads.restart(frame.roomid);
      this.emit('gap', { roomid: frame.roomid });
      this.sendJoin(sub);
      return;
    }
    // A reply to a join this socket no longer waits for (left meanwhile, or joined again since).
    if (sub?.state !== 'joining' || (frame.ref !== undefined && frame.ref !== sub.joinRef)) return;
    const since = sub.cursor.through ?? 0;
    const epochChanged = frame.epoch !== undefined && sub.epoch !== undefined && frame.epoch !== sub.epoch;
    if (frame.epoch !== undefined) sub.epoch = frame.epoch;
    if (since > 0 && !sub.resynced && (epochChanged || frame.lastSeq < since || (frame.gap && frame.replayed === 0))) {
      // The room's seqs started over (the server lost its state: a new epoch). What was replayed was
      // dropped as "already seen" by seq; join again from 0, or the new seqs would look like old ones.
      sub.resynced = true;
      sub.cursor.restart();
      this.reads.restart(frame.roomid);
      this.sendJoin(sub);
      return;
    }
    // The replay is complete: every seq up to the room's last was just delivered or is gone.
    sub.cursor.settle(frame.lastSeq);
    this.archive.touch(frame.roomid);
    this.reads.server(frame.roomid, { read: frame.read, lastSeq: frame.lastSeq, ...(frame.read !== undefined ? { mention: frame.mention ?? null } : {}) });
    sub.setState('joined');
    sub.link = undefined;
    if (frame.group) this.keepGroup({ ...frame.group, event: ServerEvent.Group });
    this.requests.resolve(joinKey(frame.roomid), frame);
    if (sub.afterJoin) this.sendHistory(sub, 'older', sub.afterJoin);
    sub.afterJoin = undefined;
    if (frame.gap) this.emit('gap', { roomid: frame.roomid, beforeSeq: frame.replayed > 0 ? frame.lastSeq - frame.replayed + 1 : undefined });
    this.emit('joined', frame);
    for (const message of this.outbox.pending(frame.roomid)) this.sendOutgoing(message);
  }

  /** A message from the socket (live or replayed) or a catch-up page: recorded, counted and emitted once. */
  private deliver(frame: ChatMessage): void {
    const sub = this.subscription(frame.roomid);
    if (!sub.cursor.accept(frame.id, frame.seq)) return;
    this.archive.append(frame.roomid, frame);
    // A recall notice: the recalled text leaves the phone (the tail, and quotes of it).
    if (frame.kind === 'recall' && frame.recall !== undefined) {
      this.archive.recall(frame.roomid, frame.recall, { uid: frame.uid, name: frame.name, ts: frame.ts });
      this.outbox.recall(frame.roomid, frame.recall);
    }
    this.typingIndicator.message(frame.roomid, frame.uid);
    const own = this.outbox.acknowledge(frame.id, frame.seq);
    if (own) this.emit('outbox', own);
    this.reads.incoming(frame);
    this.emit('message', frame);
    // A change of the room (live: a replay ends with `joined`, which carries the profile anew).
    if (frame.system && !frame.replay && sub.state === 'joined' && !this.removesSelf(frame)) this.refreshGroup(frame.roomid);
  }

  /** A notice that the user was removed: `left` follows, and the room is no longer theirs to ask about. */
  private removesSelf(frame: ChatMessage): boolean {
    return frame.system?.type === 'kicked' && frame.system.user?.uid === this.options.auth.uid();
  }

  /** A member's view of a room's profile: kept for the pages (offline too), and emitted. A preview is only answered. */
  private keepGroup(frame: GroupEvent): void {
    if (frame.role === undefined || !this.memberOf.has(frame.roomid)) return;
    const { event: _event, ref: _ref, mutes: _mutes, bans: _bans, links: _links, ...profile } = frame;
    const record = this.archive.record(frame.roomid);
    record.group = profile;
    record.title = profile.title;
    record.private = profile.private || undefined;
    this.archive.touch(frame.roomid);
    this.emit('group', frame);
  }

  private invited(frame: InvitedEvent): void {
    const record = this.archive.record(frame.roomid);
    record.title = frame.title;
    this.archive.touch(frame.roomid);
    this.joinRoom(frame.roomid);
    this.emit('invited', frame);
  }

  /** A request the user waits on: answered, refused with the reason, or refused at once without a connection. */
  private request<R>(frame: GroupRequestFrame): Promise<R> {
    const link = this.link;
    if (!link?.authed) return Promise.reject(new RequestFailed(NOT_CONNECTED));
    const id = this.nextId();
    const answer = this.requests.wait<R>(id);
    link.send({ ...frame, id } as ClientFrame);
    return answer;
  }

  private onRooms(rooms: RoomSummary[]): void {
    const listed = new Set(rooms.map((room) => room.roomid));
    // Created rooms the user is no longer in (removed, or left on a device while this one was away).
    for (const roomid of [...this.memberOf]) {
      const sub = this.subscriptions.get(roomid);
      if (sub?.awaitingRooms && !listed.has(roomid)) this.forgetRoom(roomid, {});
    }
    for (const room of rooms) {
      this.reads.server(room.roomid, { read: room.read, lastSeq: room.lastSeq, ...(room.read !== undefined ? { mention: room.mention ?? null } : {}) });
      if (room.peerRead !== undefined) this.peerRead(room.roomid, room.peerRead);
      if (!isDirectRoom(room.roomid)) {
        this.keepTitle(room);
        const sub = this.subscription(room.roomid);
        sub.awaitingRooms = false;
        // Rooms this user joined elsewhere (another device) are joined here too, for their badges.
        this.joinRoom(room.roomid);
        continue;
      }
      if (room.peer && this.archive.record(room.roomid).peerName !== room.peer.name) {
        this.archive.record(room.roomid).peerName = room.peer.name;
        this.archive.touch(room.roomid);
      }
      this.catchUpDirect(this.subscription(room.roomid), room.lastSeq);
    }
    this.emit('rooms', rooms);
  }

  private keepTitle(room: RoomSummary): void {
    const record = this.archive.record(room.roomid);
    if (record.title === room.title && Boolean(record.private) === Boolean(room.private)) return;
    record.title = room.title;
    record.private = room.private || undefined;
    this.archive.touch(room.roomid);
  }

  /**
   * A direct chat has no join to replay what this device missed (the server's inbox only holds what
   * came while the user had no socket at all): page forward from the cursor to the chat's last seq.
   * A chat this device never saw opens with its newest page instead.
   */
  private catchUpDirect(sub: RoomSubscription, lastSeq: number): void {
    if (sub.catchingUp || !this.link?.authed) return;
    const through = sub.cursor.through;
    const kept = this.archive.has(sub.roomid) && this.archive.record(sub.roomid).messages.length > 0;
    if (through === undefined && !kept) {
      if (lastSeq > 0) this.sendHistory(sub, 'latest', { limit: FIRST_LOOK_LIMIT });
      return;
    }
    if (through !== undefined && lastSeq < through) sub.cursor.restart(); // the server lost its state
    const after = sub.cursor.through ?? 0;
    if (lastSeq > after) this.sendHistory(sub, 'forward', { after, limit: PAGE_LIMIT });
  }

  private onHistory(frame: HistoryEvent): void {
    const sub = this.subscription(frame.roomid);
    const purpose = (frame.ref !== undefined && sub.pending.get(frame.ref)) || 'older';
    if (frame.ref !== undefined) sub.pending.delete(frame.ref);
    if (purpose === 'forward') {
      if (frame.gap) this.emit('gap', { roomid: frame.roomid, beforeSeq: frame.messages[0]?.seq });
      for (const message of frame.messages) this.deliver({ ...message, roomid: frame.roomid });
      const last = frame.messages[frame.messages.length - 1]?.seq;
      // A full page: more may follow. A short one: everything up to the room's last seq was in it.
      if (last !== undefined && frame.messages.length >= PAGE_LIMIT && last < frame.lastSeq) {
        sub.cursor.settle(last);
        this.sendHistory(sub, 'forward', { after: last, limit: PAGE_LIMIT });
      } else {
        sub.cursor.settle(frame.lastSeq);
      }
      this.archive.touch(frame.roomid);
    } else if (purpose === 'latest') {
      // Read on another device: shown, kept, not counted.
      for (const message of frame.messages) {
        const full = { ...message, roomid: frame.roomid };
        if (sub.cursor.accept(full.id, full.seq)) this.archive.append(frame.roomid, full);
      }
      sub.cursor.settle(frame.lastSeq);
      this.reads.server(frame.roomid, { lastSeq: frame.lastSeq });
      if (frame.gap && frame.messages.length === 0) this.emit('gap', { roomid: frame.roomid });
    }
    this.emit('history', { ...frame, purpose });
  }

  private onError(link: Link, frame: ErrorEvent): void {
    const request = link.request(frame.ref);
    // Refused for the rate limit: the same frame again, slower. Store trouble: again in a second.
    if (frame.ref !== undefined && request && frame.code === ErrorCode.RateLimited && link.resend(frame.ref)) return;
    if (frame.ref !== undefined && request && frame.code === ErrorCode.Unavailable && link.resend(frame.ref, 1_000)) return;
    link.answered(frame.ref);
    this.requests.reject(frame.ref, new RequestFailed(frame.code, frame.until, frame.message));
    const message = frame.ref ? this.outbox.get(frame.ref) : undefined;
    if (message && message.status === 'sending') {
      if (frame.code === ErrorCode.NotMember && this.memberOf.has(message.roomid)) {
        const sub = this.subscription(message.roomid);
        if (sub.state === 'joined') sub.setState('unsubscribed');
        this.joinRoom(message.roomid);
      } else {
        const failed = this.outbox.fail(message.id, frame.code, frame.until);
        if (failed) this.emit('outbox', failed);
        // Muted: the profile says until when (or that the whole room is), for the input bar.
        if (frame.code === ErrorCode.Muted) this.refreshGroup(message.roomid);
      }
    } else if (request?.event === ClientEvent.Join) {
      const sub = this.subscriptions.get(request.roomid);
      if (sub?.state === 'joining' && sub.joinRef === frame.ref) {
        sub.setState('unsubscribed');
        this.requests.reject(joinKey(request.roomid), new RequestFailed(frame.code, frame.until, frame.message));
        // Not a member and cannot become one this way: the room is not the user's.
        if (JOIN_REFUSED_FOR_GOOD.has(frame.code)) {
          this.emit('error', { ...frame, request: request.event, roomid: request.roomid });
          this.forgetRoom(request.roomid, {});
          return;
        }
      }
    } else if (request?.event === ClientEvent.History) {
      if (frame.ref !== undefined) this.subscriptions.get(request.roomid)?.pending.delete(frame.ref);
    } else if (frame.code === ErrorCode.AuthFailed) {
      void this.onNoAuth(link);
    }
    this.emit('error', {
      ...frame,
      ...(request ? { request: request.event } : {}),
      ...(request && 'roomid' in request && request.roomid ? { roomid: request.roomid } : {}),
    });
  }

  /** A read cursor moved: one's own on another device, or a direct chat's peer's. */
  private onRead(frame: ReadEvent): void {
    if (frame.uid === this.options.auth.uid()) this.reads.server(frame.roomid, { read: frame.seq });
    else if (isDirectRoom(frame.roomid)) this.peerRead(frame.roomid, frame.seq);
  }

  private peerRead(roomid: string, seq: number): void {
    const record = this.archive.record(roomid);
    if (seq <= (record.peerRead ?? 0)) return;
    record.peerRead = seq;
    this.archive.touch(roomid);
    this.emit('peerRead', { roomid, seq });
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  /** A frame on the authenticated socket; false when there is none. */
  private sendFrame(frame: ClientFrame, priority = Priority.Sync): boolean {
    if (!this.link?.authed) return false;
    this.link.send(frame, priority);
    return true;
  }

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
    const since = sub.cursor.through;
    const epoch = sub.epoch;
    const link = sub.link !== undefined ? { link: sub.link } : {};
    this.link.send({ event: ClientEvent.Join, roomid: sub.roomid, ...(since !== undefined ? { since, ...(epoch ? { epoch } : {}) } : {}), ...link, id });
  }

  private sendHistory(sub: RoomSubscription, purpose: HistoryPurpose, range: { before?: number; after?: number; limit: number }): void {
    const id = this.nextId();
    sub.pending.set(id, purpose);
    this.link?.send({ event: ClientEvent.History, roomid: sub.roomid, ...range, id });
  }

  private nextId(): string {
    this.requestCounter += 1;
    return `r${this.requestCounter}`;
  }

  /** Sends it if the socket can carry it now; otherwise it goes out after the next auth or join. */
  private sendOutgoing(message: OutgoingMessage): void {
    const link = this.link;
    if (message.status !== 'sending' || !link?.authed) return;
    const extras = {
      ...(message.quote ? { quote: { roomid: message.roomid, seq: message.quote.seq } } : {}),
      ...(message.mentions?.length ? { mentions: message.mentions } : {}),
      ...(message.mentionAll ? { mentionAll: true } : {}),
    };
    if (message.to) {
      link.send({ event: ClientEvent.Message, to: message.to, message: message.text, id: message.id, ...extras }, Priority.Message);
    } else if (this.subscriptions.get(message.roomid)?.state === 'joined') {
      link.send({ event: ClientEvent.Message, roomid: message.roomid, message: message.text, id: message.id, ...extras }, Priority.Message);
    } else {
      this.joinRoom(message.roomid);
    }
  }

  /** The user left the room (here or on another device) or was removed: nothing of it stays on the phone. */
  private forgetRoom(roomid: string, why: Pick<LeftEvent, 'reason' | 'by'> = {}): void {
    if (this.memberOf.delete(roomid)) this.saveMembership();
    const sub = this.subscriptions.get(roomid);
    if (sub) {
      sub.setState('left');
      this.subscriptions.delete(roomid);
    }
    this.archive.remove(roomid);
    this.emit('left', { roomid, ...(why.reason ? { reason: why.reason } : {}), ...(why.by ? { by: why.by } : {}) });
  }

  private saveMembership(): void {
    try {
      this.options.storage.set(MEMBER_OF_KEY, [...this.memberOf]);
    } catch {
      // Storage full: the membership stays in memory and comes back from `rooms` after a relaunch.
    }
  }

  private latestSeq(roomid: string): number {
    const tail = this.archive.has(roomid) ? this.archive.record(roomid).messages : [];
    return Math.max(tail[tail.length - 1]?.seq ?? 0, this.subscriptions.get(roomid)?.cursor.through ?? 0);
  }

  private latestTs(roomid: string): number {
    const tail = this.archive.has(roomid) ? this.archive.record(roomid).messages : [];
    return tail[tail.length - 1]?.ts ?? 0;
  }
}

/** Join refusals after which the room is not the user's: not a member of a private room, banned, full, a bad link. */
const JOIN_REFUSED_FOR_GOOD = new Set<number>([ErrorCode.NotMember, ErrorCode.Banned, ErrorCode.RoomFull, ErrorCode.BadLink]);

function joinKey(roomid: string): string {
  return `join:${roomid}`;
}

/** Why a socket ended, from its close code and whether it ever opened. */
function closeCause(link: Link, code: number): DisconnectCause {
  if (link.opened) return { kind: 'closed', code };
  return /ssl|tls|certificate|cert_|handshake/i.test(link.lastError) ? { kind: 'certificate' } : { kind: 'unreachable' };
}

/** `?v=1` asks the server for its `welcome` frame (heartbeat interval) when the token comes later in an `auth` frame. */
function withWelcome(url: string): string {
  return /[?&]v=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}v=1`;
}
