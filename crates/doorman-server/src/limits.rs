//! The rate limiter the gateway consults between the core's two rate-limit steps, and the
//! temporary bans it has seen.
//!
//! Counters outlive reloads: the limiter belongs to the [`Gateway`](crate::Gateway), not to a
//! configuration snapshot, so editing an unrelated rule does not hand every client a fresh
//! budget. Keys are hashes made by the core from the rule id and the characteristics, so a rule
//! whose id changes starts over, and one whose quota changes keeps its counts.
//!
//! Bans (a key serving a mitigation timeout) are kept in a small registry here so that
//! `doorman bans list` can say who is blocked, by which rule, until when, and `lift` can end a
//! ban early. With Redis, each gateway lists the bans it has seen; lifting one clears the shared
//! state, so it ends everywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use doorman_common::when;
use doorman_config::RateLimitSettings;
use doorman_core::ratelimit::{LimitCheck, LimitOutcome, RateLimitRule};
use doorman_limit::{LocalLimiter, Quota};
use doorman_limit_redis::{FailMode, Outcome, RedisLimiter, RedisOptions, SharedLimiter};
use serde_json::json;

/// Bans remembered at most; beyond this the one ending first is forgotten (the ban itself
/// stays in force in the limiter; only its listing is lost, and counted).
const MAX_LISTED_BANS: usize = 10_000;

/// Where counters live.
pub struct Limiter {
    local: Arc<LocalLimiter>,
    shared: Option<SharedLimiter>,
    bans: Mutex<HashMap<(String, u64), Ban>>,
    /// Bans dropped from the listing because it was full.
    pub bans_unlisted: std::sync::atomic::AtomicU64,
}

/// One temporary ban, as listed by `doorman bans list`.
#[derive(Debug, Clone)]
pub struct Ban {
    /// The rule that imposed it.
    pub rule: String,
    /// The counter's hash (what `lift` takes).
    pub key: u64,
    /// "IP address", "API key"…
    pub kind: String,
    /// The value as shown to its owner.
    pub shown: String,
    /// When this gateway first saw it.
    pub since: SystemTime,
    /// When it ends.
    pub until: SystemTime,
    /// The request that started it.
    pub ray: String,
}

impl Ban {
    /// The JSON the admin API and the CLI use.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "rule": self.rule,
            "key": format!("{:016x}", self.key),
            "kind": self.kind,
            "value": self.shown,
            "since": when::rfc3339(when::unix_ms(self.since)),
            "until": when::rfc3339(when::unix_ms(self.until)),
            "ray_id": self.ray,
        })
    }
}

/// What the Redis connection is doing, for `/admin/status` and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterStats {
    pub tracked_keys: usize,
    pub evicted: u64,
    pub redis_errors: u64,
    pub fallbacks: u64,
    pub closed_denials: u64,
    pub redis_down: bool,
}

impl Limiter {
    /// A limiter as `[rate_limit]` says; with Redis, connecting lazily so that the gateway
    /// starts (and applies its fail mode) while Redis is down.
    pub fn new(settings: &RateLimitSettings) -> Result<Limiter, String> {
        let local = Arc::new(LocalLimiter::new(settings.max_keys.max(1)));
        let shared = match &settings.redis {
            None => None,
            Some(redis) => {
                let options = RedisOptions {
                    call_timeout: redis.timeout,
                    key_prefix: redis.key_prefix.clone(),
                    ..RedisOptions::default()
                };
                let client =
                    RedisLimiter::connect_lazy(&redis.url, options).map_err(|e| e.to_string())?;
                let mode = if redis.fail_closed {
                    FailMode::Closed
                } else {
                    FailMode::Open(local.clone())
                };
                Some(SharedLimiter::new(client, mode))
            }
        };
        Ok(Limiter {
            local,
            shared,
            bans: Mutex::new(HashMap::new()),
            bans_unlisted: Default::default(),
        })
    }

    /// Whether counters are shared through Redis.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Spends (or, with `cost` 0, only looks at) one key's budget.
    pub async fn check(
        &self,
        rule: &RateLimitRule,
        key: u64,
        now: SystemTime,
        cost: u32,
    ) -> LimitOutcome {
        let now_ms = u64::try_from(when::unix_ms(now)).unwrap_or(0);
        let quota = Quota {
            limit: rule.requests_per_period,
            period_ms: u64::try_from(rule.period.as_millis()).unwrap_or(u64::MAX),
        };
        let mitigation_ms = u64::try_from(rule.mitigation_timeout.as_millis()).unwrap_or(u64::MAX);
        let verdict = match &self.shared {
            None => self.local.check(key, now_ms, quota, cost, mitigation_ms),
            Some(shared) => {
                match shared
                    .check(&rule.id, key, now_ms, quota, cost, mitigation_ms)
                    .await
                {
                    Outcome::Shared(v) | Outcome::Local(v) => v,
                    Outcome::Unavailable => return LimitOutcome::Unavailable,
                }
            }
        };
        LimitOutcome::Checked {
            allowed: verdict.allowed,
            remaining: verdict.remaining,
            reset_after_ms: verdict.reset_after_ms,
            retry_after_ms: verdict.retry_after_ms,
            // A denial of a rule with a mitigation timeout means the key is (now) blocked.
            blocked: !verdict.allowed && mitigation_ms > 0 && verdict.retry_after_ms.is_some(),
        }
    }

    /// Records a ban seen on `check`'s key, unless it is already listed.
    pub fn note_ban(&self, check: &LimitCheck, now: SystemTime, wait_ms: u64, ray: &str) {
        let mut bans = self.bans.lock().unwrap_or_else(PoisonError::into_inner);
        let until = now + Duration::from_millis(wait_ms);
        let id = (check.rule_id.clone(), check.key.hash);
        if let Some(ban) = bans.get_mut(&id) {
            ban.until = ban.until.max(until);
            return;
        }
        if bans.len() >= MAX_LISTED_BANS {
            bans.retain(|_, b| b.until > now);
            if bans.len() >= MAX_LISTED_BANS
                && let Some(first) = bans
                    .iter()
                    .min_by_key(|(_, b)| b.until)
                    .map(|(k, _)| k.clone())
            {
                bans.remove(&first);
                self.bans_unlisted
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        bans.insert(
            id,
            Ban {
                rule: check.rule_id.clone(),
                key: check.key.hash,
                kind: check.key.kind.clone(),
                shown: check.key.shown.clone(),
                since: now,
                until,
                ray: ray.to_owned(),
            },
        );
    }

    /// Bans in force at `now`, ending soonest first.
    pub fn bans(&self, now: SystemTime) -> Vec<Ban> {
        let mut bans = self.bans.lock().unwrap_or_else(PoisonError::into_inner);
        bans.retain(|_, b| b.until > now);
        let mut list: Vec<Ban> = bans.values().cloned().collect();
        list.sort_by_key(|b| b.until);
        list
    }

    /// The ban on one rule's key, when it is in force at `now`: one lookup, because the trace
    /// endpoint asks it for a handful of keys on a request anyone may send.
    pub fn ban(&self, rule: &str, key: u64, now: SystemTime) -> Option<Ban> {
        let bans = self.bans.lock().unwrap_or_else(PoisonError::into_inner);
        bans.get(&(rule.to_owned(), key))
            .filter(|b| b.until > now)
            .cloned()
    }

    /// Ends the bans matching `target` (a key hash in hex, the shown value such as an IP, or
    /// `rule:key`), optionally only those of `rule`, clearing their counters so the keys start
    /// afresh. Returns the bans lifted.
    pub async fn lift(&self, target: &str, rule: Option<&str>, now: SystemTime) -> Vec<Ban> {
        let lifted: Vec<Ban> = {
            let mut bans = self.bans.lock().unwrap_or_else(PoisonError::into_inner);
            bans.retain(|_, b| b.until > now);
            let matching: Vec<(String, u64)> = bans
                .iter()
                .filter(|(_, b)| rule.is_none_or(|r| r == b.rule))
                .filter(|(_, b)| {
                    format!("{:016x}", b.key) == target
                        || b.shown == target
                        || format!("{}:{:016x}", b.rule, b.key) == target
                })
                .map(|(k, _)| k.clone())
                .collect();
            matching.iter().filter_map(|k| bans.remove(k)).collect()
        };
        for ban in &lifted {
            self.local.forget(ban.key);
            if let Some(shared) = &self.shared
                && let Err(e) = shared.redis().forget(&ban.rule, ban.key).await
            {
                tracing::warn!(target: "doorman::rate_limit", rule = %ban.rule, "could not clear the ban in Redis: {e}");
            }
        }
        lifted
    }

    /// Drops idle keys; called from a timer.
    pub fn sweep(&self, now: SystemTime) {
        self.local
            .sweep(u64::try_from(when::unix_ms(now)).unwrap_or(0));
    }

    /// Counters for metrics and status.
    pub fn stats(&self) -> LimiterStats {
        let local = self.local.stats();
        let shared = self.shared.as_ref().map(|s| s.stats()).unwrap_or_default();
        LimiterStats {
            tracked_keys: local.tracked,
            evicted: local.evicted,
            redis_errors: shared.redis_errors,
            fallbacks: shared.fallbacks,
            closed_denials: shared.closed_denials,
            redis_down: shared.redis_down,
        }
    }
}
