-- Returns a claimed contact whose call was never requested to its queue; with a skip reason
-- ends it `skipped` (`Dispatch::skip_claim`), with a held reason and an instant puts it in the
-- retry set until then, held (`Dispatch::hold_claim`). Undoes the attempt either way.
-- KEYS: meta, calls (bucket base), inflight, retry, released
-- ARGV: seq, attempt[, skip reason or ''[, held reason, until ms]]
-- Uses the helpers of call_state.lua, sent ahead of this script.
local seq = ARGV[1]
local state = read_state(KEYS[2], seq)
if state.st ~= 'in_progress' or tostring(state.at) ~= ARGV[2] or redis.call('ZREM', KEYS[3], seq) == 0 then
  return 0
end
state.at = state.at - 1
state.call = ''
local status = redis.call('HGET', KEYS[1], 'status')
redis.call('HINCRBY', KEYS[1], 'st:in_progress', -1)
if status == 'cancelled' then
  state.st = 'cancelled'
  redis.call('HINCRBY', KEYS[1], 'st:cancelled', 1)
  -- Never called after all (as the memory store counts it).
  if state.at == 0 then redis.call('HINCRBY', KEYS[1], 'n_called', -1) end
elseif ARGV[4] then
  state.st = 'scheduled'
  state.held = ARGV[4]
  state.due = ARGV[5]
  if state.at == 0 then state.ca = '' end
  redis.call('HINCRBY', KEYS[1], 'st:scheduled', 1)
  if state.at == 0 then redis.call('HINCRBY', KEYS[1], 'n_called', -1) end
  redis.call('ZADD', KEYS[4], ARGV[5], seq)
elseif ARGV[3] and ARGV[3] ~= '' then
  state.st = 'skipped'
  state.held = ARGV[3]
  state.due = ''
  redis.call('HINCRBY', KEYS[1], 'st:skipped', 1)
  if state.at == 0 then
    state.ca = ''
    redis.call('HINCRBY', KEYS[1], 'n_called', -1)
  end
elseif state.at == 0 then
  -- Never called after all: back among the fresh contacts, with no state.
  redis.call('HDEL', KEYS[2] .. ':' .. math.floor(tonumber(seq) / 128), seq)
  redis.call('HINCRBY', KEYS[1], 'n_called', -1)
  redis.call('HINCRBY', KEYS[1], 'st:scheduled', 1)
  redis.call('ZADD', KEYS[5], tonumber(seq), seq)
  return 1
else
  state.st = 'scheduled'
  state.due = state.ca
  redis.call('HINCRBY', KEYS[1], 'st:scheduled', 1)
  redis.call('ZADD', KEYS[4], state.ca, seq)
end
write_state(KEYS[2], seq, state)
return 1
