-- Takes a campaign's lease if it is free: a new fencing token from the counter, and the lease
-- "owner|token" for `ttl` ms. If the owner holds it already, it is renewed with its token.
-- Renewals of many leases at once are `renew_leases.lua`.
-- The token counter is the field `fence` of the campaign's hash, read by the claim script with
-- the campaign's other fields.
-- KEYS: meta, lease
-- ARGV: owner, ttl ms, op ('take' | 'release'), token (release)
-- Returns the token, or 0 when another owner holds the lease (take) or it is not the owner's
-- lease any more (release).
local holder = redis.call('GET', KEYS[2])
local op = ARGV[3]
if op == 'take' then
  if holder then
    local owner, token = string.match(holder, '^(.*)|(%d+)$')
    if owner ~= ARGV[1] then return 0 end
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
    return tonumber(token)
  end
  -- Deleted meanwhile: no lease (and no hash made of its token alone).
  if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
  local token = redis.call('HINCRBY', KEYS[1], 'fence', 1)
  redis.call('SET', KEYS[2], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
  return token
end
if holder ~= ARGV[1] .. '|' .. ARGV[4] then return 0 end
redis.call('DEL', KEYS[2])
return tonumber(ARGV[4])
