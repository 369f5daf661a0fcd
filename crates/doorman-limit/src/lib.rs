//! Rate limiting for Doorman: the generic cell rate algorithm (GCRA) with mitigation timeouts, as
//! pure functions of time, and [`LocalLimiter`], the sharded in-process store of key states.
//!
//! The algorithm is exact: it never rounds in the client's favour, so it never admits more than
//! the quota. Time is always an input (`now_ms`, milliseconds since any epoch the caller keeps
//! to), so tests drive a fake clock and a shared store (the Redis backend) can run the very same
//! formulas. This crate depends on no other Doorman crate; the core and the server use it.
//!
//! # Map of the crate
//! - [`gcra()`] and [`check_state`] (`gcra.rs`): the algorithm, pure.
//! - [`LocalLimiter`] (`limiter.rs`): shards, clock, sweep, cap and eviction.
//! - `table.rs` (private): the 20-byte-slot hash table a shard keeps its keys in.
//!
//! # The algorithm
//! This section is the specification: the Redis Lua script must implement it exactly, and the
//! tests of this crate are its examples.
//!
//! **Names.** `L` = `quota.limit` (≥ 1), `P` = `quota.period_ms` (≥ 1; 0 is read as 1), `c` =
//! `cost` (≥ 0), `n` = `now_ms`, `M` = `mitigation_timeout_ms`. The emission interval is
//! `T = P/L` ms. All quantities are integers.
//!
//! **Ticks.** `T` is rarely a whole number of ms (3 per second: 333⅓ ms), so the algorithm
//! counts in ticks of `1/L` ms, in which `T = P` ticks and the period is `L·P` ticks. A time of
//! `x` ms is `x·L` ticks. Nothing is rounded: the only divisions either keep their remainder
//! (the TAT's fraction) or report a result rounded the stated way.
//!
//! **State.** A key's theoretical arrival time (TAT) is stored as a pair `(tm, tf)` meaning
//! `tm + tf/L` ms, `0 ≤ tf < L` ([`Tat`]); in ticks, `tat = tm·L + tf`. A pair with `tf ≥ L`
//! (written under another quota before a reload) is read as `(tm + 1, 0)`, so a quota change
//! moves a TAT by less than 1 ms. A key never seen has no TAT.
//!
//! **GCRA** ([`gcra()`]), for a request of cost `c` at `n`:
//!
//! | step | in ticks | in ms and fraction (for Lua) |
//! |---|---|---|
//! | now | `now = n·L` | |
//! | base | `base = max(tat, now)`; no TAT: `now` | if no TAT, or `tm < n`, or `tm = n ∧ tf = 0`: `(bm, bf) = (n, 0)`, else `(tm, tf)` |
//! | new TAT | `new = base + c·P` | `q = bf + c·P`; `nm = bm + ⌊q/L⌋`; `nf = q mod L` |
//! | horizon | `hor = now + L·P` (that is, `n + P` ms) | |
//! | **allowed iff** | `new ≤ hor` | `nm < n + P`, or `nm = n + P ∧ nf = 0` |
//!
//! If **allowed**: store `(nm, nf)` (that is, `new`), and report
//! - `remaining = ⌊(hor − new)/P⌋` = `⌊((n + P − nm)·L − nf)/P⌋`: cost-1 requests that would still
//!   pass now, i.e. `⌊(n + P − new TAT)/T⌋`;
//! - `reset_after_ms = ⌈(new − now)/L⌉` = `nm − n + [nf > 0]`: until the TAT has passed and a full
//!   burst of `L` is available;
//! - `retry_after_ms = None`.
//!
//! If **denied**: store nothing (the TAT does not move), and report
//! - `remaining = ⌊max(0, hor − base)/P⌋` = `⌊max(0, (n + P − bm)·L − bf)/P⌋` (may be above 0 when
//!   `c` exceeds it);
//! - `reset_after_ms = ⌈(base − now)/L⌉` = `bm − n + [bf > 0]`;
//! - `retry_after_ms = ⌈(new − hor)/L⌉` = `nm − P − n + [nf > 0]` (≥ 1): at `n + retry` exactly
//!   this request would pass. `None` if `c > L`, which can never pass.
//!
//! `L = 0` denies everything: `remaining = 0`, `reset_after_ms = 0`, `retry_after_ms = None`.
//!
//! **Mitigation timeout** ([`check_state`]). The stored state is either a TAT, or a block
//! `{until U, resume TAT R}` with `R` in whole ms ([`KeyState`]).
//! 1. Blocked and `n < U`: **denied**, state unchanged. `remaining = 0`; `reset_after_ms =
//!    max(U, R) − n`; `retry_after_ms = (U − n) + w`, where `w` is what GCRA at time `U` from
//!    TAT `(R, 0)` says for cost `c`: 0 if allowed, else its `retry_after_ms` (`None` if `c > L`).
//! 2. Blocked and `n ≥ U`: continue with GCRA from TAT `(R, 0)`.
//! 3. GCRA allowed: store the new TAT.
//! 4. GCRA denied, `c ≤ L` and `M > 0` (the **first exceed**): store the block `U = n + M`,
//!    `R = max(⌈old TAT⌉, n)` (`n` if there was none), and answer as in 1 with these values: at
//!    this first denial, `retry_after_ms` is `M` unless GCRA would still deny at `U`.
//! 5. Otherwise (denied with `M = 0`, or `c > L`): denied as GCRA says, state unchanged.
//!
//! **Idle states.** A TAT `≤ n`, or a block with `U ≤ n` and `R ≤ n`, holds no information (the
//! key decides exactly like one never seen) and may be dropped at any moment: in Redis, give the
//! key a TTL of `⌈TAT⌉ − n` or `max(U, R) − n` ms, refreshed on each write. An allowed request of
//! cost 0 at an idle key stores nothing.
//!
//! **Time going backwards.** GCRA itself is safe with a `n` earlier than a previous call's: the
//! horizon `n + P` only shrinks, so it can deny more, never allow more (`remaining` is clamped at
//! 0). [`LocalLimiter`] goes further and uses, per shard, the latest `n` it has seen.
//!
//! # What this guarantees
//! - From a cold key, a burst of exactly `⌊L/c⌋` requests of cost `c` at one instant, then one
//!   unit per `T` (the k-th at `⌈k·T⌉` ms after the burst).
//! - In any window of `W` whole milliseconds `[a, a + W)`, the costs allowed add up to at most
//!   `⌊(W − 1 + P)·L/P⌋ = L + ⌊(W − 1)·L/P⌋`: at most the burst plus the steady rate. Proof: the
//!   TAT before the window's first allowed request is at least `a·L` ticks, each allowed unit adds
//!   `P`, and after the last one (at most at `a + W − 1`) the TAT is at most `(a + W − 1 + P)·L`.
//!   For `W = P` this is up to `2L − 1`, not `L`: a burst of `L` at the start of the window and the
//!   `L − 1` units that accrue during it. GCRA bounds the burst and the rate; a bound of `L` in
//!   *every* window of length `P` would need a sliding log, or a burst of 1.
//! - Every reported wait is rounded up, so a client that honours `Retry-After` is let in.
//!
//! # Ranges
//! Rust computes in `u128` ticks counted from `now` and is exact for every input, except that a
//! TAT beyond `u64::MAX` ms saturates (only when `n + P` itself exceeds 2^64 ms, half a billion
//! years).
//!
//! Lua numbers are doubles, exact for integers below 2^53 (Unix milliseconds are about 2^41).
//! The allow decision, `retry_after_ms` and `reset_after_ms` need only `n + P`, `n + M`,
//! `q = bf + c·P` and `⌊q/L⌋`, so they are exact while those stay below 2^53. Take every
//! quotient as `(a − math.fmod(a, b)) / b`, not `math.floor(a / b)`: `fmod` is exact, and the
//! division of an exact multiple is then exact too, while `a / b` may round up to the next
//! integer when `a` is just below a multiple of `b`. `remaining` multiplies `(n + P − nm) ≤ P`
//! by `L`: exact while `P·L < 2^53` (any `L` for `P` below 35 minutes; `L` up to 2^21 for `P`
//! up to 50 days); beyond that a script must split the product or accept an error of ±1 in
//! `remaining`, which is only reported, never decided on.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod gcra;
mod limiter;
mod table;

pub use gcra::{KeyState, Quota, QuotaError, Tat, Verdict, check_state, gcra};
pub use limiter::{LocalLimiter, Stats};
