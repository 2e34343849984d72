-- Records the outcomes of attempts, each once: a repeat or a stale attempt changes nothing.
-- KEYS: meta, contacts (bucket base), inflight, retry, released
-- ARGV: now ms, retry enabled (1/0), max retries, retry due ms,
--       then (seq, attempt, outcome, duration s) for each outcome
-- Returns {status, n_in_flight, applied (1) or duplicate (0) for each outcome}
local now = tonumber(ARGV[1])
local meta = redis.call('HMGET', KEYS[1], 'status', 'cursor', 'seq')
local status = meta[1]
if not status then return {'NOT_FOUND'} end
local applied = {}
local n_applied = 0
for i = 5, #ARGV, 4 do
  local seq = ARGV[i]
  local bucket = KEYS[2] .. ':' .. math.floor(tonumber(seq) / 128)
  local record = redis.call('ZSCORE', KEYS[3], seq) and cjson.decode(redis.call('HGET', bucket, seq))
  if not record or tostring(record.at) ~= ARGV[i + 1] then
    table.insert(applied, 0)
  else
    redis.call('ZREM', KEYS[3], seq)
    local outcome = ARGV[i + 2]
    record.o = outcome
    record.dur = tonumber(ARGV[i + 3])
    local final
    if outcome == 'completed' or outcome == 'voicemail' then
      final = 'completed'
    elseif ARGV[2] == '1' and record.at <= tonumber(ARGV[3]) then
      final = 'retry'
    else
      final = 'failed'
    end
    if final == 'retry' and status == 'cancelled' then final = 'cancelled' end
    if final == 'retry' then
      record.st = 'scheduled'
      record.due = tonumber(ARGV[4])
      redis.call('ZADD', KEYS[4], record.due, seq)
      redis.call('HINCRBY', KEYS[1], 'st:scheduled', 1)
    else
      record.st = final
      redis.call('HINCRBY', KEYS[1], 'st:' .. final, 1)
    end
    redis.call('HSET', bucket, seq, cjson.encode(record))
    n_applied = n_applied + 1
    table.insert(applied, 1)
  end
end
if n_applied > 0 then
  redis.call('HINCRBY', KEYS[1], 'st:in_progress', -n_applied)
  redis.call('HSET', KEYS[1], 'updated_at', now)
end
local n_in_flight = redis.call('ZCARD', KEYS[3])
local n_fresh = tonumber(meta[3] or '0') - tonumber(meta[2] or '0') + redis.call('ZCARD', KEYS[5])
if status == 'active' and n_in_flight == 0 and n_fresh == 0 and redis.call('ZCARD', KEYS[4]) == 0 then
  status = 'completed'
  redis.call('HSET', KEYS[1], 'status', status, 'completed_at', now)
  redis.call('HINCRBY', KEYS[1], 'ver', 1)
end
local reply = {status, n_in_flight}
for _, flag in ipairs(applied) do table.insert(reply, flag) end
return reply
