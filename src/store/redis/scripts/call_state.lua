-- A contact's call state is the string "attempts|status|call id|called at|due|outcome|duration"
-- in the bucket hash `calls:<n>`; a contact never claimed has none.
local function read_state(base, seq)
  local text = redis.call('HGET', base .. ':' .. math.floor(tonumber(seq) / 128), seq)
  if not text then return {at = 0, st = '', call = '', ca = '', due = '', o = '', dur = ''} end
  local at, st, call, ca, due, o, dur = string.match(text, '^(%d*)|([%a_]*)|([^|]*)|(%d*)|(%d*)|([%a_]*)|(%d*)$')
  return {at = tonumber(at) or 0, st = st, call = call, ca = ca, due = due, o = o, dur = dur}
end
local function write_state(base, seq, s)
  local text = s.at .. '|' .. s.st .. '|' .. s.call .. '|' .. s.ca .. '|' .. s.due .. '|' .. s.o .. '|' .. s.dur
  redis.call('HSET', base .. ':' .. math.floor(tonumber(seq) / 128), seq, text)
  return text
end
