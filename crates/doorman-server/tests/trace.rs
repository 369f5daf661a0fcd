//! The trace endpoint: what the gateway sees of the client, as lines or JSON, and the verdict a
//! request to another path would get.

use std::time::{SystemTime, UNIX_EPOCH};

use doorman_test_support::client::{get, header};
use doorman_test_support::gateway;
use doorman_test_support::gateway::start;
use serde_json::Value;

#[tokio::test]
async fn trace_tells_the_client_what_the_gateway_sees() {
    let env = start(
        r#"
[[routes]]
name = "admin"
path_prefix = "/admin"
upstream = "chat"
access = "closed"
reason = "Staff only."

[[routes]]
name = "keyed"
path_prefix = "/keyed"
upstream = "chat"
auth = { methods = ["api_key"] }

[[rate_limits]]
id = "all"
expression = 'true'
requests_per_period = 100
period_secs = 60
"#,
    )
    .await;
    let (resp, body) = get(
        &env.url("/.well-known/doorman/trace"),
        &[("user-agent", "trace-test/1")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-type").starts_with("text/plain"));
    let text = String::from_utf8_lossy(&body);
    for line in [
        "ip=127.0.0.1",
        "http=HTTP/1.1",
        "user_agent=trace-test/1",
        "verdict.allowed=true",
        "credential.presented=false",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    let server_ms: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("server_time_ms="))
        .unwrap()
        .parse()
        .unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (now_ms - server_ms).abs() < 5_000,
        "server time {server_ms} vs {now_ms}"
    );

    let (resp, body) = get(
        &env.url("/.well-known/doorman/trace?path=/admin/users"),
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["verdict"]["path"], "/admin/users");
    assert_eq!(json["verdict"]["allowed"], false);
    assert_eq!(json["verdict"]["code"], "ROUTE_CLOSED");
    assert_eq!(json["verdict"]["reason"], "Staff only.");
    assert_eq!(json["ip"], "127.0.0.1");

    // Authorization runs after the rate limits: the what-if request goes through both.
    let (_, body) = get(
        &env.url("/.well-known/doorman/trace?path=/keyed/x"),
        &[("accept", "application/json")],
    )
    .await;
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["verdict"]["allowed"], false, "{json}");
    assert_eq!(json["verdict"]["code"], "KEY_MISSING");
    env.stop().await;
}

#[tokio::test]
async fn trace_names_the_lists_a_client_is_on_only_when_the_operator_discloses_them() {
    let env = gateway::start(
        r#"
[client_ip]
trusted_proxies = ["127.0.0.1/32"]
source = "x-forwarded-for"

[[lists]]
name = "abuse_feed"
kind = "ip"
items = ["203.0.113.0/24"]
description = "addresses reported for credential stuffing"
disclose = true

[[lists]]
name = "watchlist"
kind = "ip"
items = ["203.0.113.0/24"]
"#,
    )
    .await;
    let trace = env.url("/.well-known/doorman/trace");
    let (_, body) = get(
        &trace,
        &[
            ("accept", "application/json"),
            ("x-forwarded-for", "203.0.113.9"),
        ],
    )
    .await;
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["ip"], "203.0.113.9");
    assert_eq!(
        json["lists"],
        serde_json::json!([{ "name": "abuse_feed", "description": "addresses reported for credential stuffing" }]),
        "the undisclosed watchlist must not show: {json}"
    );
    let (_, body) = get(&trace, &[("x-forwarded-for", "203.0.113.9")]).await;
    let text = String::from_utf8_lossy(&body);
    assert!(text.lines().any(|l| l == "lists=abuse_feed"), "{text}");
    // Not on any list: no `lists` at all.
    let (_, body) = get(&trace, &[("accept", "application/json")]).await;
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert!(json.get("lists").is_none(), "{json}");
    env.stop().await;
}

/// A ban started by requests of another path (failed logins) is in the trace whatever `?path=`
/// asks, though the verdict for that path knows nothing of it: in the rule's public words (its
/// description, never its expression), counted per the client as its receipt says, with its
/// end. A `hint` rule's ban is named by its code's title only; a rule kept per a header is not
/// matched (its value belongs to another request).
#[tokio::test]
async fn trace_lists_the_bans_in_force_for_this_client_whatever_started_them() {
    let env = start(
        r#"
[[rate_limits]]
id = "failed-logins"
description = "Too many failed logins"
expression = 'http.request.uri.path eq "/debug/status"'
characteristics = ["ip.src"]
requests_per_period = 2
period_secs = 60
mitigation_timeout_secs = 120
counting_expression = "http.response.code eq 401"

[[rate_limits]]
id = "per-tenant"
description = "Tenant requests"
expression = 'http.request.uri.path eq "/debug/echo"'
characteristics = ['http.request.headers["x-tenant"]']
requests_per_period = 1
period_secs = 60
mitigation_timeout_secs = 60

[[rate_limits]]
id = "health-pokes"
description = "Health pokes"
expression = 'http.request.uri.path eq "/healthz"'
requests_per_period = 1
period_secs = 60
mitigation_timeout_secs = 60
disclosure = "hint"
"#,
    )
    .await;
    let trace = env.url("/.well-known/doorman/trace?path=/");
    let json_of = |body: &[u8]| serde_json::from_slice::<Value>(body).unwrap();
    let (_, body) = get(&trace, &[("accept", "application/json")]).await;
    assert_eq!(json_of(&body)["bans"], serde_json::json!([]), "no ban yet");

    // Two failed "logins": the second completes the count and starts the ban, off the
    // response path.
    for _ in 0..2 {
        let (resp, _) = get(&env.url("/debug/status?code=401"), &[]).await;
        assert_eq!(resp.status(), 401);
    }
    let mut json = Value::Null;
    for _ in 0..100 {
        let (_, body) = get(&trace, &[("accept", "application/json")]).await;
        json = json_of(&body);
        if json["bans"].as_array().is_some_and(|b| !b.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The what-if GET of `/` meets no login rule: only `bans` tells.
    assert_eq!(json["verdict"]["allowed"], true, "{json}");
    let bans = json["bans"].as_array().unwrap();
    assert_eq!(bans.len(), 1, "{json}");
    let ban = &bans[0];
    assert_eq!(ban["limit"], "Too many failed logins");
    assert_eq!(ban["code"], "1012");
    assert_eq!(ban["counted_per"], "your IP address 127.0.0.1");
    let left = ban["ends_in_s"].as_u64().unwrap();
    assert!((110..=120).contains(&left), "{ban}");
    assert!(ban["until"].as_str().unwrap().ends_with('Z'), "{ban}");
    assert!(ban["ray_id"].as_str().is_some_and(|r| !r.is_empty()));
    let text = serde_json::to_string(&json).unwrap();
    assert!(
        !text.contains("failed-logins") && !text.contains("http.re"),
        "neither the rule's id nor its expressions: {text}"
    );
    // The same in the `key=value` form.
    let (_, body) = get(&trace, &[]).await;
    let lines = String::from_utf8_lossy(&body);
    assert!(
        lines
            .lines()
            .any(|l| l.starts_with("bans=Too many failed logins until ")),
        "{lines}"
    );

    // A ban kept per a header value is not this client's to know, even sending that header.
    for _ in 0..2 {
        get(&env.url("/debug/echo"), &[("x-tenant", "acme")]).await;
    }
    let (resp, _) = get(&env.url("/debug/echo"), &[("x-tenant", "acme")]).await;
    assert_eq!(resp.status(), 429, "the tenant's ban is in force");
    // A `hint` rule: the code's title, not the description nor who is counted.
    for _ in 0..2 {
        get(&env.url("/healthz"), &[]).await;
    }
    let (resp, _) = get(&env.url("/healthz"), &[]).await;
    assert_eq!(resp.status(), 429);
    let (_, body) = get(
        &trace,
        &[("accept", "application/json"), ("x-tenant", "acme")],
    )
    .await;
    let json = json_of(&body);
    let limits: Vec<&str> = json["bans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["limit"].as_str().unwrap())
        .collect();
    assert_eq!(
        limits,
        ["Too many failed logins", "Too many requests"],
        "{json}"
    );
    let hinted = &json["bans"][1];
    assert_eq!(hinted["code"], "1015");
    assert!(hinted.get("counted_per").is_none(), "{hinted}");
    assert!(
        !serde_json::to_string(&json)
            .unwrap()
            .contains("Health pokes")
    );
    env.stop().await;
}
