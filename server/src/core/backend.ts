/**
 * Where a node keeps what outlives connections and how it reaches the other nodes: the store
 * (membership, presence, inboxes), the room log (messages) and the bus (everything else that fans
 * out). Embedded (memory-backend.ts) or on Redis (redis/redis-backends.ts); the core sees only this.
 */

import type { Bus } from './bus.ts';
import type { RoomLog } from './room-log.ts';
import type { ChatStore } from './store.ts';

export interface ChatBackend {
  kind: 'memory' | 'redis';
  store: ChatStore;
  log: RoomLog;
  bus: Bus;
  /** False while an external backend is unreachable. */
  healthy(): boolean;
  /** Whether an external backend answers now, within its deadline (for /healthz). */
  ping?(): Promise<boolean>;
  /** After every connection has detached: releases connections and timers. */
  close(): Promise<void>;
}
