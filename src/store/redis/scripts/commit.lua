-- Commits a change of a campaign's definition or status computed by the caller from version
-- `ver`: refused when anything changed since (the caller reads again and retries).
-- KEYS: meta, released, retry, events (the webhook outbox), held (list base)
-- ARGV: expected version, action ('none' | 'schedule' | 'cancel' | 'expire'), now ms, number of
--       events n,
--       n events ("<kind>|<fields…>", numbered and written here), number of partitions m whose
--       held contacts are due at another instant, m pairs (member `p<n>` of the retry set, due
--       ms), field, value, field, value, ...
-- Returns 'OK' | 'RETRY' | 'NOT_FOUND'
local ver = redis.call('HGET', KEYS[1], 'ver')
if not ver then return 'NOT_FOUND' end
if ver ~= ARGV[1] then return 'RETRY' end
local action = ARGV[2]
local n_events = ARGV[4] + 0
if n_events > 0 then
  local seq = (redis.call('HGET', KEYS[1], 'ev_seq') or 0) + 0
  local list = {}
  for i = 1, n_events do
    seq = seq + 1
    list[i] = string.format('%d', seq) .. '|' .. ARGV[3] .. '|' .. ARGV[4 + i]
  end
  redis.call('RPUSH', KEYS[4], unpack(list))
  redis.call('HSET', KEYS[1], 'ev_seq', string.format('%d', seq))
end
if action == 'schedule' then
  local pending = tonumber(redis.call('HGET', KEYS[1], 'st:pending') or '0')
  redis.call('HSET', KEYS[1], 'st:pending', 0)
  redis.call('HINCRBY', KEYS[1], 'st:scheduled', pending)
elseif action == 'cancel' or action == 'expire' then
  -- Every waiting contact ends cancelled or expired: counted here, shown so by its campaign's
  -- status (`ContactRecord::status`); no contact is rewritten.
  local waiting = tonumber(redis.call('HGET', KEYS[1], 'st:pending') or '0')
    + tonumber(redis.call('HGET', KEYS[1], 'st:scheduled') or '0')
  redis.call('HSET', KEYS[1], 'st:pending', 0, 'st:scheduled', 0)
  -- Nothing is left to call: the cursor moves past the last contact.
  redis.call('HSET', KEYS[1], 'cursor', redis.call('HGET', KEYS[1], 'seq') or 0)
  local ended = (action == 'cancel') and 'st:cancelled' or 'st:expired'
  redis.call('HINCRBY', KEYS[1], ended, waiting)
  -- UNLINK frees the queues in the background: no stall however long they are. The held
  -- lists are those of partitions 0 to `n_parts` (see claim.lua), with their `hr:` fields.
  redis.call('UNLINK', KEYS[2], KEYS[3])
  local n_parts = tonumber(redis.call('HGET', KEYS[1], 'n_parts') or '0')
  for partition = 0, n_parts do
    redis.call('UNLINK', KEYS[5] .. ':' .. partition)
    redis.call('HDEL', KEYS[1], 'hr:' .. partition)
  end
end
local n_rescored = ARGV[5 + n_events] + 0
for i = 6 + n_events, 5 + n_events + 2 * n_rescored, 2 do
  redis.call('ZADD', KEYS[3], 'XX', ARGV[i + 1], ARGV[i])
end
for i = 6 + n_events + 2 * n_rescored, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
return 'OK'
