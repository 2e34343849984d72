-- Adds do-not-call entries (`Suppression::add_dnc`); a listed one keeps its creation time and
-- takes the new expiry and reason.
-- KEYS: prefixes (hash), sizes (u16 per bucket, BITFIELD), then the number buckets of this chunk
-- ARGV: created (Unix seconds), then quads (key index into KEYS, bucket number or '' for a
--       prefix, field, "<expires ms or ''>|<reason>")
-- Returns {added, updated}
local added, updated = 0, 0
for i = 2, #ARGV, 4 do
  local key = KEYS[ARGV[i] + 0]
  local field = ARGV[i + 2]
  local old = redis.call('HGET', key, field)
  local created = ARGV[1]
  if old then
    created = string.match(old, '^(%d*)|')
    updated = updated + 1
  else
    added = added + 1
    if ARGV[i + 1] ~= '' then
      redis.call('BITFIELD', KEYS[2], 'OVERFLOW', 'SAT', 'INCRBY', 'u16', '#' .. ARGV[i + 1], 1)
    end
  end
  redis.call('HSET', key, field, created .. '|' .. ARGV[i + 3])
end
return {added, updated}
