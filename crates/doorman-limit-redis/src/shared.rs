//! [`SharedLimiter`]: the Redis limiter plus what happens when Redis is not there. The fail mode
//! is the operator's choice: *open* keeps limiting, per instance, with an in-process limiter;
//! *closed* denies with a distinct outcome the gateway turns into "the rate limiter is
//! unavailable". Either way the failure is counted, logged (rate-limited), and undone by itself
//! when Redis answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use doorman_limit::LocalLimiter;

use crate::{Quota, RedisLimitError, RedisLimiter, Verdict};

/// What to do when Redis cannot decide (unreachable, too slow, or erroring).
#[derive(Clone)]
pub enum FailMode {
    /// Keep limiting with this in-process limiter, which applies the same formulas with its own
    /// state. Requests keep flowing, but limits become per instance until Redis is back: N
    /// instances admit up to N times the limit. (The limiter may be the one the gateway uses for
    /// its local rules: keys are kept apart by rule, see [`SharedLimiter::check`].)
    Open(Arc<LocalLimiter>),
    /// Deny every request the limit applies to with [`Outcome::Unavailable`]. For limits that
    /// protect something expensive, where letting traffic through unmetered is worse than
    /// refusing it.
    Closed,
}

impl FailMode {
    /// `open` or `closed`, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            FailMode::Open(_) => "open",
            FailMode::Closed => "closed",
        }
    }
}

impl std::fmt::Debug for FailMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of one [`SharedLimiter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Redis decided: the limit is shared by every instance.
    Shared(Verdict),
    /// Redis could not decide and the fail mode is open: the in-process limiter decided.
    Local(Verdict),
    /// Redis could not decide and the fail mode is closed: deny, and say that the rate limiter
    /// (not the client) is the problem.
    Unavailable,
}

impl Outcome {
    /// Whether the request may pass.
    pub fn allowed(&self) -> bool {
        match self {
            Outcome::Shared(verdict) | Outcome::Local(verdict) => verdict.allowed,
            Outcome::Unavailable => false,
        }
    }

    /// The verdict behind the outcome, when there is one.
    pub fn verdict(&self) -> Option<&Verdict> {
        match self {
            Outcome::Shared(verdict) | Outcome::Local(verdict) => Some(verdict),
            Outcome::Unavailable => None,
        }
    }
}

/// How a [`SharedLimiter`] watches Redis's health.
#[derive(Debug, Clone)]
pub struct SharedOptions {
    /// While Redis is known to be down, at most one call per this interval tries it (the
    /// others go straight to the fail mode). Without this every request would wait out the call
    /// timeout during an outage where Redis stops answering. Default 200 ms: also the longest a
    /// recovered Redis goes unnoticed, beyond its reconnection.
    pub probe_interval: Duration,
    /// While Redis is down, a warning is logged at most once per this interval. Default 10 s.
    pub log_interval: Duration,
}

impl Default for SharedOptions {
    fn default() -> Self {
        SharedOptions {
            probe_interval: Duration::from_millis(200),
            log_interval: Duration::from_secs(10),
        }
    }
}

/// Counters of a [`SharedLimiter`], for metrics. All are totals since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SharedStats {
    /// Calls that asked Redis and got an error or no answer in time.
    pub redis_errors: u64,
    /// Decisions made by the in-process fallback (fail mode open).
    pub fallbacks: u64,
    /// Requests denied because Redis could not decide (fail mode closed).
    pub closed_denials: u64,
    /// Calls that did not ask Redis because it was known to be down (they are also counted as
    /// fallbacks or closed denials).
    pub skipped: u64,
    /// Whether Redis is currently considered down.
    pub redis_down: bool,
}

/// A Redis-backed rate limiter with a fail mode. Cheap to clone; clones share counters and health.
#[derive(Clone)]
pub struct SharedLimiter {
    redis: RedisLimiter,
    mode: FailMode,
    options: SharedOptions,
    health: Arc<Health>,
}

impl std::fmt::Debug for SharedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimiter")
            .field("redis", &self.redis)
            .field("mode", &self.mode)
            .field("options", &self.options)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Health of Redis as seen by one limiter, in atomics so calls never wait on each other.
/// Times are milliseconds since `origin` (a monotonic clock: the breaker must not jump with the
/// wall clock, unlike the limit arithmetic, which uses the caller's `now_ms`).
struct Health {
    origin: Instant,
    down: AtomicBool,
    /// While down: the earliest time the next probe may go to Redis.
    next_probe_ms: AtomicU64,
    down_since_ms: AtomicU64,
    last_log_ms: AtomicU64,
    /// `redis_errors` when the outage started, so the recovery log can say how many it saw.
    errors_at_down: AtomicU64,
    redis_errors: AtomicU64,
    fallbacks: AtomicU64,
    closed_denials: AtomicU64,
    skipped: AtomicU64,
}

impl SharedLimiter {
    /// Wraps `redis` with a fail mode and default health options.
    pub fn new(redis: RedisLimiter, mode: FailMode) -> SharedLimiter {
        SharedLimiter::with_options(redis, mode, SharedOptions::default())
    }

    /// Wraps `redis` with a fail mode and the given health options.
    pub fn with_options(
        redis: RedisLimiter,
        mode: FailMode,
        options: SharedOptions,
    ) -> SharedLimiter {
        SharedLimiter {
            redis,
            mode,
            options,
            health: Arc::new(Health {
                origin: Instant::now(),
                down: AtomicBool::new(false),
                next_probe_ms: AtomicU64::new(0),
                down_since_ms: AtomicU64::new(0),
                last_log_ms: AtomicU64::new(0),
                errors_at_down: AtomicU64::new(0),
                redis_errors: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
                closed_denials: AtomicU64::new(0),
                skipped: AtomicU64::new(0),
            }),
        }
    }

    /// The fail mode.
    pub fn fail_mode(&self) -> &FailMode {
        &self.mode
    }

    /// The Redis limiter underneath.
    pub fn redis(&self) -> &RedisLimiter {
        &self.redis
    }

    /// The counters so far.
    pub fn stats(&self) -> SharedStats {
        let health = &self.health;
        SharedStats {
            redis_errors: health.redis_errors.load(Ordering::Relaxed),
            fallbacks: health.fallbacks.load(Ordering::Relaxed),
            closed_denials: health.closed_denials.load(Ordering::Relaxed),
            skipped: health.skipped.load(Ordering::Relaxed),
            redis_down: health.down.load(Ordering::Relaxed),
        }
    }

    /// Decides one request: through Redis when it answers, otherwise by the fail mode. Never
    /// fails and never waits longer than the Redis call timeout. The arguments are those of
    /// [`RedisLimiter::check`].
    ///
    /// In fail mode open, the local limiter gets `key` mixed with a hash of `rule`, so that two
    /// rules never share a local budget even if `key` was hashed from the characteristics alone
    /// (in Redis the rule is part of the key name).
    pub async fn check(
        &self,
        rule: &str,
        key: u64,
        now_ms: u64,
        quota: Quota,
        cost: u32,
        mitigation_timeout_ms: u64,
    ) -> Outcome {
        let health = &self.health;
        let t = health.now_ms();
        if health.down.load(Ordering::Acquire) && !self.claim_probe(t) {
            health.skipped.fetch_add(1, Ordering::Relaxed);
            return self.fail(rule, key, now_ms, quota, cost, mitigation_timeout_ms);
        }
        match self
            .redis
            .check(rule, key, now_ms, quota, cost, mitigation_timeout_ms)
            .await
        {
            Ok(verdict) => {
                self.note_success();
                Outcome::Shared(verdict)
            }
            Err(RedisLimitError::OutOfRange { .. }) => {
                // The arguments, not Redis, are at fault: the local limiter has to cope with
                // them too, and Redis's health is unchanged.
                self.fail(rule, key, now_ms, quota, cost, mitigation_timeout_ms)
            }
            Err(error) => {
                self.note_failure(&error);
                self.fail(rule, key, now_ms, quota, cost, mitigation_timeout_ms)
            }
        }
    }

    /// While down, lets exactly one caller per probe interval through to Redis.
    fn claim_probe(&self, t: u64) -> bool {
        let health = &self.health;
        let next = health.next_probe_ms.load(Ordering::Acquire);
        t >= next
            && health
                .next_probe_ms
                .compare_exchange(
                    next,
                    t + duration_ms(self.options.probe_interval),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    fn fail(
        &self,
        rule: &str,
        key: u64,
        now_ms: u64,
        quota: Quota,
        cost: u32,
        mitigation_timeout_ms: u64,
    ) -> Outcome {
        match &self.mode {
            FailMode::Open(local) => {
                self.health.fallbacks.fetch_add(1, Ordering::Relaxed);
                let key = key ^ fnv1a(rule.as_bytes());
                Outcome::Local(local.check(key, now_ms, quota, cost, mitigation_timeout_ms))
            }
            FailMode::Closed => {
                self.health.closed_denials.fetch_add(1, Ordering::Relaxed);
                Outcome::Unavailable
            }
        }
    }

    fn note_failure(&self, error: &RedisLimitError) {
        let health = &self.health;
        let errors = health.redis_errors.fetch_add(1, Ordering::Relaxed) + 1;
        let t = health.now_ms();
        health.next_probe_ms.store(
            t + duration_ms(self.options.probe_interval),
            Ordering::Release,
        );
        if !health.down.swap(true, Ordering::AcqRel) {
            health.down_since_ms.store(t, Ordering::Relaxed);
            health.errors_at_down.store(errors - 1, Ordering::Relaxed);
            health.last_log_ms.store(t, Ordering::Relaxed);
            tracing::warn!(
                %error,
                fail_mode = self.mode.name(),
                "shared rate limiter: Redis is unavailable; {}",
                match self.mode {
                    FailMode::Open(_) => "limits are enforced per instance until it is back",
                    FailMode::Closed => "rate-limited requests are denied until it is back",
                }
            );
            return;
        }
        let last = health.last_log_ms.load(Ordering::Relaxed);
        if t.saturating_sub(last) >= duration_ms(self.options.log_interval)
            && health
                .last_log_ms
                .compare_exchange(last, t, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let since = health.down_since_ms.load(Ordering::Relaxed);
            tracing::warn!(
                %error,
                fail_mode = self.mode.name(),
                down_for_ms = t.saturating_sub(since),
                errors = errors - health.errors_at_down.load(Ordering::Relaxed),
                "shared rate limiter: Redis is still unavailable"
            );
        }
    }

    fn note_success(&self) {
        let health = &self.health;
        if health.down.swap(false, Ordering::AcqRel) {
            let t = health.now_ms();
            let since = health.down_since_ms.load(Ordering::Relaxed);
            let errors = health.redis_errors.load(Ordering::Relaxed)
                - health.errors_at_down.load(Ordering::Relaxed);
            tracing::info!(
                down_for_ms = t.saturating_sub(since),
                errors,
                "shared rate limiter: Redis is reachable again; limits are shared again"
            );
        }
    }
}

impl Health {
    fn now_ms(&self) -> u64 {
        duration_ms(self.origin.elapsed())
    }
}

/// FNV-1a, 64 bits: a fixed, dependency-free hash of the rule id (not secret: the key it is
/// mixed into is already the caller's hash).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
