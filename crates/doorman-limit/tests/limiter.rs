//! The in-process store with a fake clock: it decides exactly as the pure algorithm over random
//! traffic (also while its clock runs for years and the table's epoch moves), drops idle keys
//! (by `sweep` and on its own while inserting), keeps to its cap with counted evictions that
//! spare limited and blocked keys, treats a clock stepped back as the last time seen, stays
//! exact under concurrent use, and keeps a tracked key within 32 bytes.

use std::collections::HashMap;

use doorman_limit::{KeyState, LocalLimiter, Quota, Verdict, check_state};
use doorman_test_support::rng::Rng;

fn q(limit: u32, period_ms: u64) -> Quota {
    Quota::new(limit, period_ms).expect("valid quota")
}

/// Random traffic over a few hundred keys, three rules (one with a mitigation timeout), costs
/// 0–3, with sweeps in between: every verdict equals `check_state` over a plain map.
#[test]
fn decides_exactly_like_the_pure_algorithm() {
    let limiter = LocalLimiter::new(1_000_000);
    let mut model: HashMap<u64, Option<KeyState>> = HashMap::new();
    let mut rng = Rng(0xfeed);
    let rules = [(q(10, 1000), 0), (q(3, 1000), 2500), (q(1, 250), 0)];
    let mut now = 1_700_000_000_000;
    for step in 0..100_000 {
        now += rng.below(30);
        let key = rng.below(300);
        let (quota, timeout) = rules[(key % 3) as usize];
        let cost = [1, 1, 1, 2, 3, 0][rng.below(6) as usize];
        let got = limiter.check(key, now, quota, cost, timeout);
        let state = model.entry(key).or_default();
        let (want, next) = check_state(*state, now, quota, cost, timeout);
        *state = next;
        assert_eq!(got, want, "step {step}, key {key} at {now}");
        if step % 10_000 == 0 {
            limiter.sweep(now);
        }
    }
    let stats = limiter.stats();
    assert_eq!(stats.evicted, 0);
    assert!(stats.expired > 0);
}

/// The table stores times as offsets from an epoch that moves up every 2^30 ms of clock: over
/// years of clock, with periods of days and blocks of up to 12 days (still stored exactly),
/// every verdict equals `check_state` over a plain map.
#[test]
fn decides_exactly_like_the_pure_algorithm_while_the_epoch_moves() {
    let limiter = LocalLimiter::new(10_000);
    let mut model: HashMap<u64, Option<KeyState>> = HashMap::new();
    let mut rng = Rng(0xe90c);
    const DAY: u64 = 86_400_000;
    let rules = [
        (q(5, 5 * DAY), 0),
        (q(300, 2 * DAY), 12 * DAY),
        (q(4, 1000), 3 * DAY),
        (q(70, 60_000), 0),
    ];
    let mut now = 1_700_000_000_000;
    let mut jumps = 0;
    for step in 0..60_000 {
        now += match rng.below(100) {
            0 => {
                jumps += 1;
                rng.below(1 << 30)
            }
            1..=10 => rng.below(DAY),
            _ => rng.below(500),
        };
        let key = rng.below(200);
        let (quota, timeout) = rules[(key % 4) as usize];
        let cost = [1, 1, 2, 0, 3][rng.below(5) as usize];
        let got = limiter.check(key, now, quota, cost, timeout);
        let state = model.entry(key).or_default();
        let (want, next) = check_state(*state, now, quota, cost, timeout);
        *state = next;
        assert_eq!(got, want, "step {step}, key {key} at {now}");
    }
    assert!(jumps > 400, "{jumps}");
    // The clock ran for years: the epoch moved many times.
    assert!(now - 1_700_000_000_000 > 200 * (1 << 30));
}

#[test]
fn a_burst_then_denial_with_retry() {
    let limiter = LocalLimiter::new(1000);
    for i in 0..5 {
        let v = limiter.check(7, 0, q(5, 1000), 1, 0);
        assert!(v.allowed);
        assert_eq!(v.remaining, 4 - i);
    }
    // 20 slices of 50 ms: the burst's slice leaves the window at 1050.
    assert_eq!(
        limiter.check(7, 0, q(5, 1000), 1, 0),
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 1050,
            retry_after_ms: Some(1050)
        }
    );
    assert!(!limiter.check(7, 1049, q(5, 1000), 1, 0).allowed);
    assert!(limiter.check(7, 1050, q(5, 1000), 5, 0).allowed);
    // Another key is untouched.
    assert_eq!(limiter.check(8, 0, q(5, 1000), 1, 0).remaining, 4);
}

#[test]
fn mitigation_timeout_start_and_end() {
    let limiter = LocalLimiter::new(1000);
    let quota = q(2, 1000);
    assert!(limiter.check(1, 0, quota, 1, 60_000).allowed);
    assert!(limiter.check(1, 0, quota, 1, 60_000).allowed);
    let v = limiter.check(1, 10, quota, 1, 60_000);
    assert_eq!((v.allowed, v.retry_after_ms), (false, Some(60_000)));
    // Blocked, and the counter frozen, through the whole minute.
    for t in [1000, 30_000, 60_009] {
        let v = limiter.check(1, t, quota, 1, 60_000);
        assert_eq!((v.allowed, v.retry_after_ms), (false, Some(60_010 - t)));
        assert_eq!(v.remaining, 0);
    }
    // A sweep during the block keeps it.
    limiter.sweep(59_000);
    assert_eq!(limiter.stats().tracked, 1);
    let v = limiter.check(1, 60_010, quota, 1, 60_000);
    assert_eq!((v.allowed, v.remaining), (true, 1));
}

#[test]
fn a_forgotten_key_starts_afresh_even_mid_block() {
    let limiter = LocalLimiter::new(1000);
    let quota = q(2, 1000);
    for _ in 0..2 {
        assert!(limiter.check(1, 0, quota, 1, 60_000).allowed);
    }
    assert!(!limiter.check(1, 10, quota, 1, 60_000).allowed);
    assert!(
        !limiter.check(2, 10, quota, 3, 0).allowed,
        "another key, over by its cost"
    );
    assert!(limiter.forget(1));
    assert!(!limiter.forget(1), "already gone");
    let v = limiter.check(1, 20, quota, 1, 60_000);
    assert_eq!((v.allowed, v.remaining), (true, 1));
    assert_eq!(limiter.stats().tracked, 1);
}

#[test]
fn idle_keys_are_dropped_by_sweep() {
    let limiter = LocalLimiter::new(1000);
    let quota = q(10, 1000);
    for key in 0..100 {
        limiter.check(key, 0, quota, 1, 0);
    }
    assert_eq!(limiter.stats().tracked, 100);
    // 15 slices of 66⅔ ms: slice 0 leaves the window at 1067; not idle at 1066, idle at 1067.
    limiter.sweep(1066);
    assert_eq!(limiter.stats().tracked, 100);
    limiter.sweep(1067);
    let stats = limiter.stats();
    assert_eq!((stats.tracked, stats.expired, stats.evicted), (0, 100, 0));
    // A forgotten key is simply fresh.
    assert_eq!(limiter.check(5, 1067, quota, 1, 0).remaining, 9);
}

#[test]
fn an_idle_key_asked_at_cost_zero_is_forgotten() {
    let limiter = LocalLimiter::new(1000);
    limiter.check(1, 0, q(10, 1000), 1, 0);
    let v = limiter.check(1, 500, q(10, 1000), 0, 0);
    assert_eq!((v.allowed, v.remaining), (true, 9));
    assert_eq!(limiter.stats().tracked, 1);
    let v = limiter.check(1, 1100, q(10, 1000), 0, 0);
    assert_eq!((v.allowed, v.remaining), (true, 10));
    let stats = limiter.stats();
    assert_eq!((stats.tracked, stats.expired), (0, 1));
    // And a cost-0 ask about a key never seen stores nothing.
    limiter.check(2, 1100, q(10, 1000), 0, 0);
    assert_eq!(limiter.stats().tracked, 0);
}

#[test]
fn inserting_new_keys_sweeps_idle_ones_without_a_timer() {
    let limiter = LocalLimiter::new(1_000_000);
    let quota = q(10, 1000);
    for key in 0..10_000 {
        limiter.check(key, 0, quota, 1, 0);
    }
    // Much later, as many new keys: the incremental sweep finds the old ones idle.
    for key in 10_000..20_000 {
        limiter.check(key, 5000, quota, 1, 0);
    }
    let stats = limiter.stats();
    assert!(
        stats.expired >= 9_000,
        "only {} idle keys dropped",
        stats.expired
    );
    assert!(stats.tracked <= 11_000);
}

#[test]
fn the_cap_holds_and_evictions_are_counted() {
    let limiter = LocalLimiter::new(100);
    let quota = q(5, 60_000);
    for key in 0..10_000 {
        let v = limiter.check(key, 1000 + key / 100, quota, 1, 0);
        assert!(v.allowed);
        assert!(limiter.stats().tracked <= 100);
    }
    let stats = limiter.stats();
    assert_eq!(stats.tracked, 100);
    assert_eq!(stats.evicted + stats.expired, 10_000 - 100);
    assert!(stats.evicted > 9_000, "{stats:?}");
}

#[test]
fn the_cap_is_split_exactly_over_the_shards() {
    // 5000 keys: four shards of 1250.
    let limiter = LocalLimiter::new(5000);
    for key in 0..40_000 {
        limiter.check(key, 0, q(5, 60_000), 1, 0);
    }
    assert_eq!(limiter.stats().tracked, 5000);
    assert_eq!(limiter.max_keys(), 5000);
}

#[test]
fn limited_keys_survive_a_flood_of_new_keys() {
    let limiter = LocalLimiter::new(100);
    let quota = q(5, 60_000);
    // Ten clients that have spent their whole burst.
    let limited: Vec<u64> = (1_000_000..1_000_010).collect();
    for &key in &limited {
        for _ in 0..5 {
            assert!(limiter.check(key, 0, quota, 1, 0).allowed);
        }
    }
    // A flood of one-request keys, ten thousand of them, over ten seconds.
    for key in 0..10_000 {
        limiter.check(key, key, quota, 1, 0);
    }
    assert!(limiter.stats().evicted > 9_000);
    // The limited clients are still limited: nothing forgave them.
    for &key in &limited {
        let v = limiter.check(key, 10_000, quota, 1, 0);
        assert!(!v.allowed, "key {key} was evicted and came back fresh");
    }
}

#[test]
fn blocked_keys_are_evicted_last() {
    let limiter = LocalLimiter::new(100);
    // Five keys blocked for 10 s by a fast rule: their state is idle at 10 s.
    let fast = q(1, 100);
    let blocked: Vec<u64> = (1_000_000..1_000_005).collect();
    for &key in &blocked {
        assert!(limiter.check(key, 0, fast, 1, 10_000).allowed);
        assert!(!limiter.check(key, 0, fast, 1, 10_000).allowed);
    }
    // Flood keys under a slow rule hold information far longer (counts for an hour), yet they
    // are the ones evicted.
    let slow = q(1, 3_600_000);
    for key in 0..10_000 {
        limiter.check(key, 1, slow, 1, 0);
    }
    for &key in &blocked {
        let v = limiter.check(key, 2, fast, 1, 10_000);
        assert_eq!(
            (v.allowed, v.retry_after_ms),
            (false, Some(9_998)),
            "key {key}"
        );
    }
}

#[test]
fn a_full_shard_drops_idle_keys_before_evicting() {
    let limiter = LocalLimiter::new(100);
    let quota = q(10, 1000);
    for key in 0..100 {
        limiter.check(key, 0, quota, 1, 0);
    }
    // At 1100 every one of them is idle: new keys take their places without an eviction.
    for key in 100..200 {
        limiter.check(key, 1100, quota, 1, 0);
    }
    let stats = limiter.stats();
    assert_eq!((stats.tracked, stats.evicted, stats.expired), (100, 0, 100));
}

#[test]
fn a_clock_stepped_back_is_read_as_the_last_time_seen() {
    let limiter = LocalLimiter::new(1000);
    let quota = q(2, 1000);
    assert!(limiter.check(1, 1000, quota, 1, 0).allowed);
    assert!(limiter.check(1, 1000, quota, 1, 0).allowed);
    // Back to 0: decided as at 1000 (31 slices; slice 31 leaves at 2033), waits counted from
    // then, not from the earlier clock.
    assert_eq!(
        limiter.check(1, 0, quota, 1, 0),
        Verdict {
            allowed: false,
            remaining: 0,
            reset_after_ms: 1033,
            retry_after_ms: Some(1033)
        }
    );
    assert!(!limiter.check(1, 1500, quota, 1, 0).allowed);
    assert!(limiter.check(1, 2033, quota, 2, 0).allowed);
}

#[test]
fn concurrent_checks_on_one_key_admit_exactly_the_limit() {
    let limiter = LocalLimiter::new(10_000);
    let quota = q(100, 60_000);
    let allowed: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..1000)
                        .filter(|_| limiter.check(42, 5, quota, 1, 0).allowed)
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    assert_eq!(allowed, 100);
}

#[test]
fn a_tracked_key_costs_at_most_32_bytes() {
    let limiter = LocalLimiter::new(1_000_000);
    let mut rng = Rng(0xb17e);
    let quota = q(100, 60_000);
    for n in 1..=200_000usize {
        limiter.check(rng.next(), 0, quota, 1, 0);
        if n % 25_000 == 0 {
            let stats = limiter.stats();
            assert_eq!(stats.tracked, n);
            let per_key = stats.memory_bytes as f64 / n as f64;
            assert!(per_key <= 32.0, "{per_key:.1} bytes per key at {n} keys");
        }
    }
}

#[test]
fn memory_is_given_back_after_a_flood() {
    let limiter = LocalLimiter::new(1_000_000);
    for key in 0..100_000 {
        limiter.check(key, 0, q(10, 1000), 1, 0);
    }
    let before = limiter.stats().memory_bytes;
    limiter.sweep(1067);
    let after = limiter.stats();
    assert_eq!(after.tracked, 0);
    assert!(
        after.memory_bytes * 100 < before,
        "{} bytes left of {before}",
        after.memory_bytes
    );
}

#[test]
#[should_panic(expected = "at least one key")]
fn a_cap_of_zero_is_refused() {
    let _ = LocalLimiter::new(0);
}
