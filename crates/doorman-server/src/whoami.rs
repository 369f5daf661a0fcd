//! `GET /.well-known/doorman/whoami`: what the gateway sees of the caller's credential — key id
//! and name or token subject, scopes, expiry, why it is refused if it is — and, for a path
//! (`?path=/plugins/weather`, default `/`), which route would take the request, whether the
//! credential satisfies it, and the rate limits that would count it with what is left.
//!
//! The self-served version of "verify your API key". It runs the same decision code as real
//! traffic (a what-if request to `path`), looks at rate limit counters without spending them, and
//! never echoes a secret: keys appear in their display form only.

use bytes::Bytes;
use doorman_common::when;
use doorman_core::auth::AuthFacts;
use doorman_core::canonical::normalize_path;
use doorman_core::ratelimit::LimitOutcome;
use doorman_core::{Decision, RequestFacts, Verdict};
use http::{Response, StatusCode, Uri, header};
use serde_json::{Value, json};

use crate::body::ProxyBody;
use crate::gateway::{Gateway, Runtime};

/// The whoami answer for this request.
pub async fn answer(gw: &Gateway, rt: &Runtime, facts: &RequestFacts<'_>) -> Response<ProxyBody> {
    let policy = &rt.config.policy;
    let asked = asked_path(facts);
    let credential = match facts.auth {
        AuthFacts::None => json!({
            "presented": false,
            "hint": "send your API key as `Authorization: Bearer <key>` to see what this gateway makes of it",
        }),
        AuthFacts::Verified(i) => json!({
            "presented": true,
            "valid": true,
            "method": i.method.spec(),
            "key_id": i.key_id,
            "name": i.name,
            "display": i.display,
            "subject": i.subject,
            "scopes": i.scopes,
            "expires_at": i.expires_at.map(|t| when::rfc3339(when::unix_ms(t))),
        }),
        AuthFacts::Rejected(f) => json!({
            "presented": true,
            "valid": false,
            "code": f.code.as_str(),
            "reason": f.reason,
            "remedy": f.remedy,
        }),
    };

    // The same decision a request to `asked` would get (counters only looked at).
    let (
        Decision {
            verdict,
            route,
            limits,
            ..
        },
        outcomes,
    ) = what_if(gw, facts, policy, &asked).await;
    let mut rate_limits = Vec::new();
    for (check, outcome) in limits.iter().zip(&outcomes) {
        let Some(rule) = doorman_core::ratelimit::rule_for(policy, check, facts.auth) else {
            continue;
        };
        let state = match *outcome {
            LimitOutcome::Checked {
                remaining,
                reset_after_ms,
                blocked,
                allowed,
                ..
            } => json!({
                "remaining": remaining,
                "full_again_in_s": reset_after_ms.div_ceil(1000),
                "blocked": blocked || !allowed,
            }),
            LimitOutcome::Unavailable => json!({ "unavailable": true }),
        };
        rate_limits.push(json!({
            "id": rule.id,
            "limit": rule.quota_words(),
            "counted_per": format!("{} {}", check.key.kind, check.key.shown),
            "state": state,
        }));
    }
    let route_json = route.map(|i| {
        let r = &policy.routes[i];
        let requires = r.access.auth.as_ref().map(|a| {
            json!({
                "methods": a.methods.iter().map(|m| m.spec()).collect::<Vec<_>>(),
                "scopes": a.scopes,
            })
        });
        json!({ "name": r.name, "requires": requires })
    });
    let decision = match &verdict {
        Verdict::Allow(_) => json!({ "allowed": true }),
        Verdict::Deny(r) => json!({
            "allowed": false,
            "code": r.code.as_str(),
            "reason": doorman_core::render::public_reason(r),
        }),
    };
    let body: Value = json!({
        "ray_id": facts.ray_id.to_string(),
        "server_time": when::rfc3339(when::unix_ms(facts.now)),
        "client_ip": facts.client_ip.to_string(),
        "credential": credential,
        "path": asked,
        "route": route_json,
        "decision": decision,
        "rate_limits": rate_limits,
    });
    let mut resp = Response::new(crate::body::full(Bytes::from(
        serde_json::to_string_pretty(&body).unwrap_or_default() + "\n",
    )));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// The `?path=` a diagnostic request asks about (default `/`).
pub(crate) fn asked_path(facts: &RequestFacts<'_>) -> String {
    facts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("path="))
        .map(crate::headers::percent_decode)
        .filter(|p| p.starts_with('/'))
        .unwrap_or_else(|| "/".to_owned())
}

/// The decision a GET of `path` with this request's client, headers and credential would get,
/// rate limits and authorization included, and what each rate limit's counter says. Counters
/// are only looked at, never spent.
pub(crate) async fn what_if(
    gw: &Gateway,
    facts: &RequestFacts<'_>,
    policy: &doorman_core::Policy,
    path: &str,
) -> (Decision, Vec<LimitOutcome>) {
    let uri: Uri = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
    let normal = normalize_path(uri.path(), policy.paths.normalization);
    let what_if = RequestFacts {
        ray_id: facts.ray_id,
        now: facts.now,
        client_ip: facts.client_ip,
        peer_ip: facts.peer_ip,
        method: facts.method,
        uri: &uri,
        host: facts.host.clone(),
        path: normal.path,
        path_problem: normal.problem,
        headers: facts.headers,
        version: facts.version,
        scheme: facts.scheme,
        tls: facts.tls,
        auth: facts.auth,
        clearance: facts.clearance,
        bot: facts.bot,
    };
    let mut decision = doorman_core::decide(&what_if, policy);
    let mut outcomes = Vec::with_capacity(decision.limits.len());
    for check in &decision.limits {
        let Some(rule) = doorman_core::ratelimit::rule_for(policy, check, facts.auth) else {
            continue;
        };
        let mut outcome = gw.limiter.check(&rule, check.key.hash, facts.now, 0).await;
        // A look costs nothing, so it always "passes"; the request asked about would spend a
        // unit, which no longer exists when none is left.
        if let LimitOutcome::Checked {
            allowed: allowed @ true,
            remaining: 0,
            reset_after_ms,
            retry_after_ms,
            ..
        } = &mut outcome
            && check.spend
        {
            *allowed = false;
            *retry_after_ms = Some(*reset_after_ms);
        }
        outcomes.push(outcome);
    }
    if !decision.limits.is_empty() {
        doorman_core::pipeline::finish_limits(&what_if, policy, &mut decision, &outcomes);
    }
    (decision, outcomes)
}
