import type { ReadersEvent } from '@chatroom/server/protocol';
import { reactive, shallowRef } from 'vue';
import { ChatClient } from '../lib/chat-client';
import type { ConnectionState } from '../lib/connection-state';
import { ConversationList } from '../lib/conversations';
import { type Endpoints, resolveEndpoints } from '../lib/endpoints';
import { describeError, describeLoginFailure } from '../lib/error-text';
import { NOT_CONNECTED, RequestFailed } from '../lib/pending-requests';
import { HttpError, type Session, SessionStore } from '../lib/session';
import { forgetOtherUsers, userStorage } from '../lib/storage';
import { uniPost } from '../lib/uni-http';
import { UniSocketTransport } from '../lib/uni-socket-transport';
import { UniStorage } from '../lib/uni-storage';

const storage = new UniStorage();
/** A server typed in on the login page; only offered when the build names none (see needsServerAddress). */
const SERVER_KEY = 'chat.server';
/** Messages per page when scrolling up. */
export const OLDER_PAGE = 50;

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

/** The https origin of the server, which serves the H5 app: invite links point there. */
export function shareOrigin(): string {
  return endpoints().apiBase;
}

/**
 * A request the user made (a group change): its reply, or undefined when it failed. A refusal was
 * toasted already (the client's `error` event, below); without a connection it is toasted here.
 */
export async function attempt<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (err) {
    if (err instanceof RequestFailed && err.code === NOT_CONNECTED) uni.showToast({ title: describeError(NOT_CONNECTED), icon: 'none' });
    return undefined;
  }
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

/** The device's network as last reported, for a client started later. */
const network = { up: true, type: undefined as string | undefined };

export function networkChanged(up: boolean, type?: string): void {
  network.up = up;
  if (type !== undefined) network.type = type;
  client.value?.setNetwork(up, type);
}

export function currentSession(): Session | undefined {
  return sessions().value;
}

/** Signs in; throws an Error whose message is for the user (in Chinese). */
export async function login(name: string, color: string, server?: string): Promise<void> {
  if (server !== undefined) {
    const wsUrl = server.trim();
    // Phones open only wss:// (the mini-program refuses ws://, and an https page may not use it).
    if (!/^wss:\/\/[^/\s]+/.test(wsUrl)) throw new Error('服务器地址须以 wss:// 开头，例如 wss://chat.example.com/');
    storage.set(SERVER_KEY, wsUrl);
  }
  let session: Session;
  try {
    session = await sessions().login(name, color);
  } catch (err) {
    throw new Error(describeLoginFailure(err instanceof HttpError ? err.status : undefined));
  }
  forgetOtherUsers(storage, session.uid);
  startChat();
}

/** Signs out and forgets the user: every key of theirs goes, so the next person sees nothing of them. */
export function logout(): void {
  client.value?.stop();
  client.value = undefined;
  sessions().logout();
  forgetOtherUsers(storage);
  chat.session = undefined;
  chat.list = new ConversationList('', '');
  chat.state = { status: 'offline', reason: 'stopped' };
}

/** The token cannot be renewed: back to the login page. The user's data stays for when they sign in again. */
function credentialsGone(): void {
  client.value?.stop();
  client.value = undefined;
  sessions().logout();
  chat.session = undefined;
  uni.reLaunch({ url: '/pages/login/index' });
}

/**
 * Client events reach the reactive list at most once a frame, in order: a burst of thousands of
 * messages (a long room caught up) is a few renders and scrolls, not one per message.
 */
let uiQueue: Array<() => void> = [];
let uiTimer: ReturnType<typeof setTimeout> | undefined;
function inFrame<T>(apply: (payload: T) => void): (payload: T) => void {
  return (payload) => {
    uiQueue.push(() => apply(payload));
    if (uiTimer !== undefined) return;
    uiTimer = setTimeout(() => {
      uiTimer = undefined;
      const queue = uiQueue;
      uiQueue = [];
      for (const run of queue) run();
    }, 16);
  };
}

/** Pages waiting for a `readers` answer (the "N人已读" list). */
const readersListeners = new Set<(event: ReadersEvent) => void>();
export function onReaders(listener: (event: ReadersEvent) => void): () => void {
  readersListeners.add(listener);
  return () => readersListeners.delete(listener);
}

/** The toast of a user removed from a room by someone else. */
function removedText(title: string, reason: 'kick' | 'ban', by: string | undefined): string {
  const who = by ?? '管理员';
  return reason === 'ban' ? `你已被${who}移出群聊“${title}”并加入黑名单` : `你已被${who}移出群聊“${title}”`;
}

/** Starts the socket for the stored session (idempotent). False when nobody is signed in. */
export function startChat(): boolean {
  const session = sessions().value;
  if (!session) return false;
  if (client.value && chat.session?.uid === session.uid) return true;
  client.value?.stop();
  forgetOtherUsers(storage, session.uid);
  chat.session = session;
  chat.list = new ConversationList(session.uid, session.name);
  const list = chat.list;
  const instance = new ChatClient({
    url: endpoints().wsUrl,
    transport: new UniSocketTransport(uni.connectSocket),
    auth: sessions(),
    storage: userStorage(storage, session.uid),
  });
  list.restore(instance.storedRooms(), instance.unsent());
  instance.on('state', (state) => {
    chat.state = state;
    // An older page asked on a socket that is gone will not come: it may be asked again.
    if (state.status !== 'online') list.olderInterrupted();
    if (state.status === 'offline' && state.reason === 'unauthorized') credentialsGone();
  });
  instance.on('authed', (authed) => {
    list.selfUid = authed.uid;
    list.selfName = authed.name;
    chat.session = sessions().value;
  });
  instance.on(
    'message',
    inFrame((m) => list.addMessage(m)),
  );
  instance.on(
    'outbox',
    inFrame((m) => list.updateOutgoing(m)),
  );
  instance.on(
    'presence',
    inFrame((p) => list.presence(p)),
  );
  instance.on(
    'joined',
    inFrame((j) => list.joined(j)),
  );
  instance.on(
    'gap',
    inFrame(({ roomid, beforeSeq }) => list.gap(roomid, beforeSeq)),
  );
  instance.on(
    'rooms',
    inFrame((rooms) => list.rooms(rooms)),
  );
  instance.on(
    'members',
    inFrame((m) => list.members(m)),
  );
  instance.on(
    'history',
    inFrame((h) => list.history(h, OLDER_PAGE)),
  );
  instance.on(
    'left',
    inFrame(({ roomid, reason, by }) => {
      const title = list.title(roomid);
      list.remove(roomid);
      if (reason) uni.showToast({ title: removedText(title, reason, by?.name), icon: 'none', duration: 3_000 });
    }),
  );
  instance.on(
    'group',
    inFrame((g) => list.group(g)),
  );
  instance.on(
    'invited',
    inFrame((i) => list.invited(i)),
  );
  instance.on(
    'unread',
    inFrame(({ roomid, count }) => list.setUnread(roomid, count)),
  );
  instance.on(
    'mention',
    inFrame(({ roomid, seq }) => list.setMention(roomid, seq)),
  );
  instance.on(
    'peerRead',
    inFrame(({ roomid, seq }) => list.setPeerRead(roomid, seq)),
  );
  instance.on(
    'typing',
    inFrame(({ roomid, typing }) => list.setTyping(roomid, typing)),
  );
  instance.on(
    'receipts',
    inFrame((r) => list.receipts(r)),
  );
  instance.on('readers', (r) => {
    for (const listener of readersListeners) listener(r);
  });
  instance.on(
    'error',
    inFrame((e) => {
      // An older page that cannot come: the timeline stops asking (and says nothing: it is no action of the user's).
      if (e.request === 'history' && e.roomid) return list.olderUnavailable(e.roomid);
      // Read counts are asked now and then by the page: a refusal is no action of the user's either.
      // Refused messages say why under themselves; a profile refresh is no action of the user's; other
      // refusals (a join, a leave, a group change) get a toast.
      if (e.request && e.request !== 'message' && e.request !== 'group' && e.request !== 'receipts') {
        uni.showToast({ title: describeError(e.code, { request: e.request, until: e.until }), icon: 'none' });
      }
    }),
  );
  instance.setNetwork(network.up, network.type);
  client.value = instance;
  instance.start();
  return true;
}
