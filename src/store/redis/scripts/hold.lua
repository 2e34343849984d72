-- Takes or keeps a named lock: free or already ARGV[1]'s, it is (re)set to ARGV[1] for ARGV[2]
-- ms and 1 is returned; held by another owner, 0.
-- KEYS: lock
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
