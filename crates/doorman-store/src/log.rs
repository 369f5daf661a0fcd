//! Writing the event log: [`EventLog`] is the handle request handlers hold; one writer thread owns
//! the SQLite connection.
//!
//! The request path must never wait for a disk. So [`EventLog::record`] only moves the record into
//! a bounded queue (`try_send`); when the queue is full the event is dropped, counted and warned
//! about (rate-limited), never silently lost. The writer thread takes whatever is queued, up to a
//! batch, and stores it in one transaction, which is what makes SQLite fast enough here. It also
//! applies retention (on start, then at most once a minute), in chunks so that a large purge
//! never holds up inserts for long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, params};

use crate::StoreError;
use crate::db;
use crate::record::{EventRecord, Fact};

/// How often retention runs at most.
const RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// Rows deleted per retention transaction: small enough that queued inserts wait only
/// milliseconds, large enough that a big purge finishes in reasonable time.
const RETENTION_CHUNK: usize = 5_000;

/// How long `shutdown`/`Drop` wait for the writer to store what is queued.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// At most one warning per this interval for dropped events and for write errors, so that an
/// overload does not also flood the logs.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Longest text stored for one field (path, user agent, reason, a fact's value, …), in bytes.
/// Request details come from clients, and an event log must not be a way to fill the disk.
pub const MAX_FIELD_BYTES: usize = 4_096;

/// `meta` keys under which the writer notes its retention, so that `doorman explain` can tell
/// how long events are kept without reading the server's configuration.
pub(crate) const META_RETENTION_DAYS: &str = "events.retention_days";
pub(crate) const META_RETENTION_ROWS: &str = "events.retention_rows";

/// How the event log queues, batches and forgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLogSettings {
    /// Events that may wait for the writer; beyond this, new events are dropped and counted.
    /// The queue's slots are allocated up front, a few hundred bytes each (about 4 MB at the
    /// default), so that queuing an event never allocates.
    pub queue_capacity: usize,
    /// Most events stored per transaction.
    pub batch_size: usize,
    /// Events older than this many days are deleted; 0 keeps them forever.
    pub retention_days: u32,
    /// At most this many events are kept (the oldest go first); 0 means no cap. Enforced each
    /// retention run, so the table may exceed it by up to a minute's worth of events.
    pub retention_rows: u64,
}

impl Default for EventLogSettings {
    fn default() -> Self {
        EventLogSettings {
            queue_capacity: 10_000,
            batch_size: 256,
            retention_days: 30,
            retention_rows: 1_000_000,
        }
    }
}

/// A snapshot of the event log's counters, for `/metrics` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventLogStats {
    /// Events stored in the database.
    pub recorded: u64,
    /// Events never queued: the queue was full, or the log was shut down.
    pub dropped: u64,
    /// Events that reached the writer but could not be stored (a failed transaction).
    pub write_errors: u64,
    /// Events deleted by retention.
    pub expired: u64,
}

#[derive(Debug, Default)]
struct Counters {
    recorded: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
    expired: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> EventLogStats {
        EventLogStats {
            recorded: self.recorded.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
        }
    }
}

#[expect(
    clippy::large_enum_variant,
    reason = "nearly every message is a record; boxing it would add an allocation per event on \
              the request path to save space only on rare control messages"
)]
enum Msg {
    Record(EventRecord),
    Control(Control),
}

enum Control {
    /// Store everything queued before this, finish any retention run, then answer.
    Flush(SyncSender<()>),
    /// Store everything queued, then stop.
    Shutdown,
}

/// A cheap-to-clone handle on the event log. The writer thread stops, after storing what was
/// queued, on [`EventLog::shutdown`] or when the last handle is dropped.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// When this log was opened; the origin of `last_drop_warn_ms`.
    opened: Instant,
    /// Milliseconds after `opened` of the last dropped-event warning, plus one (0 = never).
    last_drop_warn_ms: AtomicU64,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl EventLog {
    /// Opens `<data_dir>/doorman.db` (creating the directory with owner-only permissions, and the
    /// database, if missing), brings its schema up to date and starts the writer thread.
    /// Retention runs as soon as the writer starts.
    pub fn open(
        data_dir: &std::path::Path,
        settings: EventLogSettings,
    ) -> Result<EventLog, StoreError> {
        let conn = db::open_writer(data_dir)?;
        db::meta_set(
            &conn,
            META_RETENTION_DAYS,
            &settings.retention_days.to_string(),
        )?;
        db::meta_set(
            &conn,
            META_RETENTION_ROWS,
            &settings.retention_rows.to_string(),
        )?;
        let (tx, rx) = mpsc::sync_channel(settings.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            conn,
            rx,
            counters: Arc::clone(&counters),
            batch_size: settings.batch_size.max(1),
            retention_days: settings.retention_days,
            retention_rows: settings.retention_rows,
            last_error_warn: None,
        };
        let handle = thread::Builder::new()
            .name("doorman-events".into())
            .spawn(move || writer.run())
            .map_err(StoreError::Spawn)?;
        Ok(EventLog {
            inner: Arc::new(Inner {
                tx,
                counters,
                writer: Mutex::new(Some(handle)),
                opened: Instant::now(),
                last_drop_warn_ms: AtomicU64::new(0),
            }),
        })
    }

    /// Queues an event for storage. Never blocks and does no I/O: if the queue is full (or the
    /// log is shut down) the event is dropped, counted in [`EventLogStats::dropped`], and a
    /// warning is logged at most every few seconds.
    pub fn record(&self, record: EventRecord) {
        match self.inner.tx.try_send(Msg::Record(record)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.inner.dropped("the event log queue is full"),
            Err(TrySendError::Disconnected(_)) => {
                self.inner.dropped("the event log writer has stopped")
            }
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> EventLogStats {
        self.inner.counters.snapshot()
    }

    /// Waits until every event queued before this call is stored and any retention run in
    /// progress has finished. Not for the request path: it blocks up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), StoreError> {
        let deadline = Instant::now() + timeout;
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        send_until(
            &self.inner.tx,
            Msg::Control(Control::Flush(ack_tx)),
            deadline,
        )?;
        ack_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|e| match e {
                RecvTimeoutError::Timeout => StoreError::WriterStuck(timeout),
                RecvTimeoutError::Disconnected => StoreError::WriterGone,
            })
    }

    /// Stores everything queued and stops the writer, waiting at most ten seconds. Events
    /// recorded afterwards, through any clone, are dropped and counted. Calling it again, or
    /// dropping the last handle afterwards, does nothing more.
    pub fn shutdown(&self) -> Result<(), StoreError> {
        self.inner.shutdown(SHUTDOWN_WAIT)
    }
}

impl Inner {
    fn dropped(&self, why: &'static str) {
        let total = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // Only the failure path reads the clock; the compare-exchange lets one thread of many
        // win each warning interval.
        let now = self.opened.elapsed().as_millis() as u64 + 1;
        let last = self.last_drop_warn_ms.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= WARN_INTERVAL.as_millis() as u64)
            && self
                .last_drop_warn_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                dropped_total = total,
                "{why}: dropping events rather than slowing requests; \
                 the dropped-events counter has the total"
            );
        }
    }

    fn shutdown(&self, wait: Duration) -> Result<(), StoreError> {
        let Some(handle) = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return Ok(());
        };
        let deadline = Instant::now() + wait;
        // The writer may already be gone (it panicked); then there is nothing to tell it.
        let _ = send_until(&self.tx, Msg::Control(Control::Shutdown), deadline);
        while !handle.is_finished() {
            if Instant::now() >= deadline {
                tracing::error!(
                    waited_s = wait.as_secs(),
                    "the event log writer did not finish storing queued events in time; \
                     leaving it behind"
                );
                return Err(StoreError::WriterStuck(wait));
            }
            thread::sleep(Duration::from_millis(5));
        }
        handle.join().map_err(|_| StoreError::WriterGone)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Errors are already logged by `shutdown`; a destructor has no one to return them to.
        let _ = self.shutdown(SHUTDOWN_WAIT);
    }
}

/// Sends a control message, retrying while the queue is full, until `deadline`.
fn send_until(tx: &SyncSender<Msg>, mut msg: Msg, deadline: Instant) -> Result<(), StoreError> {
    let started = Instant::now();
    loop {
        match tx.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::WriterGone),
            Err(TrySendError::Full(back)) => {
                if Instant::now() >= deadline {
                    return Err(StoreError::WriterStuck(started.elapsed()));
                }
                msg = back;
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Where a retention run is. Age goes first: deleting by age is what the operator asked for,
/// and the row cap then counts only what remains.
enum Retention {
    Idle,
    ByAge { cutoff_ms: i64 },
    ByRows,
    Below { id: i64 },
}

struct Writer {
    conn: Connection,
    rx: Receiver<Msg>,
    counters: Arc<Counters>,
    batch_size: usize,
    retention_days: u32,
    retention_rows: u64,
    last_error_warn: Option<Instant>,
}

impl Writer {
    fn run(mut self) {
        let mut batch: Vec<EventRecord> = Vec::with_capacity(self.batch_size);
        let mut retention = self.start_retention();
        let mut next_retention = Instant::now() + RETENTION_INTERVAL;
        loop {
            let now = Instant::now();
            if matches!(retention, Retention::Idle) && now >= next_retention {
                retention = self.start_retention();
                next_retention = now + RETENTION_INTERVAL;
            }
            // While a retention run is under way, only peek at the queue between chunks.
            let first = if matches!(retention, Retention::Idle) {
                match self
                    .rx
                    .recv_timeout(next_retention.saturating_duration_since(now))
                {
                    Ok(msg) => Some(msg),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match self.rx.try_recv() {
                    Ok(msg) => Some(msg),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break,
                }
            };
            let control = match first {
                None => None,
                Some(Msg::Record(record)) => {
                    batch.push(record);
                    let control = self.fill(&mut batch);
                    self.write(&mut batch);
                    control
                }
                Some(Msg::Control(control)) => Some(control),
            };
            match control {
                None => {}
                Some(Control::Flush(ack)) => {
                    while !matches!(retention, Retention::Idle) {
                        retention = self.retention_step(retention);
                    }
                    // The flusher may have given up waiting; that is its business.
                    let _ = ack.send(());
                }
                Some(Control::Shutdown) => break,
            }
            if !matches!(retention, Retention::Idle) {
                retention = self.retention_step(retention);
            }
        }
        self.drain(&mut batch);
    }

    /// Adds queued records to `batch` until it is full or the queue is empty; stops early at a
    /// control message, which it returns so that it is handled after the records before it.
    fn fill(&mut self, batch: &mut Vec<EventRecord>) -> Option<Control> {
        while batch.len() < self.batch_size {
            match self.rx.try_recv() {
                Ok(Msg::Record(record)) => batch.push(record),
                Ok(Msg::Control(control)) => return Some(control),
                Err(_) => return None,
            }
        }
        None
    }

    /// Stores everything still queued, answering flushes on the way; the last thing the writer
    /// does.
    fn drain(&mut self, batch: &mut Vec<EventRecord>) {
        loop {
            match self.rx.try_recv() {
                Ok(Msg::Record(record)) => {
                    batch.push(record);
                    if batch.len() >= self.batch_size {
                        self.write(batch);
                    }
                }
                Ok(Msg::Control(Control::Flush(ack))) => {
                    self.write(batch);
                    let _ = ack.send(());
                }
                Ok(Msg::Control(Control::Shutdown)) => {}
                Err(_) => break,
            }
        }
        self.write(batch);
    }

    fn write(&mut self, batch: &mut Vec<EventRecord>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        match insert_batch(&mut self.conn, batch) {
            Ok(()) => {
                self.counters.recorded.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) => {
                let total = self.counters.write_errors.fetch_add(n, Ordering::Relaxed) + n;
                if self.should_warn() {
                    tracing::warn!(
                        error = %err,
                        lost = n,
                        write_errors_total = total,
                        "could not store events in the event log"
                    );
                }
            }
        }
        batch.clear();
    }

    fn should_warn(&mut self) -> bool {
        let now = Instant::now();
        match self.last_error_warn {
            Some(last) if now.duration_since(last) < WARN_INTERVAL => false,
            _ => {
                self.last_error_warn = Some(now);
                true
            }
        }
    }

    fn start_retention(&self) -> Retention {
        if self.retention_days > 0 {
            let now_ms = doorman_common::when::unix_ms(SystemTime::now());
            let cutoff_ms = now_ms.saturating_sub(i64::from(self.retention_days) * 86_400_000);
            Retention::ByAge { cutoff_ms }
        } else if self.retention_rows > 0 {
            Retention::ByRows
        } else {
            Retention::Idle
        }
    }

    /// Does one chunk of a retention run and says where the run is now.
    fn retention_step(&mut self, state: Retention) -> Retention {
        match self.try_retention_step(state) {
            Ok(next) => next,
            Err(err) => {
                if self.should_warn() {
                    tracing::warn!(error = %err, "event log retention failed; will retry");
                }
                Retention::Idle
            }
        }
    }

    fn try_retention_step(&mut self, state: Retention) -> rusqlite::Result<Retention> {
        Ok(match state {
            Retention::Idle => Retention::Idle,
            Retention::ByAge { cutoff_ms } => {
                let deleted = self.conn.execute(
                    "DELETE FROM events WHERE id IN
                         (SELECT id FROM events WHERE time_ms < ?1 LIMIT ?2)",
                    params![cutoff_ms, RETENTION_CHUNK as i64],
                )?;
                self.counters
                    .expired
                    .fetch_add(deleted as u64, Ordering::Relaxed);
                if deleted == RETENTION_CHUNK {
                    Retention::ByAge { cutoff_ms }
                } else if self.retention_rows > 0 {
                    Retention::ByRows
                } else {
                    Retention::Idle
                }
            }
            Retention::ByRows => {
                use rusqlite::OptionalExtension;
                // Ids grow with insertion, so "the newest N rows" are those from the N-th
                // highest id up. Found once per run; rows inserted meanwhile are newer.
                let keep_from: Option<i64> = self
                    .conn
                    .query_row(
                        "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1",
                        [i64::try_from(self.retention_rows - 1).unwrap_or(i64::MAX)],
                        |row| row.get(0),
                    )
                    .optional()?;
                match keep_from {
                    Some(id) => Retention::Below { id },
                    None => Retention::Idle,
                }
            }
            Retention::Below { id } => {
                let deleted = self.conn.execute(
                    "DELETE FROM events WHERE id IN
                         (SELECT id FROM events WHERE id < ?1 ORDER BY id LIMIT ?2)",
                    params![id, RETENTION_CHUNK as i64],
                )?;
                self.counters
                    .expired
                    .fetch_add(deleted as u64, Ordering::Relaxed);
                if deleted == RETENTION_CHUNK {
                    Retention::Below { id }
                } else {
                    Retention::Idle
                }
            }
        })
    }
}

/// Stores a batch in one transaction: either all of it or none.
fn insert_batch(conn: &mut Connection, batch: &[EventRecord]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO events (ray_id, time_ms, client_ip, ip_key, method, host, path,
                 user_agent, status, code, phase, rule, reason, disclosure, facts,
                 private_facts, route, action, trace, asn, country)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                 ?17, ?18, ?19, ?20, ?21)",
        )?;
        for r in batch {
            let facts = facts_json(&r.facts)?;
            let private_facts = facts_json(&r.private_facts)?;
            let trace = serde_json::to_string(&r.trace)?;
            stmt.execute(params![
                clip(&r.ray_id),
                r.time_ms,
                r.client_ip.to_string(),
                &db::ip_key(r.client_ip)[..],
                clip(&r.method),
                clip(&r.host),
                clip(&r.path),
                r.user_agent.as_deref().map(clip),
                r.status,
                clip(&r.code),
                clip(&r.phase),
                r.rule.as_deref().map(clip),
                clip(&r.reason),
                clip(&r.disclosure),
                facts,
                private_facts,
                r.route.as_deref().map(clip),
                r.action.as_str(),
                trace,
                r.asn,
                r.country.as_deref().map(clip),
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Facts as stored: a JSON array of `{name, value}`, each text clipped.
fn facts_json(facts: &[Fact]) -> Result<String, serde_json::Error> {
    let clipped: Vec<Fact> = facts
        .iter()
        .map(|f| Fact {
            name: clip(&f.name).into_owned(),
            value: clip(&f.value).into_owned(),
        })
        .collect();
    serde_json::to_string(&clipped)
}

/// `text` cut to [`MAX_FIELD_BYTES`] on a character boundary, marked with `…` when cut.
fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_FIELD_BYTES {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = MAX_FIELD_BYTES - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}…", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_long_text_on_a_char_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(MAX_FIELD_BYTES);
        let cut = clip(&long);
        assert!(cut.len() <= MAX_FIELD_BYTES);
        assert!(cut.ends_with('…'));
        let exact = "a".repeat(MAX_FIELD_BYTES);
        assert_eq!(clip(&exact), exact);
    }
}
