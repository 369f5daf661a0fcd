//! The algorithm with a fake clock (plain `u64` milliseconds): exact counts at period
//! boundaries, remaining/reset/retry at known points, cost, limit 1, huge periods, time going
//! backwards, the mitigation timeout, and a property test over random arrivals against an
//! independently written leaky-bucket model and the window bound of the crate docs.

use doorman_limit::{KeyState, Quota, Tat, Verdict, check_state, gcra};

fn q(limit: u32, period_ms: u64) -> Quota {
    Quota::new(limit, period_ms).expect("valid quota")
}

/// A key's TAT carried between calls, as a store would.
#[derive(Default)]
struct Key(Option<Tat>);

impl Key {
    fn hit(&mut self, now: u64, quota: Quota, cost: u32) -> Verdict {
        let (verdict, new) = gcra(self.0, now, quota, cost);
        if let Some(new) = new {
            self.0 = Some(new);
        }
        verdict
    }
}

/// A key's full state (TAT or block) carried between calls, under one quota.
struct Blockable(Quota, Option<KeyState>);

impl Blockable {
    fn hit(&mut self, now: u64, cost: u32, mitigation_timeout_ms: u64) -> Verdict {
        let (verdict, next) = check_state(self.1, now, self.0, cost, mitigation_timeout_ms);
        self.1 = next;
        verdict
    }
}

/// Small fixed-seed PRNG (xorshift64*), so random tests are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const QUOTAS: [(u32, u64); 9] = [
    (10, 1000),
    (3, 1000),
    (7, 10_000),
    (1, 500),
    (5, 7),
    (1000, 1),
    (60, 1000),
    (100, 60_000),
    (13, 1),
];

#[test]
fn quota_new_rejects_zero() {
    assert!(Quota::new(0, 1000).is_err());
    assert!(Quota::new(1, 0).is_err());
    assert_eq!(
        Quota::new(5, 10),
        Ok(Quota {
            limit: 5,
            period_ms: 10
        })
    );
}

#[test]
fn a_cold_key_gets_exactly_limit_in_one_instant() {
    for (limit, period) in QUOTAS {
        for now in [0, 1, 1_700_000_000_000] {
            let mut key = Key::default();
            for i in 0..limit {
                let v = key.hit(now, q(limit, period), 1);
                assert!(v.allowed, "{limit}/{period}: request {i} denied");
                assert_eq!(v.remaining, limit - i - 1);
            }
            let v = key.hit(now, q(limit, period), 1);
            assert!(!v.allowed, "{limit}/{period}: request {limit} allowed");
            assert_eq!(v.remaining, 0);
            assert_eq!(v.reset_after_ms, period);
        }
    }
}

/// A greedy client (as many requests as pass, every millisecond) gets the burst and then exactly
/// one more per emission interval: by time t, `limit + ⌊t·limit/period⌋` in all, the k-th extra
/// at `⌈k·T⌉`.
#[test]
fn after_the_burst_exactly_one_more_per_interval() {
    for (limit, period) in QUOTAS {
        let quota = q(limit, period);
        let mut key = Key::default();
        let mut total: u64 = 0;
        for t in 0..=(3 * period).max(50) {
            while key.hit(t, quota, 1).allowed {
                total += 1;
            }
            let expected = u64::from(limit) + t * u64::from(limit) / period;
            assert_eq!(total, expected, "{limit}/{period} at t={t}");
        }
    }
}

#[test]
fn known_values_with_a_whole_interval() {
    // 10 per second: T = 100 ms.
    let quota = q(10, 1000);
    let mut key = Key::default();
    assert_eq!(
        key.hit(0, quota, 1),
        Verdict {
            allowed: true,
            remaining: 9,
            reset_after_ms: 100,
            retry_after_ms: None
        }
    );
    for _ in 0..9 {
        assert!(key.hit(0, quota, 1).allowed);
    }
    assert_eq!(key.0, Some(Tat::from_ms(1000)));
    assert_eq!(
        key.hit(0, quota, 1),
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 1000,
            retry_after_ms: Some(100)
        }
    );
    assert_eq!(key.hit(50, quota, 1).retry_after_ms, Some(50));
    assert_eq!(key.hit(99, quota, 1).retry_after_ms, Some(1));
    assert_eq!(
        key.hit(100, quota, 1),
        Verdict {
            allowed: true,
            remaining: 0,
            reset_after_ms: 1000,
            retry_after_ms: None
        }
    );
    // Half a second of quiet gives back five.
    let v = key.hit(600, quota, 1);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 4, 600));
    // A full period after the TAT the key is as new.
    let v = key.hit(2200, quota, 1);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 9, 100));
}

#[test]
fn known_values_with_a_fractional_interval() {
    // 3 per second: T = 333⅓ ms, never rounded.
    let quota = q(3, 1000);
    let mut key = Key::default();
    let v = key.hit(0, quota, 1);
    assert_eq!((v.remaining, v.reset_after_ms), (2, 334));
    assert_eq!(key.0, Some(Tat { ms: 333, frac: 1 }));
    assert!(key.hit(0, quota, 1).allowed);
    assert!(key.hit(0, quota, 1).allowed);
    assert_eq!(key.0, Some(Tat::from_ms(1000)));
    // The next one is due at 333⅓: denied at 333 (come back in 1 ms), allowed at 334.
    let v = key.hit(333, quota, 1);
    assert_eq!(
        (v.allowed, v.retry_after_ms, v.reset_after_ms),
        (false, Some(1), 667)
    );
    let v = key.hit(334, quota, 1);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 0, 1000));
    assert_eq!(key.0, Some(Tat { ms: 1333, frac: 1 }));
    // Then at 666⅔ → 667, and at exactly 1000.
    assert!(!key.hit(666, quota, 1).allowed);
    assert!(key.hit(667, quota, 1).allowed);
    assert!(!key.hit(999, quota, 1).allowed);
    assert!(key.hit(1000, quota, 1).allowed);
    assert!(!key.hit(1000, quota, 1).allowed);
    // Rounding up at every step would have drifted: 3 per second stays 3 per second.
    let mut key = Key::default();
    let allowed = (0..=100_000u64)
        .filter(|&t| key.hit(t, quota, 1).allowed)
        .count();
    assert_eq!(allowed, 3 + 300);
}

#[test]
fn cost_above_one() {
    let quota = q(10, 1000);
    let mut key = Key::default();
    for remaining in [7, 4, 1] {
        let v = key.hit(0, quota, 3);
        assert!(v.allowed);
        assert_eq!(v.remaining, remaining);
    }
    // One unit is left, three are asked: denied, and the unit is still reported.
    assert_eq!(
        key.hit(0, quota, 3),
        Verdict {
            allowed: false,
            remaining: 1,
            reset_after_ms: 900,
            retry_after_ms: Some(200)
        }
    );
    assert!(key.hit(0, quota, 1).allowed);
    assert!(key.hit(300, quota, 3).allowed);
    // A cost equal to the limit fits a cold key exactly once.
    let mut key = Key::default();
    assert!(key.hit(0, quota, 10).allowed);
    assert_eq!(key.hit(0, quota, 1).retry_after_ms, Some(100));
    assert_eq!(key.hit(0, quota, 10).retry_after_ms, Some(1000));
}

#[test]
fn cost_above_the_limit_is_denied_with_no_retry() {
    let quota = q(10, 1000);
    let mut key = Key::default();
    let v = key.hit(0, quota, 11);
    assert_eq!(
        v,
        Verdict {
            allowed: false,
            remaining: 10,
            reset_after_ms: 0,
            retry_after_ms: None
        }
    );
    assert_eq!(key.0, None, "a denial stores nothing");
}

#[test]
fn cost_zero_asks_without_spending() {
    let quota = q(10, 1000);
    let mut key = Key::default();
    let v = key.hit(0, quota, 0);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 10, 0));
    assert!(key.0.is_some_and(|tat| tat.is_due(0)));
    key.hit(0, quota, 4);
    let tat = key.0;
    let v = key.hit(0, quota, 0);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 6, 400));
    assert_eq!(key.0, tat);
}

#[test]
fn limit_one() {
    let quota = q(1, 500);
    let mut key = Key::default();
    assert_eq!(
        key.hit(0, quota, 1),
        Verdict {
            allowed: true,
            remaining: 0,
            reset_after_ms: 500,
            retry_after_ms: None
        }
    );
    assert_eq!(key.hit(1, quota, 1).retry_after_ms, Some(499));
    assert_eq!(key.hit(499, quota, 1).retry_after_ms, Some(1));
    assert!(key.hit(500, quota, 1).allowed);
    assert!(!key.hit(999, quota, 1).allowed);
    assert!(key.hit(1000, quota, 1).allowed);
}

#[test]
fn a_zero_limit_denies_everything() {
    let quota = Quota {
        limit: 0,
        period_ms: 1000,
    };
    let (v, new) = gcra(None, 5, quota, 1);
    assert_eq!(
        v,
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 0,
            retry_after_ms: None
        }
    );
    assert_eq!(new, None);
}

#[test]
fn huge_periods_do_not_overflow() {
    for period in [u64::MAX / 4, u64::MAX - 1, u64::MAX] {
        for limit in [1, 2, 1000, u32::MAX] {
            for now in [0, 1_700_000_000_000] {
                let quota = q(limit, period);
                let mut key = Key::default();
                let burst = limit.min(1000);
                for _ in 0..burst {
                    let v = key.hit(now, quota, 1);
                    assert!(v.allowed, "{limit}/{period} at {now}");
                }
                if burst == limit {
                    let v = key.hit(now + 1, quota, 1);
                    assert!(!v.allowed, "{limit}/{period} at {now}: one too many");
                    assert!(v.retry_after_ms.is_some_and(|r| r > 0));
                }
            }
        }
    }
    // One year at a thousand a year, near the end of u64 time: no panic, sane answers.
    let year = 365 * 24 * 3600 * 1000;
    let (v, new) = gcra(None, u64::MAX - 10, q(1000, year), 1);
    assert!(v.allowed);
    assert_eq!(new.map(|t| t.ms), Some(u64::MAX));
    let (v, _) = gcra(new, u64::MAX, q(1000, year), u32::MAX);
    assert!(!v.allowed);
    assert_eq!(v.retry_after_ms, None);
}

#[test]
fn time_going_backwards_only_denies_more() {
    let quota = q(10, 1000);
    let mut key = Key::default();
    for _ in 0..10 {
        assert!(key.hit(1000, quota, 1).allowed);
    }
    // A clock stepped back by a second: the TAT (2000) is a full two periods ahead.
    assert_eq!(
        key.hit(0, quota, 1),
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 2000,
            retry_after_ms: Some(1100)
        }
    );
    // A cost-0 ask is denied too: even that would be beyond the horizon.
    assert!(!key.hit(0, quota, 0).allowed);
    assert_eq!(key.0, Some(Tat::from_ms(2000)));
}

#[test]
fn a_fraction_from_another_quota_moves_the_tat_by_under_a_millisecond() {
    // Written under limit 1000 (999/1000 ms), read under limit 10: rounded up to the next ms.
    let tat = Tat {
        ms: 5000,
        frac: 999,
    };
    let (v, new) = gcra(Some(tat), 4500, q(10, 1000), 0);
    assert!(v.allowed);
    assert_eq!(v.reset_after_ms, 501);
    assert_eq!(new, Some(Tat::from_ms(5001)));
}

/// The mitigation timeout: 2 per second, blocked 5 s from the first denial.
#[test]
fn mitigation_timeout_blocks_from_the_first_exceed_and_freezes_the_counter() {
    let mut key = Blockable(q(2, 1000), None);
    assert!(key.hit(0, 1, 5000).allowed);
    assert!(key.hit(0, 1, 5000).allowed);
    assert_eq!(
        key.hit(0, 1, 5000),
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 5000,
            retry_after_ms: Some(5000)
        }
    );
    let blocked = Some(KeyState::Blocked {
        until_ms: 5000,
        tat_ms: 1000,
    });
    assert_eq!(key.1, blocked);
    // GCRA alone would allow at 2000; the block holds, and the counter does not move.
    let v = key.hit(2000, 1, 5000);
    assert_eq!(
        (v.allowed, v.retry_after_ms, v.remaining),
        (false, Some(3000), 0)
    );
    // A reload that shortens the timeout does not shorten a block already running.
    let v = key.hit(4999, 1, 10);
    assert_eq!((v.allowed, v.retry_after_ms), (false, Some(1)));
    assert_eq!(key.1, blocked);
    // At the end of the block the key is as fresh as GCRA makes it: a full burst.
    let v = key.hit(5000, 1, 5000);
    assert_eq!((v.allowed, v.remaining), (true, 1));
    assert!(key.hit(5000, 1, 5000).allowed);
    // Exceeding again starts a new block.
    let v = key.hit(5000, 1, 5000);
    assert_eq!(v.retry_after_ms, Some(5000));
    assert!(!key.hit(9999, 1, 5000).allowed);
    assert!(key.hit(10_000, 1, 5000).allowed);
}

#[test]
fn mitigation_timeout_zero_throttles_only() {
    let quota = q(2, 1000);
    let mut state = None;
    for _ in 0..2 {
        state = check_state(state, 0, quota, 1, 0).1;
    }
    let (v, next) = check_state(state, 0, quota, 1, 0);
    assert_eq!((v.allowed, v.retry_after_ms), (false, Some(500)));
    assert_eq!(next, state);
    assert!(check_state(state, 500, quota, 1, 0).0.allowed);
}

#[test]
fn a_block_shorter_than_the_debt_resumes_from_the_old_tat() {
    // 10 per 10 s (T = 1 s), blocked 1.5 s. The TAT at the block (10 s) is kept, so the key is
    // still short of quota when the block ends: one request per second, not a fresh burst.
    let quota = q(10, 10_000);
    let mut state = None;
    for _ in 0..10 {
        state = check_state(state, 0, quota, 1, 1500).1;
    }
    let (v, next) = check_state(state, 0, quota, 1, 1500);
    assert_eq!(
        v,
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 10_000,
            retry_after_ms: Some(1500)
        }
    );
    state = next;
    let (v, next) = check_state(state, 1500, quota, 1, 1500);
    assert_eq!((v.allowed, v.remaining), (true, 0));
    state = next;
    assert_eq!(state, Some(KeyState::Tat(Tat::from_ms(11_000))));
    // The next request is due at 2000; at 1600 it is a new exceed and a new block.
    let (v, _) = check_state(state, 1600, quota, 1, 1500);
    assert_eq!(v.retry_after_ms, Some(1500));
}

#[test]
fn a_block_shorter_than_one_interval_reports_when_gcra_will_allow() {
    // 1 per 10 s, blocked 1 s: at the block's end GCRA still needs 9 more seconds.
    let quota = q(1, 10_000);
    let (_, state) = check_state(None, 0, quota, 1, 1000);
    let (v, state) = check_state(state, 0, quota, 1, 1000);
    assert_eq!(
        v,
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 10_000,
            retry_after_ms: Some(10_000)
        }
    );
    assert_eq!(
        state,
        Some(KeyState::Blocked {
            until_ms: 1000,
            tat_ms: 10_000
        })
    );
}

#[test]
fn a_cost_above_the_limit_does_not_start_a_block() {
    let quota = q(2, 1000);
    let (v, state) = check_state(None, 0, quota, 3, 5000);
    assert_eq!((v.allowed, v.retry_after_ms), (false, None));
    assert_eq!(state, None);
    assert!(check_state(state, 0, quota, 1, 5000).0.allowed);
}

#[test]
fn idle_states_and_when_they_become_idle() {
    assert!(KeyState::Tat(Tat::from_ms(10)).is_idle(10));
    assert!(!KeyState::Tat(Tat { ms: 10, frac: 1 }).is_idle(10));
    assert_eq!(KeyState::Tat(Tat { ms: 10, frac: 1 }).idle_at_ms(), 11);
    let blocked = KeyState::Blocked {
        until_ms: 50,
        tat_ms: 80,
    };
    assert!(!blocked.is_idle(79));
    assert!(blocked.is_idle(80));
    assert_eq!(blocked.idle_at_ms(), 80);
    // A request at an idle key leaves nothing to store when it spends nothing.
    assert_eq!(
        check_state(Some(KeyState::Tat(Tat::from_ms(3))), 5, q(1, 10), 0, 0).1,
        None
    );
}

/// The leaky-bucket form of GCRA, written independently in ticks: a level that drains `limit`
/// ticks per ms, each unit adds `period`, and the bucket holds `limit·period`.
struct Bucket {
    level: u128,
    last: u64,
}

impl Bucket {
    fn hit(&mut self, now: u64, quota: Quota, cost: u32) -> (bool, u32) {
        let l = u128::from(quota.limit);
        let p = u128::from(quota.period_ms);
        let drained = u128::from(now - self.last) * l;
        let level = self.level.saturating_sub(drained);
        self.last = now;
        self.level = level;
        if level + u128::from(cost) * p <= l * p {
            self.level = level + u128::from(cost) * p;
            (true, ((l * p - self.level) / p) as u32)
        } else {
            (false, ((l * p - level) / p) as u32)
        }
    }
}

/// Random arrivals (bursts, gaps, costs 1–3): every decision and `remaining` equals the
/// leaky-bucket model's, and in every window `[a, a + W)` the allowed costs stay within
/// `⌊(W − 1 + P)·L/P⌋` (the burst plus the rate).
#[test]
fn random_arrivals_match_the_model_and_respect_the_window_bound() {
    let mut rng = Rng(0x5eed_f00d);
    for (limit, period) in QUOTAS {
        let quota = q(limit, period);
        let t_ms = (period / u64::from(limit)).max(1);
        let mut key = Key::default();
        let mut model = Bucket { level: 0, last: 0 };
        let mut now = 0;
        let mut allowed: Vec<(u64, u64)> = Vec::new();
        for _ in 0..20_000 {
            now += match rng.below(10) {
                0..=3 => 0,
                4..=7 => rng.below(2 * t_ms + 1),
                8 => rng.below(period + 1),
                _ => rng.below(5 * period + 1),
            };
            let cost = if rng.below(4) == 0 {
                1 + rng.below(3) as u32
            } else {
                1
            };
            let v = key.hit(now, quota, cost);
            let (m_allowed, m_remaining) = model.hit(now, quota, cost);
            assert_eq!(v.allowed, m_allowed, "{limit}/{period} at {now}");
            assert_eq!(v.remaining, m_remaining, "{limit}/{period} at {now}");
            if v.allowed {
                allowed.push((now, u64::from(cost)));
            }
        }
        for w in [1, period / 2 + 1, period, 2 * period, 3 * period + 7] {
            let bound =
                (u128::from(w - 1 + period) * u128::from(limit) / u128::from(period)) as u64;
            let mut sum = 0;
            let mut j = 0;
            for i in 0..allowed.len() {
                while j < allowed.len() && allowed[j].0 < allowed[i].0 + w {
                    sum += allowed[j].1;
                    j += 1;
                }
                assert!(
                    sum <= bound,
                    "{limit}/{period}: {sum} units in [{}, +{w}), bound {bound}",
                    allowed[i].0
                );
                sum -= allowed[i].1;
            }
        }
    }
}
