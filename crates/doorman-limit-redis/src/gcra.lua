-- Doorman shared rate limit: GCRA plus the mitigation timeout for one key, atomically.
--
-- This is a line-by-line port of doorman_limit::check_state / gcra (crates/doorman-limit/src/
-- gcra.rs), so that a key is decided the same way in Redis as in memory. Read that file for the
-- meaning of each step; the comments here are about what differs: the arithmetic.
--
-- Redis Lua numbers are doubles: integers are exact only below 2^53. The Rust code works in
-- "ticks" of 1/limit ms, and now*limit would be ~2^72 for a wall-clock now and a large limit. So
-- every time here is a pair (ms, frac) = ms + frac/limit milliseconds with 0 <= frac < limit (the
-- Rust `Tat`), compared lexicographically, and the two products that would overflow (cost*period
-- and a difference times limit) go through muldivmod, which is exact for operands below 2^52.
-- The caller (RedisLimiter::check) guarantees now + period + mitigation < 2^52 and period >= 1.
--
-- KEYS[1]  the key's state: a hash {t = TAT ms, f = TAT frac, u = block end ms (only while a
--          mitigation block is recorded)}. Absent = never seen or idle.
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

-- floor(n / d) and n mod d for integers 0 <= n, 0 < d, both below 2^52. The floating-point
-- quotient can be off by one near an integer; the remainder check corrects it.
local function divmod(n, d)
  local q = math.floor(n / d)
  local r = n - q * d
  if r < 0 then
    q = q - 1
    r = r + d
  elseif r >= d then
    q = q + 1
    r = r - d
  end
  return q, r
end

-- floor((a*b + c) / d) and (a*b + c) mod d, exactly, for integers a, b, c >= 0 and 0 < d, all
-- below 2^52, when the quotient is below 2^52. When a*b is small the doubles are exact and one
-- division does. Otherwise a*b is never formed: a = qa*d + ra, qa*b is part of the quotient (so
-- small), and ra*b is built bit by bit of b, from the top, as q*d + r with r < d, so that 2r and
-- r + ra stay below 2^53.
local function muldivmod(a, b, c, d)
  local ab = a * b
  if ab < 2251799813685248 then -- 2^51: the product was exact, and ab + c stays below 2^52
    return divmod(ab + c, d)
  end
  local qa, ra = divmod(a, d)
  local qc, rc = divmod(c, d)
  local bit = 1
  while bit * 2 <= b do
    bit = bit * 2
  end
  local q, r, n = 0, 0, b
  while bit >= 1 do
    q = q * 2
    r = r * 2
    if r >= d then
      q = q + 1
      r = r - d
    end
    if n >= bit then
      n = n - bit
      r = r + ra
      if r >= d then
        q = q + 1
        r = r - d
      end
    end
    bit = bit / 2
  end
  r = r + rc
  if r >= d then
    q = q + 1
    r = r - d
  end
  return qa * b + q + qc, r
end

-- Rust `units(horizon - base, period, limit)`: how many units of T = period ticks fit between
-- (bms, bfr) and the horizon (hms, 0), at most limit; 0 when the base is past the horizon.
local function units_until(hms, bms, bfr)
  if bms > hms or (bms == hms and bfr > 0) then
    return 0
  end
  local q
  if bfr > 0 then
    -- (hms - bms)*limit - bfr = (hms - bms - 1)*limit + (limit - bfr)
    q = muldivmod(hms - bms - 1, limit, limit - bfr, period)
  else
    q = muldivmod(hms - bms, limit, 0, period)
  end
  return math.min(q, limit)
end

-- Rust `ceil_div_ms(x - now, limit)` for x = (ms, frac) >= now.
local function ceil_ms_after(ms, frac, at)
  if frac > 0 then
    return ms - at + 1
  end
  return ms - at
end

-- Rust `gcra`. tms == nil: no TAT. Returns allowed, remaining, reset_after_ms, retry_after_ms
-- (-1 = none), and when allowed the new TAT (ms, frac).
local function gcra(tms, tfr, at)
  if limit == 0 then
    -- Nothing can ever pass, and there is nothing to wait for (a quota reloaded to 0 while a
    -- key is blocked still reports the block through `blocked`).
    return 0, 0, 0, -1
  end
  -- base = max(tat, at). A fraction written under a larger limit (before a reload) rounds up to
  -- the next millisecond, as Tat::ticks does.
  local bms, bfr = at, 0
  if tms ~= nil then
    if tfr >= limit then
      tms = tms + 1
      tfr = 0
    end
    if tms > at or (tms == at and tfr > 0) then
      bms, bfr = tms, tfr
    end
  end
  local hms = at + period -- horizon = at + period, a whole millisecond
  if cost > limit then
    -- cost*T > period, so new > horizon: denied, and no wait helps. Decided here because
    -- cost*period/limit could leave the exact range for absurd costs.
    return 0, units_until(hms, bms, bfr), ceil_ms_after(bms, bfr, at), -1
  end
  -- new = base + cost*T, where cost*T = cost*period/limit ms (below period: cost <= limit).
  local cms, cfr = muldivmod(period, cost, 0, limit)
  local nms, nfr = bms + cms, bfr + cfr
  if nfr >= limit then
    nms = nms + 1
    nfr = nfr - limit
  end
  if nms < hms or (nms == hms and nfr == 0) then
    return 1, units_until(hms, nms, nfr), ceil_ms_after(nms, nfr, at), -1, nms, nfr
  end
  return 0, units_until(hms, bms, bfr), ceil_ms_after(bms, bfr, at), ceil_ms_after(nms, nfr, hms)
end

-- Rust `blocked`: the verdict for a key blocked until `untl` that resumes from `tat_ms`.
local function blocked(untl, tat_ms)
  local wait = untl - now
  local allowed, _, _, retry = gcra(tat_ms, 0, untl)
  if allowed == 1 then
    retry = wait
  elseif retry >= 0 then
    retry = wait + retry
  end
  return {0, 0, math.max(untl, tat_ms) - now, retry}
end

-- Stores the state and makes it expire once idle (plus a margin for clocks that disagree a
-- little), so keys of clients that went away vanish by themselves.
local function store(tms, tfr, untl)
  local idle_at = ceil_ms_after(tms, tfr, 0)
  if untl ~= nil then
    redis.call('HSET', key, 't', string.format('%d', tms), 'f', '0', 'u', string.format('%d', untl))
    idle_at = math.max(idle_at, untl)
  else
    redis.call('HSET', key, 't', string.format('%d', tms), 'f', string.format('%d', tfr))
    redis.call('HDEL', key, 'u')
  end
  redis.call('PEXPIRE', key, string.format('%d', idle_at - now + margin))
end

local state = redis.call('HMGET', key, 't', 'f', 'u')
local tms = tonumber(state[1])
local tfr = tonumber(state[2]) or 0
local untl = tonumber(state[3])
if tms == nil then
  untl = nil
end

if untl ~= nil then
  if now < untl then
    -- Blocked: denied, and the state does not move.
    return blocked(untl, tms)
  end
  -- The block is over: resume from the TAT it kept (whole ms).
  tfr = 0
end

local allowed, remaining, reset, retry, nms, nfr = gcra(tms, tfr, now)
if allowed == 1 then
  if nms < now or (nms == now and nfr == 0) then
    -- Due already (cost 0 on an idle key): nothing worth keeping.
    redis.call('DEL', key)
  else
    store(nms, nfr, nil)
  end
  return {1, remaining, reset, -1}
end
if mitigation == 0 or retry < 0 then
  -- Throttled only: denied requests never move the TAT. Like `keep(tat)` in Rust, a due TAT is
  -- forgotten and a finished block becomes its plain TAT, so that a later call with an earlier
  -- clock (another instance, slightly behind) sees the same state as the local limiter would.
  if tms ~= nil then
    if tms < now or (tms == now and tfr == 0) then
      redis.call('DEL', key)
    elseif untl ~= nil then
      redis.call('HDEL', key, 'u')
    end
  end
  return {0, remaining, reset, retry}
end
-- First exceed: block for the mitigation timeout, keeping the TAT rounded up to whole ms.
local block_end = now + mitigation
local tat_ms = now
if tms ~= nil then
  tat_ms = math.max(ceil_ms_after(tms, tfr, 0), now)
end
store(tat_ms, 0, block_end)
return blocked(block_end, tat_ms)
