//! [`RedisLimiter`]: one rate-limit decision is one EVALSHA of the sliding-window script in
//! `window.lua`, over a [`ConnectionManager`] (one multiplexed connection that reconnects by
//! itself), bounded by a per-call timeout so that a stalled Redis costs a request at most that
//! long.

use std::sync::LazyLock;
use std::time::Duration;

use doorman_limit::{MAX_LIMIT, MAX_PERIOD_MS};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use crate::{Quota, RedisLimitError, Verdict};

/// The sliding-window + mitigation-timeout script. Built once: `Script` hashes the source
/// (SHA-1) so every call can send EVALSHA, and falls back to SCRIPT LOAD + EVALSHA when Redis
/// answers NOSCRIPT (after a restart or SCRIPT FLUSH).
static WINDOW_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(WINDOW_LUA));

/// The Lua source of the shared limiter, exposed so operators can read exactly what runs in
/// their Redis (and tests can load it by hand).
pub const WINDOW_LUA: &str = include_str!("window.lua");

/// `now_ms + 2·period_ms + mitigation_timeout_ms` must stay below this (2^52 ms, 142 000 years).
/// Redis Lua numbers are IEEE doubles, exact for integers below 2^53; every time the script
/// handles (now, slice boundaries, end of the counts, block end) is below this sum, and every
/// product below 2^48 (see `window.lua` and the `doorman-limit` crate docs).
pub const MAX_SCRIPT_TIME_MS: u64 = 1 << 52;

/// How a [`RedisLimiter`] talks to Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// The longest one decision may wait for Redis (connecting included). Past it the call fails
    /// with [`RedisLimitError::Timeout`] and the fail mode decides. Default 50 ms: above a
    /// loopback/LAN round trip by an order of magnitude, below what a person notices.
    pub call_timeout: Duration,
    /// The longest one TCP connection attempt may take. Default 1 s.
    pub connect_timeout: Duration,
    /// How much longer than strictly needed a key lives in Redis once idle. Expiry runs on
    /// Redis's clock while the state is computed on the callers' clocks; the margin covers a
    /// small disagreement between them, so a key never vanishes while it still limits someone.
    /// Default 1 s.
    pub expiry_margin: Duration,
    /// Prefix of every key this limiter writes. Default `doorman:rl:`; change it when several
    /// Doorman deployments share one Redis.
    pub key_prefix: String,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            call_timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(1),
            expiry_margin: Duration::from_secs(1),
            key_prefix: "doorman:rl:".to_string(),
        }
    }
}

/// Rate limits shared by every gateway instance that points at the same Redis.
///
/// Each decision runs one Lua script atomically in Redis (the sliding window plus the
/// mitigation timeout, the same steps as the in-process limiter), so instances never race each
/// other on a counter. Cloning is cheap and clones share the connection.
///
/// **Time comes from the caller** (`now_ms`, Unix milliseconds), not from Redis `TIME`. That keeps
/// the shared limiter bit-for-bit equal to the local one and lets tests drive the clock; the price
/// is that all instances need synchronized clocks (NTP). A request from an instance whose clock
/// lags the key's newest slice counts in that slice (time never runs backwards for a key), so
/// the limit holds over the times the script decides at; an instance whose clock runs ahead by
/// `d` ms moves the key's slices up to `d` ms early, which makes the others wait longer, and
/// one that lags by more than the expiry margin may find an idle key already gone (a fresh
/// burst). Reading `redis.call('TIME')` inside the script would remove that dependency (Redis 5+
/// replicates scripts by effects, so it is allowed) at the cost of diverging from the local
/// limiter and of untestable clocks; it is a small change in `window.lua` if operators ask for
/// it.
#[derive(Clone)]
pub struct RedisLimiter {
    connection: ConnectionManager,
    call_timeout: Duration,
    expiry_margin_ms: u64,
    key_prefix: String,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("call_timeout", &self.call_timeout)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// Connects to Redis at `url` (`redis://[user:password@]host:port/db`) and fails if it cannot
    /// be reached within `connect_timeout`. Use [`RedisLimiter::connect_lazy`] to start a gateway
    /// while Redis is down (fail mode open), connecting on first use.
    pub async fn connect(
        url: &str,
        options: RedisOptions,
    ) -> Result<RedisLimiter, RedisLimitError> {
        let (client, config) = client_and_config(url, &options)?;
        let deadline = options.connect_timeout;
        let connection = match tokio::time::timeout(
            deadline,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        {
            Ok(Ok(connection)) => connection,
            Ok(Err(source)) => {
                return Err(RedisLimitError::Connect {
                    url: redact(url),
                    source,
                });
            }
            Err(_) => {
                return Err(RedisLimitError::ConnectTimeout {
                    url: redact(url),
                    after: deadline,
                });
            }
        };
        Ok(RedisLimiter::from_parts(connection, options))
    }

    /// Like [`RedisLimiter::connect`] but does no I/O now: the connection is made on the first
    /// [`check`](RedisLimiter::check), and until Redis answers, checks fail (and the fail mode of a
    /// [`SharedLimiter`](crate::SharedLimiter) applies). Only a malformed URL is an error here.
    pub fn connect_lazy(url: &str, options: RedisOptions) -> Result<RedisLimiter, RedisLimitError> {
        let (client, config) = client_and_config(url, &options)?;
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|source| {
                RedisLimitError::Connect {
                    url: redact(url),
                    source,
                }
            })?;
        Ok(RedisLimiter::from_parts(connection, options))
    }

    fn from_parts(connection: ConnectionManager, options: RedisOptions) -> RedisLimiter {
        RedisLimiter {
            connection,
            call_timeout: options.call_timeout,
            expiry_margin_ms: u64::try_from(options.expiry_margin.as_millis()).unwrap_or(u64::MAX),
            key_prefix: options.key_prefix,
        }
    }

    /// The Redis key that holds the state of `key` under `rule`:
    /// `<prefix><rule>:<key as 16 hex digits>`. The key is a hash of the request's
    /// characteristics (client IP, API key, …), so no personal data is written to Redis.
    pub fn redis_key(&self, rule: &str, key: u64) -> String {
        format!("{}{rule}:{key:016x}", self.key_prefix)
    }

    /// Forgets `key` under `rule` in Redis (its counts and any block), for every instance at
    /// once: lifting a ban. Fails like [`check`](Self::check) when Redis does not answer.
    pub async fn forget(&self, rule: &str, key: u64) -> Result<(), RedisLimitError> {
        let redis_key = self.redis_key(rule, key);
        let mut connection = self.connection.clone();
        let deleted: Result<i64, _> = tokio::time::timeout(
            self.call_timeout,
            redis::cmd("DEL")
                .arg(&redis_key)
                .query_async(&mut connection),
        )
        .await
        .map_err(|_| RedisLimitError::Timeout(self.call_timeout))?;
        deleted.map(|_| ()).map_err(RedisLimitError::Redis)
    }

    /// Spends `cost` units of `quota` for `key` under `rule` at `now_ms` (Unix milliseconds),
    /// atomically across every instance sharing this Redis, and says whether the request may pass.
    ///
    /// `mitigation_timeout_ms` > 0 blocks the key for that long once it first exceeds the quota;
    /// while blocked the counter does not move. The verdict is exactly what
    /// [`doorman_limit::check_state`] gives for the key's state (the script is its port), so the
    /// shared and the local limiter agree; as there, a limit above
    /// [`MAX_LIMIT`](doorman_limit::MAX_LIMIT) is read as that, a period of 0 as 1 ms and one
    /// above [`MAX_PERIOD_MS`](doorman_limit::MAX_PERIOD_MS) as that. `key` should be the same
    /// hash the local limiter gets (of the rule id and the characteristics).
    ///
    /// Fails (never panics) when Redis is unreachable, slower than the call timeout, or answers
    /// something unexpected, and when the times are beyond [`MAX_SCRIPT_TIME_MS`].
    pub async fn check(
        &self,
        rule: &str,
        key: u64,
        now_ms: u64,
        quota: Quota,
        cost: u32,
        mitigation_timeout_ms: u64,
    ) -> Result<Verdict, RedisLimitError> {
        // The Rust function reads the quota this way; the script expects it done.
        let limit = quota.limit.min(MAX_LIMIT);
        let period_ms = quota.period_ms.clamp(1, MAX_PERIOD_MS);
        check_range(now_ms, period_ms, mitigation_timeout_ms)?;
        let redis_key = self.redis_key(rule, key);
        let mut invocation = WINDOW_SCRIPT.key(&redis_key);
        invocation
            .arg(now_ms)
            .arg(limit)
            .arg(period_ms)
            .arg(cost)
            .arg(mitigation_timeout_ms)
            .arg(self.expiry_margin_ms);
        // ConnectionManager is a handle (an Arc inside): cloning it per call is how concurrent
        // callers share the one multiplexed connection without a lock.
        let mut connection = self.connection.clone();
        let reply: Vec<i64> =
            match tokio::time::timeout(self.call_timeout, invocation.invoke_async(&mut connection))
                .await
            {
                Ok(Ok(reply)) => reply,
                Ok(Err(source)) => return Err(RedisLimitError::Redis(source)),
                Err(_) => return Err(RedisLimitError::Timeout(self.call_timeout)),
            };
        verdict_from_reply(&reply)
    }
}

fn client_and_config(
    url: &str,
    options: &RedisOptions,
) -> Result<(Client, ConnectionManagerConfig), RedisLimitError> {
    let client = Client::open(url).map_err(|source| RedisLimitError::InvalidUrl {
        url: redact(url),
        source,
    })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(options.connect_timeout))
        // One connection attempt per reconnection, no retry loop inside the manager. With its
        // default (6 retries, exponential backoff) every call made while Redis is down waits for
        // the whole retry round, i.e. for the call timeout, instead of failing at once on
        // "connection refused". Reconnection still happens by itself: the next call after a
        // failed attempt (an I/O error) starts a new one, and `SharedLimiter` paces those calls
        // with its probe interval.
        .set_number_of_retries(0);
    Ok((client, config))
}

fn check_range(
    now_ms: u64,
    period_ms: u64,
    mitigation_timeout_ms: u64,
) -> Result<(), RedisLimitError> {
    let horizon = period_ms
        .checked_mul(2)
        .and_then(|t| t.checked_add(now_ms))
        .and_then(|t| t.checked_add(mitigation_timeout_ms));
    match horizon {
        Some(t) if t < MAX_SCRIPT_TIME_MS => Ok(()),
        _ => Err(RedisLimitError::OutOfRange {
            now_ms,
            period_ms,
            mitigation_timeout_ms,
        }),
    }
}

fn verdict_from_reply(reply: &[i64]) -> Result<Verdict, RedisLimitError> {
    let unexpected = || RedisLimitError::BadReply(format!("{reply:?}"));
    let [allowed, remaining, reset_after_ms, retry_after_ms] = reply else {
        return Err(unexpected());
    };
    let as_u64 = |n: i64| u64::try_from(n).map_err(|_| unexpected());
    // -1 is the script's None: denied for a cost above the limit, which no wait can fix.
    let retry_after_ms = match *retry_after_ms {
        -1 => None,
        n => Some(as_u64(n)?),
    };
    Ok(Verdict {
        allowed: match allowed {
            0 => false,
            1 => true,
            _ => return Err(unexpected()),
        },
        remaining: u32::try_from(*remaining).map_err(|_| unexpected())?,
        reset_after_ms: as_u64(*reset_after_ms)?,
        retry_after_ms,
    })
}

/// The URL without its password, for error messages and logs.
fn redact(url: &str) -> String {
    // redis://user:secret@host → redis://user:***@host. Only the part before the last '@' of the
    // authority can hold credentials.
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact("redis://doorman:hunter2@10.0.0.5:6379/2"),
            "redis://doorman:***@10.0.0.5:6379/2"
        );
        assert_eq!(
            redact("redis://:hunter2@10.0.0.5/"),
            "redis://:***@10.0.0.5/"
        );
        assert_eq!(redact("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
    }

    #[test]
    fn replies_of_the_wrong_shape_are_errors() {
        assert!(verdict_from_reply(&[1, 2, 3]).is_err());
        assert!(verdict_from_reply(&[2, 0, 0, 0]).is_err());
        assert!(verdict_from_reply(&[1, -1, 0, -1]).is_err());
        assert!(verdict_from_reply(&[0, 0, 0, -2]).is_err());
        let verdict = verdict_from_reply(&[1, 4, 100, -1]).expect("well-formed reply");
        assert!(verdict.allowed);
        assert_eq!(verdict.remaining, 4);
        assert_eq!(verdict.reset_after_ms, 100);
        assert_eq!(verdict.retry_after_ms, None);
        let verdict = verdict_from_reply(&[0, 0, 100, 7]).expect("well-formed reply");
        assert_eq!(verdict.retry_after_ms, Some(7));
    }

    // A lazy ConnectionManager still needs a Tokio runtime to exist in (it spawns its watcher).
    #[tokio::test]
    async fn keys_name_the_rule_and_the_hashed_characteristics() {
        let options = RedisOptions::default();
        let limiter = RedisLimiter::connect_lazy("redis://127.0.0.1:1/", options)
            .expect("a well-formed URL needs no server for a lazy connection");
        assert_eq!(
            limiter.redis_key("api", 0xab),
            "doorman:rl:api:00000000000000ab"
        );
    }

    #[test]
    fn times_that_cannot_be_computed_exactly_are_refused() {
        assert!(check_range(1_800_000_000_000, 86_400_000, 3_600_000).is_ok());
        assert!(check_range(1_800_000_000_000, MAX_PERIOD_MS, 30 * 86_400_000).is_ok());
        assert!(check_range(MAX_SCRIPT_TIME_MS - 3, 1, 0).is_ok());
        assert!(check_range(MAX_SCRIPT_TIME_MS - 2, 1, 0).is_err());
        assert!(check_range(1, u64::MAX, 1).is_err());
        assert!(check_range(1, 1, u64::MAX).is_err());
    }
}
