/** What the core's handlers share: settings, backends, this node's sessions and the way out. */

import type { AdmissionLimits } from './admission.ts';
import type { Authenticator } from './auth.ts';
import type { Bus } from './bus.ts';
import type { FanOut } from './fan-out.ts';
import type { LocalRegistry } from './local-registry.ts';
import type { Logger } from './logger.ts';
import type { Outbound } from './outbound.ts';
import type { KeyedBuckets } from './rate-limiter.ts';
import type { RoomLog } from './room-log.ts';
import type { ChatStore } from './store.ts';

export interface CoreSettings extends AdmissionLimits {
  heartbeatIntervalMs: number;
  authTimeoutMs: number;
  maxMessageChars: number;
  historyPerRoom: number;
  roomsPerConnection: number;
  rateLimitPerSec: number;
  rateLimitBurst: number;
  userRatePerSec: number;
  userRateBurst: number;
  roomsCreatedPerHour: number;
  directPeersPerHour: number;
  sendBufferLimitBytes: number;
  drainTimeoutMs: number;
  outputMaxBytes: number;
  /** Frames of one connection waiting to be handled; more are refused with 4503. */
  queuedFramesPerConnection: number;
  /** ROOM_MAX_MEMBERS and ROOM_MAX_ADMINS. */
  roomMaxMembers: number;
  roomMaxAdmins: number;
}

/** What one user may do in a while, over all their connections on this node. */
export interface UserQuotas {
  /** Frames per second. */
  frames: KeyedBuckets;
  /** Rooms created. */
  roomsCreated: KeyedBuckets;
  /** Direct conversations started with someone new. */
  directPeers: KeyedBuckets;
}

/** Tallies for /metrics; the handlers add to them. */
export interface CoreCounters {
  authenticated: number;
  messagesIn: number;
  heartbeatTerminations: number;
  authFailures: number;
  rateLimitedFrames: number;
}

export interface CoreContext<P = unknown> {
  readonly settings: CoreSettings;
  readonly store: ChatStore;
  readonly log: RoomLog;
  readonly bus: Bus;
  readonly auth: Authenticator;
  readonly logger: Logger;
  readonly registry: LocalRegistry<P>;
  readonly out: Outbound<P>;
  readonly fanOut: FanOut<P>;
  readonly counters: CoreCounters;
  readonly quotas: UserQuotas;
}
