//! One request's path through the gateway, top to bottom:
//!
//! ```text
//! protocol limits (431, 413) → facts → core::decide → deny: receipt + event
//!                                                   → allow: forward → origin response streamed back
//!                                                                    → origin failure: receipt (502/504) + event
//! ```
//! Every response, proxied or made here, carries the Ray ID header; every receipt is recorded in
//! the event log.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use doorman_core::auth::{AuthFacts, Identity};
use doorman_core::client_ip;
use doorman_core::decision::Verdict;
use doorman_core::facts::request_host;
use doorman_core::intel::IpInfo;
use doorman_core::pipeline::receipt_for;
use doorman_core::ratelimit::{
    LimitCheck, LimitOutcome, ResponseFacts, counted_by_response, rule_for as rate_limit_rule_for,
};
use doorman_core::{
    Code, Decision, LogMode, PhaseName, RayId, Receipt, RequestFacts, Scheme, TlsFacts, TraceStep,
};
use doorman_store::{Action, EventContext, EventRecord};
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::body::{self, ProxyBody};
use crate::gateway::{Gateway, Runtime};
use crate::head_timeout::HeadSignal;
use crate::headers;
use crate::metrics::{CodeLabels, RequestLabels, UpstreamLabels};
use crate::respond::receipt_response;
use crate::upstream::{self, UpstreamPool};

/// What a connection knows about itself, shared by its requests.
pub struct ConnInfo {
    /// The socket peer, or the PROXY protocol source when that was accepted. Whether it is a
    /// trusted proxy is decided per request, since a reload can change the list.
    pub peer_ip: IpAddr,
    /// How the client connected.
    pub scheme: Scheme,
    pub tls: Option<TlsFacts>,
    pub head_signal: Option<HeadSignal>,
}

/// The hyper service function.
pub async fn handle(
    gw: Arc<Gateway>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    // Held across the handler: if hyper cancels it (the client reset the stream), the request
    // still ends for the connection's idle clock.
    let open = conn.head_signal.as_ref().map(|s| s.head_received());
    let http1 = req.version() < Version::HTTP_2;
    let rt = gw.runtime();
    let ray = RayId::new(rand::random(), rt.config.policy.node.clone());
    let now = SystemTime::now();
    let (mut resp, route) = process(&gw, &rt, &conn, req, &ray, now).await;
    if let Some(open) = open {
        // The connection's last request (`max_requests_per_connection`): HTTP/1 says so on the
        // response itself, which is the only way to say it before the response is sent.
        if open.is_last() && http1 && resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp = resp.map(|b| b.finishing(open));
    }
    if let Ok(v) = HeaderValue::from_str(&ray.to_string()) {
        resp.headers_mut().insert(rt.ray_header.clone(), v);
    }
    gw.metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: resp.status().as_u16(),
        })
        .inc();
    Ok(resp)
}

/// The bits of a request an event needs after the request itself has been consumed.
struct RequestSummary<'h> {
    host: &'h str,
    // Reference-counted clones of the request's own bytes: taking a summary allocates nothing,
    // which matters because every forwarded request takes one in case the origin fails.
    method: http::Method,
    path: Option<PathAndQuery>,
    user_agent: Option<HeaderValue>,
    accept: Option<HeaderValue>,
}

impl<'h> RequestSummary<'h> {
    /// `key_param` is the query parameter that may carry an API key: its value never reaches
    /// the event log.
    fn of(req: &Request<Incoming>, host: &'h str, key_param: Option<&str>) -> Self {
        let mut path = req.uri().path_and_query().cloned();
        if let (Some(param), Some(pq)) = (key_param, &path)
            && let Some(clean) = without_query_param(pq.as_str(), param, "REDACTED")
        {
            path = PathAndQuery::try_from(clean).ok();
        }
        RequestSummary {
            host,
            method: req.method().clone(),
            path,
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            accept: req.headers().get(header::ACCEPT).cloned(),
        }
    }

    fn accept(&self) -> Option<&str> {
        self.accept.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The event's view of the request.
    fn context(&self, route: Option<&str>, action: Action, info: IpInfo) -> EventContext {
        EventContext {
            method: self.method.as_str().to_owned(),
            host: self.host.to_owned(),
            path: self.path.as_ref().map_or("/", |p| p.as_str()).to_owned(),
            user_agent: self
                .user_agent
                .as_ref()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            route: route.map(str::to_owned),
            action,
            asn: info.asn,
            country: info.country,
        }
    }
}

async fn process(
    gw: &Arc<Gateway>,
    rt: &Runtime,
    conn: &ConnInfo,
    req: Request<Incoming>,
    ray: &RayId,
    now: SystemTime,
) -> (Response<ProxyBody>, String) {
    // The status page is for everyone, the blocked included: it is answered before any
    // security phase, from a snapshot shared by all visitors.
    if let (Some(settings), Some(status)) = (&rt.config.server.status, &gw.status)
        && let Some(resp) = status
            .answer(settings, req.method(), req.uri().path())
            .await
    {
        return (resp, "status".to_owned());
    }
    let policy = &rt.config.policy;
    let client_ip = client_ip::resolve(conn.peer_ip, req.headers(), &policy.client_ip);
    let host = request_host(req.uri(), req.headers()).into_owned();
    let auth_settings = &rt.config.server.auth;
    let presented = crate::auth::find(req.headers(), req.uri(), auth_settings);
    let auth_facts = if presented.is_some() {
        crate::auth::check(presented, Some(&gw.keys), rt.jwt.as_ref(), now).await
    } else {
        AuthFacts::None
    };
    let bot_facts = rt.wants_bot.then(|| {
        crate::bot::facts(
            req.method(),
            req.uri().path(),
            req.version(),
            req.headers(),
            conn.scheme,
            conn.tls.as_ref(),
        )
    });
    let challenge_settings = &rt.config.server.challenge;
    let clearance_facts = if rt.wants_clearance {
        crate::challenge::clearance(
            &gw.keyring.load(),
            challenge_settings,
            req.headers(),
            now,
            client_ip,
        )
    } else {
        doorman_core::clearance::ClearanceFacts::None
    };
    if req.method() == http::Method::POST && req.uri().path() == challenge_settings.submit_path {
        let (parts, body) = req.into_parts();
        let facts = RequestFacts {
            ray_id: ray,
            now,
            client_ip,
            peer_ip: conn.peer_ip,
            method: &parts.method,
            uri: &parts.uri,
            host: host.as_str().into(),
            headers: &parts.headers,
            version: parts.version,
            scheme: conn.scheme,
            tls: conn.tls.as_ref(),
            auth: &auth_facts,
            clearance: &clearance_facts,
            bot: bot_facts.as_ref(),
        };
        let resp =
            crate::challenge::submit(&gw.keyring.load(), challenge_settings, &facts, body).await;
        return (resp, "challenge".to_owned());
    }
    let facts = RequestFacts {
        ray_id: ray,
        now,
        client_ip,
        peer_ip: conn.peer_ip,
        method: req.method(),
        uri: req.uri(),
        host: host.as_str().into(),
        headers: req.headers(),
        version: req.version(),
        scheme: conn.scheme,
        tls: conn.tls.as_ref(),
        auth: &auth_facts,
        clearance: &clearance_facts,
        bot: bot_facts.as_ref(),
    };

    let summary = RequestSummary::of(&req, &host, auth_settings.key_query_param.as_deref());
    if rt
        .config
        .server
        .trace_path
        .as_deref()
        .is_some_and(|p| p == facts.path())
    {
        return (
            crate::trace::answer(gw, rt, &facts).await,
            "trace".to_owned(),
        );
    }
    if auth_settings
        .whoami_path
        .as_deref()
        .is_some_and(|p| p == facts.path())
    {
        return (
            crate::whoami::answer(gw, rt, &facts).await,
            "whoami".to_owned(),
        );
    }
    if let Some(receipt) = protocol_limits(&facts, rt) {
        return (deny(gw, rt, receipt, &summary, None, &[]), "-".to_owned());
    }

    let mut decision = doorman_core::decide(&facts, policy);
    if !decision.limits.is_empty() {
        let limit_outcomes = check_limits(gw, policy, &decision.limits, &facts).await;
        doorman_core::pipeline::finish_limits(&facts, policy, &mut decision, &limit_outcomes);
    }
    // Counting expressions need the request as it was once the response is known.
    let counting = if decision.limits.iter().any(|c| !c.spend)
        && matches!(decision.verdict, Verdict::Allow(_))
    {
        Some(CountingContext::of(
            &req,
            conn,
            client_ip,
            host.clone(),
            auth_facts.clone(),
        ))
    } else {
        None
    };
    let Decision {
        verdict,
        route,
        trace,
        logged,
        limits,
        response_headers,
        identity,
        strip_credentials,
    } = decision;
    let route_name = route.map_or_else(|| "-".to_owned(), |i| policy.routes[i].name.clone());
    for entry in &logged {
        let action = match entry.mode {
            LogMode::Log => Action::Log,
            LogMode::Shadow => Action::Shadow,
        };
        record(
            gw,
            rt,
            &entry.receipt,
            &summary,
            Some(&route_name),
            &trace,
            action,
        );
    }
    let resp = match verdict {
        Verdict::Deny(receipt)
            if receipt.code == Code::Challenge
                && crate::challenge::wants_page(summary.accept()) =>
        {
            gw.metrics
                .decisions
                .get_or_create(&CodeLabels {
                    code: receipt.code.as_str(),
                })
                .inc();
            record(
                gw,
                rt,
                &receipt,
                &summary,
                Some(&route_name),
                &trace,
                Action::Challenge,
            );
            crate::challenge::page(
                &gw.keyring.load(),
                challenge_settings,
                &facts,
                &policy.site.name,
                &receipt,
                &rt.ray_header,
            )
        }
        Verdict::Deny(receipt) => deny(gw, rt, *receipt, &summary, Some(&route_name), &trace),
        Verdict::Allow(permit) => {
            let pool = &rt.pools[permit.upstream()];
            let upstream_view = UpstreamView {
                identity: identity.as_ref(),
                strip_credentials,
            };
            match forward(gw, rt, conn, req, pool, ray, upstream_view).await {
                Ok(mut resp) => {
                    for (name, value) in &response_headers {
                        if let (Ok(n), Ok(v)) = (
                            http::HeaderName::from_bytes(name.as_bytes()),
                            HeaderValue::from_str(value),
                        ) {
                            resp.headers_mut().insert(n, v);
                        }
                    }
                    if let Some(counting) = counting {
                        count_response(
                            gw,
                            rt,
                            ray,
                            now,
                            &counting,
                            &limits,
                            route.map(|i| policy.routes[i].name.as_str()),
                            &resp,
                        );
                    }
                    resp
                }
                Err(failure) => {
                    let mut receipt = bare_receipt(rt, ray, now, client_ip, failure.code);
                    if failure.code == Code::BodyTooLarge {
                        let max = rt.config.server.limits.max_body_bytes.unwrap_or(0);
                        receipt = body_too_large(receipt, None, max);
                    } else {
                        fill_upstream_receipt(&mut receipt, rt, pool, &failure);
                    }
                    deny(gw, rt, receipt, &summary, Some(&route_name), &trace)
                }
            }
        }
    };
    (resp, route_name)
}

/// Asks the limiter about each of the decision's counters, in order, noting bans as they start.
async fn check_limits(
    gw: &Gateway,
    policy: &doorman_core::Policy,
    checks: &[LimitCheck],
    facts: &RequestFacts<'_>,
) -> Vec<LimitOutcome> {
    let mut outcomes = Vec::with_capacity(checks.len());
    for check in checks {
        let Some(rule) = rate_limit_rule_for(policy, check, facts.auth) else {
            outcomes.push(LimitOutcome::Checked {
                allowed: true,
                remaining: 0,
                reset_after_ms: 0,
                retry_after_ms: None,
                blocked: false,
            });
            continue;
        };
        let cost = u32::from(check.spend);
        let outcome = gw
            .limiter
            .check(&rule, check.key.hash, facts.now, cost)
            .await;
        gw.metrics.note_limit(&rule.id, &outcome);
        if let LimitOutcome::Checked {
            blocked: true,
            retry_after_ms: Some(wait),
            ..
        } = outcome
        {
            gw.limiter
                .note_ban(check, facts.now, wait, &facts.ray_id.to_string());
        }
        let over = match outcome {
            LimitOutcome::Checked {
                allowed, remaining, ..
            } => !allowed || (!check.spend && remaining == 0),
            LimitOutcome::Unavailable => true,
        };
        outcomes.push(outcome);
        // The first enforced excess decides; later counters are not spent for a denied request.
        if over && rule.action != doorman_core::ratelimit::LimitAction::Log {
            break;
        }
    }
    outcomes
}

/// What a counting expression may read after the request itself has been sent upstream.
struct CountingContext {
    method: http::Method,
    uri: Uri,
    headers: http::HeaderMap,
    version: Version,
    scheme: Scheme,
    client_ip: IpAddr,
    peer_ip: IpAddr,
    host: String,
    auth: AuthFacts,
}

impl CountingContext {
    fn of(
        req: &Request<Incoming>,
        conn: &ConnInfo,
        client_ip: IpAddr,
        host: String,
        auth: AuthFacts,
    ) -> Self {
        CountingContext {
            method: req.method().clone(),
            uri: req.uri().clone(),
            headers: req.headers().clone(),
            version: req.version(),
            scheme: conn.scheme,
            peer_ip: conn.peer_ip,
            client_ip,
            host,
            auth,
        }
    }
}

/// Evaluates the counting expressions against the origin's response and spends the units off
/// the response path. Only origin responses come here: the gateway's own denials never count.
#[allow(clippy::too_many_arguments)]
fn count_response(
    gw: &Arc<Gateway>,
    rt: &Runtime,
    ray: &RayId,
    now: SystemTime,
    counting: &CountingContext,
    checks: &[LimitCheck],
    route: Option<&str>,
    resp: &Response<ProxyBody>,
) {
    let policy = &rt.config.policy;
    let facts = RequestFacts {
        ray_id: ray,
        now,
        client_ip: counting.client_ip,
        peer_ip: counting.peer_ip,
        method: &counting.method,
        uri: &counting.uri,
        host: counting.host.as_str().into(),
        headers: &counting.headers,
        version: counting.version,
        scheme: counting.scheme,
        tls: None,
        auth: &counting.auth,
        clearance: &doorman_core::clearance::NO_CLEARANCE,
        bot: None,
    };
    let response = ResponseFacts {
        status: resp.status().as_u16(),
        headers: resp.headers(),
    };
    let counted = counted_by_response(&facts, policy, route, checks, &response);
    if counted.is_empty() {
        return;
    }
    let gw = gw.clone();
    let rt = gw.runtime();
    let checks: Vec<LimitCheck> = counted.into_iter().map(|i| checks[i].clone()).collect();
    let ray_id = ray.clone();
    let ray = ray.to_string();
    let client_ip = counting.client_ip;
    let context = EventContext {
        method: counting.method.as_str().to_owned(),
        host: counting.host.clone(),
        // The path only: a query string may carry a credential.
        path: counting.uri.path().to_owned(),
        user_agent: counting
            .headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        route: route.map(str::to_owned),
        action: Action::Log,
        asn: None,
        country: None,
    };
    tokio::spawn(async move {
        for check in checks {
            let Some(rule) = rt.config.policy.rate_limits.get(check.rule) else {
                continue;
            };
            let when = SystemTime::now();
            let mut outcome = gw.limiter.check(rule, check.key.hash, when, 1).await;
            // The unit that reaches the limit starts the ban: a failed-login limit of 5 bans
            // on the fifth failure, not on a sixth attempt it would never let through.
            if let LimitOutcome::Checked {
                allowed: true,
                remaining: 0,
                ..
            } = outcome
                && !rule.mitigation_timeout.is_zero()
            {
                outcome = gw.limiter.check(rule, check.key.hash, when, 1).await;
            }
            gw.metrics.note_limit(&rule.id, &outcome);
            if let LimitOutcome::Checked {
                blocked: true,
                retry_after_ms: Some(wait),
                ..
            } = outcome
            {
                gw.limiter.note_ban(&check, when, wait, &ray);
                tracing::info!(target: "doorman::rate_limit", rule = %rule.id, key = %check.key.shown, "temporary ban for {} {} (counted responses)", check.key.kind, check.key.shown);
                // The ban's start is an event of its own (`doorman events --code 1012`): the
                // response that completed the count passed, so nothing else records it.
                let until = when + std::time::Duration::from_millis(wait);
                let mut receipt = Receipt::new(
                    ray_id.clone(),
                    when,
                    client_ip,
                    Code::TemporaryBan,
                    PhaseName::RateLimit,
                )
                .reason(format!(
                    "Temporary ban started for {} {}: this response completed {} counted responses of `{}` ({}). Requests are refused until {}.",
                    check.key.kind,
                    check.key.shown,
                    rule.requests_per_period,
                    rule.id,
                    rule.quota_words(),
                    doorman_core::timefmt::human_utc(until)
                ))
                .rule(format!("rate_limit:{}", rule.id))
                .fact("counted per", format!("{} {}", check.key.kind, check.key.shown))
                .fact("blocked until", doorman_core::timefmt::human_utc(until));
                receipt
                    .private_facts
                    .push(("key hash".into(), format!("{:016x}", check.key.hash)));
                let info = rt.config.policy.firewall.intel.lookup(client_ip);
                let mut context = context.clone();
                context.asn = info.asn;
                context.country = info.country;
                gw.events
                    .record(EventRecord::from_receipt(&receipt, context, &[]));
            }
        }
    });
}

/// A receipt for a request that is already gone (sent upstream), so only its identity remains.
fn bare_receipt(
    rt: &Runtime,
    ray: &RayId,
    now: SystemTime,
    client_ip: IpAddr,
    code: Code,
) -> Receipt {
    let mut r = Receipt::new(ray.clone(), now, client_ip, code, PhaseName::Proxy);
    r.support = rt.config.policy.site.support.clone();
    r
}

/// Header size and count (431) and a declared body size over the cap (413), checked before any
/// policy so that oversized requests never reach rule evaluation.
fn protocol_limits(facts: &RequestFacts<'_>, rt: &Runtime) -> Option<Receipt> {
    let limits = &rt.config.server.limits;
    let policy = &rt.config.policy;
    let count = facts.headers.len();
    let size = headers::head_size(facts.headers);
    if count > limits.max_headers || size > limits.max_header_bytes {
        let (largest_name, largest_len) = facts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), k.as_str().len() + v.len()))
            .max_by_key(|(_, n)| *n)
            .unwrap_or(("", 0));
        let mut r = receipt_for(facts, policy, Code::HeadersTooLarge, PhaseName::Proxy)
            .reason(if count > limits.max_headers {
                format!("The request carried {count} headers; this site accepts at most {}.", limits.max_headers)
            } else {
                format!(
                    "The request's headers add up to {size} bytes; this site accepts at most {} bytes. The largest is `{largest_name}` ({largest_len} bytes).",
                    limits.max_header_bytes
                )
            })
            .fact("header count", count.to_string())
            .fact("header bytes", size.to_string())
            .fact("largest header", format!("{largest_name} ({largest_len} bytes)"));
        if largest_name == "cookie" {
            r = r.remedy("Clear this site's cookies (your browser's site settings → clear data), then reload.");
        } else {
            r = r.remedy(format!(
                "Send a smaller `{largest_name}` header, or fewer headers."
            ));
        }
        return Some(r.remedy(
            "If a browser extension adds headers, try a private window without extensions.",
        ));
    }
    if let Some(max_body) = limits.max_body_bytes {
        let declared = facts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = declared.filter(|&len| len > max_body) {
            return Some(body_too_large(
                receipt_for(facts, policy, Code::BodyTooLarge, PhaseName::Proxy),
                Some(len),
                max_body,
            ));
        }
    }
    None
}

fn body_too_large(r: Receipt, declared: Option<u64>, max: u64) -> Receipt {
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

/// Records a receipt in the event log, with the client's network as intelligence sees it.
fn record(
    gw: &Gateway,
    rt: &Runtime,
    receipt: &Receipt,
    req: &RequestSummary<'_>,
    route: Option<&str>,
    trace: &[TraceStep],
    action: Action,
) {
    let info = rt.config.policy.firewall.intel.lookup(receipt.client_ip);
    let context = req.context(route, action, info);
    gw.events
        .record(EventRecord::from_receipt(receipt, context, trace));
}

/// Answers with a receipt, counts it, and records it.
fn deny(
    gw: &Gateway,
    rt: &Runtime,
    receipt: Receipt,
    req: &RequestSummary<'_>,
    route: Option<&str>,
    trace: &[TraceStep],
) -> Response<ProxyBody> {
    gw.metrics
        .decisions
        .get_or_create(&CodeLabels {
            code: receipt.code.as_str(),
        })
        .inc();
    let resp = receipt_response(&receipt, req.accept(), &rt.ray_header);
    let action = if receipt.code == Code::Challenge {
        Action::Challenge
    } else {
        Action::Deny
    };
    record(gw, rt, &receipt, req, route, trace, action);
    resp
}

fn fill_upstream_receipt(
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
fn without_query_param(pq: &str, param: &str, with: &str) -> Option<String> {
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

/// What the upstream is told about the client's credential.
struct UpstreamView<'d> {
    identity: Option<&'d Identity>,
    strip_credentials: bool,
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
async fn forward(
    gw: &Gateway,
    rt: &Runtime,
    conn: &ConnInfo,
    req: Request<Incoming>,
    pool: &UpstreamPool,
    ray: &RayId,
    view: UpstreamView<'_>,
) -> Result<Response<ProxyBody>, upstream::UpstreamFailure> {
    let Some((target, authority)) = pool.pick_healthy() else {
        return Err(upstream::UpstreamFailure {
            code: Code::UpstreamDown,
            what: pool.last_failure().map_or_else(
                || "every target failed its health checks".to_owned(),
                |(at, why)| {
                    format!(
                        "every target failed its health checks; last: {why} at {}",
                        doorman_core::timefmt::human_utc(at)
                    )
                },
            ),
        });
    };
    let (mut parts, body) = req.into_parts();
    let upgrade = parts.version == Version::HTTP_11 && headers::is_upgrade_request(&parts.headers);
    let client_upgrade = if upgrade {
        parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
    } else {
        None
    };

    // HTTP/2 requests carry the host in :authority; the origin speaks HTTP/1.1 and needs Host.
    let original_host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    headers::strip_hop_by_hop(&mut parts.headers, upgrade);
    set_identity(&mut parts.headers, rt, &view);
    // The origin gets our Ray ID, never one the client made up.
    parts.headers.remove(&rt.ray_header);
    if let Ok(v) = HeaderValue::from_str(&ray.to_string()) {
        parts.headers.insert(rt.ray_header.clone(), v);
    }
    let peer_trusted =
        client_ip::is_trusted(conn.peer_ip, &rt.config.policy.client_ip.trusted_proxies);
    headers::set_forwarding(
        &mut parts.headers,
        rt.forwarding,
        conn.peer_ip,
        peer_trusted,
        conn.scheme.as_str(),
        original_host.clone(),
    );
    if let Some(host) = original_host {
        parts.headers.insert(header::HOST, host);
    }
    let mut pq = parts.uri.path_and_query().cloned();
    if view.strip_credentials
        && let (Some(param), Some(current)) = (&rt.config.server.auth.key_query_param, &pq)
        && let Some(clean) = without_query_param(current.as_str(), param, "")
    {
        pq = PathAndQuery::try_from(clean).ok();
    }
    parts.uri = upstream_uri(target, authority, pq.as_ref())?;
    parts.version = Version::HTTP_11;

    // A request without a body can be sent again as it was: when a target refuses the
    // connection (it died since its last health check), the next healthy one gets it, so a
    // stopped server costs no failed request even before the checks notice. Only an upstream
    // with another target to try pays for keeping the copy.
    let resend =
        (pool.spec.targets.len() > 1 && !upgrade && hyper::body::Body::is_end_stream(&body))
            .then(|| (parts.method.clone(), parts.headers.clone()));
    let limit = rt.config.server.limits.max_body_bytes;
    let mut up_req = Request::from_parts(parts, upstream::limited_body(body, limit));
    let mut target = target;
    // Empty, so without a retry nothing is allocated.
    let mut tried: Vec<&str> = Vec::new();
    let started = Instant::now();
    let sent = loop {
        let sent =
            tokio::time::timeout(pool.response_timeout(), pool.client().request(up_req)).await;
        let Ok(Err(e)) = &sent else { break sent };
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
        *again.uri_mut() = upstream_uri(next, next_authority, pq.as_ref())?;
        up_req = again;
        target = next;
    };
    let mut resp = match sent {
        Err(_elapsed) => {
            return Err(upstream::UpstreamFailure {
                code: Code::UpstreamTimeout,
                what: format!(
                    "{target} sent no response head within {} ms (response_timeout_ms)",
                    pool.response_timeout().as_millis()
                ),
            });
        }
        Ok(Err(e)) => {
            if upstream::is_body_too_large(&e) {
                return Err(upstream::UpstreamFailure {
                    code: Code::BodyTooLarge,
                    what: format!("request body over {} bytes", limit.unwrap_or(0)),
                });
            }
            return Err(upstream::classify(&e, target));
        }
        Ok(Ok(resp)) => resp,
    };
    gw.metrics
        .upstream_latency
        .get_or_create(&UpstreamLabels {
            upstream: pool.spec.name.clone(),
        })
        .observe(started.elapsed().as_secs_f64());

    let switching = resp.status() == http::StatusCode::SWITCHING_PROTOCOLS;
    headers::strip_hop_by_hop(resp.headers_mut(), switching && client_upgrade.is_some());
    if switching && let Some(client_side) = client_upgrade {
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
    }
    Ok(resp.map(body::streamed))
}

fn upstream_uri(
    target: &str,
    authority: Option<&Authority>,
    pq: Option<&PathAndQuery>,
) -> Result<Uri, upstream::UpstreamFailure> {
    let authority = authority
        .cloned()
        .ok_or_else(|| upstream::UpstreamFailure {
            code: Code::UpstreamError,
            what: format!("target `{target}` is not a valid host:port"),
        })?;
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(http::uri::Scheme::HTTP);
    parts.authority = Some(authority);
    parts.path_and_query = Some(
        pq.cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
    );
    Uri::from_parts(parts).map_err(|e| upstream::UpstreamFailure {
        code: Code::UpstreamError,
        what: format!("could not build the upstream URI for {target}: {e}"),
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
