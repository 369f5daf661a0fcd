//! The algorithm with a fake clock (plain `u64` milliseconds): exact counts at slice and period
//! boundaries, remaining/reset/retry at known points, periods not divisible by the slice count,
//! cost, limit 1, huge values, time going backwards, quota reloads, the mitigation timeout, and
//! property tests over random arrivals: every verdict equals an independently written model (a
//! log of allowed units by absolute slice number, in `u128`), no window of one period ever holds
//! more than the limit, nothing is held longer than one slice past the period, and waiting
//! exactly `retry_after_ms` gets a request in while one millisecond less does not.

use std::collections::VecDeque;

use doorman_limit::{
    KeyState, MAX_LIMIT, MAX_PERIOD_MS, Quota, QuotaError, Verdict, Window, check_state,
};
use doorman_test_support::rng::Rng;

fn q(limit: u32, period_ms: u64) -> Quota {
    Quota::new(limit, period_ms).expect("valid quota")
}

/// A key's state carried between calls, as a store would, under one mitigation timeout.
#[derive(Default)]
struct Key(Option<KeyState>);

impl Key {
    fn hit(&mut self, now: u64, quota: Quota, cost: u32) -> Verdict {
        self.hit_m(now, quota, cost, 0)
    }

    fn hit_m(&mut self, now: u64, quota: Quota, cost: u32, mitigation: u64) -> Verdict {
        let (verdict, next) = check_state(self.0, now, quota, cost, mitigation);
        self.0 = next;
        verdict
    }
}

/// Quotas across every lane width, periods divisible by `k` and not, and periods shorter than
/// the slice count (1 ms slices).
const QUOTAS: [(u32, u64); 20] = [
    (1, 1),
    (1, 500),
    (2, 1000),
    (3, 7),
    (5, 7),
    (10, 1000),
    (10, 1500),
    (7, 10_000),
    (13, 1),
    (60, 1000),
    (100, 60_000),
    (255, 999),
    (256, 1000),
    (1000, 1),
    (1000, 997),
    (2047, 5000),
    (4095, 1000),
    (4096, 10),
    (20_000, 86_400_000),
    (65_535, 3001),
];

/// The slice arithmetic of the crate docs, on absolute slice numbers in `u128`: independent of
/// the anchored, small-number arithmetic the crate uses.
#[derive(Clone, Copy)]
struct Grid {
    limit: u128,
    period: u128,
    k: u128,
}

impl Grid {
    fn of(quota: Quota) -> Grid {
        let bits = 32 - quota.limit.leading_zeros().min(31);
        Grid {
            limit: u128::from(quota.limit),
            period: u128::from(quota.period_ms),
            k: u128::from(64 / bits - 1).min(u128::from(quota.period_ms)),
        }
    }

    fn slice(self, t: u64) -> u128 {
        u128::from(t) * self.k / self.period
    }

    fn start(self, j: u128) -> u64 {
        u64::try_from((j * self.period).div_ceil(self.k)).expect("fits")
    }
}

/// The model: allowed units by absolute slice, for requests in time order, no mitigation.
struct Model {
    grid: Grid,
    log: VecDeque<(u128, u128)>,
}

impl Model {
    fn new(quota: Quota) -> Model {
        Model {
            grid: Grid::of(quota),
            log: VecDeque::new(),
        }
    }

    fn hit(&mut self, now: u64, cost: u32) -> Verdict {
        let g = self.grid;
        let s = g.slice(now);
        // Slices s − k ..= s are in the window.
        while self.log.front().is_some_and(|&(slice, _)| slice + g.k < s) {
            self.log.pop_front();
        }
        let used: u128 = self.log.iter().map(|&(_, c)| c).sum();
        let cost = u128::from(cost);
        if used + cost <= g.limit {
            if cost > 0 {
                self.log.push_back((s, cost));
            }
            let reset = self
                .log
                .back()
                .map_or(0, |&(newest, _)| g.start(newest + g.k + 1) - now);
            return Verdict {
                allowed: true,
                remaining: (g.limit - used - cost) as u32,
                reset_after_ms: reset,
                retry_after_ms: None,
            };
        }
        let retry = (cost <= g.limit).then(|| {
            // The first later slice at which the units still in the window leave room.
            let m = (1..=g.k + 1)
                .find(|&m| {
                    let left: u128 = self
                        .log
                        .iter()
                        .filter(|&&(slice, _)| slice + g.k >= s + m)
                        .map(|&(_, c)| c)
                        .sum();
                    left + cost <= g.limit
                })
                .expect("after k + 1 slices the window is empty");
            g.start(s + m) - now
        });
        let reset = self
            .log
            .back()
            .map_or(0, |&(newest, _)| g.start(newest + g.k + 1) - now);
        Verdict {
            allowed: false,
            remaining: g.limit.saturating_sub(used) as u32,
            reset_after_ms: reset,
            retry_after_ms: retry,
        }
    }
}

#[test]
fn quota_new_checks_its_bounds() {
    assert_eq!(Quota::new(0, 1000), Err(QuotaError::ZeroLimit));
    assert_eq!(Quota::new(1, 0), Err(QuotaError::ZeroPeriod));
    assert_eq!(
        Quota::new(MAX_LIMIT + 1, 60_000),
        Err(QuotaError::LimitTooLarge(65_536))
    );
    let message = QuotaError::LimitTooLarge(120_000).to_string();
    assert!(
        message.contains("120000") && message.contains("65535"),
        "{message}"
    );
    assert!(
        message.contains("divide the limit and the period"),
        "{message}"
    );
    assert_eq!(
        Quota::new(5, MAX_PERIOD_MS + 1),
        Err(QuotaError::PeriodTooLong(MAX_PERIOD_MS + 1))
    );
    assert_eq!(
        Quota::new(MAX_LIMIT, MAX_PERIOD_MS),
        Ok(Quota {
            limit: MAX_LIMIT,
            period_ms: MAX_PERIOD_MS
        })
    );
}

#[test]
fn the_slice_count_follows_the_lane_width_and_the_period() {
    for (limit, period, k) in [
        (1, 1000, 63),
        (3, 1000, 31),
        (7, 1000, 20),
        (10, 1000, 15),
        (31, 1000, 11),
        (63, 1000, 9),
        (100, 60_000, 8),
        (255, 1000, 7),
        (511, 1000, 6),
        (1000, 1000, 5),
        (4095, 1000, 4),
        (4096, 1000, 3),
        (65_535, 1000, 3),
        // Never a slice shorter than 1 ms.
        (10, 5, 5),
        (1, 1, 1),
    ] {
        assert_eq!(q(limit, period).slices(), k, "{limit}/{period}");
    }
}

#[test]
fn a_cold_key_gets_exactly_limit_in_one_instant() {
    for (limit, period) in QUOTAS {
        let quota = q(limit, period);
        let g = Grid::of(quota);
        for now in [0, 1, 1_700_000_000_123] {
            let mut key = Key::default();
            let end = g.start(g.slice(now) + g.k + 1);
            for i in 0..limit.min(5000) {
                let v = key.hit(now, quota, 1);
                assert!(v.allowed, "{limit}/{period}: request {i} denied");
                assert_eq!(v.remaining, limit - i - 1);
                assert_eq!(v.reset_after_ms, end - now);
            }
            if limit > 5000 {
                assert!(key.hit(now, quota, limit - 5000).allowed);
            }
            let v = key.hit(now, quota, 1);
            assert_eq!(
                v,
                Verdict {
                    allowed: false,
                    remaining: 0,
                    reset_after_ms: end - now,
                    retry_after_ms: Some(end - now),
                },
                "{limit}/{period} at {now}"
            );
            // Until the burst's slice has left the window: more than a period, at most a slice
            // more.
            assert!(end - now > period && end - now <= period + period.div_ceil(g.k as u64));
            assert!(!key.hit(end - 1, quota, 1).allowed);
            let v = key.hit(end, quota, 1);
            assert!(v.allowed);
            assert_eq!(v.remaining, limit - 1);
        }
    }
}

#[test]
fn known_values_on_whole_slices() {
    // 10 per 1.5 s: k = 15 slices of 100 ms.
    let quota = q(10, 1500);
    let mut key = Key::default();
    assert_eq!(
        key.hit(0, quota, 1),
        Verdict {
            allowed: true,
            remaining: 9,
            reset_after_ms: 1600,
            retry_after_ms: None
        }
    );
    for _ in 0..4 {
        assert!(key.hit(0, quota, 1).allowed);
    }
    // Five more at 750 (slice 7, which leaves the window at 2300).
    for i in 0..5 {
        let v = key.hit(750, quota, 1);
        assert_eq!(
            (v.allowed, v.remaining, v.reset_after_ms),
            (true, 4 - i, 1550)
        );
    }
    // Slice 0 leaves at 1600: then one fits.
    assert_eq!(
        key.hit(750, quota, 1),
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 1550,
            retry_after_ms: Some(850)
        }
    );
    // At 1500 (slice 15) slice 0 is still in the window: one period after the first burst is
    // not enough, the slice has to leave.
    let v = key.hit(1500, quota, 1);
    assert_eq!((v.allowed, v.retry_after_ms), (false, Some(100)));
    assert_eq!(key.hit(1599, quota, 1).retry_after_ms, Some(1));
    let v = key.hit(1600, quota, 1);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 4, 1600));
    // The key stores one window: five at slice 7, one at slice 16.
    match key.0 {
        Some(KeyState::Window(window)) => {
            assert_eq!(window.end_ms, 3200);
            assert_eq!(window.count(0), 1);
            assert_eq!(window.count(9), 5);
            assert_eq!(window.total(), 6);
        }
        other => panic!("{other:?}"),
    }
    // Slice 7 leaves at 2300: the five come back.
    assert_eq!(key.hit(2299, quota, 0).remaining, 4);
    assert_eq!(key.hit(2300, quota, 0).remaining, 9);
    // Idle from 3200 on: a cost-0 ask then forgets the key.
    let v = key.hit(3200, quota, 0);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 10, 0));
    assert_eq!(key.0, None);
}

#[test]
fn known_values_when_the_period_is_not_a_multiple_of_the_slice_count() {
    // 10 per second: 15 slices of 66⅔ ms, starting at 0, 67, 134, 200, …, 1000, 1067.
    let quota = q(10, 1000);
    let mut key = Key::default();
    let v = key.hit(66, quota, 10);
    assert_eq!((v.allowed, v.reset_after_ms), (true, 1001));
    let v = key.hit(66, quota, 1);
    assert_eq!((v.allowed, v.retry_after_ms), (false, Some(1001)));
    assert!(!key.hit(1066, quota, 1).allowed);
    assert!(key.hit(1067, quota, 5).allowed);
    // A request in slice 1 (at 67) counts until 1134.
    let mut key = Key::default();
    assert!(key.hit(67, quota, 10).allowed);
    assert_eq!(key.hit(67, quota, 1).retry_after_ms, Some(1067));
    assert!(!key.hit(1133, quota, 1).allowed);
    assert!(key.hit(1134, quota, 1).allowed);
}

#[test]
fn a_greedy_client_gets_at_most_the_limit_per_period_and_at_least_per_period_plus_a_slice() {
    for (limit, period) in QUOTAS.into_iter().filter(|&(_, period)| period <= 10_000) {
        let quota = q(limit, period);
        let g = Grid::of(quota);
        let span = period + period.div_ceil(g.k as u64);
        let mut key = Key::default();
        let mut allowed: Vec<u64> = Vec::new();
        let end = (6 * period).max(60);
        for t in 0..=end {
            // As many as pass, in one call when the limit is large.
            let v = key.hit(t, quota, 0);
            if v.remaining > 0 {
                assert!(key.hit(t, quota, v.remaining).allowed);
                allowed.extend(std::iter::repeat_n(t, v.remaining as usize));
            }
            assert!(!key.hit(t, quota, 1).allowed);
        }
        // Exactly L at the start of every span of P + ⌈P/k⌉ at most, and never more than L in
        // any period.
        let mut j = 0;
        for i in 0..allowed.len() {
            while j < allowed.len() && allowed[j] < allowed[i] + period {
                j += 1;
            }
            assert!(
                j - i <= limit as usize,
                "{limit}/{period} from {}",
                allowed[i]
            );
        }
        assert!(
            allowed.len() as u64 >= u64::from(limit) * (end / span + 1),
            "{limit}/{period}: {} in {end} ms",
            allowed.len()
        );
    }
}

#[test]
fn cost_above_one() {
    let quota = q(10, 1500);
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
            reset_after_ms: 1600,
            retry_after_ms: Some(1600)
        }
    );
    assert!(key.hit(0, quota, 1).allowed);
    // A cost equal to the limit fits a cold key exactly once.
    let mut key = Key::default();
    assert!(key.hit(0, quota, 10).allowed);
    assert_eq!(key.hit(0, quota, 1).retry_after_ms, Some(1600));
    assert_eq!(key.hit(1000, quota, 10).retry_after_ms, Some(600));
    assert!(key.hit(1600, quota, 10).allowed);
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
    assert!(!key.hit(5, quota, u32::MAX).allowed);
}

#[test]
fn cost_zero_asks_without_spending() {
    let quota = q(10, 1500);
    let mut key = Key::default();
    let v = key.hit(0, quota, 0);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 10, 0));
    assert_eq!(key.0, None);
    key.hit(0, quota, 4);
    let state = key.0;
    let v = key.hit(700, quota, 0);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 6, 900));
    assert_eq!(key.0, state);
}

#[test]
fn limit_one() {
    // 1 per 630 ms: 63 slices of 10 ms.
    let quota = q(1, 630);
    let mut key = Key::default();
    assert_eq!(
        key.hit(5, quota, 1),
        Verdict {
            allowed: true,
            remaining: 0,
            reset_after_ms: 635,
            retry_after_ms: None
        }
    );
    assert_eq!(key.hit(6, quota, 1).retry_after_ms, Some(634));
    assert!(!key.hit(639, quota, 1).allowed);
    assert!(key.hit(640, quota, 1).allowed);
    // 1 per 1 ms: one slice of 1 ms, so the window is 2 ms (over-blocking of one slice).
    let quota = q(1, 1);
    let mut key = Key::default();
    assert!(key.hit(0, quota, 1).allowed);
    assert_eq!(key.hit(1, quota, 1).retry_after_ms, Some(1));
    assert!(key.hit(2, quota, 1).allowed);
}

#[test]
fn a_zero_limit_denies_everything() {
    let quota = Quota {
        limit: 0,
        period_ms: 1000,
    };
    let (v, new) = check_state(None, 5, quota, 1, 1000);
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
    assert!(!check_state(None, 5, quota, 0, 0).0.allowed);
}

#[test]
fn out_of_range_quotas_and_times_are_read_conservatively_without_panics() {
    // A limit above 65 535 (only possible without Quota::new) is read as 65 535.
    let quota = Quota {
        limit: u32::MAX,
        period_ms: 1000,
    };
    let mut key = Key::default();
    let v = key.hit(0, quota, 65_535);
    assert_eq!((v.allowed, v.remaining), (true, 0));
    assert!(!key.hit(0, quota, 1).allowed);
    assert_eq!(key.hit(0, quota, 65_536).retry_after_ms, None);
    // Periods of 0 and beyond 2^40 ms.
    for period_ms in [0, MAX_PERIOD_MS, MAX_PERIOD_MS + 1, u64::MAX] {
        for now in [0, 1_700_000_000_000, u64::MAX - 1, u64::MAX] {
            let quota = Quota {
                limit: 3,
                period_ms,
            };
            let mut key = Key::default();
            for _ in 0..3 {
                assert!(key.hit(now, quota, 1).allowed, "{period_ms} at {now}");
            }
            let v = key.hit(now, quota, 1);
            assert!(!v.allowed);
            let wait = v.retry_after_ms.expect("fits later");
            assert!(wait >= period_ms.clamp(1, MAX_PERIOD_MS).min(u64::MAX - now));
            assert!(!key.hit(now, quota, 1).allowed);
        }
    }
}

#[test]
fn time_going_backwards_counts_in_the_newest_slice() {
    // 10 per 1.5 s: 100 ms slices. Ten at 1000 (slice 10): the slice leaves at 2600.
    let quota = q(10, 1500);
    let mut key = Key::default();
    for _ in 0..5 {
        assert!(key.hit(1000, quota, 1).allowed);
    }
    // A clock a second behind: decided as at 1000, its waits counted from its own clock.
    let v = key.hit(0, quota, 5);
    assert_eq!((v.allowed, v.remaining, v.reset_after_ms), (true, 0, 2600));
    assert_eq!(
        key.hit(0, quota, 1),
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 2600,
            retry_after_ms: Some(2600)
        }
    );
    // Nothing is let through before all ten have left, whatever the clock says.
    for t in [0, 500, 1000, 1599, 2000, 2599] {
        assert!(!key.hit(t, quota, 1).allowed, "at {t}");
    }
    assert!(key.hit(2600, quota, 10).allowed);
}

/// Deciding at a time before the key's newest slice is deciding at that slice's start, with
/// waits counted from the earlier clock.
#[test]
fn a_time_behind_the_key_decides_as_the_start_of_its_newest_slice() {
    let mut rng = Rng(0xbac4);
    for (limit, period) in QUOTAS {
        let quota = q(limit, period);
        let g = Grid::of(quota);
        let mut key = Key::default();
        let mut now = 1_700_000_000_000 + rng.below(period);
        for _ in 0..2000 {
            now += rng.below(period / 4 + 2);
            let cost = 1 + rng.below(u64::from(limit) / 3 + 1) as u32;
            key.hit(now, quota, cost);
            let Some(KeyState::Window(window)) = key.0 else {
                continue;
            };
            // S = slice(E − 1) − k; a clock anywhere before start(S).
            let newest_start = g.start(g.slice(window.end_ms - 1) - g.k);
            let behind = newest_start - 1 - rng.below(3 * period + 5).min(newest_start - 1);
            let cost = rng.below(u64::from(limit) + 1) as u32;
            let (early, early_state) = check_state(key.0, behind, quota, cost, 0);
            let (due, due_state) = check_state(key.0, newest_start, quota, cost, 0);
            let shift = newest_start - behind;
            assert_eq!(early.allowed, due.allowed);
            assert_eq!(early.remaining, due.remaining);
            if due.reset_after_ms > 0 {
                assert_eq!(early.reset_after_ms, due.reset_after_ms + shift);
            }
            assert_eq!(early.retry_after_ms, due.retry_after_ms.map(|r| r + shift));
            assert_eq!(early_state, due_state);
        }
    }
}

#[test]
fn a_new_lane_width_folds_the_counts_into_the_newest_slice() {
    let mut key = Key::default();
    // 10 per 1.5 s (4-bit lanes): 4 at 0, 5 at 700.
    assert!(key.hit(0, q(10, 1500), 4).allowed);
    assert!(key.hit(700, q(10, 1500), 5).allowed);
    // Reloaded to 100 per 1.5 s (7-bit lanes, 8 slices): the nine units are folded into one
    // count in the newest slice, read on the new slices.
    let v = key.hit(800, q(100, 1500), 1);
    assert_eq!((v.allowed, v.remaining), (true, 90));
    // Reloaded to 3 per 1.5 s: at most the lane maximum, 3, is kept, so nothing passes.
    let mut key2 = Key(key.0);
    let v = key2.hit(900, q(3, 1500), 1);
    assert_eq!((v.allowed, v.remaining), (false, 0));
    assert!(v.retry_after_ms.is_some());
    // The same width (10 → 12): the counts are read as they are.
    let mut key = Key::default();
    assert!(key.hit(0, q(10, 1500), 4).allowed);
    let v = key.hit(0, q(12, 1500), 0);
    assert_eq!(v.remaining, 8);
}

#[test]
fn window_counts_and_totals() {
    let window = Window {
        end_ms: 10,
        bits: 4,
        lanes: 0x3_0021,
    };
    assert_eq!(
        [
            window.count(0),
            window.count(1),
            window.count(4),
            window.count(15)
        ],
        [1, 2, 3, 0]
    );
    assert_eq!(window.total(), 6);
    // Out-of-range widths (the fields are public) are read safely.
    let odd = Window {
        end_ms: 10,
        bits: 0,
        lanes: 0b101,
    };
    assert_eq!(odd.total(), 2);
    assert_eq!(odd.count(64), 0);
}

/// The mitigation timeout: 2 per second (31 slices of 32¼ ms), blocked 5 s from the first
/// denial.
#[test]
fn mitigation_timeout_blocks_from_the_first_exceed_and_freezes_the_counter() {
    let quota = q(2, 1000);
    let mut key = Key::default();
    assert!(key.hit_m(0, quota, 1, 5000).allowed);
    assert!(key.hit_m(0, quota, 1, 5000).allowed);
    assert_eq!(
        key.hit_m(0, quota, 1, 5000),
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 5000,
            retry_after_ms: Some(5000)
        }
    );
    let blocked = Some(KeyState::Blocked {
        until_ms: 5000,
        end_ms: 1033,
        total: 2,
    });
    assert_eq!(key.0, blocked);
    // The window alone would allow at 1033; the block holds, and nothing is counted.
    let v = key.hit_m(2000, quota, 1, 5000);
    assert_eq!(
        (v.allowed, v.retry_after_ms, v.remaining),
        (false, Some(3000), 0)
    );
    // A reload that shortens the timeout does not shorten a block already running.
    let v = key.hit_m(4999, quota, 1, 10);
    assert_eq!((v.allowed, v.retry_after_ms), (false, Some(1)));
    assert_eq!(key.0, blocked);
    // At the end of the block the window is empty again: a full burst.
    let v = key.hit_m(5000, quota, 1, 5000);
    assert_eq!((v.allowed, v.remaining), (true, 1));
    assert!(key.hit_m(5000, quota, 1, 5000).allowed);
    // Exceeding again starts a new block.
    assert_eq!(key.hit_m(5000, quota, 1, 5000).retry_after_ms, Some(5000));
    assert!(!key.hit_m(9999, quota, 1, 5000).allowed);
    assert!(key.hit_m(10_000, quota, 1, 5000).allowed);
}

#[test]
fn mitigation_timeout_zero_throttles_only() {
    let quota = q(2, 1000);
    let mut key = Key::default();
    assert!(key.hit(0, quota, 1).allowed);
    assert!(key.hit(0, quota, 1).allowed);
    let state = key.0;
    let v = key.hit(0, quota, 1);
    assert_eq!((v.allowed, v.retry_after_ms), (false, Some(1033)));
    assert_eq!(key.0, state);
    assert!(key.hit(1033, quota, 1).allowed);
}

#[test]
fn a_block_shorter_than_the_window_keeps_its_units_until_they_leave() {
    // 10 per 1.5 s, blocked 100 ms. Five at 0 (slice 0), five at 1000 (slice 10).
    let quota = q(10, 1500);
    let mut key = Key::default();
    assert!(key.hit_m(0, quota, 5, 100).allowed);
    assert!(key.hit_m(1000, quota, 5, 100).allowed);
    // The exceed at 1000: blocked until 1100, and then all ten count until slice 10 leaves
    // (2600), including the five of slice 0 that would have left at 1600 without the block.
    let v = key.hit_m(1000, quota, 1, 100);
    assert_eq!(
        v,
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 1600,
            retry_after_ms: Some(1600)
        }
    );
    assert_eq!(
        key.0,
        Some(KeyState::Blocked {
            until_ms: 1100,
            end_ms: 2600,
            total: 10
        })
    );
    // After the block a request is a new exceed and a new block, still pointing at 2600.
    let v = key.hit_m(1700, quota, 1, 100);
    assert_eq!((v.allowed, v.retry_after_ms), (false, Some(900)));
    assert!(!check_state(key.0, 2599, quota, 1, 0).0.allowed);
    let v = key.hit_m(2600, quota, 10, 100);
    assert!(v.allowed);
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
    let window = KeyState::Window(Window {
        end_ms: 10,
        bits: 4,
        lanes: 1,
    });
    assert!(!window.is_idle(9));
    assert!(window.is_idle(10));
    assert_eq!(window.idle_at_ms(), 10);
    let blocked = KeyState::Blocked {
        until_ms: 50,
        end_ms: 80,
        total: 3,
    };
    assert!(!blocked.is_idle(79));
    assert!(blocked.is_idle(80));
    assert_eq!(blocked.idle_at_ms(), 80);
    let long_block = KeyState::Blocked {
        until_ms: 90,
        end_ms: 80,
        total: 3,
    };
    assert_eq!(long_block.idle_at_ms(), 90);
    // A request at an idle key leaves nothing to store when it spends nothing, and a denial of
    // an idle key's request (cost above the limit) drops it too.
    assert_eq!(check_state(Some(window), 10, q(1, 10), 0, 0).1, None);
    assert_eq!(check_state(Some(window), 10, q(1, 10), 2, 0).1, None);
}

/// Windows starting at each allowed request: at most `limit` units in any `[t, t + P)`.
fn assert_window_bound(allowed: &[(u64, u64)], limit: u32, period: u64, what: &str) {
    let mut sum = 0;
    let mut j = 0;
    for i in 0..allowed.len() {
        while j < allowed.len() && allowed[j].0 < allowed[i].0 + period {
            sum += allowed[j].1;
            j += 1;
        }
        assert!(
            sum <= u64::from(limit),
            "{what}: {sum} units in [{}, +{period})",
            allowed[i].0
        );
        sum -= allowed[i].1;
    }
}

fn random_gap(rng: &mut Rng, period: u64, slice: u64) -> u64 {
    match rng.below(12) {
        0..=3 => 0,
        4..=6 => rng.below(slice + 1),
        7 | 8 => rng.below(3 * slice + 1),
        9 | 10 => rng.below(period + 1),
        _ => rng.below(3 * period + 1),
    }
}

fn random_cost(rng: &mut Rng, limit: u32) -> u32 {
    let limit = u64::from(limit);
    let cost = match rng.below(10) {
        0 => 0,
        1 => rng.below(limit + 1),
        2 => limit / 2 + rng.below(2),
        3 => limit + 1 + rng.below(2),
        4 | 5 => 1 + rng.below(3),
        _ => 1,
    };
    cost as u32
}

/// Random arrivals in time order, no mitigation: every verdict equals the model's; no window of
/// one period holds more than the limit; a request is always allowed when the units of the
/// last `P + ⌈P/k⌉` ms leave room for it (over-blocking of at most one slice); and a denied
/// request that waits exactly `retry_after_ms` passes, one that waits a millisecond less does
/// not.
#[test]
fn random_arrivals_match_the_model_and_keep_every_bound() {
    let mut rng = Rng(0x5eed_f00d);
    for (limit, period) in QUOTAS {
        let quota = q(limit, period);
        let g = Grid::of(quota);
        let slice = period.div_ceil(g.k as u64);
        let mut key = Key::default();
        let mut model = Model::new(quota);
        let mut now = 1_700_000_000_000 + rng.below(period);
        let mut allowed: Vec<(u64, u64)> = Vec::new();
        let mut outcomes = [0usize; 3];
        for step in 0..20_000 {
            now += random_gap(&mut rng, period, slice);
            let cost = random_cost(&mut rng, limit);
            let before = key.0;
            let v = key.hit(now, quota, cost);
            let what = format!("{limit}/{period}, step {step} at {now}, cost {cost}");
            assert_eq!(v, model.hit(now, cost), "{what}");
            // The units of the last P + ⌈P/k⌉ ms (a superset of what may be counted).
            let recent: u64 = allowed
                .iter()
                .rev()
                .take_while(|&&(t, _)| t + period + slice > now)
                .map(|&(_, c)| c)
                .sum();
            if recent + u64::from(cost) <= u64::from(limit) {
                assert!(v.allowed, "{what}: denied with {recent} recent units");
            }
            if v.allowed {
                if cost > 0 {
                    allowed.push((now, u64::from(cost)));
                }
                outcomes[0] += 1;
            } else if let Some(wait) = v.retry_after_ms {
                assert!(wait >= 1, "{what}");
                assert!(
                    check_state(before, now + wait, quota, cost, 0).0.allowed,
                    "{what}"
                );
                assert!(
                    !check_state(before, now + wait - 1, quota, cost, 0)
                        .0
                        .allowed,
                    "{what}: {wait} is not the shortest wait"
                );
                outcomes[1] += 1;
            } else {
                outcomes[2] += 1;
            }
        }
        assert_window_bound(&allowed, limit, period, &format!("{limit}/{period}"));
        assert!(
            outcomes.iter().all(|&n| n > 200),
            "{limit}/{period}: allowed/throttled/unfixable = {outcomes:?}"
        );
    }
}

/// Random arrivals with mitigation timeouts (and reloads of the timeout): still at most the
/// limit in any window, a running block denies everything with `remaining = 0`, and
/// `retry_after_ms` is exact.
#[test]
fn random_arrivals_with_blocks_keep_the_bound_and_exact_retries() {
    let mut rng = Rng(0xb10c);
    for (limit, period) in QUOTAS {
        let quota = q(limit, period);
        let slice = period.div_ceil(u64::from(quota.slices()));
        let mut key = Key::default();
        let mut now = 1_800_000_000_000 + rng.below(period);
        let mut allowed: Vec<(u64, u64)> = Vec::new();
        let mut blocks = 0;
        for step in 0..10_000 {
            now += random_gap(&mut rng, period, slice);
            let cost = random_cost(&mut rng, limit);
            let mitigation = match rng.below(4) {
                0 => 0,
                1 => 1 + rng.below(slice),
                2 => 1 + rng.below(2 * period),
                _ => 1 + rng.below(5 * period),
            };
            let running =
                matches!(key.0, Some(KeyState::Blocked { until_ms, .. }) if now < until_ms);
            let v = key.hit_m(now, quota, cost, mitigation);
            let what = format!("{limit}/{period}, step {step} at {now}, cost {cost}");
            if running {
                assert!(!v.allowed && v.remaining == 0, "{what}: {v:?}");
            }
            if matches!(key.0, Some(KeyState::Blocked { until_ms, .. }) if until_ms == now + mitigation)
            {
                blocks += 1;
            }
            if v.allowed {
                if cost > 0 {
                    allowed.push((now, u64::from(cost)));
                }
            } else if let Some(wait) = v.retry_after_ms {
                // From the state as this call left it (a block may have just begun).
                let (later, _) = check_state(key.0, now + wait, quota, cost, mitigation);
                assert!(later.allowed, "{what}: not allowed after {wait} ms");
                let (sooner, _) = check_state(key.0, now + wait - 1, quota, cost, mitigation);
                assert!(!sooner.allowed, "{what}: {wait} is not the shortest wait");
            }
        }
        assert_window_bound(&allowed, limit, period, &format!("{limit}/{period}"));
        assert!(blocks > 50, "{limit}/{period}: only {blocks} blocks");
    }
}
