//! The first step of every request: its canonical form. One host (the absolute-form target or
//! `:authority` over the Host header, each checked), one path (normalized by
//! `doorman_core::canonical`), no protocol switch but WebSocket, no CONNECT, no transfer coding
//! but `chunked`, and a head within the size limits. What cannot be made canonical is refused
//! here with a receipt, before the gateway's own endpoints, routing or rules see the request, so
//! nothing downstream can read it another way.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::SystemTime;

use doorman_core::canonical::{
    HostProblem, NormalizedPath, PathForward, RequestAuthority, UpgradeRequest, normalize_path,
    request_authority, upgrade_request,
};
use doorman_core::{Code, PhaseName, Policy, RayId, Receipt};
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderMap, Method};

use crate::headers;

/// A request's canonical target: what routing, rules and forwarding all read.
pub struct Target<'r> {
    pub authority: RequestAuthority<'r>,
    pub path: NormalizedPath<'r>,
}

impl Target<'_> {
    /// The `Host` the origin receives: the canonical authority. The client's own value is
    /// reused when it already is that, which is the common case and allocates nothing.
    pub fn host_header(&self, received: Option<&HeaderValue>) -> Option<HeaderValue> {
        if self.authority.host.is_empty() {
            return None;
        }
        match received {
            Some(v) if self.authority.canonical => Some(v.clone()),
            _ => HeaderValue::from_str(&self.authority.host_header()).ok(),
        }
    }

    /// The path and query the origin receives: the normalized path unless the operator forwards
    /// raw paths, or this one is ambiguous and its route passes it raw (the core refuses it
    /// otherwise). The query is always as received.
    pub fn forwarded_path(&self, received: &PathAndQuery, policy: &Policy) -> PathAndQuery {
        let raw = self.path.problem.is_some() || policy.paths.forward == PathForward::Raw;
        match &self.path.path {
            Cow::Owned(normal) if !raw => {
                let text = match received.query() {
                    Some(q) => format!("{normal}?{q}"),
                    None => normal.clone(),
                };
                PathAndQuery::try_from(text).unwrap_or_else(|_| received.clone())
            }
            _ => received.clone(),
        }
    }
}

/// Why a request has no canonical form.
#[derive(Debug)]
pub enum Refusal {
    Host(HostProblem),
    Connect,
    TransferCoding(String),
    /// Header count or size over the limit: (count, bytes of the request line and headers).
    HeadTooLarge {
        count: usize,
        size: usize,
    },
    /// A declared `Content-Length` over `max_body_bytes`.
    BodyTooLarge(u64),
}

/// Drops a protocol switch the gateway never tunnels (`h2c` and anything but WebSocket), so the
/// request is served as plain HTTP/1.1 (RFC 9110 §7.8) and the origin never sees the offer.
/// Returns whether what is left is a WebSocket handshake (which the route may still refuse).
pub fn settle_upgrade(parts: &mut Parts) -> bool {
    match upgrade_request(&parts.headers, parts.version) {
        Some(UpgradeRequest::WebSocket) => true,
        Some(UpgradeRequest::Other) => {
            parts.headers.remove(header::UPGRADE);
            parts.headers.remove(&headers::HTTP2_SETTINGS);
            false
        }
        None => false,
    }
}

/// The canonical target of a request, or why it has none.
pub fn canonical_request<'r>(
    parts: &'r Parts,
    policy: &Policy,
    limits: &doorman_config::Limits,
) -> Result<Target<'r>, Refusal> {
    if parts.method == Method::CONNECT {
        return Err(Refusal::Connect);
    }
    head_within_limits(parts, limits)?;
    transfer_coding_is_chunked(&parts.headers)?;
    let authority =
        request_authority(&parts.uri, &parts.headers, parts.version).map_err(Refusal::Host)?;
    let path = normalize_path(parts.uri.path(), policy.paths.normalization);
    Ok(Target { authority, path })
}

/// Header count and size (the request line counts, as `max_header_bytes` says) and a declared
/// body over the cap.
fn head_within_limits(parts: &Parts, limits: &doorman_config::Limits) -> Result<(), Refusal> {
    let count = parts.headers.len();
    let size = request_line_size(parts) + headers::head_size(&parts.headers);
    if count > limits.max_headers || size > limits.max_header_bytes {
        return Err(Refusal::HeadTooLarge { count, size });
    }
    if let Some(max_body) = limits.max_body_bytes {
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = declared.filter(|&len| len > max_body) {
            return Err(Refusal::BodyTooLarge(len));
        }
    }
    Ok(())
}

/// `METHOD target HTTP/1.1\r\n` as it travelled (HTTP/2 sends the same facts as pseudo-headers).
fn request_line_size(parts: &Parts) -> usize {
    let target = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + parts
            .uri
            .authority()
            .map_or(0, |a| a.as_str().len() + "http://".len());
    parts.method.as_str().len() + 1 + target + " HTTP/1.1\r\n".len()
}

/// Only `chunked`, once, is understood; anything else would be forwarded as something the
/// origin and the gateway could frame differently (RFC 9112 §6.1: 501).
fn transfer_coding_is_chunked(headers: &HeaderMap) -> Result<(), Refusal> {
    let mut codings = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|c| c.trim_ascii())
        .filter(|c| !c.is_empty());
    let Some(first) = codings.next() else {
        return Ok(());
    };
    let rest: Vec<&[u8]> = codings.collect();
    if first.eq_ignore_ascii_case(b"chunked") && rest.is_empty() {
        return Ok(());
    }
    let all: Vec<String> = std::iter::once(first)
        .chain(rest)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Err(Refusal::TransferCoding(all.join(", ")))
}

impl Refusal {
    /// The receipt that explains the refusal to the person who sent the request.
    pub fn receipt(
        &self,
        ray: &RayId,
        now: SystemTime,
        client_ip: IpAddr,
        policy: &Policy,
        parts: &Parts,
        limits: &doorman_config::Limits,
    ) -> Receipt {
        let code = match self {
            Refusal::Host(_) => Code::BadHost,
            Refusal::Connect => Code::MethodNotAllowed,
            Refusal::TransferCoding(_) => Code::UnsupportedTransferCoding,
            Refusal::HeadTooLarge { .. } => Code::HeadersTooLarge,
            Refusal::BodyTooLarge(_) => Code::BodyTooLarge,
        };
        let mut r = Receipt::new(ray.clone(), now, client_ip, code, PhaseName::Proxy);
        policy.site.fill(&mut r, "");
        match self {
            Refusal::Host(problem) => host_words(r, problem),
            Refusal::Connect => {
                r.headers
                    .push(("allow".into(), "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS".into()));
                r.reason("This site does not open tunnels (the CONNECT method) to other addresses: it is a website, not a proxy.")
                    .remedy("If your software is set up to use this address as a proxy, remove that setting and connect to sites directly.")
            }
            Refusal::TransferCoding(codings) => r
                .reason(format!(
                    "The request's body is sent with the transfer coding `{codings}`; this site only understands `chunked`."
                ))
                .remedy("Send the body with a Content-Length, or with `Transfer-Encoding: chunked` alone; compress with Content-Encoding instead.")
                .fact("transfer coding", codings.clone()),
            Refusal::HeadTooLarge { count, size } => {
                head_too_large_words(r, parts, *count, *size, limits)
            }
            Refusal::BodyTooLarge(declared) => {
                body_too_large(r, Some(*declared), limits.max_body_bytes.unwrap_or(0))
            }
        }
    }
}

fn host_words(r: Receipt, problem: &HostProblem) -> Receipt {
    let r = match problem {
        HostProblem::Missing => r
            .reason("The request does not say which site it is for: it has no Host header, which HTTP/1.1 requires.")
            .remedy("Send a Host header with the site's name (every browser and HTTP library does this by itself; a hand-written request may not)."),
        HostProblem::Duplicate => r
            .reason("The request carries more than one Host header, so it names more than one site.")
            .remedy("Send exactly one Host header."),
        HostProblem::Invalid { value, why } => r
            .reason(format!(
                "The request's host `{}` is not a valid site name: {why}.",
                value.escape_debug()
            ))
            .remedy("Send the site's name alone, like `example.com` or `example.com:8443`.")
            .fact("host", value.clone()),
    };
    r.remedy("If a program built this request, its HTTP client may be misconfigured; try the address in a browser.")
        .fact("problem", problem.as_str())
}

fn head_too_large_words(
    r: Receipt,
    parts: &Parts,
    count: usize,
    size: usize,
    limits: &doorman_config::Limits,
) -> Receipt {
    let line = request_line_size(parts);
    let (largest_name, largest_len) = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), k.as_str().len() + v.len()))
        .max_by_key(|(_, n)| *n)
        .unwrap_or(("", 0));
    let reason = if count > limits.max_headers {
        format!(
            "The request carried {count} headers; this site accepts at most {}.",
            limits.max_headers
        )
    } else if line >= largest_len {
        format!(
            "The request's line and headers add up to {size} bytes; this site accepts at most {} bytes. The longest part is the address itself ({line} bytes).",
            limits.max_header_bytes
        )
    } else {
        format!(
            "The request's line and headers add up to {size} bytes; this site accepts at most {} bytes. The largest header is `{largest_name}` ({largest_len} bytes).",
            limits.max_header_bytes
        )
    };
    let mut r = r
        .reason(reason)
        .fact("header count", count.to_string())
        .fact("head bytes", size.to_string());
    if line >= largest_len && count <= limits.max_headers {
        r = r
            .fact("request line", format!("{line} bytes"))
            .remedy("Use a shorter address: move long parameters into the body of a POST request.");
    } else {
        r = r.fact(
            "largest header",
            format!("{largest_name} ({largest_len} bytes)"),
        );
        r = if largest_name == "cookie" {
            r.remedy("Clear this site's cookies (your browser's site settings → clear data), then reload.")
        } else {
            r.remedy(format!(
                "Send a smaller `{largest_name}` header, or fewer headers."
            ))
        };
    }
    r.remedy("If a browser extension adds headers, try a private window without extensions.")
}

/// The 413 words, for a declared length over the cap and for a body that grew past it.
pub fn body_too_large(r: Receipt, declared: Option<u64>, max: u64) -> Receipt {
    let reason = match declared {
        Some(len) => {
            format!("The request body is {len} bytes; this site accepts at most {max} bytes.")
        }
        None => format!("The request body grew past {max} bytes, the most this site accepts."),
    };
    r.reason(reason)
        .fact("max body bytes", max.to_string())
        .remedy(format!(
            "Send a body of at most {max} bytes (split large uploads)."
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_chunked_alone_is_a_transfer_coding() {
        assert!(transfer_coding_is_chunked(&headers(&[])).is_ok());
        assert!(transfer_coding_is_chunked(&headers(&[("transfer-encoding", "Chunked")])).is_ok());
        for bad in [
            vec![("transfer-encoding", "gzip, chunked")],
            vec![("transfer-encoding", "chunked, chunked")],
            vec![
                ("transfer-encoding", "gzip"),
                ("transfer-encoding", "chunked"),
            ],
            vec![("transfer-encoding", "identity")],
        ] {
            assert!(
                matches!(
                    transfer_coding_is_chunked(&headers(&bad)),
                    Err(Refusal::TransferCoding(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_request_line_counts_toward_the_head() {
        let req = http::Request::get("/aaaaaaaaaa?b=c").body(()).unwrap();
        let (parts, ()) = req.into_parts();
        assert_eq!(
            request_line_size(&parts),
            "GET /aaaaaaaaaa?b=c HTTP/1.1\r\n".len()
        );
    }
}
