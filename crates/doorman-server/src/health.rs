//! Active health checks of upstream targets: one task per target asks its health path every
//! interval; `fall` failures in a row take the target out of the round robin, `rise` successes
//! bring it back. The request path only reads an atomic flag per target.
//!
//! A target's state lives with its upstream pool, which survives reloads that do not change the
//! upstream, so a reload neither forgets a dead target nor restarts its count. The checking
//! task holds only a weak reference: when a reload drops the pool, the task ends.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::SystemTime;

use bytes::Bytes;
use doorman_core::policy::HealthCheck;
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The body of a health answer read at most this far (for `expect_body`).
const MAX_HEALTH_BODY: usize = 64 * 1024;

/// What the checks know about one target.
#[derive(Debug)]
pub struct TargetHealth {
    up: AtomicBool,
    ok_in_a_row: AtomicU32,
    failed_in_a_row: AtomicU32,
    /// A check has confirmed the state (`rise` passes or `fall` failures in a row) at least
    /// once; until then `up` is only the optimistic start value.
    settled: AtomicBool,
    last_failure: Mutex<Option<(SystemTime, String)>>,
}

impl Default for TargetHealth {
    fn default() -> Self {
        TargetHealth {
            // Until a check says otherwise: a gateway that starts while its origin is still
            // booting must not refuse everything for the first `fall` intervals.
            up: AtomicBool::new(true),
            ok_in_a_row: AtomicU32::new(0),
            failed_in_a_row: AtomicU32::new(0),
            settled: AtomicBool::new(false),
            last_failure: Mutex::new(None),
        }
    }
}

impl TargetHealth {
    /// Whether the target takes requests.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Whether checks have confirmed the state at least once.
    pub fn is_settled(&self) -> bool {
        self.settled.load(Ordering::Relaxed)
    }

    /// The last failed check: when, and what happened.
    pub fn last_failure(&self) -> Option<(SystemTime, String)> {
        self.last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts one check's result; returns `Some(new state)` when the target changed state.
    fn record(&self, result: Result<(), String>, check: &HealthCheck) -> Option<bool> {
        match result {
            Ok(()) => {
                self.failed_in_a_row.store(0, Ordering::Relaxed);
                let ok = self.ok_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                if ok >= check.rise {
                    self.settled.store(true, Ordering::Relaxed);
                }
                (ok >= check.rise && !self.up.swap(true, Ordering::Relaxed)).then_some(true)
            }
            Err(why) => {
                *self
                    .last_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some((SystemTime::now(), why));
                self.ok_in_a_row.store(0, Ordering::Relaxed);
                let failed = self.failed_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                if failed >= check.fall {
                    self.settled.store(true, Ordering::Relaxed);
                }
                (failed >= check.fall && self.up.swap(false, Ordering::Relaxed)).then_some(false)
            }
        }
    }
}

/// Starts the checking task of target `index` of an upstream whose targets' states are
/// `states`. Must run inside a tokio runtime.
pub fn spawn(
    upstream: String,
    target: String,
    index: usize,
    check: HealthCheck,
    states: Weak<[Arc<TargetHealth>]>,
    metrics: Option<crate::metrics::TargetGauge>,
    feed: Option<crate::status::StatusFeed>,
) {
    tokio::spawn(async move {
        let client: Client<HttpConnector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let uri: Option<Uri> = format!("http://{target}{}", check.path).parse().ok();
        let mut tick = tokio::time::interval(check.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Upgraded only for the moment of the check: once a reload drops the pool, the
            // next tick ends the task.
            let Some(all) = states.upgrade() else { return };
            let Some(state) = all.get(index).cloned() else {
                return;
            };
            drop(all);
            let started = std::time::Instant::now();
            let result = match &uri {
                Some(uri) => probe(&client, uri, &check).await,
                None => Err(format!("`{target}{}` is not a URL", check.path)),
            };
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let passed = result.is_ok();
            let why = result.as_ref().err().map(|w| format!("{target}: {w}"));
            if let Some(m) = &metrics {
                m.set(i64::from(state.is_up()));
            }
            match state.record(result, &check) {
                Some(false) => {
                    let why = state.last_failure().map(|(_, w)| w).unwrap_or_default();
                    tracing::warn!(target: "doorman::health", %upstream, %target, "target is down after {} failed checks: {why}", check.fall);
                }
                Some(true) => {
                    tracing::info!(target: "doorman::health", %upstream, %target, "target is back after {} good checks", check.rise);
                }
                None => {}
            }
            if let Some(m) = &metrics {
                m.set(i64::from(state.is_up()));
            }
            if let (Some(feed), Some(all)) = (&feed, states.upgrade()) {
                feed.report(crate::status::CheckResult {
                    upstream: upstream.clone(),
                    at_ms: crate::status::now_ms(),
                    ok: passed,
                    latency_ms,
                    up: all.iter().filter(|t| t.is_up()).count(),
                    total: all.len(),
                    settled: all.iter().all(|t| t.is_settled()),
                    why,
                });
            }
        }
    });
}

async fn probe(
    client: &Client<HttpConnector, Empty<Bytes>>,
    uri: &Uri,
    check: &HealthCheck,
) -> Result<(), String> {
    let req = Request::get(uri.clone())
        .header("user-agent", "doorman-health-check")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let answer = tokio::time::timeout(check.timeout, async {
        let resp = client.request(req).await.map_err(|e| {
            let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
            let mut words = e.to_string();
            while let Some(s) = source {
                words = s.to_string();
                source = s.source();
            }
            words
        })?;
        let status = resp.status().as_u16();
        let body = if check.expect_body.is_some() {
            Limited::new(resp.into_body(), MAX_HEALTH_BODY)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default()
        } else {
            Bytes::new()
        };
        Ok::<_, String>((status, body))
    })
    .await
    .map_err(|_| format!("no answer within {} ms", check.timeout.as_millis()))??;
    let (status, body) = answer;
    let status_ok = match check.expect_status {
        Some(s) => status == s,
        None => (200..400).contains(&status),
    };
    if !status_ok {
        return Err(format!("answered {status}"));
    }
    if let Some(text) = &check.expect_body
        && !String::from_utf8_lossy(&body).contains(text.as_str())
    {
        return Err(format!("the answer did not contain `{text}`"));
    }
    Ok(())
}

/// The states of an upstream's targets, index-aligned with its `targets`.
pub type TargetStates = Arc<[Arc<TargetHealth>]>;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn check(fall: u32, rise: u32) -> HealthCheck {
        HealthCheck {
            path: "/healthz".into(),
            expect_status: None,
            expect_body: None,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            fall,
            rise,
        }
    }

    #[test]
    fn fall_and_rise_count_in_a_row() {
        let h = TargetHealth::default();
        let c = check(2, 2);
        assert!(h.is_up());
        assert_eq!(h.record(Err("refused".into()), &c), None);
        assert_eq!(h.record(Ok(()), &c), None, "a success resets the failures");
        assert_eq!(h.record(Err("refused".into()), &c), None);
        assert_eq!(h.record(Err("refused".into()), &c), Some(false));
        assert!(!h.is_up());
        assert_eq!(h.record(Err("refused".into()), &c), None, "already down");
        assert_eq!(h.record(Ok(()), &c), None);
        assert_eq!(h.record(Ok(()), &c), Some(true));
        assert!(h.is_up());
        assert_eq!(h.last_failure().unwrap().1, "refused");
    }
}
