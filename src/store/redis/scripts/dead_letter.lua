-- Gives an outbox entry up: it moves to the organisation's dead letters (bounded: past the
-- bound the oldest are forgotten), or, with ARGV[1] = 'replay', moves dead letters back.
-- KEYS: outbox, outbox counter, dead (sorted set), dead letters (hash), dead counter
-- ARGV (bury): 'bury', outbox seq, reason, died ms, dead letters bound
-- ARGV (replay): 'replay', ids… (at most a thousand); none: the oldest thousand
-- Returns (bury) the number of dead letters forgotten; (replay) the number moved back.
if ARGV[1] == 'bury' then
  local member = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[2])[1]
  if not member then return 0 end
  redis.call('ZREM', KEYS[1], member)
  local n, id, at, body = string.match(member, '^(%d+)|([^|]*)|(%d+)|(.*)$')
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), id)
  redis.call('HSET', KEYS[4], id, at .. '|' .. ARGV[4] .. '|' .. ARGV[3] .. '\n' .. body)
  local forgotten = 0
  while redis.call('ZCARD', KEYS[3]) > ARGV[5] + 0 do
    redis.call('HDEL', KEYS[4], redis.call('ZPOPMIN', KEYS[3])[1])
    forgotten = forgotten + 1
  end
  return forgotten
end
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then ids = redis.call('ZRANGE', KEYS[3], '0', '999') end
local n_moved = 0
for _, id in ipairs(ids) do
  local letter = redis.call('HGET', KEYS[4], id)
  if letter then
    local at, body = string.match(letter, '^(%d+)|[^\n]*\n(.*)$')
    local n = redis.call('INCR', KEYS[2])
    redis.call('ZADD', KEYS[1], n, string.format('%d', n) .. '|' .. id .. '|' .. at .. '|' .. body)
    redis.call('HDEL', KEYS[4], id)
    redis.call('ZREM', KEYS[3], id)
    n_moved = n_moved + 1
  end
end
return n_moved
