//! The trace endpoint: what the gateway sees of the client, as lines or JSON, and the verdict a
//! request to another path would get.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{get, header, start};
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
    let env = common::start_with(|data, origin| {
        common::base_config(
            data,
            origin,
            "",
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
    })
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
