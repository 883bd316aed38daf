import type { Redis } from 'ioredis';
import { CREATE_GROUP, GROUP_CHANGE, GROUP_VIEW } from './group-scripts.ts';
import { CLAIM_DEAD_NODES, HEARTBEAT } from './node-scripts.ts';
import {
  APPEND,
  CATCH_UP,
  COUNTS,
  DISCONNECT,
  DROP_NODE_PRESENCE,
  JOIN,
  LEAVE,
  MEMBERS,
  READ_AFTER,
  READ_BEFORE,
  RESTORE_FLOOR,
  RESTORE_PRESENCE,
  SUMMARY,
} from './room-scripts.ts';
import { CONNECT_USER, DISCONNECT_USER, DROP_NODE_CONNECTIONS, NOTE_USER_ROOM, QUEUE_DIRECT, RESTORE_CONNECTION } from './user-scripts.ts';

type Reply = (string | number)[];
type Arg = string | number;

/** The scripts as ioredis commands (EVALSHA, falling back to EVAL after a Redis restart). */
export interface ChatCommands {
  /** Keys: keys.ts joinKeys. */
  chatJoin(...keysAndArgs: Arg[]): Promise<Reply>;
  chatDisconnect(members: string, cursors: string, online: string, ...args: Arg[]): Promise<number[]>;
  chatLeave(members: string, cursors: string, online: string, roles: string, mutes: string, order: string, uid: string): Promise<Reply>;
  chatCounts(members: string, online: string): Promise<number[]>;
  chatMembers(members: string, online: string): Promise<Reply>;
  chatAppend(seq: string, history: string, ids: string, members: string, online: string, roles: string, mutes: string, group: string, ...args: Arg[]): Promise<Reply>;
  chatReadAfter(seq: string, history: string, after: number, limit: number, before: number): Promise<Reply>;
  chatReadBefore(seq: string, history: string, before: number, limit: number): Promise<Reply>;
  chatSummary(seq: string, history: string, members: string, online: string, withMembers: string): Promise<Reply>;
  chatDropNodePresence(members: string, cursors: string, online: string, nodeId: string, roomTtlMs: number): Promise<Reply>;
  chatCatchUp(seq: string, history: string, members: string, online: string, afterSeq: number, limit: number, epoch: string): Promise<Reply>;
  chatRestoreFloor(seq: string, history: string, ...args: Arg[]): Promise<Reply>;
  chatRestorePresence(members: string, online: string, ...args: Arg[]): Promise<number[]>;
  chatConnectUser(conns: string, inbox: string, info: string, taken: string, rooms: string, ...args: Arg[]): Promise<Reply>;
  chatDisconnectUser(conns: string, connId: string): Promise<number>;
  chatQueueDirect(conns: string, inbox: string, info: string, handled: string, ...args: Arg[]): Promise<number>;
  chatDropNodeConnections(conns: string, nodeId: string): Promise<number>;
  chatRestoreConnection(conns: string, info: string, inbox: string, rooms: string, ...args: Arg[]): Promise<number>;
  chatNoteUserRoom(rooms: string, info: string, roomid: string, ttlMs: number, name: string): Promise<number>;
  chatHeartbeat(nodes: string, nodeId: string): Promise<number[]>;
  chatClaimDeadNodes(nodes: string, lock: string, nodeId: string, ttlMs: number, lockMs: number, ownMaxAgeMs: number): Promise<string[]>;
  // Keys of the group scripts: keys.ts groupKeys.
  chatCreateGroup(...keysAndArgs: Arg[]): Promise<number>;
  chatGroupView(...keysAndArgs: Arg[]): Promise<GroupViewReply>;
  chatGroupChange(...keysAndArgs: Arg[]): Promise<string>;
}

type Flat = (string | number)[];
/** GROUP_VIEW's reply: {0}, or exists num total group roles mutes bans links users (see group-scripts.ts). */
export type GroupViewReply = [0] | [1, number, number, Flat, Flat, Flat, Flat, Flat, Flat];

export type ChatRedis = Redis & ChatCommands;

const SCRIPTS: [keyof ChatCommands, number, string][] = [
  ['chatJoin', 11, JOIN],
  ['chatDisconnect', 3, DISCONNECT],
  ['chatLeave', 6, LEAVE],
  ['chatCounts', 2, COUNTS],
  ['chatMembers', 2, MEMBERS],
  ['chatAppend', 8, APPEND],
  ['chatReadAfter', 2, READ_AFTER],
  ['chatReadBefore', 2, READ_BEFORE],
  ['chatSummary', 4, SUMMARY],
  ['chatDropNodePresence', 3, DROP_NODE_PRESENCE],
  ['chatCatchUp', 4, CATCH_UP],
  ['chatRestoreFloor', 2, RESTORE_FLOOR],
  ['chatRestorePresence', 2, RESTORE_PRESENCE],
  ['chatConnectUser', 5, CONNECT_USER],
  ['chatDisconnectUser', 1, DISCONNECT_USER],
  ['chatQueueDirect', 4, QUEUE_DIRECT],
  ['chatDropNodeConnections', 1, DROP_NODE_CONNECTIONS],
  ['chatRestoreConnection', 4, RESTORE_CONNECTION],
  ['chatNoteUserRoom', 2, NOTE_USER_ROOM],
  ['chatHeartbeat', 1, HEARTBEAT],
  ['chatClaimDeadNodes', 2, CLAIM_DEAD_NODES],
  ['chatCreateGroup', 10, CREATE_GROUP],
  ['chatGroupView', 10, GROUP_VIEW],
  ['chatGroupChange', 10, GROUP_CHANGE],
];

export function defineChatCommands(redis: Redis): ChatRedis {
  for (const [name, numberOfKeys, lua] of SCRIPTS) redis.defineCommand(name, { numberOfKeys, lua });
  return redis as ChatRedis;
}
