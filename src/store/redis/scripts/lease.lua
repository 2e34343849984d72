-- Takes a campaign's lease if it is free: a new fencing token from the counter, and the lease
-- "owner|token" for `ttl` ms. If the owner holds it already, it is renewed with its token.
-- KEYS: fence, lease
-- ARGV: owner, ttl ms, op ('take' | 'renew' | 'release'), token (renew, release)
-- Returns the token, or 0 when another owner holds the lease (take) or it is not the owner's
-- lease any more (renew, release).
local holder = redis.call('GET', KEYS[2])
local op = ARGV[3]
if op == 'take' then
  if holder then
    local owner, token = string.match(holder, '^(.*)|(%d+)$')
    if owner ~= ARGV[1] then return 0 end
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
    return tonumber(token)
  end
  local token = redis.call('INCR', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
  return token
end
if holder ~= ARGV[1] .. '|' .. ARGV[4] then return 0 end
if op == 'renew' then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
else
  redis.call('DEL', KEYS[2])
end
return tonumber(ARGV[4])
