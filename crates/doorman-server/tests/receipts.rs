//! Receipts as the person denied reads them, through the real server: the words, not only the
//! codes. A list entry's own description and the shared-address advice, a did-you-mean for a
//! mistyped path, facts in words instead of rule fields (and plain JSON values), the site named,
//! a rate limit's time said once, and an RFC 9457 `type` that leads to a page explaining it.

use doorman_test_support::client::*;
use doorman_test_support::config::LOOPBACK_LISTENERS;
use doorman_test_support::gateway::*;
use serde_json::Value;

async fn start_receipts() -> Env {
    start_with(|data, origin| {
        let dir = data.parent().unwrap();
        std::fs::write(
            dir.join("reported.csv"),
            "ip,description\n203.0.113.0/24,\"reported for credential stuffing on 2026-11-30\"\n198.51.100.7,\n",
        )
        .unwrap();
        // No catch-all route: a path no route takes gets the NO_ROUTE receipt.
        format!(
            r#"
[server]
node_name = "test"
data_dir = "{data}"

{LOOPBACK_LISTENERS}

[[upstreams]]
name = "chat"
targets = ["{origin}"]

[[routes]]
name = "debug"
path_prefix = "/debug"
upstream = "chat"

[[routes]]
name = "home"
path_prefix = "/home"
upstream = "chat"

[site]
name = "Example Chat"
support = "help@example.com"

[client_ip]
trusted_proxies = ["127.0.0.1/32"]

[[lists]]
name = "reported"
kind = "ip"
format = "csv"
file = "reported.csv"
description = "addresses reported for abuse"

[[access_rules]]
id = "reported"
list = "reported"
action = "block"

[[routes]]
name = "plugins"
path_prefix = "/plugins/weather"
upstream = "chat"

[[routes]]
name = "admin"
path_prefix = "/admin"
upstream = "chat"
access = "closed"
reason = "The admin console is internal."

[[rules]]
id = "no-debug-tools"
title = "Debugging tools are not public"
expression = 'starts_with(http.request.uri.path, "/debug/tools") and http.request.method eq "GET"'
action = "block"

[[rate_limits]]
id = "weather"
description = "Weather plugin calls"
expression = 'starts_with(http.request.uri.path, "/plugins/weather")'
requests_per_period = 1
period_secs = 60
"#,
            data = data.display()
        )
    })
    .await
}

async fn fetch(env: &Env, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (resp, body) = get(&env.url(path), headers).await;
    (
        resp.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn receipts_speak_in_words() {
    let env = start_receipts().await;

    // A list entry's own words, and what to do when an address is shared.
    let (status, page) = fetch(
        &env,
        "/home",
        &[("x-forwarded-for", "203.0.113.7"), ("accept", "text/html")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        page.contains("says: \u{201c}reported for credential stuffing on 2026-11-30\u{201d}"),
        "{page}"
    );
    assert!(page.contains("203.0.113.0/24"), "{page}");
    assert!(page.contains("An address is often shared"), "{page}");
    assert!(
        page.contains("You are unable to access Example Chat"),
        "{page}"
    );
    // An entry without a description says which entry it was, and nothing invented.
    let (_, text) = fetch(&env, "/home", &[("x-forwarded-for", "198.51.100.7")]).await;
    assert!(
        text.contains("The entry that holds it is 198.51.100.7."),
        "{text}"
    );

    // A mistyped path: the receipt suggests the public route; a closed one is never suggested.
    let (status, text) = fetch(&env, "/plugin/weather?city=Oslo", &[]).await;
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("Did you mean /plugins/weather?"), "{text}");
    let (_, text) = fetch(&env, "/admn/users", &[]).await;
    assert!(!text.contains("Did you mean"), "{text}");

    // Facts in words, not rule fields; JSON values are plain.
    let (status, page) = fetch(&env, "/debug/tools", &[("accept", "text/html")]).await;
    assert_eq!(status, 403);
    assert!(
        page.contains("<dt>Path</dt><dd>/debug/tools</dd>"),
        "{page}"
    );
    assert!(page.contains("<dt>Method</dt><dd>GET</dd>"), "{page}");
    assert!(!page.contains("http.request"), "rule fields leaked: {page}");
    assert!(
        !page.contains("no-debug-tools"),
        "the rule's id leaked: {page}"
    );
    let (_, json) = fetch(&env, "/debug/tools", &[("accept", "application/json")]).await;
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["facts"]["Path"], "/debug/tools");
    assert_eq!(v["title"], "Blocked by a firewall rule");
    assert_eq!(v["rule_title"], "Debugging tools are not public");
    assert_eq!(v["site"], format!("Example Chat ({})", env.addr.ip()));

    // The `type` leads to a page that explains the code.
    assert_eq!(v["type"], "/.well-known/doorman/errors#1020");
    let (status, errors) = fetch(&env, "/.well-known/doorman/errors", &[]).await;
    assert_eq!(status, 200);
    assert!(errors.contains("id=\"1020\""), "{errors}");
    assert!(errors.contains("Blocked by a firewall rule"), "{errors}");

    // A rate limit: the heading says what happened, the limit is a fact, the time once.
    let _ = fetch(&env, "/plugins/weather?city=Oslo", &[]).await;
    let (status, page) = fetch(
        &env,
        "/plugins/weather?city=Oslo",
        &[("accept", "text/html")],
    )
    .await;
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("<h1>Too many requests</h1>"), "{page}");
    assert!(
        page.contains("<dt>Limit</dt><dd>Weather plugin calls: 1 request per 1 minute</dd>"),
        "{page}"
    );
    let mentions = page.matches(" UTC").count();
    // The next-request time in the reason, and the page's own time in the footer.
    assert_eq!(mentions, 2, "the retry time appears once: {page}");
    assert!(!page.contains("You can try again in"), "{page}");
    env.stop().await;
}
