import type { ChatMessage, HistoryEvent, JoinedEvent, MemberInfo, MembersEvent, PresenceEvent, RoomSummary } from '@chatroom/server/protocol';
import type { StoredRoom } from './chat-client';
import { directPeer, isDirectRoom } from './direct-room';
import type { OutgoingMessage } from './outbox';
import { fromOutgoing, fromServer, insertBySeq, notice, type MessageItem, type NoticeItem, type TimelineItem } from './timeline';

export interface Conversation {
  roomid: string;
  direct: boolean;
  /** Direct chats: the other member's uid. */
  peerUid?: string;
  items: TimelineItem[];
  num: number;
  total: number;
  unread: number;
  lastText: string;
  lastTs: number;
  members: MemberInfo[];
  /** The server may hold older messages than the first item (loaded with `history before`). */
  hasOlder: boolean;
  loadingOlder: boolean;
}

export const GAP_NOTICE = '更早的消息已无法获取';
/** A member who leaves and comes back within this time (an app to the background and back) shows no notices. */
export const PRESENCE_FOLD_MS = 60_000;
/** A conversation not on screen keeps at most this many items in memory; older ones come back from the server. */
export const IN_MEMORY_ITEMS = 500;

/**
 * Every room and direct chat the user has, as the pages show them: timelines with notices and
 * own messages' states, counts, unread badges. No Vue here: the app wraps it in `reactive()`.
 */
export class ConversationList {
  readonly byId: Record<string, Conversation> = {};
  /** Names seen for uids, for direct chats' titles. */
  readonly names: Record<string, string> = {};
  /** Leave notices that a quick return of the same member takes back: `${roomid} ${uid}` -> the notice. */
  private readonly recentLeaves: Record<string, NoticeItem> = {};

  constructor(
    public selfUid: string,
    public selfName: string,
  ) {}

  /** Newest activity first. */
  get sorted(): Conversation[] {
    return Object.values(this.byId).sort((a, b) => b.lastTs - a.lastTs);
  }

  get totalUnread(): number {
    return Object.values(this.byId).reduce((sum, c) => sum + c.unread, 0);
  }

  title(roomid: string): string {
    const conversation = this.byId[roomid];
    if (conversation?.direct) return this.names[conversation.peerUid ?? ''] ?? '私聊';
    return roomid;
  }

  ensure(roomid: string): Conversation {
    let conversation = this.byId[roomid];
    if (!conversation) {
      const direct = isDirectRoom(roomid);
      conversation = {
        roomid,
        direct,
        peerUid: direct ? directPeer(roomid, this.selfUid) : undefined,
        items: [],
        num: 0,
        total: direct ? 2 : 0,
        unread: 0,
        lastText: '',
        lastTs: 0,
        members: [],
        hasOlder: true,
        loadingOlder: false,
      };
      this.byId[roomid] = conversation;
    }
    return conversation;
  }

  /** What the phone kept: the rooms with their messages and badges, and messages not sent yet. */
  restore(rooms: StoredRoom[], unsent: OutgoingMessage[]): void {
    for (const room of rooms) {
      const conversation = this.ensure(room.roomid);
      for (const message of room.messages) this.names[message.uid] = message.name;
      if (room.peerName && conversation.peerUid) this.names[conversation.peerUid] = room.peerName;
      conversation.items = room.messages.map((m) => fromServer(m, this.selfUid));
      conversation.unread = room.unread;
      this.touch(conversation);
    }
    for (const message of unsent) this.updateOutgoing(message);
  }

  /** Leaves memory: a long timeline keeps its newest items only. */
  trim(roomid: string): void {
    const conversation = this.byId[roomid];
    if (!conversation || conversation.items.length <= IN_MEMORY_ITEMS) return;
    conversation.items.splice(0, conversation.items.length - IN_MEMORY_ITEMS);
    conversation.hasOlder = true;
  }

  remove(roomid: string): void {
    delete this.byId[roomid];
  }

  setUnread(roomid: string, count: number): void {
    this.ensure(roomid).unread = count;
  }

  /** The socket ended: pages asked on it will not come. */
  olderInterrupted(): void {
    for (const conversation of Object.values(this.byId)) conversation.loadingOlder = false;
  }

  /** An older page was refused: no more asking for this visit. */
  olderUnavailable(roomid: string): void {
    const conversation = this.ensure(roomid);
    conversation.loadingOlder = false;
    conversation.hasOlder = false;
  }

  /** An own failed message the user deleted. */
  discard(roomid: string, id: string): void {
    const conversation = this.byId[roomid];
    if (!conversation) return;
    removeById(conversation.items, id);
    this.touch(conversation);
  }

  /** A message not seen before (the client drops repeats). */
  addMessage(message: ChatMessage): void {
    const conversation = this.ensure(message.roomid);
    this.names[message.uid] = message.name;
    const item = fromServer(message, this.selfUid);
    // An own message is already shown (pending); its echo takes its place, in seq order.
    if (item.own) removeById(conversation.items, message.id);
    insertBySeq(conversation.items, item);
    if (message.num !== undefined) conversation.num = message.num;
    if (message.total !== undefined) conversation.total = message.total;
    this.touch(conversation);
  }

  /** An own message was queued, acknowledged or failed. */
  updateOutgoing(message: OutgoingMessage): void {
    const conversation = this.ensure(message.roomid);
    const item = findById(conversation.items, message.id);
    if (!item) {
      if (message.status === 'sent') return;
      conversation.items.push(fromOutgoing(message, this.selfUid, this.selfName));
    } else {
      item.status = message.status;
      item.errorCode = message.errorCode;
      if (message.seq !== undefined) item.seq = message.seq;
    }
    this.touch(conversation);
  }

  /**
   * A member came online or went away. Nothing is said about oneself, and a member who goes and
   * comes back within PRESENCE_FOLD_MS (their app went to the background) leaves no notice at all.
   */
  presence(event: PresenceEvent, now = Date.now()): void {
    const conversation = this.ensure(event.roomid);
    this.names[event.uid] = event.name;
    conversation.num = event.num;
    conversation.total = event.total;
    const member = conversation.members.find((m) => m.uid === event.uid);
    if (member) member.online = event.event === 'login';
    else if (event.event === 'login') conversation.members.push({ uid: event.uid, name: event.name, online: true });
    if (event.uid === this.selfUid) return;
    const foldKey = `${event.roomid} ${event.uid}`;
    if (event.event === 'login') {
      const leave = this.recentLeaves[foldKey];
      delete this.recentLeaves[foldKey];
      if (leave && now - leave.ts < PRESENCE_FOLD_MS) {
        const at = conversation.items.findIndex((i) => i.key === leave.key);
        if (at >= 0) conversation.items.splice(at, 1);
        return;
      }
      conversation.items.push(notice(`欢迎${event.name}加入聊天室`, now));
    } else {
      const leave = notice(`${event.name}已经退出了聊天室`, now);
      conversation.items.push(leave);
      this.recentLeaves[foldKey] = leave;
    }
  }

  joined(event: JoinedEvent): void {
    const conversation = this.ensure(event.roomid);
    conversation.num = event.num;
    conversation.total = event.total;
  }

  /** Messages before `beforeSeq` (or before whatever comes next) are gone from the server. */
  gap(roomid: string, beforeSeq?: number): void {
    const conversation = this.ensure(roomid);
    const items = conversation.items;
    let at = items.length;
    if (beforeSeq !== undefined) {
      at = items.findIndex((i) => i.kind === 'message' && i.seq !== undefined && i.seq >= beforeSeq);
      if (at < 0) at = items.length;
    }
    const before = items[at - 1];
    if (before?.kind === 'notice' && before.text === GAP_NOTICE) return;
    items.splice(at, 0, notice(GAP_NOTICE, items[at]?.ts ?? Date.now()));
    if (at === 0) conversation.hasOlder = false;
  }

  members(event: MembersEvent): void {
    const conversation = this.ensure(event.roomid);
    conversation.members = event.members;
    conversation.num = event.num;
    conversation.total = event.total;
    for (const member of event.members) this.names[member.uid] = member.name;
  }

  rooms(rooms: RoomSummary[]): void {
    for (const room of rooms) {
      const conversation = this.ensure(room.roomid);
      conversation.num = room.num;
      conversation.total = room.total;
      if (room.peer) {
        conversation.peerUid = room.peer.uid;
        this.names[room.peer.uid] = room.peer.name;
      }
      if (room.last && room.last.ts >= conversation.lastTs) {
        conversation.lastText = preview(room.last.name, room.last.message, conversation.direct || room.last.uid === this.selfUid);
        conversation.lastTs = room.last.ts;
      }
      if (room.lastSeq === 0) conversation.hasOlder = false;
    }
  }

  /** A page of history: merged by seq, never counted as unread. `older` pages also say whether more remain. */
  history(event: HistoryEvent & { purpose?: string }, requestedLimit?: number): void {
    const conversation = this.ensure(event.roomid);
    const items = conversation.items;
    const firstSeq = items.find((i): i is MessageItem => i.kind === 'message' && i.seq !== undefined)?.seq;
    const older: MessageItem[] = [];
    for (const message of event.messages) {
      this.names[message.uid] = message.name;
      const item = fromServer({ ...message, roomid: event.roomid }, this.selfUid);
      if (firstSeq === undefined || message.seq < firstSeq) older.push(item);
      else if (!findById(items, message.id)) insertBySeq(items, item);
    }
    // Older than everything shown: one splice at the top (the common case when scrolling up).
    if (older.length > 0) {
      const known = new Set(items.slice(0, older.length + 1).map((i) => i.key));
      items.splice(0, 0, ...older.filter((i) => !known.has(i.key)));
    }
    if (event.purpose === 'older') {
      conversation.loadingOlder = false;
      if (event.gap || (requestedLimit !== undefined && event.messages.length < requestedLimit) || event.messages.length === 0) {
        conversation.hasOlder = false;
        if (event.gap) this.gap(event.roomid, firstOf(items));
      }
    }
    this.touch(conversation);
  }

  private touch(conversation: Conversation): void {
    for (let i = conversation.items.length - 1; i >= 0; i--) {
      const item = conversation.items[i];
      if (item.kind === 'message') {
        conversation.lastText = preview(item.name, item.text, conversation.direct || item.own);
        conversation.lastTs = Math.max(conversation.lastTs, item.ts);
        return;
      }
    }
  }
}

/** The seq of the first message item, for a gap notice above it. */
function firstOf(items: TimelineItem[]): number | undefined {
  for (const item of items) if (item.kind === 'message' && item.seq !== undefined) return item.seq;
  return undefined;
}

/** The newest items are where ids are looked for: search from the end. */
function findById(items: TimelineItem[], id: string): MessageItem | undefined {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item.kind === 'message' && item.id === id) return item;
  }
  return undefined;
}

function removeById(items: TimelineItem[], id: string): void {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item.kind === 'message' && item.id === id) {
      items.splice(i, 1);
      return;
    }
  }
}

function preview(name: string, text: string, bare: boolean): string {
  return bare ? text : `${name}: ${text}`;
}
