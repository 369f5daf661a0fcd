//! Telling a service manager what the gateway is doing (systemd's `sd_notify` protocol): ready
//! once every listener is bound, reloading while a SIGHUP reload runs, stopping when a graceful
//! shutdown starts, and a one-line status that `systemctl status` shows.
//!
//! Every notice is a no-op where `NOTIFY_SOCKET` is unset (a terminal, a container, a test), so
//! callers never ask whether systemd is there. A notice that cannot be sent is logged once at
//! debug level and otherwise ignored: the gateway serves whether or not anyone listens.

use sd_notify::NotifyState;

use crate::gateway::ReloadOutcome;

/// Listeners are bound and the first configuration is live: `Type=notify` units count as
/// started from here, so a dependent unit never sees a refused connection.
pub fn ready(listeners: usize) {
    let status = format!("serving on {listeners} listener(s)");
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// A reload has begun. systemd (`Type=notify-reload`, version 253 and later) holds
/// `systemctl reload` until the matching [`reloaded`]; older versions show the state.
pub fn reloading() {
    // systemd rejects RELOADING=1 without the clock reading it was sent at.
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// A reload has ended, either way: the gateway is ready again, with the old configuration if
/// the new one was rejected, and the status line says which.
pub fn reloaded(outcome: &ReloadOutcome) {
    let status = match outcome {
        ReloadOutcome::Applied { routes, .. } => {
            format!("configuration reloaded ({routes} routes)")
        }
        ReloadOutcome::Rejected(_) => {
            "reload rejected: the previous configuration stays in force (see the log)".to_string()
        }
        ReloadOutcome::NoFile => "nothing to reload: started without a config file".to_string(),
    };
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// A graceful shutdown has begun (connections are draining).
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("draining connections"),
    ]);
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("could not notify the service manager: {e}");
    }
}
