import type {
  ChatMessage,
  GroupEvent,
  GroupProfile,
  GroupRole,
  HistoryEvent,
  InvitedEvent,
  JoinedEvent,
  MemberInfo,
  MembersEvent,
  PresenceEvent,
  ReceiptsEvent,
  RoomSummary,
} from '@chatroom/server/protocol';
import type { StoredRoom } from './chat-client';
import { directPeer, isDirectRoom } from './direct-room';
import { recallItems, recallNotice } from './message-actions';
import type { OutgoingMessage } from './outbox';
import { fromOutgoing, fromServer, insertBySeq, type MessageItem, type NoticeItem, notice, type TimelineItem } from './timeline';

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
  /** Rooms: the title (`rooms`, `invited`; the profile's wins), and a lock in the list when private. */
  title?: string;
  private: boolean;
  /** Rooms: the profile as the user last saw it (notice, role, mutes; the admin lists for owners and admins). */
  group?: Omit<GroupProfile, 'roomid'>;
  /** The server may hold older messages than the first item (loaded with `history before`). */
  hasOlder: boolean;
  loadingOlder: boolean;
  /** The user's role in a group room (from `joined`): owners and admins may recall anyone's message and @所有人. */
  role?: GroupRole;
  /** "[有人@我]": the first unread message that mentions the user. */
  mention?: number;
  /** Direct chats: the peer's read cursor (已读 under one's own messages up to it). */
  peerRead: number;
  /** Rooms: how many other members read each of one's own messages ("N人已读"), by seq. */
  readCounts: Record<number, number>;
  /** Direct chats: the peer is typing (对方正在输入…). */
  typing: boolean;
}

export const GAP_NOTICE = '更早的消息已不可查看';
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
    return conversation?.group?.title ?? conversation?.title ?? roomid;
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
        private: false,
        hasOlder: true,
        loadingOlder: false,
        peerRead: 0,
        readCounts: {},
        typing: false,
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
      if (room.title) conversation.title = room.title;
      conversation.private = Boolean(room.private);
      if (room.group) conversation.group = room.group;
      conversation.items = room.messages.map((m) => fromServer(m, this.selfUid));
      conversation.unread = room.unread;
      conversation.peerRead = room.peerRead ?? 0;
      conversation.mention = room.mention;
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

  setMention(roomid: string, seq: number | undefined): void {
    this.ensure(roomid).mention = seq;
  }

  setPeerRead(roomid: string, seq: number): void {
    const conversation = this.ensure(roomid);
    conversation.peerRead = Math.max(conversation.peerRead, seq);
  }

  setTyping(roomid: string, typing: boolean): void {
    this.ensure(roomid).typing = typing;
  }

  receipts(event: ReceiptsEvent): void {
    const counts = this.ensure(event.roomid).readCounts;
    for (const { seq, count } of event.receipts) counts[seq] = count;
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
    if (message.system) this.memberChange(conversation, message);
    const item = fromServer(message, this.selfUid);
    // An own message is already shown (pending); its echo takes its place, in seq order.
    if (item.own) removeById(conversation.items, message.id);
    insertBySeq(conversation.items, item);
    if (message.kind === 'recall' && message.recall !== undefined)
      recallItems(conversation.items, message.recall, { uid: message.uid, name: message.name, ts: message.ts });
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
    const at = conversation.members.findIndex((m) => m.uid === event.uid);
    const gone = event.reason === 'leave' || event.reason === 'kick';
    if (at >= 0 && gone) conversation.members.splice(at, 1);
    else if (at >= 0) conversation.members[at].online = event.event === 'login';
    else if (event.event === 'login') conversation.members.push({ uid: event.uid, name: event.name, online: true });
    // A removal is told by its system notice ("X被管理员移出群聊").
    if (event.uid === this.selfUid || event.reason === 'kick') return;
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

  /** Who is in the room changed (a system notice): the member list follows without asking again. */
  private memberChange(conversation: Conversation, message: ChatMessage): void {
    const { type, user } = message.system!;
    const who = type === 'linked' ? { uid: message.uid, name: message.name } : user;
    if (!who) return;
    this.names[who.uid] = who.name;
    const at = conversation.members.findIndex((m) => m.uid === who.uid);
    if (type === 'kicked' && at >= 0) conversation.members.splice(at, 1);
    if ((type === 'invited' || type === 'linked') && at < 0) conversation.members.push({ uid: who.uid, name: who.name, online: false });
  }

  /** A member's view of the room's profile (the asker's role, the notice, mutes; admin lists for admins). */
  group(event: GroupEvent): void {
    const conversation = this.ensure(event.roomid);
    const { event: _event, ref: _ref, roomid: _roomid, ...profile } = event;
    conversation.group = profile;
    conversation.title = profile.title;
    conversation.private = profile.private;
    conversation.total = profile.total;
  }

  /** Someone added the user to a room: it is listed at once, with its title. */
  invited(event: InvitedEvent): void {
    const conversation = this.ensure(event.roomid);
    conversation.title = event.title;
    if (conversation.lastTs === 0) conversation.lastTs = Date.now();
  }

  joined(event: JoinedEvent): void {
    const conversation = this.ensure(event.roomid);
    if (event.group?.role) conversation.role = event.group.role;
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
      if (!conversation.direct) {
        if (room.title) conversation.title = room.title;
        conversation.private = Boolean(room.private);
      }
      if (room.last && room.last.ts >= conversation.lastTs) {
        conversation.lastText =
          room.last.kind === 'recall'
            ? recallNotice(room.last, this.selfUid)
            : preview(room.last.name, room.last.message, conversation.direct || room.last.uid === this.selfUid || room.last.system !== undefined);
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
    for (const message of event.messages) {
      if (message.kind === 'recall' && message.recall !== undefined)
        recallItems(items, message.recall, { uid: message.uid, name: message.name, ts: message.ts });
    }
    if (event.purpose === 'older') {
      conversation.loadingOlder = false;
      if (event.gap || (requestedLimit !== undefined && event.messages.length < requestedLimit) || event.messages.length === 0) {
        conversation.hasOlder = false;
        // Nothing earlier, yet the first message kept is not the room's first: the rest is gone.
        const first = firstOf(items);
        if (event.gap || (first !== undefined && first > 1)) this.gap(event.roomid, first);
      }
    }
    this.touch(conversation);
  }

  private touch(conversation: Conversation): void {
    for (let i = conversation.items.length - 1; i >= 0; i--) {
      const item = conversation.items[i];
      if (item.kind === 'message') {
        conversation.lastText =
          item.recallOf !== undefined || item.recalled
            ? recallNotice(item.recalled ?? item, this.selfUid)
            : preview(item.name, item.text, conversation.direct || item.own || item.system !== undefined);
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
