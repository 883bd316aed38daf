import { GROUP_LUA } from './group-scripts.ts';
import { LUA_PRELUDE } from './lua-prelude.ts';

/**
 * One Lua script per room operation: Redis runs each atomically, so concurrent nodes never see half
 * an update. All keys of a script are the room's (one hash slot). Semantics follow memory-store.ts.
 */

/**
 * KEYS counter members cursors online roles group mutes bans links order history (keys.ts joinKeys)
 * ARGV uid name connId nodeId roomTtlMs mayCreate floor knownEpoch freshEpoch (see counter() in the
 *      prelude) maxMembers linkKey|'' now
 * → num total cameOnline newMember lastSeq cursor|-1 epoch created viaLink, or a refusal: {-1} the
 * room does not exist and may not be created, {-2} private (no valid link), {-3} banned, {-4} full,
 * {-5} the link given is not valid
 */
export const JOIN = `${LUA_PRELUDE}${GROUP_LUA}
local uid, name, conn, node, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local existed = redis.call('EXISTS', KEYS[1]) + redis.call('EXISTS', KEYS[2])
if existed == 0 and ARGV[6] ~= '1' then return {-1} end
local viaLink = 0
if existed > 0 and redis.call('HEXISTS', KEYS[2], uid) == 0 then
  -- A new member of a room that exists: the group's admission (memory-group.ts admit).
  local link = ARGV[11]
  local linked = link ~= '' and (tonumber(redis.call('HGET', KEYS[9], link)) or 0) > tonumber(ARGV[12])
  if link ~= '' and not linked then return {-5} end
  if redis.call('HGET', KEYS[6], 'private') == '1' and not linked then return {-2} end
  if redis.call('HEXISTS', KEYS[8], uid) == 1 then return {-3} end
  if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[10]) then return {-4} end
  if linked then viaLink = 1 end
end
local seq = counter(KEYS[1], KEYS[11], tonumber(ARGV[7]), ARGV[8], ARGV[9])
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local newMember = redis.call('HSET', KEYS[2], uid, name)
if newMember == 1 then redis.call('ZADD', KEYS[10], redis.call('HINCRBY', KEYS[6], 'joins', 1), uid) end
-- A room without an owner (new, emptied, or from before roles) is the joiner's.
if not owner_of(KEYS[5]) then redis.call('HSET', KEYS[5], uid, 'owner') end
local current = redis.call('HGET', KEYS[4], uid)
local cameOnline = 0
local cursor = -1
local present = false
for _, t in ipairs(tokens(current)) do if token_conn(t) == conn then present = true end end
if not present then
  local token = conn .. '/' .. node .. '/' .. int(seq)
  redis.call('HSET', KEYS[4], uid, current and (current .. ' ' .. token) or token)
  if not current then
    cameOnline = 1
    local c = redis.call('HGET', KEYS[3], uid)
    if c then
      cursor = tonumber(c)
      redis.call('HDEL', KEYS[3], uid)
    end
  end
end
expire_all({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]}, ttl)
return {redis.call('HLEN', KEYS[4]), redis.call('HLEN', KEYS[2]), cameOnline, newMember, seq, cursor, epoch, existed == 0 and 1 or 0, viaLink}
`;

/** KEYS members cursors online · ARGV uid connId lastDeliveredSeq roomTtlMs → num total wentOffline */
export const DISCONNECT = `${LUA_PRELUDE}
local uid, conn, delivered = ARGV[1], ARGV[2], tonumber(ARGV[3])
local kept, removed = {}, false
for _, t in ipairs(tokens(redis.call('HGET', KEYS[3], uid))) do
  if token_conn(t) == conn then removed = true else kept[#kept + 1] = t end
end
local wentOffline = 0
if removed then
  if #kept > 0 then
    redis.call('HSET', KEYS[3], uid, table.concat(kept, ' '))
  else
    redis.call('HDEL', KEYS[3], uid)
    wentOffline = 1
    if redis.call('HEXISTS', KEYS[1], uid) == 1 then
      local c = tonumber(redis.call('HGET', KEYS[2], uid) or '0')
      redis.call('HSET', KEYS[2], uid, int(math.max(c, delivered)))
      redis.call('PEXPIRE', KEYS[2], ARGV[4])
    end
  end
end
return {redis.call('HLEN', KEYS[3]), redis.call('HLEN', KEYS[1]), wentOffline}
`;

/** KEYS members cursors online roles mutes order · ARGV uid → num total wasMember heir|'' heirName|'' (the owner left) */
export const LEAVE = `${GROUP_LUA}
local was = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
local heir = succeed(KEYS[1], KEYS[4], KEYS[5], KEYS[6], ARGV[1])
return {redis.call('HLEN', KEYS[3]), redis.call('HLEN', KEYS[1]), was, heir or '', heir and redis.call('HGET', KEYS[1], heir) or ''}
`;

/** KEYS members online → num total */
export const COUNTS = `return {redis.call('HLEN', KEYS[2]), redis.call('HLEN', KEYS[1])}`;

/** KEYS members online → uid name online … (flat) */
export const MEMBERS = `
local out = {}
local list = redis.call('HGETALL', KEYS[1])
for i = 1, #list, 2 do
  out[#out + 1] = list[i]
  out[#out + 1] = list[i + 1]
  out[#out + 1] = redis.call('HEXISTS', KEYS[2], list[i])
end
return out
`;

/**
 * Assigns the next seq, keeps the message, and (for rooms) publishes it, in one step: Redis
 * serialises the scripts, so every node receives a room's messages in seq order. A resent append
 * (same uid and client id, e.g. after a lost reply) returns the stored message instead of a second one.
 * The published header carries the room's epoch, so a node sees at once when the room's seqs started
 * over (envelope-codec.ts).
 *
 * A member's room message is refused to a sender who is no longer a member, or muted (core/
 * memory-group.ts silenced); system notices and direct messages pass without that check.
 *
 * KEYS counter history recentIds members online roles mutes group
 * ARGV head(JSON of the draft) idKey historyKeep roomTtlMs floor channel idsKeep roomid knownEpoch
 *      freshEpoch checkedSender|'' now [senderUid senderName recipientUid recipientName] (direct
 *      messages: both become members)
 * → seq storedJSON duplicate epoch, or a refusal: {-1, '', 0} not a member, {-2, '', until} muted,
 *   {-3, '', 0} 全员禁言
 */
export const APPEND = `${LUA_PRELUDE}
local head, idKey, keep, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local floor, channel, idsKeep, roomid = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8]
local dup = redis.call('ZSCORE', KEYS[3], idKey)
if dup then
  local seq = int(tonumber(dup))
  local e = redis.call('XRANGE', KEYS[2], seq .. '-0', seq .. '-0')
  return {tonumber(seq), e[1] and e[1][2][2] or '', 1, redis.call('HGET', KEYS[1], 'epoch') or ''}
end
local sender = ARGV[11]
if sender ~= '' then
  -- A member (the usual case) costs one lookup; no members at all means Redis lost them: no check.
  if redis.call('HEXISTS', KEYS[4], sender) == 0 and redis.call('EXISTS', KEYS[4]) == 1 then return {-1, '', 0} end
  local mutedUntil = tonumber(redis.call('HGET', KEYS[7], sender)) or 0
  if mutedUntil > tonumber(ARGV[12]) then return {-2, '', mutedUntil} end
  if redis.call('HGET', KEYS[8], 'muteAll') == '1' and not redis.call('HGET', KEYS[6], sender) then return {-3, '', 0} end
end
local seq = counter(KEYS[1], KEYS[2], floor, ARGV[9], ARGV[10]) + 1
redis.call('HSET', KEYS[1], 'seq', int(seq))
redis.call('HDEL', KEYS[1], 'unused')
redis.call('PEXPIRE', KEYS[1], ttl)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if ARGV[13] then
  redis.call('HSET', KEYS[4], ARGV[13], ARGV[14])
  redis.call('HSETNX', KEYS[4], ARGV[15], ARGV[16])
  redis.call('PEXPIRE', KEYS[4], ttl)
end
local stored = string.sub(head, 1, -2) .. ',"seq":' .. int(seq) .. '}'
local num, total = redis.call('HLEN', KEYS[5]), redis.call('HLEN', KEYS[4])
if keep > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', keep, int(seq) .. '-0', 'm', stored, 'n', num, 't', total)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('ZADD', KEYS[3], seq, idKey)
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(idsKeep + 1))
redis.call('PEXPIRE', KEYS[3], ttl)
if channel ~= '' then
  local wire = string.sub(stored, 1, -2) .. ',"num":' .. num .. ',"total":' .. total .. '}'
  redis.call('PUBLISH', channel, '1|' .. int(seq) .. '|' .. num .. '|' .. total .. '||' .. epoch .. '|' .. roomid .. '\\n' .. wire)
end
return {seq, stored, 0, epoch}
`;

/**
 * What a node's subscriber missed while it was reconnecting: the entries after afterSeq, as stored
 * with their counts, when the room is still in the epoch the node knows. In another epoch nothing
 * is read: the node tells its connections to resume from the start.
 * KEYS counter history members online · ARGV afterSeq limit epoch → epoch lastSeq num total [seq json num total …]
 */
export const CATCH_UP = `${LUA_PRELUDE}
local epoch = redis.call('HGET', KEYS[1], 'epoch') or ''
local out = {epoch, tonumber(redis.call('HGET', KEYS[1], 'seq') or '0'), redis.call('HLEN', KEYS[4]), redis.call('HLEN', KEYS[3])}
if epoch ~= ARGV[3] then return out end
local entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
for _, e in ipairs(entries) do
  local f = {}
  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
  out[#out + 1] = stream_seq(e[1])
  out[#out + 1] = f.m
  out[#out + 1] = f.n
  out[#out + 1] = f.t
end
return out
`;

/**
 * Puts a node's floor back after Redis lost or rolled back a room's counter (see counter() in the
 * prelude), before anyone appends: a node that never saw the room then continues its seqs too.
 * KEYS counter history · ARGV floor knownEpoch freshEpoch roomTtlMs → seq epoch
 */
export const RESTORE_FLOOR = `${LUA_PRELUDE}
local seq = counter(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {seq, redis.call('HGET', KEYS[1], 'epoch')}
`;

/**
 * The next page forward: the oldest `limit` entries after afterSeq (below beforeSeq when > 0).
 * KEYS counter history · ARGV afterSeq limit beforeSeq|-1 → lastSeq gap json… (oldest first)
 */
export const READ_AFTER = `${LUA_PRELUDE}
local after, limit, before = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
-- A client ahead of the room saw a state this store no longer has.
if after >= seq then return {seq, after > seq and 1 or 0} end
if before < 0 then before = seq + 1 end
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local oldest = first[1] and stream_seq(first[1][1]) or seq + 1
local gap = (oldest > after + 1 and after + 1 < before) and 1 or 0
local out = {seq, gap}
if before > after + 1 and limit > 0 then
  local entries = redis.call('XRANGE', KEYS[2], int(after + 1) .. '-0', '(' .. int(before) .. '-0', 'COUNT', limit)
  for i = 1, #entries do out[#out + 1] = entries[i][2][2] end
end
return out
`;

/** KEYS counter history · ARGV beforeSeq|-1 limit → lastSeq gap json… (oldest first) */
export const READ_BEFORE = `${LUA_PRELUDE}
local before, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if before < 0 then before = seq + 1 end
local entries = {}
if before > 1 and limit > 0 then
  entries = redis.call('XREVRANGE', KEYS[2], int(before - 1) .. '-0', '-', 'COUNT', limit)
end
local oldestReturned = #entries > 0 and stream_seq(entries[#entries][1]) or before
local gap = 0
if oldestReturned > 1 then
  local older = {}
  if #entries > 0 then older = redis.call('XREVRANGE', KEYS[2], int(oldestReturned - 1) .. '-0', '-', 'COUNT', 1) end
  -- Everything kept below before was returned, yet seqs below the oldest existed: they are gone.
  if #older == 0 then gap = 1 end
end
local out = {seq, gap}
for i = #entries, 1, -1 do out[#out + 1] = entries[i][2][2] end
return out
`;

/** KEYS counter history members online · ARGV withMembers → exists num total lastSeq lastJSON [uid name …] */
export const SUMMARY = `
local exists = redis.call('EXISTS', KEYS[3]) + redis.call('EXISTS', KEYS[1])
if exists == 0 then return {0} end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local out = {1, redis.call('HLEN', KEYS[4]), redis.call('HLEN', KEYS[3]), seq, last[1] and last[1][2][2] or ''}
if ARGV[1] == '1' then
  local list = redis.call('HGETALL', KEYS[3])
  for i = 1, #list do out[#out + 1] = list[i] end
end
return out
`;

/**
 * A dead node's connections leave the room's presence. Its users' cursors are set to the seq they
 * joined at: the only point they surely had, so resuming from it loses nothing (it may replay).
 * KEYS members cursors online · ARGV nodeId roomTtlMs → num total uid name … (users who went offline)
 */
export const DROP_NODE_PRESENCE = `${LUA_PRELUDE}
local node = ARGV[1]
local offline = {}
local list = redis.call('HGETALL', KEYS[3])
for i = 1, #list, 2 do
  local uid = list[i]
  local kept, removed, floor = {}, false, nil
  for _, t in ipairs(tokens(list[i + 1])) do
    if token_node(t) == node then
      removed = true
      local s = token_seq(t) or 0
      if not floor or s < floor then floor = s end
    else
      kept[#kept + 1] = t
    end
  end
  if removed then
    if #kept > 0 then
      redis.call('HSET', KEYS[3], uid, table.concat(kept, ' '))
    else
      redis.call('HDEL', KEYS[3], uid)
      local name = redis.call('HGET', KEYS[1], uid)
      if name then
        local c = tonumber(redis.call('HGET', KEYS[2], uid) or '0')
        redis.call('HSET', KEYS[2], uid, int(math.max(c, floor)))
        redis.call('PEXPIRE', KEYS[2], ARGV[2])
        offline[#offline + 1] = uid
        offline[#offline + 1] = name
      end
    end
  end
end
local out = {redis.call('HLEN', KEYS[3]), redis.call('HLEN', KEYS[1])}
for _, v in ipairs(offline) do out[#out + 1] = v end
return out
`;

/**
 * Puts a live connection's presence back after Redis lost it (restart without persistence, or this
 * node was taken for dead): no cursor taken. The caller tells the room `login` when the user had no
 * connection left there.
 * KEYS members online · ARGV uid name connId nodeId seq roomTtlMs → added cameOnline num total
 */
export const RESTORE_PRESENCE = `${LUA_PRELUDE}
local uid, name, conn, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('HSETNX', KEYS[1], uid, name)
local current = redis.call('HGET', KEYS[2], uid)
local added = 1
for _, t in ipairs(tokens(current)) do if token_conn(t) == conn then added = 0 end end
if added == 1 then
  local token = conn .. '/' .. node .. '/' .. ARGV[5]
  redis.call('HSET', KEYS[2], uid, current and (current .. ' ' .. token) or token)
end
expire_all({KEYS[1], KEYS[2]}, ARGV[6])
return {added, current and 0 or 1, redis.call('HLEN', KEYS[2]), redis.call('HLEN', KEYS[1])}
`;
