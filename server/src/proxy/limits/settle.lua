-- Swaps requests' reservations for what they used: each once (its lease is deleted); a lease
-- unknown or forgotten changes nothing. Usage lands in the windows the request was admitted
-- in, while they exist.
--
-- KEYS[1] the lease index, then one lease per request settled. ARGV: per lease, the requests,
-- tokens and cost it actually used. Answers how many leases were settled.

local settled = 0
for n = 2, #KEYS do
  local lease, used = KEYS[n], {ARGV[3 * n - 5], ARGV[3 * n - 4], ARGV[3 * n - 3]}
  local f = redis.call('HMGET', lease, 'ask', 'windows', 'conc', 'id', 'released')
  if f[1] then
    local held = f[5] ~= '1'
    local ask = words(f[1])
    for _, window in ipairs(words(f[2])) do
      if redis.call('EXISTS', window) == 1 then
        for i = 1, 3 do
          if held then add(window, 'r' .. i, ask[i], true) end
          add(window, 'u' .. i, used[i], false)
        end
      end
    end
    if held then
      for _, conc in ipairs(words(f[3])) do redis.call('ZREM', conc, f[4]) end
    end
    redis.call('DEL', lease)
    redis.call('ZREM', KEYS[1], lease)
    settled = settled + 1
  end
end
return settled
