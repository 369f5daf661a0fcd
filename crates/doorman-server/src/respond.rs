//! Puts receipts on the wire: status, the negotiated body, the Ray ID header, `Retry-After`, and
//! whatever extra headers the deciding phase asked for. This is the one place where a denial
//! becomes an HTTP response (linkerd's "rescue at the edge").

use bytes::Bytes;
use doorman_core::render;
use doorman_core::{Code, Receipt};
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};

use crate::body::ProxyBody;

/// Builds the response for `receipt`, choosing the body by the request's `Accept`.
pub fn receipt_response(
    receipt: &Receipt,
    accept: Option<&str>,
    ray_header: &HeaderName,
) -> Response<ProxyBody> {
    let rendered = render::render(receipt, accept);
    let mut resp = Response::new(crate::body::full(rendered.body));
    *resp.status_mut() = StatusCode::from_u16(receipt.status).unwrap_or(StatusCode::FORBIDDEN);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rendered.format.content_type()),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if rendered.format == render::Format::Html {
        // The page carries its own CSS and nothing else.
        h.insert(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'"),
        );
    }
    // Tell clients that our body is the gateway's word, not the origin's.
    h.insert(
        HeaderName::from_static("doorman-code"),
        HeaderValue::from_static(receipt.code.as_str()),
    );
    if let Ok(v) = HeaderValue::from_str(&receipt.ray_id.to_string()) {
        h.insert(ray_header.clone(), v);
    }
    if let Some(secs) = receipt.retry_after_s {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if receipt.code == Code::Challenge {
        h.insert(
            HeaderName::from_static("doorman-mitigated"),
            HeaderValue::from_static("challenge"),
        );
    }
    for (name, value) in &receipt.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    resp
}

/// The raw HTTP/1.1 bytes of a receipt response, for the few places that answer before hyper has
/// a request to answer (a request head that never finished arriving, or that hyper refused),
/// with the body chosen by `accept` when the head got that far.
pub fn raw_http1(receipt: &Receipt, accept: Option<&str>, ray_header: &HeaderName) -> Bytes {
    let rendered = render::render(receipt, accept);
    let reason = StatusCode::from_u16(receipt.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\ndoorman-code: {}\r\n{}: {}\r\n\r\n",
        receipt.status,
        reason,
        rendered.format.content_type(),
        rendered.body.len(),
        receipt.code.as_str(),
        ray_header.as_str(),
        receipt.ray_id,
    );
    let mut out = Vec::with_capacity(head.len() + rendered.body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(rendered.body.as_bytes());
    Bytes::from(out)
}
