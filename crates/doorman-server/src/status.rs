//! The status page's live side: health-check results become component states, daily uptime
//! and incidents in `status.sqlite`, and the page, its Statuspage-compatible JSON, feed and
//! badge are served from a snapshot of that file.
//!
//! Health-check tasks never touch SQLite: they hand each result to a bounded queue (a full
//! queue drops the result and counts it), and one writer thread folds results into the store,
//! derives each component's state from how many of its targets are up (all: operational, or
//! degraded performance when its recent checks are slower than `degraded_above_ms`; none: major
//! outage; some: partial outage), and, with `auto_incidents`, opens an incident when a
//! component goes down and resolves it when it is back. The same thread moves scheduled
//! maintenance along its window. Pages are rendered from a snapshot read at most once a second,
//! off the runtime's workers, so a crowd reading the page during an outage costs one SQLite
//! read per second, not one per visitor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use bytes::Bytes;
use doorman_config::StatusSettings;
use doorman_status::{
    ComponentSpec, ComponentStatus, Endpoint, Impact, IncidentStatus, Mitigation, NewIncident,
    PageInfo, Snapshot, SnapshotOptions, StatusStore,
};
use http::{Method, Response, StatusCode, header};

use crate::body::ProxyBody;

/// Results waiting for the writer; beyond this they are dropped and counted.
const QUEUE: usize = 1024;
/// How often the writer moves maintenance along even when no check arrives.
const TICK: Duration = Duration::from_secs(10);
/// How long a rendered snapshot is served before it is read again.
const SNAPSHOT_TTL: Duration = Duration::from_secs(1);
/// Passing checks averaged to call a component slow: one slow answer is not a degradation.
const SLOW_WINDOW: usize = 3;
/// First words of every update the gateway posts by itself, so that a restarted gateway can
/// recognise (and later resolve) the incidents it opened.
pub const AUTO_PREFIX: &str = "Automatic:";

/// One health check's result, as the checking task reports it.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The upstream's name.
    pub upstream: String,
    /// When the check ended (Unix ms).
    pub at_ms: i64,
    /// Whether it passed.
    pub ok: bool,
    /// How long it took.
    pub latency_ms: u64,
    /// Targets of the upstream that are up after this check, and how many there are.
    pub up: usize,
    /// All targets of the upstream.
    pub total: usize,
    /// Every target's state is confirmed by checks (not the optimistic start value), so `up`
    /// may change the component's state.
    pub settled: bool,
    /// What failed, when it did: "127.0.0.1:9: connection refused".
    pub why: Option<String>,
}

enum Work {
    Check(CheckResult),
    Configure(Arc<StatusSettings>),
}

/// Where health-check tasks send their results. Cheap to clone.
#[derive(Clone)]
pub struct StatusFeed {
    tx: SyncSender<Work>,
    dropped: Arc<AtomicU64>,
}

impl StatusFeed {
    /// Hands a result to the writer; never waits.
    pub fn report(&self, result: CheckResult) {
        match self.tx.try_send(Work::Check(result)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// The status store, its writer and the page cache; one per gateway, kept across reloads.
pub struct StatusService {
    store: Arc<StatusStore>,
    feed: StatusFeed,
    mitigations: Arc<ArcSwap<Vec<Mitigation>>>,
    cache: Mutex<Option<Arc<Cached>>>,
    /// Configurations sent to the writer and not applied yet: while there is one, a snapshot is
    /// served but not cached, so a reload's components show on the next request, not a second
    /// later.
    pending: Arc<std::sync::atomic::AtomicU64>,
}

/// A rendered answer: its content type and body.
type Body = (&'static str, Bytes);

/// A snapshot and what has been rendered from it: each endpoint is rendered once per snapshot,
/// then served as shared bytes.
struct Cached {
    at: Instant,
    snap: Arc<Snapshot>,
    /// (endpoint, content type and body; `None` for an incident the snapshot does not hold).
    rendered: Mutex<Vec<(Endpoint, Option<Body>)>>,
}

impl Cached {
    fn rendered(&self, endpoint: Endpoint) -> Option<Body> {
        let mut done = self.rendered.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, r)) = done.iter().find(|(e, _)| *e == endpoint) {
            return r.clone();
        }
        // Rendering under the lock: the first visitor of a second renders, the others wait
        // a few microseconds and share the bytes instead of rendering again.
        let r = endpoint
            .render(&self.snap)
            .map(|r| (r.content_type, Bytes::from(r.body)));
        done.push((endpoint, r.clone()));
        r
    }
}

impl StatusService {
    /// Opens `<data_dir>/status.sqlite`, applies the first configuration (so the first page
    /// already shows its components), and starts the writer thread.
    pub fn start(
        data_dir: &std::path::Path,
        settings: Option<&StatusSettings>,
    ) -> Result<Arc<StatusService>, String> {
        let store = Arc::new(StatusStore::open(data_dir).map_err(|e| e.to_string())?);
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let mitigations = Arc::new(ArcSwap::from_pointee(Vec::new()));
        let pending = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut writer = Writer {
            store: store.clone(),
            settings: None,
            targets: HashMap::new(),
            last_failure: HashMap::new(),
            latencies: HashMap::new(),
            auto: HashMap::new(),
            mitigations: mitigations.clone(),
            pending: pending.clone(),
        };
        if let Some(s) = settings {
            writer.configure(Arc::new(s.clone()));
        }
        std::thread::Builder::new()
            .name("doorman-status".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| format!("cannot start the status writer thread: {e}"))?;
        Ok(Arc::new(StatusService {
            store,
            feed: StatusFeed {
                tx,
                dropped: Arc::default(),
            },
            mitigations,
            cache: Mutex::new(None),
            pending,
        }))
    }

    /// The queue health checks report into.
    pub fn feed(&self) -> StatusFeed {
        self.feed.clone()
    }

    /// Results dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.feed.dropped.load(Ordering::Relaxed)
    }

    /// The store, for the admin API.
    pub fn store(&self) -> &Arc<StatusStore> {
        &self.store
    }

    /// Applies a (re)loaded `[status]`: components are defined or hidden, mitigations synced.
    /// Waits for nothing: the writer applies it in order with the checks.
    pub fn configure(&self, settings: Option<&StatusSettings>) {
        if let Some(s) = settings {
            self.pending.fetch_add(1, Ordering::AcqRel);
            // A configuration is rare and must not be lost to a full queue; waiting for room
            // must not stall the runtime thread a reload runs on, so a full queue is waited on
            // by a thread of its own.
            match self.feed.tx.try_send(Work::Configure(Arc::new(s.clone()))) {
                Ok(()) => {}
                Err(TrySendError::Disconnected(_)) => {
                    self.pending.fetch_sub(1, Ordering::AcqRel);
                }
                Err(TrySendError::Full(work)) => {
                    let tx = self.feed.tx.clone();
                    let _ = std::thread::Builder::new()
                        .name("doorman-status-configure".into())
                        .spawn(move || tx.send(work));
                }
            }
        }
        self.invalidate();
    }

    /// Forgets the cached snapshot (after an incident changed, say).
    pub fn invalidate(&self) {
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// A snapshot no older than [`SNAPSHOT_TTL`], with what has been rendered from it.
    async fn cached(&self, settings: &StatusSettings) -> Result<Arc<Cached>, String> {
        if let Some(c) = &*self.cache.lock().unwrap_or_else(PoisonError::into_inner)
            && c.at.elapsed() < SNAPSHOT_TTL
        {
            return Ok(c.clone());
        }
        let store = self.store.clone();
        let page = page_info(settings);
        let mitigations = self.mitigations.load_full();
        let snap = tokio::task::spawn_blocking(move || {
            store.snapshot(
                page,
                now_ms(),
                (*mitigations).clone(),
                &SnapshotOptions::default(),
            )
        })
        .await
        .map_err(|e| format!("status snapshot task failed: {e}"))?
        .map_err(|e| e.to_string())?;
        let cached = Arc::new(Cached {
            at: Instant::now(),
            snap: Arc::new(snap),
            rendered: Mutex::new(Vec::new()),
        });
        if self.pending.load(Ordering::Acquire) == 0 {
            *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = Some(cached.clone());
        }
        Ok(cached)
    }

    /// Answers a request below the status page's path, or `None` when `path` is not there.
    pub async fn answer(
        &self,
        settings: &StatusSettings,
        method: &Method,
        path: &str,
    ) -> Option<Response<ProxyBody>> {
        let rest = if path == settings.path {
            ""
        } else {
            path.strip_prefix(settings.path.as_str())
                .filter(|r| r.starts_with('/'))?
        };
        if method != Method::GET && method != Method::HEAD {
            return Some(plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "The status page only answers GET and HEAD.\n",
                &[(header::ALLOW, "GET, HEAD")],
            ));
        }
        let Some(endpoint) = Endpoint::parse(rest) else {
            return Some(plain(
                StatusCode::NOT_FOUND,
                &format!(
                    "Nothing is served at {path}. The status page is at {}; its JSON at {}/api/v2/summary.json.\n",
                    settings.path, settings.path
                ),
                &[],
            ));
        };
        let cached = match self.cached(settings).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(target: "doorman::status", "status page unavailable: {e}");
                return Some(plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The status page cannot read its data right now; try again in a minute.\n",
                    &[(header::RETRY_AFTER, "60")],
                ));
            }
        };
        let Some((content_type, body)) = cached.rendered(endpoint) else {
            return Some(plain(
                StatusCode::NOT_FOUND,
                &format!(
                    "There is no recent incident at {path}. Recent incidents are listed at {}.\n",
                    settings.path
                ),
                &[],
            ));
        };
        let mut resp = Response::new(if method == Method::HEAD {
            crate::body::full(Bytes::new())
        } else {
            crate::body::full(body)
        });
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        // Short, so that a visitor who reloads sees a change within seconds, yet a crowd is
        // served by any cache in between.
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, max-age=5"),
        );
        h.insert(
            header::HeaderName::from_static("x-content-type-options"),
            header::HeaderValue::from_static("nosniff"),
        );
        if content_type.contains("json") {
            // Statuspage serves its JSON to any origin; widgets on other sites read it.
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                header::HeaderValue::from_static("*"),
            );
        }
        h.insert(
            header::HeaderName::from_static("content-security-policy"),
            header::HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'",
            ),
        );
        Some(resp)
    }
}

fn plain(
    status: StatusCode,
    text: &str,
    extra: &[(header::HeaderName, &'static str)],
) -> Response<ProxyBody> {
    let mut resp = Response::new(crate::body::full(Bytes::from(text.to_owned())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    for (k, v) in extra {
        h.insert(k.clone(), header::HeaderValue::from_static(v));
    }
    resp
}

/// The page's identity from `[status]`.
pub fn page_info(s: &StatusSettings) -> PageInfo {
    PageInfo {
        id: "doorman".into(),
        name: s.title.clone(),
        url: s.url.clone(),
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The writer thread's state.
struct Writer {
    store: Arc<StatusStore>,
    settings: Option<Arc<StatusSettings>>,
    /// Per upstream: (targets up, targets) after its latest check.
    targets: HashMap<String, (usize, usize)>,
    /// Per upstream: the latest failure's words.
    last_failure: HashMap<String, String>,
    /// Per upstream: how long its last passing checks took (at most [`SLOW_WINDOW`]).
    latencies: HashMap<String, std::collections::VecDeque<u64>>,
    /// Per component: the incident the gateway opened for it and has not resolved.
    auto: HashMap<String, i64>,
    mitigations: Arc<ArcSwap<Vec<Mitigation>>>,
    /// [`StatusService::pending`], counted down as configurations are applied.
    pending: Arc<std::sync::atomic::AtomicU64>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Work>) {
        self.adopt_open_incidents();
        loop {
            match rx.recv_timeout(TICK) {
                Ok(Work::Check(c)) => self.check(c),
                Ok(Work::Configure(s)) => {
                    self.configure(s);
                    self.pending.fetch_sub(1, Ordering::AcqRel);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if let Err(e) = self.store.advance_maintenances(now_ms()) {
                tracing::warn!(target: "doorman::status", "scheduled maintenance not advanced: {e}");
            }
        }
    }

    /// Incidents a previous run opened and did not resolve stay ours to resolve.
    fn adopt_open_incidents(&mut self) {
        let Ok(open) = self.store.incidents(i64::MAX, 1000) else {
            return;
        };
        for i in open.iter().filter(|i| !i.status.is_closed()) {
            let ours = i
                .updates
                .first()
                .is_some_and(|u| u.body.starts_with(AUTO_PREFIX));
            if ours && let [component] = i.components.as_slice() {
                self.auto.insert(component.clone(), i.id);
            }
        }
    }

    fn configure(&mut self, settings: Arc<StatusSettings>) {
        let now = now_ms();
        let mut wanted = Vec::new();
        for (position, c) in settings.components.iter().enumerate() {
            let spec = ComponentSpec {
                id: c.id.clone(),
                name: c.name.clone(),
                group: c.group.clone(),
                description: c.description.clone(),
                show_on_page: true,
                position: i64::try_from(position).unwrap_or(i64::MAX),
            };
            if let Err(e) = self.store.upsert_component(&spec, now) {
                tracing::error!(target: "doorman::status", "component {} not stored: {e}", c.id);
            }
            wanted.push(c.id.as_str());
        }
        // Components no longer configured are hidden, not deleted: their history and the
        // incidents naming them stay.
        if let Ok(stored) = self.store.components() {
            for c in stored
                .into_iter()
                .filter(|c| c.show_on_page && !wanted.contains(&c.id.as_str()))
            {
                let spec = ComponentSpec {
                    id: c.id,
                    name: c.name,
                    group: c.group,
                    description: c.description,
                    show_on_page: false,
                    position: c.position,
                };
                let _ = self.store.upsert_component(&spec, now);
            }
        }
        match self.store.sync_mitigations(&settings.mitigations, now) {
            Ok(m) => self.mitigations.store(Arc::new(m)),
            Err(e) => {
                tracing::error!(target: "doorman::status", "public mitigations not stored: {e}")
            }
        }
        let ids: Vec<String> = wanted.iter().map(|s| (*s).to_owned()).collect();
        self.settings = Some(settings);
        for id in ids {
            self.settle(&id, now);
        }
    }

    fn check(&mut self, c: CheckResult) {
        if c.settled {
            self.targets.insert(c.upstream.clone(), (c.up, c.total));
        }
        if let Some(why) = &c.why {
            self.last_failure.insert(c.upstream.clone(), why.clone());
        }
        if c.ok {
            let recent = self.latencies.entry(c.upstream.clone()).or_default();
            if recent.len() == SLOW_WINDOW {
                recent.pop_front();
            }
            recent.push_back(c.latency_ms);
        }
        let Some(settings) = self.settings.clone() else {
            return;
        };
        for comp in settings
            .components
            .iter()
            .filter(|comp| comp.upstreams.contains(&c.upstream))
        {
            if let Err(e) = self
                .store
                .record_check(&comp.id, c.at_ms, c.ok, c.latency_ms)
            {
                tracing::warn!(target: "doorman::status", "check of {} not stored: {e}", comp.id);
            }
            self.settle(&comp.id, c.at_ms);
        }
    }

    /// Derives a component's state from its upstreams' targets and acts on a change.
    fn settle(&mut self, id: &str, now: i64) {
        let Some(settings) = self.settings.clone() else {
            return;
        };
        let Some(comp) = settings.components.iter().find(|c| c.id == id) else {
            return;
        };
        let (up, total) = comp
            .upstreams
            .iter()
            .filter_map(|u| self.targets.get(u))
            .fold((0, 0), |(u, t), (up, total)| (u + up, t + total));
        if total == 0 {
            return; // no check has reported yet: keep what is stored
        }
        let slow = comp.degraded_above.is_some_and(|limit| {
            let limit = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
            comp.upstreams.iter().any(|u| {
                self.latencies.get(u).is_some_and(|recent| {
                    recent.len() == SLOW_WINDOW
                        && recent.iter().sum::<u64>() / SLOW_WINDOW as u64 > limit
                })
            })
        });
        let state = if up == total && slow {
            ComponentStatus::DegradedPerformance
        } else if up == total {
            ComponentStatus::Operational
        } else if up == 0 {
            ComponentStatus::MajorOutage
        } else {
            ComponentStatus::PartialOutage
        };
        match self.store.set_component_status(id, state, now) {
            Ok(true) => {
                tracing::info!(target: "doorman::status", component = id, "status page: {} is now {}", comp.name, state.as_str());
            }
            // Incidents follow changes only: an operator who resolved the automatic incident
            // while the component is still down is not overruled on the next check.
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(target: "doorman::status", "state of {id} not stored: {e}");
                return;
            }
        }
        if !settings.auto_incidents {
            return;
        }
        // Forget an incident someone else already closed.
        if let Some(open) = self.auto.get(id).copied()
            && self
                .store
                .incident(open)
                .ok()
                .flatten()
                .is_none_or(|i| i.status.is_closed())
        {
            self.auto.remove(id);
        }
        match (state, self.auto.get(id).copied()) {
            (ComponentStatus::MajorOutage, None) => {
                // The public words name no server address: those stay in the log.
                let why = comp
                    .upstreams
                    .iter()
                    .filter_map(|u| self.last_failure.get(u))
                    .next()
                    .cloned()
                    .unwrap_or_else(|| "no answer".into());
                tracing::warn!(target: "doorman::status", component = id, "opening an incident: every server of {} fails its health checks ({why})", comp.name);
                let new = NewIncident {
                    name: format!("{} is down", comp.name),
                    status: IncidentStatus::Investigating,
                    impact: Impact::Major,
                    body: format!(
                        "{AUTO_PREFIX} every server of {} fails its health checks. Requests get a \"service is down\" answer until it is back; we are looking into it.",
                        comp.name
                    ),
                    components: vec![id.to_owned()],
                };
                match self.store.open_incident(&new, now) {
                    Ok(i) => {
                        self.auto.insert(id.to_owned(), i.id);
                    }
                    Err(e) => {
                        tracing::error!(target: "doorman::status", "incident for {id} not opened: {e}")
                    }
                }
            }
            (ComponentStatus::MajorOutage, Some(_)) => {}
            (_, Some(incident)) => {
                let since = self
                    .store
                    .incident(incident)
                    .ok()
                    .flatten()
                    .map(|i| i.created_ms);
                let lasted = since
                    .map(|s| {
                        let ms = u64::try_from(now - s).unwrap_or(0);
                        // Whole seconds: "after 3 minutes 20 seconds", not milliseconds.
                        let d = Duration::from_secs(ms / 1000);
                        format!(
                            " after {}",
                            doorman_common::when::duration_words(
                                d,
                                doorman_common::when::UnitNames::Long
                            )
                        )
                    })
                    .unwrap_or_default();
                let body = format!(
                    "{AUTO_PREFIX} {} passes its health checks again{lasted}; requests are served.",
                    comp.name
                );
                match self.store.resolve_incident(incident, &body, now) {
                    Ok(_) => {
                        self.auto.remove(id);
                    }
                    Err(e) => {
                        tracing::error!(target: "doorman::status", "incident {incident} not resolved: {e}")
                    }
                }
            }
            (_, None) => {}
        }
    }
}
