/**
 * One Lua script per user operation; all keys are the user's (one hash slot). The inbox is a capped
 * list with a TTL, so memory stays bounded.
 */

/**
 * KEYS conns inbox info taken · ARGV connId nodeId name ttlMs → first gap json… (the inbox, oldest first)
 * The first connection takes the inbox in the same step that counts it online, so a direct message
 * is either queued before (and taken here) or sees the user online (and goes out live). What was
 * taken is kept for a minute under `taken`, so a resend of this call after a lost reply gets it too.
 */
export const CONNECT_USER = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  local taken = redis.call('LRANGE', KEYS[4], 0, -1)
  if #taken == 0 then return {0, 0} end
  local out = {1}
  for _, m in ipairs(taken) do out[#out + 1] = m end
  return out
end
local first = redis.call('HLEN', KEYS[1]) == 0 and 1 or 0
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], 'name', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
if first == 0 then return {0, 0} end
local out = {1, redis.call('HDEL', KEYS[3], 'gap')}
for _, m in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do out[#out + 1] = m end
redis.call('DEL', KEYS[2], KEYS[4])
for i = 2, #out do redis.call('RPUSH', KEYS[4], out[i]) end
redis.call('PEXPIRE', KEYS[4], 60000)
return out
`;

/** KEYS conns · ARGV connId → 1 last connection, 0 others remain, -1 unknown connection */
export const DISCONNECT_USER = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
return redis.call('HLEN', KEYS[1]) == 0 and 1 or 0
`;

/**
 * Queues a direct message when the recipient has no open connection, atomically with that check;
 * otherwise publishes the live copy (when given a channel) in the same step, so no connection can
 * close between "online" and the publish unseen (the node that held it requeues what it gets).
 * KEYS conns inbox info · ARGV json inboxMax ttlMs [channel payload] → 1 queued, 0 recipient online
 */
export const QUEUE_DIRECT = `
if redis.call('HLEN', KEYS[1]) > 0 then
  if ARGV[4] and ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
  return 0
end
-- A resend after a lost reply: queued already.
if redis.call('LPOS', KEYS[2], ARGV[1]) then return 1 end
local size = redis.call('RPUSH', KEYS[2], ARGV[1])
local max = tonumber(ARGV[2])
if size > max then
  redis.call('LTRIM', KEYS[2], size - max, -1)
  redis.call('HSET', KEYS[3], 'gap', '1')
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
`;

/** KEYS conns · ARGV nodeId → connections removed */
export const DROP_NODE_CONNECTIONS = `
local removed = 0
local list = redis.call('HGETALL', KEYS[1])
for i = 1, #list, 2 do
  if list[i + 1] == ARGV[1] then
    redis.call('HDEL', KEYS[1], list[i])
    removed = removed + 1
  end
end
return removed
`;

/** KEYS conns info · ARGV connId nodeId name ttlMs: puts a live connection back (see RESTORE_PRESENCE). */
export const RESTORE_CONNECTION = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSETNX', KEYS[2], 'name', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;
