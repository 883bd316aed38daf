import type { Redis } from 'ioredis';
import { APPEND_QUOTED, JOIN_READ_STATE, MARK_READ, NOTE_MENTIONS, READ_CURSORS, READ_STATE, RECALL, REWRITE_INBOX } from './message-scripts.ts';
import { CLAIM_DEAD_NODES, HEARTBEAT } from './node-scripts.ts';
import {
  APPEND,
  COUNTS,
  DISCONNECT,
  DROP_NODE_PRESENCE,
  JOIN,
  LEAVE,
  MEMBERS,
  READ_AFTER,
  READ_BEFORE,
  RESTORE_PRESENCE,
  SUMMARY,
} from './room-scripts.ts';
import { CONNECT_USER, DISCONNECT_USER, DROP_NODE_CONNECTIONS, QUEUE_DIRECT, RESTORE_CONNECTION } from './user-scripts.ts';

type Reply = (string | number)[];
type Arg = string | number;

/** The scripts as ioredis commands (EVALSHA, falling back to EVAL after a Redis restart). */
export interface ChatCommands {
  chatJoin(counter: string, members: string, cursors: string, online: string, ...args: Arg[]): Promise<Reply>;
  chatDisconnect(members: string, cursors: string, online: string, ...args: Arg[]): Promise<number[]>;
  chatLeave(members: string, cursors: string, online: string, uid: string): Promise<number[]>;
  chatCounts(members: string, online: string): Promise<number[]>;
  chatMembers(members: string, online: string): Promise<Reply>;
  chatAppend(seq: string, history: string, ids: string, members: string, online: string, ...args: Arg[]): Promise<Reply>;
  chatReadAfter(seq: string, history: string, after: number, limit: number, before: number): Promise<Reply>;
  chatReadBefore(seq: string, history: string, before: number, limit: number): Promise<Reply>;
  chatSummary(seq: string, history: string, members: string, online: string, withMembers: string): Promise<Reply>;
  chatDropNodePresence(members: string, cursors: string, online: string, nodeId: string): Promise<Reply>;
  chatRestorePresence(members: string, online: string, ...args: Arg[]): Promise<number>;
  chatConnectUser(conns: string, inbox: string, info: string, taken: string, ...args: Arg[]): Promise<Reply>;
  chatDisconnectUser(conns: string, connId: string): Promise<number>;
  chatQueueDirect(conns: string, inbox: string, info: string, ...args: Arg[]): Promise<number>;
  chatDropNodeConnections(conns: string, nodeId: string): Promise<number>;
  chatRestoreConnection(conns: string, info: string, ...args: Arg[]): Promise<number>;
  chatHeartbeat(nodes: string, nodeId: string): Promise<number[]>;
  chatClaimDeadNodes(nodes: string, lock: string, nodeId: string, ttlMs: number, lockMs: number): Promise<string[]>;
  chatRecall(seq: string, history: string, ids: string, members: string, online: string, ...args: Arg[]): Promise<Reply>;
  chatAppendQuoted(seq: string, history: string, ids: string, members: string, online: string, ...args: Arg[]): Promise<Reply>;
  chatNoteMentions(members: string, reads: string, mentions: string, ...args: Arg[]): Promise<number>;
  chatMarkRead(seq: string, members: string, reads: string, mentions: string, uid: string, read: number, ttlMs: number): Promise<number[]>;
  chatJoinReadState(seq: string, reads: string, mentions: string, ...args: Arg[]): Promise<number[]>;
  chatReadState(reads: string, mentions: string, uid: string, peer: string): Promise<number[]>;
  chatReadCursors(members: string, reads: string): Promise<Reply>;
  chatRewriteInbox(inbox: string, ...pairs: string[]): Promise<number>;
}

export type ChatRedis = Redis & ChatCommands;

const SCRIPTS: [keyof ChatCommands, number, string][] = [
  ['chatJoin', 4, JOIN],
  ['chatDisconnect', 3, DISCONNECT],
  ['chatLeave', 3, LEAVE],
  ['chatCounts', 2, COUNTS],
  ['chatMembers', 2, MEMBERS],
  ['chatAppend', 5, APPEND],
  ['chatReadAfter', 2, READ_AFTER],
  ['chatReadBefore', 2, READ_BEFORE],
  ['chatSummary', 4, SUMMARY],
  ['chatDropNodePresence', 3, DROP_NODE_PRESENCE],
  ['chatRestorePresence', 2, RESTORE_PRESENCE],
  ['chatConnectUser', 4, CONNECT_USER],
  ['chatDisconnectUser', 1, DISCONNECT_USER],
  ['chatQueueDirect', 3, QUEUE_DIRECT],
  ['chatDropNodeConnections', 1, DROP_NODE_CONNECTIONS],
  ['chatRestoreConnection', 2, RESTORE_CONNECTION],
  ['chatHeartbeat', 1, HEARTBEAT],
  ['chatClaimDeadNodes', 2, CLAIM_DEAD_NODES],
  ['chatRecall', 5, RECALL],
  ['chatAppendQuoted', 5, APPEND_QUOTED],
  ['chatNoteMentions', 3, NOTE_MENTIONS],
  ['chatMarkRead', 4, MARK_READ],
  ['chatJoinReadState', 3, JOIN_READ_STATE],
  ['chatReadState', 2, READ_STATE],
  ['chatReadCursors', 2, READ_CURSORS],
  ['chatRewriteInbox', 1, REWRITE_INBOX],
];

export function defineChatCommands(redis: Redis): ChatRedis {
  for (const [name, numberOfKeys, lua] of SCRIPTS) redis.defineCommand(name, { numberOfKeys, lua });
  return redis as ChatRedis;
}
