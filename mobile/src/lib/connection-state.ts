/** What the UI shows about the one socket. */
export type ConnectionState =
  | { status: 'connecting' }
  | { status: 'online' }
  /** Waiting before the next attempt; `retryAt` is ms since the epoch. */
  | { status: 'reconnecting'; retryAt: number; attempt: number }
  | { status: 'offline'; reason: 'network' | 'stopped' | 'unauthorized' };

/** A state's name in the transition table: the status, and for `offline` its reason. */
export type StateKey = 'connecting' | 'online' | 'reconnecting' | 'offline:network' | 'offline:stopped' | 'offline:unauthorized';

export function stateKey(state: ConnectionState): StateKey {
  return state.status === 'offline' ? `offline:${state.reason}` : state.status;
}

/**
 * Every transition the client may make. `stopped` is where it starts and ends; `unauthorized` only
 * ends (a new login makes a new client); `online` is reached only from `connecting`. Going from a
 * state to itself is allowed only for `reconnecting` (an earlier retry time).
 */
const TRANSITIONS: Record<StateKey, readonly StateKey[]> = {
  'offline:stopped': ['connecting', 'offline:network'],
  'offline:network': ['connecting', 'reconnecting', 'offline:stopped'],
  'offline:unauthorized': ['offline:stopped'],
  connecting: ['online', 'reconnecting', 'offline:network', 'offline:stopped', 'offline:unauthorized'],
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
      return seconds > 0 ? `连接已断开，${seconds} 秒后重连…` : '正在重连…';
    }
    case 'offline':
      return state.reason === 'network' ? '网络不可用，请检查网络设置' : state.reason === 'unauthorized' ? '登录已失效，请重新登录' : '未连接';
  }
}
