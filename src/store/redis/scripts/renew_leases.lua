-- Renews many leases of one owner at once (the keeper's tick): each lease whose value is still
-- the one expected ("owner|token") gets `ttl` ms more.
-- KEYS: lease keys. ARGV: ttl ms, then the expected value for each key.
-- Returns 1 (renewed) or 0 (not the owner's lease any more) for each key.
local renewed = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    renewed[i] = 1
  else
    renewed[i] = 0
  end
end
return renewed
