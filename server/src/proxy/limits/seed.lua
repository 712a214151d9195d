-- Raises one window's used figures to the stored counters where Redis counts less: at start,
-- and again when Redis comes back (perhaps empty). The database's counters lag Redis's (they
-- are written after settlement), so where Redis counts more it is left alone, and seeding twice
-- changes nothing. KEYS[1] the window, KEYS[2] its scope's meta hash. ARGV: requests, tokens,
-- cost, the window's expiry (0: none), now (the resets the stored counters reflect). Answers 1
-- when it raised a figure.
local raised = 0
for i = 1, 3 do
  local counted = tonumber(redis.call('HGET', KEYS[1], 'u' .. i)) or 0
  if tonumber(ARGV[i]) > counted then
    redis.call('HSET', KEYS[1], 'u' .. i, ARGV[i])
    raised = 1
  end
end
if raised == 1 and ARGV[4] ~= '0' and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[4])
end
redis.call('HSETNX', KEYS[2], 'reset', ARGV[5])
return raised
