/**
 * Wire dialects: how a member logs in, joins a room, publishes and keeps its connection alive on
 * each server under test. Deliveries themselves are recognised by a marker in the message text and
 * never go through here (see loadgen.ts); these handle the rare control frames.
 */
import type { RawWebSocket } from './wsclient.ts';

/** What a dialect needs from a member connection. */
export interface DialectMember {
  ws: RawWebSocket;
  name: string;
  room: string;
  token?: string;
  /** The id the server knows this member by: the login's uid, else the name. */
  uid: string;
  /** Direct messages: the partner's uid; the member joins no room and publishes to the partner. */
  readonly peerUid?: string;
  acks: number;
  errors: number;
  errorCodes: Map<string, number>;
  /** Resolves a pending expect(kind). */
  signal(kind: string, detail?: unknown): void;
  expect(kind: string, timeoutMs: number): Promise<unknown>;
}

export interface Dialect {
  readonly name: string;
  /** Logs in over HTTP first (POST /api/login). */
  readonly login: boolean;
  /** Speaks direct messages (SessionOptions.direct). */
  readonly direct: boolean;
  /** The upgrade URL for a member. */
  url(base: URL, member: DialectMember): URL;
  /** After the 101: whatever the server needs before the member is in its room. */
  setup(member: DialectMember, timeoutMs: number): Promise<void>;
  onControl(member: DialectMember, text: string): void;
  publish(member: DialectMember, message: string, id: string): void;
  /** Sends a read-cursor update for the member's room as far as the room goes (our protocol only). */
  readCursor?(member: DialectMember): void;
}

function eventOf(text: string): string | undefined {
  const at = text.indexOf('"event":"');
  if (at < 0) return undefined;
  const from = at + 9;
  return text.slice(from, text.indexOf('"', from));
}

function countError(m: DialectMember, key: string): void {
  m.errors++;
  m.errorCodes.set(key, (m.errorCodes.get(key) ?? 0) + 1);
}

/**
 * Our protocol (server/src/protocol.ts): token in the URL, welcome, join → joined, message → ack;
 * a direct message is a message with `to` instead of `roomid`. Without auth (the uWS peer) a member
 * names itself with `?uid=` for direct messages.
 */
export function chatDialect(opts: { auth: boolean }): Dialect {
  return {
    name: opts.auth ? 'chat' : 'chat-noauth',
    login: opts.auth,
    direct: true,
    url(base, m) {
      const u = new URL(base);
      if (m.token) u.searchParams.set('token', m.token);
      else if (m.peerUid !== undefined) u.searchParams.set('uid', m.uid);
      return u;
    },
    async setup(m, timeoutMs) {
      await m.expect('welcome', timeoutMs);
      if (m.peerUid !== undefined) return;
      m.ws.sendText(JSON.stringify({ event: 'join', roomid: m.room, id: `j-${m.name}` }));
      await m.expect('joined', timeoutMs);
    },
    onControl(m, text) {
      switch (eventOf(text)) {
        case 'ack':
          m.acks++;
          return;
        case 'login':
        case 'logout':
        case 'message': // a message without our marker (someone else's traffic)
          return;
        case 'heartbeat':
          if (text.includes('"ping"')) m.ws.sendText('{"event":"heartbeat","message":"pong"}');
          return;
        case 'welcome':
          m.signal('welcome');
          return;
        case 'joined':
          m.signal('joined');
          return;
        case 'noauth':
          countError(m, 'noauth');
          m.signal('welcome', new Error(`noauth: ${text}`));
          return;
        case 'error': {
          let code = 'error';
          try {
            code = String((JSON.parse(text) as { code?: number }).code ?? 'error');
          } catch {
            /* keep generic */
          }
          countError(m, code);
          m.signal('joined', new Error(`error frame: ${text}`));
          return;
        }
        default:
          return;
      }
    },
    publish(m, message, id) {
      const to = m.peerUid === undefined ? `"roomid":${JSON.stringify(m.room)}` : `"to":${JSON.stringify(m.peerUid)}`;
      m.ws.sendText(`{"event":"message",${to},"message":${JSON.stringify(message)},"id":"${id}"}`);
    },
    readCursor(m) {
      // The server caps the cursor at the room's newest seq: "read everything so far".
      m.ws.sendText(`{"event":"read","roomid":${JSON.stringify(m.room)},"seq":${Number.MAX_SAFE_INTEGER}}`);
    },
  };
}

/**
 * The course's naive server: no auth, one room (every client), the client sends
 * `{name, event:"message", message}`, answers `{event:"heartbeat",message:"ping"}` with a pong.
 * Members do not send the course's `login` frame: it would only add N² setup broadcasts.
 */
export function courseDialect(): Dialect {
  return {
    name: 'course',
    login: false,
    direct: false,
    url: (base) => new URL(base),
    async setup() {},
    onControl(m, text) {
      if (text.includes('"heartbeat"') && text.includes('"ping"')) {
        m.ws.sendText('{"event":"heartbeat","message":"pong"}');
      }
    },
    publish(m, message) {
      m.ws.sendText(`{"name":${JSON.stringify(m.name)},"event":"message","message":${JSON.stringify(message)}}`);
    },
  };
}

/**
 * socket.io 4 over the websocket transport only, spoken directly (Engine.IO v4 + socket.io v5
 * packets): `0{..}` open, `40` connect, `2`/`3` ping/pong, `42[..]` events, `43n[..]` acks.
 * Join: `420["join",room]` acknowledged by the server. Direct messages: the member names itself
 * with `?uid=` (the peer puts it in a room of its own) and sends `message` with `to`.
 */
export function socketIoDialect(): Dialect {
  return {
    name: 'socketio',
    login: false,
    direct: true,
    url(base, m) {
      const u = new URL(base);
      u.pathname = '/socket.io/';
      u.searchParams.set('EIO', '4');
      u.searchParams.set('transport', 'websocket');
      if (m.peerUid !== undefined) u.searchParams.set('uid', m.uid);
      return u;
    },
    async setup(m, timeoutMs) {
      await m.expect('open', timeoutMs);
      m.ws.sendText('40');
      await m.expect('connected', timeoutMs);
      if (m.peerUid !== undefined) return;
      m.ws.sendText(`420["join",${JSON.stringify(m.room)}]`);
      await m.expect('joined', timeoutMs);
    },
    onControl(m, text) {
      const c0 = text.charCodeAt(0);
      if (c0 === 0x32 /* 2 */ && text.length === 1) {
        m.ws.sendText('3');
      } else if (c0 === 0x30 /* 0 */) {
        m.signal('open');
      } else if (text.startsWith('40')) {
        m.signal('connected');
      } else if (text.startsWith('43')) {
        m.signal('joined');
      } else if (text.startsWith('44')) {
        countError(m, 'connect_error');
        m.signal('connected', new Error(text));
      }
    },
    publish(m, message, id) {
      const to = m.peerUid === undefined ? `"roomid":${JSON.stringify(m.room)}` : `"to":${JSON.stringify(m.peerUid)}`;
      m.ws.sendText(`42["message",{${to},"message":${JSON.stringify(message)},"id":"${id}"}]`);
    },
  };
}

export function dialectByName(name: string): Dialect {
  switch (name) {
    case 'chat':
      return chatDialect({ auth: true });
    case 'chat-noauth':
      return chatDialect({ auth: false });
    case 'course':
      return courseDialect();
    case 'socketio':
      return socketIoDialect();
    default:
      throw new Error(`unknown protocol "${name}" (chat, chat-noauth, course, socketio)`);
  }
}
