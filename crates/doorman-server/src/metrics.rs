//! Prometheus metrics, served on the admin listener at `/metrics` in the classic text format
//! (`text/plain; version=0.0.4`) or, when the scraper asks for it, OpenMetrics. docs/config.md
//! "Metrics" lists them all.
//!
//! The request path only adds to atomics. What it counts per request (the answer by route and
//! status, the request's duration, each rule that matched) goes through handles prepared per
//! configuration snapshot ([`SnapshotHandles`], kept in the [`Runtime`]): a label set is built
//! and a family's lock taken once per series and snapshot, never per request. Counts that
//! another part keeps (the event log's, the limiter's, the status writer's) are copied into
//! their counters at scrape time, and the `process_*` metrics are read from /proc then too.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use doorman_core::ratelimit::{KEY_LIMIT, KEY_LIMIT_ID};
use doorman_core::{MatchAction, RuleKind, RuleMatch};
use http::StatusCode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use crate::gateway::{Gateway, Runtime};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub rule: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    pub upstream: String,
    pub target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub kind: &'static str,
    pub rule: String,
    pub action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: &'static str,
    pub commit: &'static str,
}

/// One target's up/down gauge, handed to its health-check task.
pub type TargetGauge = Gauge;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~33 s: origins for chat completions can take long.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 17,
    ))
}

/// Upper bounds of [`RequestHistogram`]'s buckets, in nanoseconds: 250 µs for the gateway's own
/// answers up to a minute for an origin that thinks long before its first byte.
const REQUEST_BOUNDS_NS: [u64; 17] = [
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
];

/// A histogram of durations that observes with atomic adds alone: prometheus-client's own
/// takes a write lock per observation, which every request would contend for.
#[derive(Clone, Debug, Default)]
pub struct RequestHistogram(Arc<HistogramCells>);

#[derive(Debug, Default)]
struct HistogramCells {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; REQUEST_BOUNDS_NS.len() + 1],
    sum_ns: AtomicU64,
}

impl RequestHistogram {
    pub fn observe(&self, duration: Duration) {
        let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let bucket = REQUEST_BOUNDS_NS.partition_point(|&bound| bound < ns);
        let cells = &self.0;
        cells.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        cells.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

impl TypedMetric for RequestHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for RequestHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let cells = &self.0;
        let buckets: Vec<(f64, u64)> = REQUEST_BOUNDS_NS
            .iter()
            .map(|&ns| ns as f64 / 1e9)
            .chain(std::iter::once(f64::MAX))
            .zip(&cells.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        // The count is the buckets' total as read, so that it always equals the `+Inf` bucket
        // even while requests are being observed.
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = cells.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        encoder
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// All of the gateway's metrics.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Family<RouteLabels, RequestHistogram>,
    pub decisions: Family<CodeLabels, Counter>,
    pub rule_matches: Family<RuleLabels, Counter>,
    pub upstream_latency: Family<UpstreamLabels, Histogram, fn() -> Histogram>,
    pub connections_open: Gauge,
    pub connections_refused: Counter,
    pub connections_evicted: Counter,
    pub reloads: Family<OutcomeLabels, Counter>,
    pub event_log_dropped: Counter,
    pub event_log_recorded: Counter,
    pub event_log_write_errors: Counter,
    pub access_log_lines: Counter,
    pub access_log_dropped: Counter,
    pub rate_limit_checks: Family<LimitLabels, Counter>,
    pub upstream_target_up: Family<TargetLabels, Gauge>,
    pub rate_limit_tracked_keys: Gauge,
    pub rate_limit_evictions: Counter,
    pub rate_limit_redis_errors: Counter,
    pub rate_limit_fallbacks: Counter,
    pub rate_limit_redis_down: Gauge,
    pub rate_limit_bans_unlisted: Counter,
    pub status_checks_dropped: Counter,
}

/// Registers `metric` under `name` and hands it back.
fn registered<M: prometheus_client::registry::Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    pub fn new() -> Self {
        let mut root = Registry::default();
        #[cfg(target_os = "linux")]
        root.register_collector(Box::new(crate::process_metrics::ProcessCollector));
        let registry = &mut root;
        let r = registry.sub_registry_with_prefix("doorman");
        let build_info = registered(
            r,
            "build_info",
            "Always 1; the labels say which version and git commit is running",
            Family::<BuildLabels, Gauge>::default(),
        );
        build_info
            .get_or_create(&BuildLabels {
                version: crate::build::VERSION,
                commit: crate::build::COMMIT,
            })
            .set(1);
        let requests = registered(
            r,
            "requests",
            "Requests answered, by route (or the gateway's own endpoint) and HTTP status",
            Family::default(),
        );
        let request_duration = registered(
            r,
            "request_duration_seconds",
            "Time from a request's head to its response head, by route; streamed bodies are not included",
            Family::default(),
        );
        let decisions = registered(
            r,
            "decisions",
            "Non-allow answers, by Doorman code",
            Family::default(),
        );
        let rule_matches = registered(
            r,
            "rule_matches",
            "Rules that matched a request, by kind, rule id and what the rule did",
            Family::default(),
        );
        let upstream_latency = registered(
            r,
            "upstream_response_seconds",
            "Time from sending a request upstream to receiving its response head",
            Family::<UpstreamLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            ),
        );
        let connections_open = registered(
            r,
            "connections_open",
            "Client connections currently open",
            Gauge::default(),
        );
        let connections_refused = registered(
            r,
            "connections_refused",
            "Connections closed before HTTP (TLS handshake or PROXY header failed)",
            Counter::default(),
        );
        let connections_evicted = registered(
            r,
            "connections_evicted",
            "Idle connections asked to close to make room for a new client while max_connections were open",
            Counter::default(),
        );
        let reloads = registered(
            r,
            "config_reloads",
            "Configuration reloads, by outcome",
            Family::default(),
        );
        let event_log_dropped = registered(
            r,
            "event_log_dropped",
            "Events dropped because the event log queue was full",
            Counter::default(),
        );
        let event_log_recorded = registered(
            r,
            "event_log_recorded",
            "Events written to the event log",
            Counter::default(),
        );
        let event_log_write_errors = registered(
            r,
            "event_log_write_errors",
            "Event log batches that failed to write",
            Counter::default(),
        );
        let access_log_lines = registered(
            r,
            "access_log_lines",
            "Lines written to the access log",
            Counter::default(),
        );
        let access_log_dropped = registered(
            r,
            "access_log_dropped",
            "Access log lines dropped because the queue was full or the write failed",
            Counter::default(),
        );
        let rate_limit_checks = registered(
            r,
            "rate_limit_checks",
            "Rate limit checks, by rule and outcome (allowed, over, unavailable)",
            Family::default(),
        );
        let rate_limit_tracked_keys = registered(
            r,
            "rate_limit_tracked_keys",
            "Keys the in-process rate limiter tracks",
            Gauge::default(),
        );
        let rate_limit_evictions = registered(
            r,
            "rate_limit_evictions",
            "Keys evicted because the in-process limiter was full (max_keys)",
            Counter::default(),
        );
        let rate_limit_redis_errors = registered(
            r,
            "rate_limit_redis_errors",
            "Redis rate limit calls that failed or timed out",
            Counter::default(),
        );
        let rate_limit_fallbacks = registered(
            r,
            "rate_limit_fallbacks",
            "Rate limit decisions made in process because Redis was unavailable (fail mode open)",
            Counter::default(),
        );
        let rate_limit_redis_down = registered(
            r,
            "rate_limit_redis_down",
            "1 while the shared rate limiter's Redis is considered down",
            Gauge::default(),
        );
        let rate_limit_bans_unlisted = registered(
            r,
            "rate_limit_bans_unlisted",
            "Bans left out of `doorman bans list` because the listing was full",
            Counter::default(),
        );
        let status_checks_dropped = registered(
            r,
            "status_checks_dropped",
            "Health-check results the status page's writer could not take (its queue was full)",
            Counter::default(),
        );
        let upstream_target_up = registered(
            r,
            "upstream_target_up",
            "1 while an upstream target passes its health checks, 0 while it is out of the rotation",
            Family::default(),
        );
        Metrics {
            registry: root,
            requests,
            request_duration,
            decisions,
            rule_matches,
            upstream_latency,
            connections_open,
            connections_refused,
            connections_evicted,
            reloads,
            event_log_dropped,
            event_log_recorded,
            event_log_write_errors,
            access_log_lines,
            access_log_dropped,
            rate_limit_checks,
            upstream_target_up,
            rate_limit_tracked_keys,
            rate_limit_evictions,
            rate_limit_redis_errors,
            rate_limit_fallbacks,
            rate_limit_redis_down,
            rate_limit_bans_unlisted,
            status_checks_dropped,
        }
    }

    /// The gauge of one target's health.
    pub fn target_gauge(&self, upstream: &str, target: &str) -> TargetGauge {
        self.upstream_target_up
            .get_or_create(&TargetLabels {
                upstream: upstream.to_owned(),
                target: target.to_owned(),
            })
            .clone()
    }

    /// Counts one rate limit check.
    pub fn note_limit(&self, rule: &str, outcome: &doorman_core::ratelimit::LimitOutcome) {
        use doorman_core::ratelimit::LimitOutcome;
        let outcome = match outcome {
            LimitOutcome::Checked { allowed: true, .. } => "allowed",
            LimitOutcome::Checked { .. } => "over",
            LimitOutcome::Unavailable => "unavailable",
        };
        self.rate_limit_checks
            .get_or_create(&LimitLabels {
                rule: rule.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Counts one answered request and observes how long it took since `started`. `route` is
    /// what `proxy::process` names it by: a route of `rt`'s snapshot or one of the gateway's own
    /// endpoints.
    pub fn note_request(&self, rt: &Runtime, route: &str, status: StatusCode, started: Instant) {
        let elapsed = started.elapsed();
        let Some(slots) = rt.metric_handles.routes.get(route) else {
            // A name the snapshot did not foresee: counted all the same, the slow way.
            self.request_duration
                .get_or_create(&RouteLabels {
                    route: route.to_owned(),
                })
                .observe(elapsed);
            self.count_request(route, status);
            return;
        };
        slots
            .duration
            .get_or_init(|| {
                self.request_duration
                    .get_or_create(&RouteLabels {
                        route: route.to_owned(),
                    })
                    .clone()
            })
            .observe(elapsed);
        match slots
            .by_status
            .get(usize::from(status.as_u16()).wrapping_sub(100))
        {
            Some(slot) => {
                slot.get_or_init(|| self.request_counter(route, status))
                    .inc();
            }
            None => self.count_request(route, status),
        }
    }

    fn request_counter(&self, route: &str, status: StatusCode) -> Counter {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status: status.as_u16(),
            })
            .clone()
    }

    fn count_request(&self, route: &str, status: StatusCode) {
        self.request_counter(route, status).inc();
    }

    /// Counts the rules a decision says matched, one increment each.
    pub fn note_rule_matches(&self, rt: &Runtime, matched: &[RuleMatch]) {
        let policy = &rt.config.policy;
        let slots = &rt.metric_handles.rules;
        for m in matched {
            let (slot, id) = match m.kind {
                RuleKind::AccessRule => (
                    slots.access.get(m.index),
                    policy
                        .firewall
                        .access_rules
                        .get(m.index)
                        .map(|r| r.id.as_str()),
                ),
                RuleKind::CustomRule => (
                    slots.custom.get(m.index),
                    policy.firewall.rules.get(m.index).map(|r| r.id.as_str()),
                ),
                RuleKind::RateLimit if m.index == KEY_LIMIT => {
                    (Some(&slots.key_limit), Some(KEY_LIMIT_ID))
                }
                RuleKind::RateLimit => (
                    slots.rate_limits.get(m.index),
                    policy.rate_limits.get(m.index).map(|r| r.id.as_str()),
                ),
            };
            let (Some(slot), Some(id)) = (slot, id) else {
                continue;
            };
            slot[m.action.index()]
                .get_or_init(|| {
                    self.rule_matches
                        .get_or_create(&RuleLabels {
                            kind: m.kind.as_str(),
                            rule: id.to_owned(),
                            action: m.action.as_str(),
                        })
                        .clone()
                })
                .inc();
        }
    }

    /// The exposition in `format`.
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = match format {
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)
            }
            Format::Classic => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            }
        };
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A scrape: copies the counts kept elsewhere into their metrics, then encodes them all.
pub fn scrape(gw: &Gateway, format: Format) -> String {
    let m = &gw.metrics;
    let events = gw.events.stats();
    copy_count(&m.event_log_dropped, events.dropped);
    copy_count(&m.event_log_recorded, events.recorded);
    copy_count(&m.event_log_write_errors, events.write_errors);
    if let Some(log) = &gw.access_log {
        let stats = log.stats();
        copy_count(&m.access_log_lines, stats.lines);
        copy_count(&m.access_log_dropped, stats.dropped);
    }
    let limiter = gw.limiter.stats();
    m.rate_limit_tracked_keys
        .set(i64::try_from(limiter.tracked_keys).unwrap_or(i64::MAX));
    copy_count(&m.rate_limit_evictions, limiter.evicted);
    copy_count(&m.rate_limit_redis_errors, limiter.redis_errors);
    copy_count(&m.rate_limit_fallbacks, limiter.fallbacks);
    m.rate_limit_redis_down.set(i64::from(limiter.redis_down));
    copy_count(
        &m.rate_limit_bans_unlisted,
        gw.limiter.bans_unlisted.load(Ordering::Relaxed),
    );
    if let Some(status) = &gw.status {
        copy_count(&m.status_checks_dropped, status.dropped());
    }
    m.encode(format)
}

/// Sets a counter to a count kept elsewhere. `fetch_max`, so that two scrapes racing cannot
/// make it go back.
fn copy_count(counter: &Counter, count: u64) {
    counter.inner().fetch_max(count, Ordering::Relaxed);
}

/// The two text formats `/metrics` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus' classic text format, 0.0.4: what `promtool check metrics` reads and what a
    /// scraper gets unless it asks for OpenMetrics.
    Classic,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when `Accept` (all its values, comma-joined) names
    /// `application/openmetrics-text` at least as high as `text/plain`; classic otherwise.
    pub fn negotiate(accept: &str) -> Format {
        let (mut openmetrics, mut classic) = (0.0f32, 0.0f32);
        for item in accept.split(',') {
            let mut params = item.split(';');
            let media = params.next().unwrap_or("").trim();
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if media.eq_ignore_ascii_case("application/openmetrics-text") {
                openmetrics = openmetrics.max(q);
            } else if media.eq_ignore_ascii_case("text/plain") {
                classic = classic.max(q);
            }
        }
        if openmetrics > 0.0 && openmetrics >= classic {
            Format::OpenMetrics
        } else {
            Format::Classic
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Classic => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The names `proxy::process` gives answers that belong to no route: a refused request ("-"),
/// the status page, the challenge answer, trace and whoami. A name missing here is still
/// counted, only without a prepared handle.
const OWN_ENDPOINTS: [&str; 6] = ["-", "status", "errors", "challenge", "trace", "whoami"];

/// Statuses 100 to 599 have a prepared counter per route; hyper allows no others but 600–999,
/// which are counted the slow way.
const STATUS_SLOTS: usize = 500;

/// The handles one configuration snapshot's requests count with, filled on first use.
/// Indexed like the snapshot's routes and rules, so a request finds its handle without building
/// a label or taking a lock.
pub struct SnapshotHandles {
    routes: HashMap<Box<str>, RouteSlots, BuildHasherDefault<Fnv1a>>,
    rules: RuleSlots,
}

/// FNV-1a, for the map of route names: a tenth of SipHash's cost on a short name, looked up on
/// every request. Its keys come from the configuration and lookups with names `process` chose,
/// so there is no one to flood it with colliding keys.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

struct RouteSlots {
    duration: OnceLock<RequestHistogram>,
    /// `requests{route, status}` at `status - 100`.
    by_status: Box<[OnceLock<Counter>]>,
}

/// A counter per action a rule can take.
type ActionSlots = [OnceLock<Counter>; MatchAction::ALL.len()];

struct RuleSlots {
    access: Box<[ActionSlots]>,
    custom: Box<[ActionSlots]>,
    rate_limits: Box<[ActionSlots]>,
    /// The API key's own limit ([`KEY_LIMIT`]).
    key_limit: ActionSlots,
}

impl SnapshotHandles {
    /// Empty handles for `policy`'s routes and rules.
    pub fn new(policy: &doorman_core::Policy) -> SnapshotHandles {
        let routes = policy
            .routes
            .iter()
            .map(|r| r.name.as_str())
            .chain(OWN_ENDPOINTS)
            .map(|name| {
                let slots = RouteSlots {
                    duration: OnceLock::new(),
                    by_status: (0..STATUS_SLOTS).map(|_| OnceLock::new()).collect(),
                };
                (Box::from(name), slots)
            })
            .collect();
        let slots = |n: usize| (0..n).map(|_| ActionSlots::default()).collect();
        SnapshotHandles {
            routes,
            rules: RuleSlots {
                access: slots(policy.firewall.access_rules.len()),
                custom: slots(policy.firewall.rules.len()),
                rate_limits: slots(policy.rate_limits.len()),
                key_limit: ActionSlots::default(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_chooses_the_format() {
        let cases = [
            ("", Format::Classic),
            ("*/*", Format::Classic),
            ("text/plain", Format::Classic),
            ("text/plain;version=0.0.4;q=0.9,*/*;q=0.1", Format::Classic),
            (
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                Format::OpenMetrics,
            ),
            (
                "application/openmetrics-text; version=1.0.0",
                Format::OpenMetrics,
            ),
            (
                "application/openmetrics-text;q=0.3,text/plain;q=0.5",
                Format::Classic,
            ),
            ("application/openmetrics-text;q=0", Format::Classic),
        ];
        for (accept, expected) in cases {
            assert_eq!(Format::negotiate(accept), expected, "Accept: {accept}");
        }
    }

    #[test]
    fn the_histogram_counts_each_duration_in_its_bucket() {
        let h = RequestHistogram::default();
        h.observe(Duration::from_micros(250));
        h.observe(Duration::from_micros(251));
        h.observe(Duration::from_secs(3600));
        let counts: Vec<u64> =
            h.0.buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect();
        assert_eq!(counts[0], 1, "{counts:?}");
        assert_eq!(counts[1], 1, "{counts:?}");
        assert_eq!(counts[REQUEST_BOUNDS_NS.len()], 1, "{counts:?}");
        assert_eq!(h.0.sum_ns.load(Ordering::Relaxed), 3_600_000_501_000);
    }

    #[test]
    fn route_names_hash_with_fnv1a() {
        // The published FNV-1a 64-bit test vectors.
        for (text, hash) in [("", 0xcbf2_9ce4_8422_2325), ("a", 0xaf63_dc4c_8601_ec8c)] {
            let mut h = Fnv1a::default();
            h.write(text.as_bytes());
            assert_eq!(h.finish(), hash, "{text:?}");
        }
        let names: HashMap<Box<str>, usize, BuildHasherDefault<Fnv1a>> = OWN_ENDPOINTS
            .iter()
            .enumerate()
            .map(|(i, n)| (Box::from(*n), i))
            .collect();
        for (i, name) in OWN_ENDPOINTS.iter().enumerate() {
            assert_eq!(names.get(*name), Some(&i));
        }
    }
}
