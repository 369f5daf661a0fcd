//! Shared rate limits for Doorman: many gateway instances enforce one limit by keeping its state
//! in Redis (or Valkey) and deciding in one atomic Lua script per request.
//!
//! - [`RedisLimiter`] runs the script (`window.lua`): the conservative sliding window plus the
//!   mitigation timeout of `doorman-limit` (at most `limit` units in any window of one period, a
//!   full burst from cold), the same steps as the in-process limiter, on the key
//!   `doorman:rl:<rule>:<key hash hex>`, which expires once idle. Time is the caller's
//!   (`now_ms`), see [`RedisLimiter`] for why.
//! - [`SharedLimiter`] adds the fail mode for when Redis is unreachable or slow: open (decide
//!   with an in-process [`doorman_limit::LocalLimiter`]) or closed ([`Outcome::Unavailable`]), counted in
//!   [`SharedStats`], logged at most once per interval while down and once on recovery. Recovery
//!   needs nothing: the connection manager reconnects and the next probe notices.
//!
//! Where to start: [`SharedLimiter::check`] is what the gateway calls.
//!
//! # Agreement with the local limiter
//! The script is a port of [`doorman_limit::check_state`] (the specification is in the
//! `doorman-limit` crate docs), with the same anchored slice arithmetic, whose products stay
//! below 2^48 and so exact in a Lua double; the state is a short string (`w <end> <bits>
//! <counts…>` or `b <until> <end> <total>`) written with one `SET … PX`. `tests/equivalence.rs`
//! compares every verdict with the Rust function on random sequences (every lane width, periods
//! up to 2^40 ms and beyond, costs beyond the limit, quota reloads that change the lane width or
//! the period, mitigation blocks, clocks stepping back); they are equal.
//!
//! # While Redis is down
//! - The connection manager makes one connection attempt per reconnection; a call that finds
//!   the connection broken starts the next one. So with Redis refusing connections a call fails
//!   at once, and with Redis unreachable or stalled it fails after `call_timeout` (50 ms).
//! - [`SharedLimiter`] then sends at most one call per `probe_interval` (200 ms) to Redis; the
//!   others go straight to the fail mode. When a probe succeeds, sharing resumes.
//! - Fail open: per-instance limits from the local limiter's own state, which starts empty (a
//!   key gets a fresh burst locally) and is not copied back to Redis when it returns.
//!
//! # Speed
//! One instance, one multiplexed connection, a local Redis 7.0 on a shared 2-core machine
//! (`cargo bench -p doorman-limit-redis`): 54 000–68 000 decisions/s with 64 calls in flight,
//! 10 000–22 000/s one at a time (the machine's other load moves these a lot). Redis spends
//! about 11 µs of its single thread per decision (`INFO commandstats`), of which a GET and a
//! SET take 1 µs and the Lua interpreter most of the rest; so one Redis core serves roughly
//! 80 000 decisions/s whatever the number of gateways. (The GCRA script this replaced took
//! about 6–8 µs.)
//!
//! # Not covered
//! Redis Cluster (the script touches one key, so it would be cluster-safe, but the connection is
//! not cluster-aware), Sentinel, TLS to Redis (`rediss://` needs a TLS feature of the `redis`
//! crate). Valkey speaks the same protocol and Lua; the tests run against `redis-server`.
#![forbid(unsafe_code)]

mod redis_limiter;
mod shared;

use std::time::Duration;

pub use doorman_limit::{Quota, Verdict};
pub use redis_limiter::{MAX_SCRIPT_TIME_MS, RedisLimiter, RedisOptions, WINDOW_LUA};
pub use shared::{FailMode, Outcome, SharedLimiter, SharedOptions, SharedStats};

/// Why the Redis limiter could not decide.
#[derive(Debug, thiserror::Error)]
pub enum RedisLimitError {
    /// The URL could not be parsed.
    #[error("invalid Redis URL {url}: {source} (expected redis://[user:password@]host:port/db)")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What the client said.
        source: redis::RedisError,
    },
    /// The first connection failed.
    #[error("cannot connect to Redis at {url}: {source} (is it running and reachable from here?)")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// What the client said.
        source: redis::RedisError,
    },
    /// The first connection did not complete in time.
    #[error(
        "cannot connect to Redis at {url}: no connection within {after:?} (is it reachable from here?)"
    )]
    ConnectTimeout {
        /// The URL, password redacted.
        url: String,
        /// The connect timeout.
        after: Duration,
    },
    /// Redis did not answer within the call timeout.
    #[error("Redis did not answer within {0:?} (raise the call timeout if Redis is remote)")]
    Timeout(Duration),
    /// The command failed: connection lost, server error, script error.
    #[error("Redis rate limit script failed: {0}")]
    Redis(#[from] redis::RedisError),
    /// The script answered something other than four integers.
    #[error("the Redis rate limit script returned an unexpected reply {0}")]
    BadReply(String),
    /// The times are too large for exact arithmetic in Redis Lua (doubles, 53-bit integers).
    #[error(
        "time values out of range for the Redis script: now {now_ms} ms, period {period_ms} ms, \
         mitigation timeout {mitigation_timeout_ms} ms (now + 2 × period + timeout must stay \
         below 2^52 ms)"
    )]
    OutOfRange {
        /// The caller's clock.
        now_ms: u64,
        /// The quota's period.
        period_ms: u64,
        /// The mitigation timeout.
        mitigation_timeout_ms: u64,
    },
}
