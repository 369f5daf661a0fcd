//! The response body type every handler returns: either the origin's streaming body passed through
//! untouched, or a body the gateway made (receipts, metrics). When it is dropped (fully sent, or
//! abandoned by a client that left), it tells the connection's head-timeout wrapper that the
//! response is over, so that a silent stream is never mistaken for an idle connection. With the
//! access log on, it also counts the bytes it passes and hands the request's line to the log
//! then, so `bytes_out` is what was sent, streams included.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, SizeHint};

use crate::access_log::PendingLine;
use crate::head_timeout::OpenRequest;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: streamed from the origin or made here.
pub struct ProxyBody {
    inner: BoxBody<Bytes, BoxError>,
    /// Ends the request for the connection's clocks when the body is dropped.
    on_drop: Option<OpenRequest>,
    /// The access log's line, written when the body is dropped, with the bytes counted.
    line: Option<PendingLine>,
}

impl ProxyBody {
    /// Ends `request` when this body is dropped.
    pub(crate) fn finishing(mut self, request: OpenRequest) -> Self {
        self.on_drop = Some(request);
        self
    }

    /// Counts the bytes sent and writes `line` when this body is dropped.
    pub(crate) fn logging(mut self, line: PendingLine) -> Self {
        self.line = Some(line);
        self
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let (Some(line), Poll::Ready(Some(Ok(frame)))) = (&mut self.line, &polled)
            && let Some(data) = frame.data_ref()
        {
            line.sent(data.len());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A complete body made by the gateway.
pub fn full(data: impl Into<Bytes>) -> ProxyBody {
    ProxyBody {
        inner: http_body_util::Full::new(data.into())
            .map_err(|never| match never {})
            .boxed(),
        on_drop: None,
        line: None,
    }
}

/// The origin's body, streamed through frame by frame (SSE events arrive when the origin sends
/// them).
pub fn streamed(body: hyper::body::Incoming) -> ProxyBody {
    ProxyBody {
        inner: body.map_err(|e| Box::new(e) as BoxError).boxed(),
        on_drop: None,
        line: None,
    }
}
