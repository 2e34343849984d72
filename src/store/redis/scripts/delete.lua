-- Deletes a campaign that is a draft or finished; keys are freed in the background (UNLINK).
-- KEYS: meta, contacts (bucket base), phones, released, retry, inflight, lease,
--       calls (bucket base), stats, events (webhook events not relayed yet: they go with the campaign),
--       held (list base: the lists of partitions 0 to `n_parts`, see claim.lua), callbacks
-- ARGV: organisation
-- Returns 'OK' | 'NOT_FOUND' | status (not deletable)
local meta = redis.call('HMGET', KEYS[1], 'org', 'status', 'seq', 'n_parts')
if not meta[1] or meta[1] ~= ARGV[1] then return 'NOT_FOUND' end
local status = meta[2]
-- Mirrors `CampaignStatus::is_deletable`; guarded by the conformance check
-- `only_finished_or_draft_campaigns_can_be_deleted`.
if status ~= 'draft' and status ~= 'failed' and status ~= 'cancelled' and status ~= 'completed' then
  return status
end
local n_buckets = math.floor(tonumber(meta[3] or '0') / 128) + 1
local batch = {}
for i = 0, n_buckets - 1 do
  table.insert(batch, KEYS[2] .. ':' .. i)
  table.insert(batch, KEYS[8] .. ':' .. i)
  if #batch >= 1000 then
    redis.call('UNLINK', unpack(batch))
    batch = {}
  end
end
for partition = 0, tonumber(meta[4] or '0') do
  table.insert(batch, KEYS[11] .. ':' .. partition)
  if #batch >= 1000 then
    redis.call('UNLINK', unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('UNLINK', unpack(batch)) end
redis.call('UNLINK', KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[9], KEYS[10],
  KEYS[12])
return 'OK'
