-- Swaps one request's reservation for what it used: once (the lease is deleted); a lease
-- unknown or forgotten changes nothing. Usage lands in the windows it was admitted in, while
-- they exist.
--
-- KEYS[1] the lease index, KEYS[2] the lease. ARGV: requests, tokens, cost actually used.
-- Answers 1 when settled, 0 when there was nothing to settle.

local f = redis.call('HMGET', KEYS[2], 'ask', 'windows', 'conc', 'id', 'released')
if not f[1] then return 0 end
local held = f[5] ~= '1'
local ask = words(f[1])
for _, window in ipairs(words(f[2])) do
  if redis.call('EXISTS', window) == 1 then
    for i = 1, 3 do
      if held then add(window, 'r' .. i, ask[i], true) end
      add(window, 'u' .. i, ARGV[i], false)
    end
  end
end
if held then
  for _, conc in ipairs(words(f[3])) do redis.call('ZREM', conc, f[4]) end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], KEYS[2])
return 1
