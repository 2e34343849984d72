-- Records the outcome of one attempt, once: a repeat or a stale attempt changes nothing.
-- KEYS: meta, contacts (bucket base), inflight, retry, released
-- ARGV: seq, attempt, outcome, duration s, now ms, retry enabled (1/0), max retries, retry due ms
-- Returns {'DUP'} | {status, n_in_flight}
local seq = ARGV[1]
local bucket = KEYS[2] .. ':' .. math.floor(tonumber(seq) / 128)
if not redis.call('ZSCORE', KEYS[3], seq) then return {'DUP'} end
local record = cjson.decode(redis.call('HGET', bucket, seq))
if tostring(record.at) ~= ARGV[2] then return {'DUP'} end
redis.call('ZREM', KEYS[3], seq)
local outcome = ARGV[3]
local now = tonumber(ARGV[5])
record.o = outcome
record.dur = tonumber(ARGV[4])
local meta = redis.call('HMGET', KEYS[1], 'status', 'cursor', 'seq')
local status = meta[1]
local final
if outcome == 'completed' or outcome == 'voicemail' then
  final = 'completed'
elseif ARGV[6] == '1' and record.at <= tonumber(ARGV[7]) then
  final = 'retry'
else
  final = 'failed'
end
if final == 'retry' and status == 'cancelled' then final = 'cancelled' end
redis.call('HINCRBY', KEYS[1], 'st:in_progress', -1)
if final == 'retry' then
  record.st = 'scheduled'
  record.due = tonumber(ARGV[8])
  redis.call('ZADD', KEYS[4], record.due, seq)
  redis.call('HINCRBY', KEYS[1], 'st:scheduled', 1)
else
  record.st = final
  redis.call('HINCRBY', KEYS[1], 'st:' .. final, 1)
end
redis.call('HSET', bucket, seq, cjson.encode(record))
redis.call('HSET', KEYS[1], 'updated_at', now)
local n_in_flight = redis.call('ZCARD', KEYS[3])
local n_fresh = tonumber(meta[3] or '0') - tonumber(meta[2] or '0') + redis.call('ZCARD', KEYS[5])
if status == 'active' and n_in_flight == 0 and n_fresh == 0 and redis.call('ZCARD', KEYS[4]) == 0 then
  status = 'completed'
  redis.call('HSET', KEYS[1], 'status', status, 'completed_at', now)
  redis.call('HINCRBY', KEYS[1], 'ver', 1)
end
return {status, n_in_flight}
