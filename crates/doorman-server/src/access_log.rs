//! The access log: one line per request, JSON or Apache's combined format, to stdout or a file.
//!
//! The request path only fills an [`AccessEntry`] (clones of what it already holds) and offers it
//! to a bounded channel; formatting, writing and flushing happen on one writer thread, so a slow
//! disk or a full pipe costs dropped lines (counted), never a slower request. The file is opened
//! `O_APPEND` and created 0640, and reopened on request (SIGUSR1) so logrotate can move it away.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use doorman_config::{AccessLogDestination, AccessLogFormat};
use doorman_core::{Code, RayId};
use http::Version;
use http::header::HeaderValue;

/// Lines sit in the writer's buffer at most this long.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// At most one warning about dropped lines per interval: a full queue under load would otherwise
/// log once per request.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// What one request leaves for its line. Formatting waits for the writer thread.
#[derive(Debug, Clone)]
pub struct AccessEntry {
    pub time: SystemTime,
    pub ray: RayId,
    pub client_ip: IpAddr,
    pub method: http::Method,
    pub host: Option<String>,
    /// The canonical path and query, the API key parameter already redacted.
    pub path: Option<String>,
    pub status: u16,
    /// The receipt's code; `None` when the origin answered.
    pub code: Option<Code>,
    pub route: Option<String>,
    pub upstream: Option<String>,
    pub target: Option<String>,
    pub bytes_in: Option<u64>,
    pub bytes_out: Option<u64>,
    pub duration: Duration,
    pub upstream_time: Option<Duration>,
    pub version: Version,
    pub tls_version: Option<String>,
    pub ja4: Option<String>,
    pub user_agent: Option<HeaderValue>,
    pub key_id: Option<String>,
    /// The rule that decided: the receipt's rule, or the rule that allowed outright.
    pub rule: Option<String>,
    pub referer: Option<HeaderValue>,
}

/// A request's line waiting for its response body to end: the body counts what it sends, and
/// dropping it (sent, or abandoned by a client that left) offers the line to the log.
pub struct PendingLine {
    gw: Arc<crate::gateway::Gateway>,
    entry: Option<Box<AccessEntry>>,
    sent: u64,
}

impl PendingLine {
    pub fn new(gw: Arc<crate::gateway::Gateway>, entry: AccessEntry) -> Self {
        PendingLine {
            gw,
            entry: Some(Box::new(entry)),
            sent: 0,
        }
    }

    pub(crate) fn sent(&mut self, bytes: usize) {
        self.sent += bytes as u64;
    }
}

impl Drop for PendingLine {
    fn drop(&mut self) {
        if let (Some(log), Some(mut entry)) = (&self.gw.access_log, self.entry.take()) {
            entry.bytes_out = Some(self.sent);
            log.record(entry);
        }
    }
}

/// Which target answered and how long its head took; put on the origin's response by
/// [`crate::forward`] when the access log is on.
#[derive(Debug, Clone)]
pub struct Forwarded {
    pub target: String,
    pub upstream_time: Duration,
}

/// Counts kept for the metrics.
#[derive(Debug, Default)]
struct Counters {
    lines: AtomicU64,
    dropped: AtomicU64,
}

/// A running access log: the sending half and the writer thread.
pub struct AccessLog {
    // Boxed: the queue's slots are allocated up front, and an entry is a few hundred bytes.
    tx: SyncSender<Box<AccessEntry>>,
    sample_allowed: f64,
    counters: Arc<Counters>,
    reopen: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    writer: Mutex<Option<JoinHandle<()>>>,
    started: Instant,
    /// Milliseconds after `started` of the last drop warning, plus one (0: none yet).
    last_warn_ms: AtomicU64,
}

/// The access log's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessLogStats {
    pub lines: u64,
    pub dropped: u64,
}

/// Where lines go, reopenable.
enum Sink {
    Stdout,
    File(PathBuf),
}

impl Sink {
    fn open(&self) -> io::Result<Box<dyn Write + Send>> {
        match self {
            Sink::Stdout => Ok(Box::new(io::stdout())),
            Sink::File(path) => Ok(Box::new(open_file(path)?)),
        }
    }
}

/// Appends (several writers and logrotate's `copytruncate` stay safe) and creates the file
/// readable by the group at most: client addresses and paths are personal data.
pub fn open_file(path: &std::path::Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o640);
    }
    options.open(path)
}

impl AccessLog {
    /// Opens the destination (so a bad path fails at start, not silently later) and starts the
    /// writer thread.
    pub fn start(settings: &doorman_config::AccessLog) -> io::Result<AccessLog> {
        let sink = match &settings.destination {
            AccessLogDestination::Stdout => Sink::Stdout,
            AccessLogDestination::File(p) => Sink::File(p.clone()),
        };
        let out = sink.open()?;
        let (tx, rx) = sync_channel(settings.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let reopen = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            rx,
            sink,
            out: BufWriter::with_capacity(64 * 1024, out),
            format: settings.format,
            counters: counters.clone(),
            reopen: reopen.clone(),
            stop: stop.clone(),
            failing: false,
        };
        let handle = std::thread::Builder::new()
            .name("doorman-access-log".into())
            .spawn(move || writer.run())?;
        Ok(AccessLog {
            tx,
            sample_allowed: settings.sample_allowed,
            counters,
            reopen,
            stop,
            writer: Mutex::new(Some(handle)),
            started: Instant::now(),
            last_warn_ms: AtomicU64::new(0),
        })
    }

    /// Whether an allowed request gets a line (`sample_allowed`); denials and the gateway's own
    /// answers always do.
    pub fn wants_allowed(&self) -> bool {
        self.sample_allowed >= 1.0
            || (self.sample_allowed > 0.0 && rand::random::<f64>() < self.sample_allowed)
    }

    /// Offers a line to the writer; never waits.
    pub fn record(&self, entry: Box<AccessEntry>) {
        match self.tx.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.dropped(),
        }
    }

    fn dropped(&self) {
        let total = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // Only the drop path reads the clock; the compare-exchange lets one thread of many win
        // each interval.
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= WARN_EVERY.as_millis() as u64)
            && self
                .last_warn_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                target: "doorman::access_log",
                dropped_total = total,
                "the access log's queue is full: dropping lines rather than slowing requests; \
                 doorman_access_log_dropped_total has the count"
            );
        }
    }

    /// Asks the writer to flush and reopen the file (after logrotate moved it); it does so
    /// within [`FLUSH_EVERY`].
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }

    pub fn stats(&self) -> AccessLogStats {
        AccessLogStats {
            lines: self.counters.lines.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }

    /// Writes what is queued, flushes and stops the writer thread.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

struct Writer {
    rx: Receiver<Box<AccessEntry>>,
    sink: Sink,
    out: BufWriter<Box<dyn Write + Send>>,
    format: AccessLogFormat,
    counters: Arc<Counters>,
    reopen: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Whether the last flush failed: a full disk is reported once, not every 200 ms.
    failing: bool,
}

impl Writer {
    fn run(mut self) {
        let mut line = String::with_capacity(512);
        loop {
            match self.rx.recv_timeout(FLUSH_EVERY) {
                Ok(entry) => {
                    self.write(&entry, &mut line);
                    // Drain what is already queued before flushing: one write per burst.
                    while let Ok(entry) = self.rx.try_recv() {
                        self.write(&entry, &mut line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.flush();
            if self.reopen.swap(false, Ordering::Relaxed) {
                self.reopen_sink();
            }
            if self.stop.load(Ordering::Relaxed) {
                while let Ok(entry) = self.rx.try_recv() {
                    self.write(&entry, &mut line);
                }
                break;
            }
        }
        self.flush();
    }

    fn write(&mut self, entry: &AccessEntry, line: &mut String) {
        line.clear();
        match self.format {
            AccessLogFormat::Json => json_line(entry, line),
            AccessLogFormat::Combined => combined_line(entry, line),
        }
        line.push('\n');
        if self.out.write_all(line.as_bytes()).is_ok() {
            self.counters.lines.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&mut self) {
        match self.out.flush() {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!(target: "doorman::access_log", "the access log is written again");
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(target: "doorman::access_log", "cannot write the access log (lines are dropped and counted until it works again): {e}");
            }
            Err(_) => {}
        }
    }

    fn reopen_sink(&mut self) {
        match self.sink.open() {
            Ok(out) => {
                self.out = BufWriter::with_capacity(64 * 1024, out);
            }
            Err(e) => {
                // Keep writing to the old file: a moved file still takes lines, a lost one not.
                tracing::error!(target: "doorman::access_log", "cannot reopen the access log; still writing to the old file: {e}");
            }
        }
    }
}

fn version_text(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    }
}

fn header_text(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

/// One JSON object, fields in a fixed order (time first, as people read a log); absent values
/// are left out rather than written as null.
pub fn json_line(e: &AccessEntry, out: &mut String) {
    let mut line = JsonLine { out, first: true };
    line.text(
        "time",
        &doorman_common::when::rfc3339_ms(doorman_common::when::unix_ms(e.time)),
    );
    line.text("ray", &e.ray.to_string());
    line.text("client_ip", &e.client_ip.to_string());
    line.text("method", e.method.as_str());
    line.opt_text("host", e.host.as_deref());
    line.opt_text("path", e.path.as_deref());
    line.number("status", e.status);
    line.opt_text("code", e.code.map(Code::as_str));
    line.opt_text("route", e.route.as_deref());
    line.opt_text("upstream", e.upstream.as_deref());
    line.opt_text("target", e.target.as_deref());
    if let Some(n) = e.bytes_in {
        line.number("bytes_in", n);
    }
    if let Some(n) = e.bytes_out {
        line.number("bytes_out", n);
    }
    line.number("duration_ms", millis(e.duration));
    if let Some(d) = e.upstream_time {
        line.number("upstream_ms", millis(d));
    }
    line.text("http_version", version_text(e.version));
    line.opt_text("tls_version", e.tls_version.as_deref());
    line.opt_text("ja4", e.ja4.as_deref());
    line.opt_text(
        "user_agent",
        e.user_agent.as_ref().map(header_text).as_deref(),
    );
    line.opt_text("key_id", e.key_id.as_deref());
    line.opt_text("rule", e.rule.as_deref());
    line.out.push('}');
}

/// Writes `"key":value` pairs in order; serde_json escapes the strings.
struct JsonLine<'a> {
    out: &'a mut String,
    first: bool,
}

impl JsonLine<'_> {
    fn key(&mut self, key: &str) {
        self.out.push(if self.first { '{' } else { ',' });
        self.first = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    fn text(&mut self, key: &str, value: &str) {
        self.key(key);
        // Serializing a str cannot fail.
        self.out
            .push_str(&serde_json::to_string(value).unwrap_or_default());
    }

    fn opt_text(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.text(key, v);
        }
    }

    /// A finite number; Rust's `Display` of one is valid JSON.
    fn number(&mut self, key: &str, value: impl std::fmt::Display) {
        use std::fmt::Write as _;
        self.key(key);
        let _ = write!(self.out, "{value}");
    }
}

/// Milliseconds with microsecond precision: sub-millisecond answers are common.
fn millis(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// Apache's combined format: `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"`, with the
/// API key id as `%u`.
pub fn combined_line(e: &AccessEntry, out: &mut String) {
    use std::fmt::Write as _;
    let when = doorman_common::when::clf(doorman_common::when::unix_ms(e.time));
    let _ = write!(
        out,
        "{} - {} [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"",
        e.client_ip,
        e.key_id.as_deref().unwrap_or("-"),
        when,
        e.method,
        quoted(e.path.as_deref().unwrap_or("/")),
        version_text(e.version),
        e.status,
        e.bytes_out
            .map_or_else(|| "-".to_owned(), |b| b.to_string()),
        e.referer
            .as_ref()
            .map_or_else(|| "-".to_owned(), |v| quoted(&header_text(v))),
        e.user_agent
            .as_ref()
            .map_or_else(|| "-".to_owned(), |v| quoted(&header_text(v))),
    );
}

/// Escapes what would break a quoted field or the line, as Apache does (`\"`, `\\`, `\xHH`).
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn entry() -> AccessEntry {
        AccessEntry {
            time: doorman_common::when::from_unix_ms(1_700_000_000_123),
            ray: RayId::new(0xabc, std::sync::Arc::from("n1")),
            client_ip: "192.0.2.7".parse().unwrap(),
            method: http::Method::GET,
            host: Some("example.com".into()),
            path: Some("/a?api_key=REDACTED".into()),
            status: 403,
            code: Some(Code::IpBlocked),
            route: None,
            upstream: None,
            target: None,
            bytes_in: None,
            bytes_out: Some(12),
            duration: Duration::from_micros(1500),
            upstream_time: None,
            version: Version::HTTP_11,
            tls_version: None,
            ja4: None,
            user_agent: Some(HeaderValue::from_static("curl/8 \"x\"")),
            key_id: None,
            rule: Some("block-bad".into()),
            referer: None,
        }
    }

    #[test]
    fn json_leaves_absent_values_out() {
        let mut s = String::new();
        json_line(&entry(), &mut s);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["time"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["status"], 403);
        assert_eq!(v["duration_ms"], 1.5);
        assert!(v.get("route").is_none() && !s.contains("null"));
        assert!(
            s.starts_with("{\"time\":") && s.ends_with("\"rule\":\"block-bad\"}"),
            "{s}"
        );
    }

    #[test]
    fn combined_quotes_what_would_break_the_line() {
        let mut s = String::new();
        combined_line(&entry(), &mut s);
        assert_eq!(
            s,
            "192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] \"GET /a?api_key=REDACTED HTTP/1.1\" 403 12 \"-\" \"curl/8 \\\"x\\\"\""
        );
    }

    #[test]
    fn reopen_writes_to_the_new_file_after_a_rename() {
        let dir = std::env::temp_dir().join(format!("doorman-al-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        let log = AccessLog::start(&doorman_config::AccessLog {
            destination: AccessLogDestination::File(path.clone()),
            format: AccessLogFormat::Json,
            sample_allowed: 1.0,
            queue_capacity: 16,
        })
        .unwrap();
        log.record(Box::new(entry()));
        std::thread::sleep(FLUSH_EVERY * 2);
        std::fs::rename(&path, dir.join("access.log.1")).unwrap();
        log.reopen();
        std::thread::sleep(FLUSH_EVERY * 2);
        log.record(Box::new(entry()));
        log.shutdown();
        let old = std::fs::read_to_string(dir.join("access.log.1")).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert_eq!((old.lines().count(), new.lines().count()), (1, 1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & !0o640, 0, "mode {mode:o}");
        }
        assert_eq!(log.stats().lines, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
