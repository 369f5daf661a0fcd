-- Doorman shared rate limit: the conservative sliding window plus the mitigation timeout for one
-- key, atomically.
--
-- This is a port of doorman_limit::check_state (crates/doorman-limit/src/window.rs), step by
-- step as the specification in crates/doorman-limit/src/lib.rs (section "The algorithm") numbers
-- them, so that a key is decided the same way in Redis as in memory. Read those for why; the
-- comments here are about the representation and the arithmetic.
--
-- Redis Lua numbers are doubles: integers are exact only below 2^53. Nothing here uses absolute
-- slice numbers (now*k would be ~2^46 and more): slice boundaries are computed relative to an
-- anchor time, as the specification shows, and every product stays below 2^48. Every quotient
-- goes through floor_div, exact where math.floor(a / b) is not. The caller
-- (RedisLimiter::check) guarantees 0 <= limit <= 65535, 1 <= period <= 2^40 and
-- now + 2*period + mitigation < 2^52.
--
-- KEYS[1]  the key's state, a string (absent = never seen or idle):
--            window: "w <end> <bits> <count 0> <count 1> ... <count j>"
--                    counts newest first, trailing zeros left out
--            block:  "b <until> <end> <total>"
-- ARGV     now_ms, limit, period_ms, cost, mitigation_timeout_ms, expiry_margin_ms
-- Returns  {allowed (0/1), remaining, reset_after_ms, retry_after_ms (-1 = none)}
--
-- Numbers are written with string.format('%d'): Lua's default number-to-string conversion keeps
-- only 14 significant digits (1.8e+12), which would corrupt a millisecond timestamp.

local fmod, min, max = math.fmod, math.min, math.max
local format = string.format

local key = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local mitigation = tonumber(ARGV[5])
local margin = tonumber(ARGV[6])

-- floor(a / b) for integers |a| < 2^53, b > 0. fmod is exact, so a - r is an exact multiple of
-- b and the division is exact too.
local function floor_div(a, b)
  local r = fmod(a, b)
  if r < 0 then
    r = r + b
  end
  return (a - r) / b
end

-- The grid: b = bit length of the limit (at least 1), k = min(floor(64 / b) - 1, period).
local bits, lane_max = 1, 1
while lane_max < limit do
  bits = bits + 1
  lane_max = lane_max * 2 + 1
end
local k = min(floor_div(64, bits) - 1, period)

-- phase(t) = (t*k) mod P is computed as fmod(fmod(t, period) * k, period), so that the product
-- stays below k*P < 2^46 (t*k itself may be beyond 2^53).

-- The stored state, parsed. Any other value (a key of an older format, another type) is read
-- as no state and overwritten by the next write.
local kind, s_end, s_until, s_total, s_bits
local s_counts = {}
local raw = redis.pcall('GET', key)
if type(raw) == 'string' then
  local tag, a, b, rest = string.match(raw, '^(%a) (%d+) (%d+) (.*)$')
  if tag == 'w' then
    kind, s_end, s_bits = 'w', tonumber(a), tonumber(b)
    for count in string.gmatch(rest, '%d+') do
      s_counts[#s_counts + 1] = tonumber(count)
    end
  elseif tag == 'b' then
    kind, s_until, s_end, s_total = 'b', tonumber(a), tonumber(b), tonumber(rest)
  end
end

-- The view (Rust `View`): lanes 0..k in c[1..k+1], lane 0 being the slice a request at the
-- view's time counts in, `newest` slices after the anchor's; slice boundaries are relative to
-- the anchor: slice j begins at anchor - floor_div(anchor_phase - j * period, k), that is
-- anchor + ceil((j*P - phase)/k). With the lanes, their sum `used`, and `full`, when every count
-- has left the window (nil: no count). One view at a time, in these locals; few functions,
-- because the script body runs on every call and each function is a new closure.
local anchor, anchor_phase, newest, used, full
local c = {}

-- The counts of the state seen at `at` (step 4), as lanes of the view: a fold when the lane
-- width changed, a finished block resumed as its total in the newest slice; counts stored
-- newest first from end_ - 1, which lies in slice S + k (S: the newest slice with a count).
local function view(at)
  anchor, anchor_phase, newest = at, fmod(fmod(at, period) * k, period), 0
  used, full = 0, nil
  local end_, counts = nil, s_counts
  if kind == 'w' and s_end > at then
    end_ = s_end
    if s_bits ~= bits then
      local total = 0
      for i = 1, #s_counts do
        total = total + s_counts[i]
      end
      counts = {min(total, lane_max)}
    end
  elseif kind == 'b' and s_end > at then
    end_ = s_end
    counts = {min(s_total, lane_max)}
  end
  if end_ == nil then
    for i = 1, k + 1 do
      c[i] = 0
    end
    return
  end
  -- slice(end_ - 1) - slice(at), with distances beyond 3P (more than k + 1 slices) capped.
  local behind = floor_div(anchor_phase + min(end_ - 1 - at, 3 * period) * k, period)
  local age = k - behind
  if behind > k then
    -- `at` lies before the key's newest slice: the request counts in that slice, and
    -- boundaries are counted from end_ - 1.
    anchor = end_ - 1
    anchor_phase = fmod(fmod(anchor, period) * k, period)
    newest = -k
    age = 0
  end
  local first = nil
  for i = 1, age do
    c[i] = 0
  end
  for i = age + 1, k + 1 do
    local count = counts[i - age] or 0
    c[i] = count
    if count > 0 then
      used = used + count
      if first == nil then
        first = i - 1
      end
    end
  end
  if first ~= nil then
    full = anchor - floor_div(anchor_phase - (newest - first + k + 1) * period, k)
  end
end

-- When a cost (<= limit) that does not fit now would fit: the first slice boundary at which
-- enough old slices have left the window.
local function free_at(cost_)
  local budget = limit - cost_
  local s = 0
  local j = 0
  while j < k do
    s = s + c[j + 1]
    if s > budget then
      break
    end
    j = j + 1
  end
  return anchor - floor_div(anchor_phase - (newest + k + 1 - j) * period, k)
end

-- Step 1: a running block (answered at the end, step 7).
local block_until = nil
if kind == 'b' and now < s_until then
  block_until = s_until
else
  -- Step 2: an idle state is no state; it is deleted (as the Rust function returns None), so
  -- that a later call with an earlier clock sees what the local limiter would.
  if (kind == 'w' and s_end <= now) or (kind == 'b' and s_until <= now and s_end <= now) then
    redis.call('DEL', key)
    kind = nil
  end

  -- Step 3.
  if limit == 0 then
    return {0, 0, 0, -1}
  end

  view(now)
  local reset = 0
  if full ~= nil then
    reset = full - now
  end
  if used + cost <= limit then
    -- Step 5.
    if cost == 0 then
      return {1, limit - used, reset, -1}
    end
    c[1] = c[1] + cost
    local end_ = anchor - floor_div(anchor_phase - (newest + k + 1) * period, k)
    local last = 1
    for i = 2, k + 1 do
      if c[i] > 0 then
        last = i
      end
    end
    -- Counts are small integers, which table.concat writes exactly.
    local parts = {'w', format('%d', end_), bits}
    for i = 1, last do
      parts[i + 3] = c[i]
    end
    redis.call('SET', key, table.concat(parts, ' '), 'PX', format('%d', end_ - now + margin))
    return {1, limit - used - cost, end_ - now, -1}
  end

  -- Step 6.
  local retry = -1
  if cost <= limit then
    retry = free_at(cost) - now
  end
  if mitigation == 0 or retry < 0 then
    return {0, max(0, limit - used), reset, retry}
  end
  -- The first exceed: used >= 1 here, so `full` is set.
  kind, s_until, s_end, s_total = 'b', now + mitigation, full, min(used, 65535)
  redis.call('SET', key, format('b %d %d %d', s_until, s_end, s_total), 'PX',
    format('%d', max(s_until, s_end) - now + margin))
  block_until = s_until
end

-- Step 7: a blocked key, its window resumed at the block's end.
view(block_until)
local retry = -1
if limit > 0 and cost <= limit then
  if used + cost <= limit then
    retry = block_until - now
  else
    retry = free_at(cost) - now
  end
end
return {0, 0, max(block_until, full or block_until) - now, retry}
