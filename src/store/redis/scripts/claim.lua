-- The claim step: checks lease, status, schedule version, daily cap, spacing and concurrency at
-- once, then moves due contacts to in-flight: retries that are due, then released contacts,
-- then contacts never called from the cursor on.
-- KEYS: meta, released, retry, inflight, contacts (bucket base), calls (bucket base),
--       events (the webhook outbox, see call_state.lua), held (list base)
-- ARGV: fence, schedule version, now ms, limit, max concurrent, cap (0: none),
--       the first call's slot ms (a claim that looks ahead, `Schedule::claim_slots`: the spacing
--       holds from it), claim deadline ms, local date of now,
--       events ('1': the organisation has webhooks), partitions known (the meta field
--       `n_parts` the gate was decided on), k, then k triples (partition, until ms, reason) of
--       the partitions whose callee gate is closed (until '0': its contacts end `skipped` for
--       that reason, `rules::PartitionVerdict::Skip`), then for each call i with a cap a
--       triple: its call id, its slot ms (its `called at`), and the next slot ms once calls
--       1..i are claimed (what `p_next` becomes); without a cap its call id alone (every call's
--       slot is the first's: `Schedule::claim_slots`).
-- A contact of a closed partition (its details start `<partition>|`) is not claimed: it goes
-- back to wait until its partition opens (at most 1000 a claim,
-- `store::rules::MAX_PARKED_PER_CLAIM`); no attempt, event or cap use. One never called goes to
-- the end of the list `held:<partition>`, whose member `p<partition>` in the retry set is due
-- when the partition opens (the meta field `hr:<partition>` says `<until ms>|<reason>`); a retry
-- stays in the retry set, due then, with its reason in its state.
-- Calls in flight past their deadline end 'unknown' first: never dialled again blindly.
-- Returns {'STALE'} | {'RETRY'} | {status, n_in_flight, n_claims_before, first retry ms or nil,
--          n_fresh, first in-flight deadline ms or nil, calls today, next slot ms or nil,
--          events waiting, contacts put back as "<partition>=<n> …" (held or skipped),
--          seq, details, state, seq, details, state, ...}; the state is nil for a first
--          attempt ("1|in_progress|<its call id>|<its slot ms>|||": the caller knows both).
-- Uses the helpers of call_state.lua, sent ahead of this script.
-- Each write a script makes goes to the AOF and to replicas as a command of its own, and each
-- read is a lookup: every queue is looked at once and searched only when its head says there is
-- something to take, and the campaign's fields (its fencing token and the day's count among
-- them) are read with one HMGET and written back with one HSET (3 writes a claimed call).
local meta = redis.call('HMGET', KEYS[1], 'status', 'ver', 'p_next', 'n_claims', 'cursor', 'seq',
  'n_called', 'st:scheduled', 'st:in_progress', 'st:unknown', 'fence', 'day', 'n_day', 'ev_seq',
  'n_parts', 'st:skipped')
if meta[11] ~= ARGV[1] then return {'STALE'} end
local status, version, p_next, n_claims = meta[1], meta[2], meta[3], meta[4]
-- Counters as read (text, or false when absent): changed with `count` below.
local read_called, read_scheduled = meta[7], meta[8]
local read_in_progress, read_unknown = meta[9], meta[10]
if not status then return {'STALE'} end
-- Mirrors `CampaignStatus::is_dispatching`; guarded by the conformance check
-- `nothing_is_claimed_from_a_paused_or_draft_campaign`.
local dispatching = status == 'scheduled' or status == 'active'
-- A gate decided on another version of the schedule: nothing is written, the caller retries.
-- So is one decided without a partition added since.
if dispatching and (version ~= ARGV[2] or (meta[15] or '0') ~= ARGV[11]) then return {'RETRY'} end
local closed = {}
local n_closed = ARGV[12] + 0
for j = 0, n_closed - 1 do
  closed[ARGV[13 + 3 * j]] = {ARGV[14 + 3 * j], ARGV[15 + 3 * j]}
end
-- Call number i has its id at ARGV[ids + stride * (i - 1) + 1], and with a cap its slot and
-- next slot after it.
local ids = 12 + 3 * n_closed
local now = ARGV[3] + 0
local cursor = (meta[5] or 0) + 0
local last = (meta[6] or 0) + 0
-- The campaign's changed fields (`put`, `count`), written with one HSET at the end; calls in
-- progress change twice (deadlines passed, claims), counted once.
local writes = new_writes()
local events = new_events(KEYS[7], ARGV[10] == '1', meta[14])
local d_in_progress, d_scheduled = 0, 0
-- Calls in flight and their earliest deadline (the set's tail).
local n_in_flight = redis.call('ZCARD', KEYS[4])
local earliest = first_deadline(KEYS[4], n_in_flight)
if earliest ~= '' and earliest + 0 <= now then
  -- One read and one write per bucket, one ZREM, as for claimed calls.
  local expired = past_deadline(KEYS[4], ARGV[3], '500')
  local groups = by_bucket(expired)
  local texts = read_fields(KEYS[6], groups)
  for seq, text in pairs(texts) do
    if text then
      local state = parse_state(text)
      state.st = 'unknown'
      texts[seq] = state_text(state)
    end
  end
  write_fields(KEYS[6], groups, texts)
  in_chunks('ZREM', KEYS[4], expired)
  d_in_progress = -#expired
  count(writes, 'st:unknown', read_unknown, #expired)
  n_in_flight = n_in_flight - #expired
  earliest = first_deadline(KEYS[4], n_in_flight)
end
-- Calls placed on the local date of now.
local used = 0
if meta[12] == ARGV[9] then used = (meta[13] or 0) + 0 end
local next_slot = p_next or ''
local first_retry = redis.call('ZRANGE', KEYS[3], '0', '0', 'WITHSCORES')
local n_released = redis.call('ZCARD', KEYS[2])
-- The reply's head is filled in at the end; each claimed contact adds (seq, details, state or
-- nil).
local reply = {status, 0, n_claims or '0', false, 0, false, 0, false, 0, ''}
if dispatching then
  local n = math.min(ARGV[4] + 0, ARGV[5] - n_in_flight)
  local cap = ARGV[6] + 0
  local stride = cap > 0 and 3 or 1
  if cap > 0 then
    if used >= cap or (p_next and p_next + 0 > ARGV[7] + 0) then n = 0 end
    n = math.min(n, cap - used)
  end
  if n > 0 then
    -- Rounds of candidates (due retries, then released contacts, then contacts never called
    -- from the cursor on) until `n` are claimed: each round reads the candidates' details (one
    -- HMGET per bucket) and, for retries only, their states; a candidate of a closed partition
    -- is parked instead.
    -- The claimed contacts in order, with their details and states (false: a first attempt).
    local claimed, texts, details = {}, {}, {}
    local parked, parked_texts, parked_scores, n_parked, n_skipped = {}, {}, {}, 0, 0
    local n_listed, n_taken = 0, 0
    local put_back, held = {}, {}
    -- The first round's candidates by bucket, and the number of rounds.
    local first_groups, n_rounds = nil, 0
    local format, byte = string.format, string.byte
    while n_taken < n and n_parked + n_listed < 1000 do
      local want = n - n_taken
      local candidates, retried = {}, {}
      if first_retry[2] and first_retry[2] + 0 <= now then
        -- Due retries, and the held contacts of partitions due to open, in due order.
        local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[3], 'LIMIT', '0',
          string.format('%d', want))
        local taken = {}
        for _, member in ipairs(due) do
          if #candidates >= want then break end
          local partition = string.match(member, '^p(%d+)$')
          if partition then
            local list = KEYS[8] .. ':' .. partition
            local got = redis.call('LPOP', list, string.format('%d', want - #candidates))
            if got then
              for _, seq in ipairs(got) do candidates[#candidates + 1] = seq end
            end
            if redis.call('LLEN', list) == 0 then
              taken[#taken + 1] = member
              redis.call('HDEL', KEYS[1], 'hr:' .. partition)
            end
          else
            taken[#taken + 1] = member
            candidates[#candidates + 1] = member
            retried[#retried + 1] = member
          end
        end
        in_chunks('ZREM', KEYS[3], taken)
        first_retry = redis.call('ZRANGE', KEYS[3], '0', '0', 'WITHSCORES')
      end
      if #candidates < want and n_released > 0 then
        local released = redis.call('ZPOPMIN', KEYS[2], string.format('%d', want - #candidates))
        for i = 1, #released, 2 do candidates[#candidates + 1] = released[i] end
        n_released = n_released - #released / 2
      end
      -- Contacts never called, a bucket's run at a time (their numbers are at hand: no text to
      -- parse).
      local n_candidates = #candidates
      local groups = by_bucket(candidates)
      while n_candidates < want and cursor < last do
        local bucket_n = math.floor(cursor / 128)
        local list = groups[bucket_n]
        if not list then
          list = {}
          groups[bucket_n] = list
        end
        local n_list = #list
        local stop = math.min(last, (bucket_n + 1) * 128, cursor + want - n_candidates)
        for fresh = cursor, stop - 1 do
          local seq = format('%d', fresh)
          n_candidates = n_candidates + 1
          candidates[n_candidates] = seq
          n_list = n_list + 1
          list[n_list] = seq
        end
        cursor = stop
      end
      if n_candidates == 0 then break end
      n_rounds = n_rounds + 1
      if n_rounds == 1 then first_groups = groups end
      local states = {}
      if #retried > 0 then states = read_fields(KEYS[6], by_bucket(retried)) end
      local read = read_fields(KEYS[5], groups)
      for c = 1, n_candidates do
        local seq = candidates[c]
        local text = read[seq]
        -- Added `skipped` (its number was on the do-not-call list, see add_contacts.lua):
        -- final already, passed over.
        local listed = text and byte(text, 1) == 33
        -- Its partition, read only when one is closed.
        local partition, rule
        if n_closed > 0 and text and not listed then
          partition = string.match(text, '^(%d+)|') or '0'
          rule = closed[partition]
        end
        if listed then
          n_listed = n_listed + 1
        elseif rule then
          put_back[partition] = (put_back[partition] or 0) + 1
          n_parked = n_parked + 1
          if rule[1] == '0' or states[seq] then
            -- Skipped, or a retry held: its state says so.
            local state = parse_state(states[seq])
            state.held = rule[2]
            if rule[1] == '0' then
              state.st = 'skipped'
              state.due = ''
              n_skipped = n_skipped + 1
            else
              state.st = 'scheduled'
              state.due = rule[1]
              parked_scores[#parked_scores + 1] = rule[1]
              parked_scores[#parked_scores + 1] = seq
            end
            parked[#parked + 1] = seq
            parked_texts[seq] = state_text(state)
          else
            -- Never called: to its partition's held list, with no state.
            local list = held[partition]
            if not list then
              list = {}
              held[partition] = list
              parked_scores[#parked_scores + 1] = rule[1]
              parked_scores[#parked_scores + 1] = 'p' .. partition
              put(writes, 'hr:' .. partition, rule[1] .. '|' .. rule[2])
            end
            list[#list + 1] = seq
          end
        else
          n_taken = n_taken + 1
          claimed[n_taken] = seq
          details[n_taken] = text
          texts[n_taken] = states[seq] or false
        end
      end
    end
    if n_parked > 0 then
      local counts = {}
      for partition, n in pairs(put_back) do counts[#counts + 1] = partition .. '=' .. n end
      reply[10] = table.concat(counts, ' ')
      if #parked > 0 then write_fields(KEYS[6], by_bucket(parked), parked_texts) end
      for partition, list in pairs(held) do in_chunks('RPUSH', KEYS[8] .. ':' .. partition, list) end
      if #parked_scores > 0 then in_chunks('ZADD', KEYS[3], parked_scores) end
      first_retry = redis.call('ZRANGE', KEYS[3], '0', '0', 'WITHSCORES')
      count(writes, 'st:skipped', meta[16], n_skipped)
      d_scheduled = d_scheduled - n_skipped
    end
    -- Where the claimed calls' states go: after one round, its groups (a candidate not
    -- claimed has no state to write there).
    local groups = n_rounds == 1 and first_groups or by_bucket(claimed)
    put(writes, 'cursor', string.format('%d', cursor))
    -- The campaign starts with the first calls it claims: that event comes before theirs.
    if status == 'scheduled' and n_taken > 0 then
      event(events, ARGV[3], 's|scheduled|active')
    end
    local written = {}
    local n_first = 0
    for i = 1, n_taken do
      local seq = claimed[i]
      local text
      local attempt
      -- A first attempt's state is not sent back (false: a nil reply).
      local sent = false
      local call, at = ARGV[ids + stride * (i - 1) + 1], ARGV[7]
      if stride == 3 then at = ARGV[ids + 3 * i - 1] end
      if not texts[i] then
        -- The first attempt: the state is written whole, with no parse.
        n_first = n_first + 1
        attempt = '1'
        text = '1|in_progress|' .. call .. '|' .. at .. '|||'
      else
        local state = parse_state(texts[i])
        if state.at == 0 then n_first = n_first + 1 end
        state.at = state.at + 1
        state.st = 'in_progress'
        state.call = call
        state.ca = at
        state.due = ''
        state.held = ''
        attempt = string.format('%d', state.at)
        text = state_text(state)
        sent = text
      end
      written[seq] = text
      if events then event(events, ARGV[3], 'c|' .. seq .. '|' .. attempt .. '|' .. call) end
      reply[8 + 3 * i] = seq
      reply[9 + 3 * i] = details[i]
      reply[10 + 3 * i] = sent
    end
    local n_claimed = n_taken
    if n_claimed > 0 then
      -- Latest claimed first: with equal scores, each goes before the one added before it.
      -- A claim of many calls puts a member too long for Redis' compact form first, and takes
      -- it out again: the set is kept in its hashed form from then on (until it empties),
      -- where adding and removing a member does not scan the others (`BIG_CLAIM`).
      local deadline = '-' .. ARGV[8]
      local deadlines = {}
      local big = n_claimed >= BIG_CLAIM
      local offset = big and 2 or 0
      if big then deadlines[1], deadlines[2] = '0', WIDE_MEMBER end
      for i = n_claimed, 1, -1 do
        local j = offset + 2 * (n_claimed - i)
        deadlines[j + 1] = deadline
        deadlines[j + 2] = claimed[i]
      end
      write_fields(KEYS[6], groups, written)
      in_chunks('ZADD', KEYS[4], deadlines)
      if big then redis.call('ZREM', KEYS[4], WIDE_MEMBER) end
      if earliest == '' or ARGV[8] + 0 < earliest + 0 then earliest = ARGV[8] end
      count(writes, 'n_called', read_called, n_first)
      d_scheduled = d_scheduled - n_claimed
      count(writes, 'n_claims', n_claims, n_claimed)
      d_in_progress = d_in_progress + n_claimed
      n_in_flight = n_in_flight + n_claimed
      used = used + n_claimed
      put(writes, 'day', ARGV[9])
      put(writes, 'n_day', string.format('%d', used))
      if cap > 0 then
        next_slot = ARGV[ids + 3 * n_claimed]
        put(writes, 'p_next', next_slot)
      end
      if status == 'scheduled' then
        status = 'active'
        put(writes, 'status', status)
        put(writes, 'updated_at', ARGV[3])
        count(writes, 'ver', version, 1)
      end
    end
  end
end
local n_fresh = (last - cursor) + n_released
-- Mirrors `CampaignStatus::completes` (src/domain/status.rs), as `record.lua` does; the
-- conformance check `a_campaign_completes_in_the_claim_that_finds_nothing_left` guards the pair.
if status == 'active' and n_in_flight == 0 and n_fresh == 0 and not first_retry[2] then
  -- (Never in the step that activated the campaign: that one claimed calls.)
  status = 'completed'
  put(writes, 'status', status)
  put(writes, 'completed_at', ARGV[3])
  put(writes, 'updated_at', ARGV[3])
  count(writes, 'ver', version, 1)
  event(events, ARGV[3], 's|active|completed')
  event(events, ARGV[3], 'd')
end
count(writes, 'st:in_progress', read_in_progress, d_in_progress)
count(writes, 'st:scheduled', read_scheduled, d_scheduled)
reply[9] = write_events(events, writes)
write_hash(KEYS[1], writes)
-- None is false (a nil reply), cheaper for Redis to send than an empty text.
reply[1], reply[2], reply[4], reply[5] = status, n_in_flight, first_retry[2] or false, n_fresh
reply[6], reply[7], reply[8] = earliest ~= '' and earliest, used, next_slot ~= '' and next_slot
return reply
