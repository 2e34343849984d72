-- A dispatch step's record and claim in one run (`Inner::record_and_claim`): the outcomes first,
-- as `record.lua` records them (the function `record`), then the claim, as `claim.lua` makes it
-- (the function `claim`), each on its own keys and arguments, as if they ran one after the
-- other: the claim sees the lines the outcomes freed. One run instead of two: the request, the
-- campaign's fields and queue heads read once more, and the script's set-up are a paced call's
-- largest costs (BENCHMARKS.md).
-- KEYS: record's keys, then claim's
-- ARGV: n keys of record, n args of record, then record's args, then claim's
-- Returns {record's reply, claim's reply}.
local n_keys, n_args = ARGV[1] + 0, ARGV[2] + 0
local recorded = record({unpack(KEYS, 1, n_keys)}, {unpack(ARGV, 3, 2 + n_args)})
local claimed = claim({unpack(KEYS, n_keys + 1, #KEYS)}, {unpack(ARGV, 3 + n_args, #ARGV)})
return {recorded, claimed}
