import { CloseCode, ErrorCode } from '@chatroom/server/protocol';
import type { DisconnectCause } from './connection-state';
import { untilClock } from './group-view';
import { NOT_CONNECTED } from './pending-requests';

/**
 * Every error and close code of the protocol (server/src/protocol.ts, docs/protocol.md) in plain
 * Chinese, with what the user can do about it.
 */

/** What a refusal was about: the request's event (`join`, `invite`, `kick`…) and, for 4416, when the mute ends. */
export interface ErrorContext {
  request?: string;
  until?: number;
}

/** Why a request was refused (`{event:"error"}`), as the sender is told. */
export function describeError(code: number, context: ErrorContext = {}): string {
  const { request, until } = context;
  switch (code) {
    case NOT_CONNECTED:
      return '未连接到服务器，请稍后再试';
    case ErrorCode.TooLarge:
      return '消息太长，发送失败';
    case ErrorCode.RateLimited:
      return '发送太频繁，请稍后再试';
    case ErrorCode.NotMember:
      if (request === 'message' || request === undefined) return '你已不在该聊天室，请重新加入后再发送';
      return '群聊不存在，或你不是该群成员';
    case ErrorCode.Forbidden:
      if (request === 'admin' || request === 'transfer') return '仅群主可以进行此操作';
      if (request === 'kick' || request === 'ban' || request === 'mute') return '没有权限：仅群主和管理员可以，且管理员不能处理群主或其他管理员';
      return '你没有权限进行此操作，仅群主或管理员可以';
    case ErrorCode.Muted:
      return until === undefined ? '全员禁言中，仅群主和管理员可以发言' : `你已被禁言，至 ${untilClock(until)}`;
    case ErrorCode.Banned:
      return request === 'invite' ? '该用户已被加入黑名单，请先解除' : '你已被移出该群，无法加入';
    case ErrorCode.RoomFull:
      if (request === 'admin') return '管理员人数已达上限';
      if (request === 'link') return '邀请链接数量已达上限，请先撤销一些';
      if (request === 'ban') return '黑名单人数已达上限';
      return '群成员人数已达上限';
    case ErrorCode.BadLink:
      return '邀请链接无效、已过期或已被撤销';
    case ErrorCode.NoSuchUser:
      return request === 'invite' ? '找不到该用户，请确认用户 ID' : '该用户不在群内';
    case ErrorCode.TooManyRooms:
      return '加入的聊天室太多，请先退出一些聊天室';
    case ErrorCode.Unavailable:
      return '服务器暂时无法处理，稍后会自动重试';
    case ErrorCode.ForgedIdentity:
    case ErrorCode.AuthFailed:
      return '身份验证失败，请重新登录';
    case ErrorCode.InvalidField:
      return request === 'message' || request === undefined ? '内容不符合要求，发送失败' : '内容不符合要求，请修改后再试';
    case ErrorCode.AmbiguousRoom:
      return '没有指定聊天室，发送失败';
    case ErrorCode.InvalidJson:
    case ErrorCode.BinaryFrame:
    case ErrorCode.UnknownEvent:
      return '服务器不认识这个请求，请更新到最新版本';
    case ErrorCode.RecallTooLate:
      return '发送时间超过2分钟的消息，不能被撤回';
    case ErrorCode.NotYourMessage:
      return '只能撤回自己发送的消息';
    case ErrorCode.AlreadyRecalled:
      return '该消息已被撤回';
    case ErrorCode.UnknownMessage:
      return '该消息已不存在';
    case ErrorCode.MentionNotAllowed:
      return '只有群主和管理员可以@所有人';
    case 0:
      return '长时间没有收到服务器确认，点击重发';
    default:
      return `发送失败（错误 ${code}）`;
  }
}

/** Why an own message failed, shown under it. */
export function describeFailure(code: number | undefined, until?: number): string {
  return describeError(code ?? 0, { request: 'message', until });
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
