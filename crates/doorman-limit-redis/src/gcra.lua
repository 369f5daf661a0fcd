-- PROVISIONAL: replaced by the exact doorman-limit formulas once that crate lands.
-- GCRA + mitigation timeout for one key. KEYS[1] = state hash; ARGV = now_ms, limit, period_ms,
-- cost, mitigation_timeout_ms. Returns {allowed, remaining, reset_after_ms, retry_after_ms}.
local key = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local mitigation = tonumber(ARGV[5])

local state = redis.call('HMGET', key, 't', 'b')
local tat = tonumber(state[1])
local blocked = tonumber(state[2]) or 0

local interval = period / limit
if blocked > now then
  return {0, 0, math.max(0, (tat or now) - now), blocked - now}
end
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - period
if allow_at > now then
  if mitigation > 0 then
    redis.call('HSET', key, 'b', now + mitigation)
    redis.call('PEXPIRE', key, math.max(tat - now, mitigation) + 1000)
    return {0, 0, math.floor(tat - now), mitigation}
  end
  return {0, math.floor(0), math.floor(tat - now), math.ceil(allow_at - now)}
end
redis.call('HSET', key, 't', new_tat)
redis.call('PEXPIRE', key, math.ceil(new_tat - now) + 1000)
return {1, math.floor((now - allow_at) / interval), math.ceil(new_tat - now), 0}
