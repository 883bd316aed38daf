import { CloseCode, ErrorCode } from '@chatroom/server/protocol';
import type { DisconnectCause } from './connection-state';

/**
 * Every error and close code of the protocol (server/src/protocol.ts, docs/protocol.md) in plain
 * Chinese, with what the user can do about it.
 */

/** Why a request was refused (`{event:"error"}`), as the sender is told. */
export function describeError(code: number): string {
  switch (code) {
    case ErrorCode.TooLarge:
      return '消息太长，发送失败';
    case ErrorCode.RateLimited:
      return '发送太频繁，请稍后再试';
    case ErrorCode.NotMember:
      return '你已不在该聊天室，请重新加入后再发送';
    case ErrorCode.TooManyRooms:
      return '加入的聊天室太多，请先退出一些聊天室';
    case ErrorCode.Unavailable:
      return '服务器暂时无法处理，稍后会自动重试';
    case ErrorCode.ForgedIdentity:
    case ErrorCode.AuthFailed:
      return '身份验证失败，请重新登录';
    case ErrorCode.InvalidField:
      return '内容不符合要求，发送失败';
    case ErrorCode.AmbiguousRoom:
      return '没有指定聊天室，发送失败';
    case ErrorCode.InvalidJson:
    case ErrorCode.BinaryFrame:
    case ErrorCode.UnknownEvent:
      return '服务器不认识这个请求，请更新到最新版本';
    case 0:
      return '长时间没有收到服务器确认，点击重发';
    default:
      return `发送失败（错误 ${code}）`;
  }
}

/** Why an own message failed, shown under it. */
export function describeFailure(code: number | undefined): string {
  return describeError(code ?? 0);
}

/** Why the socket ended, for the banner ("…，N 秒后重连"). */
export function describeCause(cause: DisconnectCause): string {
  switch (cause.kind) {
    case 'unreachable':
      return '无法连接服务器，请检查网络';
    case 'certificate':
      return '服务器证书不受信任，请联系管理员';
    case 'silent':
      return '服务器长时间无响应';
    case 'login':
      return '暂时无法续期登录';
    case 'closed':
      return describeClose(cause.code);
  }
}

export function describeClose(code: number): string {
  switch (code) {
    case CloseCode.GoingAway:
      return '服务器正在重启';
    case CloseCode.MessageTooBig:
      return '发送的数据过大，连接被服务器关闭';
    case CloseCode.AuthExpired:
      return '登录已过期，正在重新登录';
    case CloseCode.AuthTimeout:
      return '登录超时';
    case CloseCode.HeartbeatTimeout:
      return '网络不稳定，连接超时';
    case CloseCode.SlowConsumer:
      return '网络太慢，消息积压，连接被服务器断开';
    case CloseCode.RateLimited:
      return '请求过于频繁，连接被服务器断开';
    case CloseCode.Normal:
      return '连接已关闭';
    default:
      return '网络连接中断';
  }
}

/** The login page's message for a failed sign-in (HTTP status of POST /api/login, or none: unreachable). */
export function describeLoginFailure(status: number | undefined): string {
  if (status === undefined || status === 0) return '无法连接服务器，请检查网络和服务器地址';
  if (status === 404) return '该服务器未开放昵称登录，请使用其他登录方式';
  if (status === 403) return '该服务器不接受来自此页面的登录';
  if (status === 429) return '登录太频繁，请一分钟后再试';
  if (status === 400) return '昵称不可用：请填写 1 到 32 个可见字符';
  if (status >= 500) return '服务器暂时不可用，请稍后再试';
  return `登录失败（HTTP ${status}）`;
}
