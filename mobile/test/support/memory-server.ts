import type { ChatMessage, ClientFrame, ServerFrame } from '@chatroom/server/protocol';
import type { Socket, SocketHandlers, Transport } from '../../src/lib/transport';

/**
 * A chat server in memory that speaks the wire protocol (server/src/protocol.ts), for unit tests of
 * the client's state machine: no network, no timers of its own beyond "deliver on the next turn",
 * so vitest's fake timers drive everything. It is deliberately small: auth, join with `since`,
 * messages with ack and echo, history pages, rooms, heartbeat; the real server is what the
 * end-to-end tests use.
 */
export class MemoryServer implements Transport {
  /** Every frame clients sent, in order, with the connection number it came on. */
  readonly received: Array<{ conn: number; frame: ClientFrame & Record<string, unknown> }> = [];
  readonly connections: MemoryConnection[] = [];
  readonly rooms = new Map<string, { seq: number; messages: ChatMessage[] }>();
  /** Tokens the server accepts, with their expiry (ms since the epoch). */
  readonly tokens = new Map<string, { uid: string; name: string; expiresAt: number }>();
  epoch = 'epoch-1';
  heartbeatMs = 30_000;
  /** New connections fail at once (the network refuses them). */
  refusing = false;
  /** Called for each frame before the server handles it; return true to swallow it. */
  intercept: ((conn: MemoryConnection, frame: ClientFrame & Record<string, unknown>) => boolean) | undefined;

  open(url: string, handlers: SocketHandlers): Socket {
    const conn = new MemoryConnection(this, this.connections.length + 1, url, handlers);
    this.connections.push(conn);
    setTimeout(() => (this.refusing ? conn.drop(1006) : conn.opened()), 0);
    return conn;
  }

  /** The connection opened last. */
  get last(): MemoryConnection {
    return this.connections[this.connections.length - 1];
  }

  framesOf(event: string): Array<ClientFrame & Record<string, unknown>> {
    return this.received.filter((r) => r.frame.event === event).map((r) => r.frame);
  }

  /** A message from someone else, delivered to every connection in the room. */
  post(roomid: string, text: string, from = { uid: 'u-bob', name: 'bob' }): ChatMessage {
    const room = this.room(roomid);
    room.seq += 1;
    const message: ChatMessage = { event: 'message' as ChatMessage['event'], id: `srv-${this.epoch}-${roomid}-${room.seq}`, roomid, seq: room.seq, ts: Date.now(), ...from, message: text };
    room.messages.push(message);
    for (const conn of this.connections) if (conn.rooms.has(roomid)) conn.push(message);
    return message;
  }

  room(roomid: string): { seq: number; messages: ChatMessage[] } {
    let room = this.rooms.get(roomid);
    if (!room) this.rooms.set(roomid, (room = { seq: 0, messages: [] }));
    return room;
  }

  handle(conn: MemoryConnection, frame: ClientFrame & Record<string, unknown>): void {
    this.received.push({ conn: conn.number, frame });
    if (this.intercept?.(conn, frame)) return;
    const ref = typeof frame.id === 'string' ? frame.id : undefined;
    if (frame.event === 'heartbeat') return;
    if (frame.event === 'auth') {
      const identity = this.tokens.get(String(frame.message));
      if (!identity || identity.expiresAt <= Date.now()) {
        conn.push({ event: 'noauth', message: identity ? 'please auth again, your token is expired!' : 'auth failed', ref } as ServerFrame);
        return;
      }
      conn.identity = identity;
      conn.push({ event: 'authed', uid: identity.uid, name: identity.name, expiresAt: identity.expiresAt, ref } as ServerFrame);
      return;
    }
    if (!conn.identity) {
      conn.push({ event: 'noauth', message: 'please auth first', ref } as ServerFrame);
      return;
    }
    switch (frame.event) {
      case 'join': {
        const roomid = String(frame.roomid);
        const room = this.room(roomid);
        // As the real server: a `since` from another epoch means nothing here, so it replays all.
        const sameEpoch = frame.epoch === undefined || frame.epoch === this.epoch;
        const since = typeof frame.since === 'number' ? (sameEpoch ? frame.since : 0) : undefined;
        const replay = since === undefined ? [] : room.messages.filter((m) => m.seq > since);
        for (const m of replay) conn.push({ ...m, replay: true });
        conn.rooms.add(roomid);
        conn.push({ event: 'joined', roomid, num: 1, total: 1, lastSeq: room.seq, replayed: replay.length, gap: !sameEpoch, epoch: this.epoch, ref } as ServerFrame);
        return;
      }
      case 'leave':
        conn.rooms.delete(String(frame.roomid));
        if (ref) conn.push({ event: 'left', roomid: String(frame.roomid), ref } as ServerFrame);
        return;
      case 'message': {
        const roomid = String(frame.roomid);
        if (!conn.rooms.has(roomid)) {
          conn.push({ event: 'error', code: 4404, message: `join ${roomid} before sending to it`, ref } as ServerFrame);
          return;
        }
        const room = this.room(roomid);
        const existing = room.messages.find((m) => m.id === ref);
        if (existing) {
          conn.push({ event: 'ack', id: existing.id, roomid, seq: existing.seq, ts: existing.ts, duplicate: true } as ServerFrame);
          return;
        }
        room.seq += 1;
        const message: ChatMessage = { event: 'message' as ChatMessage['event'], id: ref ?? `srv-${room.seq}`, roomid, seq: room.seq, ts: Date.now(), uid: conn.identity.uid, name: conn.identity.name, message: String(frame.message) };
        room.messages.push(message);
        for (const other of this.connections) if (other.rooms.has(roomid)) other.push(message);
        if (ref) conn.push({ event: 'ack', id: ref, roomid, seq: message.seq, ts: message.ts } as ServerFrame);
        return;
      }
      case 'rooms':
        conn.push({ event: 'rooms', rooms: [...conn.rooms].map((roomid) => ({ roomid, num: 1, total: 1, lastSeq: this.room(roomid).seq })), ref } as ServerFrame);
        return;
      case 'history': {
        const room = this.room(String(frame.roomid));
        const limit = typeof frame.limit === 'number' ? frame.limit : 50;
        const after = typeof frame.after === 'number' ? frame.after : undefined;
        const before = typeof frame.before === 'number' ? frame.before : Number.POSITIVE_INFINITY;
        const range = room.messages.filter((m) => m.seq < before && (after === undefined || m.seq > after));
        const messages = after !== undefined ? range.slice(0, limit) : range.slice(-limit);
        conn.push({ event: 'history', roomid: String(frame.roomid), messages, gap: false, lastSeq: room.seq, ref } as ServerFrame);
        return;
      }
      default:
        conn.push({ event: 'error', code: 4402, message: 'unknown event', ref } as ServerFrame);
    }
  }
}

export class MemoryConnection implements Socket {
  readonly rooms = new Set<string>();
  identity: { uid: string; name: string; expiresAt: number } | undefined;
  closed = false;
  /** Frames stop getting through both ways while the socket stays "open" (a half-open connection). */
  silent = false;
  closedWith: number | undefined;

  constructor(
    private readonly server: MemoryServer,
    readonly number: number,
    readonly url: string,
    private readonly handlers: SocketHandlers,
  ) {}

  opened(): void {
    if (this.closed) return;
    this.handlers.onOpen();
    if (/[?&]v=1/.test(this.url)) this.push({ event: 'welcome', protocol: 1, heartbeatMs: this.server.heartbeatMs } as ServerFrame);
  }

  /** Server to client, on the next turn. */
  push(frame: ServerFrame): void {
    const text = JSON.stringify(frame);
    setTimeout(() => !this.closed && !this.silent && this.handlers.onMessage(text), 0);
  }

  /** Client to server. */
  send(text: string): void {
    if (this.closed) throw new Error('socket closed');
    if (this.silent) return;
    const frame = JSON.parse(text) as ClientFrame & Record<string, unknown>;
    setTimeout(() => !this.closed && this.server.handle(this, frame), 0);
  }

  /** The client closes it: no close event comes back to a socket closed on purpose... except the transport's own. */
  close(code = 1000): void {
    if (this.closed) return;
    this.closed = true;
    this.closedWith = code;
    setTimeout(() => this.handlers.onClose(code, ''), 0);
  }

  /** The server or the network ends it. */
  drop(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.closedWith = code;
    setTimeout(() => this.handlers.onClose(code, ''), 0);
  }
}
