//! The shared limiter against a real `redis-server` on 127.0.0.1 (started per test on a free
//! port, killed at the end): sharing between instances, key expiry, the fail modes when Redis is
//! killed or stalls, and recovery when it comes back on the same port.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use doorman_limit::LocalLimiter;
use doorman_limit_redis::{
    FailMode, Outcome, Quota, RedisLimitError, RedisLimiter, RedisOptions, SharedLimiter,
    SharedOptions, Verdict,
};
use doorman_test_support::redis::RedisServer;

/// A failure deadline for things that happen "soon" (reconnection), generous for a loaded
/// machine. Tests never assert that anything is fast.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(30);

/// A wall-clock-like starting time (2027-01-15), well inside the exact range of Lua doubles.
const T0: u64 = 1_800_000_000_000;

fn options() -> RedisOptions {
    RedisOptions {
        // Loaded CI machines can take a while to schedule the server; the default 50 ms would
        // make "Redis answered" flaky without testing anything more.
        call_timeout: Duration::from_secs(2),
        ..RedisOptions::default()
    }
}

async fn connect(server: &RedisServer) -> RedisLimiter {
    RedisLimiter::connect(&server.url(), options())
        .await
        .expect("connect to the test redis-server")
}

fn quota(limit: u32, period_ms: u64) -> Quota {
    Quota { limit, period_ms }
}

/// The in-process limiter the open fail mode falls back to.
fn local() -> Arc<LocalLimiter> {
    Arc::new(LocalLimiter::new(10_000))
}

#[tokio::test]
async fn a_burst_of_limit_passes_then_the_key_is_denied_with_a_retry_time() {
    let server = RedisServer::start();
    let limiter = connect(&server).await;
    let q = quota(5, 1000);
    for i in 0..5 {
        let verdict = limiter.check("api", 7, T0, q, 1, 0).await.expect("check");
        assert!(verdict.allowed, "request {i} of the burst was denied");
        assert_eq!(verdict.remaining, 4 - i);
    }
    let denied = limiter.check("api", 7, T0, q, 1, 0).await.expect("check");
    assert!(!denied.allowed);
    // 20 slices of 50 ms: the burst counts until its slice leaves the window, 1050 ms later.
    assert_eq!(denied.retry_after_ms, Some(1050));
    assert_eq!(denied.reset_after_ms, 1050);
    // Another key and another rule have their own budgets.
    assert!(
        limiter
            .check("api", 8, T0, q, 1, 0)
            .await
            .expect("check")
            .allowed
    );
    assert!(
        limiter
            .check("login", 7, T0, q, 1, 0)
            .await
            .expect("check")
            .allowed
    );
    // A millisecond before the advertised wait nothing passes; after it, a full burst.
    assert!(
        !limiter
            .check("api", 7, T0 + 1049, q, 1, 0)
            .await
            .expect("check")
            .allowed
    );
    let later = limiter
        .check("api", 7, T0 + 1050, q, 5, 0)
        .await
        .expect("check");
    assert!(later.allowed);
}

#[tokio::test]
async fn forgetting_a_key_ends_its_block_for_every_instance() {
    let server = RedisServer::start();
    let a = connect(&server).await;
    let b = connect(&server).await;
    let q = quota(2, 1000);
    for _ in 0..2 {
        assert!(
            a.check("login", 9, T0, q, 1, 60_000)
                .await
                .expect("check")
                .allowed
        );
    }
    assert!(
        !a.check("login", 9, T0, q, 1, 60_000)
            .await
            .expect("check")
            .allowed
    );
    assert!(
        !b.check("login", 9, T0 + 5, q, 1, 60_000)
            .await
            .expect("check")
            .allowed
    );
    a.forget("login", 9).await.expect("forget");
    let v = b
        .check("login", 9, T0 + 10, q, 1, 60_000)
        .await
        .expect("check");
    assert_eq!((v.allowed, v.remaining), (true, 1));
}

#[tokio::test]
async fn keys_get_a_ttl_so_idle_keys_vanish() {
    let server = RedisServer::start();
    let limiter = connect(&server).await; // default expiry margin: 1 s
    let pttl = |key: &str| -> i64 {
        server
            .command(&["PTTL", key])
            .trim_start_matches(':')
            .parse()
            .expect("PTTL is an integer")
    };

    // 10 per 10 minutes: 15 slices of 40 s; one request at T0 (a slice start) counts until its
    // slice leaves the window, 640 s later. The key is idle (holds no information) from then,
    // and lives 1 s longer as a margin for clock skew.
    limiter
        .check("api", 0xabc, T0, quota(10, 600_000), 1, 0)
        .await
        .expect("check");
    let key = limiter.redis_key("api", 0xabc);
    assert_eq!(key, "doorman:rl:api:0000000000000abc");
    let ttl = pttl(&key);
    // -1 would mean "no expiry" (a leak), -2 "no key". A TTL only counts down, so the upper
    // bound is exact; the lower one leaves 30 s for a slow machine.
    assert!(ttl <= 641_000, "PTTL of {key} is {ttl}");
    assert!(ttl > 611_000, "PTTL of {key} is {ttl}");

    // A blocked key lives as long as its block (plus the margin), not just its counts.
    let q = quota(1, 1000);
    limiter
        .check("login", 1, T0, q, 1, 600_000)
        .await
        .expect("check");
    let blocked = limiter
        .check("login", 1, T0, q, 1, 600_000)
        .await
        .expect("check");
    assert!(!blocked.allowed);
    assert_eq!(blocked.retry_after_ms, Some(600_000));
    let key = limiter.redis_key("login", 1);
    let ttl = pttl(&key);
    assert!(ttl <= 601_000, "PTTL of {key} is {ttl}");
    assert!(
        ttl > 571_000,
        "PTTL of {key} is {ttl}: shorter than the 600 s block"
    );

    // A request of cost 0 on an unseen key stores nothing.
    let zero = limiter.check("peek", 2, T0, q, 0, 0).await.expect("check");
    assert!(zero.allowed);
    assert_eq!(
        server.command(&["EXISTS", &limiter.redis_key("peek", 2)]),
        ":0"
    );
}

#[tokio::test]
async fn two_instances_share_one_limit_under_concurrency() {
    let server = RedisServer::start();
    // Two connection managers, as two gateway processes would have.
    let a = connect(&server).await;
    let b = connect(&server).await;
    let limit = 50;
    let q = quota(limit, 10_000);
    let allowed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..16 {
        let limiter = if task % 2 == 0 { a.clone() } else { b.clone() };
        let allowed = allowed.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                let verdict = limiter
                    .check("shared", 1, T0, q, 1, 0)
                    .await
                    .expect("check");
                if verdict.allowed {
                    allowed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    // 320 concurrent attempts at one instant: exactly the burst passes, whichever instance
    // asked, because each decision is one atomic script.
    assert_eq!(allowed.load(Ordering::Relaxed), u64::from(limit));
}

#[tokio::test]
async fn two_instances_flooding_one_cold_key_for_a_period_admit_exactly_the_limit() {
    let server = RedisServer::start();
    let a = connect(&server).await;
    let b = connect(&server).await;
    let limit = 20u32;
    let period_ms = 4000u64;
    let q = quota(limit, period_ms);
    // A shared clock that advances 1 ms per call, read before each call, over less than one
    // period: concurrent calls reach Redis out of clock order, as they would from two gateway
    // processes. The burst at the start is all that passes: nothing leaves the window within
    // the period.
    let clock = Arc::new(AtomicU64::new(T0 + 17));
    let allowed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..8 {
        let limiter = if task % 2 == 0 { a.clone() } else { b.clone() };
        let (clock, allowed) = (clock.clone(), allowed.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..400 {
                let now = clock.fetch_add(1, Ordering::Relaxed);
                if limiter
                    .check("flood", 1, now, q, 1, 0)
                    .await
                    .expect("check")
                    .allowed
                {
                    allowed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert!(clock.load(Ordering::Relaxed) - T0 - 17 < period_ms);
    assert_eq!(allowed.load(Ordering::Relaxed), u64::from(limit));
}

#[tokio::test]
async fn two_instances_over_many_periods_never_exceed_the_limit_in_any_period() {
    let server = RedisServer::start();
    let a = connect(&server).await;
    let b = connect(&server).await;
    let limit = 20u32;
    let period_ms = 1000u64;
    let q = quota(limit, period_ms);
    // Alternating instances, a clock moving 0–9 ms per call over ten periods, costs 1–3: every
    // window of one period holds at most the limit, and the key is not starved either (at least
    // the limit every period plus one slice, 1000 + 91 ms).
    let mut allowed: Vec<(u64, u64)> = Vec::new();
    let mut now = T0 + 3;
    let mut x = 7u64;
    while now < T0 + 10 * period_ms {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let cost = 1 + (x >> 62) as u32 % 3;
        let limiter = if x >> 61 & 1 == 0 { &a } else { &b };
        if limiter
            .check("periods", 1, now, q, cost, 0)
            .await
            .expect("check")
            .allowed
        {
            allowed.push((now, u64::from(cost)));
        }
        now += (x >> 40) % 10;
    }
    for (i, &(start, _)) in allowed.iter().enumerate() {
        let units: u64 = allowed[i..]
            .iter()
            .take_while(|&&(t, _)| t < start + period_ms)
            .map(|&(_, c)| c)
            .sum();
        assert!(
            units <= u64::from(limit),
            "{units} units in [{start}, +{period_ms})"
        );
    }
    let total: u64 = allowed.iter().map(|&(_, c)| c).sum();
    assert!(
        total >= 9 * u64::from(limit - 2),
        "only {total} units in ten periods"
    );
}

#[tokio::test]
async fn fail_open_decides_locally_while_redis_is_down_and_shares_again_after_restart() {
    let mut server = RedisServer::start();
    let fallback = local();
    let limiter = SharedLimiter::with_options(
        connect(&server).await,
        FailMode::Open(fallback.clone()),
        SharedOptions {
            probe_interval: Duration::from_millis(20),
            ..SharedOptions::default()
        },
    );
    let q = quota(3, 60_000);
    for _ in 0..3 {
        assert!(matches!(
            limiter.check("r", 1, T0, q, 1, 0).await,
            Outcome::Shared(Verdict { allowed: true, .. })
        ));
    }
    assert!(matches!(
        limiter.check("r", 1, T0, q, 1, 0).await,
        Outcome::Shared(Verdict { allowed: false, .. })
    ));

    server.kill();
    // The local limiter applies the same quota from its own (fresh) state: the key gets a new
    // burst of 3 on this instance, then is denied.
    for i in 0..20 {
        let outcome = limiter.check("r", 1, T0, q, 1, 0).await;
        match outcome {
            Outcome::Local(verdict) => assert_eq!(verdict.allowed, i < 3, "call {i}: {verdict:?}"),
            other => panic!("call {i} with Redis down: {other:?}"),
        }
    }
    let stats = limiter.stats();
    assert!(stats.redis_down);
    assert!(stats.redis_errors >= 1);
    assert_eq!(stats.fallbacks, 20);
    assert_eq!(stats.closed_denials, 0);
    assert_eq!(fallback.stats().tracked, 1);

    // Same port, empty server (no persistence), empty script cache: the connection manager
    // reconnects, the script is loaded again on NOSCRIPT, and limits are shared again.
    server.restart();
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    let outcome = loop {
        let outcome = limiter.check("r", 1, T0, q, 1, 0).await;
        if matches!(outcome, Outcome::Shared(_)) || Instant::now() >= deadline {
            break outcome;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        matches!(
            outcome,
            Outcome::Shared(Verdict {
                allowed: true,
                remaining: 2,
                ..
            })
        ),
        "after restart: {outcome:?}"
    );
    assert!(!limiter.stats().redis_down);
    // And a second instance sees the same (new) state.
    let other = connect(&server).await;
    let verdict = other.check("r", 1, T0, q, 1, 0).await.expect("check");
    assert_eq!(verdict.remaining, 1);
}

#[tokio::test]
async fn fail_closed_denies_with_a_distinct_outcome_and_recovers() {
    let mut server = RedisServer::start();
    let limiter = SharedLimiter::with_options(
        connect(&server).await,
        FailMode::Closed,
        SharedOptions {
            probe_interval: Duration::from_millis(20),
            ..SharedOptions::default()
        },
    );
    let q = quota(100, 60_000);
    assert!(matches!(
        limiter.check("r", 1, T0, q, 1, 0).await,
        Outcome::Shared(_)
    ));
    server.kill();
    for _ in 0..10 {
        let outcome = limiter.check("r", 1, T0, q, 1, 0).await;
        assert_eq!(outcome, Outcome::Unavailable);
        assert!(!outcome.allowed());
        assert!(outcome.verdict().is_none());
    }
    let stats = limiter.stats();
    assert_eq!(stats.closed_denials, 10);
    assert_eq!(stats.fallbacks, 0);
    assert!(stats.redis_errors >= 1);

    server.restart();
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    while limiter.check("r", 1, T0, q, 1, 0).await == Outcome::Unavailable {
        assert!(
            Instant::now() < deadline,
            "no recovery within {RECOVERY_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!limiter.stats().redis_down);
}

#[tokio::test]
async fn a_stalled_redis_times_out_into_the_fail_mode_instead_of_stalling_requests() {
    let server = RedisServer::start();
    let redis = RedisLimiter::connect(
        &server.url(),
        RedisOptions {
            call_timeout: Duration::from_millis(50),
            ..RedisOptions::default()
        },
    )
    .await
    .expect("connect");
    let limiter = SharedLimiter::with_options(
        redis.clone(),
        FailMode::Open(local()),
        SharedOptions {
            probe_interval: Duration::from_millis(20),
            ..SharedOptions::default()
        },
    );
    let q = quota(100, 60_000);
    // Warm up (the script gets loaded) with a generous wait: we only want a working baseline.
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    while !matches!(limiter.check("r", 1, T0, q, 1, 0).await, Outcome::Shared(_)) {
        assert!(Instant::now() < deadline, "Redis never answered");
    }

    server.pause();
    match redis.check("r", 1, T0, q, 1, 0).await {
        Err(RedisLimitError::Timeout(after)) => assert_eq!(after, Duration::from_millis(50)),
        other => panic!("a paused Redis should time out, got {other:?}"),
    }
    for _ in 0..5 {
        assert!(matches!(
            limiter.check("r", 1, T0, q, 1, 0).await,
            Outcome::Local(_)
        ));
    }
    assert!(limiter.stats().redis_errors >= 1);
    assert_eq!(limiter.stats().fallbacks, 5);

    server.resume();
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    while !matches!(limiter.check("r", 1, T0, q, 1, 0).await, Outcome::Shared(_)) {
        assert!(
            Instant::now() < deadline,
            "no recovery within {RECOVERY_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn while_redis_is_down_most_calls_do_not_wait_for_it() {
    let mut server = RedisServer::start();
    let limiter = SharedLimiter::with_options(
        connect(&server).await,
        FailMode::Closed,
        SharedOptions {
            // Longer than the test: after the first failure no call may reach Redis.
            probe_interval: Duration::from_secs(3600),
            ..SharedOptions::default()
        },
    );
    let q = quota(10, 1000);
    assert!(matches!(
        limiter.check("r", 1, T0, q, 1, 0).await,
        Outcome::Shared(_)
    ));
    server.kill();
    for _ in 0..100 {
        assert_eq!(
            limiter.check("r", 1, T0, q, 1, 0).await,
            Outcome::Unavailable
        );
    }
    let stats = limiter.stats();
    assert_eq!(stats.redis_errors, 1, "{stats:?}");
    assert_eq!(stats.skipped, 99, "{stats:?}");
    assert_eq!(stats.closed_denials, 100, "{stats:?}");
}

#[tokio::test]
async fn connecting_to_nothing_fails_with_the_address_and_lazy_connection_does_not() {
    let port = doorman_test_support::client::free_port();
    let url = format!("redis://:secret@127.0.0.1:{port}/");
    let error = RedisLimiter::connect(&url, options())
        .await
        .expect_err("nothing listens there");
    let message = error.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("secret"), "password leaked: {message}");

    let lazy = RedisLimiter::connect_lazy(&url, options()).expect("lazy needs no server");
    assert!(lazy.check("r", 1, T0, quota(1, 1000), 1, 0).await.is_err());
    assert!(matches!(
        RedisLimiter::connect_lazy("http://nope", options()),
        Err(RedisLimitError::InvalidUrl { .. })
    ));
}
