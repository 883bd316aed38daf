/**
 * Node liveness and the cleanup after a node that died without saying goodbye (kill -9, power).
 *
 * Every node heartbeats into `nodes` (Redis clock) every TTL/3. Every TTL/2 each node tries to take
 * the reaper lock (SET NX); the one that gets it drops the presence of nodes silent for more than
 * the TTL and tells their rooms (`logout`, reason `timeout`). A dead node's members are therefore
 * gone within TTL + TTL/2 of its last heartbeat. Every step is idempotent, so a reaper that dies
 * midway is simply finished by the next one.
 *
 * After an outage every node looks silent; a node only reaps once it has itself been connected for
 * a full TTL, so the others have had time to heartbeat again. A node that finds it was reaped anyway
 * (or that Redis lost its data) puts its live presence back.
 */

import type { Bus } from '../core/bus.ts';
import { EnvelopeKind } from '../core/envelope.ts';
import { roomTopic } from '../core/topics.ts';
import type { Logger } from '../core/logger.ts';
import { ServerEvent } from '../protocol.ts';
import { presenceWire } from '../core/wire.ts';
import type { ChatRedis } from './commands.ts';
import type { KeySpace } from './keys.ts';
import type { RedisStore } from './redis-store.ts';

export class PresenceReaper {
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private reapTimer: ReturnType<typeof setInterval> | undefined;
  private connectedSince = Date.now();
  private beatenOnce = false;
  private reaping = false;
  private stopped = false;

  constructor(
    private readonly redis: ChatRedis,
    private readonly keys: KeySpace,
    private readonly store: RedisStore,
    private readonly bus: Bus,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {
    redis.on('ready', () => (this.connectedSince = Date.now()));
  }

  get nodeId(): string {
    return this.store.nodeId;
  }

  async start(): Promise<void> {
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.reapTimer = setInterval(() => void this.reap(), Math.max(100, Math.floor(this.ttlMs / 2)));
    this.heartbeatTimer.unref();
    this.reapTimer.unref();
  }

  /** Graceful stop: the core has already closed this node's connections; forget the node. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.reapTimer);
    // Connections the shutdown could not detach in time: leave them to another node's reaper.
    if (this.store.local.connections.size > 0) return;
    const node = this.keys.node(this.nodeId);
    await Promise.allSettled([this.redis.zrem(this.keys.nodes, this.nodeId), this.redis.del(node.rooms), this.redis.del(node.users)]);
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      const [, wasKnown] = await this.redis.chatHeartbeat(this.keys.nodes, this.nodeId);
      if (this.beatenOnce && wasKnown === 0) {
        const restored = await this.store.restorePresence();
        this.logger.warn('redis had lost this node; presence restored', { node: this.nodeId, connections: restored });
      }
      this.beatenOnce = true;
    } catch (err) {
      this.logger.debug('heartbeat failed', { err: String(err) });
    }
  }

  /** One reaping round; returns the dead nodes it handled. Exposed for tests. */
  async reap(): Promise<string[]> {
    if (this.stopped || this.reaping || Date.now() - this.connectedSince < this.ttlMs) return [];
    this.reaping = true;
    try {
      const flat = await this.redis.chatClaimDeadNodes(this.keys.nodes, this.keys.reaperLock, this.nodeId, this.ttlMs, Math.floor(this.ttlMs / 2));
      const dead: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        if (flat[i] === this.nodeId) continue;
        await this.reapNode(flat[i]);
        dead.push(flat[i]);
      }
      return dead;
    } catch (err) {
      this.logger.warn('reaping dead nodes failed', { err: String(err) });
      return [];
    } finally {
      this.reaping = false;
    }
  }

  private async reapNode(deadId: string): Promise<void> {
    const node = this.keys.node(deadId);
    const [rooms, users] = await Promise.all([this.redis.smembers(node.rooms), this.redis.smembers(node.users)]);
    let notices = 0;
    for (const roomid of rooms) {
      const room = this.keys.room(roomid);
      const reply = await this.redis.chatDropNodePresence(room.members, room.cursors, room.online, deadId);
      const num = Number(reply[0]);
      const total = Number(reply[1]);
      for (let i = 2; i < reply.length; i += 2) {
        const text = presenceWire(ServerEvent.Logout, { uid: String(reply[i]), name: String(reply[i + 1]) }, roomid, { num, total }, 'timeout');
        await this.bus.publish({ kind: EnvelopeKind.Notice, topic: roomTopic(roomid), text });
        notices += 1;
      }
    }
    for (const uid of users) await this.redis.chatDropNodeConnections(this.keys.user(uid).connections, deadId);
    await Promise.all([this.redis.del(node.rooms), this.redis.del(node.users)]);
    // Unconditionally: a node that was only paused finds itself unknown on its next heartbeat and
    // puts its presence back.
    await this.redis.zrem(this.keys.nodes, deadId);
    this.logger.warn('reaped a dead node', { node: deadId, rooms: rooms.length, users: users.length, notices });
  }
}
