import { describeCause } from './error-text';

/** Why the last socket ended, so the UI can say it and what to do. */
export type DisconnectCause =
  /** The server closed it with this code (docs/protocol.md), or it dropped after opening (1006). */
  | { kind: 'closed'; code: number }
  /** It never opened: no network path to the server. */
  | { kind: 'unreachable' }
  /** It never opened: TLS refused the server's certificate. */
  | { kind: 'certificate' }
  /** Nothing came in time: no `authed` after connecting, or no frame within the heartbeat. */
  | { kind: 'silent' }
  /** The token could not be renewed just now (the login endpoint unreachable). */
  | { kind: 'login' };

/** What the UI shows about the one socket. */
export type ConnectionState =
  | { status: 'connecting' }
  | { status: 'online' }
  /** Waiting before the next attempt; `retryAt` is ms since the epoch. */
  | { status: 'reconnecting'; retryAt: number; attempt: number; cause?: DisconnectCause }
  | { status: 'offline'; reason: 'network' | 'stopped' | 'unauthorized' };

/** A state's name in the transition table: the status, and for `offline` its reason. */
export type StateKey = 'connecting' | 'online' | 'reconnecting' | 'offline:network' | 'offline:stopped' | 'offline:unauthorized';

export function stateKey(state: ConnectionState): StateKey {
  return state.status === 'offline' ? `offline:${state.reason}` : state.status;
}

/**
 * Every transition the client may make. `stopped` is where it starts and ends; `unauthorized` only
 * ends (a new login makes a new client); `online` is reached only from `connecting`. Going from a
 * state to itself is allowed for `reconnecting` (an earlier retry time) and `connecting` (a stuck
 * attempt replaced by a fresh one after a network change).
 */
const TRANSITIONS: Record<StateKey, readonly StateKey[]> = {
  'offline:stopped': ['connecting', 'offline:network'],
  'offline:network': ['connecting', 'reconnecting', 'offline:stopped'],
  'offline:unauthorized': ['offline:stopped'],
  connecting: ['connecting', 'online', 'reconnecting', 'offline:network', 'offline:stopped', 'offline:unauthorized'],
  online: ['connecting', 'reconnecting', 'offline:network', 'offline:stopped', 'offline:unauthorized'],
  reconnecting: ['connecting', 'reconnecting', 'offline:network', 'offline:stopped', 'offline:unauthorized'],
};

export function canTransition(from: ConnectionState, to: ConnectionState): boolean {
  return TRANSITIONS[stateKey(from)].includes(stateKey(to));
}

export class InvalidTransition extends Error {
  constructor(from: ConnectionState, to: ConnectionState) {
    super(`invalid connection transition ${stateKey(from)} -> ${stateKey(to)}`);
    this.name = 'InvalidTransition';
  }
}

/** Chinese status line, with the seconds left before the next attempt. */
export function describeConnection(state: ConnectionState, now = Date.now()): string {
  switch (state.status) {
    case 'connecting':
      return '连接中…';
    case 'online':
      return '已连接';
    case 'reconnecting': {
      const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
      const why = state.cause ? describeCause(state.cause) : '连接已断开';
      return seconds > 0 ? `${why}，${seconds} 秒后重连…` : `${why}，正在重连…`;
    }
    case 'offline':
      return state.reason === 'network' ? '网络不可用，请检查网络设置' : state.reason === 'unauthorized' ? '登录已失效，请重新登录' : '未连接';
  }
}
