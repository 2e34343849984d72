-- Keeps the response of an idempotent request under its reserved key, within the
-- organisation's budget; every key of one organisation carries its hash tag `{i:<org>}`.
-- KEYS: the request's key, the organisation's index of kept responses (sorted set of
--       "<digest>|<bytes>" by when each was kept, ms), its byte count, the base of its keys
--       (a key is "<base><digest>")
-- ARGV: digest, value, ttl ms, bytes allowed for the organisation, "1" when the value is the
--       marker of a response too large to keep; now is Redis' own clock
-- Returns the number of responses forgotten to stay within the budget, or -1 when the
-- reservation had expired (nothing kept).
local kept = redis.call('SET', KEYS[1], ARGV[2], 'XX', 'PX', ARGV[3])
if not kept then return -1 end
if ARGV[5] == '1' then return 0 end
local time = redis.call('TIME')
local now = time[1] * 1000 + math.floor(time[2] / 1000)
local ttl = ARGV[3] + 0
local function forget(member)
  local digest, size = string.match(member, '^(.*)|(%d+)$')
  redis.call('ZREM', KEYS[2], member)
  redis.call('DECRBY', KEYS[3], size)
  return digest
end
-- Responses kept more than their time ago have expired by themselves: their bytes go (a
-- hundred at a time; the rest at the next call).
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - ttl),
  'LIMIT', '0', '100')
for _, member in ipairs(expired) do forget(member) end
local size = #ARGV[2]
redis.call('ZADD', KEYS[2], string.format('%d', now), ARGV[1] .. '|' .. size)
local bytes = redis.call('INCRBY', KEYS[3], size)
-- Past the budget, the oldest go first (at most a hundred a call).
local n_forgotten = 0
while bytes > ARGV[4] + 0 and n_forgotten < 100 do
  local oldest = redis.call('ZRANGE', KEYS[2], '0', '0')[1]
  if not oldest or oldest == ARGV[1] .. '|' .. size then break end
  redis.call('DEL', KEYS[4] .. forget(oldest))
  bytes = redis.call('GET', KEYS[3]) + 0
  n_forgotten = n_forgotten + 1
end
return n_forgotten
