-- Shared by the ledger's scripts (prepended to each). A lease is a hash: `ask` (requests,
-- tokens, cost: three integers), `windows` and `conc` (the keys it reserved in, space-separated),
-- `id` (the request id, its member in the concurrency sets) and `released` ("1" once its
-- reservation was given back by the sweep).

local function words(text)
  local list = {}
  for word in string.gmatch(text or '', '%S+') do list[#list + 1] = word end
  return list
end

-- HINCRBY by an integer given as a decimal string ("-" prefixed when negative); zero is skipped
-- (Redis refuses "-0").
local function add(key, field, amount, negative)
  if amount == '0' then return end
  if negative then amount = '-' .. amount end
  redis.call('HINCRBY', key, field, amount)
end

-- Gives a lease's reservation and concurrency places back, once.
local function release(lease)
  local f = redis.call('HMGET', lease, 'ask', 'windows', 'conc', 'id', 'released')
  if not f[1] or f[5] == '1' then return end
  local ask = words(f[1])
  for _, window in ipairs(words(f[2])) do
    if redis.call('EXISTS', window) == 1 then
      for i = 1, 3 do add(window, 'r' .. i, ask[i], true) end
    end
  end
  for _, conc in ipairs(words(f[3])) do redis.call('ZREM', conc, f[4]) end
  redis.call('HSET', lease, 'released', '1')
end

-- Releases up to `count` leases of `index` whose expiry is at or before `now`; answers how many.
local function sweep(index, now, count)
  local expired = redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, count)
  for _, lease in ipairs(expired) do
    release(lease)
    redis.call('ZREM', index, lease)
  end
  return #expired
end
