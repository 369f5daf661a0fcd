//! The state every connection shares: the current configuration snapshot (swapped atomically on
//! reload), upstream pools, metrics and the event log handle.
//!
//! A reload compiles the new file first and only then swaps it in; a broken file leaves the
//! running snapshot untouched and says why. Requests in flight keep the snapshot they started with.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use doorman_config::Config;
use doorman_store::EventLog;
use http::HeaderName;
use tokio_util::task::TaskTracker;

use crate::headers::Forwarding;
use crate::limits::Limiter;
use crate::metrics::{Metrics, OutcomeLabels};
use crate::upstream::UpstreamPool;

/// One configuration snapshot, compiled, with what the server derives from it.
pub struct Runtime {
    pub config: Config,
    /// Files besides the config that the policy was built from (lists, databases): a change to
    /// any of them reloads too.
    pub watched_files: Vec<PathBuf>,
    /// Index-aligned with `config.policy.upstreams`.
    pub pools: Vec<UpstreamPool>,
    pub ray_header: HeaderName,
    pub forwarding: Forwarding,
    pub loaded_at: SystemTime,
    /// Trusted JWT issuers; `None` when the config names none.
    pub jwt: Option<doorman_jwt::Providers>,
    /// Some rule reads `doorman.bot.*`, so requests are scored.
    pub wants_bot: bool,
    /// Some rule or limit can challenge (or reads `doorman.clearance`), so clearance cookies
    /// are checked.
    pub wants_clearance: bool,
    /// The page of error codes (`/.well-known/doorman/errors`), rendered once per snapshot.
    pub errors_page: bytes::Bytes,
    /// The metrics handles this snapshot's requests count with (by route, by rule).
    pub metric_handles: crate::metrics::SnapshotHandles,
}

impl Runtime {
    /// Builds a runtime, keeping the warm pools of `previous` whose upstream did not change.
    pub fn build(
        config: Config,
        watched_files: Vec<PathBuf>,
        previous: Option<&Runtime>,
    ) -> Runtime {
        let pools = config
            .policy
            .upstreams
            .iter()
            .map(|spec| {
                previous
                    .and_then(|p| p.pools.iter().find(|pool| pool.serves(spec)))
                    .cloned()
                    .unwrap_or_else(|| UpstreamPool::new(spec.clone()))
            })
            .collect();
        let fwd = &config.server.forwarding;
        let ray_header = fwd.ray_header.clone();
        let forwarding = Forwarding {
            x_forwarded_for: fwd.x_forwarded_for,
            x_forwarded_proto: fwd.x_forwarded_proto,
            x_forwarded_host: fwd.x_forwarded_host,
        };
        let jwt = crate::auth::providers(
            &config.server.auth,
            previous.and_then(|p| p.jwt.as_ref().map(|j| (&p.config.server.auth, j))),
        );
        let wants_bot = reads_bot_fields(&config.policy);
        let wants_clearance = can_challenge(&config.policy);
        let errors_page = doorman_core::render::errors_page(&config.policy.site.name).into();
        let metric_handles = crate::metrics::SnapshotHandles::new(&config.policy);
        Runtime {
            config,
            watched_files,
            pools,
            ray_header,
            forwarding,
            loaded_at: SystemTime::now(),
            jwt,
            wants_bot,
            wants_clearance,
            errors_page,
            metric_handles,
        }
    }
}

/// Whether any rule or rate limit reads a bot field.
fn reads_bot_fields(policy: &doorman_core::Policy) -> bool {
    use doorman_rules::Field;
    let bot = |f: &Field| matches!(f, Field::DoormanBotScore | Field::DoormanBotSignals);
    policy
        .firewall
        .rules
        .iter()
        .any(|(_, e)| e.fields().iter().any(bot))
        || policy.rate_limits.iter().any(|(r, e)| {
            e.fields().iter().any(bot)
                || r.counting
                    .as_ref()
                    .is_some_and(|c| c.fields().iter().any(bot))
        })
}

/// Whether any access rule, custom rule or rate limit can answer with a challenge, or a rule
/// reads the clearance state.
fn can_challenge(policy: &doorman_core::Policy) -> bool {
    use doorman_core::firewall::{AccessAction, RuleAction};
    use doorman_core::ratelimit::LimitAction;
    let fw = &policy.firewall;
    fw.access_rules
        .iter()
        .any(|r| r.action == AccessAction::Challenge)
        || fw.rules.iter().any(|(r, e)| {
            r.action == RuleAction::Challenge
                || e.fields().contains(&doorman_rules::Field::DoormanClearance)
        })
        || policy
            .rate_limits
            .iter()
            .any(|(r, _)| r.action == LimitAction::Challenge)
}

/// Shared by all connections of one server.
pub struct Gateway {
    config_path: Option<PathBuf>,
    current: ArcSwap<Runtime>,
    pub metrics: Metrics,
    pub events: EventLog,
    /// `[access_log]`, started with the process; `None` when off.
    pub access_log: Option<crate::access_log::AccessLog>,
    /// Rate limit counters and bans; they outlive reloads.
    pub limiter: Limiter,
    /// The API key store's snapshot, refreshed when `doorman keys` changes it.
    pub keys: Arc<crate::auth::Keys>,
    /// The keys that sign clearance cookies and challenge tokens; re-read on every reload, so
    /// `doorman challenge rotate-key` takes effect without a restart.
    pub keyring: ArcSwap<doorman_challenge::Keyring>,
    /// Upgraded connections (WebSocket tunnels) that graceful shutdown must also wait for.
    pub tunnels: TaskTracker,
    /// The status page's store and writer; `None` when `status.sqlite` could not be opened
    /// (the gateway still serves, without a status page).
    pub status: Option<Arc<crate::status::StatusService>>,
}

/// The outcome of a reload, for logs and the admin API.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new file is live.
    Applied {
        routes: usize,
        upstreams: usize,
        restart_needed: Vec<String>,
    },
    /// The file did not compile; the previous policy stays.
    Rejected(String),
    /// Nothing to reload from (the server was started from an in-memory config).
    NoFile,
}

impl Gateway {
    pub fn new(
        loaded: doorman_config::Loaded,
        config_path: Option<PathBuf>,
        events: EventLog,
        access_log: Option<crate::access_log::AccessLog>,
        limiter: Limiter,
        keys: Arc<crate::auth::Keys>,
        keyring: doorman_challenge::Keyring,
    ) -> Gateway {
        let metrics = Metrics::new();
        let status = match crate::status::StatusService::start(
            &loaded.config.server.data_dir,
            loaded.config.server.status.as_ref(),
        ) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(target: "doorman::status", "no status page and no health history: {e}");
                None
            }
        };
        let runtime = Runtime::build(loaded.config, loaded.watched_files, None);
        let feed = status.as_ref().map(|s| s.feed());
        for pool in &runtime.pools {
            pool.start_checks(&metrics, feed.as_ref());
        }
        Gateway {
            config_path,
            current: ArcSwap::from_pointee(runtime),
            metrics,
            events,
            access_log,
            limiter,
            keys,
            keyring: ArcSwap::from_pointee(keyring),
            tunnels: TaskTracker::new(),
            status,
        }
    }

    /// The current snapshot. Cheap; hold it for the whole request.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.current.load_full()
    }

    /// The file the configuration came from.
    pub fn config_path(&self) -> Option<&PathBuf> {
        self.config_path.as_ref()
    }

    /// Re-reads the config file; swaps it in only if it compiles.
    pub fn reload(&self) -> ReloadOutcome {
        let Some(path) = &self.config_path else {
            return ReloadOutcome::NoFile;
        };
        match doorman_config::load(path) {
            Ok(loaded) => {
                let old = self.runtime();
                let restart_needed = restart_only_changes(&old.config, &loaded.config);
                for w in &loaded.warnings {
                    tracing::warn!(target: "doorman::config", "{w}");
                }
                let routes = loaded.config.policy.routes.len();
                let upstreams = loaded.config.policy.upstreams.len();
                let key_file = &loaded.config.server.challenge.key_file;
                match doorman_challenge::Keyring::load_or_create(key_file) {
                    Ok(keyring) => self.keyring.store(Arc::new(keyring)),
                    Err(e) => {
                        tracing::error!(target: "doorman::challenge", "challenge keys not reloaded; the running keys stay in force: {}: {e}", key_file.display())
                    }
                }
                if let Some(s) = &self.status {
                    s.configure(loaded.config.server.status.as_ref());
                }
                let runtime = Runtime::build(loaded.config, loaded.watched_files, Some(&old));
                let feed = self.status.as_ref().map(|s| s.feed());
                for pool in &runtime.pools {
                    pool.start_checks(&self.metrics, feed.as_ref());
                }
                self.current.store(Arc::new(runtime));
                self.metrics
                    .reloads
                    .get_or_create(&OutcomeLabels { outcome: "applied" })
                    .inc();
                for what in &restart_needed {
                    tracing::warn!(target: "doorman::config", "{what} changed in {}; this takes effect only after a restart", path.display());
                }
                tracing::info!(target: "doorman::config", routes, upstreams, "configuration reloaded from {}", path.display());
                ReloadOutcome::Applied {
                    routes,
                    upstreams,
                    restart_needed,
                }
            }
            Err(diagnostics) => {
                self.metrics
                    .reloads
                    .get_or_create(&OutcomeLabels {
                        outcome: "rejected",
                    })
                    .inc();
                let text = diagnostics.to_string();
                tracing::error!(target: "doorman::config", "reload rejected; the running configuration stays in force:\n{text}");
                ReloadOutcome::Rejected(text)
            }
        }
    }
}

/// Settings a reload cannot change on a running process, named for the warning.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<String> {
    let (o, n) = (&old.server, &new.server);
    let mut out = Vec::new();
    if o.listeners != n.listeners {
        out.push("[[listeners]]".to_string());
    }
    if o.admin != n.admin {
        out.push("[admin]".to_string());
    }
    if o.data_dir != n.data_dir {
        out.push("server.data_dir".to_string());
    }
    if o.logging != n.logging {
        out.push("[logging]".to_string());
    }
    if o.events != n.events {
        out.push("[events]".to_string());
    }
    if o.access_log != n.access_log {
        out.push("[access_log]".to_string());
    }
    if o.rate_limit != n.rate_limit {
        out.push("[rate_limit]".to_string());
    }
    if o.limits.max_connections != n.limits.max_connections {
        out.push("limits.max_connections".to_string());
    }
    out
}
