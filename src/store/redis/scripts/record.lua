-- Records the outcomes of attempts, each once: a repeat or a stale attempt changes nothing.
-- KEYS: meta, calls (bucket base), inflight, retry, released, stats
-- ARGV: now ms, retry enabled (1/0), max retries, retry due ms, Unix hour of now,
--       then (seq, attempt, outcome, duration s) for each outcome
-- Returns {status, n_in_flight, version, first retry ms or '', n_fresh,
--          first in-flight deadline ms or '', applied (1) or duplicate (0) for each outcome}:
-- what a claim right after would report when it may claim nothing.
-- Uses the helpers of call_state.lua, sent ahead of this script.
local meta = read_named(KEYS[1], {'status', 'cursor', 'seq', 'ver', 'st:in_progress',
  'st:completed', 'st:failed', 'st:scheduled', 'st:cancelled'})
local status = meta.status
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
local changed = changes(meta)
if n_applied > 0 then
  in_chunks('ZREM', KEYS[3], ended)
  in_chunks('ZADD', KEYS[4], retried)
  write_fields(KEYS[2], groups, written)
  for final, count in pairs(counts) do changed:add('st:' .. final, count) end
  changed:add('st:in_progress', -n_applied)
  changed:set('updated_at', ARGV[1])
  -- Statistics: one read and one write for the batch, a field per distinct outcome and hour.
  local increments = {dur = duration, ['h:' .. ARGV[5]] = n_applied}
  for outcome, count in pairs(by_outcome) do increments['o:' .. outcome] = count end
  local names = {}
  for field in pairs(increments) do names[#names + 1] = field end
  local stats = changes(read_named(KEYS[6], names))
  for field, n in pairs(increments) do stats:add(field, n) end
  stats:write(KEYS[6])
end
local n_in_flight = redis.call('ZCARD', KEYS[3])
local n_fresh = tonumber(meta.seq or '0') - tonumber(meta.cursor or '0') + redis.call('ZCARD', KEYS[5])
local first_retry = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
local version = meta.ver
if status == 'active' and n_in_flight == 0 and n_fresh == 0 and #first_retry == 0 then
  status = 'completed'
  changed:set('status', status)
  changed:set('completed_at', ARGV[1])
  changed:add('ver', 1)
  version = changed.values.ver
end
changed:write(KEYS[1])
local reply = {status, n_in_flight, version, first_retry[2] or '', n_fresh, first_deadline(KEYS[3], n_in_flight)}
for _, flag in ipairs(applied) do table.insert(reply, flag) end
return reply
