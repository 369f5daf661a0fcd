//! Challenges on the wire: reading the clearance cookie into the core's facts, showing the
//! proof-of-work page to browsers (API clients get the JSON receipt instead), and taking the
//! page's answer at the submit path in exchange for the clearance cookie.
//!
//! Everything stateful is signed into the cookie and the challenge token (crate
//! `doorman-challenge`), so any gateway holding the same key file accepts a clearance another
//! one issued, and nothing is stored per visitor.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use doorman_challenge::{Gate, Keyring, Level, PageInput, RequestContext, Submission};
use doorman_config::ChallengeServer;
use doorman_core::clearance::ClearanceFacts;
use doorman_core::{Receipt, RequestFacts};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::body::ProxyBody;

/// A submitted answer is a few hundred bytes; anything much larger is not one.
const MAX_SUBMISSION_BYTES: usize = 8 * 1024;

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn context<'a>(facts: &'a RequestFacts<'_>) -> RequestContext<'a> {
    RequestContext {
        now: unix_secs(facts.now),
        client_ip: facts.client_ip,
        user_agent: facts.header("user-agent"),
    }
}

/// What the request's clearance cookie (if any) is worth.
pub fn clearance(
    keyring: &Keyring,
    settings: &ChallengeServer,
    headers: &HeaderMap,
    now: SystemTime,
    client_ip: std::net::IpAddr,
) -> ClearanceFacts {
    if !headers.contains_key(header::COOKIE) {
        return ClearanceFacts::None;
    }
    let ctx = RequestContext {
        now: unix_secs(now),
        client_ip,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    };
    match doorman_challenge::assess(keyring, headers, &ctx, &settings.settings) {
        Gate::Pass(c) => ClearanceFacts::Valid {
            expires_at: UNIX_EPOCH + Duration::from_secs(c.expires_at),
        },
        Gate::Challenge {
            problem: Some(p), ..
        } => ClearanceFacts::Refused {
            code: p.code().to_owned(),
            reason: p.reason(),
            remedy: p.remedy(),
        },
        Gate::Challenge {
            problem: None,
            loop_hint: Some(hint),
        } => ClearanceFacts::CookieLost {
            seconds_ago: hint.seconds_ago(),
        },
        Gate::Challenge { .. } => ClearanceFacts::None,
    }
}

/// Whether the client is a browser that should get the page: it asks for HTML.
pub fn wants_page(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("text/html"))
}

/// The challenge page for a browser, with its nonce-based CSP.
pub fn page(
    keyring: &Keyring,
    settings: &ChallengeServer,
    facts: &RequestFacts<'_>,
    site_name: &str,
    receipt: &Receipt,
    ray_header: &HeaderName,
) -> Response<ProxyBody> {
    let ctx = context(facts);
    let token = doorman_challenge::issue(keyring, &ctx, settings.difficulty, &settings.settings);
    let nonce = doorman_challenge::new_nonce();
    let ray = receipt.ray_id.to_string();
    let return_to = facts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let loop_hint = match facts.clearance {
        ClearanceFacts::CookieLost { seconds_ago } => Some(doorman_challenge::LoopHint {
            passed_at: ctx.now.saturating_sub(*seconds_ago),
            now: ctx.now,
        }),
        _ => None,
    };
    let problem = match facts.clearance {
        ClearanceFacts::Refused { .. } => {
            doorman_challenge::assess(keyring, facts.headers, &ctx, &settings.settings)
        }
        _ => Gate::Challenge {
            problem: None,
            loop_hint: None,
        },
    };
    let clearance_problem = match &problem {
        Gate::Challenge { problem, .. } => problem.as_ref(),
        Gate::Pass(_) => None,
    };
    let html = doorman_challenge::page(&PageInput {
        nonce: &nonce,
        token: token.as_str(),
        difficulty: settings.difficulty,
        submit_path: &settings.submit_path,
        return_to: &return_to,
        site_name,
        ray_id: &ray,
        server_time_ms: u64::try_from(doorman_common::when::unix_ms(facts.now))
            .unwrap_or(0)
            .saturating_sub(simulated_skew_ms(settings, facts)),
        clock_skew_allowed_s: settings.settings.clock_skew_s,
        marker_cookie_name: &settings.settings.marker_cookie_name,
        previous_attempt: loop_hint,
        clearance_problem,
    });
    let mut resp = Response::new(crate::body::full(Bytes::from(html)));
    *resp.status_mut() = StatusCode::FORBIDDEN;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&doorman_challenge::csp(&nonce)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        HeaderName::from_static("doorman-mitigated"),
        HeaderValue::from_static("challenge"),
    );
    h.insert(
        HeaderName::from_static("doorman-code"),
        HeaderValue::from_static("CHALLENGE"),
    );
    if let Ok(v) = HeaderValue::from_str(&ray) {
        h.insert(ray_header.clone(), v);
    }
    resp
}

/// The receipt for a program asked to prove it is a person: as JSON (the `Accept` asks for it),
/// the receipt's problem document with a `challenge` member (token, difficulty, where to POST the
/// answer), so that API tooling can solve it; in other formats the receipt alone.
pub fn api_answer(
    keyring: &Keyring,
    settings: &ChallengeServer,
    facts: &RequestFacts<'_>,
    receipt: &Receipt,
    accept: Option<&str>,
    ray_header: &HeaderName,
) -> Response<ProxyBody> {
    let mut resp = crate::respond::receipt_response(receipt, accept, ray_header);
    if doorman_core::render::negotiate(accept) != doorman_core::render::Format::Json {
        return resp;
    }
    let ctx = context(facts);
    let token = doorman_challenge::issue(keyring, &ctx, settings.difficulty, &settings.settings);
    let mut doc: serde_json::Value =
        serde_json::from_str(&doorman_core::render::json(receipt)).unwrap_or_default();
    doc["challenge"] = doorman_challenge::page::challenge_member(
        token.as_str(),
        settings.difficulty,
        &settings.submit_path,
    );
    let mut body = doc.to_string();
    body.push('\n');
    *resp.body_mut() = crate::body::full(Bytes::from(body));
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp
}

/// With `clock_skew_demo`, `?doorman_clock_skew_s=N` shifts the server time the page measures
/// against, as if the client's clock were N seconds fast.
fn simulated_skew_ms(settings: &ChallengeServer, facts: &RequestFacts<'_>) -> u64 {
    if !settings.clock_skew_demo {
        return 0;
    }
    facts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("doorman_clock_skew_s="))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |s| s.min(86_400) * 1000)
}

/// `POST <submit_path>`: checks the answer; on success the clearance and loop-marker cookies.
pub async fn submit(
    keyring: &Keyring,
    settings: &ChallengeServer,
    facts: &RequestFacts<'_>,
    body: Incoming,
) -> Response<ProxyBody> {
    let ray = facts.ray_id.to_string();
    let bytes = match Limited::new(body, MAX_SUBMISSION_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &serde_json::json!({
                    "code": "CHALLENGE_ANSWER_INVALID",
                    "detail": "The challenge answer is larger than any real answer; reload the page to get a new challenge.",
                    "ray_id": ray,
                }),
                &[],
            );
        }
    };
    let ctx = context(facts);
    let checked = Submission::parse(&bytes).and_then(|s| {
        doorman_challenge::check_solution(keyring, &s.token, s.counter, &ctx, &settings.settings)
            .map(|_| s)
    });
    match checked {
        Ok(submission) => {
            let secure = facts.scheme == doorman_core::Scheme::Https;
            let issued = doorman_challenge::issue_cookies(
                keyring,
                Level::Pow,
                &ctx,
                &settings.settings,
                secure,
            );
            json(
                StatusCode::OK,
                &doorman_challenge::accepted(&submission.return_to),
                &issued.set_cookie,
            )
        }
        Err(rejection) => json(
            StatusCode::FORBIDDEN,
            &doorman_challenge::refused(&rejection, &ray),
            &[],
        ),
    }
}

fn json(status: StatusCode, body: &serde_json::Value, cookies: &[String]) -> Response<ProxyBody> {
    let mut resp = Response::new(crate::body::full(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}
