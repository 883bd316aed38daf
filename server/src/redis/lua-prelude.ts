/**
 * Lua shared by the scripts. A room's presence entry per user is one hash field holding that user's
 * connections as space-separated `connId/nodeId/seqAtJoin` tokens: `num` is then HLEN, and a dead
 * node's tokens can be found without a second index.
 */
export const LUA_PRELUDE = `
local function int(x) return string.format('%.0f', x) end
local function tokens(value)
  local list = {}
  if value then for t in string.gmatch(value, '%S+') do list[#list + 1] = t end end
  return list
end
local function token_conn(t) return string.match(t, '^([^/]+)/') end
local function token_node(t) return string.match(t, '^[^/]+/([^/]+)/') end
local function token_seq(t) return tonumber(string.match(t, '/(%d+)$')) end
local function expire_all(keys, ttl)
  for _, k in ipairs(keys) do redis.call('PEXPIRE', k, ttl) end
end
local function stream_seq(id) return tonumber(string.match(id, '^(%d+)')) end

-- The room's counter hash (fields seq, epoch, unused), brought up to what the caller has seen, so
-- seqs never go back within an epoch. floor: the highest seq the calling node saw in epoch known
-- ('' when it knows none); fresh: a new epoch, should one be needed. Returns the counter's seq.
-- * No counter (Redis lost it, or it expired): it comes back at the node's floor in the node's epoch,
--   so the node's connections need not start over; a node that knows nothing starts a fresh epoch.
--   It is 'unused' until the next append hands out a seq: other nodes' floors only raise it.
-- * A used counter below the floor of its own epoch: Redis went back in time (it restarted from an
--   older snapshot or AOF). Seqs above it may have been handed out again already, so the room
--   starts a fresh epoch, and every node that sees it tells its connections to resume from the start.
-- A floor from another epoch says nothing about this one. The history stream's newest id counts
-- as a floor too, so stream ids keep increasing.
local function counter(key, history, floor, known, fresh)
  local seq = tonumber(redis.call('HGET', key, 'seq') or '-1')
  local top = redis.call('XREVRANGE', history, '+', '-', 'COUNT', 1)
  local newest = top[1] and stream_seq(top[1][1]) or 0
  if seq < 0 then
    local epoch = known ~= '' and known or fresh
    seq = math.max(newest, known ~= '' and floor or 0)
    redis.call('HSET', key, 'seq', int(seq), 'epoch', epoch, 'unused', '1')
    return seq
  end
  if redis.call('HGET', key, 'epoch') ~= known then floor = 0 end
  local target = math.max(floor, newest)
  if seq < target then
    redis.call('HSET', key, 'seq', int(target))
    if redis.call('HEXISTS', key, 'unused') == 0 then redis.call('HSET', key, 'epoch', fresh) end
    seq = target
  end
  return seq
end
`;
