//! Health checks through the real server: a stopped target leaves the round robin after `fall`
//! failed checks (no request is sent to it), every target down gives a 503 UPSTREAM_DOWN receipt
//! linking the status page, and a target that comes back takes traffic again after `rise` checks.

use doorman_test_support::client::{get, header};
use doorman_test_support::config::LOOPBACK_LISTENERS;
use doorman_test_support::gateway::until;
use doorman_test_support::origin::demo;
use doorman_test_support::{client, gateway};
use serde_json::Value;

/// Which origin answered, by its `x-demo-origin` header; the status for receipts.
async fn who(url: &str) -> (u16, String, Value) {
    let (resp, body) = get(url, &[("accept", "application/json")]).await;
    let name = resp
        .headers()
        .get("x-demo-origin")
        .map_or(String::new(), |v| v.to_str().unwrap().to_owned());
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (resp.status().as_u16(), name, json)
}

#[tokio::test]
async fn dead_targets_leave_the_rotation_and_all_down_is_a_503_naming_the_service() {
    let (a_addr, a) = demo("a", "127.0.0.1:0").await;
    let (b_addr, b) = demo("b", "127.0.0.1:0").await;
    let env = gateway::start_with(move |data, _| {
        format!(
            r#"
[server]
data_dir = "{data}"
shutdown_grace_secs = 1

{LOOPBACK_LISTENERS}

[site]
status_page_url = "https://status.example.com"

[[upstreams]]
name = "chat"
targets = ["{a_addr}", "{b_addr}"]
connect_timeout_ms = 500
health_check = {{ path = "/healthz", expect_body = "ok", interval_ms = 100, timeout_ms = 500, fall = 2, rise = 2 }}

[[routes]]
name = "chat"
upstream = "chat"
"#,
            data = data.display()
        )
    })
    .await;
    let url = env.url("/healthz");
    // Both serve, round robin.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..4 {
        seen.insert(who(&url).await.1);
    }
    assert_eq!(seen.len(), 2, "{seen:?}");

    // Stop a: after two failed checks every request goes to b, none fails.
    a.stop().await.unwrap();
    until("a leaves the rotation", 10, async || {
        let mut all_b = true;
        for _ in 0..4 {
            all_b &= who(&url).await.1 == "b";
        }
        all_b
    })
    .await;
    for _ in 0..20 {
        let (status, name, _) = who(&url).await;
        assert_eq!((status, name.as_str()), (200, "b"));
    }

    // Stop b too: a 503 that says the service is down and links the status page.
    b.stop().await.unwrap();
    until("b is down too", 10, async || who(&url).await.0 == 503).await;
    let (resp, body) = get(&url, &[("accept", "application/json")]).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(header(&resp, "doorman-code"), "UPSTREAM_DOWN");
    assert_eq!(header(&resp, "retry-after"), "30");
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        json["detail"]
            .as_str()
            .unwrap()
            .contains("`chat` service is down"),
        "{json}"
    );
    assert!(
        json.to_string().contains("https://status.example.com"),
        "{json}"
    );

    // a comes back on its address: after two good checks it takes traffic again.
    let (_, a2) = demo("a", &a_addr.to_string()).await;
    until("a is back", 10, async || who(&url).await.1 == "a").await;
    env.stop().await;
    a2.stop().await.unwrap();
}

#[tokio::test]
async fn a_refused_connection_is_retried_on_the_next_target_when_there_is_no_body() {
    let (b_addr, b) = demo("b", "127.0.0.1:0").await;
    let dead = client::closed_addr();
    // No health checks: only the retry keeps requests from failing.
    let env = gateway::start_with(move |data, _| {
        format!(
            r#"
[server]
data_dir = "{data}"
shutdown_grace_secs = 1

{LOOPBACK_LISTENERS}

[[upstreams]]
name = "chat"
targets = ["{dead}", "{b_addr}"]
connect_timeout_ms = 500

[[routes]]
name = "chat"
upstream = "chat"
"#,
            data = data.display()
        )
    })
    .await;
    let url = env.url("/healthz");
    for _ in 0..6 {
        let (status, name, json) = who(&url).await;
        assert_eq!((status, name.as_str()), (200, "b"), "{json}");
    }
    // A request with a body is not sent twice: half of them meet the dead target.
    let mut refused = 0;
    for _ in 0..6 {
        let req = http::Request::post(env.url("/debug/echo"))
            .header("accept", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                b"hello",
            )))
            .unwrap();
        let (resp, _) = client::send(req).await;
        if resp.status() == 502 {
            assert_eq!(header(&resp, "doorman-code"), "UPSTREAM_REFUSED");
            refused += 1;
        } else {
            assert_eq!(resp.status(), 200);
        }
    }
    assert_eq!(refused, 3, "round robin over a dead and a live target");
    env.stop().await;
    b.stop().await.unwrap();
}
