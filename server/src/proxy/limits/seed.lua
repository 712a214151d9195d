-- Seeds one window from the stored counters, unless Redis already counts it (another replica
-- started first, or traffic came since). KEYS[1] the window, KEYS[2] its scope's meta hash.
-- ARGV: requests, tokens, cost, the window's expiry (0: none), now (the resets the stored
-- counters reflect).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'u1', ARGV[1], 'u2', ARGV[2], 'u3', ARGV[3])
if ARGV[4] ~= '0' then redis.call('PEXPIREAT', KEYS[1], ARGV[4]) end
redis.call('HSETNX', KEYS[2], 'reset', ARGV[5])
return 1
