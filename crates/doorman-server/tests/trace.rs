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
