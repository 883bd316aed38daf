import type { Redis } from 'ioredis';
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
  chatJoin(counter: string, members: string, cursors: string, online: string, history: string, ...args: Arg[]): Promise<Reply>;
  chatDisconnect(members: string, cursors: string, online: string, ...args: Arg[]): Promise<number[]>;
  chatLeave(members: string, cursors: string, online: string, uid: string): Promise<number[]>;
  chatCounts(members: string, online: string): Promise<number[]>;
  chatMembers(members: string, online: string): Promise<Reply>;
  chatAppend(seq: string, history: string, ids: string, members: string, online: string, ...args: Arg[]): Promise<Reply>;
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
}

export type ChatRedis = Redis & ChatCommands;

const SCRIPTS: [keyof ChatCommands, number, string][] = [
  ['chatJoin', 5, JOIN],
  ['chatDisconnect', 3, DISCONNECT],
  ['chatLeave', 3, LEAVE],
  ['chatCounts', 2, COUNTS],
  ['chatMembers', 2, MEMBERS],
  ['chatAppend', 5, APPEND],
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
];

export function defineChatCommands(redis: Redis): ChatRedis {
  for (const [name, numberOfKeys, lua] of SCRIPTS) redis.defineCommand(name, { numberOfKeys, lua });
  return redis as ChatRedis;
}
