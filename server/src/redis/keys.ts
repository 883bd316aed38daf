import { type Topic, topicKey } from '../core/topics.ts';

/**
 * Key and channel names. Every key of one Lua script shares a hash tag, so the scripts also run on
 * Redis Cluster: room data under `{r:<roomid>}`, a user's under `{u:<uid>}`, a node's under
 * `{n:<nodeId>}`. Operations that touch a room and a user (direct messages, joins) are split into
 * one atomic script per slot, ordered so a crash between them leaves nothing inconsistent.
 */

export interface RoomKeys {
  /** Hash: `seq` (the counter) and `epoch` (changes when the seqs started over: see counter() in lua-prelude.ts). */
  seq: string;
  /** History stream, entry id `<seq>-0`, capped at HISTORY_PER_ROOM. */
  history: string;
  /** uid → name of every member. */
  members: string;
  /** uid → last seq delivered before the member went offline. */
  cursors: string;
  /** uid → that user's connections in the room, `connId/nodeId/seqAtJoin` separated by spaces. */
  online: string;
  /** `uid\nclientId` → seq of recent messages: a resent append is answered, not stored twice. */
  recentIds: string;
  // The room as a group (group-scripts.ts). They expire with `members`: refreshed at the same moments.
  /** uid → `owner` or `admin`; plain members have no entry. */
  roles: string;
  /** Fields `title`, `private` and `muteAll` (`1`/`0`), `notice` with `noticeUid`, `noticeName`, `noticeTs`, and `joins` (the join order's counter). */
  group: string;
  /** uid → ms the mute ends. Kept when the member leaves, so leaving and coming back does not lift it. */
  mutes: string;
  /** uid → name of every banned user. */
  bans: string;
  /** invite link key → ms it expires. */
  links: string;
  /** Sorted set: member uid → when they joined (the `joins` counter), for who inherits the room. */
  order: string;
  /** uid → the member's read cursor. */
  reads: string;
  /** uid → `first last`: seqs of the first and latest unread message that mentions the member. */
  mentions: string;
}

/** The keys every group script takes, in this order: a room's counter, presence and group keys. */
export function groupKeys(room: RoomKeys): string[] {
  return [room.seq, room.members, room.cursors, room.online, room.roles, room.group, room.mutes, room.bans, room.links, room.order];
}

/** The JOIN script's keys: the group's, and the history (a lost counter is restored from its top). */
export function joinKeys(room: RoomKeys): string[] {
  return [...groupKeys(room), room.history];
}

export interface UserKeys {
  /** connId → nodeId of the user's open connections. */
  connections: string;
  /** Direct messages waiting for the user's next connection (list of JSON, oldest first). */
  inbox: string;
  /** Fields `name` and `gap` (the inbox overflowed). */
  info: string;
  /** Room ids the user is a member of (direct chats included). */
  rooms: string;
  /** `senderUid\nclientId` of direct messages queued or published for the user (QUEUE_DIRECT). */
  handled: string;
}

export interface NodeKeys {
  /** Rooms in which this node holds presence entries: what the reaper visits when the node dies. */
  rooms: string;
  /** Users with a connection on this node. */
  users: string;
}

export class KeySpace {
  constructor(readonly prefix: string) {}

  room(roomid: string): RoomKeys {
    const tag = `${this.prefix}{r:${roomid}}`;
    return {
      seq: `${tag}:seq`,
      history: `${tag}:history`,
      members: `${tag}:members`,
      cursors: `${tag}:cursors`,
      online: `${tag}:online`,
      recentIds: `${tag}:ids`,
      roles: `${tag}:roles`,
      group: `${tag}:group`,
      mutes: `${tag}:mutes`,
      bans: `${tag}:bans`,
      links: `${tag}:links`,
      order: `${tag}:order`,
      reads: `${tag}:reads`,
      mentions: `${tag}:mentions`,
    };
  }

  user(uid: string): UserKeys {
    const tag = `${this.prefix}{u:${uid}}`;
    return { connections: `${tag}:conns`, inbox: `${tag}:inbox`, info: `${tag}:info`, rooms: `${tag}:rooms`, handled: `${tag}:handled` };
  }

  /** What the user's first connection `connId` took from the inbox (kept briefly, see CONNECT_USER). */
  takenInbox(uid: string, connId: string): string {
    return `${this.prefix}{u:${uid}}:taken:${connId}`;
  }

  node(nodeId: string): NodeKeys {
    const tag = `${this.prefix}{n:${nodeId}}`;
    return { rooms: `${tag}:rooms`, users: `${tag}:users` };
  }

  /** Sorted set: nodeId → time (Redis clock, ms) of the node's last heartbeat. */
  get nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** Held by the node that reaps dead nodes, so only one does each round. */
  get reaperLock(): string {
    return `${this.prefix}reaper-lock`;
  }

  /** Pub/sub channel of a bus topic: the prefix and the topic's key (`room:<id>` or `user:<uid>`). */
  channel(topic: Topic): string {
    return `${this.prefix}${topicKey(topic)}`;
  }

  /** The topic key of a channel (see parseTopicKey). */
  topicOf(channel: string): string {
    return channel.slice(this.prefix.length);
  }
}
