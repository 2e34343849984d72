-- Puts a campaign's final contacts back in the queue (`Campaigns::requeue`), one range of call
-- buckets per run, due at once; mirrors `CampaignState::requeue` of the memory store, guarded by
-- the conformance check `store_conformance::campaigns::*::requeued_contacts_are_called_again`.
-- KEYS: meta, calls (bucket base), retry, events
-- ARGV: first bucket, end bucket (excluded), now ms, include unknown ('1' | '0'), number of
--       status events n, n events ("<kind>|<fields…>", written when a completed campaign goes
--       back to active), then the outcomes wanted
-- Returns how many were put back, or -1 when the campaign's status allows no requeue.
-- Uses the helpers of call_state.lua, sent ahead of this script.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'active' and status ~= 'paused' and status ~= 'completed' then return -1 end
local now, include_unknown, n_events = ARGV[3], ARGV[4] == '1', ARGV[5] + 0
local wanted = {}
for i = 6 + n_events, #ARGV do wanted[ARGV[i]] = true end
local n, from = 0, {}
for b = ARGV[1] + 0, ARGV[2] - 1 do
  local key = bucket_key(KEYS[2], b)
  local fields = redis.call('HGETALL', key)
  local rewritten, scores = {}, {}
  for i = 1, #fields, 2 do
    local state = parse_state(fields[i + 1])
    local final = state.st == 'completed' or state.st == 'failed'
    if (final and wanted[state.o]) or (state.st == 'unknown' and include_unknown) then
      from[state.st] = (from[state.st] or 0) + 1
      state.st = 'scheduled'
      state.due = now
      state.held = ''
      rewritten[#rewritten + 1] = fields[i]
      rewritten[#rewritten + 1] = state_text(state)
      scores[#scores + 1] = now
      scores[#scores + 1] = fields[i]
      n = n + 1
    end
  end
  if #rewritten > 0 then
    redis.call('HSET', key, unpack(rewritten))
    redis.call('ZADD', KEYS[3], unpack(scores))
  end
end
if n == 0 then return 0 end
for st, count in pairs(from) do redis.call('HINCRBY', KEYS[1], 'st:' .. st, -count) end
redis.call('HINCRBY', KEYS[1], 'st:scheduled', n)
if status == 'completed' then reactivate(KEYS[1], KEYS[4], now, 6, n_events) end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
return n
