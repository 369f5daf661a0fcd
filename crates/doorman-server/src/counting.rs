//! Counting expressions: after the origin's response, the rate limits whose
//! `counting_expression` matches it spend a unit, off the response path. Only origin responses
//! come here, so the gateway's own 401/403/429 never feed a ban; the unit that reaches a limit
//! with a mitigation timeout starts the ban, which is recorded as an event of its own.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use doorman_core::auth::AuthFacts;
use doorman_core::ratelimit::{LimitCheck, LimitOutcome, ResponseFacts, counted_by_response};
use doorman_core::{Code, PhaseName, RayId, Receipt, RequestFacts, Scheme};
use doorman_store::{Action, EventContext, EventRecord};
use http::header;
use http::{Response, Uri, Version};

use crate::body::ProxyBody;
use crate::gateway::{Gateway, Runtime};

/// What a counting expression may read after the request itself has been sent upstream.
pub(crate) struct CountingContext {
    method: http::Method,
    uri: Uri,
    path: String,
    headers: http::HeaderMap,
    version: Version,
    scheme: Scheme,
    client_ip: IpAddr,
    peer_ip: IpAddr,
    host: String,
    auth: AuthFacts,
}

impl CountingContext {
    /// Copies what the counting expressions may read of a request about to be forwarded.
    pub(crate) fn of(facts: &RequestFacts<'_>) -> Self {
        CountingContext {
            method: facts.method.clone(),
            uri: facts.uri.clone(),
            path: facts.path().to_owned(),
            headers: facts.headers.clone(),
            version: facts.version,
            scheme: facts.scheme,
            peer_ip: facts.peer_ip,
            client_ip: facts.client_ip,
            host: facts.host.clone().into_owned(),
            auth: facts.auth.clone(),
        }
    }
}

/// Evaluates the counting expressions against the origin's response and spends the units off
/// the response path. Only origin responses come here: the gateway's own denials never count.
#[allow(clippy::too_many_arguments)]
pub(crate) fn count_response(
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
        path: counting.path.as_str().into(),
        // The request passed, so its path was normal or passed raw by its route.
        path_problem: None,
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
        path: counting.path.clone(),
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
                    doorman_common::when::human_utc(doorman_common::when::unix_ms(until))
                ))
                .rule(format!("rate_limit:{}", rule.id))
                .fact("counted per", format!("{} {}", check.key.kind, check.key.shown))
                .fact("blocked until", doorman_common::when::human_utc(doorman_common::when::unix_ms(until)));
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
