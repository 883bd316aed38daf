import type { ChatMessage, HistoryEvent, JoinedEvent, RoomSummary } from '@chatroom/server/protocol';
import WebSocket, { type ClientOptions } from 'ws';
import { ChatClient, type ChatClientOptions } from '../../src/lib/chat-client';
import type { ConnectionState } from '../../src/lib/connection-state';
import type { OutgoingMessage } from '../../src/lib/outbox';
import { type Session, SessionStore } from '../../src/lib/session';
import { type KeyValueStorage, MemoryStorage, userStorage } from '../../src/lib/storage';
import { type WebSocketConstructor, WebSocketTransport } from '../../src/lib/web-socket-transport';
import { nodePost } from './node-http';

export interface LibClientOptions {
  /** Where the socket goes (the server, or a proxy in front of it). */
  wsUrl: string;
  /** Where /api/login goes. */
  httpUrl: string;
  ca: string | undefined;
  name: string;
  storage?: KeyValueStorage;
  /** A session already in storage (a returning user), e.g. with an expired token. */
  session?: Session;
  client?: Partial<ChatClientOptions>;
}

/** The mobile chat client as the app builds it, but with a `ws` transport, recording what it emits. */
export class LibClient {
  readonly messages: ChatMessage[] = [];
  readonly states: ConnectionState[] = [];
  readonly outbox: OutgoingMessage[] = [];
  readonly joined: JoinedEvent[] = [];
  readonly gaps: string[] = [];
  readonly logins: unknown[] = [];
  readonly histories: HistoryEvent[] = [];
  readonly rooms: RoomSummary[][] = [];
  readonly sessions: SessionStore;
  /** The phone's storage; the client keeps the signed-in user's part of it, as the app does. */
  readonly storage: KeyValueStorage;
  private instance: ChatClient | undefined;

  constructor(private readonly options: LibClientOptions) {
    this.storage = options.storage ?? new MemoryStorage();
    if (options.session) this.storage.set('chat.session', options.session);
    this.sessions = new SessionStore(
      this.storage,
      nodePost(options.ca, (_url, body) => this.logins.push(body)),
      options.httpUrl,
    );
  }

  /** The client of the signed-in user (made on first use, after the login). */
  get client(): ChatClient {
    if (this.instance) return this.instance;
    const uid = this.sessions.uid();
    if (!uid) throw new Error('LibClient: sign in before using the client');
    const transport = new WebSocketTransport(WebSocket as unknown as WebSocketConstructor<ClientOptions>, { ca: this.options.ca });
    this.instance = new ChatClient({
      url: this.options.wsUrl,
      transport,
      auth: this.sessions,
      storage: userStorage(this.storage, uid),
      backoff: { baseMs: 100, capMs: 1_000 },
      ...this.options.client,
    });
    this.wire(this.instance);
    return this.instance;
  }

  private wire(client: ChatClient): void {
    client.on('message', (m) => this.messages.push(m));
    client.on('state', (s) => this.states.push(s));
    client.on('outbox', (m) => this.outbox.push(m));
    client.on('joined', (j) => this.joined.push(j));
    client.on('gap', (g) => this.gaps.push(g.roomid));
    client.on('history', (h) => this.histories.push(h));
    client.on('rooms', (r) => this.rooms.push(r));
  }

  /** Texts of every history page of a room (older messages, and a new device's first look). */
  historyTexts(roomid: string): string[] {
    return this.histories.filter((h) => h.roomid === roomid).flatMap((h) => h.messages.map((m) => m.message));
  }

  /** A `rooms` request and its reply: every request the client sent before it has been answered. */
  async roundTrip(): Promise<void> {
    const before = this.rooms.length;
    this.client.requestRooms();
    await this.waitFor(() => this.rooms.length > before, 'the rooms reply');
  }

  texts(roomid: string): string[] {
    return this.messages.filter((m) => m.roomid === roomid).map((m) => m.message);
  }

  async login(name: string): Promise<Session> {
    return this.sessions.login(name, '#07c160');
  }

  async waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; state ${JSON.stringify(this.client.state)}, messages ${JSON.stringify(this.messages.map((m) => m.message))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  online(): Promise<true> {
    return this.waitFor(() => this.client.state.status === 'online', 'online');
  }

  /** Waits until the room is joined on the current socket (a `joined` after `since`). */
  async joinedRoom(roomid: string, after = 0): Promise<JoinedEvent> {
    return this.waitFor(() => this.joined.slice(after).find((j) => j.roomid === roomid), `joined ${roomid}`);
  }

  stop(): void {
    this.instance?.stop();
  }
}
