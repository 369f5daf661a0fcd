//! [`RedisLimiter`]: one rate-limit decision is one EVALSHA of the GCRA script in `gcra.lua`,
//! over a [`ConnectionManager`] (one multiplexed connection that reconnects by itself), bounded by
//! a per-call timeout so that a stalled Redis costs a request at most that long.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use crate::{Quota, RedisLimitError, Verdict};

/// The GCRA + mitigation-timeout script. Built once: `Script` hashes the source (SHA-1) so every
/// call can send EVALSHA, and falls back to SCRIPT LOAD + EVALSHA when Redis answers NOSCRIPT
/// (after a restart or SCRIPT FLUSH).
static GCRA_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(GCRA_LUA));

/// The Lua source of the shared limiter, exposed so operators can read exactly what runs in
/// their Redis (and tests can load it by hand).
pub const GCRA_LUA: &str = include_str!("gcra.lua");

/// The largest time value the script accepts. Redis Lua numbers are IEEE doubles, exact for
/// integers up to 2^53; every time the script handles (now, TAT, block end) stays below this.
pub const MAX_LUA_EXACT: u64 = 1 << 53;

/// How a [`RedisLimiter`] talks to Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// The longest one decision may wait for Redis (connecting included). Past it the call fails
    /// with [`RedisLimitError::Timeout`] and the fail mode decides. Default 50 ms: above a
    /// loopback/LAN round trip by an order of magnitude, below what a person notices.
    pub call_timeout: Duration,
    /// The longest one TCP connection attempt may take. Default 1 s.
    pub connect_timeout: Duration,
    /// Reconnection backs off exponentially from 10 ms up to this. Default 1 s, so a restarted
    /// Redis is picked up within about a second.
    pub reconnect_max_delay: Duration,
    /// Prefix of every key this limiter writes. Default `doorman:rl:`; change it when several
    /// Doorman deployments share one Redis.
    pub key_prefix: String,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            call_timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(1),
            reconnect_max_delay: Duration::from_secs(1),
            key_prefix: "doorman:rl:".to_string(),
        }
    }
}

/// Rate limits shared by every gateway instance that points at the same Redis.
///
/// Each decision runs one Lua script atomically in Redis (GCRA plus the mitigation timeout, the
/// same formulas as the in-process limiter), so instances never race each other on a counter.
/// Cloning is cheap and clones share the connection.
///
/// **Time comes from the caller** (`now_ms`, Unix milliseconds), not from Redis `TIME`. That keeps
/// the shared limiter bit-for-bit equal to the local one and lets tests drive the clock; the price
/// is that all instances need synchronized clocks (NTP): an instance whose clock runs ahead by
/// `d` ms spends the shared budget up to `d` ms early, one that lags is denied for up to `d` ms
/// longer. Reading `redis.call('TIME')` inside the script would remove that dependency (Redis 5+
/// replicates scripts by effects, so it is allowed) at the cost of diverging from the local limiter
/// and of untestable clocks; it is a small change in `gcra.lua` if operators ask for it.
#[derive(Clone)]
pub struct RedisLimiter {
    connection: ConnectionManager,
    call_timeout: Duration,
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
            key_prefix: options.key_prefix,
        }
    }

    /// The Redis key that holds the state of `key` under `rule`:
    /// `<prefix><rule>:<key as 16 hex digits>`. The key is a hash of the request's
    /// characteristics (client IP, API key, …), so no personal data is written to Redis.
    pub fn redis_key(&self, rule: &str, key: u64) -> String {
        format!("{}{rule}:{key:016x}", self.key_prefix)
    }

    /// Spends `cost` units of `quota` for `key` under `rule` at `now_ms` (Unix milliseconds),
    /// atomically across every instance sharing this Redis, and says whether the request may pass.
    ///
    /// `mitigation_timeout_ms` > 0 blocks the key for that long once it first exceeds the quota;
    /// while blocked the counter does not move. Fails (never panics) when Redis is unreachable,
    /// slower than the call timeout, or answers something unexpected.
    pub async fn check(
        &self,
        rule: &str,
        key: u64,
        now_ms: u64,
        quota: Quota,
        cost: u32,
        mitigation_timeout_ms: u64,
    ) -> Result<Verdict, RedisLimitError> {
        check_arguments(now_ms, quota, mitigation_timeout_ms)?;
        let redis_key = self.redis_key(rule, key);
        let mut invocation = GCRA_SCRIPT.key(&redis_key);
        invocation
            .arg(now_ms)
            .arg(quota.limit)
            .arg(quota.period_ms)
            .arg(cost)
            .arg(mitigation_timeout_ms);
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
        // Retries start small so a Redis that restarts quickly is picked up quickly, and are
        // capped so one that stays down is retried at least once a `reconnect_max_delay`. After
        // the retries of one round the manager gives up until the next call, which (being an I/O
        // error) starts another round: callers never need to rebuild the limiter.
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(options.reconnect_max_delay)
        .set_number_of_retries(8);
    Ok((client, config))
}

fn check_arguments(
    now_ms: u64,
    quota: Quota,
    mitigation_timeout_ms: u64,
) -> Result<(), RedisLimitError> {
    if quota.limit == 0 || quota.period_ms == 0 {
        return Err(RedisLimitError::InvalidQuota {
            limit: quota.limit,
            period_ms: quota.period_ms,
        });
    }
    // Every time the script computes is at most now + period * (1 + cost) or now + mitigation;
    // bound the inputs so those stay exact in Lua's doubles.
    let horizon = now_ms
        .checked_add(quota.period_ms.saturating_mul(2))
        .and_then(|t| t.checked_add(mitigation_timeout_ms));
    match horizon {
        Some(t) if t < MAX_LUA_EXACT / 1000 => Ok(()),
        _ => Err(RedisLimitError::OutOfRange {
            now_ms,
            period_ms: quota.period_ms,
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
    Ok(Verdict {
        allowed: match allowed {
            0 => false,
            1 => true,
            _ => return Err(unexpected()),
        },
        remaining: u32::try_from(*remaining).map_err(|_| unexpected())?,
        reset_after_ms: as_u64(*reset_after_ms)?,
        retry_after_ms: as_u64(*retry_after_ms)?,
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
        assert!(verdict_from_reply(&[1, -1, 0, 0]).is_err());
        let verdict = verdict_from_reply(&[1, 4, 100, 0]).expect("well-formed reply");
        assert!(verdict.allowed);
        assert_eq!(verdict.remaining, 4);
        assert_eq!(verdict.reset_after_ms, 100);
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
    fn quotas_that_cannot_be_computed_exactly_are_refused() {
        let quota = Quota {
            limit: 10,
            period_ms: 1000,
        };
        assert!(check_arguments(1_800_000_000_000, quota, 60_000).is_ok());
        assert!(check_arguments(u64::MAX / 2, quota, 0).is_err());
        let zero = Quota {
            limit: 0,
            period_ms: 1000,
        };
        assert!(check_arguments(0, zero, 0).is_err());
    }
}
