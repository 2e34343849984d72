-- Adds a chunk of contacts to a campaign that is not finished.
-- KEYS: meta, contacts, phones, fresh
-- ARGV: pairs of (phone, record JSON); waiting contacts carry no status, it follows the campaign's
-- Returns {'OK', n_added, skipped row indexes...} | {'STATE', status} | {'NOT_FOUND'}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'NOT_FOUND'} end
if status == 'completed' or status == 'failed' or status == 'cancelled' then return {'STATE', status} end
local counter = (status == 'draft') and 'st:pending' or 'st:scheduled'
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local reply = {'OK', 0}
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[3], ARGV[i], seq) == 1 then
    redis.call('HSET', KEYS[2], seq, ARGV[i + 1])
    redis.call('ZADD', KEYS[4], seq, seq)
    seq = seq + 1
    added = added + 1
  else
    table.insert(reply, (i - 1) / 2)
  end
end
redis.call('HSET', KEYS[1], 'seq', seq)
redis.call('HINCRBY', KEYS[1], 'n_total', added)
redis.call('HINCRBY', KEYS[1], counter, added)
reply[2] = added
return reply
