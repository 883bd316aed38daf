/**
 * Node liveness and the cleanup after a node that died without saying goodbye (kill -9, power).
 *
 * Every node heartbeats into `nodes` (Redis clock) every TTL/3, and as its first command whenever its
 * connection is ready again. Every TTL/2 each node tries to take the reaper lock (SET NX); the one
 * that gets it drops the presence of nodes silent for more than the TTL and tells their rooms
 * (`logout`, reason `timeout`). A dead node's members are therefore gone within TTL + TTL/2 of its
 * last heartbeat. Every step is idempotent, so a reaper that dies midway is simply finished by the
 * next one.
 *
 * Silence is only a node's own fault when Redis could hear it. After Redis was unreachable or
 * stalled, every node looks silent; so a node reaps only once its own heartbeats have succeeded
 * promptly (within TTL/3) for a whole TTL plus the longest reconnect delay, which gives every other
 * node time to reconnect and heartbeat too; and Redis refuses the claim of a node whose own
 * heartbeat is stale (a claim Redis runs late, after a stall). A node that finds it was reaped
 * anyway (it was paused) or that Redis lost its data puts its live presence back (node-recovery.ts).
 */

import type { Bus } from '../core/bus.ts';
import { EnvelopeKind } from '../core/envelope.ts';
import type { Logger } from '../core/logger.ts';
import { roomTopic } from '../core/topics.ts';
import { presenceWire } from '../core/wire.ts';
import { ServerEvent } from '../protocol.ts';
import type { ChatRedis } from './commands.ts';
import { RECONNECT_MAX_MS } from './connection.ts';
import type { KeySpace } from './keys.ts';
import type { NodeRecovery } from './node-recovery.ts';
import type { RedisStore } from './redis-store.ts';

export class PresenceReaper {
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private reapTimer: ReturnType<typeof setInterval> | undefined;
  /** Since when (this node's clock) every heartbeat has succeeded promptly; undefined after a failure. */
  private healthySince: number | undefined;
  private lastBeatAt = 0;
  private beatenOnce = false;
  private reaping = false;
  private stopped = false;

  constructor(
    private readonly redis: ChatRedis,
    private readonly keys: KeySpace,
    private readonly store: RedisStore,
    private readonly bus: Bus,
    private readonly recovery: NodeRecovery,
    private readonly logger: Logger,
    /** REDIS_PRESENCE_TTL_MS, and ROOM_TTL_MS for what the reaper writes. */
    private readonly ttls: { presenceMs: number; roomMs: number },
  ) {
    redis.on('close', () => (this.healthySince = undefined));
  }

  get nodeId(): string {
    return this.store.nodeId;
  }

  private get beatMs(): number {
    return Math.max(100, Math.floor(this.ttls.presenceMs / 3));
  }

  async start(): Promise<void> {
    await this.recovery.start();
    await this.heartbeat();
    // Registered again before anything else the node sends, so a node that dies right after a
    // reconnect is known to the reaper.
    this.redis.on('ready', () => void this.heartbeat(true));
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.beatMs);
    this.reapTimer = setInterval(() => void this.reap(), Math.max(100, Math.floor(this.ttls.presenceMs / 2)));
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

  private async heartbeat(reconnected = false): Promise<void> {
    if (this.stopped) return;
    const sentAt = Date.now();
    // This node was paused or starved (the timer came late): others may have reaped it; it must
    // not reap before it has heartbeated promptly for a while again.
    if (this.beatenOnce && sentAt - this.lastBeatAt > 2 * this.beatMs) this.healthySince = undefined;
    try {
      const [, wasKnown] = await this.redis.chatHeartbeat(this.keys.nodes, this.nodeId);
      this.lastBeatAt = Date.now();
      if (this.lastBeatAt - sentAt > this.beatMs) this.healthySince = undefined;
      else this.healthySince ??= sentAt;
      const known = wasKnown === 1 || !this.beatenOnce;
      this.beatenOnce = true;
      if (reconnected) await this.recovery.reconnected(known);
      else if (!known) await this.recovery.forgotten();
      else await this.recovery.catchUp();
    } catch (err) {
      this.healthySince = undefined;
      this.logger.debug('heartbeat failed', { err: String(err) });
    }
  }

  /** Whether this node may take others for dead now: its own link to Redis has been sound long enough. */
  get mayReap(): boolean {
    return this.healthySince !== undefined && Date.now() - this.healthySince >= this.ttls.presenceMs + RECONNECT_MAX_MS;
  }

  /** One reaping round; returns the dead nodes it handled. Exposed for tests. */
  async reap(): Promise<string[]> {
    if (this.stopped || this.reaping || !this.mayReap) return [];
    this.reaping = true;
    try {
      const flat = await this.redis.chatClaimDeadNodes(
        this.keys.nodes,
        this.keys.reaperLock,
        this.nodeId,
        this.ttls.presenceMs,
        Math.floor(this.ttls.presenceMs / 2),
        Math.floor(this.ttls.presenceMs / 2),
      );
      const dead: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        if (flat[i] === this.nodeId) continue;
        // A stall during the round: whatever silence was seen may be Redis's.
        if (!this.mayReap) break;
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
      const reply = await this.redis.chatDropNodePresence(room.members, room.cursors, room.online, deadId, this.ttls.roomMs);
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
    // puts its presence back, announcing `login` again.
    await this.redis.zrem(this.keys.nodes, deadId);
    this.logger.warn('reaped a dead node', { node: deadId, rooms: rooms.length, users: users.length, notices });
  }
}
