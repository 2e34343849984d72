-- Removes one do-not-call entry (`Suppression::remove_dnc`).
-- KEYS: the hash that holds it (the prefixes, or a number bucket), sizes
-- ARGV: field, bucket number or '' for a prefix
-- Returns 1 when there was an entry
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed == 1 and ARGV[2] ~= '' then
  redis.call('BITFIELD', KEYS[2], 'OVERFLOW', 'SAT', 'INCRBY', 'u16', '#' .. ARGV[2], -1)
end
return removed
