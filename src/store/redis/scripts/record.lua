-- Records the outcomes of attempts, each once: a repeat or a stale attempt changes nothing.
-- KEYS: meta, calls (bucket base), inflight, retry, released, stats, events (the webhook
--       outbox, see call_state.lua)
-- ARGV: now ms, retry enabled ('1' | '0', or 'x': the campaign expired, and what would be
--       retried expires), max retries, retry due ms, Unix hour of now, events ('1':
--       the organisation has webhooks), then (seq, attempt, outcome, duration s) for each
--       outcome
-- Returns {status, n_in_flight, version, first retry ms or nil, n_fresh,
--          first in-flight deadline ms or nil, events waiting, a character for each outcome:
--          '1' applied, '0' a duplicate}: what a claim right after would report when it may
--          claim nothing.
-- Uses the helpers of call_state.lua, sent ahead of this script.
local meta = redis.call('HMGET', KEYS[1], 'status', 'cursor', 'seq', 'ver', 'st:in_progress',
  'st:completed', 'st:failed', 'st:scheduled', 'st:cancelled', 'ev_seq', 'st:expired')
local status, cursor, last, version = meta[1], meta[2], meta[3], meta[4]
if not status then return {'NOT_FOUND'} end
local applied = {}
local n_applied = 0
local n_completed, n_failed, n_scheduled, n_cancelled, n_expired = 0, 0, 0, 0, 0
-- Statistics: fields and what to add to each: seconds of calls, the hour's calls (set once all
-- are counted), then a field per distinct outcome; `seconds_text` is the seconds of the last
-- outcome applied, as sent (the whole sum when only one is).
local stat_fields, stat_adds = {'dur', 'h:' .. ARGV[5]}, {0, 0}
local by_outcome = {}
local seconds_text
-- Every state is read once up front (one command per bucket); a contact reported twice in one
-- batch sees its first report's result. A state 'in_progress' at this attempt is in flight:
-- every script moves the two together.
local events = new_events(KEYS[7], ARGV[6] == '1', meta[10])
-- Outcome k (1, 2, …) has its seq at ARGV[4k + 3].
local seqs = {}
for i = 7, #ARGV, 4 do seqs[(i - 3) / 4] = ARGV[i] end
local groups = by_bucket(seqs)
local texts = read_fields(KEYS[2], groups)
local written, ended, retried = {}, {}, {}
local n_ended = 0
local find, sub = string.find, string.sub
-- "<attempt>|in_progress|" by attempt, made once per attempt number a batch reports.
local marks = {}
for i = 7, #ARGV, 4 do
  local k = (i - 3) / 4
  local seq, attempt, outcome, seconds = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  -- In flight at this attempt: the state starts "<attempt>|in_progress|" (no parse needed;
  -- a plain search in place builds no string: the two substrings it replaced cost ≈ 650
  -- instructions an outcome, the search ≈ 300, `callgrind`).
  local text = texts[seq]
  local mark = marks[attempt]
  if not mark then
    mark = attempt .. '|in_progress|'
    marks[attempt] = mark
  end
  if not text or find(text, mark, 1, true) ~= 1 then
    applied[k] = '0'
  else
    n_ended = n_ended + 1
    ended[n_ended] = seq
    local at = by_outcome[outcome]
    if not at then
      at = #stat_fields + 1
      by_outcome[outcome] = at
      stat_fields[at] = 'o:' .. outcome
      stat_adds[at] = 0
    end
    stat_adds[at] = stat_adds[at] + 1
    stat_adds[1] = stat_adds[1] + seconds
    seconds_text = seconds
    -- Mirrors `RetryPolicy::decide` (src/domain/contact.rs) and `DialOutcome::connected`; the
    -- conformance check `failed_attempts_are_retried_after_the_delay` guards the pair. (Over
    -- the rule: a contact whose campaign was cancelled meanwhile is not retried.)
    local final
    if outcome == 'completed' or outcome == 'voicemail' or outcome == 'refused' then
      final = 'completed'
      n_completed = n_completed + 1
    elseif ARGV[2] ~= '0' and attempt + 0 <= ARGV[3] + 0 then
      -- A retry, unless the campaign was cancelled meanwhile or expired.
      if ARGV[2] == 'x' then
        final = 'expired'
        n_expired = n_expired + 1
      elseif status == 'cancelled' then
        final = 'cancelled'
        n_cancelled = n_cancelled + 1
      else
        final = 'scheduled'
        n_scheduled = n_scheduled + 1
      end
    else
      final = 'failed'
      n_failed = n_failed + 1
    end
    -- A retry is scheduled again, due at the retry time.
    local due = ''
    if final == 'scheduled' then
      due = ARGV[4]
      retried[#retried + 1] = due
      retried[#retried + 1] = seq
    end
    -- Call id and call time kept: "<call>|<called at>|" follows the prefix (found by plain
    -- search: a pattern tries a character class on each of the call id's characters).
    local from = #mark + 1
    local bar = find(text, '|', from, true)
    local kept = sub(text, from, (find(text, '|', bar + 1, true)))
    if events then
      local call = sub(text, from, bar - 1)
      event(events, ARGV[1],
        'e|' .. seq .. '|' .. attempt .. '|' .. call .. '|' .. outcome .. '|' .. seconds)
    end
    text = attempt .. '|' .. final .. '|' .. kept .. due .. '|' .. outcome .. '|' .. seconds
    texts[seq] = text
    written[seq] = text
    n_applied = n_applied + 1
    applied[k] = '1'
  end
end
local writes = new_writes()
if n_applied > 0 then
  in_chunks('ZREM', KEYS[3], ended)
  in_chunks('ZADD', KEYS[4], retried)
  write_fields(KEYS[2], groups, written)
  -- The counters as read (text, or false when absent), each changed by this batch.
  count(writes, 'st:in_progress', meta[5], -n_applied)
  count(writes, 'st:completed', meta[6], n_completed)
  count(writes, 'st:failed', meta[7], n_failed)
  count(writes, 'st:scheduled', meta[8], n_scheduled)
  count(writes, 'st:cancelled', meta[9], n_cancelled)
  count(writes, 'st:expired', meta[11], n_expired)
  put(writes, 'updated_at', ARGV[1])
  -- The statistics for the batch, one HINCRBY per field: Redis adds in C, where a read, the sums
  -- in Lua and a write cost more for the one to three fields of a batch (`callgrind`). The
  -- common deltas go as text without formatting: a lone outcome's seconds, a count of 1.
  stat_adds[2] = n_applied
  for i, field in ipairs(stat_fields) do
    local add = stat_adds[i]
    if add ~= 0 then
      local text
      if add == 1 then
        text = '1'
      elseif field == 'dur' and n_applied == 1 then
        text = seconds_text
      else
        text = string.format('%d', add)
      end
      redis.call('HINCRBY', KEYS[6], field, text)
    end
  end
end
local n_in_flight = redis.call('ZCARD', KEYS[3])
-- Contacts never called: from the cursor on, else released ones (counted only then).
local n_fresh = (last or 0) - (cursor or 0)
if n_fresh == 0 then n_fresh = redis.call('ZCARD', KEYS[5]) end
local first_retry = redis.call('ZRANGE', KEYS[4], '0', '0', 'WITHSCORES')
-- Mirrors `CampaignStatus::completes` (src/domain/status.rs); the conformance checks
-- `an_outcome_reported_twice_counts_once` and `failed_attempts_are_retried_after_the_delay`
-- guard the pair.
if status == 'active' and n_in_flight == 0 and n_fresh == 0 and #first_retry == 0 then
  status = 'completed'
  version = string.format('%d', (version or 0) + 1)
  put(writes, 'status', status)
  put(writes, 'completed_at', ARGV[1])
  put(writes, 'ver', version)
  event(events, ARGV[1], 's|active|completed')
  event(events, ARGV[1], 'd')
end
local n_events = write_events(events, writes)
write_hash(KEYS[1], writes)
local earliest = first_deadline(KEYS[3], n_in_flight)
-- None is false (a nil reply), cheaper for Redis to send than an empty text.
return {status, n_in_flight, version, first_retry[2] or false, n_fresh,
  earliest ~= '' and earliest, n_events, table.concat(applied)}
