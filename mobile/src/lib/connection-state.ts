/** What the UI shows about the one socket. */
export type ConnectionState =
  | { status: 'connecting' }
  | { status: 'online' }
  /** Waiting before the next attempt; `retryAt` is ms since the epoch. */
  | { status: 'reconnecting'; retryAt: number; attempt: number }
  | { status: 'offline'; reason: 'network' | 'stopped' | 'unauthorized' };

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
