//! Rate limiting for Doorman: a conservative sliding window with mitigation timeouts, as a pure
//! function of time, and [`LocalLimiter`], the sharded in-process store of key states.
//!
//! The guarantee is the one operators read in "10 requests per 10 s": **no window of one period
//! ever holds more than `limit` allowed units**, and a key that has spent nothing recently may
//! spend all of `limit` at once. The price is that a unit may count up to one slice (`P/k`, see
//! below) longer than the period. Time is always an input (`now_ms`, milliseconds since any
//! epoch the caller keeps to), so tests drive a fake clock and a shared store (the Redis backend)
//! runs the very same steps. This crate depends on no other Doorman crate.
//!
//! # Map of the crate
//! - [`check_state`] (`window.rs`): the algorithm, pure.
//! - [`LocalLimiter`] (`limiter.rs`): shards, clock, sweep, cap and eviction.
//! - `table.rs` (private): the 20-byte-slot hash table a shard keeps its keys in.
//!
//! # The algorithm
//! This section is the specification: the Redis Lua script must implement it exactly, and the
//! tests of this crate are its examples.
//!
//! **Names.** `L` = `quota.limit` (a limit above 65 535 is read as 65 535), `P` =
//! `quota.period_ms` (0 is read as 1, more than 2^40 as 2^40), `c` = `cost` (≥ 0), `n` =
//! `now_ms` (more than 2^62 is read as 2^62), `M` = `mitigation_timeout_ms`. All quantities are
//! integers.
//!
//! **Slices.** `b` is the bit length of `L` (1 for `L ≤ 1`); a count fits in `b` bits, and `64/b`
//! of them fit in 64 bits. The period is cut into `k = min(⌊64/b⌋ − 1, P)` slices:
//!
//! | `L` | 1 | 2–3 | 4–7 | 8–15 | 16–31 | 32–63 | 64–127 | 128–255 | 256–511 | 512–1023 | 1024–4095 | 4096–65535 |
//! |---|---|---|---|---|---|---|---|---|---|---|---|---|
//! | `k` | 63 | 31 | 20 | 15 | 11 | 9 | 8 | 7 | 6 | 5 | 4 | 3 |
//!
//! Time `t` lies in slice `slice(t) = ⌊t·k/P⌋`, and slice `j` begins at `start(j) = ⌈j·P/k⌉`.
//! As `P/k ≥ 1`, every slice has at least one millisecond and `slice(start(j)) = j`. The
//! **window** of slice `σ` is the slices `σ − k ..= σ`: `k + 1` slices, which cover every period
//! that ends in slice `σ`.
//!
//! **State** ([`KeyState`]). A key never seen has none. Otherwise it is either
//! - a **window** ([`Window`]) `{E, b', counts}`: `counts[i]` units were allowed in slice
//!   `S − i`, where `S` is the newest slice with a count, and `E = start(S + k + 1)`, the moment
//!   slice `S` leaves the window; conversely `S = slice(E − 1) − k`. `b'` is the lane width the
//!   counts were written with (`b` when the quota has not changed); or
//! - a **block** `{U, E, T}`: denied until `U`; then the key resumes as the window `{E, b, [T]}`:
//!   `T` units in the slice leaving the window at `E`.
//!
//! **Step 1, blocked.** If the state is a block and `n < U`: denied as in step 7, state
//! unchanged.
//!
//! **Step 2, idle.** A window with `E ≤ n`, or a block with `U ≤ n` and `E ≤ n`, holds nothing:
//! treat it as no state (and drop it; in Redis, give each state a TTL until then).
//!
//! **Step 3, limit 0.** `L = 0` denies everything: `remaining = 0`, `reset_after_ms = 0`,
//! `retry_after_ms = None`, state unchanged.
//!
//! **Step 4, the view at `n`**: the slice `σ` the request counts in, and `k + 1` lanes, lane `i`
//! holding the count of slice `σ − i`.
//! - No state: `σ = slice(n)`, all lanes 0.
//! - A window written with `b' ≠ b` (the limit changed since) is first **folded**: one count
//!   `min(Σ counts, 2^b − 1)` in its newest slice. A finished block (`U ≤ n`) is the window
//!   `{E, b, [min(T, 2^b − 1)]}`.
//! - With `S = slice(E − 1) − k`: if `slice(n) ≥ S`, then `σ = slice(n)` and `counts[i]` goes to
//!   lane `i + σ − S`; lanes beyond `k` (slices that left the window) are dropped. If
//!   `slice(n) < S` (a clock behind the key's, or slices re-read after a reload), then `σ = S`
//!   and `counts[i]` goes to lane `i`: **time never runs backwards for a key**; the request is
//!   decided as at `start(S)`.
//!
//! Let `W` be the sum of the lanes, `full = start(σ − i₀ + k + 1)` where `i₀` is the lowest lane
//! with a count (when the last count leaves the window), and `free(c)` the time at which `c`
//! would fit: with `j` the first lane at which `lane[0] + … + lane[j] > L − c`, `free(c) =
//! start(σ + k + 1 − j)` (lanes `j ..= k` have left the window by then, and at any earlier slice
//! boundary lane `j` has not).
//!
//! **Step 5, allowed** iff `W + c ≤ L`.
//! - `c > 0`: lane 0 += `c`; store the window `{E' = start(σ + k + 1), b, lanes}`.
//!   `remaining = L − W − c`, `reset_after_ms = E' − n`.
//! - `c = 0` asks without spending: the state stays as it was (or none, if idle).
//!   `remaining = L − W`, `reset_after_ms = full − n` (0 if `W = 0`).
//! - `retry_after_ms = None`.
//!
//! **Step 6, denied.** `remaining = max(0, L − W)` (may be above 0 when `c` exceeds it),
//! `reset_after_ms = full − n` (0 if `W = 0`), `retry_after_ms = free(c) − n`, or `None` if
//! `c > L`, which can never pass.
//! - `M = 0`, or `c > L`: state unchanged (denied requests never count).
//! - Otherwise this is the **first exceed**: store the block `{U = n + M, E = full, T = min(W,
//!   65535)}` and answer as in step 7.
//!
//! **Step 7, a blocked key** at `n < U`: view the resumed window `{E, b, [min(T, 2^b − 1)]}` at
//! `U` as in step 4, with its `W_U`, `full_U`, `free_U`. `remaining = 0`; `reset_after_ms =
//! max(U, full_U) − n` (`U − n` if `W_U = 0`); `retry_after_ms` is `None` if `L = 0` or `c > L`,
//! `U − n` if `W_U + c ≤ L`, else `free_U(c) − n`.
//!
//! **Without large numbers.** `slice(n)` is about `2^43` for a Unix-time `n`, and `n·k` is
//! beyond a Lua double's 2^53 for large `k`. So nothing uses absolute slice numbers. A view is
//! **anchored** at a time `A` whose **phase** `φ = (A·k) mod P` is known (`A·k = slice(A)·P +
//! φ`; computed as `((A mod P)·k) mod P` where `A·k` would not fit). Then, exactly:
//! - `start(slice(A) + j) = A + ⌈(j·P − φ)/k⌉` for any integer `j` (here `|j| ≤ 2k + 2`);
//! - for `t ≥ A`: `slice(t) − slice(A) = ⌊(φ + (t − A)·k)/P⌋`.
//!
//! The anchor is `n`. With counts, `slice(E − 1) − slice(n) = ⌊(φ + min(E − 1 − n, 3P)·k)/P⌋`
//! (distances beyond `3P` all mean "more than `k + 1` slices", so they are capped there); if
//! that is more than `k` (so `slice(n) < S`), the view is anchored at `E − 1` instead, with
//! `σ = slice(E − 1) − k`.
//!
//! Every product is below 2^48; times are at most `n + 2P + 1`. Rust computes in 64 bits (in
//! 32 when the operands fit, and divides by `k` with a multiplication by a precomputed
//! reciprocal, for speed). Lua numbers are doubles, exact for integers below 2^53: the script
//! needs `n + 2P + M < 2^52` (the Redis limiter checks this) and takes every quotient as `(a −
//! math.fmod(a, b)) / b`, which is exact (`math.floor(a / b)` is not: `a / b` may round up to
//! the next integer when `a` is just below a multiple of `b`).
//!
//! # What this guarantees
//! - **At most `L` units in any window of one period.** Call a request's *effective time*
//!   `τ = max(n, start(S))` (its slice is `σ`). Claim: the allowed units with effective times in
//!   any `[t, t + P)` add up to at most `L`. Proof: let `Z` be the last of them to be decided,
//!   in slice `σ_Z`. Every other one, `Y`, was decided before `Z`, so `σ_Y ≤ σ_Z` (a key's
//!   newest slice never moves back; an idle key has `slice(n) > S`); and `τ_Y > τ_Z − P`, so
//!   `σ_Y ≥ slice(τ_Z − P) = σ_Z − k`. So `Y` was counted in a slice that is still in `Z`'s
//!   window, in its own lane or, after a fold or a block, in a later one: in `W_Z`. As `W_Z +
//!   c_Z ≤ L`, the units add up to at most `L`. ∎ When a key's requests are decided in time
//!   order, `τ = n`: [`LocalLimiter`] keeps time per shard from running backwards, so it holds
//!   for real time. The Redis script sees the instances' clocks; they must agree (NTP), and an
//!   idle key must not be dropped before a lagging instance is past `E` (the key's TTL has a
//!   margin).
//! - **A full burst from cold**: a key without counts in the window admits `⌊L/c⌋` requests of
//!   cost `c` at once.
//! - **Over-blocking is at most one slice.** A unit allowed at `τ` in slice `σ` counts until
//!   `start(σ + k + 1)`, which lies in `(τ + P, τ + P + ⌈P/k⌉]`. So a request is always allowed
//!   when the units allowed in the last `P + ⌈P/k⌉` ms, plus its cost, fit in `L` (for requests
//!   in time order). A greedy client gets `L` units every `P + ⌈P/k⌉` ms at worst: for "10 per
//!   10 s" (`k = 15`), 10 every 10.67 s; for `L ≥ 4096` (`k = 3`), `L` every `1.34·P`.
//! - **`retry_after_ms` is exact**: at `n + retry` this request passes (unless other requests
//!   of the key were allowed meanwhile), and one millisecond earlier it does not.
//! - **After a mitigation block** the key resumes with all `T` units of its window in its newest
//!   slice: the block never forgives anything, and the units of older slices may count up to
//!   `k` slices longer than without the block (never after `E`, at most `P + ⌈P/k⌉` after the
//!   exceed). A block whose `U` is after `E` resumes with a full burst.
//! - **Time going backwards** can deny more, never allow more: the request counts in the key's
//!   newest slice. [`LocalLimiter`] also uses, per shard, the latest `n` it has seen.
//! - **A quota change** (reload) keeps the counts: a new lane width folds them into the newest
//!   slice, a new period re-reads them on the new slices (newest at `slice(E − 1) − k`). Windows
//!   that begin after the change hold at most the new `L` (the proof above only needs that the
//!   units decided after the change were counted on its slices).
//!
//! # State and memory
//! A window is an end time plus 64 bits of counts (`k + 1` lanes of `b` bits); a block is two
//! end times and a 16-bit total. [`LocalLimiter`] stores either in 12 bytes next to an 8-byte
//! key: times as 32-bit offsets from a per-shard epoch that it moves forward (re-encoding every
//! slot) before its clock is 2^30 ms past it, so an offset never wraps and is exact for end
//! times up to 2^30 ms (12 days) ahead; farther ones are rounded *up* (`table.rs`). With the
//! table's empty slots a tracked key costs 25–31.25 bytes. The Redis script (`window.lua` in
//! `doorman-limit-redis`) stores the same state as a short string.
//!
//! Why not a slice index in 32 bits, wrapping: converting slices to the times a sweep needs
//! takes the quota, which the table does not have (a key's rule is the caller's business), and
//! an end time per key lets [`LocalLimiter::sweep`] and the eviction policy work without one.
//!
//! # Speed
//! `cargo bench -p doorman-limit` on a shared 2-core AMD EPYC (Zen 4) VM: about 27 ns for the
//! arithmetic alone, 29 ns per decision on a hot key (lock, lookup, decide, write back), 140 ns
//! per decision round-robin over one million tracked keys (a cache miss each: a bare
//! `HashMap::get` over the same keys takes 29 ns only because independent lookups overlap,
//! which a lock per decision prevents), 290 ns for a new key at the cap (with an eviction);
//! 25.9 bytes per key in the table at one million keys (27.6 bytes of resident memory).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod limiter;
mod table;
mod window;

pub use limiter::{LocalLimiter, Stats};
pub use window::{
    KeyState, MAX_LIMIT, MAX_PERIOD_MS, MAX_TIME_MS, Quota, QuotaError, Verdict, Window,
    check_state,
};
