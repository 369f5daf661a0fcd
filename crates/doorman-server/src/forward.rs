//! Carrying a permitted request to its upstream: the canonical host and path, identity headers
//! in and credentials out, forwarding headers, hop-by-hop headers stripped, the client's body
//! watched on its way (see [`crate::client_body`]), a bodyless request sent again to another
//! target when one refuses the connection, the response timeout counted from the end of the
//! body, and a WebSocket tunnel only when the client asked for one and the origin agreed.

use std::time::Instant;

use doorman_core::auth::Identity;
use doorman_core::{Code, RayId, Receipt};
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::body::{self, ProxyBody};
use crate::client_body::{self, BodyWatch, ClientFault};
use crate::gateway::{Gateway, Runtime};
use crate::headers;
use crate::metrics::UpstreamLabels;
use crate::proxy::ConnInfo;
use crate::upstream::{self, UpstreamBody, UpstreamFailure, UpstreamPool};

/// Where the canonical step says the request goes at the origin.
pub(crate) struct Outbound {
    /// The path and query the origin receives.
    pub path_and_query: PathAndQuery,
    /// The canonical `Host`; `None` for an HTTP/1.0 request that named none.
    pub host: Option<HeaderValue>,
    /// The request is a WebSocket handshake (the only upgrade left after the canonical step).
    pub websocket: bool,
}

/// Why a permitted request got no response from its origin.
pub(crate) enum Failure {
    /// The client's body broke off, stalled or grew too large: the client's doing.
    Client(ClientFault),
    /// The origin (or the way to it) failed.
    Upstream(UpstreamFailure),
}

impl From<UpstreamFailure> for Failure {
    fn from(f: UpstreamFailure) -> Self {
        Failure::Upstream(f)
    }
}

/// What the upstream is told about the client's credential.
pub(crate) struct UpstreamView<'d> {
    pub identity: Option<&'d Identity>,
    pub strip_credentials: bool,
}

/// Identity headers in, credentials out (when the route checked them and does not keep them).
/// Client-sent identity headers are always removed: only the gateway may say who a client is.
fn set_identity(headers: &mut http::HeaderMap, rt: &Runtime, view: &UpstreamView<'_>) {
    let names = &rt.config.policy.auth.identity_headers;
    for name in names.all() {
        headers.remove(name);
    }
    if view.strip_credentials {
        headers.remove(header::AUTHORIZATION);
        if let Some(h) = &rt.config.server.auth.key_header {
            headers.remove(h);
        }
    }
    let Some(identity) = view.identity else {
        return;
    };
    let mut put = |name: &http::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name.clone(), v);
        }
    };
    if let Some(id) = &identity.key_id {
        put(&names.key_id, id);
    }
    put(
        &names.subject,
        identity.subject.as_deref().unwrap_or(&identity.name),
    );
    put(&names.scopes, &identity.scopes.join(" "));
    put(&names.method, &identity.method.spec());
}

/// Sends the request to the upstream and streams the response back.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn forward(
    gw: &Gateway,
    rt: &Runtime,
    conn: &ConnInfo,
    mut parts: Parts,
    body: Incoming,
    outbound: Outbound,
    pool: &UpstreamPool,
    ray: &RayId,
    view: UpstreamView<'_>,
) -> Result<Response<ProxyBody>, Failure> {
    let Some((target, authority)) = pool.pick_healthy() else {
        return Err(Failure::Upstream(UpstreamFailure {
            code: Code::UpstreamDown,
            what: pool.last_failure().map_or_else(
                || "every target failed its health checks".to_owned(),
                |(at, why)| {
                    format!(
                        "every target failed its health checks; last: {why} at {}",
                        doorman_common::when::human_utc(doorman_common::when::unix_ms(at))
                    )
                },
            ),
        }));
    };
    // The core refused a WebSocket upgrade the route does not tunnel, and the canonical step
    // dropped every other kind: what is left is a WebSocket handshake to pass on.
    let upgrade = outbound.websocket;
    let client_upgrade = if upgrade {
        parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
    } else {
        None
    };

    headers::strip_hop_by_hop(&mut parts.headers, upgrade);
    set_identity(&mut parts.headers, rt, &view);
    // The origin gets our Ray ID, never one the client made up.
    parts.headers.remove(&rt.ray_header);
    if let Ok(v) = HeaderValue::from_str(&ray.to_string()) {
        parts.headers.insert(rt.ray_header.clone(), v);
    }
    let peer_trusted = doorman_core::client_ip::is_trusted(
        conn.peer_ip,
        &rt.config.policy.client_ip.trusted_proxies,
    );
    headers::set_forwarding(
        &mut parts.headers,
        rt.forwarding,
        conn.peer_ip,
        peer_trusted,
        conn.scheme.as_str(),
        outbound.host.clone(),
    );
    // One authority: the origin's Host is the one routing and rules read, whatever the client
    // put in a second place.
    match outbound.host {
        Some(host) => {
            parts.headers.insert(header::HOST, host);
        }
        None => {
            parts.headers.remove(header::HOST);
        }
    }
    let mut pq = outbound.path_and_query;
    if view.strip_credentials
        && let Some(param) = &rt.config.server.auth.key_query_param
        && let Some(clean) = without_query_param(pq.as_str(), param, "")
    {
        pq = PathAndQuery::try_from(clean).unwrap_or(pq);
    }
    parts.uri = upstream_uri(target, authority, &pq)?;
    parts.version = Version::HTTP_11;

    let limits = &rt.config.server.limits;
    let (up_body, watch) =
        client_body::watched(body, limits.max_body_bytes, limits.body_read_timeout);
    // A request without a body can be sent again as it was: when a target refuses the
    // connection (it died since its last health check), the next healthy one gets it, so a
    // stopped server costs no failed request even before the checks notice. Only an upstream
    // with another target to try pays for keeping the copy.
    let resend =
        (pool.spec.targets.len() > 1 && !upgrade && hyper::body::Body::is_end_stream(&up_body))
            .then(|| (parts.method.clone(), parts.headers.clone()));
    let mut up_req = Request::from_parts(parts, up_body);
    let mut target = target;
    // Empty, so without a retry nothing is allocated.
    let mut tried: Vec<&str> = Vec::new();
    let started = Instant::now();
    let sent = loop {
        let sent = send(pool, up_req, watch.as_deref()).await;
        let Some(Err(e)) = &sent else { break sent };
        let Some((method, headers)) = resend.as_ref().filter(|_| e.is_connect()) else {
            break sent;
        };
        tried.push(target);
        let Some((next, next_authority)) = pool.pick_healthy_except(&tried) else {
            break sent;
        };
        tracing::debug!(target: "doorman::proxy", upstream = %pool.spec.name, "{target} refused the connection ({}); trying {next}", upstream::error_chain(e));
        let mut again = Request::new(upstream::empty_body());
        *again.method_mut() = method.clone();
        *again.headers_mut() = headers.clone();
        *again.version_mut() = Version::HTTP_11;
        *again.uri_mut() = upstream_uri(next, next_authority, &pq)?;
        up_req = again;
        target = next;
    };
    let mut resp = match sent {
        None => {
            return Err(Failure::Upstream(UpstreamFailure {
                code: Code::UpstreamTimeout,
                what: format!(
                    "{target} sent no response head within {} ms of the request's end (response_timeout_ms)",
                    pool.response_timeout().as_millis()
                ),
            }));
        }
        Some(Err(e)) => {
            // A body that broke on the client's side fails the upstream request too; the
            // watch knows whose fault it was.
            if let Some(fault) = watch.as_ref().and_then(|w| w.fault()) {
                return Err(Failure::Client(fault.clone()));
            }
            return Err(Failure::Upstream(upstream::classify(&e, target)));
        }
        Some(Ok(resp)) => resp,
    };
    let upstream_time = started.elapsed();
    gw.metrics
        .upstream_latency
        .get_or_create(&UpstreamLabels {
            upstream: pool.spec.name.clone(),
        })
        .observe(upstream_time.as_secs_f64());
    if gw.access_log.is_some() {
        resp.extensions_mut().insert(crate::access_log::Forwarded {
            target: target.to_owned(),
            upstream_time,
        });
    }

    let switching = resp.status() == http::StatusCode::SWITCHING_PROTOCOLS;
    let Some(client_side) = client_upgrade.filter(|_| switching) else {
        if switching {
            // A 101 nobody asked for would turn the client's connection into a tunnel to the
            // origin that no later request on it is checked against.
            return Err(Failure::Upstream(UpstreamFailure {
                code: Code::UpstreamError,
                what: format!(
                    "{target} switched protocols (101) although no upgrade was asked for"
                ),
            }));
        }
        headers::strip_hop_by_hop(resp.headers_mut(), false);
        return Ok(resp.map(body::streamed));
    };
    headers::strip_hop_by_hop(resp.headers_mut(), true);
    let origin_side = hyper::upgrade::on(&mut resp);
    gw.tunnels.spawn(async move {
        match tokio::try_join!(client_side, origin_side) {
            Ok((client, origin)) => {
                let mut client = TokioIo::new(client);
                let mut origin = TokioIo::new(origin);
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut origin).await {
                    tracing::debug!("upgraded connection ended: {e}");
                }
            }
            Err(e) => tracing::debug!("protocol switch failed: {e}"),
        }
    });
    Ok(resp.map(body::streamed))
}

/// One attempt: the response, the client's error, or `None` when the origin sent no response
/// head within `response_timeout` of the request's end. While the body is still arriving its own
/// read timeout guards it, so a slow upload never reads as a slow origin.
async fn send(
    pool: &UpstreamPool,
    req: Request<UpstreamBody>,
    watch: Option<&BodyWatch>,
) -> Option<Result<Response<Incoming>, hyper_util::client::legacy::Error>> {
    let timeout = pool.response_timeout();
    let response = pool.client().request(req);
    let Some(watch) = watch else {
        // No body: the request is sent as soon as it is written.
        return tokio::time::timeout(timeout, response).await.ok();
    };
    tokio::pin!(response);
    loop {
        let deadline = match watch.finished_at() {
            Some(done) => done + timeout,
            None => tokio::time::Instant::now() + timeout,
        };
        match tokio::time::timeout_at(deadline, &mut response).await {
            Ok(result) => return Some(result),
            Err(_)
                if watch
                    .finished_at()
                    .is_none_or(|done| done + timeout > deadline) => {}
            Err(_) => return None,
        }
    }
}

fn upstream_uri(
    target: &str,
    authority: Option<&Authority>,
    pq: &PathAndQuery,
) -> Result<Uri, UpstreamFailure> {
    let authority = authority.cloned().ok_or_else(|| UpstreamFailure {
        code: Code::UpstreamError,
        what: format!("target `{target}` is not a valid host:port"),
    })?;
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(http::uri::Scheme::HTTP);
    parts.authority = Some(authority);
    parts.path_and_query = Some(pq.clone());
    Uri::from_parts(parts).map_err(|e| UpstreamFailure {
        code: Code::UpstreamError,
        what: format!("could not build the upstream URI for {target}: {e}"),
    })
}

/// The receipt words for a client whose body failed on its way to the origin.
pub(crate) fn client_fault_receipt(
    mut r: Receipt,
    fault: &ClientFault,
    max_body: Option<u64>,
) -> Receipt {
    match fault.code {
        Code::BodyTooLarge => crate::canonical::body_too_large(r, None, max_body.unwrap_or(0)),
        Code::BodyTimeout => {
            r.reason = fault.words.clone();
            r.remedy("Check your network connection, then send the request again; a slow or lossy link, or a proxy that holds the upload back, can cause this.")
        }
        _ => {
            r.reason = fault.words.clone();
            r.remedy("This is a fault in the program that sent the request (its HTTP library framed the body wrongly); update it or report it to its authors.")
                .remedy("If you are using a proxy or a VPN, try without it: it may have damaged the request.")
        }
    }
}

pub(crate) fn fill_upstream_receipt(
    r: &mut Receipt,
    rt: &Runtime,
    pool: &UpstreamPool,
    failure: &upstream::UpstreamFailure,
) {
    let name = &pool.spec.name;
    r.reason = match failure.code {
        Code::UpstreamRefused => format!(
            "The gateway could not reach the `{name}` service: the connection was refused. The service is probably down or restarting."
        ),
        Code::UpstreamTimeout => format!("The `{name}` service did not answer in time."),
        Code::UpstreamReset => {
            format!("The `{name}` service dropped the connection before answering.")
        }
        Code::UpstreamDown => format!(
            "The `{name}` service is down: none of its servers passed the gateway's recent health checks, so the request was not sent."
        ),
        _ => format!("The `{name}` service sent an answer the gateway could not use."),
    };
    if failure.code == Code::UpstreamDown {
        r.retry_after_s = Some(30);
    }
    r.facts.push(("upstream".into(), name.clone()));
    r.private_facts
        .push(("target".into(), failure.what.clone()));
    r.rule = Some(format!("upstream:{name}"));
    r.remedies.push("Try again in a minute: the problem is on the site's side, not yours; nothing on your device needs changing.".into());
    if let Some(url) = &rt.config.policy.site.status_page_url {
        r.remedies
            .push("Check the status page for a known outage.".into());
        r.links.push(("Status page".into(), url.clone()));
    }
}

/// `path?query` with the value of `param` replaced by `with` ("" drops the pair); `None` when the
/// parameter is absent.
pub(crate) fn without_query_param(pq: &str, param: &str, with: &str) -> Option<String> {
    let (path, query) = pq.split_once('?')?;
    let mut found = false;
    let pairs: Vec<String> = query
        .split('&')
        .filter_map(|p| {
            let name = p.split_once('=').map_or(p, |(k, _)| k);
            if name != param {
                return Some(p.to_owned());
            }
            found = true;
            (!with.is_empty()).then(|| format!("{name}={with}"))
        })
        .collect();
    if !found {
        return None;
    }
    Some(if pairs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", pairs.join("&"))
    })
}

#[cfg(test)]
mod tests {
    use super::without_query_param;

    #[test]
    fn key_parameters_are_redacted_or_dropped() {
        assert_eq!(
            without_query_param("/w?city=Oslo&api_key=dmn_x&u=1", "api_key", "REDACTED").as_deref(),
            Some("/w?city=Oslo&api_key=REDACTED&u=1")
        );
        assert_eq!(
            without_query_param("/w?api_key=dmn_x", "api_key", "").as_deref(),
            Some("/w")
        );
        assert_eq!(without_query_param("/w?city=Oslo", "api_key", ""), None);
        assert_eq!(without_query_param("/w", "api_key", ""), None);
    }
}
