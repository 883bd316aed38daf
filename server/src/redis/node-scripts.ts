/**
 * Node liveness on the Redis clock, so nodes' clocks need not agree. `nodes` is a sorted set of
 * nodeId → last heartbeat (ms).
 */

/** KEYS nodes · ARGV nodeId → nowMs wasKnown */
export const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
return {now, 1 - added}
`;

/**
 * Takes the reaper lock for this round (SET NX) and lists the nodes silent for longer than the TTL.
 * KEYS nodes lock · ARGV nodeId ttlMs lockMs → nodeId lastHeartbeat … (empty: not this node's turn)
 */
export const CLAIM_DEAD_NODES = `
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now - tonumber(ARGV[2])), 'WITHSCORES')
`;
