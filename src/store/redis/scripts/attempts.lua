-- Counts attempts to numbers against their frequency caps (`Suppression::count_attempts`),
-- mirroring `domain::next_allowed` and `domain::still_counted`; guarded by the conformance check
-- `store_conformance::suppression::*::frequency_caps_count_attempts_across_campaigns`.
-- KEYS: the attempt buckets of this batch (hash: number digits → "<s>,<s>,…", Unix seconds)
-- ARGV: now (Unix s), then per number: key index, field, n caps, then n pairs (max, window s)
-- Returns one value per number: 0 when an attempt at `now` was recorded, else the first second
-- every cap would allow one (nothing recorded).
local now = ARGV[1] + 0
local reply = {}
local i = 2
while i <= #ARGV do
  local key, field, n = KEYS[ARGV[i] + 0], ARGV[i + 1], ARGV[i + 2] + 0
  local caps, longest = {}, 0
  for c = 1, n do
    local cap = {ARGV[i + 1 + 2 * c] + 0, ARGV[i + 2 + 2 * c] + 0}
    caps[c] = cap
    if cap[2] > longest then longest = cap[2] end
  end
  i = i + 3 + 2 * n
  local kept = {}
  local text = redis.call('HGET', key, field)
  if text then
    for at in string.gmatch(text, '%d+') do
      at = at + 0
      if at > now - longest then kept[#kept + 1] = at end
    end
  end
  table.sort(kept)
  local allowed_at = 0
  for _, cap in ipairs(caps) do
    local inside = {}
    for _, at in ipairs(kept) do
      if at > now - cap[2] then inside[#inside + 1] = at end
    end
    local over = #inside - cap[1]
    if over >= 0 and inside[over + 1] + cap[2] > allowed_at then
      allowed_at = inside[over + 1] + cap[2]
    end
  end
  if allowed_at == 0 then
    kept[#kept + 1] = now
    redis.call('HSET', key, field, table.concat(kept, ','))
  end
  reply[#reply + 1] = allowed_at
end
return reply
