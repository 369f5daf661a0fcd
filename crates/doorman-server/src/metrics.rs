//! Prometheus metrics, served on the admin listener at `/metrics`. Counters are updated on the
//! request path with atomic adds; nothing here blocks.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
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

/// All of the gateway's metrics.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub decisions: Family<CodeLabels, Counter>,
    pub upstream_latency: Family<UpstreamLabels, Histogram, fn() -> Histogram>,
    pub connections_open: Gauge,
    pub connections_refused: Counter,
    pub connections_evicted: Counter,
    pub reloads: Family<OutcomeLabels, Counter>,
    pub event_log_dropped: Gauge,
    pub event_log_recorded: Gauge,
    pub event_log_write_errors: Gauge,
    pub rate_limit_checks: Family<LimitLabels, Counter>,
    pub upstream_target_up: Family<TargetLabels, Gauge>,
    pub rate_limit_tracked_keys: Gauge,
    pub rate_limit_evictions: Gauge,
    pub rate_limit_redis_errors: Gauge,
    pub rate_limit_fallbacks: Gauge,
    pub rate_limit_redis_down: Gauge,
    pub rate_limit_bans_unlisted: Gauge,
    pub status_checks_dropped: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("doorman");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and HTTP status",
            requests.clone(),
        );
        let decisions = Family::<CodeLabels, Counter>::default();
        registry.register(
            "decisions",
            "Non-allow answers, by Doorman code",
            decisions.clone(),
        );
        let upstream_latency =
            Family::<UpstreamLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "upstream_response_seconds",
            "Time from sending a request upstream to receiving its response head",
            upstream_latency.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "Client connections currently open",
            connections_open.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections closed before HTTP (TLS handshake or PROXY header failed)",
            connections_refused.clone(),
        );
        let connections_evicted = Counter::default();
        registry.register(
            "connections_evicted",
            "Idle connections asked to close to make room for a new client while max_connections were open",
            connections_evicted.clone(),
        );
        let reloads = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads, by outcome",
            reloads.clone(),
        );
        let event_log_dropped = Gauge::default();
        registry.register(
            "event_log_dropped",
            "Events dropped because the event log queue was full",
            event_log_dropped.clone(),
        );
        let event_log_recorded = Gauge::default();
        registry.register(
            "event_log_recorded",
            "Events written to the event log",
            event_log_recorded.clone(),
        );
        let event_log_write_errors = Gauge::default();
        registry.register(
            "event_log_write_errors",
            "Event log batches that failed to write",
            event_log_write_errors.clone(),
        );
        let rate_limit_checks = Family::<LimitLabels, Counter>::default();
        registry.register(
            "rate_limit_checks",
            "Rate limit checks, by rule and outcome (allowed, over, unavailable)",
            rate_limit_checks.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let rate_limit_tracked_keys = gauge(
            &mut registry,
            "rate_limit_tracked_keys",
            "Keys the in-process rate limiter tracks",
        );
        let rate_limit_evictions = gauge(
            &mut registry,
            "rate_limit_evictions",
            "Keys evicted because the in-process limiter was full (max_keys)",
        );
        let rate_limit_redis_errors = gauge(
            &mut registry,
            "rate_limit_redis_errors",
            "Redis rate limit calls that failed or timed out",
        );
        let rate_limit_fallbacks = gauge(
            &mut registry,
            "rate_limit_fallbacks",
            "Rate limit decisions made in process because Redis was unavailable (fail mode open)",
        );
        let rate_limit_redis_down = gauge(
            &mut registry,
            "rate_limit_redis_down",
            "1 while the shared rate limiter's Redis is considered down",
        );
        let rate_limit_bans_unlisted = gauge(
            &mut registry,
            "rate_limit_bans_unlisted",
            "Bans left out of `doorman bans list` because the listing was full",
        );
        let status_checks_dropped = gauge(
            &mut registry,
            "status_checks_dropped",
            "Health-check results the status page's writer could not take (its queue was full)",
        );
        let upstream_target_up = Family::<TargetLabels, Gauge>::default();
        registry.register(
            "upstream_target_up",
            "1 while an upstream target passes its health checks, 0 while it is out of the rotation",
            upstream_target_up.clone(),
        );
        Metrics {
            registry,
            upstream_target_up,
            rate_limit_checks,
            rate_limit_tracked_keys,
            rate_limit_evictions,
            rate_limit_redis_errors,
            rate_limit_fallbacks,
            rate_limit_redis_down,
            rate_limit_bans_unlisted,
            status_checks_dropped,
            requests,
            decisions,
            upstream_latency,
            connections_open,
            connections_refused,
            connections_evicted,
            reloads,
            event_log_dropped,
            event_log_recorded,
            event_log_write_errors,
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

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
