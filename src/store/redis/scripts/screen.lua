-- Screens a claim's numbers on their organisation's state (`Suppression::screen`), in one step:
-- a number its do-not-call list covers now (its own entry, or a prefix's) is `listed` and not
-- counted, mirroring `domain::covering`; the others are counted against their frequency caps:
-- an attempt at `now` is recorded when every cap allows one, else the answer is the first
-- second every cap would (nothing recorded), mirroring `domain::next_allowed` and
-- `domain::still_counted`. Guarded by `store_conformance::suppression::*::frequency_caps_count_attempts_across_campaigns`
-- and `…::a_screen_reports_listed_numbers_and_counts_the_others`.
-- KEYS: the prefixes hash, then the number buckets (`dnc:<n>`) and attempt buckets (`fq:<n>`)
-- ARGV: now (Unix s), now (ms), then per number: its `dnc:` key index, its digits, its `fq:` key
--       index (0: no cap applies), n caps, then n pairs (max, window s)
-- Returns one value per number: -1 listed, 0 allowed (counted if capped), or the second the
-- caps (and a refusal's cool-down, `cooldown.lua`) allow it.
local now, now_ms = ARGV[1] + 0, ARGV[2] + 0
local has_prefixes = redis.call('HLEN', KEYS[1]) > 0
local function applies(value)
  if not value then return false end
  local expires = string.match(value, '^%d*|(%d*)|')
  return expires == nil or expires == '' or now_ms < expires + 0
end
local function listed(key, digits)
  if applies(redis.call('HGET', key, digits)) then return true end
  if not has_prefixes then return false end
  local prefixes = {}
  for k = 1, #digits do prefixes[k] = string.sub(digits, 1, k) end
  for _, value in ipairs(redis.call('HMGET', KEYS[1], unpack(prefixes))) do
    if applies(value) then return true end
  end
  return false
end
local reply = {}
local i = 3
while i <= #ARGV do
  local dnc_key, digits, fq_at, n = KEYS[ARGV[i] + 0], ARGV[i + 1], ARGV[i + 2] + 0, ARGV[i + 3] + 0
  local first_cap = i + 4
  i = first_cap + 2 * n
  if listed(dnc_key, digits) then
    reply[#reply + 1] = -1
  elseif fq_at == 0 then
    reply[#reply + 1] = 0
  else
    local key = KEYS[fq_at]
    local text = redis.call('HGET', key, digits)
    if not text then
      -- Its first attempt counted: every cap allows it.
      redis.call('HSET', key, digits, ARGV[1])
      reply[#reply + 1] = 0
    else
      local longest = 0
      for c = first_cap, first_cap + 2 * n - 1, 2 do
        local window = ARGV[c + 1] + 0
        if window > longest then longest = window end
      end
      -- A refusal's cool-down comes first: "c<until>;".
      local cool = string.match(text, '^c(%d+);')
      if cool then
        cool = cool + 0
        text = string.sub(text, string.find(text, ';', 1, true) + 1)
      end
      local kept = {}
      for at in string.gmatch(text, '%d+') do
        at = at + 0
        if at > now - longest then kept[#kept + 1] = at end
      end
      table.sort(kept)
      -- Each cap's attempts inside its window are the newest of `kept`: a cap of `max` holding
      -- `k >= max` of them allows one more once the (k - max + 1)-th of those is `window` old.
      local allowed_at = 0
      for c = first_cap, first_cap + 2 * n - 1, 2 do
        local max, window = ARGV[c] + 0, ARGV[c + 1] + 0
        local first = #kept + 1
        while first > 1 and kept[first - 1] > now - window do first = first - 1 end
        local inside = #kept - first + 1
        if inside >= max then
          local at = kept[first + inside - max] + window
          if at > allowed_at then allowed_at = at end
        end
      end
      if cool and cool > now and cool > allowed_at then allowed_at = cool end
      if allowed_at == 0 then
        kept[#kept + 1] = now
        redis.call('HSET', key, digits, table.concat(kept, ','))
      end
      reply[#reply + 1] = allowed_at
    end
  end
end
return reply
