//! Reload triggers: SIGHUP, and a poll of the config file's modification time and size (once a
//! second), which also catches editors that replace the file instead of writing it in place.
//! Either way the gateway compiles the new file first and keeps the old one if it is broken.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::gateway::Gateway;

/// What the watcher compares: modification time and size.
pub type Stamp = Option<(SystemTime, u64)>;

/// The file's current stamp.
pub fn stamp(path: &std::path::Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Stamps of the config file and every file the running policy was built from.
pub fn stamps(gw: &Gateway) -> Vec<(PathBuf, Stamp)> {
    let Some(config) = gw.config_path() else {
        return Vec::new();
    };
    let rt = gw.runtime();
    std::iter::once(config.clone())
        .chain(rt.watched_files.iter().cloned())
        .map(|p| {
            let s = stamp(&p);
            (p, s)
        })
        .collect()
}

/// Reloads whenever the config file or a list/database it names changes from `loaded` (their
/// stamps when they were read), until shutdown. The stamps are taken by the caller, not here, so
/// that a change made before this task first runs is still seen.
pub async fn watch_files(
    gw: Arc<Gateway>,
    loaded: Vec<(PathBuf, Stamp)>,
    shutdown: CancellationToken,
) {
    let mut last = loaded;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let changed = last
            .iter()
            .find(|(p, s)| stamp(p) != *s && stamp(p).is_some())
            .map(|(p, _)| p.clone());
        if let Some(path) = changed {
            // Give an editor a moment to finish writing before we read.
            tokio::time::sleep(Duration::from_millis(100)).await;
            tracing::info!(target: "doorman::config", "{} changed; reloading", path.display());
            let g = gw.clone();
            let _ = tokio::task::spawn_blocking(move || g.reload()).await;
            // Whatever the outcome, wait for the next change: a broken file is reported once.
            last = stamps(&gw);
        }
    }
}

/// Waits for signals: SIGHUP reloads, SIGUSR1 reopens the access log (after logrotate moved
/// it), SIGTERM/SIGINT start a graceful shutdown.
#[cfg(unix)]
pub async fn run_signals(gw: Arc<Gateway>, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut usr1), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!(
            "cannot install signal handlers; stop the server with the admin API or by killing it"
        );
        shutdown.cancelled().await;
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading configuration");
                crate::service_notify::reloading();
                let gw = gw.clone();
                if let Ok(outcome) = tokio::task::spawn_blocking(move || gw.reload()).await {
                    crate::service_notify::reloaded(&outcome);
                }
            }
            _ = usr1.recv() => {
                match &gw.access_log {
                    Some(log) => {
                        tracing::info!("SIGUSR1: reopening the access log");
                        log.reopen();
                    }
                    None => tracing::debug!("SIGUSR1: no access log to reopen"),
                }
            }
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down gracefully"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down gracefully"); break; }
            _ = shutdown.cancelled() => return,
        }
    }
    crate::service_notify::stopping();
    shutdown.cancel();
}

#[cfg(not(unix))]
pub async fn run_signals(_gw: Arc<Gateway>, shutdown: CancellationToken) {
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
}
