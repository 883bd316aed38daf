import { LUA_PRELUDE } from './lua-prelude.ts';
import { APPEND } from './room-scripts.ts';

/**
 * Scripts for recall, quotes, mentions and read state; all keys of each are one room's (one hash
 * slot), or one user's. Semantics follow memory-store.ts.
 *
 * Recall and quoted appends are the append script (room-scripts.ts APPEND) with a step in front,
 * run in the same atomic script: the step's arguments come first in ARGV (their count, then the
 * arguments) and are taken off before the append's own code reads ARGV, unchanged.
 */

/** APPEND without its prelude: the part after a step's code. */
const APPEND_BODY = ((): string => {
  if (!APPEND.startsWith(LUA_PRELUDE)) throw new Error('room-scripts.ts APPEND must start with LUA_PRELUDE');
  return APPEND.slice(LUA_PRELUDE.length);
})();

/** Takes the step's arguments off the front of ARGV into `STEP`. */
const TAKE_STEP_ARGS = `
local STEP = {}
for i = 1, tonumber(ARGV[1]) do STEP[i] = ARGV[i + 1] end
for _ = 0, #STEP do table.remove(ARGV, 1) end
`;

/**
 * Recall, then the recall notice's append. The node read the history from the recalled message on
 * and decided (recall.ts); this step checks that what it read still holds, then rewrites the stream.
 * A stream entry cannot be edited, and XDEL only flags an entry (its bytes stay in the stream's
 * node, and in RDB files) until the whole node goes: so the stream is rebuilt, every kept entry
 * added again under its own id, the rewritten ones changed. That costs one pass over the room's
 * kept history (HISTORY_PER_ROOM entries) per recall, and keeps reads, trimming and catch-up as they
 * are: the stream always holds exactly what the room keeps.
 *
 * KEYS as APPEND · ARGV stepCount idKey targetSeq targetJSON refusal seenSeq quotePattern tombstoneJSON
 *      [seq json]… then APPEND's ARGV for the notice
 * → APPEND's reply; {-11, refusal} refused; {-12} history changed since the node read it (read again)
 */
export const RECALL = `${LUA_PRELUDE}${TAKE_STEP_ARGS}
local idKey, target, expected, refusal, seen, pattern = STEP[1], STEP[2], STEP[3], STEP[4], STEP[5], STEP[6]
-- A resend of this very recall is answered by the append below, as a duplicate.
if not redis.call('ZSCORE', KEYS[3], idKey) then
  local found = redis.call('XRANGE', KEYS[2], target .. '-0', target .. '-0')
  if (found[1] and found[1][2][2] or '') ~= expected then return {-12} end
  if refusal ~= '' then return {-11, refusal} end
  -- A message quoting it was added after the node's read: its excerpt must go too.
  for _, entry in ipairs(redis.call('XRANGE', KEYS[2], '(' .. seen .. '-0', '+')) do
    if string.find(entry[2][2], pattern, 1, true) then return {-12} end
  end
  local replaced = {[target] = STEP[7]}
  for i = 8, #STEP, 2 do replaced[STEP[i]] = STEP[i + 1] end
  local entries = redis.call('XRANGE', KEYS[2], '-', '+')
  redis.call('DEL', KEYS[2])
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    local rewritten = replaced[string.match(entry[1], '^(%d+)')]
    if rewritten then fields[2] = rewritten end
    redis.call('XADD', KEYS[2], entry[1], unpack(fields))
  end
end
${APPEND_BODY}`;

/**
 * An append whose draft quotes a message: when that message was recalled after the quote was made,
 * the draft with the quote shown as recalled is appended instead.
 * KEYS as APPEND · ARGV 2 quotedSeq recalledHead, then APPEND's ARGV → APPEND's reply
 */
export const APPEND_QUOTED = `${LUA_PRELUDE}${TAKE_STEP_ARGS}
local quoted = redis.call('XRANGE', KEYS[2], STEP[1] .. '-0', STEP[1] .. '-0')
if quoted[1] and string.find(quoted[1][2][2], '"recalled":{', 1, true) then ARGV[1] = STEP[2] end
${APPEND_BODY}`;

/** Lua: the mention entry `first last` of a member, as two numbers. */
const MENTION_ENTRY = `
local function mention_entry(value)
  if not value then return nil, nil end
  local first, last = string.match(value, '^(%d+) (%d+)$')
  return tonumber(first), tonumber(last)
end
`;

/**
 * Notes a message's mentions for the members who have not read that far (the sender never).
 * KEYS members reads mentions · ARGV seq senderUid all(1|0) ttlMs [uid…] → members noted
 */
export const NOTE_MENTIONS = `${LUA_PRELUDE}${MENTION_ENTRY}
local seq, sender = tonumber(ARGV[1]), ARGV[2]
local uids = {}
if ARGV[3] == '1' then uids = redis.call('HKEYS', KEYS[1]) else for i = 5, #ARGV do uids[#uids + 1] = ARGV[i] end end
local noted = 0
for _, uid in ipairs(uids) do
  if uid ~= sender and redis.call('HEXISTS', KEYS[1], uid) == 1 and tonumber(redis.call('HGET', KEYS[2], uid) or '0') < seq then
    local first, last = mention_entry(redis.call('HGET', KEYS[3], uid))
    redis.call('HSET', KEYS[3], uid, int(math.min(first or seq, seq)) .. ' ' .. int(math.max(last or seq, seq)))
    noted = noted + 1
  end
end
if noted > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
return noted
`;

/**
 * Moves a member's read cursor forward (never past the room's last seq) and clears the mentions it
 * passed; when later mentions stay unread, the latest stands for them.
 * KEYS counter members reads mentions · ARGV uid seq ttlMs → {-1, 0} not a member, else {read, moved}
 */
export const MARK_READ = `${LUA_PRELUDE}${MENTION_ENTRY}
local uid = ARGV[1]
if redis.call('HEXISTS', KEYS[2], uid) == 0 then return {-1, 0} end
local read = tonumber(redis.call('HGET', KEYS[3], uid) or '0')
local to = math.min(tonumber(ARGV[2]), tonumber(redis.call('HGET', KEYS[1], 'seq') or '0'))
if to <= read then return {read, 0} end
redis.call('HSET', KEYS[3], uid, int(to))
redis.call('PEXPIRE', KEYS[3], ARGV[3])
local first, last = mention_entry(redis.call('HGET', KEYS[4], uid))
if last and last <= to then
  redis.call('HDEL', KEYS[4], uid)
elseif first and first <= to then
  redis.call('HSET', KEYS[4], uid, int(last) .. ' ' .. int(last))
end
return {to, 1}
`;

/**
 * After a join (room-scripts.ts JOIN): a new member has read everything before it; returns the
 * member's read state. The read cursors and mentions expire with the room's other keys: every join
 * refreshes them, as JOIN refreshes the members.
 * KEYS reads mentions · ARGV uid lastSeq newMember(1|0) ttlMs → read mentionFirst|-1
 */
export const JOIN_READ_STATE = `${MENTION_ENTRY}
local uid = ARGV[1]
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], uid, ARGV[2])
  -- A member who was removed and comes back: mentions from before are not theirs any more.
  redis.call('HDEL', KEYS[2], uid)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local first = mention_entry(redis.call('HGET', KEYS[2], uid))
return {tonumber(redis.call('HGET', KEYS[1], uid) or '0'), first or -1}
`;

/** KEYS reads mentions · ARGV uid peerUid|'' → read mentionFirst|-1 peerRead */
export const READ_STATE = `${MENTION_ENTRY}
local first = mention_entry(redis.call('HGET', KEYS[2], ARGV[1]))
local peer = ARGV[2] ~= '' and redis.call('HGET', KEYS[1], ARGV[2]) or '0'
return {tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0'), first or -1, tonumber(peer or '0')}
`;

/** KEYS members reads → uid name read … (flat) */
export const READ_CURSORS = `
local out = {}
local list = redis.call('HGETALL', KEYS[1])
for i = 1, #list, 2 do
  out[#out + 1] = list[i]
  out[#out + 1] = list[i + 1]
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[2], list[i]) or '0')
end
return out
`;

/**
 * The recalled message, and quotes of it, in the recipient's inbox: each entry equal to an old
 * JSON is replaced by its new one (entries are byte-for-byte the history's).
 * KEYS inbox · ARGV old new [old new]… → entries replaced
 */
export const REWRITE_INBOX = `
local replaced = 0
for i = 1, #ARGV, 2 do
  local at = redis.call('LPOS', KEYS[1], ARGV[i])
  if at then
    redis.call('LSET', KEYS[1], at, ARGV[i + 1])
    replaced = replaced + 1
  end
end
return replaced
`;
