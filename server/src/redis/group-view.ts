/** GROUP_VIEW's reply (group-scripts.ts) as the core's GroupState, in the order the embedded store gives it. */

import type { GroupState, Standing } from '../core/group-store.ts';
import type { GroupViewReply } from './commands.ts';

type Flat = (string | number)[];

/** [a, b, c, a, b, c, …] as [[a, b, c], …]. */
function rows(flat: Flat, width: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < flat.length; i += width) out.push(flat.slice(i, i + width).map(String));
  return out;
}

const byUid = (a: { uid: string }, b: { uid: string }): number => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);

export function parseGroupView(reply: GroupViewReply, uids: string[]): GroupState | undefined {
  if (reply[0] !== 1) return undefined;
  const [, num, total, groupFlat, rolesFlat, mutesFlat, bansFlat, linksFlat, usersFlat] = reply;
  const fields = Object.fromEntries(rows(groupFlat, 2));
  const roles = rows(rolesFlat, 3);
  const state: GroupState = {
    num: Number(num),
    total: Number(total),
    private: fields.private === '1',
    muteAll: fields.muteAll === '1',
    admins: roles.filter(([, role]) => role === 'admin').sort((a, b) => Number(a[2] || Infinity) - Number(b[2] || Infinity)).map(([uid]) => uid),
    mutes: rows(mutesFlat, 3).map(([uid, until, name]) => ({ uid, name, until: Number(until) })).sort(byUid),
    bans: rows(bansFlat, 2).map(([uid, name]) => ({ uid, name })).sort(byUid),
    links: rows(linksFlat, 2).map(([key, expiresAt]) => ({ key, expiresAt: Number(expiresAt) })).sort((a, b) => a.expiresAt - b.expiresAt || (a.key < b.key ? -1 : 1)),
    users: {},
  };
  rows(usersFlat, 2).forEach(([standing, name], i) => {
    state.users[uids[i]] = { standing: standing as Standing, ...(name !== '' ? { name } : {}) };
  });
  if (fields.title !== undefined) state.title = fields.title;
  if (fields.notice !== undefined) state.notice = { text: fields.notice, uid: fields.noticeUid, name: fields.noticeName, ts: Number(fields.noticeTs) };
  const owner = roles.find(([, role]) => role === 'owner');
  if (owner) state.owner = owner[0];
  return state;
}
