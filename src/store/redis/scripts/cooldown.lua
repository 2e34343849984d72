-- Starts a number's cool-down after a refusal (`Suppression::start_cooldown`): its attempts'
-- entry (see screen.lua) starts "c<until>;", the later of the old and new instants.
-- KEYS: the number's attempt bucket
-- ARGV: digits, until (Unix s)
local text = redis.call('HGET', KEYS[1], ARGV[1]) or ''
local until_s = ARGV[2] + 0
local old = string.match(text, '^c(%d+);')
if old then
  if old + 0 > until_s then until_s = old + 0 end
  text = string.sub(text, string.find(text, ';', 1, true) + 1)
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('c%d;', until_s) .. text)
return 1
