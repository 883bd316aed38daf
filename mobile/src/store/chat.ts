import { reactive, shallowRef } from 'vue';
import { ChatClient } from '../lib/chat-client';
import type { ConnectionState } from '../lib/connection-state';
import { ConversationList } from '../lib/conversations';
import { resolveEndpoints, type Endpoints } from '../lib/endpoints';
import { SessionStore, type Session } from '../lib/session';
import { uniPost } from '../lib/uni-http';
import { UniSocketTransport } from '../lib/uni-socket-transport';
import { UniStorage } from '../lib/uni-storage';

const storage = new UniStorage();
/** A server typed in on the login page; only offered when the build names none (see needsServerAddress). */
const SERVER_KEY = 'chat.server';

function pageOrigin(): { protocol: string; host: string } | undefined {
  return typeof location !== 'undefined' && /^https?:$/.test(location.protocol) ? location : undefined;
}

function endpoints(): Endpoints {
  const typed = storage.get<string>(SERVER_KEY);
  if (typed) return resolveEndpoints({ wsUrl: typed });
  return resolveEndpoints({ wsUrl: import.meta.env.VITE_WS_URL, apiUrl: import.meta.env.VITE_API_URL }, pageOrigin());
}

/** The mini-program built without VITE_WS_URL has no server to talk to until one is typed in. */
export function needsServerAddress(): boolean {
  return !import.meta.env.VITE_WS_URL && !pageOrigin();
}

export function typedServer(): string {
  return storage.get<string>(SERVER_KEY) ?? '';
}

let sessionStore: SessionStore | undefined;
function sessions(): SessionStore {
  sessionStore ??= new SessionStore(storage, uniPost, () => endpoints().apiBase);
  return sessionStore;
}

/** The app's one chat client and what the pages render, reactive. */
export const chat = reactive({
  state: { status: 'offline', reason: 'stopped' } as ConnectionState,
  list: new ConversationList('', ''),
  session: undefined as Session | undefined,
});

export const client = shallowRef<ChatClient>();

export function currentSession(): Session | undefined {
  return sessions().value;
}

export async function login(name: string, color: string, server?: string): Promise<void> {
  if (server !== undefined) {
    const wsUrl = server.trim();
    if (!/^wss?:\/\/[^/\s]+/.test(wsUrl)) throw new Error('服务器地址应以 wss:// 开头');
    storage.set(SERVER_KEY, wsUrl);
  }
  await sessions().login(name, color);
  startChat();
}

export function logout(): void {
  client.value?.stop();
  client.value = undefined;
  sessions().logout();
  chat.session = undefined;
}

/** Starts the socket for the stored session (idempotent). False when nobody is signed in. */
export function startChat(): boolean {
  const session = sessions().value;
  if (!session) return false;
  if (client.value && chat.session?.uid === session.uid) return true;
  client.value?.stop();
  chat.session = session;
  chat.list = new ConversationList(session.uid, session.name);
  const list = chat.list;
  const instance = new ChatClient({
    url: endpoints().wsUrl,
    transport: new UniSocketTransport(uni.connectSocket),
    auth: sessions(),
    storage,
  });
  instance.on('state', (state) => (chat.state = state));
  instance.on('authed', (authed) => {
    list.selfUid = authed.uid;
    list.selfName = authed.name;
    chat.session = sessions().value;
  });
  instance.on('message', (m) => list.addMessage(m));
  instance.on('outbox', (m) => list.updateOutgoing(m));
  instance.on('presence', (p) => list.presence(p));
  instance.on('joined', (j) => list.joined(j));
  instance.on('gap', ({ roomid }) => list.gap(roomid));
  instance.on('rooms', (rooms) => list.rooms(rooms));
  instance.on('members', (m) => list.members(m));
  instance.on('history', (h) => list.history(h));
  for (const roomid of instance.joinedRooms) list.ensure(roomid);
  client.value = instance;
  instance.start();
  return true;
}
