//! The algorithm, as pure functions: [`gcra`] (one key's theoretical arrival time in, verdict and
//! new TAT out) and [`check_state`] (GCRA plus the mitigation timeout, over a [`KeyState`]).
//!
//! Nothing here reads a clock or holds state: the caller passes `now_ms` and the key's stored
//! state, and stores what comes back. The in-process [`LocalLimiter`](crate::LocalLimiter) and the
//! Redis script both do exactly that, so both decide alike. The formulas are written out in the
//! crate documentation; the code below follows them step by step, in "ticks" of `1/limit` ms so
//! that the emission interval `period/limit` is a whole number and nothing is ever rounded.

use std::cmp::max;

use thiserror::Error;

/// How much a key may spend: `limit` units (requests, or a cost) every `period_ms`, with a burst
/// of at most `limit` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Units per period, also the largest burst. Must be at least 1; a limit of 0 denies
    /// everything (see [`Quota::new`] for the checked constructor).
    pub limit: u32,
    /// The period in milliseconds. Must be at least 1; 0 is treated as 1.
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
}

impl Quota {
    /// A quota of `limit` units per `period_ms`, both at least 1.
    pub fn new(limit: u32, period_ms: u64) -> Result<Quota, QuotaError> {
        if limit == 0 {
            return Err(QuotaError::ZeroLimit);
        }
        if period_ms == 0 {
            return Err(QuotaError::ZeroPeriod);
        }
        Ok(Quota { limit, period_ms })
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
    /// Milliseconds until the full quota (a burst of `limit`) is available again, rounded up.
    pub reset_after_ms: u64,
    /// When denied: milliseconds until a request of the same cost would be allowed, rounded up
    /// (so a client that waits exactly this long is let in). `None` when allowed, and also when
    /// denied because the cost exceeds the limit, which no wait can fix.
    pub retry_after_ms: Option<u64>,
}

/// A theoretical arrival time: `ms + frac / limit` milliseconds, exact.
///
/// The emission interval `period/limit` is rarely a whole number of milliseconds (3 per second is
/// 333⅓ ms), so the TAT carries its fraction as a numerator over the quota's `limit`. The field
/// order makes the derived ordering the numeric one for TATs written under the same quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tat {
    /// Whole milliseconds.
    pub ms: u64,
    /// Numerator of the fraction of a millisecond, over the quota's `limit`; below `limit` in
    /// every TAT that [`gcra`] returns.
    pub frac: u32,
}

impl Tat {
    /// A TAT on a whole millisecond.
    pub const fn from_ms(ms: u64) -> Tat {
        Tat { ms, frac: 0 }
    }

    /// Whether the TAT is at or before `now_ms`: the key then has its full quota and its state
    /// holds no information, so it can be forgotten.
    pub const fn is_due(self, now_ms: u64) -> bool {
        self.ms < now_ms || (self.ms == now_ms && self.frac == 0)
    }

    /// The TAT rounded up to a whole millisecond.
    pub const fn ceil_ms(self) -> u64 {
        self.ms.saturating_add(if self.frac > 0 { 1 } else { 0 })
    }

    /// How far the TAT lies after `now_ms`, in ticks of `1/limit` ms (0 if it does not). A
    /// fraction at or above `limit` (written under a different quota, before a reload) is
    /// rounded up to the next millisecond, so that a quota change moves a TAT by less than 1 ms
    /// either way.
    fn ticks_after(self, now_ms: u64, limit: u64) -> u128 {
        let (ms, frac) = if u64::from(self.frac) < limit {
            (u128::from(self.ms), u128::from(self.frac))
        } else {
            (u128::from(self.ms) + 1, 0)
        };
        let now = u128::from(now_ms);
        if ms >= now {
            (ms - now) * u128::from(limit) + frac
        } else {
            // Whole milliseconds before now, and the fraction is below one.
            0
        }
    }
}

/// One key's stored state, as [`check_state`] reads and writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Throttling only: the key's theoretical arrival time.
    Tat(Tat),
    /// In a mitigation block: everything is denied until `until_ms`; after that the key resumes
    /// from the TAT it had when the block began (rounded up to whole ms), `tat_ms`.
    Blocked {
        /// End of the block (exclusive: a request at `until_ms` is no longer blocked).
        until_ms: u64,
        /// The TAT to resume from once the block has ended.
        tat_ms: u64,
    },
}

impl KeyState {
    /// Whether the state holds no information at `now_ms` (the key would be treated exactly like
    /// one never seen), so a store may drop it.
    pub const fn is_idle(&self, now_ms: u64) -> bool {
        match *self {
            KeyState::Tat(tat) => tat.is_due(now_ms),
            KeyState::Blocked { until_ms, tat_ms } => until_ms <= now_ms && tat_ms <= now_ms,
        }
    }

    /// The first millisecond at which the state is idle.
    pub const fn idle_at_ms(&self) -> u64 {
        match *self {
            KeyState::Tat(tat) => tat.ceil_ms(),
            KeyState::Blocked { until_ms, tat_ms } => {
                if until_ms > tat_ms {
                    until_ms
                } else {
                    tat_ms
                }
            }
        }
    }
}

/// `n / d` and `n % d`, on the narrowest integers that hold them: 128-bit division is a library
/// call, 64-bit division several times slower than 32-bit on common CPUs.
fn div_rem(n: u128, d: u64) -> (u128, u64) {
    if let (Ok(n), Ok(d)) = (u32::try_from(n), u32::try_from(d)) {
        // Most quotas (limit·period below 2^32) end here: 32-bit division is the quickest.
        return (u128::from(n / d), u64::from(n % d));
    }
    match u64::try_from(n) {
        Ok(n) => (u128::from(n / d), n % d),
        Err(_) => {
            let d = u128::from(d);
            // The remainder is below `d`, a u64.
            (n / d, u64::try_from(n % d).unwrap_or(u64::MAX))
        }
    }
}

/// `ceil(n / d)` as milliseconds, saturating.
fn ceil_div_ms(n: u128, d: u64) -> u64 {
    let (q, r) = div_rem(n, d);
    let q = q + u128::from(r > 0);
    u64::try_from(q).unwrap_or(u64::MAX)
}

/// `floor(n / d)` as a count of units, at most `limit`.
fn units(n: u128, d: u64, limit: u64) -> u32 {
    let (q, _) = div_rem(n, d);
    let q = u64::try_from(q).unwrap_or(u64::MAX).min(limit);
    u32::try_from(q).unwrap_or(u32::MAX)
}

/// GCRA for one request of `cost` units at `now_ms`, given the key's TAT (`None` for a key never
/// seen or forgotten). Returns the verdict and, when allowed, the TAT to store; when denied the
/// stored TAT must stay as it was.
///
/// The formulas are in the crate documentation (§ The algorithm). In short, with `T =
/// period/limit`: `new = max(tat, now) + cost·T`; allowed iff `new ≤ now + period`. A `cost` of
/// 0 asks without spending. A `now_ms` earlier than a previous call's is safe: it can only deny
/// more, never allow more.
pub fn gcra(tat: Option<Tat>, now_ms: u64, quota: Quota, cost: u32) -> (Verdict, Option<Tat>) {
    let limit = u64::from(quota.limit);
    if limit == 0 {
        // Nothing can ever pass; there is nothing to wait for either.
        let verdict = Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 0,
            retry_after_ms: None,
        };
        return (verdict, None);
    }
    let period = quota.period_ms.max(1);
    // Ticks of 1/limit ms, counted from now: T = period ticks, the whole period limit·period
    // ticks. Counting from now keeps the operands below limit·period, so the divisions take the
    // 64-bit path for every realistic quota even with Unix-epoch times; u128 covers the rest.
    let t = u128::from(period);
    let horizon = u128::from(limit) * t; // now + period
    let ahead = tat.map_or(0, |tat| tat.ticks_after(now_ms, limit)); // base − now
    let new = ahead + u128::from(cost) * t; // base + cost·T − now

    if new <= horizon {
        let (whole, frac) = div_rem(new, limit);
        let reset_after_ms = u64::try_from(whole + u128::from(frac > 0)).unwrap_or(u64::MAX);
        let new_tat = match u64::try_from(whole)
            .ok()
            .and_then(|w| now_ms.checked_add(w))
        {
            // The remainder is below `limit`, which came from a u32.
            Some(ms) => Tat {
                ms,
                frac: u32::try_from(frac).unwrap_or(u32::MAX),
            },
            None => Tat::from_ms(u64::MAX),
        };
        let verdict = Verdict {
            allowed: true,
            remaining: units(horizon - new, period, limit),
            reset_after_ms,
            retry_after_ms: None,
        };
        (verdict, Some(new_tat))
    } else {
        let retry_after_ms = if cost <= quota.limit {
            Some(ceil_div_ms(new - horizon, limit))
        } else {
            None
        };
        let verdict = Verdict {
            allowed: false,
            remaining: units(horizon.saturating_sub(ahead), period, limit),
            reset_after_ms: ceil_div_ms(ahead, limit),
            retry_after_ms,
        };
        (verdict, None)
    }
}

/// GCRA plus the mitigation timeout, for one key: its stored state in (`None` when unknown),
/// the verdict and the state to store out (`None`: nothing worth keeping; drop the key).
///
/// - **Blocked** (`now < until_ms`): denied, `remaining = 0`, the state does not change (denied
///   requests never move the counter). `retry_after_ms` is the rest of the block, or longer if
///   GCRA would still deny at the block's end.
/// - Otherwise GCRA decides from the TAT (a finished block resumes from its `tat_ms`).
/// - **First exceed**: when GCRA denies a request that could fit (`cost ≤ limit`) and
///   `mitigation_timeout_ms > 0`, the key is blocked until `now + mitigation_timeout_ms`, keeping
///   its TAT (rounded up to whole ms). `mitigation_timeout_ms = 0` throttles only. A request whose
///   cost exceeds the limit is denied without starting a block: no rate was exceeded.
///
/// The block's length is fixed when it starts; a later call with another timeout (after a
/// reload) does not shorten or lengthen it.
pub fn check_state(
    state: Option<KeyState>,
    now_ms: u64,
    quota: Quota,
    cost: u32,
    mitigation_timeout_ms: u64,
) -> (Verdict, Option<KeyState>) {
    let tat = match state {
        Some(KeyState::Blocked { until_ms, tat_ms }) if now_ms < until_ms => {
            return (blocked(until_ms, tat_ms, now_ms, quota, cost), state);
        }
        Some(KeyState::Blocked { tat_ms, .. }) => Some(Tat::from_ms(tat_ms)),
        Some(KeyState::Tat(tat)) => Some(tat),
        None => None,
    };
    let (verdict, new_tat) = gcra(tat, now_ms, quota, cost);
    if verdict.allowed {
        return (verdict, keep(new_tat, now_ms));
    }
    if mitigation_timeout_ms == 0 || verdict.retry_after_ms.is_none() {
        return (verdict, keep(tat, now_ms));
    }
    let until_ms = now_ms.saturating_add(mitigation_timeout_ms);
    let tat_ms = tat.map_or(now_ms, Tat::ceil_ms).max(now_ms);
    let verdict = blocked(until_ms, tat_ms, now_ms, quota, cost);
    (verdict, Some(KeyState::Blocked { until_ms, tat_ms }))
}

/// The state worth storing for a TAT: none once it is due.
fn keep(tat: Option<Tat>, now_ms: u64) -> Option<KeyState> {
    tat.filter(|tat| !tat.is_due(now_ms)).map(KeyState::Tat)
}

/// The verdict for a key blocked until `until_ms` that resumes from `tat_ms` (`now_ms <
/// until_ms`): retry when the block is over and GCRA, evaluated at the block's end, would allow
/// this cost; the full quota is back once both the block and the TAT have passed.
fn blocked(until_ms: u64, tat_ms: u64, now_ms: u64, quota: Quota, cost: u32) -> Verdict {
    let wait = until_ms - now_ms;
    let (at_end, _) = gcra(Some(Tat::from_ms(tat_ms)), until_ms, quota, cost);
    let retry_after_ms = if at_end.allowed {
        Some(wait)
    } else {
        at_end.retry_after_ms.map(|r| wait.saturating_add(r))
    };
    Verdict {
        allowed: false,
        remaining: 0,
        reset_after_ms: max(until_ms, tat_ms) - now_ms,
        retry_after_ms,
    }
}
