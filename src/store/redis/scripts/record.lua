-- Records the outcomes of attempts, each once: a repeat or a stale attempt changes nothing.
-- KEYS: meta, calls (bucket base), inflight, retry, released, stats
-- ARGV: now ms, retry enabled (1/0), max retries, retry due ms, Unix hour of now,
--       then (seq, attempt, outcome, duration s) for each outcome
-- Returns {status, n_in_flight, version, first retry ms or '', n_fresh,
--          first in-flight deadline ms or '', applied (1) or duplicate (0) for each outcome}:
-- what a claim right after would report when it may claim nothing.
-- Uses the helpers of call_state.lua, sent ahead of this script.
local meta = redis.call('HMGET', KEYS[1], 'status', 'cursor', 'seq', 'ver')
local status = meta[1]
if not status then return {'NOT_FOUND'} end
local applied = {}
local counts = {}
local n_applied = 0
local by_outcome = {}
local duration = 0
-- Every state is read once up front (one command a bucket); a contact reported twice in one
-- batch sees its first report's result. A state 'in_progress' at this attempt is in flight:
-- every script moves the two together.
local seqs = {}
for i = 6, #ARGV, 4 do seqs[#seqs + 1] = ARGV[i] end
local groups = by_bucket(seqs)
local texts = read_fields(KEYS[2], groups)
local written, ended, retried = {}, {}, {}
for i = 6, #ARGV, 4 do
  local seq, attempt, outcome, seconds = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  -- In flight at this attempt: the state starts "<attempt>|in_progress|" (no parse needed).
  local text = texts[seq]
  local prefix = attempt .. '|in_progress|'
  if not text or string.find(text, prefix, 1, true) ~= 1 then
    applied[#applied + 1] = 0
  else
    ended[#ended + 1] = seq
    by_outcome[outcome] = (by_outcome[outcome] or 0) + 1
    duration = duration + tonumber(seconds)
    local final
    if outcome == 'completed' or outcome == 'voicemail' then
      final = 'completed'
    elseif ARGV[2] == '1' and tonumber(attempt) <= tonumber(ARGV[3]) then
      final = 'retry'
    else
      final = 'failed'
    end
    if final == 'retry' and status == 'cancelled' then final = 'cancelled' end
    local due = ''
    if final == 'retry' then
      due = ARGV[4]
      retried[#retried + 1] = due
      retried[#retried + 1] = seq
      final = 'scheduled'
    end
    -- Call id and call time kept: "<call>|<called at>|" follows the prefix.
    local kept = string.match(text, '^[^|]*|[^|]*|', #prefix + 1)
    text = attempt .. '|' .. final .. '|' .. kept .. due .. '|' .. outcome .. '|' .. seconds
    texts[seq] = text
    counts[final] = (counts[final] or 0) + 1
    written[seq] = text
    n_applied = n_applied + 1
    applied[#applied + 1] = 1
  end
end
if n_applied > 0 then
  in_chunks('ZREM', KEYS[3], ended)
  in_chunks('ZADD', KEYS[4], retried)
  write_fields(KEYS[2], groups, written)
  for final, count in pairs(counts) do redis.call('HINCRBY', KEYS[1], 'st:' .. final, count) end
  redis.call('HINCRBY', KEYS[1], 'st:in_progress', -n_applied)
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[1])
  -- Statistics: one increment per distinct field, not per call.
  for outcome, count in pairs(by_outcome) do redis.call('HINCRBY', KEYS[6], 'o:' .. outcome, count) end
  redis.call('HINCRBY', KEYS[6], 'dur', duration)
  redis.call('HINCRBY', KEYS[6], 'h:' .. ARGV[5], n_applied)
end
local n_in_flight = redis.call('ZCARD', KEYS[3])
local n_fresh = tonumber(meta[3] or '0') - tonumber(meta[2] or '0') + redis.call('ZCARD', KEYS[5])
local first_retry = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
local version = meta[4]
if status == 'active' and n_in_flight == 0 and n_fresh == 0 and #first_retry == 0 then
  status = 'completed'
  redis.call('HSET', KEYS[1], 'status', status, 'completed_at', ARGV[1])
  version = redis.call('HINCRBY', KEYS[1], 'ver', 1)
end
local reply = {status, n_in_flight, tostring(version), first_retry[2] or '', n_fresh, first_deadline(KEYS[3], n_in_flight)}
for _, flag in ipairs(applied) do table.insert(reply, flag) end
return reply
