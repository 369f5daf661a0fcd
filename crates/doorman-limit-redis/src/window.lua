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
  local r = math.fmod(a, b)
  if r < 0 then
    r = r + b
  end
  return (a - r) / b
end

local function ceil_div(a, b)
  return -floor_div(-a, b)
end

-- The grid: b = bit length of the limit (at least 1), k = min(floor(64 / b) - 1, period).
local bits = 1
while 2 ^ bits <= limit do
  bits = bits + 1
end
local lane_max = 2 ^ bits - 1
local k = math.min(floor_div(64, bits) - 1, period)

-- (t*k) mod P, from t mod P so that the product stays below k*P < 2^46.
local function phase(t)
  return math.fmod(math.fmod(t, period) * k, period)
end

-- A view (Rust `View`): counts c[0..k], c[0] being the slice a request at `at` counts in
-- ("newest", relative to the anchor's slice), and slice boundaries relative to the anchor.
local function cold_view(at)
  local c = {}
  for i = 0, k do
    c[i] = 0
  end
  return {anchor = at, phase = phase(at), newest = 0, c = c}
end

-- counts: stored counts, newest first (1-based); end_ > at.
local function warm_view(end_, counts, at)
  local anchor = end_ - 1
  local ph = phase(anchor)
  local distance = math.min(anchor - at, 3 * period) * k
  local behind = 0
  if distance > ph then
    behind = ceil_div(distance - ph, period)
  end
  local newest, age
  if behind > k then
    -- `at` lies before the key's newest slice: the request counts in that slice.
    newest, age = -k, 0
  else
    newest, age = -behind, k - behind
  end
  local c = {}
  for i = 0, k do
    c[i] = 0
    if i >= age then
      c[i] = counts[i - age + 1] or 0
    end
  end
  return {anchor = anchor, phase = ph, newest = newest, c = c}
end

-- The first millisecond of slice j relative to the anchor's.
local function boundary(v, j)
  return v.anchor + ceil_div(j * period - v.phase, k)
end

local function sum(v)
  local s = 0
  for i = 0, k do
    s = s + v.c[i]
  end
  return s
end

-- When every count has left the window, or nil if there is none.
local function full_at(v)
  for i = 0, k do
    if v.c[i] > 0 then
      return boundary(v, v.newest - i + k + 1)
    end
  end
  return nil
end

-- When a cost (<= limit) that does not fit now would fit.
local function free_at(v, c)
  local budget = limit - c
  local s = 0
  local j = 0
  while j < k do
    s = s + v.c[j]
    if s > budget then
      break
    end
    j = j + 1
  end
  return boundary(v, v.newest + k + 1 - j)
end

-- The stored state, parsed. Any other value (a key of an older format, another type) is read
-- as no state and overwritten by the next write.
local kind, s_end, s_until, s_total, s_bits
local s_counts = {}
local raw = redis.pcall('GET', key)
if type(raw) == 'string' then
  local fields = {}
  for field in string.gmatch(raw, '%S+') do
    fields[#fields + 1] = field
  end
  if fields[1] == 'w' and #fields >= 4 then
    kind = 'w'
    s_end = tonumber(fields[2])
    s_bits = tonumber(fields[3])
    for i = 4, #fields do
      s_counts[i - 3] = tonumber(fields[i])
    end
  elseif fields[1] == 'b' and #fields == 4 then
    kind = 'b'
    s_until = tonumber(fields[2])
    s_end = tonumber(fields[3])
    s_total = tonumber(fields[4])
  end
end

-- The counts of the state seen at `at` (step 4): a fold when the lane width changed, a finished
-- block resumed as its total in the newest slice.
local function view_of(at)
  if kind == 'w' and s_end > at then
    if s_bits ~= bits then
      local total = 0
      for i = 1, #s_counts do
        total = total + s_counts[i]
      end
      return warm_view(s_end, {math.min(total, lane_max)}, at)
    end
    return warm_view(s_end, s_counts, at)
  elseif kind == 'b' and s_end > at then
    return warm_view(s_end, {math.min(s_total, lane_max)}, at)
  end
  return cold_view(at)
end

-- Step 7: the verdict for a key blocked until `untl`, whose state is the block (kind 'b').
local function blocked(untl)
  local v = view_of(untl)
  local retry = -1
  if limit > 0 and cost <= limit then
    if sum(v) + cost <= limit then
      retry = untl - now
    else
      retry = free_at(v, cost) - now
    end
  end
  local full = full_at(v) or untl
  return {0, 0, math.max(untl, full) - now, retry}
end

local function set(value, idle_at)
  redis.call('SET', key, value, 'PX', string.format('%d', idle_at - now + margin))
end

-- Step 1: a running block.
if kind == 'b' and now < s_until then
  return blocked(s_until)
end

-- Step 2: an idle state is no state; it is deleted (as the Rust function returns None), so that
-- a later call with an earlier clock sees what the local limiter would.
local idle = false
if kind == 'w' then
  idle = s_end <= now
elseif kind == 'b' then
  idle = s_until <= now and s_end <= now
end
if idle then
  redis.call('DEL', key)
  kind = nil
end

-- Step 3.
if limit == 0 then
  return {0, 0, 0, -1}
end

local v = view_of(now)
local used = sum(v)
if used + cost <= limit then
  -- Step 5.
  if cost == 0 then
    local full = full_at(v)
    local reset = 0
    if full ~= nil then
      reset = full - now
    end
    return {1, limit - used, reset, -1}
  end
  v.c[0] = v.c[0] + cost
  local end_ = boundary(v, v.newest + k + 1)
  local last = 0
  for i = 0, k do
    if v.c[i] > 0 then
      last = i
    end
  end
  local parts = {'w', string.format('%d', end_), string.format('%d', bits)}
  for i = 0, last do
    parts[#parts + 1] = string.format('%d', v.c[i])
  end
  set(table.concat(parts, ' '), end_)
  return {1, limit - used - cost, end_ - now, -1}
end

-- Step 6.
local full = full_at(v)
local reset = 0
if full ~= nil then
  reset = full - now
end
local retry = -1
if cost <= limit then
  retry = free_at(v, cost) - now
end
if mitigation == 0 or retry < 0 then
  return {0, math.max(0, limit - used), reset, retry}
end
-- The first exceed: used >= 1 here, so `full` is set.
s_until = now + mitigation
s_end = full
s_total = math.min(used, 65535)
kind = 'b'
set(string.format('b %d %d %d', s_until, s_end, s_total), math.max(s_until, s_end))
return blocked(s_until)
