-- Calls a contact back (`Campaigns::set_callback`): a new attempt due at ARGV[2], held meanwhile
-- as `callback_pending`; mirrors `rules::check_callback` and `CampaignState::call_back` of the
-- memory store, guarded by `store_conformance::requeue::*::a_callback_is_a_new_attempt_at_its_time`.
-- KEYS: meta, calls (bucket base), retry, callbacks (hash: seq → callbacks set), events
-- ARGV: seq, due ms, max callbacks, now ms, number of status events n, n events (written when a
--       completed campaign goes back to active)
-- Returns {'OK'} | {'CAMPAIGN', status} | {'CONTACT', status, attempts} | {'BUDGET', used}
-- | {'NOT_FOUND'}
-- Uses the helpers of call_state.lua, sent ahead of this script.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'NOT_FOUND'} end
-- Mirrors `Command::Requeue` of `domain::transition`.
if status ~= 'scheduled' and status ~= 'active' and status ~= 'paused' and status ~= 'completed' then
  return {'CAMPAIGN', status}
end
local seq = ARGV[1]
local state = read_state(KEYS[2], seq)
local st = state.st
if st ~= 'scheduled' and st ~= 'completed' and st ~= 'failed' and st ~= 'unknown' or state.at == 0 then
  return {'CONTACT', st, state.at}
end
local used = tonumber(redis.call('HGET', KEYS[4], seq) or '0')
if used >= ARGV[3] + 0 then return {'BUDGET', used} end
redis.call('HINCRBY', KEYS[4], seq, 1)
if st ~= 'scheduled' then
  redis.call('HINCRBY', KEYS[1], 'st:' .. st, -1)
  redis.call('HINCRBY', KEYS[1], 'st:scheduled', 1)
end
state.st = 'scheduled'
state.due = ARGV[2]
state.held = 'callback_pending'
write_state(KEYS[2], seq, state)
redis.call('ZADD', KEYS[3], ARGV[2], seq)
if status == 'completed' then reactivate(KEYS[1], KEYS[5], ARGV[4], 6, ARGV[5] + 0) end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
return {'OK'}
