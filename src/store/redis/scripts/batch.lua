-- Runs the script above (`run`) once for each of several campaigns in one request (batch.rs):
-- one request to read, parse and answer instead of one per campaign, and one pass of the helpers.
-- ARGV: n, then (number of keys, number of args) for each run, then each run's args in order;
-- KEYS: each run's keys in order.
-- Returns each run's reply in order; a run that fails is {false (nil), its error} in its place
-- (an error nested in a reply fails the whole request for the client) and the others stand, as
-- they would have alone.
local n = ARGV[1] + 0
local replies = {}
local k, a = 0, 1 + 2 * n
for i = 1, n do
  local n_keys, n_args = ARGV[2 * i] + 0, ARGV[2 * i + 1] + 0
  -- Tables made whole by their constructor, not grown (and rehashed) a value at a time; a batch
  -- holds a few runs of a few values each, far below `unpack`'s limit.
  local keys = {unpack(KEYS, k + 1, k + n_keys)}
  local args = {unpack(ARGV, a + 1, a + n_args)}
  k, a = k + n_keys, a + n_args
  local ok, reply = pcall(run, keys, args)
  if ok then
    replies[i] = reply
  elseif type(reply) == 'table' and reply.err then
    replies[i] = {false, reply.err}
  else
    replies[i] = {false, tostring(reply)}
  end
end
return replies
