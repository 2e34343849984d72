-- The claim step: checks lease, status, schedule version, daily cap, spacing and concurrency at
-- once, then moves due contacts to in-flight: retries that are due, then released contacts,
-- then contacts never called from the cursor on.
-- KEYS: meta, released, retry, inflight, contacts (bucket base), day counter, fence, calls (bucket base)
-- ARGV: fence, schedule version, now ms, limit, max concurrent, cap (0: none),
--       next slot ms after a claim (with a cap), claim deadline ms, day counter ttl ms, call ids...
-- Calls in flight past their deadline end 'unknown' first: never dialled again blindly.
-- Returns {'STALE'} | {'RETRY'} | {status, n_in_flight, n_claims_before, first retry ms or '',
--          n_fresh, first in-flight deadline ms or '', calls today, next slot ms or '',
--          seq, details, state, seq, details, state, ...}
-- Uses the helpers of call_state.lua, sent ahead of this script.
if redis.call('GET', KEYS[7]) ~= ARGV[1] then return {'STALE'} end
local meta = redis.call('HMGET', KEYS[1], 'status', 'ver', 'p_next', 'n_claims', 'cursor', 'seq')
local status = meta[1]
if not status then return {'STALE'} end
local now = tonumber(ARGV[3])
local cursor = tonumber(meta[5] or '0')
local last = tonumber(meta[6] or '0')
local expired = past_deadline(KEYS[4], ARGV[3], 500)
if #expired > 0 then
  -- One read and one write a bucket, one ZREM, as for claimed calls.
  local groups = by_bucket(expired)
  local texts = read_fields(KEYS[8], groups)
  for seq, text in pairs(texts) do
    if text then
      local state = parse_state(text)
      state.st = 'unknown'
      texts[seq] = state_text(state)
    end
  end
  write_fields(KEYS[8], groups, texts)
  in_chunks('ZREM', KEYS[4], expired)
  redis.call('HINCRBY', KEYS[1], 'st:in_progress', -#expired)
  redis.call('HINCRBY', KEYS[1], 'st:unknown', #expired)
end
-- Calls in flight, calls today and the next slot, kept up to date below (read once).
local n_in_flight = redis.call('ZCARD', KEYS[4])
local used = tonumber(redis.call('GET', KEYS[6]) or '0')
local next_slot = meta[3] or ''
local out = {}
if status == 'scheduled' or status == 'active' then
  if meta[2] ~= ARGV[2] then return {'RETRY'} end
  local n = math.min(tonumber(ARGV[4]), tonumber(ARGV[5]) - n_in_flight)
  local cap = tonumber(ARGV[6])
  if cap > 0 then
    if used >= cap or (meta[3] and tonumber(meta[3]) > now) then n = 0 end
    n = math.min(n, cap - used)
  end
  -- Contacts claimed before (retries, released ones) have a state, read first (one HMGET a
  -- bucket); cursor ones never do. Then every claimed contact's details, one HMGET a bucket.
  local claimed, never_claimed, groups, texts = {}, {}, {}, {}
  if n > 0 then
    local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, n)
    in_chunks('ZREM', KEYS[3], due)
    for i, seq in ipairs(due) do claimed[i] = seq end
    if #claimed < n then
      local released = redis.call('ZPOPMIN', KEYS[2], n - #claimed)
      for i = 1, #released, 2 do claimed[#claimed + 1] = released[i] end
    end
    groups = by_bucket(claimed)
    texts = read_fields(KEYS[8], groups)
    local k = #claimed
    while k < n and cursor < last do
      local seq = string.format('%d', cursor)
      k = k + 1
      claimed[k] = seq
      never_claimed[seq] = true
      group_add(groups, math.floor(cursor / 128), seq)
      cursor = cursor + 1
    end
    redis.call('HSET', KEYS[1], 'cursor', cursor)
  end
  local details = read_fields(KEYS[5], groups)
  local written, deadlines = {}, {}
  local n_first = 0
  for i, seq in ipairs(claimed) do
    local text
    if never_claimed[seq] then
      -- The first attempt: the state is written whole, with no parse.
      n_first = n_first + 1
      text = '1|in_progress|' .. ARGV[9 + i] .. '|' .. ARGV[3] .. '|||'
    else
      local state = parse_state(texts[seq])
      if state.at == 0 then n_first = n_first + 1 end
      state.at = state.at + 1
      state.st = 'in_progress'
      state.call = ARGV[9 + i]
      state.ca = ARGV[3]
      state.due = ''
      text = state_text(state)
    end
    written[seq] = text
    out[3 * i - 2] = seq
    out[3 * i - 1] = details[seq]
    out[3 * i] = text
  end
  if #claimed > 0 then
    -- Latest claimed first: with equal scores, each goes before the one added before it.
    local deadline = '-' .. ARGV[8]
    for i = #claimed, 1, -1 do
      deadlines[#deadlines + 1] = deadline
      deadlines[#deadlines + 1] = claimed[i]
    end
    write_fields(KEYS[8], groups, written)
    in_chunks('ZADD', KEYS[4], deadlines)
  end
  local n_claimed = #claimed
  if n_claimed > 0 then
    if n_first > 0 then redis.call('HINCRBY', KEYS[1], 'n_called', n_first) end
    redis.call('HINCRBY', KEYS[1], 'st:scheduled', -n_claimed)
    redis.call('HINCRBY', KEYS[1], 'st:in_progress', n_claimed)
    redis.call('HINCRBY', KEYS[1], 'n_claims', n_claimed)
    redis.call('INCRBY', KEYS[6], n_claimed)
    redis.call('PEXPIRE', KEYS[6], tonumber(ARGV[9]))
    n_in_flight = n_in_flight + n_claimed
    used = used + n_claimed
    if cap > 0 then
      next_slot = ARGV[7]
      redis.call('HSET', KEYS[1], 'p_next', next_slot)
    end
    if status == 'scheduled' then
      status = 'active'
      redis.call('HSET', KEYS[1], 'status', status, 'updated_at', ARGV[3])
      redis.call('HINCRBY', KEYS[1], 'ver', 1)
    end
  end
end
local n_fresh = (last - cursor) + redis.call('ZCARD', KEYS[2])
local first_retry = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if status == 'active' and n_in_flight == 0 and n_fresh == 0 and #first_retry == 0 then
  status = 'completed'
  redis.call('HSET', KEYS[1], 'status', status, 'completed_at', ARGV[3], 'updated_at', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'ver', 1)
end
local reply = {status, n_in_flight, meta[4] or '0', first_retry[2] or '', n_fresh,
  first_deadline(KEYS[4], n_in_flight), used, next_slot}
for _, item in ipairs(out) do table.insert(reply, item) end
return reply
