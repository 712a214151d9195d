-- Swaps one request's reservation for what it used: once (the lease is deleted); a lease
-- unknown or forgotten changes nothing. Usage lands in the windows it was admitted in, while
-- they exist.
--
-- KEYS[1] the lease index, KEYS[2] the lease. ARGV: requests, tokens, cost actually used.
-- Answers 1 when settled, 0 when there was nothing to settle.

local windows = redis.call('HGET', KEYS[2], 'windows')
if not windows then return 0 end
release(KEYS[2])
for _, window in ipairs(words(windows)) do
  if redis.call('EXISTS', window) == 1 then
    for i = 1, 3 do add(window, 'u' .. i, ARGV[i], false) end
  end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], KEYS[2])
return 1
