//! An I/O wrapper between the accepted socket (plain TCP or TLS, after any PROXY protocol header) and hyper, for
//! what hyper does not do or does silently at the edge of a connection:
//!
//! - HTTP/1.x clients that start a request head but do not finish it in time get a proper `408 Request Timeout`
//!   receipt (hyper's own `header_read_timeout` only drops the connection without a word), and idle keep-alive
//!   connections are closed quietly.
//! - A head hyper refuses (malformed, or too large) gets a receipt that names the problem instead of hyper's bare
//!   `400`, `414` or `431`.
//! - A connection that begins like the HTTP/2 preface but is not one, or that negotiated `h2` by ALPN and does not
//!   send the preface, gets a GOAWAY with PROTOCOL_ERROR (RFC 9113 §3.4).
//! - On HTTP/2, a header block or a frame left incomplete for longer than the head timeout closes the connection,
//!   and a connection with no open request for the idle timeout is asked to close gracefully.
//!
//! It is not a request body timeout and not a response timeout.
//!
//! # Semantics
//!
//! The wrapper only sees bytes, so the request handler tells it where requests begin: it calls
//! [`HeadSignal::head_received`] first thing for every request, and drops the returned [`OpenRequest`] when the
//! response is over. From that and from the bytes written back, the wrapper knows whether an HTTP/1 connection is
//! *waiting for a head*:
//!
//! - at the start of the connection, and
//! - again once every [`OpenRequest`] it was given is dropped (the gateway drops it with the response body, i.e.
//!   when the body is fully sent or abandoned, or with the handler if hyper cancels it). Reads of a request body in
//!   between, and everything written while a response streams, do not start a new wait: an SSE stream that stays
//!   silent for minutes is never taken for an idle connection.
//!
//! While waiting for a head:
//!
//! - If no byte arrives within `idle`, reads return EOF so hyper closes the connection without an answer. The idle
//!   clock also restarts with every byte written (the tail of a response hyper is still flushing).
//! - Once a byte has arrived, `head_received()` must come within `head` of that first byte (or of the last byte
//!   written, if later, so a pipelined request is not blamed for a slow response before it). Otherwise the wrapper
//!   asks [`Answers::timeout`] for the complete raw HTTP/1.1 response (status line, headers including
//!   `connection: close`, body) and sends it.
//! - The bytes read are copied (up to the end of the head, and at most `head_copy_limit` of them). If hyper writes
//!   an `HTTP/1.x 4xx` response, it is hyper's own answer to a head it refused (no request is open, so nothing else
//!   can write one): the wrapper swallows it and sends what [`Answers::malformed`] makes of hyper's status and the
//!   copied bytes instead.
//!
//! Sending an answer means: write it, flush, shut the write side down and drain what the client still sends (so
//! the kernel does not answer the unread data with a reset that could destroy the answer), all within
//! [`ANSWER_GRACE`]. Reads, flushes and shutdowns drive it (hyper flushes after writing its refusal, and waits for
//! the flush before it drops the connection). After that reads return EOF and writes fail, and the connection ends.
//!
//! The `head` clock starts at the first byte rather than at the start of the wait: with `idle` longer than `head`
//! (the usual choice), a keep-alive client that sends its next request after a pause would otherwise be timed out
//! the moment its first byte arrived.
//!
//! A connection that starts with the HTTP/2 preface is HTTP/2 from then on: the wrapper follows its inbound frame
//! boundaries ([`crate::h2_frames`]) and closes it (reads fail) when a header block, or any frame but DATA, stays
//! incomplete for `head` since the wrapper first waited for its rest, or a DATA frame makes no progress for `head`.
//! With no request open for `idle`, it asks the connection's task to close gracefully
//! ([`ConnShared::request_close`]; only hyper can send the GOAWAY that lets streams in flight finish). Client
//! PINGs and other frames do not count as activity: only open requests do.
//!
//! The wrapper turns itself into a plain pass-through for the rest of the connection when a
//! `101 Switching Protocols` response is written (WebSocket and other upgrades carry their own protocol from then
//! on).
//!
//! # Wiring
//!
//! Wrap the stream hyper will read plaintext from (inside TLS, so the wrapper sees HTTP rather than records), and
//! call `head_received()` before anything else in the service. If the hyper builder is given a timer, pass
//! `header_read_timeout(None)`: hyper's own 30-second default would otherwise race this wrapper and close the
//! connection silently.
//!
//! On the hot path a read or write costs a few relaxed atomic loads and comparisons; while waiting for a head, the
//! bytes read are also copied and searched for the head's end (the copy's buffer is kept between requests unless it
//! grew past [`HEAD_COPY_KEEP`]); on HTTP/2, a read costs a few comparisons per frame header it contains. No lock is
//! taken, and the one [`Sleep`] is reset rather than recreated (and only when its deadline must move earlier or it
//! fired too early).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::connections::{CloseReason, ConnShared};
use crate::h2_frames::{FrameTracker, Incomplete};

/// How long an answer may take to be written, flushed and followed by the client's goodbye.
pub const ANSWER_GRACE: Duration = Duration::from_secs(1);

/// The copy of a head keeps its buffer between requests up to this capacity; a larger one (a head with big
/// cookies) is released, so idle connections hold little.
pub const HEAD_COPY_KEEP: usize = 4 * 1024;

const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// `PRI * HTTP/2.0\r\n`: a client that sent this much of the preface means HTTP/2, whatever follows.
const H2_PREFACE_LINE: usize = 16;

/// Whether a connection's first bytes read like an HTTP/1 request line, `METHOD target HTTP/…`, as
/// far as they go: its last word is `HTTP/…` or the start of it. (The first read of a connection
/// is hyper-util's 24-byte sniff for the HTTP/2 preface, and httparse refuses a bad version at its
/// first wrong byte, so the copy may end inside the line.)
fn starts_like_http1(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().filter(|&&b| b == b' ').count() < 2 {
        return true;
    }
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or(line);
    version.starts_with(b"HTTP/") || b"HTTP/".starts_with(version)
}

/// What an HTTP/2 client gets for an invalid preface: the server's (empty) SETTINGS, which must be its first frame,
/// then GOAWAY with last-stream-id 0, PROTOCOL_ERROR and a word on why as debug data.
fn bad_preface_answer() -> Bytes {
    const WHY: &[u8] = b"invalid HTTP/2 connection preface";
    let mut out = Vec::with_capacity(9 + 9 + 8 + WHY.len());
    out.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    let len = (8 + WHY.len()) as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&[0x7, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x1]);
    out.extend_from_slice(WHY);
    Bytes::from(out)
}

/// Bounds the reads spent draining one poll, so that a client that keeps sending cannot hold the worker thread.
const DRAIN_READS_PER_POLL: usize = 8;

/// The two clocks of a connection that is waiting for a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadTimeouts {
    /// From the first byte of a head to the handler's `head_received()`; on HTTP/2, how long a header block or
    /// frame may stay incomplete.
    pub head: Duration,
    /// From the start of a wait (or the last byte written) to the first byte of the next head; on HTTP/2, how long
    /// the connection may have no open request.
    pub idle: Duration,
}

/// How the wrapper treats one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnSettings {
    pub timeouts: HeadTimeouts,
    /// HTTP/2 may be spoken here (h2c is on, or TLS): a broken preface gets a GOAWAY.
    pub http2: bool,
    /// TLS negotiated `h2`: the connection must start with the HTTP/2 preface.
    pub http2_only: bool,
    /// The most bytes of a head copied to explain a refusal (hyper's read buffer size is the useful value).
    pub head_copy_limit: usize,
}

/// The answers the wrapper sends itself, made only when needed.
pub trait Answers: Send {
    /// The `408` for a head that did not arrive in time; `head` is what arrived of it.
    fn timeout(&mut self, head: &[u8]) -> Bytes;
    /// What replaces hyper's own `status` answer to the head it refused; `head` is what arrived of it (possibly cut
    /// at `head_copy_limit`, or empty when the head arrived behind a pipelined request).
    fn malformed(&mut self, status: u16, head: &[u8]) -> Bytes;
}

/// Lets the request handler tell the connection's [`HeadTimeoutIo`] where requests begin and end.
#[derive(Debug, Clone)]
pub struct HeadSignal {
    shared: Arc<ConnShared>,
}

impl HeadSignal {
    /// Call first thing for every request; until then the head clock of the connection keeps running. Drop the
    /// returned guard when the response is over (body fully sent, or abandoned): only then does the connection wait
    /// for a new head and its idle clock run.
    pub fn head_received(&self) -> OpenRequest {
        let last = self.shared.count_head();
        OpenRequest {
            shared: Arc::clone(&self.shared),
            last,
        }
    }
}

/// One request in flight on a connection; dropping it ends the request for the connection's clocks.
#[derive(Debug)]
#[must_use = "the request ends for the connection when this is dropped"]
pub struct OpenRequest {
    shared: Arc<ConnShared>,
    last: bool,
}

impl OpenRequest {
    /// This is the connection's last request (`limits.max_requests_per_connection`): once it is dropped (its
    /// response is over), the connection is asked to close.
    pub fn is_last(&self) -> bool {
        self.last
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.shared.count_finished(self.last);
    }
}

enum State {
    Waiting {
        since: Instant,
        /// When the head clock started: the first byte of the head, pushed forward by later writes.
        head_started: Option<Instant>,
    },
    InRequest,
    Http2(Http2),
    PassThrough,
    Answering {
        response: Bytes,
        stage: AnswerStage,
        give_up_at: Instant,
    },
    Closed {
        /// Whether our side has already been shut down (after an answer), so shutdown must not reach the inner IO
        /// twice.
        shut_down: bool,
    },
}

/// The clocks of an HTTP/2 connection.
struct Http2 {
    frames: FrameTracker,
    /// Since when no request has been open; `None` while one is.
    idle_since: Option<Instant>,
    /// The connection was asked to close for idleness; the idle clock is done.
    idle_reported: bool,
    /// Since when a header block or a frame other than DATA has been incomplete (first seen on a read that found
    /// nothing more).
    blocked_since: Option<Instant>,
    /// When the current partial DATA frame last progressed (likewise).
    data_since: Option<Instant>,
    /// Bytes arrived since the clocks were last looked at.
    progressed: bool,
}

#[derive(Clone, Copy)]
enum AnswerStage {
    Write,
    Flush,
    Shutdown,
    Drain,
}

/// What a write says about where the connection is in the request/response cycle.
enum Written {
    SwitchingProtocols,
    Other,
}

/// What the bytes of a head say about HTTP/2.
enum Preface {
    /// Not HTTP/2, a valid preface, or too early to tell.
    Fine,
    /// Begun as the HTTP/2 preface (or on an `h2` connection) but not it.
    Invalid,
}

/// See the [module documentation](self).
pub struct HeadTimeoutIo<I> {
    io: I,
    settings: ConnSettings,
    shared: Arc<ConnShared>,
    heads_seen: u64,
    state: State,
    /// Bytes of the HTTP/2 preface matched so far; `None` once the connection is known not to be HTTP/2.
    preface_matched: Option<usize>,
    sleep: Pin<Box<Sleep>>,
    answers: Box<dyn Answers>,
    /// The bytes of the head being waited for, as far as they arrived.
    head: Vec<u8>,
    /// The copy holds the whole head; later bytes are the body or the next request.
    head_done: bool,
}

impl<I> HeadTimeoutIo<I> {
    /// Wraps a freshly accepted connection, which starts out waiting for its first head. Must be called within a
    /// Tokio runtime with the time driver enabled.
    pub fn new(
        io: I,
        settings: ConnSettings,
        shared: Arc<ConnShared>,
        answers: Box<dyn Answers>,
    ) -> (Self, HeadSignal) {
        let now = Instant::now();
        shared.idle_from(now);
        let wrapper = HeadTimeoutIo {
            io,
            settings,
            shared: Arc::clone(&shared),
            heads_seen: 0,
            state: State::Waiting {
                since: now,
                head_started: None,
            },
            preface_matched: Some(0),
            sleep: Box::pin(tokio::time::sleep_until(later(now, settings.timeouts.idle))),
            answers,
            head: Vec::new(),
            head_done: false,
        };
        (wrapper, HeadSignal { shared })
    }

    fn observe_signal(&mut self) {
        let heads = self.shared.heads.load(Ordering::Relaxed);
        if heads != self.heads_seen {
            self.heads_seen = heads;
            match &mut self.state {
                State::Waiting { .. } => {
                    self.state = State::InRequest;
                    self.preface_matched = None;
                    self.reset_head_copy();
                }
                State::Http2(h2) => h2.idle_since = None,
                _ => {}
            }
        }
        match &mut self.state {
            State::InRequest if self.shared.finished.load(Ordering::Relaxed) >= self.heads_seen => {
                let now = Instant::now();
                self.shared.idle_from(now);
                self.state = State::Waiting {
                    since: now,
                    head_started: None,
                };
            }
            State::Http2(h2)
                if h2.idle_since.is_none()
                    && self.shared.finished.load(Ordering::Relaxed) >= self.heads_seen =>
            {
                let now = Instant::now();
                self.shared.idle_from(now);
                h2.idle_since = Some(now);
            }
            _ => {}
        }
    }

    fn reset_head_copy(&mut self) {
        if self.head.capacity() > HEAD_COPY_KEEP {
            self.head = Vec::new();
        } else {
            self.head.clear();
        }
        self.head_done = false;
    }

    /// Copies the bytes of the head being waited for, up to its end and the limit.
    fn copy_head(&mut self, new: &[u8]) {
        let room = self
            .settings
            .head_copy_limit
            .saturating_sub(self.head.len());
        if self.head_done || room == 0 {
            return;
        }
        let from = self.head.len();
        let take = &new[..new.len().min(room)];
        if self.head.capacity() == 0 {
            // One allocation per connection for the usual head, reused by the heads after it.
            self.head.reserve(take.len().max(1024).min(room));
        }
        self.head.extend_from_slice(take);
        if let Some(end) = head_end(&self.head, from) {
            self.head.truncate(end);
            self.head_done = true;
        }
    }

    fn on_head_bytes(&mut self, new: &[u8]) -> Preface {
        if let State::Waiting { head_started, .. } = &mut self.state
            && head_started.is_none()
        {
            *head_started = Some(Instant::now());
        }
        if let Some(matched) = self.preface_matched {
            let expected = &H2_PREFACE[matched..];
            let n = expected.len().min(new.len());
            match new[..n].iter().zip(expected).position(|(a, b)| a != b) {
                None if matched + n == H2_PREFACE.len() => {
                    self.preface_matched = None;
                    self.head = Vec::new();
                    let since = match self.state {
                        State::Waiting { since, .. } => since,
                        _ => Instant::now(),
                    };
                    let mut frames = FrameTracker::default();
                    frames.feed(&new[n..]);
                    self.state = State::Http2(Http2 {
                        frames,
                        idle_since: Some(since),
                        idle_reported: false,
                        blocked_since: None,
                        data_since: None,
                        progressed: true,
                    });
                    return Preface::Fine;
                }
                None => self.preface_matched = Some(matched + n),
                Some(at) => {
                    self.preface_matched = None;
                    let http2_meant = self.settings.http2_only || matched + at >= H2_PREFACE_LINE;
                    if self.settings.http2 && http2_meant {
                        return Preface::Invalid;
                    }
                }
            }
        }
        self.copy_head(new);
        Preface::Fine
    }

    /// Whether the bytes so far can only be a (broken or slow) HTTP/2 preface, which an HTTP/1 answer would not
    /// help.
    fn speaking_http2(&self) -> bool {
        self.settings.http2
            && self
                .preface_matched
                .is_some_and(|m| m >= H2_PREFACE_LINE || (self.settings.http2_only && m > 0))
    }

    fn on_written(&mut self, first: &[u8]) {
        match &mut self.state {
            State::InRequest => {
                if let Written::SwitchingProtocols = classify_write(first) {
                    self.state = State::PassThrough;
                }
                // Anything else (interim responses, the response itself, its body) keeps the request open until
                // the handler says the response is finished.
            }
            State::Waiting {
                since,
                head_started,
            } => {
                let now = Instant::now();
                *since = now;
                if let Some(started) = head_started {
                    *started = now;
                }
            }
            _ => {}
        }
    }

    /// Polls the one timer towards `deadline`; true once it has passed. The timer is only reset when it would fire
    /// too late, or has fired too early because the deadline moved on since.
    fn deadline_passed(&mut self, deadline: Instant, cx: &mut Context<'_>) -> bool {
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            if self.sleep.deadline() >= deadline {
                return true;
            }
            self.sleep.as_mut().reset(deadline);
        }
    }

    fn answer_with(&mut self, response: Bytes) {
        self.reset_head_copy();
        self.state = State::Answering {
            response,
            stage: AnswerStage::Write,
            give_up_at: later(Instant::now(), ANSWER_GRACE),
        };
    }

    fn start_timeout_answer(&mut self) {
        if self.speaking_http2() {
            tracing::debug!("HTTP/2 connection preface not received in time; answering GOAWAY");
            self.answer_with(bad_preface_answer());
            return;
        }
        tracing::debug!(timeout = ?self.settings.timeouts.head, "request head not received in time; answering 408");
        let response = self.answers.timeout(&self.head);
        self.answer_with(response);
    }

    fn start_malformed_answer(&mut self, status: u16) {
        if self.settings.http2 && self.heads_seen == 0 && !starts_like_http1(&self.head) {
            // The connection's first line is not an HTTP/1 request line at all: on a listener
            // that speaks HTTP/2 by prior knowledge, that is a broken HTTP/2 preface (h2spec
            // 3.5/2 sends `INVALID CONNECTION PREFACE`), and an HTTP/1 page would not help.
            tracing::debug!("neither HTTP/1 nor the HTTP/2 preface; answering GOAWAY");
            self.answer_with(bad_preface_answer());
            return;
        }
        tracing::debug!(
            status,
            "hyper refused a request head; answering with a receipt"
        );
        let response = self.answers.malformed(status, &self.head);
        self.answer_with(response);
    }

    /// The earliest of an HTTP/2 connection's deadlines, and whether it closes the connection (true) or asks for a
    /// graceful close (false). Reads the clock only when a deadline must be set.
    fn http2_deadline(&mut self) -> Option<(Instant, bool)> {
        let State::Http2(h2) = &mut self.state else {
            return None;
        };
        let timeouts = self.settings.timeouts;
        let mut now = None;
        let mut clock = || *now.get_or_insert_with(Instant::now);
        let progressed = std::mem::take(&mut h2.progressed);
        match h2.frames.incomplete() {
            Incomplete::Nothing => {
                h2.blocked_since = None;
                h2.data_since = None;
            }
            Incomplete::Data => {
                h2.blocked_since = None;
                if progressed || h2.data_since.is_none() {
                    h2.data_since = Some(clock());
                }
            }
            Incomplete::Blocking => {
                h2.data_since = None;
                if h2.blocked_since.is_none() {
                    h2.blocked_since = Some(clock());
                }
            }
        }
        let stall = h2
            .blocked_since
            .or(h2.data_since)
            .map(|since| (later(since, timeouts.head), true));
        let idle = h2
            .idle_since
            .filter(|_| !h2.idle_reported)
            .map(|since| (later(since, timeouts.idle), false));
        match (stall, idle) {
            (Some(s), Some(i)) => Some(if i.0 < s.0 { i } else { s }),
            (s, i) => s.or(i),
        }
    }
}

/// `at + d`, or far in the future when that does not fit.
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(86400 * 365 * 30))
}

/// Where the head ends in `head` (just past its blank line), looking for line ends from `from` on. Empty lines before
/// the request line are not the end (HTTP/1.1 allows them).
fn head_end(head: &[u8], from: usize) -> Option<usize> {
    // A blank line is `\n\r\n` or `\n\n` (bare LF is allowed); a needle may straddle the previous read.
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static CRLF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\r\n"));
    static LF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\n"));
    let mut start = from.saturating_sub(2);
    loop {
        let hay = &head[start..];
        let crlf = CRLF.find(hay);
        let lf_room = crlf.map_or(hay.len(), |i| i + 1);
        let (at, len) = match (LF.find(&hay[..lf_room]), crlf) {
            (Some(i), _) => (start + i, 2),
            (None, Some(i)) => (start + i, 3),
            (None, None) => return None,
        };
        if head[..at].iter().any(|&b| b != b'\r' && b != b'\n') {
            return Some(at + len);
        }
        start = at + 1;
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> HeadTimeoutIo<I> {
    /// Drives the answer; Ready once the connection is closed, whether the answer got through or not.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut drained_reads = 0;
        loop {
            let State::Answering {
                response,
                stage,
                give_up_at,
            } = &mut self.state
            else {
                return Poll::Ready(());
            };
            let give_up_at = *give_up_at;
            let progress = match *stage {
                AnswerStage::Write if response.is_empty() => {
                    *stage = AnswerStage::Flush;
                    continue;
                }
                AnswerStage::Write => match Pin::new(&mut self.io).poll_write(cx, response) {
                    Poll::Ready(Ok(n)) if n > 0 => {
                        response.advance(n);
                        continue;
                    }
                    Poll::Ready(_) => None,
                    Poll::Pending => Some(()),
                },
                AnswerStage::Flush => match Pin::new(&mut self.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        *stage = AnswerStage::Shutdown;
                        continue;
                    }
                    Poll::Ready(Err(_)) => None,
                    Poll::Pending => Some(()),
                },
                AnswerStage::Shutdown => match Pin::new(&mut self.io).poll_shutdown(cx) {
                    Poll::Ready(Ok(())) => {
                        *stage = AnswerStage::Drain;
                        continue;
                    }
                    Poll::Ready(Err(_)) => None,
                    Poll::Pending => Some(()),
                },
                AnswerStage::Drain => {
                    let mut scratch = [0u8; 512];
                    let mut sink = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut self.io).poll_read(cx, &mut sink) {
                        Poll::Ready(Ok(())) if !sink.filled().is_empty() => {
                            drained_reads += 1;
                            if Instant::now() >= give_up_at {
                                None
                            } else if drained_reads == DRAIN_READS_PER_POLL {
                                cx.waker().wake_by_ref();
                                return Poll::Pending;
                            } else {
                                continue;
                            }
                        }
                        Poll::Ready(_) => None,
                        Poll::Pending => Some(()),
                    }
                }
            };
            match progress {
                // Waiting on the client: give up when the grace period is over.
                Some(()) if !self.deadline_passed(give_up_at, cx) => return Poll::Pending,
                _ => self.state = State::Closed { shut_down: true },
            }
        }
    }

    fn poll_read_http2(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let before = buf.filled().len();
            match Pin::new(&mut self.io).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {
                    if let State::Http2(h2) = &mut self.state
                        && buf.filled().len() > before
                    {
                        h2.frames.feed(&buf.filled()[before..]);
                        h2.progressed = true;
                    }
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            if !self.shared.is_idle() {
                // Woken when the last open request ends, to start the idle clock.
                self.shared.reader.register(cx.waker());
                self.observe_signal();
            }
            let Some((deadline, _)) = self.http2_deadline() else {
                return Poll::Pending;
            };
            if !self.deadline_passed(deadline, cx) {
                return Poll::Pending;
            }
            // The deadline may be stale if requests moved since; look again before acting.
            self.observe_signal();
            match self.http2_deadline() {
                Some((now_due, true)) if now_due <= deadline => {
                    tracing::debug!(timeout = ?self.settings.timeouts.head, "HTTP/2 header block or frame incomplete for too long; closing the connection");
                    self.state = State::Closed { shut_down: false };
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "an HTTP/2 header block or frame stayed incomplete for longer than the request head timeout",
                    )));
                }
                Some((now_due, false)) if now_due <= deadline => {
                    if let State::Http2(h2) = &mut self.state {
                        h2.idle_reported = true;
                    }
                    tracing::trace!(idle = ?self.settings.timeouts.idle, "HTTP/2 connection idle; asking for a graceful close");
                    self.shared.request_close(CloseReason::Idle);
                }
                _ => {}
            }
        }
    }
}

/// The status of hyper's own answer to a head it refused: a complete `HTTP/1.x 4xx` head with no body, in one
/// write (hyper writes `HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: …\r\n\r\n`, with the version of the
/// connection's previous request).
fn hyper_refusal(bytes: &[u8]) -> Option<u16> {
    if bytes.len() < 16
        || !(bytes.starts_with(b"HTTP/1.1 4") || bytes.starts_with(b"HTTP/1.0 4"))
        || !bytes.ends_with(b"\r\n\r\n")
    {
        return None;
    }
    let digits = &bytes[9..12];
    if !digits.iter().all(u8::is_ascii_digit) || bytes[12] != b' ' {
        return None;
    }
    // Exactly one blank line: a head, not a head followed by a body.
    if memchr::memmem::find(bytes, b"\r\n\r\n") != Some(bytes.len() - 4) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0')),
    )
}

fn classify_write(bytes: &[u8]) -> Written {
    if bytes.len() < 12 || !bytes.starts_with(b"HTTP/1.") || bytes[8] != b' ' {
        return Written::Other;
    }
    match &bytes[9..12] {
        b"101" => Written::SwitchingProtocols,
        _ => Written::Other,
    }
}

fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "connection closed by the request head timeout",
    )
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadTimeoutIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.observe_signal();
        loop {
            let deadline = match this.state {
                State::PassThrough => return Pin::new(&mut this.io).poll_read(cx, buf),
                State::Http2(_) => return this.poll_read_http2(cx, buf),
                State::InRequest => {
                    let polled = Pin::new(&mut this.io).poll_read(cx, buf);
                    if polled.is_pending() {
                        this.shared.reader.register(cx.waker());
                        // The response may have finished between the load above and the registration.
                        this.observe_signal();
                        if let State::Waiting { .. } = this.state {
                            continue;
                        }
                    }
                    return polled;
                }
                State::Closed { .. } => return Poll::Ready(Ok(())),
                State::Answering { .. } => {
                    ready!(this.poll_answer(cx));
                    continue;
                }
                State::Waiting {
                    since,
                    head_started,
                } => match head_started {
                    None => later(since, this.settings.timeouts.idle),
                    Some(started) => later(started, this.settings.timeouts.head),
                },
            };
            let before = buf.filled().len();
            match Pin::new(&mut this.io).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {
                    if buf.filled().len() > before
                        && let Preface::Invalid = this.on_head_bytes(&buf.filled()[before..])
                    {
                        // hyper must not see the bytes: it would answer them as HTTP/1.
                        tracing::debug!("invalid HTTP/2 connection preface; answering GOAWAY");
                        buf.set_filled(before);
                        this.answer_with(bad_preface_answer());
                        continue;
                    }
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            if !this.deadline_passed(deadline, cx) {
                return Poll::Pending;
            }
            if let State::Waiting {
                head_started: Some(_),
                ..
            } = this.state
            {
                this.start_timeout_answer();
            } else {
                tracing::trace!(idle = ?this.settings.timeouts.idle, "idle connection closed");
                this.state = State::Closed { shut_down: false };
            }
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncWrite for HeadTimeoutIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.observe_signal();
        match this.state {
            State::Answering { .. } | State::Closed { .. } => {
                return Poll::Ready(Err(closed_error()));
            }
            State::Waiting { .. } => {
                if let Some(status) = hyper_refusal(buf) {
                    this.start_malformed_answer(status);
                    return Poll::Ready(Ok(buf.len()));
                }
            }
            _ => {}
        }
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        if n > 0 {
            this.on_written(buf);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.observe_signal();
        let first = bufs.iter().find(|b| !b.is_empty());
        match this.state {
            State::Answering { .. } | State::Closed { .. } => {
                return Poll::Ready(Err(closed_error()));
            }
            State::Waiting { .. } => {
                let total: usize = bufs.iter().map(|b| b.len()).sum();
                if let Some(status) =
                    first.and_then(|f| hyper_refusal(f).filter(|_| f.len() == total))
                {
                    this.start_malformed_answer(status);
                    return Poll::Ready(Ok(total));
                }
            }
            _ => {}
        }
        let n = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        if n > 0
            && let Some(first) = first
        {
            this.on_written(first);
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.state {
            State::Answering { .. } => {
                ready!(this.poll_answer(cx));
                Poll::Ready(Ok(()))
            }
            State::Closed { shut_down: true } => Poll::Ready(Ok(())),
            _ => Pin::new(&mut this.io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.state {
            State::Answering { .. } => {
                ready!(this.poll_answer(cx));
                Poll::Ready(Ok(()))
            }
            State::Closed { shut_down: true } => Poll::Ready(Ok(())),
            _ => Pin::new(&mut this.io).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    const HEAD: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);
    const ANSWER: &[u8] =
        b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 7\r\n\r\nreceipt";

    const MALFORMED: &[u8] =
        b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 7\r\n\r\nreceipt";

    /// Answers as the gateway would, and remembers what it was asked.
    struct TestAnswers(Asked);

    impl Answers for TestAnswers {
        fn timeout(&mut self, head: &[u8]) -> Bytes {
            self.0.lock().unwrap().push((408, head.to_vec()));
            Bytes::from_static(ANSWER)
        }
        fn malformed(&mut self, status: u16, head: &[u8]) -> Bytes {
            self.0.lock().unwrap().push((status, head.to_vec()));
            Bytes::from_static(MALFORMED)
        }
    }

    fn settings() -> ConnSettings {
        ConnSettings {
            timeouts: HeadTimeouts {
                head: HEAD,
                idle: IDLE,
            },
            http2: true,
            http2_only: false,
            head_copy_limit: 64 * 1024,
        }
    }

    fn wrap(io: DuplexStream) -> (HeadTimeoutIo<DuplexStream>, HeadSignal) {
        wrap_with(io, settings()).0
    }

    type Asked = Arc<std::sync::Mutex<Vec<(u16, Vec<u8>)>>>;

    fn wrap_with(
        io: DuplexStream,
        settings: ConnSettings,
    ) -> (
        (HeadTimeoutIo<DuplexStream>, HeadSignal),
        Asked,
        Arc<ConnShared>,
    ) {
        let asked = Asked::default();
        let shared = ConnShared::new(1000);
        let wrapped = HeadTimeoutIo::new(
            io,
            settings,
            shared.clone(),
            Box::new(TestAnswers(asked.clone())),
        );
        (wrapped, asked, shared)
    }

    /// Reads until the end of a request head; `None` if the wrapper reported EOF first.
    async fn read_head(io: &mut HeadTimeoutIo<DuplexStream>) -> Option<Vec<u8>> {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if io.read(&mut byte).await.unwrap() == 0 {
                return None;
            }
            head.push(byte[0]);
        }
        Some(head)
    }

    async fn read_to_end(io: &mut DuplexStream) -> Vec<u8> {
        let mut out = Vec::new();
        io.read_to_end(&mut out).await.unwrap();
        out
    }

    #[test]
    fn an_http1_request_line_is_told_from_other_bytes() {
        assert!(starts_like_http1(b"GET / HTTP/9.9\r\nhost: t\r\n\r\n"));
        assert!(starts_like_http1(b"G(T / HTTP/1.1\r\n"));
        assert!(starts_like_http1(b"GET /a b HTTP/1.1\n"));
        assert!(starts_like_http1(b"GET / HTT"));
        assert!(starts_like_http1(b"GET /x"));
        assert!(!starts_like_http1(b"INVALID CONNECTION PREFACE\r\n\r\n"));
        assert!(!starts_like_http1(b"INVALID CONNECTION PREFA"));
    }

    #[test]
    fn the_wrapper_and_the_signal_can_cross_threads() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<HeadTimeoutIo<tokio::net::TcpStream>>();
        send_sync::<HeadSignal>();
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connection_is_closed_quietly() {
        let (mut client, server) = duplex(1024);
        let (mut server, _signal) = wrap(server);
        let started = Instant::now();

        let mut buf = [0u8; 16];
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
        assert_eq!(started.elapsed(), IDLE);
        assert!(server.write(b"late").await.is_err());
        drop(server);
        assert!(
            read_to_end(&mut client).await.is_empty(),
            "nothing is written on an idle close"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn partial_head_gets_the_answer_then_the_connection_closes() {
        let (mut client, server) = duplex(1024);
        let (mut server, _signal) = wrap(server);
        let server_task = tokio::spawn(async move {
            let head = read_head(&mut server).await;
            let write = server.write(b"HTTP/1.1 200 OK\r\n\r\n").await;
            (head, write.is_err())
        });

        tokio::time::sleep(Duration::from_secs(3)).await;
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: exa")
            .await
            .unwrap();
        let sent_at = Instant::now();

        assert_eq!(read_to_end(&mut client).await, ANSWER);
        assert_eq!(
            sent_at.elapsed(),
            HEAD,
            "the head clock starts at the first byte"
        );
        let (head, write_failed) = server_task.await.unwrap();
        assert_eq!(
            head, None,
            "the server sees EOF instead of the rest of the head"
        );
        assert!(write_failed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_after_head_received_gets_no_answer() {
        let (mut client, server) = duplex(1024);
        let (mut server, signal) = wrap(server);
        let server_task = tokio::spawn(async move {
            read_head(&mut server).await.unwrap();
            let _open = signal.head_received();
            let mut body = [0u8; 4];
            server.read_exact(&mut body).await.unwrap();
            server
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .unwrap();
            server.shutdown().await.unwrap();
            body
        });

        client
            .write_all(b"POST / HTTP/1.1\r\ncontent-length: 4\r\n\r\n")
            .await
            .unwrap();
        for byte in b"body" {
            tokio::time::sleep(HEAD * 2).await;
            client.write_all(&[*byte]).await.unwrap();
        }
        let response = read_to_end(&mut client).await;
        assert!(
            response.starts_with(b"HTTP/1.1 200 OK"),
            "{}",
            response.escape_ascii()
        );
        assert_eq!(&server_task.await.unwrap(), b"body");
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_restarts_the_clocks_after_the_response() {
        let (mut client, server) = duplex(1024);
        let (mut server, signal) = wrap(server);
        let server_task = tokio::spawn(async move {
            read_head(&mut server).await.unwrap();
            let open = signal.head_received();
            server
                .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
            drop(open);
            read_head(&mut server).await
        });

        client.write_all(b"GET /1 HTTP/1.1\r\n\r\n").await.unwrap();
        let mut response = [0u8; 27];
        client.read_exact(&mut response).await.unwrap();
        assert_eq!(&response, b"HTTP/1.1 204 No Content\r\n\r\n");

        // Longer than `head` since the response, but within `idle`: the wait is still quiet.
        tokio::time::sleep(HEAD * 3).await;
        client.write_all(b"GET /2 HTT").await.unwrap();
        let sent_at = Instant::now();
        assert_eq!(read_to_end(&mut client).await, ANSWER);
        assert_eq!(sent_at.elapsed(), HEAD);
        assert_eq!(server_task.await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_idle_clock_starts_after_the_response() {
        let (mut client, server) = duplex(1024);
        let (mut server, signal) = wrap(server);
        let server_task = tokio::spawn(async move {
            read_head(&mut server).await.unwrap();
            let open = signal.head_received();
            // A slow handler: the idle clock must not run while the request is being handled.
            tokio::time::sleep(IDLE * 2).await;
            server
                .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
            drop(open);
            let responded_at = Instant::now();
            let mut buf = [0u8; 1];
            let n = server.read(&mut buf).await.unwrap();
            (n, responded_at.elapsed())
        });

        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let response = read_to_end(&mut client).await;
        assert_eq!(response, b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(server_task.await.unwrap(), (0, IDLE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_is_not_cut_and_the_idle_clock_starts_when_it_finishes() {
        let (mut client, server) = duplex(1024);
        let (mut server, signal) = wrap(server);
        let server_task = tokio::spawn(async move {
            read_head(&mut server).await.unwrap();
            let open = signal.head_received();
            server
                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                .await
                .unwrap();
            // Like hyper, keep reading while the response streams, to notice a client that hangs up.
            let (mut reader, mut writer) = tokio::io::split(server);
            let watch = async {
                let n = reader.read(&mut [0u8; 1]).await.unwrap();
                (n, Instant::now())
            };
            let stream = async {
                // A model thinking for longer than the idle timeout: the stream says nothing.
                tokio::time::sleep(IDLE * 3).await;
                writer.write_all(b"1\r\nx\r\n0\r\n\r\n").await.unwrap();
                drop(open);
                Instant::now()
            };
            tokio::join!(watch, stream)
        });

        client
            .write_all(b"GET /stream HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let ((n, eof_at), finished_at) = server_task.await.unwrap();
        assert_eq!((n, eof_at), (0, finished_at + IDLE));
        let response = read_to_end(&mut client).await;
        assert!(
            response.ends_with(b"1\r\nx\r\n0\r\n\r\n"),
            "{}",
            response.escape_ascii()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn interim_100_continue_does_not_start_a_new_head() {
        let (mut client, server) = duplex(1024);
        let (mut server, signal) = wrap(server);
        let server_task = tokio::spawn(async move {
            read_head(&mut server).await.unwrap();
            let _open = signal.head_received();
            server
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .unwrap();
            let mut body = [0u8; 2];
            server.read_exact(&mut body).await.unwrap();
            server
                .write_all(b"HTTP/1.1 201 Created\r\n\r\n")
                .await
                .unwrap();
            server.shutdown().await.unwrap();
        });

        client
            .write_all(b"PUT / HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n")
            .await
            .unwrap();
        let mut interim = [0u8; 25];
        client.read_exact(&mut interim).await.unwrap();
        client.write_all(b"a").await.unwrap();
        tokio::time::sleep(HEAD * 3).await;
        client.write_all(b"b").await.unwrap();
        assert_eq!(
            read_to_end(&mut client).await,
            b"HTTP/1.1 201 Created\r\n\r\n"
        );
        server_task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn switching_protocols_turns_the_wrapper_into_a_pass_through() {
        let (mut client, server) = duplex(1024);
        let (mut server, signal) = wrap(server);
        let server_task = tokio::spawn(async move {
            read_head(&mut server).await.unwrap();
            let _open = signal.head_received();
            server
                .write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n")
                .await
                .unwrap();
            // An upgraded stream may carry anything, even what looks like another response.
            server
                .write_all(b"HTTP/1.1 200 inside the tunnel")
                .await
                .unwrap();
            let mut frame = [0u8; 5];
            server.read_exact(&mut frame).await.unwrap();
            frame
        });

        client
            .write_all(b"GET /ws HTTP/1.1\r\nupgrade: websocket\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(IDLE * 2).await;
        client.write_all(b"fr").await.unwrap();
        tokio::time::sleep(HEAD * 2).await;
        client.write_all(b"ame").await.unwrap();
        assert_eq!(&server_task.await.unwrap(), b"frame");
    }

    #[tokio::test(start_paused = true)]
    async fn http2_preface_turns_the_wrapper_into_a_pass_through() {
        let (mut client, server) = duplex(1024);
        let (mut server, _signal) = wrap(server);

        // The preface in two pieces, to check that matching carries across reads.
        client.write_all(&H2_PREFACE[..10]).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(server.read(&mut buf).await.unwrap(), 10);
        client.write_all(&H2_PREFACE[10..]).await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 14);

        let quiet = tokio::time::timeout(IDLE * 3, server.read(&mut buf)).await;
        assert!(
            quiet.is_err(),
            "no EOF and no answer for an HTTP/2 connection: {quiet:?}"
        );
        client.write_all(b"frame").await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 5);
        server.write_all(b"settings").await.unwrap();
        let mut settings = [0u8; 8];
        client.read_exact(&mut settings).await.unwrap();
        assert_eq!(&settings, b"settings");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_reads_cannot_hold_the_connection() {
        // The answer does not fit into the pipe and the client never reads it: the grace period ends the attempt.
        let (mut client, server) = duplex(8);
        let (mut server, _signal) = wrap(server);
        client.write_all(b"GET").await.unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 16];
        assert_eq!(server.read(&mut buf).await.unwrap(), 3);
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
        assert_eq!(started.elapsed(), HEAD + ANSWER_GRACE);
    }

    #[tokio::test(start_paused = true)]
    async fn hyper_answers_a_partial_head_with_the_timeout_response() {
        use http_body_util::Full;
        use hyper::server::conn::http1;
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;

        let (mut client, server) = duplex(4096);
        let (server, signal) = wrap(server);
        let connection = tokio::spawn(async move {
            let service = service_fn(move |_request| {
                let open = signal.head_received();
                // A complete body is over once hyper has it; the gateway signals on body drop instead.
                drop(open);
                async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(b"hi"),
                    )))
                }
            });
            http1::Builder::new()
                .serve_connection(TokioIo::new(server), service)
                .await
        });

        client
            .write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let mut first = Vec::new();
        while !first.ends_with(b"hi") {
            assert_ne!(
                client.read_buf(&mut first).await.unwrap(),
                0,
                "{}",
                first.escape_ascii()
            );
        }
        assert!(
            first.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{}",
            first.escape_ascii()
        );
        assert!(first.ends_with(b"\r\n\r\nhi"), "{}", first.escape_ascii());

        client
            .write_all(b"GET /slow HTTP/1.1\r\nhost: a\r\n")
            .await
            .unwrap();
        assert_eq!(read_to_end(&mut client).await, ANSWER);
        assert!(
            connection.await.unwrap().is_err(),
            "hyper reports the incomplete head"
        );
    }

    /// Serves hyper's HTTP/1 over a wrapped pipe; the handler answers 200.
    fn serve_http1(
        server: HeadTimeoutIo<DuplexStream>,
        signal: HeadSignal,
    ) -> tokio::task::JoinHandle<()> {
        use http_body_util::Full;
        use hyper::server::conn::http1;
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;
        tokio::spawn(async move {
            let service = service_fn(move |_request| {
                drop(signal.head_received());
                async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(b"hi"),
                    )))
                }
            });
            let _ = http1::Builder::new()
                .max_buf_size(8192)
                .serve_connection(TokioIo::new(server), service)
                .await;
        })
    }

    #[tokio::test(start_paused = true)]
    async fn hyper_s_own_refusal_is_replaced_by_the_malformed_answer() {
        for (head, hyper_status) in [
            (&b"GET / HTTP/9.9\r\nhost: a\r\n\r\n"[..], 400),
            (
                b"POST / HTTP/1.1\r\ncontent-length: 18446744073709551615\r\n\r\n",
                431,
            ),
            (b"POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n", 400),
        ] {
            let (mut client, server) = duplex(64 * 1024);
            let ((server, signal), asked, _) = wrap_with(server, settings());
            let connection = serve_http1(server, signal);
            client.write_all(head).await.unwrap();
            assert_eq!(
                read_to_end(&mut client).await,
                MALFORMED,
                "{}",
                head.escape_ascii()
            );
            connection.await.unwrap();
            assert_eq!(
                asked.lock().unwrap().as_slice(),
                &[(hyper_status, head.to_vec())],
                "hyper's status and the whole head are handed over"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_after_a_good_request_is_replaced_and_the_copy_holds_only_the_head() {
        let (mut client, server) = duplex(64 * 1024);
        let ((server, signal), asked, _) = wrap_with(server, settings());
        let connection = serve_http1(server, signal);
        client
            .write_all(b"POST /1 HTTP/1.1\r\ncontent-length: 4\r\n\r\nbody")
            .await
            .unwrap();
        let mut first = Vec::new();
        while !first.ends_with(b"hi") {
            assert_ne!(client.read_buf(&mut first).await.unwrap(), 0);
        }
        assert!(
            first.starts_with(b"HTTP/1.1 200 OK"),
            "{}",
            first.escape_ascii()
        );
        // A head too large for hyper's buffer.
        let mut big = b"GET /2 HTTP/1.1\r\ncookie: ".to_vec();
        big.extend(std::iter::repeat_n(b'c', 20_000));
        client.write_all(&big).await.unwrap();
        assert_eq!(read_to_end(&mut client).await, MALFORMED);
        connection.await.unwrap();
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].0, 431);
        assert!(asked[0].1.starts_with(b"GET /2 HTTP/1.1\r\ncookie: ccc"));
        assert!(
            asked[0].1.len() >= 8192,
            "as much as hyper buffered: {}",
            asked[0].1.len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_head_copy_stops_at_the_head_and_a_timeout_answer_gets_it() {
        let (mut client, server) = duplex(1024);
        let ((mut server, _signal), asked, _) = wrap_with(server, settings());
        client
            .write_all(b"\r\nPOST / HTTP/1.1\r\nhost: a\r\n\r\nbody after the head")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = server.read(&mut buf).await.unwrap();
        assert!(n > 0);
        // No head_received: the handler never saw it, so the head clock runs out.
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
        assert_eq!(
            asked.lock().unwrap().as_slice(),
            &[(408, b"\r\nPOST / HTTP/1.1\r\nhost: a\r\n\r\n".to_vec())]
        );
        assert_eq!(read_to_end(&mut client).await, ANSWER);
    }

    #[test]
    fn head_end_needs_a_request_line_before_the_blank_line() {
        assert_eq!(head_end(b"\r\n\r\n", 0), None);
        assert_eq!(head_end(b"\n\nGET / HTTP/1.1\n\nrest", 0), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\n", 17), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nhost: a\r\n", 0), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\nhost: a\n\r\n", 0), Some(25));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nhost: a\n\n\r\n", 0), Some(25));
        // Fed in pieces, as reads arrive.
        let whole = b"GET / HTTP/1.1\r\nhost: a\r\n\r\nbody";
        for split in 1..whole.len() {
            let first = head_end(&whole[..split], 0);
            let end = first.or_else(|| head_end(whole, split));
            assert_eq!(end, Some(27), "split at {split}");
        }
    }

    #[test]
    fn hyper_refusals_are_told_from_other_writes() {
        assert_eq!(
            hyper_refusal(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            hyper_refusal(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n"),
            Some(431)
        );
        assert_eq!(hyper_refusal(b"HTTP/1.1 404 Not Found\r\n\r\nbody"), None);
        assert_eq!(hyper_refusal(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(hyper_refusal(b"0\r\n\r\n"), None);
    }

    /// A client preface and an empty SETTINGS frame.
    fn h2_start() -> Vec<u8> {
        let mut out = H2_PREFACE.to_vec();
        out.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_broken_http2_preface_gets_goaway_protocol_error() {
        for (sent, http2_only) in [
            (&b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"[..], false),
            (b"GET / HTTP/1.1\r\n\r\n", true),
        ] {
            let (mut client, server) = duplex(1024);
            let ((mut server, _signal), _, _) = wrap_with(
                server,
                ConnSettings {
                    http2_only,
                    ..settings()
                },
            );
            client.write_all(sent).await.unwrap();
            let mut got = Vec::new();
            loop {
                let mut buf = [0u8; 64];
                let n = server.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert!(
                H2_PREFACE.starts_with(&got),
                "only bytes that could be a preface reach hyper: {}",
                got.escape_ascii()
            );
            let answer = read_to_end(&mut client).await;
            assert_eq!(answer, bad_preface_answer());
            // SETTINGS, then GOAWAY (type 7) for stream 0 with last-stream-id 0 and PROTOCOL_ERROR (1).
            assert_eq!(&answer[..9], &[0, 0, 0, 4, 0, 0, 0, 0, 0]);
            assert_eq!(answer[12], 7);
            assert_eq!(&answer[18..26], &[0, 0, 0, 0, 0, 0, 0, 1]);
            let len = u32::from_be_bytes([0, answer[9], answer[10], answer[11]]) as usize;
            assert_eq!(answer.len(), 18 + len);
        }
        // A plain HTTP/1.1 request on a connection that may speak both is left alone.
        let (mut client, server) = duplex(1024);
        let (mut server, _signal) = wrap(server);
        client.write_all(b"PRI /x HTTP/1.1\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(server.read(&mut buf).await.unwrap(), 17);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_header_block_left_open_closes_the_connection() {
        let (mut client, server) = duplex(4096);
        let (mut server, _signal) = wrap(server);
        let mut sent = h2_start();
        // HEADERS on stream 1 without END_HEADERS.
        sent.extend_from_slice(&[0, 0, 1, 0x1, 0x1, 0, 0, 0, 1, 0x82]);
        client.write_all(&sent).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = 0;
        while got < sent.len() {
            got += server.read(&mut buf).await.unwrap();
        }
        let waiting = Instant::now();
        // A CONTINUATION without END_HEADERS does not help: the block is still open.
        client
            .write_all(&[0, 0, 1, 0x9, 0, 0, 0, 0, 1, 0x84])
            .await
            .unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 10);
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(waiting.elapsed(), HEAD);
        assert!(server.write(b"x").await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_moving_http2_upload_is_not_cut_and_complete_frames_never_are() {
        let (mut client, server) = duplex(4096);
        let (mut server, signal) = wrap(server);
        let _open = signal.head_received();
        let mut sent = h2_start();
        sent.extend_from_slice(&[0, 0, 1, 0x1, 0x4, 0, 0, 0, 1, 0x83]);
        // A DATA frame of 4 bytes, arriving a byte every half head timeout.
        sent.extend_from_slice(&[0, 0, 4, 0x0, 0x1, 0, 0, 0, 1]);
        client.write_all(&sent).await.unwrap();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut got = 0;
            loop {
                match server.read(&mut buf).await {
                    Ok(0) | Err(_) => return (got, Instant::now()),
                    Ok(n) => got += n,
                }
            }
        });
        for b in b"data" {
            tokio::time::sleep(HEAD / 2).await;
            client.write_all(&[*b]).await.unwrap();
        }
        // Whole frames and an open request: quiet for longer than both clocks.
        tokio::time::sleep(IDLE * 2).await;
        assert!(!reader.is_finished());
        drop(client);
        let (got, _) = reader.await.unwrap();
        assert_eq!(got, sent.len() + 4);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_without_requests_is_asked_to_close_after_idle() {
        let (mut client, server) = duplex(4096);
        let ((mut server, signal), _, shared) = wrap_with(server, settings());
        client.write_all(&h2_start()).await.unwrap();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while server.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        });
        let started = Instant::now();
        // A request keeps it busy however long it takes; PINGs would not count.
        tokio::time::sleep(IDLE / 2).await;
        let open = signal.head_received();
        tokio::time::sleep(IDLE * 2).await;
        client
            .write_all(&[0, 0, 8, 0x6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])
            .await
            .unwrap();
        assert_eq!(shared.close_reason(), None);
        drop(open);
        let finished = Instant::now();
        tokio::time::timeout(IDLE * 2, shared.close_requested())
            .await
            .expect("asked to close");
        assert_eq!(shared.close_reason(), Some(CloseReason::Idle));
        assert_eq!(
            finished.elapsed(),
            IDLE,
            "idle from the end of the last request"
        );
        assert!(started.elapsed() > IDLE * 2);
        assert!(
            !reader.is_finished(),
            "the close itself is hyper's (GOAWAY)"
        );
        drop(client);
        reader.await.unwrap();
    }

    /// A measurement, not a check: what the wrapper adds to a read. Per HTTP/1 request, the copy
    /// of a browser-sized head (and the search for its end), then the release when the handler
    /// takes it; per HTTP/2 read, following the frames of a 16 KiB read.
    #[tokio::test]
    #[ignore = "measurement: cargo test --release -p doorman-server --lib wrapper_cost -- --ignored --nocapture"]
    async fn wrapper_cost() {
        use std::hint::black_box;
        let head = b"GET /chat/completions?stream=true HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\nCookie: session=0123456789abcdef0123456789abcdef; theme=dark; consent=1\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\n\r\n";
        let (_client, server) = duplex(64);
        let ((mut io, _signal), _, _) = wrap_with(server, settings());
        let rounds = 1_000_000;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            io.copy_head(black_box(&head[..]));
            black_box(io.head.len());
            io.reset_head_copy();
        }
        let per_head = started.elapsed() / rounds;

        let mut one_data = vec![0u8; 16 * 1024];
        one_data[..9].copy_from_slice(&[0, 0x3f, 0xf7, 0, 0, 0, 0, 0, 1]);
        let mut small = Vec::new();
        while small.len() + 17 <= 16 * 1024 {
            small.extend_from_slice(&[0, 0, 8, 0x6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        }
        let mut frames = FrameTracker::default();
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            frames.feed(black_box(&one_data));
        }
        let per_data_read = started.elapsed() / rounds;
        let mut frames = FrameTracker::default();
        let started = std::time::Instant::now();
        for _ in 0..rounds / 10 {
            frames.feed(black_box(&small));
        }
        let per_small_read = started.elapsed() / (rounds / 10);
        println!(
            "head of {} bytes copied and released: {per_head:?}; a 16 KiB read of one DATA frame: {per_data_read:?}; of {} PING frames: {per_small_read:?}",
            head.len(),
            small.len() / 17
        );
    }
}
