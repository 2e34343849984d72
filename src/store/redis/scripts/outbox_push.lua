-- Appends webhook bodies (ARGV) to an outbox: sorted set KEYS[1] scored by a sequence from the
-- counter KEYS[2]; each member is "<seq>:<body>" so that equal bodies stay distinct.
for i = 1, #ARGV do
  local seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], seq, seq .. ':' .. ARGV[i])
end
return #ARGV
