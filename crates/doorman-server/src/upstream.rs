//! Connections to origins: one keep-alive pool per upstream, targets taken round robin, and the
//! classification of what went wrong when an origin fails (refused, reset, timed out), so that the
//! receipt can name it.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use doorman_core::Code;
use doorman_core::policy::UpstreamSpec;
use http::uri::Authority;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// The body sent upstream: the client's body with the configured size cap, or an empty/full body
/// the gateway made itself.
pub type UpstreamBody = BoxBody<Bytes, Box<dyn StdError + Send + Sync>>;

/// An empty body, for a request sent again.
pub fn empty_body() -> UpstreamBody {
    use http_body_util::BodyExt;
    http_body_util::Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

/// A pool of connections to one upstream's targets.
#[derive(Clone)]
pub struct UpstreamPool {
    pub spec: Arc<UpstreamSpec>,
    /// `spec.targets` parsed once, so a request clones an `Authority` (a reference count)
    /// instead of parsing text.
    authorities: Arc<[Option<Authority>]>,
    client: Client<HttpConnector, UpstreamBody>,
    next: Arc<AtomicUsize>,
    /// Each target's health, index-aligned with `spec.targets`.
    health: crate::health::TargetStates,
    checks_started: Arc<std::sync::atomic::AtomicBool>,
}

impl UpstreamPool {
    /// Builds the pool (no connection is opened until the first request).
    pub fn new(spec: UpstreamSpec) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(spec.connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(spec.idle_timeout)
            .pool_max_idle_per_host(spec.max_idle_per_target)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        let authorities = spec.targets.iter().map(|t| t.parse().ok()).collect();
        let health = spec.targets.iter().map(|_| Arc::default()).collect();
        UpstreamPool {
            spec: Arc::new(spec),
            authorities,
            client,
            next: Arc::new(AtomicUsize::new(0)),
            health,
            checks_started: Arc::default(),
        }
    }

    /// Starts the health checks of this pool's targets, once (a pool kept across a reload keeps
    /// its running checks).
    pub fn start_checks(
        &self,
        metrics: &crate::metrics::Metrics,
        feed: Option<&crate::status::StatusFeed>,
    ) {
        let Some(check) = &self.spec.health_check else {
            return;
        };
        if self.checks_started.swap(true, Ordering::Relaxed) {
            return;
        }
        for (index, target) in self.spec.targets.iter().enumerate() {
            crate::health::spawn(
                self.spec.name.clone(),
                target.clone(),
                index,
                check.clone(),
                Arc::downgrade(&self.health),
                Some(metrics.target_gauge(&self.spec.name, target)),
                feed.cloned(),
            );
        }
    }

    /// The next target that is up, round robin: its text (for messages) and its parsed
    /// authority (`None` when the text is not a valid `host:port`, which config validation
    /// normally prevents). `None` when every target is down.
    pub fn pick_healthy(&self) -> Option<(&str, Option<&Authority>)> {
        let n = self.spec.targets.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).map(|k| (start + k) % n).find_map(|i| {
            self.health[i]
                .is_up()
                .then(|| (self.spec.targets[i].as_str(), self.authorities[i].as_ref()))
        })
    }

    /// The next target that is up and not in `tried`, round robin (for sending a request again
    /// after a refused connection).
    pub fn pick_healthy_except(&self, tried: &[&str]) -> Option<(&str, Option<&Authority>)> {
        let n = self.spec.targets.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).map(|k| (start + k) % n).find_map(|i| {
            let t = self.spec.targets[i].as_str();
            (self.health[i].is_up() && !tried.contains(&t))
                .then(|| (t, self.authorities[i].as_ref()))
        })
    }

    /// The most recent failed check among the targets: when, which target, what happened.
    pub fn last_failure(&self) -> Option<(std::time::SystemTime, String)> {
        self.spec
            .targets
            .iter()
            .zip(self.health.iter())
            .filter_map(|(t, h)| {
                h.last_failure()
                    .map(|(at, why)| (at, format!("{t}: {why}")))
            })
            .max_by_key(|(at, _)| *at)
    }

    /// Whether this pool can keep serving `spec` after a reload (so its warm connections survive).
    pub fn serves(&self, spec: &UpstreamSpec) -> bool {
        let s = &self.spec;
        s.name == spec.name
            && s.targets == spec.targets
            && s.connect_timeout == spec.connect_timeout
            && s.idle_timeout == spec.idle_timeout
            && s.max_idle_per_target == spec.max_idle_per_target
            && s.response_timeout == spec.response_timeout
            && s.health_check == spec.health_check
    }

    /// The client to send requests with.
    pub fn client(&self) -> &Client<HttpConnector, UpstreamBody> {
        &self.client
    }

    /// Time allowed from sending a request to receiving the response head.
    pub fn response_timeout(&self) -> Duration {
        self.spec.response_timeout
    }
}

/// What went wrong talking to an origin, in words a receipt can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFailure {
    pub code: Code,
    /// What happened, naming the target: "connection to 127.0.0.1:3000 was refused".
    pub what: String,
}

/// Classifies a client error from sending a request to `target`.
pub fn classify(err: &hyper_util::client::legacy::Error, target: &str) -> UpstreamFailure {
    if let Some(io) = find_io_error(err) {
        return match io.kind() {
            io::ErrorKind::ConnectionRefused => UpstreamFailure {
                code: Code::UpstreamRefused,
                what: format!(
                    "the connection to {target} was refused (nothing is listening there)"
                ),
            },
            io::ErrorKind::TimedOut => UpstreamFailure {
                code: Code::UpstreamTimeout,
                what: format!("connecting to {target} timed out"),
            },
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted => UpstreamFailure {
                code: Code::UpstreamReset,
                what: format!("{target} reset the connection"),
            },
            _ => UpstreamFailure {
                code: Code::UpstreamError,
                what: format!("talking to {target} failed: {io}"),
            },
        };
    }
    if err.is_connect() {
        // The connector reports its own timeout as a non-io error with this text.
        let text = error_chain(err);
        if text.contains("timed out") || text.contains("timeout") {
            return UpstreamFailure {
                code: Code::UpstreamTimeout,
                what: format!("connecting to {target} timed out"),
            };
        }
        return UpstreamFailure {
            code: Code::UpstreamRefused,
            what: format!("could not connect to {target}: {text}"),
        };
    }
    if let Some(h) = find_hyper_error(err) {
        if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
            return UpstreamFailure {
                code: Code::UpstreamReset,
                what: format!("{target} closed the connection before sending a complete response"),
            };
        }
        if h.is_parse() {
            return UpstreamFailure {
                code: Code::UpstreamError,
                what: format!("{target} sent a response that is not valid HTTP"),
            };
        }
    }
    UpstreamFailure {
        code: Code::UpstreamError,
        what: format!("talking to {target} failed: {}", error_chain(err)),
    }
}

fn find_io_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cur = e.source();
    }
    None
}

fn find_hyper_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a hyper::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            return Some(h);
        }
        cur = e.source();
    }
    None
}

/// `a: b: c` for an error and its sources.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}
