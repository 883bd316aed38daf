/**
 * Node liveness on the Redis clock, so nodes' clocks need not agree. `nodes` is a sorted set of
 * nodeId → last heartbeat (ms).
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS nodes · ARGV nodeId → nowMs wasKnown */
export const HEARTBEAT = `${NOW}
local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
return {now, 1 - added}
`;

/**
 * Takes the reaper lock for this round (SET NX) and lists the nodes silent for longer than the TTL.
 * Only a node whose own heartbeat is fresh (within ownMaxAgeMs) may claim: a claim that Redis runs
 * late (it was stalled) comes from a node that could not heartbeat either, and the others' silence
 * is Redis's, not theirs.
 * KEYS nodes lock · ARGV nodeId ttlMs lockMs ownMaxAgeMs → nodeId lastHeartbeat … (empty: not this node's turn)
 */
export const CLAIM_DEAD_NODES = `${NOW}
local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not mine or now - tonumber(mine) > tonumber(ARGV[4]) then return {} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then return {} end
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now - tonumber(ARGV[2])), 'WITHSCORES')
`;
