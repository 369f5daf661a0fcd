//! The client's request body on its way to the origin, watched: the size cap (413), a read
//! timeout of its own (a body that stops arriving gets 408 BODY_TIMEOUT, never the origin's
//! 504), and the client's framing errors (a bad chunk-size line, a chunk longer than it said)
//! kept apart from the origin's, so a broken body is answered as the client's fault (400 naming
//! the problem) and not blamed on the service. The response timeout starts when the body has
//! been sent: a slow upload is not a slow origin.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use doorman_core::Code;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::upstream::UpstreamBody;

/// What the request path learns about a body while it streams.
#[derive(Debug, Default)]
pub struct BodyWatch {
    fault: OnceLock<ClientFault>,
    finished_at: OnceLock<Instant>,
}

impl BodyWatch {
    /// Why the client's body failed, if it did.
    pub fn fault(&self) -> Option<&ClientFault> {
        self.fault.get()
    }

    /// When the last byte of the body was read, once it has been.
    pub fn finished_at(&self) -> Option<Instant> {
        self.finished_at.get().copied()
    }
}

/// A body failure that is the client's doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFault {
    pub code: Code,
    /// What went wrong, in words for the person ("the request body's chunk-size line is not
    /// hexadecimal").
    pub words: String,
}

impl fmt::Display for ClientFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words)
    }
}

impl StdError for ClientFault {}

/// Wraps the client's body for the upstream, with the watch that reports on it. A request
/// without a body costs nothing extra: it gets an empty body and no watch.
pub fn watched(
    body: Incoming,
    max_bytes: Option<u64>,
    idle: Duration,
) -> (UpstreamBody, Option<Arc<BodyWatch>>) {
    if body.is_end_stream() {
        return (crate::upstream::empty_body(), None);
    }
    let watch = Arc::new(BodyWatch::default());
    let body = ClientBody {
        inner: body,
        remaining: max_bytes.unwrap_or(u64::MAX),
        max_bytes,
        idle,
        sleep: None,
        watch: watch.clone(),
    };
    (body.boxed(), Some(watch))
}

struct ClientBody {
    inner: Incoming,
    remaining: u64,
    max_bytes: Option<u64>,
    idle: Duration,
    /// Armed the first time the body is not ready, then reset after each frame.
    sleep: Option<Pin<Box<Sleep>>>,
    watch: Arc<BodyWatch>,
}

type Polled = Poll<Option<Result<Frame<Bytes>, Box<dyn StdError + Send + Sync>>>>;

impl ClientBody {
    fn fail(&self, fault: ClientFault) -> Polled {
        let _ = self.watch.fault.set(fault.clone());
        Poll::Ready(Some(Err(Box::new(fault))))
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                let idle = this.idle;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                ready!(sleep.as_mut().poll(cx));
                this.fail(ClientFault {
                    code: Code::BodyTimeout,
                    words: format!(
                        "The request body stopped arriving: nothing came for {} seconds before it was complete.",
                        idle.as_secs_f64()
                    ),
                })
            }
            Poll::Ready(None) => {
                let _ = this.watch.finished_at.set(Instant::now());
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                let fault = framing_fault(&e);
                this.fail(fault)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        let max = this.max_bytes.unwrap_or(0);
                        return this.fail(ClientFault {
                            code: Code::BodyTooLarge,
                            words: format!("request body over {max} bytes"),
                        });
                    }
                    this.remaining -= len;
                }
                if let Some(sleep) = &mut this.sleep {
                    sleep.as_mut().reset(Instant::now() + this.idle);
                }
                if this.inner.is_end_stream() {
                    let _ = this.watch.finished_at.set(Instant::now());
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Names what was wrong with the body's framing, from hyper's error. hyper's decoder reports
/// these as text, so the words are matched on it; anything unknown gets the general sentence.
fn framing_fault(err: &hyper::Error) -> ClientFault {
    let text = crate::upstream::error_chain(err).to_ascii_lowercase();
    let words = if text.contains("chunk size line") && text.contains("overflow")
        || text.contains("chunk size: overflow")
    {
        "A chunk-size line of the request body names a size too large to be real."
    } else if text.contains("chunk size lf") {
        "A chunk-size line of the request body does not end with CRLF (a bare LF or CR was sent)."
    } else if text.contains("chunk size linear white space") {
        "A chunk-size line of the request body has spaces where the size should end."
    } else if text.contains("chunk size line") {
        "The request body's chunk-size line is not hexadecimal."
    } else if text.contains("chunk body cr") || text.contains("chunk body lf") {
        "A chunk of the request body is longer than the size its chunk-size line declared."
    } else if text.contains("chunk end") || text.contains("trailer end") {
        "The request body's last chunk does not end with CRLF."
    } else if text.contains("chunk extension") {
        "A chunk extension in the request body is malformed or too long."
    } else if text.contains("trailer") {
        "The request body's trailer fields are malformed or too large."
    } else if err.is_incomplete_message()
        || text.contains("eof")
        || text.contains("end of file")
        || err.is_canceled()
    {
        "The request body ended before it was complete: the connection closed first."
    } else if text.contains("reset") || text.contains("stream error") {
        "The client cancelled the request while its body was being sent."
    } else {
        "The request body's framing could not be read."
    };
    ClientFault {
        code: Code::BadRequest,
        words: words.to_owned(),
    }
}
