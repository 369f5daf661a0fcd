//! Doorman's I/O shell: everything that touches sockets, files and signals, around the pure
//! decision core.
//!
//! [`start`] binds the listeners and the admin API and returns a [`Started`] handle; [`serve`]
//! runs until SIGTERM/SIGINT with SIGHUP and file-change reloads. One request's path is in
//! [`proxy`], top to bottom. What this crate deliberately does not do: decide anything about a
//! request (that is `doorman-core`), parse configuration (`doorman-config`) or know SQL
//! (`doorman-store`).
#![forbid(unsafe_code)]

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod body;
pub mod bot;
pub mod build;
mod canonical;
pub mod challenge;
mod client_body;
mod connections;
mod counting;
mod forward;
pub mod gateway;
mod h2_frames;
mod head_timeout;
pub mod headers;
pub mod health;
mod hello;
pub mod limits;
mod listener;
pub mod logging;
pub mod malformed;
pub mod metrics;
#[cfg(target_os = "linux")]
mod process_metrics;
pub mod proxy;
mod proxy_protocol;
mod reload;
pub mod respond;
mod service_notify;
pub mod status;
mod status_admin;
mod tls;
pub mod trace;
pub mod upstream;
pub mod whoami;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use doorman_config::Loaded;
use doorman_store::{EventLog, EventLogSettings};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use gateway::{Gateway, ReloadOutcome};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener's address could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (is another process using the port? ports below 1024 need privileges)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// A TLS certificate or key could not be used.
    #[error("TLS file {path}: {message}")]
    Tls { path: PathBuf, message: String },
    /// The admin token could not be read or created.
    #[error("admin token: {message}")]
    AdminToken { message: String },
    /// The challenge's signing keys could not be read or created.
    #[error("challenge key file {0}")]
    ChallengeKeys(String),
    /// The API key store could not be opened.
    #[error("API key store: {0}")]
    KeyStore(String),
    /// The rate limiter's settings could not be used (a malformed Redis URL).
    #[error("rate limiter: {0}")]
    RateLimiter(String),
    /// The data directory or the event log could not be opened.
    #[error("event log: {0}")]
    EventLog(String),
    /// The access log's file could not be opened.
    #[error("cannot open the access log {0}")]
    AccessLog(String),
}

/// A running server.
pub struct Started {
    /// The addresses the public listeners are bound to, in config order (useful with port 0).
    pub listen_addrs: Vec<SocketAddr>,
    /// The admin listener's address (`None` when the admin API is disabled).
    pub admin_addr: Option<SocketAddr>,
    /// The shared state (config snapshot, metrics, event log).
    pub gateway: Arc<Gateway>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Started {
    /// Asks the server to stop: listeners close at once, in-flight requests may finish.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the server has stopped and the event log is flushed.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds everything and starts serving `loaded` (the result of `doorman_config::load`).
/// `config_path` enables reloads.
pub async fn start(loaded: Loaded, config_path: Option<PathBuf>) -> Result<Started, ServerError> {
    let s = &loaded.config.server;
    // Owner-only when created here: it will hold client IPs, key hashes and the admin token.
    doorman_common::sqlite::create_private_dir(&s.data_dir).map_err(|e| {
        ServerError::EventLog(format!(
            "cannot create data_dir {}: {e}",
            s.data_dir.display()
        ))
    })?;
    let token: Option<Arc<str>> = match &s.admin {
        Some(a) => Some(Arc::from(admin::load_token(&a.token)?)),
        None => None,
    };

    let mut listeners = Vec::with_capacity(s.listeners.len());
    let mut listen_addrs = Vec::with_capacity(s.listeners.len());
    for l in &s.listeners {
        let tcp = TcpListener::bind(l.addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: l.addr,
                source,
            })?;
        let tls = match &l.tls {
            Some(files) => Some(tls::acceptor(&files.cert_file, &files.key_file)?),
            None => None,
        };
        listen_addrs.push(tcp.local_addr().map_err(|source| ServerError::Bind {
            addr: l.addr,
            source,
        })?);
        listeners.push(listener::Listener {
            tcp,
            serves: Arc::new(listener::Serves {
                settings: l.clone(),
                tls,
            }),
        });
    }
    let admin_tcp = match &s.admin {
        Some(a) => Some(
            TcpListener::bind(a.addr)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: a.addr,
                    source,
                })?,
        ),
        None => None,
    };
    let admin_addr = match (&admin_tcp, &s.admin) {
        (Some(tcp), Some(a)) => Some(tcp.local_addr().map_err(|source| ServerError::Bind {
            addr: a.addr,
            source,
        })?),
        _ => None,
    };

    let ev = &s.events;
    let events = EventLog::open(
        &s.data_dir,
        EventLogSettings {
            queue_capacity: ev.queue_capacity,
            batch_size: ev.batch_size,
            retention_days: ev
                .retention_days
                .map_or(0, |d| u32::try_from(d).unwrap_or(u32::MAX)),
            retention_rows: ev.retention_rows.unwrap_or(0),
        },
    )
    .map_err(|e| ServerError::EventLog(e.to_string()))?;

    let access_log = s
        .access_log
        .as_ref()
        .map(|a| {
            access_log::AccessLog::start(a).map_err(|e| {
                let what = match &a.destination {
                    doorman_config::AccessLogDestination::File(p) => p.display().to_string(),
                    doorman_config::AccessLogDestination::Stdout => "stdout".to_owned(),
                };
                ServerError::AccessLog(format!("{what}: {e}"))
            })
        })
        .transpose()?;

    let grace = s.shutdown_grace;
    let max_connections = s.limits.max_connections;
    let watch = s.watch_config;
    let limiter = limits::Limiter::new(&s.rate_limit).map_err(ServerError::RateLimiter)?;
    let keys = auth::Keys::open(&s.data_dir).map_err(ServerError::KeyStore)?;
    let keyring =
        doorman_challenge::Keyring::load_or_create(&s.challenge.key_file).map_err(|e| {
            ServerError::ChallengeKeys(format!("{}: {e}", s.challenge.key_file.display()))
        })?;
    let gw = Arc::new(Gateway::new(
        loaded,
        config_path,
        events,
        access_log,
        limiter,
        keys,
        keyring,
    ));
    // Taken now, before the watcher task runs, so an edit made in between is still noticed.
    let loaded_stamps = reload::stamps(&gw);
    let shutdown = CancellationToken::new();
    let connections = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(max_connections.max(1)));
    let registry = connections::Registry::new();
    let mut accept_tasks = Vec::new();
    for l in listeners {
        accept_tasks.push(tokio::spawn(listener::accept_loop(
            gw.clone(),
            l,
            permits.clone(),
            registry.clone(),
            connections.clone(),
            shutdown.clone(),
        )));
    }
    if let (Some(tcp), Some(token)) = (admin_tcp, token) {
        tokio::spawn(admin::serve(gw.clone(), tcp, token, shutdown.clone()));
    }
    {
        // Idle keys hold no information; dropping them keeps memory to the keys in use.
        let gw = gw.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => gw.limiter.sweep(std::time::SystemTime::now()),
                    _ = shutdown.cancelled() => break,
                }
            }
        });
    }
    if watch {
        tokio::spawn(reload::watch_files(
            gw.clone(),
            loaded_stamps,
            shutdown.clone(),
        ));
    }

    let task = {
        let gw = gw.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            for t in accept_tasks {
                let _ = t.await;
            }
            drain(&gw, &connections, grace).await;
            // The writer thread is joined here; that blocks, so not on a runtime worker.
            let events = gw.events.clone();
            match tokio::task::spawn_blocking(move || events.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("event log did not flush cleanly: {e}"),
                Err(e) => tracing::error!("event log shutdown panicked: {e}"),
            }
            let gw = gw.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(log) = &gw.access_log {
                    log.shutdown();
                }
            })
            .await;
        })
    };
    Ok(Started {
        listen_addrs,
        admin_addr,
        gateway: gw,
        shutdown,
        task,
    })
}

/// Waits for in-flight requests (streams and tunnels included) to finish, at most `grace`.
async fn drain(gw: &Gateway, connections: &TaskTracker, grace: Duration) {
    connections.close();
    gw.tunnels.close();
    let open = connections.len();
    if open > 0 {
        tracing::info!("draining {open} connections (up to {} s)", grace.as_secs());
    }
    let all = async {
        connections.wait().await;
        gw.tunnels.wait().await;
    };
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!(
            "shutdown grace of {} s ran out with {} connections and {} tunnels still open; closing them",
            grace.as_secs(),
            connections.len(),
            gw.tunnels.len()
        );
    }
}

/// Runs a server until SIGTERM or SIGINT, reloading on SIGHUP. Prints where it listens.
pub async fn serve(loaded: Loaded, config_path: Option<PathBuf>) -> Result<(), ServerError> {
    let started = start(loaded, config_path).await?;
    for addr in &started.listen_addrs {
        tracing::info!("listening on {addr}");
    }
    if let Some(admin) = started.admin_addr {
        tracing::info!("admin API on {admin}");
    }
    service_notify::ready(started.listen_addrs.len());
    reload::run_signals(started.gateway.clone(), started.shutdown.clone()).await;
    started.wait().await;
    tracing::info!("stopped");
    Ok(())
}
