//! The JWKS cache for a key URL: fetched on first use, kept for `cache_ttl`, refreshed on demand.
//!
//! The rules, all per provider:
//! - **Single flight.** One fetch at a time; requests that need keys while it runs wait for it
//!   and use its result instead of starting their own.
//! - **One fetch per `min_refetch_interval`, whatever asks.** Expiry, a token naming an unknown
//!   `kid`, a signature that fails under a known `kid`, a retry after a failure: none starts a
//!   fetch sooner than `min_refetch_interval` after the previous attempt. So a flood of tokens
//!   with random `kid`s costs the identity provider at most one request per interval: no DoS
//!   lever. Failures are logged once per attempt, hence at most once per interval too.
//! - **Stale beats nothing.** When a fetch fails the previous keys stay in use, however old.
//!   Only with nothing cached does a request get `KeysUnavailable`.
//!
//! Time is the `now` (Unix seconds) the caller passes to `verify`, the same clock the token's
//! `exp` is checked against, so tests drive expiry and intervals without sleeping. Ages are
//! compared in either direction (see `within`), so a clock stepped far back refreshes the cache
//! once rather than freezing it.
//!
//! The fetch runs in its own task holding the single-flight lock, so a request that gives up
//! (its client went away) does not cancel a fetch others are waiting on.

use std::sync::{Arc, Mutex, MutexGuard};

use doorman_common::when;

use crate::config::Algorithm;
use crate::error::TokenRejection;
use crate::fetch::Fetcher;
use crate::jwks::{KeySet, parse_jwks};

/// Keys as of one moment, with the attempt count they were read at.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub keys: Arc<KeySet>,
    attempt: u64,
}

#[derive(Debug, Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    /// When the current keys were fetched.
    fetched_at: Option<u64>,
    /// When the last fetch (successful or not) finished.
    last_attempt: Option<u64>,
    last_error: Option<String>,
    /// Completed attempts; lets a waiter see that a fetch happened while it waited.
    attempts: u64,
    failures: u64,
}

/// The cache for one provider's JWKS URL.
#[derive(Debug)]
pub(crate) struct RemoteKeys {
    provider: String,
    fetcher: Fetcher,
    allowed: Vec<Algorithm>,
    ttl_s: u64,
    interval_s: u64,
    state: Mutex<State>,
    /// Held for the whole fetch: the single flight.
    fetch_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Counters and facts for status pages and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteStatus {
    pub fetched_at: Option<u64>,
    pub attempts: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

impl RemoteKeys {
    pub fn new(
        provider: String,
        fetcher: Fetcher,
        allowed: Vec<Algorithm>,
        ttl_s: u64,
        interval_s: u64,
    ) -> Self {
        Self {
            provider,
            fetcher,
            allowed,
            ttl_s,
            interval_s,
            state: Mutex::new(State::default()),
            fetch_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn url(&self) -> &str {
        self.fetcher.url()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding this lock leaves the state consistent (every update
        // is a few plain assignments), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `then` lies within `span` seconds of `now`, in either direction. Requests carry
    /// a `now` read when they started, so one may arrive a second "before" a fetch another just
    /// recorded: that still counts as recent. Only a clock stepped back by a whole span or more
    /// makes the record look old, and then the cache refreshes once and records the new time
    /// instead of freezing.
    fn within(then: Option<u64>, now: u64, span: u64) -> bool {
        then.is_some_and(|t| now.abs_diff(t) < span)
    }

    fn recently_attempted(&self, st: &State, now: u64) -> bool {
        Self::within(st.last_attempt, now, self.interval_s)
    }

    fn result(&self, st: &State) -> Result<Snapshot, TokenRejection> {
        match &st.keys {
            Some(keys) => Ok(Snapshot {
                keys: keys.clone(),
                attempt: st.attempts,
            }),
            None => {
                let why = st
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "the keys have not been fetched yet".to_string());
                let next = st
                    .last_attempt
                    .map(|t| {
                        format!(
                            "; next attempt after {}",
                            when::rfc3339_secs(t + self.interval_s)
                        )
                    })
                    .unwrap_or_default();
                Err(TokenRejection::KeysUnavailable {
                    why: format!("{why}{next}"),
                })
            }
        }
    }

    /// The keys to use now: cached while fresh, else fetched (single flight, rate-limited),
    /// else the stale ones, else `KeysUnavailable`.
    pub async fn current(self: &Arc<Self>, now: u64) -> Result<Snapshot, TokenRejection> {
        let seen = {
            let st = self.lock();
            let fresh = Self::within(st.fetched_at, now, self.ttl_s);
            if (st.keys.is_some() && fresh) || self.recently_attempted(&st, now) {
                return self.result(&st);
            }
            st.attempts
        };
        self.fetch_once(now, seen).await;
        self.result(&self.lock())
    }

    /// After a token's key was not found (or its signature failed) in `old`: fetch again if the
    /// interval allows, and return the new keys if they differ from `old`.
    pub async fn refetch_after_miss(
        self: &Arc<Self>,
        now: u64,
        old: &Snapshot,
    ) -> Option<Snapshot> {
        let no_fetch_since = {
            let st = self.lock();
            if st.attempts == old.attempt && self.recently_attempted(&st, now) {
                tracing::debug!(
                    provider = %self.provider,
                    "token key not found or signature failed; JWKS fetched less than min_refetch_interval ago, not fetching again"
                );
                return None;
            }
            st.attempts == old.attempt
        };
        if no_fetch_since {
            tracing::info!(
                provider = %self.provider,
                url = %self.url(),
                "token key not found or signature failed; fetching the JWKS again"
            );
            self.fetch_once(now, old.attempt).await;
        }
        let st = self.lock();
        match &st.keys {
            Some(keys) if !Arc::ptr_eq(keys, &old.keys) => Some(Snapshot {
                keys: keys.clone(),
                attempt: st.attempts,
            }),
            _ => None,
        }
    }

    /// Fetches unless another fetch completed since the caller looked (`seen` attempts) or the
    /// interval forbids it. Returns when that fetch, or the one it waited for, is done.
    async fn fetch_once(self: &Arc<Self>, now: u64, seen: u64) {
        let guard = self.fetch_lock.clone().lock_owned().await;
        {
            let st = self.lock();
            if st.attempts != seen || self.recently_attempted(&st, now) {
                return;
            }
        }
        let me = Arc::clone(self);
        let task = tokio::spawn(async move {
            let _single_flight = guard;
            me.fetch_and_store(now).await;
        });
        // A JoinError means the task panicked; the state then says what the last attempt did.
        let _ = task.await;
    }

    async fn fetch_and_store(&self, now: u64) {
        let url = self.url().to_string();
        let result = match self.fetcher.get().await {
            Ok(body) => parse_jwks(&body, &self.allowed)
                .map(Arc::new)
                .map_err(|e| format!("the JWKS from {url} is unusable: {e}")),
            Err(e) => Err(e),
        };
        // Update under the lock, log after releasing it.
        let stale_since = {
            let mut st = self.lock();
            st.attempts += 1;
            st.last_attempt = Some(now);
            match &result {
                Ok(set) => {
                    st.keys = Some(set.clone());
                    st.fetched_at = Some(now);
                    st.last_error = None;
                }
                Err(why) => {
                    st.failures += 1;
                    st.last_error = Some(why.clone());
                }
            }
            st.keys.as_ref().and(st.fetched_at)
        };
        match result {
            Ok(set) => {
                for s in &set.skipped {
                    tracing::debug!(provider = %self.provider, url = %url, "JWKS {s}; skipped");
                }
                let ids: Vec<&str> = set.keys.iter().filter_map(|k| k.kid.as_deref()).collect();
                tracing::info!(
                    provider = %self.provider,
                    url = %url,
                    keys = set.keys.len(),
                    skipped = set.skipped.len(),
                    kids = %ids.join(","),
                    "fetched JWKS"
                );
            }
            Err(why) => match stale_since {
                Some(at) => tracing::warn!(
                    provider = %self.provider,
                    error = %why,
                    "JWKS fetch failed; still using the keys fetched at {}",
                    when::rfc3339_secs(at)
                ),
                None => tracing::warn!(
                    provider = %self.provider,
                    error = %why,
                    "JWKS fetch failed and no keys are cached; tokens of this provider get TOKEN_KEYS_UNAVAILABLE"
                ),
            },
        }
    }

    pub fn status(&self) -> (Option<Arc<KeySet>>, RemoteStatus) {
        let st = self.lock();
        (
            st.keys.clone(),
            RemoteStatus {
                fetched_at: st.fetched_at,
                attempts: st.attempts,
                failures: st.failures,
                last_error: st.last_error.clone(),
            },
        )
    }
}
