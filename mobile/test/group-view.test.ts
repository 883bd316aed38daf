import { ErrorCode, type GroupProfile } from '@chatroom/server/protocol';
import { describe, expect, it } from 'vitest';
import { describeError } from '../src/lib/error-text';
import { inviteUrl, memberActions, memberRows, parseInvite, silencedText, silencedUntil, untilClock } from '../src/lib/group-view';

const NOW = new Date(2026, 10, 30, 12, 0).getTime();
const base: Omit<GroupProfile, 'roomid'> = { title: '家庭群', private: true, num: 3, total: 3, maxMembers: 2000, owner: 'o', admins: ['a'] };
const members = [
  { uid: 'm', name: '小明', online: false },
  { uid: 'a', name: '阿姨', online: true },
  { uid: 'o', name: '奶奶', online: false },
];

describe('group-view: what the group pages show and offer', () => {
  it('lists the owner first, then admins, then members, with their roles and running mutes', () => {
    const rows = memberRows(
      members,
      {
        ...base,
        role: 'owner',
        mutes: [
          { uid: 'm', name: '小明', until: NOW + 60_000 },
          { uid: 'a', name: '阿姨', until: NOW - 1 },
        ],
      },
      'o',
      NOW,
    );
    expect(rows.map((r) => [r.uid, r.role, r.mutedUntil, r.self])).toEqual([
      ['o', 'owner', undefined, true],
      ['a', 'admin', undefined, false],
      ['m', 'member', NOW + 60_000, false],
    ]);
  });

  it('offers each role only what the server allows: a lower rank, the owner alone names admins and hands over', () => {
    const asOwner = memberRows(members, { ...base, role: 'owner' }, 'o', NOW);
    const asAdmin = memberRows(members, { ...base, role: 'admin' }, 'a', NOW);
    const asMember = memberRows(members, { ...base, role: 'member' }, 'm', NOW);
    const of = (rows: typeof asOwner, uid: string, role: 'owner' | 'admin' | 'member') => memberActions({ ...base, role }, rows.find((r) => r.uid === uid)!);
    expect(of(asOwner, 'a', 'owner')).toEqual(['message', 'mute', 'kick', 'ban', 'unadmin', 'transfer']);
    expect(of(asOwner, 'o', 'owner')).toEqual([]);
    expect(of(asAdmin, 'm', 'admin')).toEqual(['message', 'mute', 'kick', 'ban']);
    expect(of(asAdmin, 'o', 'admin')).toEqual(['message']);
    expect(of(asMember, 'a', 'member')).toEqual(['message']);
  });

  it('says why the input is closed: the own mute until a time, or 全员禁言 for plain members only', () => {
    const until = new Date(2026, 10, 30, 14, 30).getTime();
    expect(silencedUntil({ ...base, role: 'member', mutedUntil: until }, NOW)).toBe(until);
    expect(silencedText({ ...base, role: 'member', mutedUntil: until }, NOW)).toBe('你已被禁言，至 14:30');
    expect(silencedText({ ...base, role: 'member', mutedUntil: NOW - 1 }, NOW)).toBe('');
    expect(silencedText({ ...base, role: 'member', muteAll: true }, NOW)).toBe('全员禁言中，仅群主和管理员可以发言');
    expect(silencedText({ ...base, role: 'admin', muteAll: true }, NOW)).toBe('');
    expect(silencedText(undefined, NOW)).toBe('');
    expect(untilClock(new Date(2026, 11, 1, 9, 5).getTime(), NOW)).toBe('明天 09:05');
    expect(untilClock(new Date(2026, 11, 7, 9, 5).getTime(), NOW)).toBe('12月7日 09:05');
    expect(untilClock(new Date(2027, 2, 7, 9, 5).getTime(), NOW)).toBe('2027年3月7日 09:05');
  });

  it('makes and reads invite URLs (the QR content), and refuses what is not one', () => {
    const url = inviteUrl('https://chat.example.com/', 'g:abc_DEF-123', 'key-_1');
    expect(url).toBe('https://chat.example.com/#/pages/join/index?roomid=g%3Aabc_DEF-123&link=key-_1');
    expect(parseInvite(`  ${url} `)).toEqual({ roomid: 'g:abc_DEF-123', link: 'key-_1' });
    expect(parseInvite('lobby')).toBeUndefined();
    expect(parseInvite('https://x/#/pages/join/index?roomid=g%3Aa')).toBeUndefined();
  });

  it('says each group refusal in Chinese, by what was asked', () => {
    expect(describeError(ErrorCode.Forbidden, { request: 'transfer' })).toBe('仅群主可以进行此操作');
    expect(describeError(ErrorCode.RoomFull, { request: 'invite' })).toBe('群成员人数已达上限');
    expect(describeError(ErrorCode.RoomFull, { request: 'link' })).toBe('邀请链接数量已达上限，请先撤销一些');
    expect(describeError(ErrorCode.NoSuchUser, { request: 'invite' })).toBe('找不到该用户，请确认用户 ID');
    expect(describeError(ErrorCode.NoSuchUser, { request: 'kick' })).toBe('该用户不在群内');
    expect(describeError(ErrorCode.Banned, { request: 'join' })).toBe('你已被移出该群，无法加入');
    expect(describeError(ErrorCode.NotMember, { request: 'group' })).toBe('群聊不存在，或你不是该群成员');
  });
});
