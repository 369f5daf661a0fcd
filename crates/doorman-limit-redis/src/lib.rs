//! Shared rate limits for Doorman: many gateway instances enforce one limit by keeping its state
//! in Redis (or Valkey) and deciding in one atomic Lua script per request.
//!
//! - [`RedisLimiter`] runs the script (`gcra.lua`): GCRA plus the mitigation timeout, the same
//!   arithmetic as the in-process limiter, on the key `doorman:rl:<rule>:<key hash hex>`, which
//!   expires once idle. Time is the caller's (`now_ms`), see [`RedisLimiter`] for why.
//! - [`SharedLimiter`] adds the fail mode for when Redis is unreachable or slow: open (decide
//!   with an in-process [`doorman_limit::LocalLimiter`]) or closed ([`Outcome::Unavailable`]), counted in
//!   [`SharedStats`], logged at most once per interval while down and once on recovery. Recovery
//!   needs nothing: the connection manager reconnects and the next probe notices.
//!
//! Where to start: [`SharedLimiter::check`] is what the gateway calls.
#![forbid(unsafe_code)]

mod redis_limiter;
mod shared;

use std::time::Duration;

pub use doorman_limit::{Quota, Verdict};
pub use redis_limiter::{GCRA_LUA, MAX_SCRIPT_TIME_MS, RedisLimiter, RedisOptions};
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
         mitigation timeout {mitigation_timeout_ms} ms (their sum must stay below 2^52 ms)"
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
