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
`;
