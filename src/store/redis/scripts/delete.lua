-- Deletes a campaign that is a draft or finished; the large keys are freed in the background.
-- KEYS: meta, contacts, phones, fresh, retry, inflight, fence, lease
-- ARGV: organisation
-- Returns 'OK' | 'NOT_FOUND' | status (not deletable)
local meta = redis.call('HMGET', KEYS[1], 'org', 'status')
if not meta[1] or meta[1] ~= ARGV[1] then return 'NOT_FOUND' end
local status = meta[2]
if status ~= 'draft' and status ~= 'failed' and status ~= 'cancelled' and status ~= 'completed' then
  return status
end
redis.call('UNLINK', unpack(KEYS))
return 'OK'
