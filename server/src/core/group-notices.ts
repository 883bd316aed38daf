/**
 * System notices: what a group change tells the room. A notice is a `message` frame with `system`
 * set, stored in the room's seq order through the room log like any message, so members who were
 * away see it in their replay and in `history`. `message` says it in words (the Chinese);
 * `system` says it in fields, for clients that word it themselves.
 */

import { v4 as uuidv4 } from 'uuid';
import { type GroupNotice, ServerEvent } from '../protocol.ts';
import type { CoreContext } from './context.ts';

/** Seconds as people say a mute's length: 10分钟, 2小时, 3天. */
export function durationText(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}天`;
  if (seconds % 3600 === 0) return `${seconds / 3600}小时`;
  if (seconds % 60 === 0) return `${seconds / 60}分钟`;
  return `${seconds}秒`;
}

/** The notice in words, as the room reads it. `seconds`: a mute's length. */
export function noticeText(actor: string, notice: GroupNotice, seconds = 0): string {
  const user = notice.user?.name ?? '';
  switch (notice.type) {
    case 'created':
      return `${actor}创建了群聊“${notice.text}”`;
    case 'invited':
      return `${actor}邀请${user}加入了群聊`;
    case 'linked':
      return `${actor}通过邀请链接加入了群聊`;
    case 'kicked':
      return `${user}被管理员移出群聊`;
    case 'muted':
      return `${user}被管理员禁言${durationText(seconds)}`;
    case 'unmuted':
      return `${user}被管理员解除禁言`;
    case 'muteAll':
      return notice.on ? `${actor}开启了全员禁言` : `${actor}关闭了全员禁言`;
    case 'admin':
      return `${user}成为管理员`;
    case 'unadmin':
      return `${user}不再是管理员`;
    case 'owner':
      return `${user}成为新群主`;
    case 'title':
      return `${actor}修改群名为“${notice.text}”`;
    case 'notice':
      return notice.text ? `@所有人 ${notice.text}` : `${actor}清空了群公告`;
    case 'private':
      return notice.on ? `${actor}将本群设为私密群` : `${actor}将本群设为公开群`;
  }
}

/**
 * Stores the notice in the room's history and fans it out, from `actor`. The change it tells of is
 * done already: when the store fails now, the notice is lost (logged), and the change stands.
 */
export async function announce<P>(
  ctx: CoreContext<P>,
  roomid: string,
  actor: { uid: string; name: string },
  notice: GroupNotice,
  seconds?: number,
): Promise<void> {
  const message = noticeText(actor.name, notice, seconds);
  try {
    // A new 群公告 is @所有人: members who are away see "[有人@我]" until they read it.
    const mention = notice.mentionAll ? { mentionAll: true as const } : {};
    await ctx.log.append({
      event: ServerEvent.Message,
      id: uuidv4(),
      roomid,
      ts: Date.now(),
      uid: actor.uid,
      name: actor.name,
      message,
      system: notice,
      ...mention,
    });
  } catch (err) {
    ctx.logger.warn('group notice not stored', { roomid, type: notice.type, err: String(err) });
  }
}
