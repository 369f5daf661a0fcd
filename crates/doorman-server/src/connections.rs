//! What the parts of one client connection share, and the registry of a server's open
//! connections.
//!
//! Three parties look at a connection: its request handler (which counts requests as they start
//! and finish), its I/O wrapper (which knows when the connection became idle, see
//! [`crate::head_timeout`]) and its task in the listener (which runs hyper and alone can close
//! the connection gracefully). [`ConnShared`] is what they share: two counters, the time the
//! connection last became idle, and a request to close with its reason, which wakes the task.
//!
//! The [`Registry`] lists open connections so that, when `max_connections` is reached, the
//! accept loop can ask the longest-idle ones to close and make room for a new client instead of
//! leaving it in the backlog while idle keep-alive and HTTP/2 connections hold every slot. It is
//! touched when a connection opens or closes and under pressure, never per request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::task::AtomicWaker;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why a connection is asked to close gracefully.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CloseReason {
    /// No request for `limits.idle_timeout_ms` (HTTP/2; HTTP/1 idles out in its wrapper).
    Idle = 1,
    /// Open for `limits.max_connection_age_secs`.
    Age = 2,
    /// Served `limits.max_requests_per_connection` requests.
    Requests = 3,
    /// Idle while `limits.max_connections` was reached and a new client waited.
    Evicted = 4,
}

impl CloseReason {
    fn from_u8(v: u8) -> Option<CloseReason> {
        match v {
            1 => Some(CloseReason::Idle),
            2 => Some(CloseReason::Age),
            3 => Some(CloseReason::Requests),
            4 => Some(CloseReason::Evicted),
            _ => None,
        }
    }

    /// For logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Idle => "idle",
            CloseReason::Age => "max_connection_age",
            CloseReason::Requests => "max_requests_per_connection",
            CloseReason::Evicted => "evicted",
        }
    }
}

/// See the [module documentation](self).
#[derive(Debug)]
pub struct ConnShared {
    /// Requests whose head the handler received.
    pub(crate) heads: AtomicU64,
    /// Requests whose response is over (sent, abandoned, or never made).
    pub(crate) finished: AtomicU64,
    /// The wrapper's read parked while requests are open; woken when one finishes.
    pub(crate) reader: AtomicWaker,
    /// Milliseconds since [`epoch`] when the connection last became idle, as the wrapper saw it.
    idle_since_ms: AtomicU64,
    /// A [`CloseReason`], or 0 while nobody asked.
    close: AtomicU8,
    /// Cancelled when a close is asked for, and with the server's shutdown (it is a child of
    /// that token): the connection's task waits on this one future for both, so a wake of the
    /// connection costs one check more than running hyper alone.
    closing: CancellationToken,
    /// `limits.max_requests_per_connection`.
    max_requests: u64,
}

/// The registry's clock origin; only differences between connections matter.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn millis(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_millis()).unwrap_or(u64::MAX)
}

impl ConnShared {
    /// A connection that has served nothing yet and is idle from now.
    #[cfg(test)]
    pub fn new(max_requests: u64) -> Arc<ConnShared> {
        ConnShared::closing_with(max_requests, CancellationToken::new())
    }

    /// As [`ConnShared::new`], for a server whose shutdown also closes the connection.
    pub fn with_shutdown(max_requests: u64, shutdown: &CancellationToken) -> Arc<ConnShared> {
        ConnShared::closing_with(max_requests, shutdown.child_token())
    }

    fn closing_with(max_requests: u64, closing: CancellationToken) -> Arc<ConnShared> {
        Arc::new(ConnShared {
            heads: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            reader: AtomicWaker::new(),
            idle_since_ms: AtomicU64::new(millis(Instant::now())),
            close: AtomicU8::new(0),
            closing,
            max_requests,
        })
    }

    /// Counts a request head; true for the request that reaches `max_requests`, after whose
    /// response the connection is asked to close.
    pub(crate) fn count_head(&self) -> bool {
        // Relaxed: the counters guard no other data; readers only need to see them move.
        let n = self.heads.fetch_add(1, Ordering::Relaxed) + 1;
        n == self.max_requests
    }

    /// Counts a request as over (`last`: the one [`Self::count_head`] called the last).
    pub(crate) fn count_finished(&self, last: bool) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        // A read parked while the request was open has no timer; wake it so the idle clock starts.
        self.reader.wake();
        if last {
            self.request_close(CloseReason::Requests);
        }
    }

    /// Whether every request received so far is over.
    pub(crate) fn is_idle(&self) -> bool {
        self.finished.load(Ordering::Relaxed) >= self.heads.load(Ordering::Relaxed)
    }

    /// Records when the connection became idle (the wrapper calls this on the transition).
    pub(crate) fn idle_from(&self, at: Instant) {
        self.idle_since_ms.store(millis(at), Ordering::Relaxed);
    }

    /// Asks the connection's task to close gracefully; the first reason stays. False if a
    /// close was already asked for.
    pub fn request_close(&self, reason: CloseReason) -> bool {
        let asked = self
            .close
            .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if asked {
            self.closing.cancel();
        }
        asked
    }

    /// Why the connection was asked to close, if it was.
    pub fn close_reason(&self) -> Option<CloseReason> {
        CloseReason::from_u8(self.close.load(Ordering::Acquire))
    }

    /// Cancelled once the connection is asked to close, or the server shuts down
    /// ([`ConnShared::close_reason`] tells which: `None` for shutdown).
    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// Resolves once the connection is asked to close (never for a shutdown alone).
    #[cfg(test)]
    pub async fn close_requested(&self) -> CloseReason {
        self.closing.cancelled().await;
        match self.close_reason() {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
    }
}

/// See the [module documentation](self).
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    open: HashMap<u64, Arc<ConnShared>>,
}

/// A connection's place in the registry; leaving it (on drop) removes the entry.
#[derive(Debug)]
pub struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().open.remove(&self.id);
    }
}

impl Registry {
    pub fn new() -> Arc<Registry> {
        Arc::new(Registry::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a plain map behind; it is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists a connection until the returned guard is dropped.
    pub fn register(self: &Arc<Self>, conn: Arc<ConnShared>) -> Registered {
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.open.insert(id, conn);
        Registered {
            registry: Arc::clone(self),
            id,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().open.len()
    }

    /// Whether a connection asked to make room is still closing.
    pub fn eviction_pending(&self) -> bool {
        self.lock()
            .open
            .values()
            .any(|c| c.close_reason() == Some(CloseReason::Evicted))
    }

    /// Asks the connection idle the longest (with no request in flight and no close asked for
    /// yet) to close gracefully. False if every connection is busy or closing.
    pub fn evict_longest_idle(&self) -> bool {
        let inner = self.lock();
        let candidate = inner
            .open
            .values()
            .filter(|c| c.close_reason().is_none() && c.is_idle())
            .min_by_key(|c| c.idle_since_ms.load(Ordering::Relaxed));
        candidate.is_some_and(|c| c.request_close(CloseReason::Evicted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_longest_idle_connection_is_asked_first_and_busy_ones_never() {
        let registry = Registry::new();
        let old = ConnShared::new(1000);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let busy = ConnShared::new(1000);
        let young = ConnShared::new(1000);
        let _a = registry.register(young.clone());
        let _b = registry.register(old.clone());
        let _c = registry.register(busy.clone());
        busy.count_head();
        tokio::time::sleep(Duration::from_secs(5)).await;

        assert!(!registry.eviction_pending());
        assert!(registry.evict_longest_idle());
        assert_eq!(old.close_reason(), Some(CloseReason::Evicted));
        assert!(registry.eviction_pending());
        assert!(registry.evict_longest_idle());
        assert_eq!(young.close_reason(), Some(CloseReason::Evicted));
        assert!(!registry.evict_longest_idle(), "the busy one stays");
        assert_eq!(busy.close_reason(), None);
    }

    #[tokio::test]
    async fn leaving_removes_the_entry() {
        let registry = Registry::new();
        let entry = registry.register(ConnShared::new(1));
        assert_eq!(registry.len(), 1);
        drop(entry);
        assert_eq!(registry.len(), 0);
    }

    #[tokio::test]
    async fn the_last_allowed_request_asks_for_a_close_when_it_is_over() {
        let conn = ConnShared::new(3);
        assert!(!conn.count_head());
        assert!(!conn.count_head());
        assert!(conn.count_head());
        assert!(!conn.count_head(), "only the third is the last");
        conn.count_finished(false);
        assert_eq!(conn.close_reason(), None);
        conn.count_finished(true);
        let reason = tokio::time::timeout(Duration::from_secs(1), conn.close_requested()).await;
        assert_eq!(reason.unwrap(), CloseReason::Requests);
        assert!(
            !conn.request_close(CloseReason::Idle),
            "the first reason stays"
        );
    }
}
