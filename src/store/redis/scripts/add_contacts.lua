-- Adds a chunk of contacts to a campaign that is not finished.
-- KEYS: meta, contacts (the base of its buckets), phones
-- ARGV: pairs of (phone, record JSON); waiting contacts carry no status, it follows the campaign's.
-- Contacts live in hashes of 128 (small hashes are stored compactly by Redis); the queue of
-- contacts never called is the range of sequences from the meta field `cursor` on.
-- Returns {'OK', n_added, skipped row indexes...} | {'STATE', status} | {'NOT_FOUND'}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'NOT_FOUND'} end
if status == 'completed' or status == 'failed' or status == 'cancelled' then return {'STATE', status} end
local counter = (status == 'draft') and 'st:pending' or 'st:scheduled'
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local reply = {'OK', 0}
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[3], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[2] .. ':' .. math.floor(seq / 128), seq, ARGV[i + 1])
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
