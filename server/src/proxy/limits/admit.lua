-- Admits one request against every limit of every level, reserving on all or none. Only what a
-- limit reads is kept: the windows of the periods a level limits, and its concurrency set when
-- it limits concurrency (keys always do).
--
-- KEYS[1] the lease index (sorted set: lease key by expiry), KEYS[2] this request's lease;
-- then per level: its meta hash (`reset`), its concurrency set, and its five window hashes
-- (minute, hour, day, month, total; fields u1..u3 used and r1..r3 reserved).
-- ARGV: now, lease expiry, lease forgotten at, request id, the ask (requests, tokens, cost),
-- the level count, the five windows' expiry (0: none); then per level: its reset time (-1:
-- none) and limit count, and per limit: metric (0 concurrency, 1 requests, 2 tokens, 3 cost),
-- period (1..5), maximum.
-- Answers {refused, taken...}: refused is 0, or the position of the first limit refused in
-- the flat list of limits; taken is what each limit had taken before this request.

local now = tonumber(ARGV[1])
local expires, forget, id = ARGV[2], ARGV[3], ARGV[4]
local ask = {ARGV[5], ARGV[6], ARGV[7]}
local levels = tonumber(ARGV[8])
local window_expiry = {ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]}

-- Leases past their expiry (a replica died, or a request never settled) give their places
-- back, a few per admission.
sweep(KEYS[1], now, 16)

local answer = {0}
-- The windows (key position → period) and concurrency sets the limits read.
local windows, concs = {}, {}
local a, k = 14, 3
for _ = 1, levels do
  local meta, conc = KEYS[k], KEYS[k + 1]
  local reset_at, limits = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  if reset_at >= 0 then
    local seen = tonumber(redis.call('HGET', meta, 'reset'))
    if seen == nil then
      redis.call('HSET', meta, 'reset', ARGV[a - 2])
    elseif reset_at > seen then
      for p = 0, 4 do redis.call('HDEL', KEYS[k + 2 + p], 'u1', 'u2', 'u3') end
      redis.call('HSET', meta, 'reset', ARGV[a - 2])
    end
  end
  for _ = 1, limits do
    local metric, period, max = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    a = a + 3
    local taken, asked
    if metric == 0 then
      if concs[#concs] ~= conc then
        redis.call('ZREMRANGEBYSCORE', conc, '-inf', now)
        concs[#concs + 1] = conc
      end
      taken, asked = redis.call('ZCARD', conc), 1
    else
      local window = KEYS[k + 1 + period]
      windows[window] = period
      local v = redis.call('HMGET', window, 'u' .. metric, 'r' .. metric)
      taken, asked = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0), tonumber(ask[metric])
    end
    answer[#answer + 1] = taken
    if answer[1] == 0 and taken + asked > max then answer[1] = #answer - 1 end
  end
  k = k + 7
end
if answer[1] ~= 0 then return answer end

for _, conc in ipairs(concs) do redis.call('ZADD', conc, expires, id) end
local reserved = {}
for window, period in pairs(windows) do
  -- The first reservation in a window (a new one, or one idle since) sets its expiry.
  local before = redis.call('HINCRBY', window, 'r1', ask[1]) - tonumber(ask[1])
  add(window, 'r2', ask[2], false)
  add(window, 'r3', ask[3], false)
  if before == 0 and window_expiry[period] ~= '0' then redis.call('PEXPIREAT', window, window_expiry[period]) end
  reserved[#reserved + 1] = window
end
redis.call('HSET', KEYS[2], 'ask', table.concat(ask, ' '), 'windows', table.concat(reserved, ' '),
  'conc', table.concat(concs, ' '), 'id', id, 'released', '0')
redis.call('PEXPIREAT', KEYS[2], forget)
redis.call('ZADD', KEYS[1], expires, KEYS[2])
return answer
