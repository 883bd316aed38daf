/**
 * The chat service, free of any runtime: rooms, presence, offline delivery, auth decisions and the
 * fan-out. Adapters (node/, deno/) own sockets and HTTP and call open/receive/closed.
 *
 * Replies (`authed`, `joined`, `left`, `ack`) go only to requests that carry an `id`: the course's
 * client sends none and would render any unknown frame as a chat line.
 */

import { v4 as uuidv4 } from 'uuid';
import {
  ClientEvent,
  CloseCode,
  DEFAULT_ROOM_ID,
  DIRECT_ROOM_PREFIX,
  ErrorCode,
  HEARTBEAT_PING,
  HEARTBEAT_PONG,
  PROTOCOL_VERSION,
  ServerEvent,
  directRoomId,
  type ChatMessage,
  type PresenceEvent,
  type ServerFrame,
} from '../protocol.ts';
import { AdmissionControl, type AdmissionLimits, type Refusal } from './admission.ts';
import type { Authenticator, Identity, VerifyResult } from './auth.ts';
import { isValidUid } from './auth.ts';
import { EnvelopeKind, roomTopic, userTopic, type Bus, type Envelope } from './bus.ts';
import { Connection, type RoomSubscription, type Transport } from './connection.ts';
import { LocalRegistry } from './local-registry.ts';
import type { Logger } from './logger.ts';
import { TokenBucket } from './rate-limiter.ts';
import type { ChatStore, RoomCounts, StoredMessage } from './store.ts';
import {
  clientId,
  invalid,
  isFrameError,
  optionalSeq,
  parseFrame,
  refOf,
  refOfText,
  roomId,
  FrameError,
  type RawFrame,
} from './validate.ts';

export interface CoreSettings extends AdmissionLimits {
  heartbeatIntervalMs: number;
  authTimeoutMs: number;
  maxMessageChars: number;
  historyPerRoom: number;
  roomsPerConnection: number;
  rateLimitPerSec: number;
  rateLimitBurst: number;
  sendBufferLimitBytes: number;
}

export interface CoreDeps {
  settings: CoreSettings;
  store: ChatStore;
  bus: Bus;
  auth: Authenticator;
  logger: Logger;
  /** Makes the payload that Transport.sendPrepared sends, once per fan-out. */
  prepare: (text: string) => unknown;
  /** Called after each local fan-out with its duration and the sockets it reached (for /metrics). */
  observeFanOut?: (seconds: number, recipients: number) => void;
}

export interface CoreStats {
  connections: number;
  authenticated: number;
  localRooms: number;
  messagesIn: number;
  deliveries: number;
  slowConsumerCloses: number;
  heartbeatTerminations: number;
  authFailures: number;
  rateLimitedFrames: number;
  /** Frames not sent because their socket had already closed. */
  droppedSends: number;
  /** Error frames sent, by ErrorCode. */
  errors: Record<number, number>;
}

/** Closing after this many rate-limited frames in a row. */
const RATE_LIMIT_STRIKES = 50;
const HISTORY_PAGE_MAX = 100;
const HISTORY_PAGE_DEFAULT = 50;
const PING_TEXT = JSON.stringify({ event: ServerEvent.Heartbeat, message: HEARTBEAT_PING });
/** setTimeout's limit; a later expiry is re-armed when reached. */
const MAX_TIMER_MS = 2_147_483_647;

type CloseReason = 'close' | 'timeout';

function hasOpen(conns: Set<Connection> | undefined): boolean {
  if (conns) for (const conn of conns) if (conn.open) return true;
  return false;
}

export class ChatCore {
  readonly registry: LocalRegistry;
  private readonly admission: AdmissionControl;
  private readonly counts = new Map<string, RoomCounts>();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private nextConnId = 0;
  private readonly nodeId = uuidv4().slice(0, 8);
  private shuttingDown = false;
  private onDrained: (() => void) | undefined;
  readonly stats: CoreStats = {
    connections: 0,
    authenticated: 0,
    localRooms: 0,
    messagesIn: 0,
    deliveries: 0,
    slowConsumerCloses: 0,
    heartbeatTerminations: 0,
    authFailures: 0,
    rateLimitedFrames: 0,
    droppedSends: 0,
    errors: {},
  };

  constructor(private readonly deps: CoreDeps) {
    this.registry = new LocalRegistry(deps.bus);
    this.admission = new AdmissionControl(deps.settings);
    deps.bus.onEnvelope((envelope) => this.fanOut(envelope));
  }

  start(): void {
    this.heartbeatTimer = setInterval(() => this.sweep(), this.deps.settings.heartbeatIntervalMs);
  }

  verifyToken(token: string): VerifyResult {
    const result = this.deps.auth.verify(token);
    if (!result.ok) this.stats.authFailures += 1;
    return result;
  }

  // ------------------------------------------------------------------------------------------
  // Adapter entry points

  /** Asked before an upgrade: may `address` open another socket now? */
  admit(address: string): Refusal | undefined {
    return this.admission.admit(address);
  }

  /** A socket opened. `identity` is set when the upgrade URL carried a valid token. */
  open(transport: Transport, remoteAddress: string, options: { identity?: Identity; welcome?: boolean } = {}): Connection {
    const { settings } = this.deps;
    const conn = new Connection(
      `${this.nodeId}-${(this.nextConnId += 1)}`,
      transport,
      new TokenBucket(settings.rateLimitPerSec, settings.rateLimitBurst),
      remoteAddress,
    );
    this.registry.all.add(conn);
    this.admission.opened(remoteAddress);
    this.stats.connections = this.registry.all.size;
    if (options.welcome) {
      this.send(conn, {
        event: ServerEvent.Welcome,
        protocol: PROTOCOL_VERSION,
        heartbeatMs: settings.heartbeatIntervalMs,
        ...(options.identity ? { uid: options.identity.uid, name: options.identity.name } : {}),
      });
    }
    if (options.identity) {
      const identity = options.identity;
      this.enqueue(conn, undefined, () => this.attachUser(conn, identity));
    } else {
      conn.authTimer = setTimeout(() => {
        if (!conn.identity && !conn.closed) conn.transport.close(CloseCode.AuthTimeout, 'no auth in time');
      }, settings.authTimeoutMs);
    }
    return conn;
  }

  receive(conn: Connection, text: string, isBinary: boolean): void {
    if (conn.closed) return;
    conn.alive = true;
    if (isBinary) {
      this.sendError(conn, { code: ErrorCode.BinaryFrame, message: 'binary frames are not supported; send JSON text' });
      return;
    }
    if (!conn.bucket.take()) {
      this.stats.rateLimitedFrames += 1;
      conn.limitedInARow += 1;
      if (conn.limitedInARow >= RATE_LIMIT_STRIKES) {
        conn.transport.close(CloseCode.RateLimited, 'rate limit exceeded');
      } else {
        // Every refusal names its request, so a client knows what to send again.
        this.sendError(conn, { code: ErrorCode.RateLimited, message: 'too many frames; slow down', ref: refOfText(text) });
      }
      return;
    }
    conn.limitedInARow = 0;
    const frame = parseFrame(text);
    if (isFrameError(frame)) {
      this.sendError(conn, frame);
      return;
    }
    if (frame.event === ClientEvent.Heartbeat) {
      if (frame.message === HEARTBEAT_PONG) {
        for (const sub of conn.rooms.values()) sub.confirmedSeq = sub.pingSeq;
      }
      return;
    }
    this.stats.messagesIn += 1;
    this.enqueue(conn, frame, () => this.dispatch(conn, frame));
  }

  /** The socket closed. `clean` when the client sent a close frame: it read everything before it. */
  closed(conn: Connection, clean: boolean): void {
    if (conn.closed) return;
    conn.closed = true;
    clearTimeout(conn.authTimer);
    clearTimeout(conn.expiryTimer);
    this.registry.all.delete(conn);
    this.admission.closed(conn.remoteAddress);
    this.stats.connections = this.registry.all.size;
    if (this.registry.all.size === 0) this.onDrained?.();
    const reason: CloseReason = conn.terminatedForSilence ? 'timeout' : 'close';
    // After the frames already received: a message sent just before closing is still accepted.
    conn.queue = conn.queue
      .then(() => this.detach(conn, clean, reason))
      .catch((err) => this.deps.logger.error('cleanup failed', { conn: conn.id, err: String(err) }))
      .finally(() => conn.markDetached());
  }

  /**
   * Graceful shutdown: every socket is closed with 1001; resolves once each has finished its
   * closing handshake and its queued frames (the adapter bounds how long that may take).
   */
  async shutdown(reason = 'server shutting down'): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.heartbeatTimer);
    const conns = [...this.registry.all];
    const allClosed = new Promise<void>((resolve) => {
      this.onDrained = resolve;
      if (this.registry.all.size === 0) resolve();
    });
    for (const conn of conns) conn.transport.close(CloseCode.GoingAway, reason);
    await allClosed;
    await Promise.all(conns.map((conn) => conn.queue));
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  // ------------------------------------------------------------------------------------------
  // Frame handling

  private enqueue(conn: Connection, frame: RawFrame | undefined, task: () => Promise<void>): void {
    conn.queue = conn.queue.then(task).catch((err: unknown) => {
      this.deps.logger.error('frame failed', { conn: conn.id, event: frame?.event, err: String(err) });
      this.sendError(conn, {
        code: ErrorCode.Unavailable,
        message: 'the server could not complete this request; it was not accepted, send it again',
        ref: frame ? refOf(frame) : undefined,
      });
    });
  }

  private async dispatch(conn: Connection, frame: RawFrame): Promise<void> {
    if (frame.event === ClientEvent.Auth) return this.handleAuth(conn, frame);
    if (!conn.identity) {
      this.send(conn, { event: ServerEvent.NoAuth, message: 'please auth first', ref: refOf(frame) });
      return;
    }
    if (conn.identity.expiresAt <= Date.now()) {
      this.send(conn, { event: ServerEvent.NoAuth, message: 'please auth again, your token is expired!', ref: refOf(frame) });
      return;
    }
    const forged = this.checkIdentity(conn.identity, frame);
    if (forged) return this.sendError(conn, forged);
    switch (frame.event) {
      case ClientEvent.Login:
      case ClientEvent.Join:
        return this.handleJoin(conn, conn.identity, frame);
      case ClientEvent.Leave:
        return this.handleLeave(conn, conn.identity, frame);
      case ClientEvent.Message:
        return this.handleSend(conn, conn.identity, frame);
      case ClientEvent.Members:
        return this.handleMembers(conn, conn.identity, frame);
      case ClientEvent.Rooms:
        this.send(conn, { event: ServerEvent.Rooms, rooms: await this.deps.store.rooms(conn.identity.uid), ref: refOf(frame) });
        return;
      case ClientEvent.History:
        return this.handleHistory(conn, conn.identity, frame);
    }
  }

  /** A frame may repeat the token's uid and name (the course's client does) but never claim others. */
  private checkIdentity(identity: Identity, frame: RawFrame): FrameError | undefined {
    const forgedUid = frame.uid !== undefined && frame.uid !== null && frame.uid !== identity.uid;
    const forgedName = frame.name !== undefined && frame.name !== null && frame.name !== identity.name;
    if (!forgedUid && !forgedName) return undefined;
    return {
      code: ErrorCode.ForgedIdentity,
      message: `this connection is ${identity.name} (${identity.uid}); a frame cannot speak as anyone else`,
      ref: refOf(frame),
    };
  }

  private async handleAuth(conn: Connection, frame: RawFrame): Promise<void> {
    const ref = refOf(frame);
    const result = this.verifyToken(frame.message as string);
    if (!result.ok) {
      const message = result.expired ? 'please auth again, your token is expired!' : `auth failed: ${result.reason}`;
      this.send(conn, { event: ServerEvent.NoAuth, message, ref });
      return;
    }
    const { identity } = result;
    if (conn.identity && conn.identity.uid !== identity.uid) {
      this.sendError(conn, { code: ErrorCode.ForgedIdentity, message: 'a connection cannot change user; open a new one', ref });
      return;
    }
    if (conn.identity) {
      conn.identity = identity;
      this.armExpiry(conn);
    } else {
      await this.attachUser(conn, identity);
    }
    if (ref !== undefined) this.send(conn, { event: ServerEvent.Authed, uid: identity.uid, name: identity.name, expiresAt: identity.expiresAt, ref });
  }

  private async attachUser(conn: Connection, identity: Identity): Promise<void> {
    conn.identity = identity;
    clearTimeout(conn.authTimer);
    this.armExpiry(conn);
    this.stats.authenticated += 1;
    // Subscribe before counting the user online, so a direct message is either queued or seen live.
    await this.registry.addUser(identity.uid, conn);
    const result = await this.deps.store.connectUser(identity.uid, identity.name, conn.id);
    conn.userConnected = true;
    for (const message of result.inbox) this.sendText(conn, JSON.stringify({ ...message, replay: true }));
  }

  private armExpiry(conn: Connection): void {
    clearTimeout(conn.expiryTimer);
    const left = conn.identity!.expiresAt - Date.now();
    conn.expiryTimer = setTimeout(
      () => {
        if (conn.closed || !conn.identity) return;
        if (conn.identity.expiresAt > Date.now()) return this.armExpiry(conn);
        this.send(conn, { event: ServerEvent.NoAuth, message: 'please auth again, your token is expired!' });
        conn.transport.close(CloseCode.AuthExpired, 'token expired');
      },
      Math.min(Math.max(left, 0), MAX_TIMER_MS),
    );
  }

  private async handleJoin(conn: Connection, identity: Identity, frame: RawFrame): Promise<void> {
    const ref = refOf(frame);
    let roomid = roomId(frame, frame.event === ClientEvent.Join);
    // The course's single-room client logs in without a room.
    roomid ??= DEFAULT_ROOM_ID;
    if (isFrameError(roomid)) return this.sendError(conn, roomid);
    if (roomid.startsWith(DIRECT_ROOM_PREFIX)) {
      return this.sendError(conn, invalid(frame, 'direct chats need no join; read them with history'));
    }
    const since = optionalSeq(frame, 'since');
    if (isFrameError(since)) return this.sendError(conn, since);
    const { store, bus } = this.deps;
    const topic = roomTopic(roomid);

    const rejoin = conn.rooms.get(roomid);
    if (!rejoin && conn.rooms.size >= this.deps.settings.roomsPerConnection) {
      return this.sendError(conn, { code: ErrorCode.TooManyRooms, message: 'too many rooms on one connection', ref });
    }
    const sub: RoomSubscription = rejoin ?? { lastSeq: 0, pingSeq: 0, confirmedSeq: 0 };
    sub.pending = [];
    if (!rejoin) {
      conn.rooms.set(roomid, sub);
      await this.registry.addToRoom(roomid, conn);
    }
    const joined = await store.join(roomid, identity.uid, identity.name, conn.id);
    this.counts.set(roomid, { num: joined.num, total: joined.total });
    const notice = this.presence(ServerEvent.Login, identity, roomid, joined);
    if (joined.cameOnline) {
      await bus.publish({ topic, kind: EnvelopeKind.Notice, text: notice, roomid, num: joined.num, total: joined.total });
    } else {
      sub.pending.push({ topic, kind: EnvelopeKind.Notice, text: notice });
    }

    // A client resuming from another epoch (the server lost its state) has seqs that mean nothing here.
    const epochChanged = since !== undefined && typeof frame.epoch === 'string' && joined.epoch !== undefined && frame.epoch !== joined.epoch;
    const from = epochChanged ? 0 : (since ?? joined.offlineCursor);
    let replayed = 0;
    let gap = epochChanged;
    sub.lastSeq = Math.max(sub.lastSeq, joined.lastSeq);
    if (from !== undefined) {
      const slice = await store.readAfter(roomid, from, this.deps.settings.historyPerRoom);
      const counts = this.counts.get(roomid) ?? joined;
      for (const message of slice.messages) {
        this.sendText(conn, JSON.stringify({ ...message, num: counts.num, total: counts.total, replay: true }));
      }
      replayed = slice.messages.length;
      gap ||= slice.gap;
      // The room's own last seq, never the client's: a since from before a state loss must not
      // hide the new messages that reuse those seqs.
      sub.lastSeq = slice.lastSeq;
      sub.confirmedSeq = sub.pingSeq = Math.min(from, slice.lastSeq);
    } else if (!rejoin) {
      sub.confirmedSeq = sub.pingSeq = joined.lastSeq;
    }
    if (ref !== undefined) {
      this.send(conn, {
        event: ServerEvent.Joined,
        roomid,
        num: joined.num,
        total: joined.total,
        lastSeq: sub.lastSeq,
        replayed,
        gap,
        ...(joined.epoch !== undefined ? { epoch: joined.epoch } : {}),
        ref,
      });
    }
    const pending = sub.pending;
    sub.pending = undefined;
    for (const envelope of pending) this.deliver(conn, envelope, undefined);
  }

  private async handleLeave(conn: Connection, identity: Identity, frame: RawFrame): Promise<void> {
    const roomid = roomId(frame, true);
    if (isFrameError(roomid) || roomid === undefined) return this.sendError(conn, roomid ?? invalid(frame, 'roomid is required'));
    const { store, bus } = this.deps;
    if (!conn.rooms.has(roomid) && !(await store.isMember(roomid, identity.uid))) {
      return this.sendError(conn, { code: ErrorCode.NotMember, message: `not a member of ${roomid}`, ref: refOf(frame) });
    }
    await this.dropRoom(conn, roomid);
    const ref = refOf(frame);
    if (ref !== undefined) this.send(conn, { event: ServerEvent.Left, roomid, ref });
    const result = await store.leave(roomid, identity.uid);
    this.counts.set(roomid, result);
    // Every other connection of this user leaves the room too, wherever it is.
    await bus.publish({ topic: userTopic(identity.uid), kind: EnvelopeKind.LeftRoom, text: '', roomid });
    if (result.wasMember) {
      const notice = this.presence(ServerEvent.Logout, identity, roomid, result, 'leave');
      await bus.publish({ topic: roomTopic(roomid), kind: EnvelopeKind.Notice, text: notice, roomid, num: result.num, total: result.total });
    }
  }

  private async dropRoom(conn: Connection, roomid: string): Promise<void> {
    if (!conn.rooms.delete(roomid)) return;
    await this.registry.removeFromRoom(roomid, conn);
    if (!this.registry.byRoom.has(roomid)) this.counts.delete(roomid);
  }

  private async handleSend(conn: Connection, identity: Identity, frame: RawFrame): Promise<void> {
    const ref = refOf(frame);
    const text = frame.message;
    if (typeof text !== 'string') return this.sendError(conn, invalid(frame, 'message must be a string'));
    if (text.trim().length === 0) return this.sendError(conn, invalid(frame, 'message must not be empty'));
    if (text.length > this.deps.settings.maxMessageChars) {
      return this.sendError(conn, { code: ErrorCode.TooLarge, message: `message is longer than ${this.deps.settings.maxMessageChars} characters`, ref });
    }
    const id = clientId(frame);
    if (isFrameError(id)) return this.sendError(conn, id);
    if (frame.to !== undefined && frame.to !== null) {
      if (!isValidUid(frame.to)) return this.sendError(conn, invalid(frame, 'to must be a user id'));
      return this.sendDirect(conn, identity, frame.to, text, id);
    }
    let roomid = roomId(frame, false);
    if (isFrameError(roomid)) return this.sendError(conn, roomid);
    if (roomid === undefined) {
      if (conn.rooms.size !== 1) {
        return this.sendError(conn, { code: ErrorCode.AmbiguousRoom, message: 'say which room: this connection is in zero or several rooms', ref });
      }
      roomid = conn.rooms.keys().next().value as string;
    } else if (!conn.rooms.has(roomid)) {
      return this.sendError(conn, { code: ErrorCode.NotMember, message: `join ${roomid} before sending to it`, ref });
    }
    const { store, bus } = this.deps;
    if (id !== undefined) {
      const before = await store.acceptedId(identity.uid, id);
      if (before) return this.send(conn, { event: ServerEvent.Ack, id, ...before, duplicate: true });
    }
    const stored = await store.append({
      event: ServerEvent.Message,
      id: id ?? uuidv4(),
      roomid,
      ts: Date.now(),
      uid: identity.uid,
      name: identity.name,
      message: text,
    });
    if (id !== undefined) await store.rememberId(identity.uid, id, { roomid, seq: stored.seq, ts: stored.ts });
    const counts = this.counts.get(roomid);
    const wire: ChatMessage = counts ? { ...stored, num: counts.num, total: counts.total } : stored;
    await bus.publish({ topic: roomTopic(roomid), kind: EnvelopeKind.Message, text: JSON.stringify(wire), roomid, seq: stored.seq });
    if (id !== undefined) this.send(conn, { event: ServerEvent.Ack, id, roomid, seq: stored.seq, ts: stored.ts });
  }

  private async sendDirect(conn: Connection, identity: Identity, to: string, text: string, id: string | undefined): Promise<void> {
    const { store, bus } = this.deps;
    if (id !== undefined) {
      const before = await store.acceptedId(identity.uid, id);
      if (before) return this.send(conn, { event: ServerEvent.Ack, id, ...before, duplicate: true });
    }
    const roomid = directRoomId(identity.uid, to);
    const { message, queued, published } = await store.appendDirect(
      { event: ServerEvent.Message, id: id ?? uuidv4(), roomid, ts: Date.now(), uid: identity.uid, name: identity.name, message: text, to },
      to,
    );
    if (id !== undefined) await store.rememberId(identity.uid, id, { roomid, seq: message.seq, ts: message.ts });
    const envelope = { kind: EnvelopeKind.Message, text: JSON.stringify(message), roomid, seq: message.seq };
    if (!queued && !published && to !== identity.uid) await bus.publish({ ...envelope, topic: userTopic(to) });
    await bus.publish({ ...envelope, topic: userTopic(identity.uid) });
    if (id !== undefined) this.send(conn, { event: ServerEvent.Ack, id, roomid, seq: message.seq, ts: message.ts });
  }

  private async handleMembers(conn: Connection, identity: Identity, frame: RawFrame): Promise<void> {
    const roomid = roomId(frame, true);
    if (isFrameError(roomid) || roomid === undefined) return this.sendError(conn, roomid ?? invalid(frame, 'roomid is required'));
    const { store } = this.deps;
    if (!(await store.isMember(roomid, identity.uid))) {
      return this.sendError(conn, { code: ErrorCode.NotMember, message: `not a member of ${roomid}`, ref: refOf(frame) });
    }
    const members = await store.members(roomid);
    const num = members.filter((m) => m.online).length;
    this.send(conn, { event: ServerEvent.Members, roomid, members, num, total: members.length, ref: refOf(frame) });
  }

  private async handleHistory(conn: Connection, identity: Identity, frame: RawFrame): Promise<void> {
    const roomid = roomId(frame, true);
    if (isFrameError(roomid) || roomid === undefined) return this.sendError(conn, roomid ?? invalid(frame, 'roomid is required'));
    const before = optionalSeq(frame, 'before');
    if (isFrameError(before)) return this.sendError(conn, before);
    const after = optionalSeq(frame, 'after');
    if (isFrameError(after)) return this.sendError(conn, after);
    const limit = optionalSeq(frame, 'limit');
    if (isFrameError(limit)) return this.sendError(conn, limit);
    const { store } = this.deps;
    if (!(await store.isMember(roomid, identity.uid))) {
      return this.sendError(conn, { code: ErrorCode.NotMember, message: `not a member of ${roomid}`, ref: refOf(frame) });
    }
    if (limit !== undefined && (limit < 1 || limit > HISTORY_PAGE_MAX)) {
      return this.sendError(conn, invalid(frame, `limit must be 1-${HISTORY_PAGE_MAX}`));
    }
    if (after !== undefined && before !== undefined && before <= after + 1) {
      return this.sendError(conn, invalid(frame, 'before must be above after + 1: nothing lies between them'));
    }
    const count = limit ?? HISTORY_PAGE_DEFAULT;
    const slice = after !== undefined ? await store.readAfter(roomid, after, count, before) : await store.readBefore(roomid, before, count);
    this.send(conn, { event: ServerEvent.History, roomid, messages: slice.messages as ChatMessage[], gap: slice.gap, lastSeq: slice.lastSeq, ref: refOf(frame) });
  }

  private presence(
    event: ServerEvent.Login | ServerEvent.Logout,
    identity: Identity,
    roomid: string,
    counts: RoomCounts,
    reason?: PresenceEvent['reason'],
  ): string {
    const frame: PresenceEvent = { event, name: identity.name, uid: identity.uid, roomid, num: counts.num, total: counts.total };
    if (reason) frame.reason = reason;
    return JSON.stringify(frame);
  }

  // ------------------------------------------------------------------------------------------
  // Disconnect and heartbeat

  private async detach(conn: Connection, clean: boolean, reason: CloseReason): Promise<void> {
    const identity = conn.identity;
    if (!identity) return;
    const { store, bus } = this.deps;
    if (conn.userConnected) {
      // The store first: from then on a direct message for this user is queued, and one sent just
      // before still reaches this node's subscription (closed connection → requeueDirect).
      await store.disconnectUser(identity.uid, conn.id);
      await this.registry.removeUser(identity.uid, conn);
    }
    for (const [roomid, sub] of [...conn.rooms]) {
      await this.dropRoom(conn, roomid);
      // After an abrupt end, only what the client confirmed with a pong surely arrived.
      const cursor = clean ? sub.lastSeq : sub.confirmedSeq;
      const result = await store.disconnect(roomid, identity.uid, conn.id, cursor);
      if (this.registry.byRoom.has(roomid)) this.counts.set(roomid, result);
      if (result.wentOffline) {
        const notice = this.presence(ServerEvent.Logout, identity, roomid, result, reason);
        await bus.publish({ topic: roomTopic(roomid), kind: EnvelopeKind.Notice, text: notice, roomid, num: result.num, total: result.total });
      }
    }
  }

  private sweep(): void {
    for (const conn of this.registry.all) {
      if (!conn.alive) {
        conn.terminatedForSilence = true;
        this.stats.heartbeatTerminations += 1;
        conn.transport.terminate();
        continue;
      }
      conn.alive = false;
      for (const sub of conn.rooms.values()) sub.pingSeq = sub.lastSeq;
      conn.transport.send(PING_TEXT);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Fan-out: the hot path

  private fanOut(envelope: Envelope): void {
    const observe = this.deps.observeFanOut;
    if (!observe) return this.fanOutTo(envelope);
    const started = performance.now();
    const before = this.stats.deliveries;
    this.fanOutTo(envelope);
    observe((performance.now() - started) / 1000, this.stats.deliveries - before);
  }

  private fanOutTo(envelope: Envelope): void {
    let prepared: unknown;
    const prepare = (): unknown => (prepared ??= this.deps.prepare(envelope.text));
    if (envelope.kind === EnvelopeKind.Notice && envelope.roomid !== undefined && envelope.num !== undefined) {
      if (this.registry.byRoom.has(envelope.roomid)) this.counts.set(envelope.roomid, { num: envelope.num, total: envelope.total! });
    }
    const topic = envelope.topic;
    if (topic.startsWith('room:')) {
      const conns = this.registry.byRoom.get(envelope.roomid ?? topic.slice(5));
      if (conns) for (const conn of conns) this.deliver(conn, envelope, prepare);
    } else {
      const uid = topic.slice(5);
      const conns = this.registry.byUser.get(uid);
      if (envelope.kind === EnvelopeKind.Message && !hasOpen(conns)) {
        void this.requeueDirect(uid, envelope, conns);
        return;
      }
      if (!conns) return;
      if (envelope.kind === EnvelopeKind.LeftRoom) {
        for (const conn of conns) void this.leftElsewhere(conn, envelope.roomid!);
        return;
      }
      for (const conn of conns) this.sendPayload(conn, prepare());
    }
  }

  private deliver(conn: Connection, envelope: Envelope, prepare: (() => unknown) | undefined): void {
    const sub = conn.rooms.get(envelope.roomid!);
    if (!sub) return;
    // Nothing reaches a closing socket: its seq must not count as sent, or the offline cursor
    // written when it is gone would skip this message.
    if (!conn.open) {
      this.stats.droppedSends += 1;
      return;
    }
    if (sub.pending) {
      sub.pending.push(envelope);
      return;
    }
    if (envelope.kind === EnvelopeKind.Message) {
      // Already sent by a replay, or delivered twice by the bus.
      if (envelope.seq! <= sub.lastSeq) return;
      sub.lastSeq = envelope.seq!;
    }
    if (prepare) this.sendPayload(conn, prepare());
    else this.sendText(conn, envelope.text);
  }

  /**
   * A live direct message for `uid` found no open connection on this node: it was sent while their
   * connection here was closing (the store still counted it). Queue it, unless they are online
   * elsewhere and got it there.
   */
  private async requeueDirect(uid: string, envelope: Envelope, closing: Set<Connection> | undefined): Promise<void> {
    let message: StoredMessage;
    try {
      message = JSON.parse(envelope.text) as StoredMessage;
    } catch {
      return;
    }
    // The sender's own copy: their other devices have the conversation's history.
    if (message.to !== uid) return;
    try {
      // After the store has let go of the closing connections, else it still counts them online.
      if (closing) await Promise.all([...closing].map((conn) => conn.whenDetached()));
      await this.deps.store.queueDirect(uid, message);
    } catch (err) {
      this.deps.logger.warn('could not queue a direct message for an offline user', { uid, roomid: message.roomid, seq: message.seq, err: String(err) });
    }
  }

  private async leftElsewhere(conn: Connection, roomid: string): Promise<void> {
    if (!conn.rooms.has(roomid)) return;
    await this.dropRoom(conn, roomid);
    this.send(conn, { event: ServerEvent.Left, roomid });
  }

  // ------------------------------------------------------------------------------------------
  // Sending

  private send(conn: Connection, frame: ServerFrame): void {
    this.sendText(conn, JSON.stringify(frame));
  }

  private sendError(conn: Connection, error: FrameError): void {
    this.stats.errors[error.code] = (this.stats.errors[error.code] ?? 0) + 1;
    const frame: ServerFrame = { event: ServerEvent.Error, code: error.code, message: error.message };
    if (error.ref !== undefined) frame.ref = error.ref;
    this.send(conn, frame);
  }

  private sendText(conn: Connection, text: string): void {
    if (conn.closed) {
      this.stats.droppedSends += 1;
      return;
    }
    conn.transport.send(text);
    this.afterSend(conn);
  }

  private sendPayload(conn: Connection, payload: unknown): void {
    if (conn.closed) {
      this.stats.droppedSends += 1;
      return;
    }
    conn.transport.sendPrepared(payload);
    this.afterSend(conn);
  }

  private afterSend(conn: Connection): void {
    this.stats.deliveries += 1;
    if (conn.transport.bufferedAmount > this.deps.settings.sendBufferLimitBytes && !conn.slowClosed) {
      conn.slowClosed = true;
      this.stats.slowConsumerCloses += 1;
      this.deps.logger.warn('slow consumer closed', { conn: conn.id, buffered: conn.transport.bufferedAmount });
      conn.transport.close(CloseCode.SlowConsumer, 'reading too slowly');
    }
  }
}

export type { StoredMessage };
