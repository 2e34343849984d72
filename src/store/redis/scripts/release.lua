-- Returns a claimed contact whose call was never requested to its queue; undoes the attempt.
-- KEYS: meta, contacts (bucket base), inflight, retry, released
-- ARGV: seq, attempt
local seq = ARGV[1]
local bucket = KEYS[2] .. ':' .. math.floor(tonumber(seq) / 128)
if not redis.call('ZSCORE', KEYS[3], seq) then return 0 end
local record = cjson.decode(redis.call('HGET', bucket, seq))
if tostring(record.at) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[3], seq)
record.at = record.at - 1
record.call = nil
local status = redis.call('HGET', KEYS[1], 'status')
redis.call('HINCRBY', KEYS[1], 'st:in_progress', -1)
if status == 'cancelled' then
  record.st = 'cancelled'
  redis.call('HINCRBY', KEYS[1], 'st:cancelled', 1)
elseif record.at == 0 then
  record.st = nil
  record.ca = nil
  redis.call('HINCRBY', KEYS[1], 'n_called', -1)
  redis.call('HINCRBY', KEYS[1], 'st:scheduled', 1)
  redis.call('ZADD', KEYS[5], tonumber(seq), seq)
else
  record.st = 'scheduled'
  record.due = record.ca
  redis.call('HINCRBY', KEYS[1], 'st:scheduled', 1)
  redis.call('ZADD', KEYS[4], record.ca, seq)
end
redis.call('HSET', bucket, seq, cjson.encode(record))
return 1
