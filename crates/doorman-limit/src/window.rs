//! The algorithm, as a pure function: [`check_state`] takes one key's stored [`KeyState`], the
//! time, the [`Quota`], the cost and the mitigation timeout, and returns the [`Verdict`] and the
//! state to store. It is the conservative sliding window specified in the crate documentation
//! (§ The algorithm); the code follows that text step by step.
//!
//! Nothing here reads a clock or holds state: the in-process [`LocalLimiter`](crate::LocalLimiter)
//! and the Redis script both call (or port) this with the caller's `now_ms`, so both decide alike.
//! Slice boundaries are computed relative to an anchor time near `now_ms`, never from absolute
//! slice numbers, so that every operand stays small: below 2^48 in Rust (64-bit, mostly 32-bit
//! divisions) and below 2^53 in Lua, whose numbers are doubles.

use thiserror::Error;

/// The largest `limit` a [`Quota`] may have: counts are kept in lanes of at most 16 bits.
pub const MAX_LIMIT: u32 = 65_535;

/// The longest period a [`Quota`] may have: 2^40 ms, about 34.8 years. Longer periods (only
/// possible by building a `Quota` directly) are read as this.
pub const MAX_PERIOD_MS: u64 = 1 << 40;

/// Times beyond 2^62 ms (146 million years) are read as 2^62, so that nothing can overflow.
pub const MAX_TIME_MS: u64 = 1 << 62;

/// How much a key may spend: at most `limit` units (requests, or a cost) in any window of
/// `period_ms`, all of them at once if it has spent nothing recently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Units per period, also the largest burst. At most [`MAX_LIMIT`]; a limit of 0 denies
    /// everything, a larger one is read as [`MAX_LIMIT`] (see [`Quota::new`], which refuses
    /// both).
    pub limit: u32,
    /// The period in milliseconds: 0 is read as 1, more than [`MAX_PERIOD_MS`] as that.
    pub period_ms: u64,
}

/// Why a [`Quota`] cannot be enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum QuotaError {
    /// `limit = 0`.
    #[error(
        "a rate limit of 0 requests per period lets nothing through: use a limit of at least 1, \
         or a block rule if nothing should pass"
    )]
    ZeroLimit,
    /// `period_ms = 0`.
    #[error("a rate limit period of 0 ms has no meaning: use a period of at least 1 ms")]
    ZeroPeriod,
    /// `limit > MAX_LIMIT`.
    #[error(
        "a rate limit of {0} requests per period is more than the 65535 this limiter counts per \
         key: divide the limit and the period by the same factor (for example 120000 per minute \
         becomes 2000 per second), which limits the same rate over a shorter window"
    )]
    LimitTooLarge(u32),
    /// `period_ms > MAX_PERIOD_MS`.
    #[error(
        "a rate limit period of {0} ms is longer than the 2^40 ms (about 34 years) this limiter \
         supports: use a shorter period"
    )]
    PeriodTooLong(u64),
}

impl Quota {
    /// A quota of `limit` units per `period_ms`: `limit` in `1..=MAX_LIMIT`, `period_ms` in
    /// `1..=MAX_PERIOD_MS`.
    pub fn new(limit: u32, period_ms: u64) -> Result<Quota, QuotaError> {
        if limit == 0 {
            return Err(QuotaError::ZeroLimit);
        }
        if limit > MAX_LIMIT {
            return Err(QuotaError::LimitTooLarge(limit));
        }
        if period_ms == 0 {
            return Err(QuotaError::ZeroPeriod);
        }
        if period_ms > MAX_PERIOD_MS {
            return Err(QuotaError::PeriodTooLong(period_ms));
        }
        Ok(Quota { limit, period_ms })
    }

    /// `k`, the number of slices the period is cut into. A unit counts for at most
    /// `⌈period_ms / k⌉` ms longer than the period (the crate docs show why).
    pub fn slices(self) -> u32 {
        // At most 63: the conversion cannot fail.
        u32::try_from(Grid::new(self).slices).unwrap_or(u32::MAX)
    }
}

/// One rate-limit decision, with what the `RateLimit`/`Retry-After` headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request may pass.
    pub allowed: bool,
    /// Units (cost-1 requests) still allowed right now, after this request if it was allowed.
    /// 0 while the key is blocked.
    pub remaining: u32,
    /// Milliseconds until the full quota (a burst of `limit`) is available again.
    pub reset_after_ms: u64,
    /// When denied: milliseconds until a request of the same cost would be allowed, exact (a
    /// client that waits exactly this long is let in, one that waits a millisecond less is not,
    /// unless others' requests change the state meanwhile). `None` when allowed, and also when
    /// denied because the cost exceeds the limit, which no wait can fix.
    pub retry_after_ms: Option<u64>,
}

/// The counts of a key that is not blocked: how many units were allowed in each of its most
/// recent slices.
///
/// The counts sit in lanes of `bits` bits of `lanes`, the newest slice in the lowest lane; the
/// newest slice is the one that leaves the window at `end_ms` (so the state is idle from
/// `end_ms` on). [`check_state`] writes the newest lane non-zero and no lane beyond the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// When the newest slice leaves the window: the state holds nothing from then on.
    pub end_ms: u64,
    /// Width of a lane, `1..=16`: the bit length of the limit the counts were written under.
    pub bits: u8,
    /// The counts, newest slice in bits `0..bits`, the one before in `bits..2·bits`, and so on.
    pub lanes: u64,
}

impl Window {
    /// The count of the `i`-th newest slice (0: the newest).
    pub fn count(self, i: u32) -> u32 {
        let bits = lane_width(self.bits);
        let shift = i.saturating_mul(bits);
        if shift >= u64::BITS {
            return 0;
        }
        // A lane has at most 16 bits.
        ((self.lanes >> shift) & lane_max(bits)) as u32
    }

    /// The sum of all counts.
    pub fn total(self) -> u64 {
        let bits = lane_width(self.bits);
        lane_sum(self.lanes, bits, lane_max(bits))
    }
}

/// One key's stored state, as [`check_state`] reads and writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Throttling only: the key's recent counts.
    Window(Window),
    /// In a mitigation block: everything is denied until `until_ms`. After that the key resumes
    /// as a window holding `total` units in the slice that leaves the window at `end_ms` (the
    /// newest slice with a count when the block began): a conservative summary of its counts.
    Blocked {
        /// End of the block (exclusive: a request at `until_ms` is no longer blocked).
        until_ms: u64,
        /// When the summarized counts leave the window.
        end_ms: u64,
        /// Units in the window when the block began (at most 65 535).
        total: u16,
    },
}

impl KeyState {
    /// Whether the state holds no information at `now_ms` (the key would be treated exactly like
    /// one never seen), so a store may drop it.
    pub const fn is_idle(&self, now_ms: u64) -> bool {
        self.idle_at_ms() <= now_ms
    }

    /// The first millisecond at which the state is idle.
    pub const fn idle_at_ms(&self) -> u64 {
        match *self {
            KeyState::Window(window) => window.end_ms,
            KeyState::Blocked {
                until_ms, end_ms, ..
            } => {
                if until_ms > end_ms {
                    until_ms
                } else {
                    end_ms
                }
            }
        }
    }
}

/// The algorithm for one request: the key's stored state in (`None` when unknown), the verdict
/// and the state to store out (`None`: nothing worth keeping; drop the key).
///
/// - A request counts (if allowed) in the slice `now` falls in, or in the key's newest slice if
///   that is later (time never runs backwards for a key), and is allowed iff the counts of that
///   slice and the `k` before it, plus `cost`, stay within the limit. Denied requests are not
///   counted. A `cost` of 0 asks without spending.
/// - **Blocked** (`now < until_ms`): denied, `remaining = 0`, the state does not change.
/// - **First exceed**: when a request that could fit (`cost ≤ limit`) is denied and
///   `mitigation_timeout_ms > 0`, the key is blocked until `now + mitigation_timeout_ms`. A cost
///   above the limit is denied without a block: no rate was exceeded.
///
/// The block's length is fixed when it starts; a later call with another timeout (after a
/// reload) does not change it. The crate documentation has the exact formulas.
#[inline]
pub fn check_state(
    state: Option<KeyState>,
    now_ms: u64,
    quota: Quota,
    cost: u32,
    mitigation_timeout_ms: u64,
) -> (Verdict, Option<KeyState>) {
    let now = now_ms.min(MAX_TIME_MS);
    let grid = Grid::new(quota);
    if let Some(KeyState::Blocked {
        until_ms,
        end_ms,
        total,
    }) = state
        && now < until_ms
    {
        return (
            blocked(grid, until_ms, end_ms, total, now, u64::from(cost)),
            state,
        );
    }
    // An idle state decides like no state; dropping it keeps stores small.
    let stored = state.filter(|state| !state.is_idle(now));
    if grid.limit == 0 {
        let verdict = Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 0,
            retry_after_ms: None,
        };
        return (verdict, stored);
    }
    let view = View::of(grid, stored, now);
    let used = view.sum();
    let cost = u64::from(cost);
    if used + cost <= grid.limit {
        // Below MAX_LIMIT: the conversions cannot fail.
        let remaining = u32::try_from(grid.limit - used - cost).unwrap_or(u32::MAX);
        if cost == 0 {
            let verdict = Verdict {
                allowed: true,
                remaining,
                reset_after_ms: view.full_at().map_or(0, |t| t - now),
                retry_after_ms: None,
            };
            return (verdict, stored);
        }
        // The lane cannot overflow: it holds at most `used + cost ≤ limit < 2^bits`.
        let window = Window {
            end_ms: view.boundary(view.newest + view.grid.slices_i64() + 1),
            bits: grid.bits_u8(),
            lanes: view.lanes + cost,
        };
        let verdict = Verdict {
            allowed: true,
            remaining,
            reset_after_ms: window.end_ms - now,
            retry_after_ms: None,
        };
        return (verdict, Some(KeyState::Window(window)));
    }
    let retry_after_ms = (cost <= grid.limit).then(|| view.free_at(cost) - now);
    let full = view.full_at();
    let verdict = Verdict {
        allowed: false,
        remaining: u32::try_from(grid.limit.saturating_sub(used)).unwrap_or(u32::MAX),
        reset_after_ms: full.map_or(0, |t| t - now),
        retry_after_ms,
    };
    if mitigation_timeout_ms == 0 || retry_after_ms.is_none() {
        return (verdict, stored);
    }
    // The first exceed. `used ≥ 1` here (`used + cost > limit ≥ cost`), so `full` is set.
    let until_ms = now.saturating_add(mitigation_timeout_ms);
    let end_ms = full.unwrap_or(now);
    let total = u16::try_from(used).unwrap_or(u16::MAX);
    let verdict = blocked(grid, until_ms, end_ms, total, now, cost);
    let state = KeyState::Blocked {
        until_ms,
        end_ms,
        total,
    };
    (verdict, Some(state))
}

/// The verdict for a key blocked until `until_ms` (`now < until_ms`) that resumes with `total`
/// units in the slice leaving the window at `end_ms`: retry once the block is over and the
/// resumed window, evaluated at the block's end, lets this cost through.
fn blocked(grid: Grid, until_ms: u64, end_ms: u64, total: u16, now: u64, cost: u64) -> Verdict {
    let resumed = KeyState::Blocked {
        until_ms,
        end_ms,
        total,
    };
    let view = View::of(grid, Some(resumed), until_ms);
    let retry_after_ms = if grid.limit == 0 || cost > grid.limit {
        None
    } else if view.sum() + cost <= grid.limit {
        Some(until_ms - now)
    } else {
        Some(view.free_at(cost) - now)
    };
    Verdict {
        allowed: false,
        remaining: 0,
        reset_after_ms: view.full_at().unwrap_or(until_ms).max(until_ms) - now,
        retry_after_ms,
    }
}

/// A quota as the algorithm reads it: `L`, `P`, `k` and the lane width `b`.
#[derive(Debug, Clone, Copy)]
struct Grid {
    /// `L`, at most `MAX_LIMIT`.
    limit: u64,
    /// `P`, in `1..=MAX_PERIOD_MS`.
    period: u64,
    /// `k = min(⌊64/b⌋ − 1, P)`, in `1..=63`.
    slices: u64,
    /// `b`, the bit length of `L` (1 for `L ≤ 1`).
    bits: u32,
    /// `2^b − 1`.
    lane_max: u64,
    /// The bits of the `k + 1` lanes in the window.
    mask: u64,
    /// A 1 in the lowest bit of each of the `k + 1` lanes: multiplying lanes by it adds them up
    /// into lane `k`.
    ones: u64,
}

impl Grid {
    #[inline]
    fn new(quota: Quota) -> Grid {
        let limit = quota.limit.min(MAX_LIMIT);
        let period = quota.period_ms.clamp(1, MAX_PERIOD_MS);
        let bits = lane_bits(limit);
        // As many slices as lanes fit in 64 bits, less the one for the current slice; and no
        // slice shorter than 1 ms, so that every slice has its own first millisecond.
        let slices = u64::from(LANES[bits as usize] - 1).min(period);
        // slices + 1 ≤ 64 / bits, so the product is at most 64.
        let used = (slices as u32 + 1) * bits;
        let mask = if used >= u64::BITS {
            u64::MAX
        } else {
            (1 << used) - 1
        };
        Grid {
            limit: u64::from(limit),
            period,
            slices,
            bits,
            lane_max: lane_max(bits),
            mask,
            ones: ONES[bits as usize] & mask,
        }
    }

    fn slices_i64(self) -> i64 {
        // At most 63.
        self.slices as i64
    }

    fn bits_u8(self) -> u8 {
        // At most 16.
        self.bits as u8
    }

    fn period_i64(self) -> i64 {
        // At most 2^40.
        self.period as i64
    }

    /// `(t·k) mod P`: how far into its slice `t` lies, in units of `1/k` ms. One division for
    /// any `t` below 2^58 (Unix milliseconds are about 2^41).
    fn phase(self, t: u64) -> u64 {
        match t.checked_mul(self.slices) {
            Some(tk) => rem(tk, self.period),
            None => rem(rem(t, self.period) * self.slices, self.period),
        }
    }
}

/// A key's counts seen from one time `at`, aligned so that lane 0 is the slice a request at
/// `at` counts in, `newest`. Slices are numbered relative to the slice of `anchor` (`at`
/// itself, or the key's `end − 1` when `at` lies before the key's newest slice), whose phase is
/// known, so boundaries come out of small numbers.
#[derive(Debug, Clone, Copy)]
struct View {
    grid: Grid,
    anchor: u64,
    /// `grid.phase(anchor)`.
    phase: u64,
    /// The slice requests count in now, relative to the anchor's slice: 0, or `−k` when
    /// anchored at `end − 1`.
    newest: i64,
    /// Lanes `0..=k`, lane 0 being slice `newest`.
    lanes: u64,
}

impl View {
    /// The counts of `state` (idle or not, but not blocked past `at`) seen at `at`.
    #[inline]
    fn of(grid: Grid, state: Option<KeyState>, at: u64) -> View {
        match state {
            Some(KeyState::Window(window)) if window.end_ms > at => {
                let lanes = if u32::from(window.bits) == grid.bits {
                    window.lanes
                } else {
                    // Written under a limit of another bit length (before a reload): all of it,
                    // as one count in the newest slice. It may count longer, never less long.
                    window.total().min(grid.lane_max)
                };
                View::warm(grid, window.end_ms, lanes, at)
            }
            Some(KeyState::Blocked { end_ms, total, .. }) if end_ms > at => {
                View::warm(grid, end_ms, u64::from(total).min(grid.lane_max), at)
            }
            _ => View::cold(grid, at),
        }
    }

    /// No counts: the anchor is `at` itself.
    #[inline]
    fn cold(grid: Grid, at: u64) -> View {
        View {
            grid,
            anchor: at,
            phase: grid.phase(at),
            newest: 0,
            lanes: 0,
        }
    }

    /// Counts whose newest slice `S` leaves the window at `end > at`, so that `end − 1` lies in
    /// slice `S + k`. Anchored at `at` unless `at` lies before slice `S`.
    #[inline]
    fn warm(grid: Grid, end: u64, lanes: u64, at: u64) -> View {
        let view = View::cold(grid, at);
        // slice(end − 1) − slice(at) = ⌊(phase + (end − 1 − at)·k)/P⌋. Distances beyond 3P all
        // mean "more than k + 1 slices", so they are capped there to keep the product small.
        let distance = (end - 1 - at).min(3 * grid.period) * grid.slices;
        let behind = div(view.phase + distance, grid.period);
        if behind > grid.slices {
            // `at` lies before the newest slice (a clock stepped back, or counts re-read after a
            // reload): the request counts in the newest slice, as if it came at its start.
            // Boundaries are then counted from `end − 1`, in slice S + k.
            let anchor = end - 1;
            return View {
                grid,
                anchor,
                phase: grid.phase(anchor),
                newest: -grid.slices_i64(),
                lanes: lanes & grid.mask,
            };
        }
        // The counts have aged `k − behind` slices: shift them up, dropping those that left.
        // (k − behind)·b < 64.
        let age = (grid.slices - behind) as u32;
        View {
            lanes: (lanes << (age * grid.bits)) & grid.mask,
            ..view
        }
    }

    /// The first millisecond of slice `j` (relative to the anchor's slice):
    /// `anchor + ⌈(j·P − phase)/k⌉`.
    #[inline]
    fn boundary(&self, j: i64) -> u64 {
        // |j| ≤ 2k + 2 ≤ 128 and P ≤ 2^40: the numerator stays below 2^48. The phase is below P.
        let x = j * self.grid.period_i64() - self.phase as i64;
        let offset = if x >= 0 {
            div_small(x.unsigned_abs() + self.grid.slices - 1, self.grid.slices) as i64
        } else {
            -(div_small(x.unsigned_abs(), self.grid.slices) as i64)
        };
        self.anchor.saturating_add_signed(offset)
    }

    /// Units counted in the window now.
    #[inline]
    fn sum(&self) -> u64 {
        // The lanes of a state written under a limit of this bit length add up to at most that
        // limit (every count was admitted against it; a fold or a resumed block puts at most
        // 2^b − 1 in one lane), so every partial sum fits in a lane: one multiplication adds
        // them all up into lane k, without a carry between lanes and without a loop whose end
        // the CPU would have to guess.
        let k_shift = self.grid.slices as u32 * self.grid.bits;
        let sum = (self.lanes.wrapping_mul(self.grid.ones) >> k_shift) & self.grid.lane_max;
        debug_assert_eq!(
            sum,
            lane_sum(self.lanes, self.grid.bits, self.grid.lane_max)
        );
        sum
    }

    /// When every count has left the window (the full quota is back); `None` if none is left.
    #[inline]
    fn full_at(&self) -> Option<u64> {
        if self.lanes == 0 {
            return None;
        }
        // The newest slice with a count leaves the window k + 1 slices after it begins.
        let newest_count = i64::from(lane_of_bit(self.lanes.trailing_zeros(), self.grid.bits));
        Some(self.boundary(self.newest - newest_count + self.grid.slices_i64() + 1))
    }

    /// When a request of `cost ≤ L` that does not fit now would fit: the first slice boundary
    /// at which enough old slices have left the window.
    fn free_at(&self, cost: u64) -> u64 {
        // At slice newest + m, lanes 0..=k−m remain. Find the first lane j whose prefix sum
        // exceeds L − cost; the wait is until lane j has left: m = k + 1 − j.
        let budget = self.grid.limit - cost;
        let mut rest = self.lanes;
        let mut sum = 0;
        let mut j = 0;
        while j < self.grid.slices {
            sum += rest & self.grid.lane_max;
            if sum > budget {
                break;
            }
            rest >>= self.grid.bits;
            j += 1;
        }
        // j ≤ k ≤ 63.
        self.boundary(self.newest + self.grid.slices_i64() + 1 - j as i64)
    }
}

/// `⌊64/b⌋`, lanes of `b` bits in 64 bits (a table: this is on every decision's path).
const LANES: [u32; 17] = {
    let mut lanes = [0; 17];
    let mut b = 1;
    while b <= 16 {
        lanes[b] = 64 / b as u32;
        b += 1;
    }
    lanes
};

/// `⌈2^54/k⌉` for `k` in `1..=63`: `⌊x/k⌋ = (x·m) >> 54` exactly for every `x < 2^48`
/// (Granlund and Montgomery: the error `m·k − 2^54 < k ≤ 2^6`, so it stays below 1/k for
/// `x < 2^48`). One multiplication instead of a division on every boundary.
const RECIPROCALS: [u64; 64] = {
    let mut m = [0; 64];
    let mut k = 1;
    while k < 64 {
        m[k] = (1u64 << 54).div_ceil(k as u64);
        k += 1;
    }
    m
};

/// `⌊x/k⌋` for `x < 2^48` and `k` in `1..=63`.
fn div_small(x: u64, k: u64) -> u64 {
    debug_assert!(x < 1 << 48 && (1..64).contains(&k));
    let m = RECIPROCALS[(k & 63) as usize];
    // Below 2^48 · 2^54: fits, and the shift leaves less than 2^48.
    ((u128::from(x) * u128::from(m)) >> 54) as u64
}

/// For each lane width `b`, a 1 in the lowest bit of every lane that fits in 64 bits.
const ONES: [u64; 17] = {
    let mut ones = [0; 17];
    let mut b = 1;
    while b <= 16 {
        let mut i = 0;
        while i < 64 / b {
            ones[b] |= 1 << (i * b);
            i += 1;
        }
        b += 1;
    }
    ones
};

/// `⌈2^12/b⌉` for `b` in `1..=16`.
const LANE_INVERSE: [u32; 17] = {
    let mut inverse = [0; 17];
    let mut b = 1;
    while b <= 16 {
        inverse[b] = 4096u32.div_ceil(b as u32);
        b += 1;
    }
    inverse
};

/// `⌊bit/b⌋` (the lane a bit is in) for `bit < 64` and `b` in `1..=16`, as `(bit·⌈2^12/b⌉) >>
/// 12`: exact, since the rounding error of the inverse (below `b`) times `bit` stays below
/// 2^12.
fn lane_of_bit(bit: u32, b: u32) -> u32 {
    (bit * LANE_INVERSE[b.min(16) as usize]) >> 12
}

/// The lane width for a limit: its bit length, at least 1.
pub(crate) const fn lane_bits(limit: u32) -> u32 {
    let bits = u32::BITS - limit.leading_zeros();
    if bits == 0 { 1 } else { bits }
}

/// A stored lane width made safe to compute with (the fields of [`Window`] are public).
fn lane_width(bits: u8) -> u32 {
    u32::from(bits).clamp(1, 16)
}

const fn lane_max(bits: u32) -> u64 {
    (1 << bits) - 1
}

/// The sum of the lanes of `lanes`.
fn lane_sum(mut lanes: u64, bits: u32, max: u64) -> u64 {
    let mut sum = 0;
    while lanes != 0 {
        sum += lanes & max;
        lanes >>= bits;
    }
    sum
}

/// `a mod b` (`b > 0`), in 32 bits when both fit: 64-bit division is several times slower on
/// many CPUs, and most operands here (phases, periods, distances) are small.
fn rem(a: u64, b: u64) -> u64 {
    match (u32::try_from(a), u32::try_from(b)) {
        (Ok(a), Ok(b)) => u64::from(a % b),
        _ => a % b,
    }
}

/// `⌊a/b⌋` (`b > 0`), in 32 bits when both fit.
fn div(a: u64, b: u64) -> u64 {
    match (u32::try_from(a), u32::try_from(b)) {
        (Ok(a), Ok(b)) => u64::from(a / b),
        _ => a / b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_by_a_slice_count_is_exact_below_2_48() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for k in 1..64u64 {
            for n in [0, 1, k - 1, k, k + 1, (1 << 48) - 1, (1 << 48) - k, 1 << 47] {
                assert_eq!(div_small(n, k), n / k, "{n} / {k}");
            }
            for _ in 0..20_000 {
                // splitmix64, cut to 48 bits
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                let n = (z ^ (z >> 31)) >> 16;
                assert_eq!(div_small(n, k), n / k, "{n} / {k}");
                // Multiples and their neighbours, where rounding would show.
                let m = n / k * k;
                assert_eq!(div_small(m, k), m / k);
                assert_eq!(div_small(m.saturating_sub(1), k), m.saturating_sub(1) / k);
            }
        }
    }

    #[test]
    fn lane_of_bit_is_the_quotient() {
        for b in 1..=16 {
            for bit in 0..64 {
                assert_eq!(lane_of_bit(bit, b), bit / b);
            }
        }
    }

    #[test]
    fn lanes_and_slices_per_width() {
        assert_eq!(
            LANES[1..],
            [64, 32, 21, 16, 12, 10, 9, 8, 7, 6, 5, 5, 4, 4, 4, 4]
        );
        assert_eq!(lane_bits(0), 1);
        assert_eq!(lane_bits(1), 1);
        assert_eq!(lane_bits(255), 8);
        assert_eq!(lane_bits(256), 9);
        assert_eq!(lane_bits(65_535), 16);
    }
}
