//! One request's path through the gateway, as the phases of ARCHITECTURE.md "A request's path":
//!
//! ```text
//! canonical request → own endpoints → facts → decide → carry → record
//! ```
//! 1. **Canonical request** ([`crate::canonical`]): one host, one normalized path, no framing
//!    the origin could read another way; what cannot be made canonical gets its receipt here.
//! 2. **Own endpoints**: the status page (for everyone, before anything is known of the client),
//!    then the challenge answer, trace and whoami, which describe the client.
//! 3. **Facts**: the client's address (trusted proxies), credential, clearance and bot signals.
//! 4. **Decide**: `doorman_core::decide`, then the rate limiter for the counters it names.
//! 5. **Carry**: forward a permit ([`crate::forward`]) and stream the answer back, or put the
//!    receipt (or the challenge page) on the wire.
//! 6. **Record**: every receipt, log-mode match and origin failure goes to the event log, the
//!    metrics count the answer, and the access log gets its line ([`crate::access_log`]).
//!
//! Every response, proxied or made here, carries the Ray ID header.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use doorman_core::auth::AuthFacts;
use doorman_core::clearance::ClearanceFacts;
use doorman_core::decision::{MatchAction, RuleKind, RuleMatch, Verdict};
use doorman_core::intel::IpInfo;
use doorman_core::ratelimit::{LimitCheck, LimitOutcome, rule_for as rate_limit_rule_for};
use doorman_core::{
    Code, Decision, LogMode, PhaseName, RayId, Receipt, RequestFacts, Scheme, TlsFacts, TraceStep,
};
use doorman_store::{Action, EventContext, EventRecord};
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Request, Response, Version};
use hyper::body::Incoming;

use crate::access_log::{AccessEntry, Forwarded, PendingLine};
use crate::body::ProxyBody;
use crate::canonical::{Target, canonical_request, settle_upgrade};
use crate::counting::{CountingContext, count_response};
use crate::forward::{
    Failure, Outbound, UpstreamView, client_fault_receipt, fill_upstream_receipt, forward,
    without_query_param,
};
use crate::gateway::{Gateway, Runtime};
use crate::head_timeout::HeadSignal;
use crate::metrics::CodeLabels;
use crate::respond::receipt_response;

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
    let started = Instant::now();
    // Held across the handler: if hyper cancels it (the client reset the stream), the request
    // still ends for the connection's idle clock.
    let open = conn.head_signal.as_ref().map(|s| s.head_received());
    let http1 = req.version() < Version::HTTP_2;
    let rt = gw.runtime();
    let ray = RayId::new(rand::random(), rt.config.policy.node.clone());
    let now = SystemTime::now();
    // Taken before the request is consumed, and only when there is a log to write.
    let received = gw.access_log.as_ref().map(|_| Received::of(&req));
    let mut note = RequestNote {
        on: received.is_some(),
        ..RequestNote::default()
    };
    let (mut resp, route) = process(&gw, &rt, &conn, req, &ray, now, &mut note).await;
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
    // The response head is ready; a streamed body is not part of the duration.
    gw.metrics.note_request(&rt, &route, resp.status(), started);
    if let (Some(log), Some(received)) = (&gw.access_log, received)
        // Denials and the gateway's own answers are always logged; allowed requests sampled.
        && (note.code.is_some() || note.own || log.wants_allowed())
    {
        let entry = access_entry(&ray, now, &conn, note, received, &resp, started);
        resp = resp.map(|b| b.logging(PendingLine::new(gw.clone(), entry)));
    }
    Ok(resp)
}

/// What the access log needs of the request as it arrived.
struct Received {
    method: http::Method,
    version: Version,
    user_agent: Option<HeaderValue>,
    referer: Option<HeaderValue>,
    bytes_in: Option<u64>,
}

impl Received {
    fn of(req: &Request<Incoming>) -> Self {
        let headers = req.headers();
        Received {
            method: req.method().clone(),
            version: req.version(),
            user_agent: headers.get(header::USER_AGENT).cloned(),
            referer: headers.get(header::REFERER).cloned(),
            bytes_in: headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok()),
        }
    }
}

/// What the phases found out that the access log shows; filled only when `on`.
#[derive(Default)]
struct RequestNote {
    on: bool,
    /// As resolved through the trusted proxies.
    client_ip: Option<IpAddr>,
    host: Option<String>,
    /// Canonical, the API key parameter redacted.
    path: Option<String>,
    /// The receipt's code and rule, when the gateway answered with one.
    code: Option<Code>,
    rule: Option<String>,
    route: Option<String>,
    upstream: Option<String>,
    key_id: Option<String>,
    /// A page or endpoint of the gateway's own.
    own: bool,
}

impl RequestNote {
    fn receipt(&mut self, receipt: &Receipt) {
        if self.on {
            self.code = Some(receipt.code);
            self.rule.clone_from(&receipt.rule);
        }
    }
}

fn access_entry(
    ray: &RayId,
    now: SystemTime,
    conn: &ConnInfo,
    note: RequestNote,
    received: Received,
    resp: &Response<ProxyBody>,
    started: Instant,
) -> AccessEntry {
    let forwarded = resp.extensions().get::<Forwarded>();
    AccessEntry {
        time: now,
        ray: ray.clone(),
        client_ip: note.client_ip.unwrap_or(conn.peer_ip),
        method: received.method,
        host: note.host,
        path: note.path,
        status: resp.status().as_u16(),
        code: note.code,
        route: note.route,
        upstream: note.upstream,
        target: forwarded.map(|f| f.target.clone()),
        bytes_in: received.bytes_in,
        // Counted as the body is sent.
        bytes_out: None,
        duration: started.elapsed(),
        upstream_time: forwarded.map(|f| f.upstream_time),
        version: received.version,
        tls_version: conn.tls.as_ref().map(|t| t.version.clone()),
        ja4: conn.tls.as_ref().and_then(|t| t.ja4.clone()),
        user_agent: received.user_agent,
        key_id: note.key_id,
        rule: note.rule,
        referer: received.referer,
    }
}

/// The phases, in order. Returns the answer and the name of the route (or endpoint) for metrics.
async fn process(
    gw: &Arc<Gateway>,
    rt: &Runtime,
    conn: &ConnInfo,
    req: Request<Incoming>,
    ray: &RayId,
    now: SystemTime,
    note: &mut RequestNote,
) -> (Response<ProxyBody>, String) {
    let policy = &rt.config.policy;
    let (mut parts, body) = req.into_parts();
    let client_ip =
        doorman_core::client_ip::resolve(conn.peer_ip, &parts.headers, &policy.client_ip);
    note.client_ip = Some(client_ip);

    // 1. The canonical request.
    let websocket = settle_upgrade(&mut parts);
    let limits = &rt.config.server.limits;
    let target = match canonical_request(&parts, policy, limits) {
        Ok(target) => target,
        Err(refusal) => {
            let receipt = refusal.receipt(ray, now, client_ip, policy, &parts, limits);
            let summary = RequestSummary::received(&parts, rt);
            if note.on {
                note.host = Some(summary.host.text()).filter(|h| !h.is_empty());
                note.path = summary.path.as_ref().map(|p| p.as_str().to_owned());
                note.receipt(&receipt);
            }
            return (deny(gw, rt, receipt, &summary, None, &[]), "-".to_owned());
        }
    };
    let outbound = Outbound {
        path_and_query: target.forwarded_path(
            parts
                .uri
                .path_and_query()
                .unwrap_or(&PathAndQuery::from_static("/")),
            policy,
        ),
        host: target.host_header(parts.headers.get(header::HOST)),
        websocket,
    };
    if note.on {
        note.host = Some(target.authority.host.to_string()).filter(|h| !h.is_empty());
        let pq = match parts.uri.query() {
            Some(q) => format!("{}?{q}", target.path.path),
            None => target.path.path.to_string(),
        };
        note.path = Some(redacted_key_param(&pq, rt).unwrap_or(pq));
    }

    // 2. The public pages (status, error codes): for everyone, the blocked included, before any
    // security phase.
    if let Some((resp, page)) = public_page(gw, rt, &parts, &target).await {
        note.own = true;
        return (resp, page.to_owned());
    }

    // 3. Facts.
    // A credential is checked only when one was presented: the check is the one step here that
    // may wait (a JWKS fetch), and its future is large, so it is not built for every request.
    let auth = match crate::auth::find(&parts.headers, &parts.uri, &rt.config.server.auth) {
        Some(presented) => {
            crate::auth::check(Some(presented), Some(&gw.keys), rt.jwt.as_ref(), now).await
        }
        None => AuthFacts::None,
    };
    let client = client_facts(gw, rt, conn, &parts, client_ip, now, auth);
    if note.on {
        note.key_id = client.auth.identity().and_then(|i| i.key_id.clone());
    }
    let facts = RequestFacts {
        ray_id: ray,
        now,
        client_ip,
        peer_ip: conn.peer_ip,
        method: &parts.method,
        uri: &parts.uri,
        host: target.authority.host.clone(),
        path: target.path.path.clone(),
        path_problem: target.path.problem,
        headers: &parts.headers,
        version: parts.version,
        scheme: conn.scheme,
        tls: conn.tls.as_ref(),
        auth: &client.auth,
        clearance: &client.clearance,
        bot: client.bot.as_ref(),
    };

    // 2, continued: the endpoints that describe the client.
    if let Some(endpoint) = own_endpoint(rt, &facts) {
        let resp = match endpoint {
            OwnEndpoint::ChallengeAnswer => {
                crate::challenge::submit(
                    &gw.keyring.load(),
                    &rt.config.server.challenge,
                    &facts,
                    body,
                )
                .await
            }
            OwnEndpoint::Trace => crate::trace::answer(gw, rt, &facts).await,
            OwnEndpoint::Whoami => crate::whoami::answer(gw, rt, &facts).await,
        };
        note.own = true;
        return (resp, endpoint.name().to_owned());
    }

    // 4. Decide.
    let mut decision = doorman_core::decide(&facts, policy);
    if !decision.limits.is_empty() {
        apply_limits(gw, rt, &facts, &mut decision).await;
    }
    let summary = RequestSummary::of(&facts, outbound.host.as_ref(), rt);
    let route_name = decision
        .route
        .map_or_else(|| "-".to_owned(), |i| policy.routes[i].name.clone());
    gw.metrics.note_rule_matches(rt, &decision.matched);
    if note.on {
        note.route = decision.route.map(|i| policy.routes[i].name.clone());
        note.rule = allowed_by(policy, &decision.matched);
    }
    for entry in &decision.logged {
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
            &decision.trace,
            action,
        );
    }

    // 5. Carry, and 6. record what was refused or failed.
    let Decision {
        verdict,
        route,
        trace,
        limits: checks,
        response_headers,
        identity,
        strip_credentials,
        ..
    } = decision;
    let permit = match verdict {
        Verdict::Deny(receipt) => {
            note.receipt(&receipt);
            let resp = answer_denial(gw, rt, &facts, *receipt, &summary, &route_name, &trace);
            return (resp, route_name);
        }
        Verdict::Allow(permit) => permit,
    };
    // Counting expressions read the request as it was once the response is known.
    let counting = checks
        .iter()
        .any(|c| !c.spend)
        .then(|| CountingContext::of(&facts));
    drop(facts);
    let pool = &rt.pools[permit.upstream()];
    if note.on {
        note.upstream = Some(pool.spec.name.clone());
    }
    let view = UpstreamView {
        identity: identity.as_ref(),
        strip_credentials,
    };
    let resp = match forward(gw, rt, conn, parts, body, outbound, pool, ray, view).await {
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
                let route = route.map(|i| policy.routes[i].name.as_str());
                count_response(gw, rt, ray, now, &counting, &checks, route, &resp);
            }
            resp
        }
        Err(failure) => {
            let receipt = failure_receipt(rt, ray, now, client_ip, pool, &failure);
            note.receipt(&receipt);
            deny(gw, rt, receipt, &summary, Some(&route_name), &trace)
        }
    };
    (resp, route_name)
}

/// Where every gateway explains its error codes; a JSON receipt's `type` points here unless the
/// site names its own documentation (`[site] errors_url`).
const ERRORS_PATH: &str = "/.well-known/doorman/errors";

/// The gateway's public pages, for everyone, the blocked included: the status page and the page
/// of error codes.
async fn public_page(
    gw: &Gateway,
    rt: &Runtime,
    parts: &Parts,
    target: &Target<'_>,
) -> Option<(Response<ProxyBody>, &'static str)> {
    let path: &str = &target.path.path;
    if path == ERRORS_PATH && matches!(parts.method, http::Method::GET | http::Method::HEAD) {
        let mut resp = Response::new(crate::body::full(rt.errors_page.clone()));
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        h.insert(
            http::HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
        return Some((resp, "errors"));
    }
    let (settings, status) = (rt.config.server.status.as_ref()?, gw.status.as_ref()?);
    let resp = status.answer(settings, &parts.method, path).await?;
    Some((resp, "status"))
}

/// What the gateway finds out about the client beyond its address.
struct ClientFacts {
    auth: AuthFacts,
    clearance: ClearanceFacts,
    bot: Option<doorman_core::bot::BotFacts>,
}

/// With the checked credential, the clearance cookie and the bot signals: each only when
/// something reads it.
fn client_facts(
    gw: &Gateway,
    rt: &Runtime,
    conn: &ConnInfo,
    parts: &Parts,
    client_ip: IpAddr,
    now: SystemTime,
    auth: AuthFacts,
) -> ClientFacts {
    let bot = rt.wants_bot.then(|| {
        crate::bot::facts(
            &parts.method,
            parts.uri.path(),
            parts.version,
            &parts.headers,
            conn.scheme,
            conn.tls.as_ref(),
        )
    });
    let clearance = if rt.wants_clearance {
        crate::challenge::clearance(
            &gw.keyring.load(),
            &rt.config.server.challenge,
            &parts.headers,
            now,
            client_ip,
        )
    } else {
        ClearanceFacts::None
    };
    ClientFacts {
        auth,
        clearance,
        bot,
    }
}

/// The gateway's own endpoints that describe the client.
#[derive(Clone, Copy)]
enum OwnEndpoint {
    ChallengeAnswer,
    Trace,
    Whoami,
}

impl OwnEndpoint {
    fn name(self) -> &'static str {
        match self {
            OwnEndpoint::ChallengeAnswer => "challenge",
            OwnEndpoint::Trace => "trace",
            OwnEndpoint::Whoami => "whoami",
        }
    }
}

fn own_endpoint(rt: &Runtime, facts: &RequestFacts<'_>) -> Option<OwnEndpoint> {
    let server = &rt.config.server;
    let path = facts.path();
    if *facts.method == http::Method::POST && path == server.challenge.submit_path {
        Some(OwnEndpoint::ChallengeAnswer)
    } else if server.trace_path.as_deref() == Some(path) {
        Some(OwnEndpoint::Trace)
    } else if server.auth.whoami_path.as_deref() == Some(path) {
        Some(OwnEndpoint::Whoami)
    } else {
        None
    }
}

/// The rate limiter's answers for the counters a decision names, folded into the decision.
async fn apply_limits(
    gw: &Gateway,
    rt: &Runtime,
    facts: &RequestFacts<'_>,
    decision: &mut Decision,
) {
    let policy = &rt.config.policy;
    let outcomes = check_limits(gw, policy, &decision.limits, facts).await;
    doorman_core::pipeline::finish_limits(facts, policy, decision, &outcomes);
}

/// A denial on the wire: the challenge page for a browser asked to prove itself, the receipt
/// otherwise. Either way it is counted and recorded.
fn answer_denial(
    gw: &Gateway,
    rt: &Runtime,
    facts: &RequestFacts<'_>,
    receipt: Receipt,
    summary: &RequestSummary,
    route: &str,
    trace: &[TraceStep],
) -> Response<ProxyBody> {
    if receipt.code != Code::Challenge {
        return deny(gw, rt, receipt, summary, Some(route), trace);
    }
    count_decision(gw, receipt.code);
    record(
        gw,
        rt,
        &receipt,
        summary,
        Some(route),
        trace,
        Action::Challenge,
    );
    let (keyring, settings) = (gw.keyring.load(), &rt.config.server.challenge);
    if crate::challenge::wants_page(summary.accept()) {
        crate::challenge::page(
            &keyring,
            settings,
            facts,
            &rt.config.policy.site.name,
            &receipt,
            &rt.ray_header,
        )
    } else {
        crate::challenge::api_answer(
            &keyring,
            settings,
            facts,
            &receipt,
            summary.accept(),
            &rt.ray_header,
        )
    }
}

/// The receipt for a permitted request that got no response: the client's fault (its body) or
/// the origin's.
fn failure_receipt(
    rt: &Runtime,
    ray: &RayId,
    now: SystemTime,
    client_ip: IpAddr,
    pool: &crate::upstream::UpstreamPool,
    failure: &Failure,
) -> Receipt {
    match failure {
        Failure::Client(fault) => client_fault_receipt(
            bare_receipt(rt, ray, now, client_ip, fault.code),
            fault,
            rt.config.server.limits.max_body_bytes,
        ),
        Failure::Upstream(upstream) => {
            let mut receipt = bare_receipt(rt, ray, now, client_ip, upstream.code);
            fill_upstream_receipt(&mut receipt, rt, pool, upstream);
            receipt
        }
    }
}

/// The bits of a request an event needs after the request itself has been sent on.
struct RequestSummary {
    host: SummaryHost,
    // Reference-counted clones of the request's own bytes where it can: every forwarded request
    // takes a summary in case the origin fails.
    method: http::Method,
    path: Option<PathAndQuery>,
    user_agent: Option<HeaderValue>,
    accept: Option<HeaderValue>,
}

/// The host an event names.
enum SummaryHost {
    /// The canonical `host[:port]`; events name the host alone.
    Canonical(Option<HeaderValue>),
    /// A request refused before it had one: what it said.
    Received(String),
}

impl SummaryHost {
    fn text(&self) -> String {
        match self {
            SummaryHost::Received(text) => text.clone(),
            SummaryHost::Canonical(None) => String::new(),
            SummaryHost::Canonical(Some(v)) => {
                let text = String::from_utf8_lossy(v.as_bytes());
                let host = match text.strip_prefix('[') {
                    Some(v6) => v6.split(']').next().unwrap_or(v6),
                    None => text.split(':').next().unwrap_or(&text),
                };
                host.to_owned()
            }
        }
    }
}

impl RequestSummary {
    /// The canonical request: its host (the canonical `Host` the origin gets, a reference-counted
    /// clone) and normalized path. The query parameter that may carry an API key never reaches
    /// the event log.
    fn of(facts: &RequestFacts<'_>, host: Option<&HeaderValue>, rt: &Runtime) -> Self {
        let path = if facts.path() == facts.uri.path() {
            facts.uri.path_and_query().cloned()
        } else {
            PathAndQuery::try_from(facts.path_and_query().into_owned()).ok()
        };
        RequestSummary::new(
            facts.method,
            facts.headers,
            SummaryHost::Canonical(host.cloned()),
            path,
            rt,
        )
    }

    /// A request refused before it had a canonical form: what it said, as received.
    fn received(parts: &Parts, rt: &Runtime) -> Self {
        let host = parts
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| {
                parts
                    .headers
                    .get(header::HOST)
                    .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
            })
            .unwrap_or_default();
        RequestSummary::new(
            &parts.method,
            &parts.headers,
            SummaryHost::Received(host),
            parts.uri.path_and_query().cloned(),
            rt,
        )
    }

    fn new(
        method: &http::Method,
        headers: &http::HeaderMap,
        host: SummaryHost,
        mut path: Option<PathAndQuery>,
        rt: &Runtime,
    ) -> Self {
        if let Some(pq) = &path
            && let Some(clean) = redacted_key_param(pq.as_str(), rt)
        {
            path = PathAndQuery::try_from(clean).ok();
        }
        RequestSummary {
            host,
            method: method.clone(),
            path,
            user_agent: headers.get(header::USER_AGENT).cloned(),
            accept: headers.get(header::ACCEPT).cloned(),
        }
    }

    fn accept(&self) -> Option<&str> {
        self.accept.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The event's view of the request.
    fn context(&self, route: Option<&str>, action: Action, info: IpInfo) -> EventContext {
        EventContext {
            method: self.method.as_str().to_owned(),
            host: self.host.text(),
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

/// `path?query` with the value of the query parameter that may carry an API key replaced, as
/// the event log and the access log show it; `None` when there is nothing to redact.
fn redacted_key_param(pq: &str, rt: &Runtime) -> Option<String> {
    let param = rt.config.server.auth.key_query_param.as_ref()?;
    without_query_param(pq, param, "REDACTED")
}

/// The access or custom rule that let the request pass outright, if one did, named as receipts
/// name rules (`access:<id>`, `rule:<id>`).
fn allowed_by(policy: &doorman_core::Policy, matched: &[RuleMatch]) -> Option<String> {
    let m = matched
        .iter()
        .rev()
        .find(|m| m.action == MatchAction::Allow)?;
    match m.kind {
        RuleKind::AccessRule => {
            (policy.firewall.access_rules.get(m.index)).map(|r| format!("access:{}", r.id))
        }
        RuleKind::CustomRule => {
            (policy.firewall.rules.get(m.index)).map(|r| format!("rule:{}", r.id))
        }
        RuleKind::RateLimit => None,
    }
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

/// A receipt for a request that is already gone (sent upstream), so only its identity remains.
fn bare_receipt(
    rt: &Runtime,
    ray: &RayId,
    now: SystemTime,
    client_ip: IpAddr,
    code: Code,
) -> Receipt {
    let mut r = Receipt::new(ray.clone(), now, client_ip, code, PhaseName::Proxy);
    rt.config.policy.site.fill(&mut r, "");
    r
}

/// Records a receipt in the event log, with the client's network as intelligence sees it.
fn record(
    gw: &Gateway,
    rt: &Runtime,
    receipt: &Receipt,
    req: &RequestSummary,
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
    req: &RequestSummary,
    route: Option<&str>,
    trace: &[TraceStep],
) -> Response<ProxyBody> {
    count_decision(gw, receipt.code);
    let resp = receipt_response(&receipt, req.accept(), &rt.ray_header);
    let action = if receipt.code == Code::Challenge {
        Action::Challenge
    } else {
        Action::Deny
    };
    record(gw, rt, &receipt, req, route, trace, action);
    resp
}

fn count_decision(gw: &Gateway, code: Code) {
    gw.metrics
        .decisions
        .get_or_create(&CodeLabels {
            code: code.as_str(),
        })
        .inc();
}
