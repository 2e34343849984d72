-- Costs measured with `callgrind` (BENCHMARKS.md): a number handed to `redis.call` is formatted
-- by Redis with "%.17g" (≈ 2 k instructions), so arguments go as text; `tonumber(text)` parses
-- twice where arithmetic on the text (`text + 0`) parses once.
-- A contact's call state is the string "attempts|status|call id|called at|due|outcome|duration"
-- and, while a rule holds it back, "|held reason" (`HeldReason`), in the bucket hash `calls:<n>` (contact `seq` lives in bucket floor(seq / 128)); a contact
-- never claimed has none. Many states are read and written with one command per bucket.
local function parse_state(text)
  if not text then return {at = 0, st = '', call = '', ca = '', due = '', o = '', dur = '', held = ''} end
  local at, st, call, ca, due, o, dur, held = string.match(text, '^(%d*)|([%a_]*)|([^|]*)|(%d*)|(%d*)|([%a_]*)|(%d*)|?([%a_]*)$')
  return {at = tonumber(at) or 0, st = st, call = call, ca = ca, due = due, o = o, dur = dur, held = held}
end
local function state_text(s)
  local text = s.at .. '|' .. s.st .. '|' .. s.call .. '|' .. s.ca .. '|' .. s.due .. '|' .. s.o .. '|' .. s.dur
  if s.held ~= '' then text = text .. '|' .. s.held end
  return text
end
-- The hash of bucket `n` under `base` (integer formatting: `..` would format the number as a
-- float, which costs more).
local function bucket_key(base, n)
  return string.format('%s:%d', base, n)
end
local function bucket(base, seq)
  return bucket_key(base, math.floor(seq / 128))
end
local function read_state(base, seq)
  return parse_state(redis.call('HGET', bucket(base, seq), seq))
end
local function write_state(base, seq, s)
  local text = state_text(s)
  redis.call('HSET', bucket(base, seq), seq, text)
  return text
end
-- `seqs` grouped by bucket number: {n = {seq, ...}}; one grouping serves every bucket base.
local function group_add(groups, n, seq)
  local list = groups[n]
  if not list then
    list = {}
    groups[n] = list
  end
  list[#list + 1] = seq
end
local function by_bucket(seqs)
  local groups = {}
  for i = 1, #seqs do
    local seq = seqs[i]
    group_add(groups, math.floor(seq / 128), seq)
  end
  return groups
end
-- A bucket in Redis' compact form (a listpack) is scanned from its head for each field an HMGET
-- asks for; from this many fields on, one HGETALL of the whole bucket costs less, Lua's side
-- included (0.41 against 0.62 µs a field for 64 of 128; at 24 neither won: BENCHMARKS.md). A bucket in
-- the hashed form (long values) finds each field at once: HMGET.
local WHOLE_BUCKET = 32
-- The fields of `groups` (from by_bucket) in the bucket hashes under `base`:
-- {seq = value or false}, one HMGET or HGETALL per bucket.
local function read_fields(base, groups)
  local values = {}
  for n, list in pairs(groups) do
    local key = bucket_key(base, n)
    local n_list = #list
    if n_list >= WHOLE_BUCKET and redis.call('OBJECT', 'ENCODING', key) == 'listpack' then
      for i = 1, n_list do values[list[i]] = false end
      local all = redis.call('HGETALL', key)
      for i = 1, #all, 2 do
        local field = all[i]
        if values[field] == false then values[field] = all[i + 1] end
      end
    else
      local got = redis.call('HMGET', key, unpack(list))
      for i = 1, n_list do values[list[i]] = got[i] end
    end
  end
  return values
end
-- Writes {seq = value} for the seqs of `groups` that have one into the bucket hashes under
-- `base`, one HSET per bucket.
local function write_fields(base, groups, values)
  for n, list in pairs(groups) do
    local args, n_args = {}, 0
    for i = 1, #list do
      local seq = list[i]
      local value = values[seq]
      if value then
        args[n_args + 1] = seq
        args[n_args + 2] = value
        n_args = n_args + 2
      end
    end
    if n_args > 0 then redis.call('HSET', bucket_key(base, n), unpack(args, 1, n_args)) end
  end
end
-- Calls in flight: the sorted set `inflight` of seqs scored by their deadline ms, negated. A
-- small sorted set is a list that ZADD scans from its head; the newest calls have the latest
-- deadline, so negated they go to the head at once instead of after every call in flight.
local function first_deadline(key, n_in_flight)
  if n_in_flight == 0 then return '' end
  local earliest = redis.call('ZRANGE', key, '-1', '-1', 'WITHSCORES')[2]
  if earliest then return string.sub(earliest, 2) end
  return ''
end
local function past_deadline(key, now_ms, limit)
  return redis.call('ZRANGEBYSCORE', key, '-' .. now_ms, '+inf', 'LIMIT', '0', limit)
end
-- In-flight sets: a claim of this many calls or more keeps its set in Redis' hashed form, by
-- adding `WIDE_MEMBER` (over `zset-max-listpack-value`, 64 bytes by default) and removing it in
-- the same run. In the compact form (a listpack, up to 128 members) each member added or removed
-- is found by scanning the others: 0.4 and 0.6 µs a member in a set of 64 against 0.1 in the
-- hashed form (BENCHMARKS.md); a set of a few calls stays compact.
local BIG_CLAIM = 16
-- (72 characters, written out: a literal is made once, when the script is loaded.)
local WIDE_MEMBER = '~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'
-- Runs `command key items...` in chunks (Lua's unpack fails beyond about 8 000 values); nothing
-- when there are no items.
local function in_chunks(command, key, items)
  for first = 1, #items, 4000 do
    redis.call(command, key, unpack(items, first, math.min(#items, first + 3999)))
  end
end
-- Field/value pairs for one HSET at the end of a script (`write_hash`): each campaign field a
-- script changes is read with the others it needs, in one HMGET, and written back once, instead
-- of one HINCRBY each. Counters are locals and the pairs one array: Lua's table stores and its
-- collector were a quarter of Redis' instructions per call when each script built tables of
-- fields by name (`callgrind`, BENCHMARKS.md). The array is made at the size of a claim's
-- usual eight pairs (grown a value at a time, a table is rebuilt at each power of two) and `n`
-- counts what is in it.
local function new_writes()
  return {n = 0, false, false, false, false, false, false, false, false,
    false, false, false, false, false, false, false, false}
end
local function put(writes, field, value)
  local n = writes.n
  writes[n + 1] = field
  writes[n + 2] = value
  writes.n = n + 2
end
-- Adds a counter read before (its text, false when absent: 0) changed by `delta`; nothing when
-- the delta is 0.
local function count(writes, field, read, delta)
  if delta ~= 0 then put(writes, field, string.format('%d', (read or 0) + delta)) end
end
local function write_hash(key, writes)
  if writes.n > 0 then redis.call('HSET', key, unpack(writes, 1, writes.n)) end
end
-- A step's webhook events, written by the same script as the step (so a crash never keeps the
-- one without the other): the campaign's outbox `events`, a list of
-- "<number>|<at ms>|<kind>|<fields…>" numbered from the campaign's field `ev_seq`. Kinds:
-- `s|<from>|<to>` status changed, `d` completed, `c|<seq>|<attempt>|<call id>` call started,
-- `e|<seq>|<attempt>|<call id>|<outcome>|<seconds>` call ended (`store::CampaignEvent`
-- reads them). For an organisation without webhooks (`on` false) there is no events table and
-- nothing is written (nor built: callers check `events` before making an event's text).
local function new_events(key, on, last)
  if not on then return nil end
  return {key = key, seq = (last or 0) + 0, list = {}}
end
local function event(events, at, text)
  if events then
    events.seq = events.seq + 1
    events.list[#events.list + 1] = string.format('%d', events.seq) .. '|' .. at .. '|' .. text
  end
end
-- Appends the step's events and notes their number in `writes`; the outbox's length after.
local function write_events(events, writes)
  if not events then return 0 end
  if #events.list > 0 then
    in_chunks('RPUSH', events.key, events.list)
    put(writes, 'ev_seq', string.format('%d', events.seq))
  end
  return redis.call('LLEN', events.key)
end
-- A completed campaign with contacts to call again is active again (`Command::Requeue` of
-- `domain::transition`), its status events ARGV[first] to ARGV[first + n - 1] written to
-- `events` (requeue.lua, callback.lua).
local function reactivate(meta, events, now, first, n)
  redis.call('HSET', meta, 'status', 'active')
  redis.call('HDEL', meta, 'completed_at')
  if n == 0 then return end
  local seq = (redis.call('HGET', meta, 'ev_seq') or 0) + 0
  local list = {}
  for i = 1, n do
    seq = seq + 1
    list[i] = string.format('%d', seq) .. '|' .. now .. '|' .. ARGV[first + i - 1]
  end
  redis.call('RPUSH', events, unpack(list))
  redis.call('HSET', meta, 'ev_seq', string.format('%d', seq))
end
