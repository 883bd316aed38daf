/**
 * The chat service, free of any runtime. Adapters (node/, deno/) own sockets and HTTP and call
 * open / receive / closed; this file routes each frame to its handler (handlers/, one file per
 * concern) and runs what belongs to no single frame: the auth timeout, the heartbeat sweep, the
 * cleanup after a socket closes, and shutdown.
 *
 * Where things happen: a message's seq is assigned by the room log (room-log.ts and its backends),
 * which also fans it out; this node hands it to its sockets in fan-out.ts; a connection's cursors
 * move only in subscription.ts.
 */

import { v4 as uuidv4 } from 'uuid';
import { ClientEvent, type ClientFrame, CloseCode, ErrorCode, HEARTBEAT_PING, HEARTBEAT_PONG, PROTOCOL_VERSION, ServerEvent } from '../protocol.ts';
import { AdmissionControl, type Refusal } from './admission.ts';
import type { Authenticator, Identity, VerifyResult } from './auth.ts';
import type { Bus } from './bus.ts';
import type { CoreContext, CoreCounters, CoreSettings } from './context.ts';
import { type DirectMessageEnvelope, EnvelopeKind } from './envelope.ts';
import { FanOut } from './fan-out.ts';
import { createFrameParser, type FrameParser, isFrameError, refOfText } from './frames.ts';
import { attachUser, handleAuth } from './handlers/auth.ts';
import { handleAdmin, handleCreate, handleGroup, handleLink, handleMember, handleMute, handleRevoke, handleUpdate } from './handlers/group.ts';
import { handleJoin } from './handlers/join.ts';
import { dropRoom, handleLeave, leftElsewhere } from './handlers/leave.ts';
import { handleRead, handleReaders, handleReceipts, ReadCoalescer } from './handlers/read-state.ts';
import { handleHistory, handleMembers, handleRooms } from './handlers/reads.ts';
import { handleRecall } from './handlers/recall.ts';
import { handleSend } from './handlers/send.ts';
import { handleTyping } from './handlers/typing.ts';
import { HeartbeatWheel } from './heartbeat-wheel.ts';
import { LocalRegistry } from './local-registry.ts';
import type { Logger } from './logger.ts';
import { allowEverything, type ContentModerator } from './moderation.ts';
import { Outbound } from './outbound.ts';
import { KeyedBuckets, TokenBucket } from './rate-limiter.ts';
import type { RoomLog, StoredMessage } from './room-log.ts';
import { type RoomPolicy, rolePolicy } from './room-policy.ts';
import { type EndReason, Session, type Transport } from './session.ts';
import type { ChatStore } from './store.ts';
import { roomTopic } from './topics.ts';
import { presenceWire } from './wire.ts';

export type { CoreSettings };

export interface CoreDeps<P> {
  settings: CoreSettings;
  store: ChatStore;
  log: RoomLog;
  bus: Bus;
  auth: Authenticator;
  logger: Logger;
  /** Makes the payload that Transport.sendPrepared sends, once per fan-out. */
  prepare: (text: string) => P;
  /** Called after each local fan-out with its duration and the sockets it reached (for /metrics). */
  observeFanOut?: (seconds: number, recipients: number) => void;
  /** Checks user-supplied text before it is stored (default: allows everything). */
  moderator?: ContentModerator;
  /** Who may recall whose messages and mention everyone (default: rolePolicy, by the room's roles). */
  policy?: RoomPolicy;
}

export interface CoreStats {
  connections: number;
  authenticated: number;
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

const PING_TEXT = JSON.stringify({ event: ServerEvent.Heartbeat, message: HEARTBEAT_PING });
/** How often all connections' unread output is added up against OUTPUT_MAX_BYTES. */
const OUTPUT_CHECK_MS = 250;
const HOUR_SECONDS = 3600;
const EXPIRED_AUTH = 'please auth again, your token is expired!';

export class ChatCore<P = unknown> {
  readonly registry: LocalRegistry<P>;
  private readonly ctx: CoreContext<P>;
  private readonly out: Outbound<P>;
  private readonly admission: AdmissionControl;
  private readonly parse: FrameParser;
  private readonly heartbeat: HeartbeatWheel<Session<P>>;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private outputTimer: ReturnType<typeof setInterval> | undefined;
  private nextSessionId = 0;
  private readonly nodeId = uuidv4().slice(0, 8);
  private shuttingDown = false;
  private onDrained: (() => void) | undefined;
  private readonly counters: CoreCounters = { authenticated: 0, messagesIn: 0, heartbeatTerminations: 0, authFailures: 0, rateLimitedFrames: 0 };

  constructor(private readonly deps: CoreDeps<P>) {
    this.registry = new LocalRegistry<P>(deps.bus);
    this.out = new Outbound(deps.prepare, deps.settings.sendBufferLimitBytes, deps.settings.drainTimeoutMs, deps.logger);
    this.admission = new AdmissionControl(deps.settings);
    this.parse = createFrameParser(deps.settings);
    this.heartbeat = new HeartbeatWheel(deps.settings.heartbeatIntervalMs);
    const ctx: CoreContext<P> = {
      settings: deps.settings,
      store: deps.store,
      log: deps.log,
      bus: deps.bus,
      auth: deps.auth,
      logger: deps.logger,
      registry: this.registry,
      out: this.out,
      counters: this.counters,
      quotas: {
        frames: new KeyedBuckets(deps.settings.userRatePerSec, deps.settings.userRateBurst),
        roomsCreated: new KeyedBuckets(deps.settings.roomsCreatedPerHour / HOUR_SECONDS, deps.settings.roomsCreatedPerHour),
        directPeers: new KeyedBuckets(deps.settings.directPeersPerHour / HOUR_SECONDS, deps.settings.directPeersPerHour),
      },
      moderator: deps.moderator ?? allowEverything,
      policy: deps.policy ?? rolePolicy,
      reads: new ReadCoalescer<P>(deps.settings.readCoalesceMs),
      fanOut: new FanOut(this.registry, this.out, {
        requeueDirect: (uid, envelope, closing) => void this.requeueDirect(uid, envelope, closing),
        leftElsewhere: (session, envelope) => void leftElsewhere(ctx, session, envelope),
        observe: deps.observeFanOut,
      }),
    };
    this.ctx = ctx;
    deps.bus.onEnvelope(ctx.fanOut.handle);
  }

  get stats(): CoreStats {
    const { deliveries, slowConsumerCloses, droppedSends, errors } = this.out.stats;
    return { connections: this.registry.all.size, ...this.counters, deliveries, slowConsumerCloses, droppedSends, errors };
  }

  /** All connections' unread output now, in bytes (for /metrics: a scrape is rare, so all are added up). */
  get unreadOutputBytes(): number {
    let total = 0;
    for (const session of this.registry.all) total += session.transport.bufferedAmount;
    return total;
  }

  start(): void {
    this.heartbeatTimer = setInterval(() => this.sweep(), this.heartbeat.tickMs);
    this.outputTimer = setInterval(() => this.boundOutput(), OUTPUT_CHECK_MS);
    this.outputTimer.unref?.();
  }

  verifyToken(token: string): VerifyResult {
    const result = this.deps.auth.verify(token);
    if (!result.ok) this.counters.authFailures += 1;
    return result;
  }

  // ------------------------------------------------------------------------------------------
  // Adapter entry points

  /** Asked before an upgrade: may `address` open another socket now? */
  admit(address: string): Refusal | undefined {
    return this.admission.admit(address);
  }

  /** A socket opened. `identity` is set when the upgrade URL carried a valid token. */
  open(transport: Transport<P>, remoteAddress: string, options: { identity?: Identity; welcome?: boolean } = {}): Session<P> {
    const { settings } = this.deps;
    const session = new Session<P>(
      `${this.nodeId}-${(this.nextSessionId += 1)}`,
      transport,
      new TokenBucket(settings.rateLimitPerSec, settings.rateLimitBurst),
      remoteAddress,
    );
    this.registry.all.add(session);
    this.heartbeat.add(session);
    this.admission.opened(remoteAddress);
    if (options.welcome) {
      this.out.send(session, {
        event: ServerEvent.Welcome,
        protocol: PROTOCOL_VERSION,
        heartbeatMs: settings.heartbeatIntervalMs,
        recallWindowMs: settings.recallWindowMs,
        ...(options.identity ? { uid: options.identity.uid, name: options.identity.name } : {}),
      });
    }
    const identity = options.identity;
    if (identity) {
      this.enqueue(session, undefined, () => attachUser(this.ctx, session, identity));
    } else {
      session.armAuthTimeout(settings.authTimeoutMs, () => transport.close(CloseCode.AuthTimeout, 'no auth in time'));
    }
    return session;
  }

  receive(session: Session<P>, text: string, isBinary: boolean): void {
    if (session.closed || session.slow) return;
    const admission = session.admit((uid) => this.ctx.quotas.frames.take(uid));
    if (isBinary) {
      this.out.error(session, { code: ErrorCode.BinaryFrame, message: 'binary frames are not supported; send JSON text' });
      return;
    }
    if (admission !== 'accept') {
      this.counters.rateLimitedFrames += 1;
      if (admission === 'close') session.transport.close(CloseCode.RateLimited, 'rate limit exceeded');
      // Every refusal names its request, so a client knows what to send again.
      else this.out.error(session, { code: ErrorCode.RateLimited, message: 'too many frames; slow down', ref: refOfText(text) });
      return;
    }
    const frame = this.parse(text);
    if (isFrameError(frame)) return this.out.error(session, frame);
    if (frame.event === ClientEvent.Heartbeat) {
      if (frame.message === HEARTBEAT_PONG) session.ponged();
      return;
    }
    this.counters.messagesIn += 1;
    // While the backend is slow, a connection's frames wait here: bounded, the rest refused at once.
    if (session.queued >= this.deps.settings.queuedFramesPerConnection) {
      return this.out.error(session, {
        code: ErrorCode.Unavailable,
        message: 'too many of your requests are waiting for the server; not accepted, send it again',
        ref: frame.id,
      });
    }
    this.enqueue(session, frame, () => this.dispatch(session, frame));
  }

  /** The socket closed. `clean` when the client sent a close frame: it read everything before it. */
  closed(session: Session<P>, clean: boolean): void {
    if (!session.end()) return;
    this.registry.all.delete(session);
    this.heartbeat.delete(session);
    this.admission.closed(session.remoteAddress);
    if (this.registry.all.size === 0) this.onDrained?.();
    const reason: EndReason = session.silent ? 'timeout' : 'close';
    // After the frames already received: a message sent just before closing is still accepted.
    session.enqueue(
      () => this.detach(session, clean, reason).finally(() => session.markDetached()),
      (err) => {
        this.deps.logger.error('cleanup failed', { conn: session.id, err: String(err) });
        session.markDetached();
      },
    );
  }

  /**
   * Graceful shutdown: every socket is closed with 1001; resolves once each has finished its
   * closing handshake and its queued frames (the adapter bounds how long that may take).
   */
  async shutdown(reason = 'server shutting down'): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.outputTimer);
    const sessions = [...this.registry.all];
    const allClosed = new Promise<void>((resolve) => {
      this.onDrained = resolve;
      if (this.registry.all.size === 0) resolve();
    });
    for (const session of sessions) session.transport.close(CloseCode.GoingAway, reason);
    await allClosed;
    await Promise.all(sessions.map((session) => session.whenDetached()));
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  // ------------------------------------------------------------------------------------------
  // Routing

  private enqueue(session: Session<P>, frame: ClientFrame | undefined, task: () => Promise<void>): void {
    session.enqueue(task, (err: unknown) => {
      this.deps.logger.error('frame failed', { conn: session.id, event: frame?.event, err: String(err) });
      this.out.error(session, {
        code: ErrorCode.Unavailable,
        message: 'the server could not complete this request; it was not accepted, send it again',
        ref: frame?.id,
      });
    });
  }

  private async dispatch(session: Session<P>, frame: ClientFrame): Promise<void> {
    const ctx = this.ctx;
    if (frame.event === ClientEvent.Auth) return handleAuth(ctx, session, frame);
    const identity = session.identity;
    if (!identity) {
      this.out.send(session, { event: ServerEvent.NoAuth, message: 'please auth first', ref: frame.id });
      return;
    }
    if (identity.expiresAt <= Date.now()) {
      this.out.send(session, { event: ServerEvent.NoAuth, message: EXPIRED_AUTH, ref: frame.id });
      return;
    }
    // A frame may repeat the token's uid and name (the course's client does) but never claim others.
    if ((frame.uid !== undefined && frame.uid !== identity.uid) || (frame.name !== undefined && frame.name !== identity.name)) {
      return this.out.error(session, {
        code: ErrorCode.ForgedIdentity,
        message: `this connection is ${identity.name} (${identity.uid}); a frame cannot speak as anyone else`,
        ref: frame.id,
      });
    }
    switch (frame.event) {
      case ClientEvent.Login:
      case ClientEvent.Join:
        return handleJoin(ctx, session, frame);
      case ClientEvent.Leave:
        return handleLeave(ctx, session, frame);
      case ClientEvent.Message:
        return handleSend(ctx, session, frame);
      case ClientEvent.Members:
        return handleMembers(ctx, session, frame);
      case ClientEvent.Rooms:
        return handleRooms(ctx, session, frame);
      case ClientEvent.History:
        return handleHistory(ctx, session, frame);
      case ClientEvent.Create:
        return handleCreate(ctx, session, frame);
      case ClientEvent.Group:
        return handleGroup(ctx, session, frame);
      case ClientEvent.Update:
        return handleUpdate(ctx, session, frame);
      case ClientEvent.Invite:
      case ClientEvent.Kick:
      case ClientEvent.Ban:
      case ClientEvent.Unban:
      case ClientEvent.Transfer:
        return handleMember(ctx, session, frame);
      case ClientEvent.Mute:
        return handleMute(ctx, session, frame);
      case ClientEvent.Admin:
        return handleAdmin(ctx, session, frame);
      case ClientEvent.Link:
        return handleLink(ctx, session, frame);
      case ClientEvent.Revoke:
        return handleRevoke(ctx, session, frame);
      case ClientEvent.Recall:
        return handleRecall(ctx, session, frame);
      case ClientEvent.Typing:
        return handleTyping(ctx, session, frame);
      case ClientEvent.Read:
        return handleRead(ctx, session, frame);
      case ClientEvent.Receipts:
        return handleReceipts(ctx, session, frame);
      case ClientEvent.Readers:
        return handleReaders(ctx, session, frame);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Disconnect and heartbeat

  private async detach(session: Session<P>, clean: boolean, reason: EndReason): Promise<void> {
    const identity = session.identity;
    if (!identity) return;
    const { store, bus } = this.deps;
    // A read cursor still waiting for its coalescing window is saved now.
    await this.ctx.reads.flush(this.ctx, session);
    if (session.onlineInStore) {
      // The store first: from then on a direct message for this user is queued, and one sent just
      // before still reaches this node's subscription (closing connection → requeueDirect).
      await store.disconnectUser(identity.uid, session.id);
      await this.registry.removeUser(identity.uid, session);
    }
    for (const sub of [...session.subscriptions]) {
      await dropRoom(this.ctx, session, sub.roomid);
      // After an abrupt end, only what the client confirmed with a pong surely arrived.
      const result = await store.disconnect(sub.roomid, identity.uid, session.id, sub.cursorOnClose(clean));
      if (result.wentOffline) {
        const text = presenceWire(ServerEvent.Logout, identity, sub.roomid, result, reason);
        await bus.publish({ kind: EnvelopeKind.Notice, topic: roomTopic(sub.roomid), text });
      }
    }
  }

  /** One tick of the heartbeat: a slot's share of the connections (heartbeat-wheel.ts). */
  private sweep(): void {
    for (const session of this.heartbeat.tick()) {
      if (!session.sweep()) {
        this.counters.heartbeatTerminations += 1;
        session.transport.terminate();
        continue;
      }
      this.out.ping(session, PING_TEXT);
    }
  }

  /**
   * Each connection's unread output is bounded on every send (SEND_BUFFER_LIMIT_BYTES); this bounds
   * them all together: past OUTPUT_MAX_BYTES, the connections with the largest backlogs are closed
   * as slow consumers until the rest fits.
   */
  private boundOutput(): void {
    let total = 0;
    const backlogs: [number, Session<P>][] = [];
    // Only connections written to since the last check, or with output unread then (outbound.ts).
    for (const session of this.out.takeWatched()) {
      if (session.closed || session.slow) continue;
      const buffered = session.transport.bufferedAmount;
      if (buffered === 0) continue;
      this.out.watch(session);
      total += buffered;
      backlogs.push([buffered, session]);
    }
    if (total <= this.deps.settings.outputMaxBytes) return;
    backlogs.sort((a, b) => b[0] - a[0]);
    for (const [buffered, session] of backlogs) {
      if (total <= this.deps.settings.outputMaxBytes) break;
      this.out.closeSlow(session);
      total -= buffered;
    }
  }

  /**
   * A live direct message for `uid` found no open connection on this node: it was sent while their
   * connection here was closing (the store still counted it). Queue it, unless they are online
   * elsewhere and got it there.
   */
  private async requeueDirect(uid: string, envelope: DirectMessageEnvelope, closing: Set<Session<P>> | undefined): Promise<void> {
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
      if (closing) await Promise.all([...closing].map((session) => session.whenDetached()));
      await this.deps.store.queueDirect(uid, message);
    } catch (err) {
      this.deps.logger.warn('could not queue a direct message for an offline user', { uid, roomid: message.roomid, seq: message.seq, err: String(err) });
    }
  }
}
