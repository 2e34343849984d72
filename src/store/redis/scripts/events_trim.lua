-- Drops a campaign's events up to and including number ARGV[1] (relayed) from the head of its
-- outbox KEYS[1] (events are in order); returns how many are left.
local last = ARGV[1] + 0
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head or string.match(head, '^(%d+)|') + 0 > last then break end
  redis.call('LPOP', KEYS[1])
end
return redis.call('LLEN', KEYS[1])
