-- Moves a campaign's events, rendered, to its organisation's outbox: those after the last one
-- moved before (a repeat after a crash halfway moves nothing twice); past the outbox's bound
-- the oldest go to the dead letters. The caller then drops them from the campaign's outbox.
-- KEYS: outbox, outbox counter, relayed (hash campaign → last event moved), dead (sorted set),
--       dead letters (hash), dead counter
-- ARGV: campaign, outbox bound, dead letters bound, now ms, then (seq, id, at ms, body) per event
-- Returns the number of events moved to the dead letters because the outbox was full.
local moved = (redis.call('HGET', KEYS[3], ARGV[1]) or 0) + 0
local last = moved
for i = 5, #ARGV, 4 do
  local seq = ARGV[i] + 0
  if seq > moved then
    local n = redis.call('INCR', KEYS[2])
    redis.call('ZADD', KEYS[1], n, string.format('%d', n) .. '|' .. ARGV[i + 1] .. '|'
      .. ARGV[i + 2] .. '|' .. ARGV[i + 3])
    if seq > last then last = seq end
  end
end
redis.call('HSET', KEYS[3], ARGV[1], string.format('%d', last))
local function bury(member, reason)
  local n, id, at, body = string.match(member, '^(%d+)|([^|]*)|(%d+)|(.*)$')
  redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[6]), id)
  redis.call('HSET', KEYS[5], id, at .. '|' .. ARGV[4] .. '|' .. reason .. '\n' .. body)
end
local overflowed = 0
local n_waiting = redis.call('ZCARD', KEYS[1])
while n_waiting > ARGV[2] + 0 do
  local oldest = redis.call('ZPOPMIN', KEYS[1])[1]
  bury(oldest, 'the outbox was full')
  overflowed = overflowed + 1
  n_waiting = n_waiting - 1
end
while redis.call('ZCARD', KEYS[4]) > ARGV[3] + 0 do
  local forgotten = redis.call('ZPOPMIN', KEYS[4])[1]
  redis.call('HDEL', KEYS[5], forgotten)
end
return overflowed
