//! An I/O wrapper that gives HTTP/1.x clients a proper `408 Request Timeout` when they start a request head but do
//! not finish it in time, and closes idle keep-alive connections quietly. It sits between the accepted socket (plain
//! TCP or TLS, after any PROXY protocol header) and hyper's HTTP/1 connection, because hyper's own
//! `header_read_timeout` only drops the connection without a word. It is not a request body timeout, not a response
//! timeout, and does nothing for HTTP/2, which has its own framing and keepalive.
//!
//! # Semantics
//!
//! The wrapper only sees bytes, so the request handler tells it where requests begin: it calls
//! [`HeadSignal::head_received`] first thing for every request. From that and from the bytes written back, the
//! wrapper knows whether the connection is *waiting for a head*:
//!
//! - at the start of the connection, and
//! - again once the handler calls [`HeadSignal::response_finished`] for every request it was given (the gateway
//!   calls it when the response body is dropped, i.e. fully sent or abandoned). Reads of a request body in between,
//!   and everything written while a response streams, do not start a new wait: an SSE stream that stays silent for
//!   minutes is never taken for an idle connection.
//!
//! While waiting for a head:
//!
//! - If no byte arrives within `idle`, reads return EOF so hyper closes the connection without an answer. The idle
//!   clock also restarts with every byte written (the tail of a response hyper is still flushing).
//! - Once a byte has arrived, `head_received()` must come within `head` of that first byte (or of the last byte
//!   written, if later, so a pipelined request is not blamed for a slow response before it). Otherwise the wrapper
//!   calls `on_timeout` once for the complete raw HTTP/1.1 response (status line, headers including
//!   `connection: close`, body), writes it, flushes, shuts the write side down and drains what the client still
//!   sends (so the kernel does not answer the unread data with a reset that could destroy the response), all within
//!   [`ANSWER_GRACE`]. After that reads return EOF and writes fail, and the connection ends.
//!
//! The `head` clock starts at the first byte rather than at the start of the wait: with `idle` longer than `head`
//! (the usual choice), a keep-alive client that sends its next request after a pause would otherwise be timed out
//! the moment its first byte arrived.
//!
//! The wrapper turns itself into a plain pass-through for the rest of the connection when the connection starts with
//! the HTTP/2 preface, and when a `101 Switching Protocols` response is written (WebSocket and other upgrades carry
//! their own protocol from then on).
//!
//! # Wiring
//!
//! Wrap the stream hyper will read plaintext from (inside TLS, so the wrapper sees HTTP rather than records), build
//! the `on_timeout` answer lazily (it is only called when needed), and call `head_received()` before anything else
//! in the service. If the hyper builder is given a timer, pass `header_read_timeout(None)`: hyper's own 30-second
//! default would otherwise race this wrapper and close the connection silently.
//!
//! On the hot path a read or write costs one relaxed atomic load and a few comparisons; nothing is allocated and no
//! lock is taken, and the one [`Sleep`] is reset rather than recreated (and only when its deadline must move earlier
//! or it fired too early).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long the timeout answer may take to be written, flushed and followed by the client's goodbye.
pub const ANSWER_GRACE: Duration = Duration::from_secs(1);

const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bounds the reads spent draining one poll, so that a client that keeps sending cannot hold the worker thread.
const DRAIN_READS_PER_POLL: usize = 8;

/// The two clocks of a connection that is waiting for a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadTimeouts {
    /// From the first byte of a head to the handler's `head_received()`.
    pub head: Duration,
    /// From the start of a wait (or the last byte written) to the first byte of the next head.
    pub idle: Duration,
}

/// Lets the request handler tell the connection's [`HeadTimeoutIo`] that a request head has been parsed.
#[derive(Debug, Clone)]
pub struct HeadSignal {
    shared: Arc<Shared>,
}

/// What the handler and the wrapper share: two counters and the waker of a read parked while a request is open.
#[derive(Debug, Default)]
struct Shared {
    heads: AtomicU64,
    finished: AtomicU64,
    reader: AtomicWaker,
}

impl HeadSignal {
    /// Call first thing for every request; until then the head clock of the connection keeps running.
    pub fn head_received(&self) {
        // Relaxed: the counter guards no other data; the wrapper only needs to see that it moved.
        self.shared.heads.fetch_add(1, Ordering::Relaxed);
    }

    /// Call once per request when its response is over (body fully sent, or dropped); only then does the
    /// connection wait for a new head and its idle clock run.
    pub fn response_finished(&self) {
        self.shared.finished.fetch_add(1, Ordering::Relaxed);
        // A read parked while the request was open has no timer; wake it so the idle clock starts now.
        self.shared.reader.wake();
    }
}

enum State {
    Waiting {
        since: Instant,
        /// When the head clock started: the first byte of the head, pushed forward by later writes.
        head_started: Option<Instant>,
    },
    InRequest,
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

/// See the [module documentation](self).
pub struct HeadTimeoutIo<I> {
    io: I,
    timeouts: HeadTimeouts,
    shared: Arc<Shared>,
    heads_seen: u64,
    state: State,
    /// Bytes of the HTTP/2 preface matched so far; `None` once the connection is known not to be HTTP/2.
    preface_matched: Option<usize>,
    sleep: Pin<Box<Sleep>>,
    on_timeout: Option<Box<dyn FnOnce() -> Bytes + Send>>,
}

impl<I> HeadTimeoutIo<I> {
    /// Wraps a freshly accepted connection, which starts out waiting for its first head. Must be called within a
    /// Tokio runtime with the time driver enabled.
    pub fn new(
        io: I,
        timeouts: HeadTimeouts,
        on_timeout: Box<dyn FnOnce() -> Bytes + Send>,
    ) -> (Self, HeadSignal) {
        let shared = Arc::new(Shared::default());
        let now = Instant::now();
        let wrapper = HeadTimeoutIo {
            io,
            timeouts,
            shared: Arc::clone(&shared),
            heads_seen: 0,
            state: State::Waiting {
                since: now,
                head_started: None,
            },
            preface_matched: Some(0),
            sleep: Box::pin(tokio::time::sleep_until(now + timeouts.idle)),
            on_timeout: Some(on_timeout),
        };
        (wrapper, HeadSignal { shared })
    }

    fn observe_signal(&mut self) {
        let heads = self.shared.heads.load(Ordering::Relaxed);
        if heads != self.heads_seen {
            self.heads_seen = heads;
            if let State::Waiting { .. } = self.state {
                self.state = State::InRequest;
                self.preface_matched = None;
            }
        }
        if let State::InRequest = self.state
            && self.shared.finished.load(Ordering::Relaxed) >= self.heads_seen
        {
            self.state = State::Waiting {
                since: Instant::now(),
                head_started: None,
            };
        }
    }

    fn on_head_bytes(&mut self, new: &[u8]) {
        if let State::Waiting { head_started, .. } = &mut self.state
            && head_started.is_none()
        {
            *head_started = Some(Instant::now());
        }
        if let Some(matched) = self.preface_matched {
            let expected = &H2_PREFACE[matched..];
            let n = expected.len().min(new.len());
            if new[..n] == expected[..n] {
                if matched + n == H2_PREFACE.len() {
                    self.state = State::PassThrough;
                    self.preface_matched = None;
                } else {
                    self.preface_matched = Some(matched + n);
                }
            } else {
                self.preface_matched = None;
            }
        }
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

    fn start_answer(&mut self) {
        tracing::debug!(timeout = ?self.timeouts.head, "request head not received in time; answering 408");
        let response = self
            .on_timeout
            .take()
            .map(|render| render())
            .unwrap_or_default();
        self.state = State::Answering {
            response,
            stage: AnswerStage::Write,
            give_up_at: Instant::now() + ANSWER_GRACE,
        };
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> HeadTimeoutIo<I> {
    /// Drives the timeout answer; Ready once the connection is closed, whether the answer got through or not.
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
                    None => since + this.timeouts.idle,
                    Some(started) => started + this.timeouts.head,
                },
            };
            let before = buf.filled().len();
            match Pin::new(&mut this.io).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {
                    if buf.filled().len() > before {
                        this.on_head_bytes(&buf.filled()[before..]);
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
                this.start_answer();
            } else {
                tracing::trace!(idle = ?this.timeouts.idle, "idle connection closed");
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
        if let State::Answering { .. } | State::Closed { .. } = this.state {
            return Poll::Ready(Err(closed_error()));
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
        if let State::Answering { .. } | State::Closed { .. } = this.state {
            return Poll::Ready(Err(closed_error()));
        }
        let n = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        if n > 0
            && let Some(first) = bufs.iter().find(|b| !b.is_empty())
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
            State::Answering { .. } | State::Closed { shut_down: true } => Poll::Ready(Ok(())),
            _ => Pin::new(&mut this.io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.state {
            State::Answering { .. } | State::Closed { shut_down: true } => Poll::Ready(Ok(())),
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

    fn wrap(io: DuplexStream) -> (HeadTimeoutIo<DuplexStream>, HeadSignal) {
        HeadTimeoutIo::new(
            io,
            HeadTimeouts {
                head: HEAD,
                idle: IDLE,
            },
            Box::new(|| Bytes::from_static(ANSWER)),
        )
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
            signal.head_received();
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
            signal.head_received();
            server
                .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
            signal.response_finished();
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
            signal.head_received();
            // A slow handler: the idle clock must not run while the request is being handled.
            tokio::time::sleep(IDLE * 2).await;
            server
                .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
            signal.response_finished();
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
            signal.head_received();
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
                signal.response_finished();
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
            signal.head_received();
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
            signal.head_received();
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
                signal.head_received();
                // A complete body is over once hyper has it; the gateway signals on body drop instead.
                signal.response_finished();
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
}
