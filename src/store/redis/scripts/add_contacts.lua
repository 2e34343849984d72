-- Adds a chunk of contacts to a campaign that is not finished.
-- KEYS: meta, contacts (the base of its buckets), phones, calls (the base of its buckets)
-- ARGV: quads of (phone, partition key, skip reason or '', record JSON); waiting contacts carry
-- no status, it follows the campaign's. A contact with a skip reason (its number is on the
-- do-not-call list) is added `skipped`: a call state says so, and its details start with `!`,
-- which a claim reaching it in the queue of contacts never called passes over. A contact's details are its record, after `<partition>|` unless its
-- partition is 0 (the empty key): the partitions' keys are numbered in the meta hash (`n_parts`,
-- `p:<n>` → key, `pk:<key>` → n), so a claim reads a contact's partition with its details.
-- Contacts live in hashes of 128 (small hashes are stored compactly by Redis); the queue of
-- contacts never called is the range of sequences from the meta field `cursor` on.
-- Returns {'OK', n_added, skipped row indexes...} | {'STATE', status} | {'NOT_FOUND'}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'NOT_FOUND'} end
-- Mirrors `CampaignStatus::is_terminal`; guarded by the conformance check
-- `no_contact_is_added_to_a_finished_campaign`.
if status == 'completed' or status == 'failed' or status == 'cancelled' then return {'STATE', status} end
local counter = (status == 'draft') and 'st:pending' or 'st:scheduled'
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local reply = {'OK', 0}
local added = 0
-- One SMISMEMBER, one SADD and one HSET per bucket for the whole chunk.
local phones = {}
for i = 1, #ARGV, 4 do phones[#phones + 1] = ARGV[i] end
-- The number of each partition key met in this chunk.
local partitions = {[''] = 0}
local function partition_of(key)
  local n = partitions[key]
  if n then return n end
  n = redis.call('HGET', KEYS[1], 'pk:' .. key)
  if not n then
    n = redis.call('HINCRBY', KEYS[1], 'n_parts', 1)
    redis.call('HSET', KEYS[1], 'p:' .. n, key, 'pk:' .. key, n)
  end
  n = tonumber(n)
  partitions[key] = n
  return n
end
local known = redis.call('SMISMEMBER', KEYS[3], unpack(phones))
local seen, fresh, buckets, states = {}, {}, {}, {}
local bucket, fields = -1, nil
local n_skipped = 0
for j, phone in ipairs(phones) do
  if known[j] == 1 or seen[phone] then
    table.insert(reply, j - 1)
  else
    seen[phone] = true
    fresh[#fresh + 1] = phone
    if math.floor(seq / 128) ~= bucket then
      bucket = math.floor(seq / 128)
      fields = {}
      buckets[KEYS[2] .. ':' .. bucket] = fields
    end
    fields[#fields + 1] = seq
    local partition = partition_of(ARGV[4 * j - 2])
    local details = ARGV[4 * j]
    if partition ~= 0 then details = string.format('%d|', partition) .. details end
    local skip = ARGV[4 * j - 1]
    if skip ~= '' then
      details = '!' .. details
      n_skipped = n_skipped + 1
      local key = KEYS[4] .. ':' .. math.floor(seq / 128)
      local list = states[key]
      if not list then
        list = {}
        states[key] = list
      end
      list[#list + 1] = seq
      list[#list + 1] = '0|skipped||||||' .. skip
    end
    fields[#fields + 1] = details
    seq = seq + 1
    added = added + 1
  end
end
if added > 0 then
  redis.call('SADD', KEYS[3], unpack(fresh))
  for key, values in pairs(buckets) do redis.call('HSET', key, unpack(values)) end
  for key, values in pairs(states) do redis.call('HSET', key, unpack(values)) end
end
redis.call('HSET', KEYS[1], 'seq', seq)
redis.call('HINCRBY', KEYS[1], 'n_total', added)
redis.call('HINCRBY', KEYS[1], counter, added - n_skipped)
if n_skipped > 0 then redis.call('HINCRBY', KEYS[1], 'st:skipped', n_skipped) end
reply[2] = added
return reply
