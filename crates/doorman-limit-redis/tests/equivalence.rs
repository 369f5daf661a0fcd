//! The Lua script against its specification: for random sequences of requests (clock steps,
//! costs, quotas of every lane width, mitigation timeouts, quota changes as after a reload, and
//! clocks stepping back), every verdict Redis gives equals what `doorman_limit::check_state`
//! gives for the same sequence. The PRNG is a fixed-seed SplitMix64 written here, so a failure names a seed and a
//! step that reproduce it.

use std::time::Duration;

use doorman_limit::{KeyState, Quota, Verdict, check_state};
use doorman_limit_redis::{RedisLimiter, RedisOptions};
use doorman_test_support::redis::RedisServer;

/// A wall-clock-like start (2027), where Unix milliseconds really are.
const T0: u64 = 1_800_000_000_000;

/// SplitMix64: tiny, fixed, and good enough to spread test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max`.
    fn upto(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            self.next()
        } else {
            self.next() % (max + 1)
        }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.upto(99) < percent
    }
}

fn random_quota(rng: &mut Rng) -> Quota {
    let limit = match rng.upto(7) {
        // Every lane width, 1 to 16 bits, and its edges.
        0 => 1 + rng.upto(4),
        1 => (1 << rng.upto(15)) - 1 + rng.upto(2),
        2 => 1 + rng.upto(99),
        3 => 1 + rng.upto(9_999),
        4 => 65_535 - rng.upto(100),
        5 => 1 + rng.upto(65_534),
        // Beyond MAX_LIMIT (only without Quota::new): read as 65 535 by both.
        6 => 65_536 + rng.upto(u64::from(u32::MAX) - 65_536),
        _ => 1 + rng.upto(30),
    };
    let period_ms = match rng.upto(5) {
        // Periods shorter than the slice count: 1 ms slices.
        0 => 1 + rng.upto(9),
        1 => 1 + rng.upto(999),
        2 => 1 + rng.upto(59_999),
        3 => 1 + rng.upto(86_400_000 * 30),
        4 => 1 + rng.upto(1 << 40),
        // Beyond MAX_PERIOD_MS: read as 2^40 ms by both.
        _ => (1 << 40) + rng.upto(1 << 44),
    };
    Quota {
        limit: u32::try_from(limit).expect("limit fits u32"),
        period_ms,
    }
}

fn random_cost(rng: &mut Rng, quota: Quota) -> u32 {
    let limit = u64::from(quota.limit.min(65_535));
    let cost = match rng.upto(9) {
        0 => 0,
        1 => 1 + rng.upto(limit.clamp(1, 10) - 1),
        2 => rng.upto(limit),
        3 => limit,
        4 => limit.saturating_add(1 + rng.upto(3)),
        5 => u64::from(u32::MAX),
        6 => 1 + rng.upto(limit / 3),
        _ => 1,
    };
    u32::try_from(cost.min(u64::from(u32::MAX))).expect("cost fits u32")
}

fn random_mitigation(rng: &mut Rng, quota: Quota) -> u64 {
    match rng.upto(3) {
        0 | 1 => 0,
        2 => 1 + rng.upto(quota.period_ms.clamp(1, 1 << 30) * 3),
        _ => 1 + rng.upto(600_000),
    }
}

/// The next clock: mostly forward by something between nothing (a burst) and a few periods,
/// sometimes backwards (another instance whose clock is a little behind, or far behind), now
/// and then by more than a mitigation block (so a block that ended is looked at from before
/// its end).
fn step(rng: &mut Rng, now: u64, quota: Quota, mitigation: u64) -> u64 {
    let period = quota.period_ms.clamp(1, 1 << 40);
    let slice = (period / u64::from(quota.slices())).max(1);
    if rng.chance(3) {
        return now
            .saturating_sub(rng.upto(mitigation.saturating_mul(2)))
            .max(T0);
    }
    match rng.upto(10) {
        0..=2 => now,
        3 | 4 => now + rng.upto(slice.saturating_mul(2)),
        5 => now + rng.upto(slice),
        6 => now + rng.upto(period),
        7 => now + rng.upto(period.saturating_mul(3)),
        8 => now + 1 + rng.upto(9),
        9 => now.saturating_sub(rng.upto(slice * 3)).max(T0),
        _ => now.saturating_sub(rng.upto(period * 4)).max(T0),
    }
}

#[tokio::test]
async fn the_script_decides_exactly_like_check_state_on_random_sequences() {
    let server = RedisServer::start();
    let limiter = RedisLimiter::connect(
        &server.url(),
        RedisOptions {
            call_timeout: Duration::from_secs(10),
            // State times here are synthetic; real time between calls must never expire a key
            // the specification still holds (a slow machine could take seconds per step).
            expiry_margin: Duration::from_secs(24 * 3600),
            ..RedisOptions::default()
        },
    )
    .await
    .expect("connect to the test redis-server");

    let sequences = 500u64;
    let steps = 80usize;
    let mut compared = 0usize;
    let mut outcomes = [0usize; 3]; // allowed, throttled, blocked/unfixable
    // States the script had to read in a special way: folded (lane width changed), blocked,
    // resumed after a block, and seen from a clock before the key's newest slice.
    let mut paths = [0usize; 4];
    for seed in 0..sequences {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0xd00a_0a11);
        let mut quota = random_quota(&mut rng);
        let mut mitigation = random_mitigation(&mut rng, quota);
        let mut state: Option<KeyState> = None;
        let mut now = T0 + rng.upto(1_000_000);
        for step_no in 0..steps {
            if rng.chance(4) {
                // A reload: the stored counts may be of another lane width (folded) or on other
                // slices (re-read), and now and then the limit is 0 (denies everything) or the
                // period 0.
                quota = random_quota(&mut rng);
                if rng.chance(10) {
                    quota.limit = 0;
                }
                if rng.chance(5) {
                    // Read as 1 ms by both.
                    quota.period_ms = 0;
                }
                mitigation = random_mitigation(&mut rng, quota);
            }
            now = step(&mut rng, now, quota, mitigation);
            let cost = random_cost(&mut rng, quota);
            let width = 32 - quota.limit.min(65_535).leading_zeros().min(31);
            match state {
                Some(KeyState::Window(window)) if window.end_ms > now => {
                    if u32::from(window.bits) != width {
                        paths[0] += 1;
                    }
                    // Certainly before slice S: more than a period and a slice before its end.
                    let period = quota.period_ms.clamp(1, 1 << 40);
                    if now + 2 * period < window.end_ms {
                        paths[3] += 1;
                    }
                }
                Some(KeyState::Blocked { until_ms, .. }) if until_ms > now => paths[1] += 1,
                Some(KeyState::Blocked { end_ms, .. }) if end_ms > now => paths[2] += 1,
                _ => {}
            }
            let (expected, next) = check_state(state, now, quota, cost, mitigation);
            state = next;
            let got: Verdict = limiter
                .check("eq", seed, now, quota, cost, mitigation)
                .await
                .unwrap_or_else(|error| panic!("seed {seed} step {step_no}: {error}"));
            assert_eq!(
                got,
                expected,
                "seed {seed} step {step_no}: now {now} (T0 + {}), {quota:?}, cost {cost}, \
                 mitigation {mitigation} ms, state after: {state:?}",
                now - T0
            );
            compared += 1;
            outcomes[match (
                expected.allowed,
                expected.remaining,
                expected.retry_after_ms,
            ) {
                (true, _, _) => 0,
                (false, _, Some(_)) => 1,
                (false, _, None) => 2,
            }] += 1;
        }
    }
    assert_eq!(compared, sequences as usize * steps);
    // The generator must reach every branch, or equality proves little.
    assert!(
        outcomes.iter().all(|&n| n > compared / 50),
        "allowed/throttled/unfixable = {outcomes:?}"
    );
    assert!(
        paths.iter().all(|&n| n > 500),
        "folded/blocked/resumed/behind = {paths:?}"
    );
}

#[tokio::test]
async fn the_largest_limits_periods_and_times_stay_exact() {
    // Hand-picked cases at the edges of the script's range: the largest limit and period, a
    // clock near 2^52 − 2^41, costs up to the limit; compared with the specification.
    let server = RedisServer::start();
    let limiter = RedisLimiter::connect(
        &server.url(),
        RedisOptions {
            call_timeout: Duration::from_secs(10),
            expiry_margin: Duration::from_secs(24 * 3600),
            ..RedisOptions::default()
        },
    )
    .await
    .expect("connect to the test redis-server");
    let late = (1u64 << 52) - (1 << 41) - 1_000_000;
    let cases = [
        (65_535u32, 1u64 << 40, 1u32, T0),
        (65_535, (1 << 40) - 1, 21_845, T0),
        (65_535, 86_400_000, 65_535, late),
        (1, 1 << 40, 1, T0),
        (4096, 999_999_937, 1000, late),
        (3, 1000, 1, late),
    ];
    for (i, (limit, period_ms, cost, start)) in cases.into_iter().enumerate() {
        let quota = Quota { limit, period_ms };
        let mut state = None;
        let mut now = start;
        for step_no in 0..40u64 {
            let (expected, next) = check_state(state, now, quota, cost, 0);
            state = next;
            let got = limiter
                .check("big", i as u64, now, quota, cost, 0)
                .await
                .expect("check");
            assert_eq!(
                got, expected,
                "case {i} step {step_no}: {quota:?} cost {cost} at {now}"
            );
            now += step_no * step_no * (period_ms / 97 + 1);
        }
    }
}
