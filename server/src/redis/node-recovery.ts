/**
 * What a node does once Redis answers again, so that nothing it holds is lost or left behind:
 *
 * - After a reconnect to a Redis that restarted (its run id changed: it may have lost or rolled back
 *   data), or when Redis no longer knows this node (it lost its data, or another node took this one
 *   for dead): the seq floors of its rooms go back first, then the presence of every connection it
 *   holds, announcing `login` in the rooms its users had dropped out of, and what waited in their
 *   inboxes is published to them.
 * - Always: the presence notices it could not publish meanwhile go out, the connections whose last
 *   store operation failed are put back, and the presence of connections that closed meanwhile is
 *   removed, announcing `logout`.
 *
 * Repairs run one at a time; a repair that fails leaves its work for the next (the heartbeat asks).
 */

import { EnvelopeKind } from '../core/envelope.ts';
import type { Logger } from '../core/logger.ts';
import { roomTopic } from '../core/topics.ts';
import { presenceWire } from '../core/wire.ts';
import { ServerEvent } from '../protocol.ts';
import type { ChatRedis } from './commands.ts';
import type { RedisBus } from './redis-bus.ts';
import type { PresenceChange, RedisStore } from './redis-store.ts';

const FORGOTTEN = 'redis had lost this node; presence restored';
const RESTARTED = 'redis restarted; seq floors and presence restored';

export class NodeRecovery {
  private runId: string | undefined;
  /** Compare the run id at the next repair: the connection was reopened. */
  private runIdDue = false;
  /** Why every connection must be put back (until a repair of all succeeded). */
  private fullRepairDue: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private waiting: Promise<void> | undefined;

  constructor(
    private readonly redis: ChatRedis,
    private readonly store: RedisStore,
    private readonly bus: RedisBus,
    private readonly logger: Logger,
  ) {}

  /** Remembers which Redis process this node talks to. */
  async start(): Promise<void> {
    this.runId = await this.currentRunId();
  }

  /** The commands connection is ready again; `known`: Redis still listed this node. */
  reconnected(known: boolean): Promise<void> {
    this.runIdDue = true;
    if (!known) this.fullRepairDue = FORGOTTEN;
    return this.serially();
  }

  /** Redis answers but no longer knows this node. */
  forgotten(): Promise<void> {
    this.fullRepairDue = FORGOTTEN;
    return this.serially();
  }

  /** Finishes what failed while Redis did not answer (cheap when there is nothing). */
  catchUp(): Promise<void> {
    return this.serially();
  }

  /** Runs a repair after the current one; a repair not started yet already covers a new request. */
  private serially(): Promise<void> {
    if (this.waiting) return this.waiting;
    const next = this.queue
      .then(() => {
        this.waiting = undefined;
        return this.run();
      })
      .catch((err) => this.logger.warn('repair after a redis outage failed; retried at the next heartbeat', { err: String(err) }));
    this.waiting = next;
    this.queue = next;
    return next;
  }

  private async run(): Promise<void> {
    if (this.runIdDue) {
      const runId = await this.currentRunId();
      // Not knowing (INFO refused) counts as a restart: a full repair only costs time.
      if (runId === undefined || runId !== this.runId) this.fullRepairDue ??= RESTARTED;
      this.runId = runId;
      this.runIdDue = false;
    }
    const reason = this.fullRepairDue;
    await this.repair(reason !== undefined, reason);
    if (this.fullRepairDue === reason) this.fullRepairDue = undefined;
  }

  private async repair(all: boolean, reason?: string): Promise<void> {
    if (all) await this.store.restoreFloors();
    await this.bus.publishLateNotices();
    if (!all && !this.store.needsRepair) return;
    const repaired = await this.store.repair(all);
    for (const change of repaired.cameOnline) await this.announce(ServerEvent.Login, change);
    for (const change of repaired.wentOffline) await this.announce(ServerEvent.Logout, change);
    const figures = { connections: repaired.connections, cameOnline: repaired.cameOnline.length, wentOffline: repaired.wentOffline.length, drained: repaired.drained };
    if (reason) this.logger.warn(reason, figures);
    else if (repaired.connections + repaired.wentOffline.length > 0) this.logger.info('presence repaired after a redis outage', figures);
  }

  private async announce(event: ServerEvent.Login | ServerEvent.Logout, change: PresenceChange): Promise<void> {
    const text = presenceWire(event, change, change.roomid, change, event === ServerEvent.Logout ? 'close' : undefined);
    await this.bus.publish({ kind: EnvelopeKind.Notice, topic: roomTopic(change.roomid), text });
  }

  /** Redis's run id (it changes with every restart), or undefined when INFO is refused (ACLs). */
  private async currentRunId(): Promise<string | undefined> {
    let info: string;
    try {
      info = await this.redis.info('server');
    } catch (err) {
      if (String(err).includes('NOPERM')) return undefined;
      throw err;
    }
    return /^run_id:(\S+)/m.exec(info)?.[1];
  }
}
