/**
 * One Lua script per user operation; all keys are the user's (one hash slot). The inbox is a capped
 * list with a TTL, so memory stays bounded. The inbox holds messages only while the user has no
 * connection: whichever script finds it non-empty while they have one (their node was taken for
 * dead meanwhile, or Redis lost their presence) publishes it to them at once (DRAIN_INBOX).
 */

/**
 * Publishes every message waiting in the inbox to the user's channel as DirectMessage envelopes
 * (envelope-codec.ts: `kind|seq|num|total|origin|epoch|roomid`) and empties it.
 */
const DRAIN_INBOX = `
local function drain(inbox, channel)
  local list = redis.call('LRANGE', inbox, 0, -1)
  for _, m in ipairs(list) do
    local message = cjson.decode(m)
    local header = table.concat({'4', string.format('%.0f', message.seq), '', '', '', '', message.roomid}, '|')
    redis.call('PUBLISH', channel, header .. '\\n' .. m)
  end
  if #list > 0 then redis.call('DEL', inbox) end
  return #list
end
`;

/**
 * KEYS conns inbox info taken rooms · ARGV connId nodeId name ttlMs channel → first gap json… (the inbox, oldest first)
 * The first connection takes the inbox in the same step that counts it online, so a direct message
 * is either queued before (and taken here) or sees the user online (and goes out live). What was
 * taken is kept for a minute under `taken`, so a resend of this call after a lost reply gets it too.
 */
export const CONNECT_USER = `${DRAIN_INBOX}
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
for _, k in ipairs({KEYS[1], KEYS[3], KEYS[5]}) do redis.call('PEXPIRE', k, ARGV[4]) end
if first == 0 then
  drain(KEYS[2], ARGV[5])
  return {0, 0}
end
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
 * otherwise publishes the live copy (when given one) in the same step, so no connection can close
 * between "online" and the publish unseen (the node that held it requeues what it gets).
 *
 * `handled` remembers the messages this script has queued or published (sender and client id), so a
 * resend of a message whose first attempt failed after the room's append (the reply lost, Redis
 * full) does here what the first did not, and nothing twice. A requeue (`mode` requeue: the live
 * copy found only closing sockets) is not a resend and ignores it.
 *
 * KEYS conns inbox info handled · ARGV json inboxMax ttlMs channel livePayload|'' handledId mode(send|requeue) handledKeep
 * → 1 queued, 0 recipient online, 2 handled before
 */
export const QUEUE_DIRECT = `${DRAIN_INBOX}
local function handled()
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[4], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[6])
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[8]) + 1))
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
end
if ARGV[7] == 'send' and redis.call('ZSCORE', KEYS[4], ARGV[6]) then return 2 end
if redis.call('HLEN', KEYS[1]) > 0 then
  if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
  drain(KEYS[2], ARGV[4])
  handled()
  return 0
end
-- A requeue repeated: queued already.
if not redis.call('LPOS', KEYS[2], ARGV[1]) then
  local size = redis.call('RPUSH', KEYS[2], ARGV[1])
  local max = tonumber(ARGV[2])
  if size > max then
    redis.call('LTRIM', KEYS[2], size - max, -1)
    redis.call('HSET', KEYS[3], 'gap', '1')
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
handled()
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

/**
 * Puts a live connection back (see RESTORE_PRESENCE); what reached the inbox while the user counted
 * as offline goes out to their connections now.
 * KEYS conns info inbox rooms · ARGV connId nodeId name ttlMs channel → messages drained
 */
export const RESTORE_CONNECTION = `${DRAIN_INBOX}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSETNX', KEYS[2], 'name', ARGV[3])
for _, k in ipairs({KEYS[1], KEYS[2], KEYS[4]}) do redis.call('PEXPIRE', k, ARGV[4]) end
return drain(KEYS[3], ARGV[5])
`;

/**
 * The user is in `roomid` (joined it, or a direct chat with them began); keeps their name when given.
 * Like every key a user makes, both expire after ROOM_TTL_MS without use.
 * KEYS rooms info · ARGV roomid ttlMs name|''
 */
export const NOTE_USER_ROOM = `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'name', ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
`;
