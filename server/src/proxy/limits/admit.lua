-- Admits a burst of requests, one after another, each against every limit of every level,
-- reserving on all or none. Only what a limit reads is kept: the windows of the periods a level
-- limits, and its concurrency set when it limits concurrency (keys always do).
--
-- KEYS[1] the lease index (sorted set: lease key by expiry); then per request: its lease, and
-- per level: its meta hash (`reset`), its concurrency set, and its five window hashes (minute,
-- hour, day, month, total; fields u1..u3 used and r1..r3 reserved).
-- ARGV[1] now (the latest of the burst), ARGV[2] the number of requests; then per request: its
-- key count and argument count, and its arguments: its now, lease expiry, lease forgotten at,
-- request id, the ask (requests, tokens, cost), the level count, the five windows' expiry (0:
-- none); then per level: its reset time (-1: none) and limit count, and per limit: metric (0
-- concurrency, 1 requests, 2 tokens, 3 cost), period (1..5), maximum.
-- Answers, per request, {refused, taken...}: refused is 0, or the position of the first limit
-- refused in the flat list of limits; taken is what each limit had taken before this request.

-- One request: K its keys (lease, then the levels'), A its arguments.
local function admit(K, A)
  local now, expires, forget, id = tonumber(A[1]), A[2], A[3], A[4]
  local ask = {A[5], A[6], A[7]}
  local levels = tonumber(A[8])
  local window_expiry = {A[9], A[10], A[11], A[12], A[13]}

  local answer = {0}
  -- The windows (key position → period) and concurrency sets the limits read.
  local windows, concs = {}, {}
  local a, k = 14, 2
  for _ = 1, levels do
    local meta, conc = K[k], K[k + 1]
    local reset_at, limits = tonumber(A[a]), tonumber(A[a + 1])
    a = a + 2
    if reset_at >= 0 then
      local seen = tonumber(redis.call('HGET', meta, 'reset'))
      if seen == nil then
        redis.call('HSET', meta, 'reset', A[a - 2])
      elseif reset_at > seen then
        for p = 0, 4 do redis.call('HDEL', K[k + 2 + p], 'u1', 'u2', 'u3') end
        redis.call('HSET', meta, 'reset', A[a - 2])
      end
    end
    for _ = 1, limits do
      local metric, period, max = tonumber(A[a]), tonumber(A[a + 1]), tonumber(A[a + 2])
      a = a + 3
      local taken, asked
      if metric == 0 then
        if concs[#concs] ~= conc then
          redis.call('ZREMRANGEBYSCORE', conc, '-inf', now)
          concs[#concs + 1] = conc
        end
        taken, asked = redis.call('ZCARD', conc), 1
      else
        local window = K[k + 1 + period]
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
  redis.call('HSET', K[1], 'ask', table.concat(ask, ' '), 'windows', table.concat(reserved, ' '),
    'conc', table.concat(concs, ' '), 'id', id, 'released', '0')
  redis.call('PEXPIREAT', K[1], forget)
  redis.call('ZADD', KEYS[1], expires, K[1])
  return answer
end

-- Leases past their expiry (a replica died, or a request never settled) give their places
-- back, a few per burst.
sweep(KEYS[1], tonumber(ARGV[1]), 16)

local answers = {}
local k, a = 2, 3
for i = 1, tonumber(ARGV[2]) do
  local keys, args = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local K, A = {}, {}
  for j = 1, keys do K[j] = KEYS[k + j - 1] end
  for j = 1, args do A[j] = ARGV[a + 1 + j] end
  k, a = k + keys, a + 2 + args
  answers[i] = admit(K, A)
end
return answers
