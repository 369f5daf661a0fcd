//! The shared limiter's log during a Redis outage, against a real `redis-server` on 127.0.0.1:
//! one warning when it goes, one line when it is back.
//!
//! A test binary of its own: tracing caches per call site whether anyone listens, and a call site
//! first reached by another test's thread (with no subscriber) while this test installs its
//! thread-local one could be cached as "nobody", losing a line now and then. Alone in its
//! process, the only subscriber is this test's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use doorman_limit::LocalLimiter;
use doorman_limit_redis::{
    FailMode, Outcome, Quota, RedisLimiter, RedisOptions, SharedLimiter, SharedOptions,
};
use doorman_test_support::redis::RedisServer;

/// A failure deadline for reconnection, generous for a loaded machine.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(30);

/// A wall-clock-like starting time (2027-01-15), well inside the exact range of Lua doubles.
const T0: u64 = 1_800_000_000_000;

async fn connect(server: &RedisServer) -> RedisLimiter {
    let options = RedisOptions {
        // Loaded CI machines can take a while to schedule the server.
        call_timeout: Duration::from_secs(2),
        ..RedisOptions::default()
    };
    RedisLimiter::connect(&server.url(), options)
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

/// Log lines captured from `tracing` for one test (the test runs on one thread, so a thread-local
/// default subscriber sees exactly this test's events).
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines_containing(&self, needle: &str) -> usize {
        let bytes = self.0.lock().expect("log buffer");
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }
}

#[tokio::test]
async fn an_outage_is_logged_once_per_interval_and_the_recovery_once() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut server = RedisServer::start();
    let limiter = SharedLimiter::with_options(
        connect(&server).await,
        FailMode::Open(local()),
        SharedOptions {
            // Every call probes Redis (so every call fails), but the log interval is longer than
            // the test: one warning for the whole outage.
            probe_interval: Duration::ZERO,
            log_interval: Duration::from_secs(3600),
        },
    );
    let q = quota(10, 1000);
    limiter.check("r", 1, T0, q, 1, 0).await;
    server.kill();
    for _ in 0..50 {
        limiter.check("r", 1, T0, q, 1, 0).await;
    }
    assert!(limiter.stats().redis_errors >= 50);
    assert_eq!(captured.lines_containing("Redis is unavailable"), 1);
    assert_eq!(captured.lines_containing("still unavailable"), 0);

    server.restart();
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    while !matches!(limiter.check("r", 1, T0, q, 1, 0).await, Outcome::Shared(_)) {
        assert!(
            Instant::now() < deadline,
            "no recovery within {RECOVERY_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..10 {
        limiter.check("r", 1, T0, q, 1, 0).await;
    }
    assert_eq!(captured.lines_containing("reachable again"), 1);
    let lines = String::from_utf8_lossy(&captured.0.lock().expect("log buffer")).into_owned();
    assert!(
        lines.contains("fail_mode=\"open\"") || lines.contains("fail_mode=open"),
        "{lines}"
    );
}
