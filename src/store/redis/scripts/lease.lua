-- Takes a new lease: a new fencing token, the owner's name for `ttl` ms.
-- KEYS: fence, lease
-- ARGV: owner, ttl ms
local token = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return token
