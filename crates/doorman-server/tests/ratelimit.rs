//! Rate limiting through the real server: 429 answers with their headers and receipts, keys per
//! characteristic, counting expressions and their feedback-loop guard, bans listed and lifted
//! through the admin API.

use std::time::Duration;

use doorman_test_support::client::{get, header};
use doorman_test_support::gateway::start;
use doorman_test_support::{client, gateway};
use serde_json::Value;

fn admin_token(env: &gateway::Env) -> String {
    std::fs::read_to_string(env.data_dir().join("admin.token"))
        .unwrap()
        .trim()
        .to_owned()
}

async fn admin(env: &gateway::Env, method: &str, path: &str) -> (u16, Value) {
    let addr = env.gateway.admin_addr.unwrap();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {}", admin_token(env)))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let (resp, body) = client::send(req).await;
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (resp.status().as_u16(), json)
}

const API_LIMIT: &str = r#"
[[rate_limits]]
id = "api"
description = "Chat API calls"
expression = 'starts_with(http.request.uri.path, "/debug/echo")'
characteristics = ["ip.src"]
requests_per_period = 3
period_secs = 60
"#;

#[tokio::test]
async fn the_request_over_the_limit_gets_429_with_headers_and_a_receipt_naming_the_key() {
    let env = start(API_LIMIT).await;
    let url = env.url("/debug/echo");
    for expected_remaining in [2, 1, 0] {
        let (resp, _) = get(&url, &[]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "ratelimit-policy"), "\"api\";q=3;w=60");
        let state = header(&resp, "ratelimit");
        assert!(
            state.starts_with(&format!("\"api\";r={expected_remaining};t=")),
            "{state}"
        );
    }
    let (resp, body) = get(&url, &[("accept", "application/json")]).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "doorman-code"), "1015");
    // A request counts until its slice of the window has left it: up to a third of the period
    // longer than an exact sliding log (crates/doorman-limit/src/lib.rs), never shorter.
    let retry: u64 = header(&resp, "retry-after").parse().unwrap();
    assert!((1..=80).contains(&retry), "Retry-After {retry}");
    assert_eq!(header(&resp, "ratelimit-policy"), "\"api\";q=3;w=60");
    let state = header(&resp, "ratelimit");
    let t: u64 = state
        .strip_prefix("\"api\";r=0;t=")
        .unwrap_or_else(|| panic!("{state}"))
        .parse()
        .unwrap();
    assert!(t >= retry && t <= 80, "reset {t} vs retry {retry}");
    let json: Value = serde_json::from_slice(&body).unwrap();
    let detail = json["detail"].as_str().unwrap();
    assert!(detail.contains("your IP address 127.0.0.1"), "{detail}");
    assert!(detail.contains("3 requests per 1 minute"), "{detail}");
    assert!(
        detail.contains("You can send the next request at"),
        "{detail}"
    );
    assert_eq!(json["title"], "Too many requests");
    assert_eq!(
        json["facts"]["Limit"],
        "Chat API calls: 3 requests per 1 minute"
    );

    // The HTML page says the same to a browser.
    let (resp, body) = get(&url, &[("accept", "text/html")]).await;
    assert_eq!(resp.status(), 429);
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("your IP address 127.0.0.1"), "{page}");

    // Paths the rule does not select are not limited and carry no headers.
    let (resp, _) = get(&env.url("/healthz"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("ratelimit").is_none());
    env.stop().await;
}

#[tokio::test]
async fn each_header_value_has_its_own_budget_and_a_missing_one_shares_one() {
    let env = start(
        r#"
[[rate_limits]]
id = "tenant"
expression = 'true'
characteristics = ['http.request.headers["x-tenant"]']
requests_per_period = 2
period_secs = 60
"#,
    )
    .await;
    let url = env.url("/healthz");
    for tenant in ["a", "b"] {
        for _ in 0..2 {
            let (resp, _) = get(&url, &[("x-tenant", tenant)]).await;
            assert_eq!(resp.status(), 200, "tenant {tenant}");
        }
        let (resp, body) = get(&url, &[("x-tenant", tenant), ("accept", "text/plain")]).await;
        assert_eq!(resp.status(), 429, "tenant {tenant}");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("header x-tenant"), "{text}");
    }
    for _ in 0..2 {
        assert_eq!(get(&url, &[]).await.0.status(), 200);
    }
    assert_eq!(get(&url, &[]).await.0.status(), 429);
    env.stop().await;
}

/// A counting rule for failed logins: only the origin's 401s count; the gateway's own 403s
/// (a firewall rule) never do. Two counted failures ban the IP for a minute; the admin API
/// lists the ban and lifts it.
#[tokio::test]
async fn counting_rules_count_origin_responses_only_and_their_bans_can_be_lifted() {
    let env = start(
        r#"
[[rules]]
id = "no-bots"
title = "No bots"
expression = 'http.request.uri.query contains "bot=1"'
action = "block"

[[rate_limits]]
id = "failed-logins"
expression = 'http.request.uri.path eq "/debug/status"'
characteristics = ["ip.src"]
requests_per_period = 2
period_secs = 60
mitigation_timeout_secs = 60
# 403 counts too when the origin sends it: the gateway's own 403s must not.
counting_expression = "http.response.code in {401 403}"
"#,
    )
    .await;
    // The gateway's own denials: many of them, none counted.
    for _ in 0..5 {
        let (resp, _) = get(&env.url("/debug/status?code=401&bot=1"), &[]).await;
        assert_eq!(resp.status(), 403);
        assert_eq!(header(&resp, "doorman-code"), "1020");
    }
    // Successful answers are not counted either.
    for _ in 0..3 {
        let (resp, _) = get(&env.url("/debug/status?code=200"), &[]).await;
        assert_eq!(resp.status(), 200);
    }
    // One failure: still allowed.
    assert_eq!(
        get(&env.url("/debug/status?code=401"), &[])
            .await
            .0
            .status(),
        401
    );
    assert_eq!(
        get(&env.url("/debug/status?code=200"), &[])
            .await
            .0
            .status(),
        200
    );
    // The second failure reaches the limit and starts the ban (counted after the response, off
    // the response path, so allow it a moment to land).
    assert_eq!(
        get(&env.url("/debug/status?code=401"), &[])
            .await
            .0
            .status(),
        401
    );
    let mut banned = None;
    for _ in 0..50 {
        let (resp, body) = get(
            &env.url("/debug/status?code=200"),
            &[("accept", "application/json")],
        )
        .await;
        if resp.status() == 429 {
            banned = Some((resp, body));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (resp, body) = banned.expect("the second counted 401 should ban the IP");
    assert_eq!(header(&resp, "doorman-code"), "1012");
    let retry: u64 = header(&resp, "retry-after").parse().unwrap();
    assert!((55..=60).contains(&retry), "Retry-After {retry}");
    let json: Value = serde_json::from_slice(&body).unwrap();
    let detail = json["detail"].as_str().unwrap();
    assert!(detail.contains("are paused until"), "{detail}");
    // What was counted, in words; never the counting expression.
    assert!(detail.contains("too many failed sign-ins"), "{detail}");
    assert!(!detail.contains("http.response.code"), "{detail}");
    assert_eq!(json["title"], "You are temporarily banned");
    assert_eq!(json["rule_title"], "Too many failed sign-ins");

    // The ban's start is an event of its own, under the Ray ID of the response that completed
    // the count; the refused request after it is another.
    let mut started = Vec::new();
    for _ in 0..50 {
        let q = doorman_store::EventQuery::open(&env.data_dir());
        if let Ok(q) = q {
            let filter = doorman_store::EventFilter {
                code: Some("1012".into()),
                ..Default::default()
            };
            started = q.list(&filter).unwrap_or_default();
            if started
                .iter()
                .any(|e| e.reason.contains("Temporary ban started"))
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        started.iter().any(|e| e
            .reason
            .contains("Temporary ban started for IP address 127.0.0.1")),
        "{started:?}"
    );

    let (status, bans) = admin(&env, "GET", "/admin/bans").await;
    assert_eq!(status, 200);
    let list = bans["bans"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{bans}");
    assert_eq!(list[0]["rule"], "failed-logins");
    assert_eq!(list[0]["value"], "127.0.0.1");
    assert_eq!(list[0]["kind"], "IP address");

    let (status, _) = admin(&env, "POST", "/admin/bans/lift?key=192.0.2.1").await;
    assert_eq!(status, 404);
    let (status, lifted) = admin(&env, "POST", "/admin/bans/lift?key=127.0.0.1").await;
    assert_eq!(status, 200, "{lifted}");
    assert_eq!(lifted["lifted"].as_array().unwrap().len(), 1);
    let (resp, _) = get(&env.url("/debug/status?code=200"), &[]).await;
    assert_eq!(resp.status(), 200, "the lifted key starts afresh");
    let (_, bans) = admin(&env, "GET", "/admin/bans").await;
    assert!(bans["bans"].as_array().unwrap().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn log_rules_record_without_blocking_and_allow_rules_skip_limits() {
    let env = start(
        r#"
[[rules]]
id = "office"
title = "Office"
expression = 'http.request.headers["x-office"][0] eq "yes"'
action = "skip"
skip_phases = ["rate_limit"]

[[rate_limits]]
id = "watch"
expression = 'true'
characteristics = ["ip.src"]
requests_per_period = 1
period_secs = 60
action = "log"

[[rate_limits]]
id = "strict"
expression = 'http.request.uri.path eq "/debug/echo"'
characteristics = ["ip.src"]
requests_per_period = 1
period_secs = 60
"#,
    )
    .await;
    for _ in 0..3 {
        assert_eq!(get(&env.url("/healthz"), &[]).await.0.status(), 200);
    }
    assert_eq!(get(&env.url("/debug/echo"), &[]).await.0.status(), 200);
    assert_eq!(get(&env.url("/debug/echo"), &[]).await.0.status(), 429);
    assert_eq!(
        get(&env.url("/debug/echo"), &[("x-office", "yes")])
            .await
            .0
            .status(),
        200,
        "skip_phases = [\"rate_limit\"] skips the limits"
    );
    env.stop().await;
}
