-- Takes up to ARGV[3] tokens from the GCRA limiter at KEYS[1] (its theoretical arrival time in
-- microseconds), by Redis' clock so that every node shares one timeline. The arithmetic is
-- `domain::gcra::take`. ARGV: interval in µs, burst, tokens wanted. Returns {granted, wait µs}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local burst = math.max(1, tonumber(ARGV[2]))
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(tat, now)
local room = math.floor((now + burst * interval - start) / interval)
local granted = math.max(0, math.min(room, wanted))
tat = start + granted * interval
local wait = math.max(0, tat - (burst - 1) * interval - now)
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
return {granted, wait}
