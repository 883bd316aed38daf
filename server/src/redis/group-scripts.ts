import { LUA_PRELUDE } from './lua-prelude.ts';

/**
 * The room as a group on Redis: one Lua script per step, all keys the room's (one hash slot), so
 * a change and the check of the standings it was decided on are one atomic step. The steps follow
 * core/memory-group.ts; redis-store-parity.test.ts holds the two to the same answers.
 *
 * Every script takes the keys of keys.ts `groupKeys`:
 * KEYS counter members cursors online roles group mutes bans links order
 */

/** Lua shared by the group scripts and by JOIN and LEAVE (room-scripts.ts). */
export const GROUP_LUA = `
local function standing(members, roles, uid)
  if redis.call('HEXISTS', members, uid) == 0 then return 'none' end
  return redis.call('HGET', roles, uid) or 'member'
end
local function owner_of(roles)
  local list = redis.call('HGETALL', roles)
  for i = 1, #list, 2 do if list[i + 1] == 'owner' then return list[i] end end
  return false
end
-- The member uid is gone: their role goes with them, and the owner's passes to the admin who joined
-- first, else to the member who did. Returns the heir, or false.
local function succeed(members, roles, mutes, order, uid)
  local role = redis.call('HGET', roles, uid)
  redis.call('HDEL', roles, uid)
  redis.call('ZREM', order, uid)
  if role ~= 'owner' then return false end
  local heir, best = false, nil
  local list = redis.call('HGETALL', roles)
  for i = 1, #list, 2 do
    if list[i + 1] == 'admin' then
      local score = tonumber(redis.call('ZSCORE', order, list[i])) or math.huge
      if not best or score < best then heir, best = list[i], score end
    end
  end
  if not heir then heir = redis.call('ZRANGE', order, 0, 0)[1] or false end
  -- Members from before the join order was kept.
  if not heir then heir = redis.call('HKEYS', members)[1] or false end
  if heir then
    redis.call('HSET', roles, heir, 'owner')
    redis.call('HDEL', mutes, heir)
  end
  return heir
end
`;

/**
 * A new room with its owner as only member; 0 when the id is taken.
 * ARGV uid name title private(1/0) roomTtlMs counterTtlMs newEpoch → 1 created, 0 taken
 */
export const CREATE_GROUP = `${LUA_PRELUDE}
if redis.call('EXISTS', KEYS[1]) + redis.call('EXISTS', KEYS[2]) > 0 then return 0 end
local uid = ARGV[1]
-- A fresh counter, as counter() in the prelude makes one: seq 0 of a new epoch, not used yet.
redis.call('HSET', KEYS[1], 'seq', 0, 'epoch', ARGV[7], 'unused', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('HSET', KEYS[2], uid, ARGV[2])
redis.call('HSET', KEYS[5], uid, 'owner')
redis.call('HSET', KEYS[6], 'title', ARGV[3], 'private', ARGV[4], 'joins', 1)
redis.call('ZADD', KEYS[10], 1, uid)
expire_all({KEYS[2], KEYS[5], KEYS[6], KEYS[10]}, ARGV[5])
return 1
`;

/**
 * The room's group state. ARGV now uid… →
 * {1, num, total, {group field value…}, {uid role joinOrder|'' …}, {uid until name …} (live mutes),
 *  {uid name …} (bans), {key expiresAt …} (live links), {standing name|'' …} (per uid asked)}, or {0}
 */
export const GROUP_VIEW = `${LUA_PRELUDE}${GROUP_LUA}
if redis.call('EXISTS', KEYS[1]) + redis.call('EXISTS', KEYS[2]) == 0 then return {0} end
local now = tonumber(ARGV[1])
local roles = {}
local list = redis.call('HGETALL', KEYS[5])
for i = 1, #list, 2 do
  roles[#roles + 1] = list[i]
  roles[#roles + 1] = list[i + 1]
  roles[#roles + 1] = redis.call('ZSCORE', KEYS[10], list[i]) or ''
end
-- Entries of a hash whose value (a time) is still ahead: field, value[, the member's name], …
local function live(hash, named)
  local out = {}
  local entries = redis.call('HGETALL', hash)
  for i = 1, #entries, 2 do
    if tonumber(entries[i + 1]) > now then
      out[#out + 1] = entries[i]
      out[#out + 1] = entries[i + 1]
      if named then out[#out + 1] = redis.call('HGET', KEYS[2], entries[i]) or entries[i] end
    end
  end
  return out
end
local users = {}
for i = 2, #ARGV do
  users[#users + 1] = standing(KEYS[2], KEYS[5], ARGV[i])
  users[#users + 1] = redis.call('HGET', KEYS[2], ARGV[i]) or ''
end
return {1, redis.call('HLEN', KEYS[4]), redis.call('HLEN', KEYS[2]), redis.call('HGETALL', KEYS[6]), roles, live(KEYS[7], true), redis.call('HGETALL', KEYS[8]), live(KEYS[9], false), users}
`;

/**
 * One change (group-store.ts GroupChange, as JSON), applied only while every [uid, standing] of
 * `expect` holds. ARGV expectJSON changeJSON now roomTtlMs → done | stale | banned | full
 */
export const GROUP_CHANGE = `${LUA_PRELUDE}${GROUP_LUA}
local members, cursors, online, roles, group, mutes, bans, links, order = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
if redis.call('EXISTS', KEYS[1]) + redis.call('EXISTS', members) == 0 then return 'stale' end
for _, e in ipairs(cjson.decode(ARGV[1])) do
  if standing(members, roles, e[1]) ~= e[2] then return 'stale' end
end
local change, now = cjson.decode(ARGV[2]), tonumber(ARGV[3])
local op, user = change.op, change.user
local function remove_member()
  if redis.call('HDEL', members, user) == 0 then return end
  redis.call('HDEL', cursors, user)
  redis.call('HDEL', online, user)
  succeed(members, roles, mutes, order, user)
end
if op == 'invite' then
  if redis.call('HEXISTS', bans, user) == 1 then return 'banned' end
  if redis.call('HLEN', members) >= change.maxMembers then return 'full' end
  redis.call('HSET', members, user, change.name)
  redis.call('ZADD', order, redis.call('HINCRBY', group, 'joins', 1), user)
elseif op == 'kick' then
  remove_member()
elseif op == 'ban' then
  if redis.call('HEXISTS', bans, user) == 0 and redis.call('HLEN', bans) >= change.maxBans then return 'full' end
  redis.call('HSET', bans, user, change.name)
  remove_member()
elseif op == 'unban' then
  redis.call('HDEL', bans, user)
elseif op == 'mute' then
  if change['until'] > 0 then redis.call('HSET', mutes, user, int(change['until'])) else redis.call('HDEL', mutes, user) end
elseif op == 'role' then
  if change.role == 'member' then
    redis.call('HDEL', roles, user)
  elseif redis.call('HGET', roles, user) ~= 'admin' then
    local admins = 0
    local list = redis.call('HVALS', roles)
    for i = 1, #list do if list[i] == 'admin' then admins = admins + 1 end end
    if admins >= change.maxAdmins then return 'full' end
    redis.call('HSET', roles, user, 'admin')
  end
elseif op == 'transfer' then
  redis.call('HDEL', roles, change.from)
  redis.call('HSET', roles, user, 'owner')
  redis.call('HDEL', mutes, user)
elseif op == 'profile' then
  if change.title then redis.call('HSET', group, 'title', change.title) end
  if change.notice == cjson.null then
    redis.call('HDEL', group, 'notice', 'noticeUid', 'noticeName', 'noticeTs')
  elseif change.notice then
    local n = change.notice
    redis.call('HSET', group, 'notice', n.text, 'noticeUid', n.uid, 'noticeName', n.name, 'noticeTs', int(n.ts))
  end
  if change.private ~= nil then redis.call('HSET', group, 'private', change.private and '1' or '0') end
  if change.muteAll ~= nil then redis.call('HSET', group, 'muteAll', change.muteAll and '1' or '0') end
elseif op == 'link' then
  local list = redis.call('HGETALL', links)
  for i = 1, #list, 2 do if tonumber(list[i + 1]) <= now then redis.call('HDEL', links, list[i]) end end
  if redis.call('HLEN', links) >= change.maxLinks then return 'full' end
  redis.call('HSET', links, change.key, int(change.expiresAt))
elseif op == 'revoke' then
  redis.call('HDEL', links, change.key)
end
expire_all({members, cursors, online, roles, group, mutes, bans, links, order}, ARGV[4])
return 'done'
`;
