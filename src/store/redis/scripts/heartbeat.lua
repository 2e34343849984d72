-- A node's heartbeat: KEYS[1] is the hash node → "<expires ms>|<leases held>". Writes ARGV[1]'s
-- entry (ARGV[2] leases, alive for ARGV[3] ms by Redis' clock), drops the entries that expired,
-- and returns the live ones as a flat list {node, held, node, held, …}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', now + tonumber(ARGV[3])) .. '|' .. ARGV[2])
local entries = redis.call('HGETALL', KEYS[1])
local alive = {}
for i = 1, #entries, 2 do
  local expires, held = string.match(entries[i + 1], '^(%d+)|(%d+)$')
  if expires and tonumber(expires) > now then
    table.insert(alive, entries[i])
    table.insert(alive, held)
  else
    redis.call('HDEL', KEYS[1], entries[i])
  end
end
return alive
