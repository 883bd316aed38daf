import type { ChatMessage, HistoryEvent, JoinedEvent, MemberInfo, MembersEvent, PresenceEvent, RoomSummary } from '@chatroom/server/protocol';
import { directPeer, isDirectRoom } from './direct-room';
import type { OutgoingMessage } from './outbox';
import { fromOutgoing, fromServer, insertBySeq, notice, type MessageItem, type TimelineItem } from './timeline';

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
}

export const GAP_NOTICE = '更早的消息已无法获取';

/**
 * Every room and direct chat the user has, as the pages show them: timelines with notices and
 * own messages' states, counts, unread badges. No Vue here: the app wraps it in `reactive()`.
 */
export class ConversationList {
  readonly byId: Record<string, Conversation> = {};
  /** Names seen for uids, for direct chats' titles. */
  readonly names: Record<string, string> = {};
  activeRoom: string | undefined;

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
      };
      this.byId[roomid] = conversation;
    }
    return conversation;
  }

  open(roomid: string): Conversation {
    this.activeRoom = roomid;
    const conversation = this.ensure(roomid);
    conversation.unread = 0;
    return conversation;
  }

  close(roomid: string): void {
    if (this.activeRoom === roomid) this.activeRoom = undefined;
  }

  addMessage(message: ChatMessage): void {
    const conversation = this.ensure(message.roomid);
    this.names[message.uid] = message.name;
    const item = fromServer(message, this.selfUid);
    const existing = conversation.items.findIndex((i) => i.kind === 'message' && i.id === message.id);
    if (existing >= 0) conversation.items.splice(existing, 1);
    insertBySeq(conversation.items, item);
    if (message.num !== undefined) conversation.num = message.num;
    if (message.total !== undefined) conversation.total = message.total;
    if (existing < 0 && !item.own && this.activeRoom !== message.roomid) conversation.unread += 1;
    this.touch(conversation);
  }

  /** An own message was queued, acknowledged or failed. */
  updateOutgoing(message: OutgoingMessage): void {
    const conversation = this.ensure(message.roomid);
    const index = conversation.items.findIndex((i) => i.kind === 'message' && i.id === message.id);
    if (index < 0) {
      if (message.status === 'sent') return;
      conversation.items.push(fromOutgoing(message, this.selfUid, this.selfName));
    } else {
      const item = conversation.items[index] as MessageItem;
      item.status = message.status;
      if (message.seq !== undefined) item.seq = message.seq;
    }
    this.touch(conversation);
  }

  presence(event: PresenceEvent): void {
    const conversation = this.ensure(event.roomid);
    this.names[event.uid] = event.name;
    conversation.num = event.num;
    conversation.total = event.total;
    const text = event.event === 'login' ? `欢迎${event.name}加入聊天室` : `${event.name}已经退出了聊天室`;
    conversation.items.push(notice(text));
    const member = conversation.members.find((m) => m.uid === event.uid);
    if (member) member.online = event.event === 'login';
    else if (event.event === 'login') conversation.members.push({ uid: event.uid, name: event.name, online: true });
  }

  joined(event: JoinedEvent): void {
    const conversation = this.ensure(event.roomid);
    conversation.num = event.num;
    conversation.total = event.total;
  }

  gap(roomid: string): void {
    const conversation = this.ensure(roomid);
    const last = conversation.items[conversation.items.length - 1];
    if (last?.kind !== 'notice' || last.text !== GAP_NOTICE) conversation.items.push(notice(GAP_NOTICE));
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
        conversation.lastText = preview(room.last.name, room.last.message, conversation.direct);
        conversation.lastTs = room.last.ts;
      }
    }
  }

  /** Older messages (scrolling up): merged by id, never counted as unread. */
  history(event: HistoryEvent): void {
    const conversation = this.ensure(event.roomid);
    for (const message of event.messages) {
      if (conversation.items.some((i) => i.kind === 'message' && i.id === message.id)) continue;
      this.names[message.uid] = message.name;
      insertBySeq(conversation.items, fromServer(message, this.selfUid));
    }
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

function preview(name: string, text: string, bare: boolean): string {
  return bare ? text : `${name}: ${text}`;
}
