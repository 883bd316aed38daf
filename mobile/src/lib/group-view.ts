import type { GroupProfile, GroupRole, MemberInfo } from '@chatroom/server/protocol';

/**
 * What the group pages show and offer, from the profile (`group`) and the member list (`members`):
 * who may speak, each member's badges, and which actions the user's role allows on whom
 * (docs/protocol.md#roles: owner > admin > member; kick, ban and mute only on a lower rank).
 */

type Profile = Omit<GroupProfile, 'roomid'> | undefined;

/** When the user may not speak: their own mute's end (ms), `all` under 全员禁言 (plain members), or undefined. */
export function silencedUntil(group: Profile, now = Date.now()): number | 'all' | undefined {
  if (!group?.role) return undefined;
  if (group.mutedUntil !== undefined && group.mutedUntil > now) return group.mutedUntil;
  if (group.muteAll && group.role === 'member') return 'all';
  return undefined;
}

/** What the input bar says instead of the input while the user may not speak ('' when they may). */
export function silencedText(group: Profile, now = Date.now()): string {
  const until = silencedUntil(group, now);
  if (until === undefined) return '';
  if (until === 'all') return '全员禁言中，仅群主和管理员可以发言';
  return `你已被禁言，至 ${untilClock(until, now)}`;
}

/** A mute's end as people say it: "14:30" today, "明天 14:30", "3月7日 14:30", "2027年3月7日 14:30". */
export function untilClock(ts: number, now = Date.now()): string {
  const date = new Date(ts);
  const today = new Date(now);
  const clock = `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
  const day = (offset: number) => new Date(today.getFullYear(), today.getMonth(), today.getDate() + offset).getTime();
  if (ts >= day(0) && ts < day(1)) return clock;
  if (ts >= day(1) && ts < day(2)) return `明天 ${clock}`;
  if (date.getFullYear() === today.getFullYear()) return `${date.getMonth() + 1}月${date.getDate()}日 ${clock}`;
  return `${date.getFullYear()}年${date.getMonth() + 1}月${date.getDate()}日 ${clock}`;
}

export const ROLE_LABELS: Record<GroupRole, string> = { owner: '群主', admin: '管理员', member: '' };

export function roleOf(group: Profile, uid: string): GroupRole {
  if (group?.owner === uid) return 'owner';
  if (group?.admins?.includes(uid)) return 'admin';
  return 'member';
}

const RANK: Record<GroupRole, number> = { owner: 2, admin: 1, member: 0 };

export interface MemberRow extends MemberInfo {
  role: GroupRole;
  /** A running mute (known to owners and admins, and to the user about themselves). */
  mutedUntil?: number;
  self: boolean;
}

/** The member list with roles and mutes: owner first, then admins, then the others, online first, by name. */
export function memberRows(members: MemberInfo[], group: Profile, selfUid: string, now = Date.now()): MemberRow[] {
  const mutes = new Map((group?.mutes ?? []).filter((m) => m.until > now).map((m) => [m.uid, m.until]));
  if (group?.mutedUntil !== undefined && group.mutedUntil > now) mutes.set(selfUid, group.mutedUntil);
  const rows = members.map((m) => ({ ...m, role: roleOf(group, m.uid), mutedUntil: mutes.get(m.uid), self: m.uid === selfUid }));
  return rows.sort((a, b) => RANK[b.role] - RANK[a.role] || Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
}

export type MemberAction = 'message' | 'mute' | 'unmute' | 'kick' | 'ban' | 'admin' | 'unadmin' | 'transfer';

export const MEMBER_ACTION_LABELS: Record<MemberAction, string> = {
  message: '发消息',
  mute: '禁言',
  unmute: '解除禁言',
  kick: '移出群聊',
  ban: '移出并拉黑',
  admin: '设为管理员',
  unadmin: '取消管理员',
  transfer: '转让群主',
};

/** What the user may do to a member, in the order a menu shows it. */
export function memberActions(group: Profile, target: MemberRow): MemberAction[] {
  if (target.self) return [];
  const actions: MemberAction[] = ['message'];
  const mine = group?.role ?? 'member';
  if (RANK[mine] > RANK[target.role] && mine !== 'member') {
    actions.push(target.mutedUntil !== undefined ? 'unmute' : 'mute', 'kick', 'ban');
  }
  if (mine === 'owner') actions.push(target.role === 'admin' ? 'unadmin' : 'admin', 'transfer');
  return actions;
}

/** Mute durations offered, in seconds (the protocol allows up to 30 days). */
export const MUTE_CHOICES: Array<{ label: string; seconds: number }> = [
  { label: '10分钟', seconds: 600 },
  { label: '1小时', seconds: 3_600 },
  { label: '12小时', seconds: 43_200 },
  { label: '1天', seconds: 86_400 },
  { label: '7天', seconds: 604_800 },
];

/** Lifetimes offered for an invite link, in seconds. */
export const LINK_CHOICES: Array<{ label: string; seconds: number }> = [
  { label: '1天', seconds: 86_400 },
  { label: '7天', seconds: 604_800 },
  { label: '30天', seconds: 2_592_000 },
];

export function isModerator(group: Profile): boolean {
  return group?.role === 'owner' || group?.role === 'admin';
}

/**
 * What people share for an invite link, and the QR code's content: the H5 app's join page on the
 * server that serves it (`https://<host>/#/pages/join/index?roomid=…&link=…`). The mini-program
 * opens the same page from its path (`pages/join/index?roomid=…&link=…`).
 */
export function inviteUrl(origin: string, roomid: string, link: string): string {
  return `${origin.replace(/\/+$/, '')}/#/${invitePath(roomid, link)}`;
}

export function invitePath(roomid: string, link: string): string {
  return `pages/join/index?roomid=${encodeURIComponent(roomid)}&link=${encodeURIComponent(link)}`;
}

/** The room id and key from a shared invite URL (or path) pasted in, or undefined when it is none. */
export function parseInvite(text: string): { roomid: string; link: string } | undefined {
  const query = text.trim().split('?')[1];
  if (!query) return undefined;
  const params = new Map(
    query
      .split('#')[0]
      .split('&')
      .map((pair) => {
        const [key, value = ''] = pair.split('=');
        return [key, safeDecode(value)] as const;
      }),
  );
  const roomid = params.get('roomid');
  const link = params.get('link');
  return roomid && link ? { roomid, link } : undefined;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
