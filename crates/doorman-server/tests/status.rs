//! The status page through the real server: health checks of real origins feed component
//! states, a stopped origin becomes a major outage with an automatic incident and a 503
//! receipt that links the page, recovery resolves it; the JSON is checked field by field
//! against Statuspage's v2 names and enums; incidents and maintenance through the admin API;
//! the page and an incident page rendered by headless Chromium (screenshots kept for review).

use std::time::Duration;

use doorman_test_support::client::{get, header};
use doorman_test_support::config::LOOPBACK_LISTENERS;
use doorman_test_support::gateway::until;
use doorman_test_support::origin::demo;
use doorman_test_support::{browser, client, gateway};
use serde_json::{Value, json};

async fn json_at(url: &str) -> Value {
    let (resp, body) = get(url, &[]).await;
    assert_eq!(
        resp.status(),
        200,
        "{url}: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(header(&resp, "content-type"), "application/json");
    serde_json::from_slice(&body).unwrap()
}

fn component<'a>(summary: &'a Value, id: &str) -> &'a Value {
    summary["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no component {id} in {summary}"))
}

fn admin_token(env: &gateway::Env) -> String {
    std::fs::read_to_string(env.data_dir().join("admin.token"))
        .unwrap()
        .trim()
        .to_owned()
}

async fn admin(env: &gateway::Env, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let addr = env.gateway.admin_addr.unwrap();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {}", admin_token(env)))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .unwrap();
    let (resp, body) = client::send(req).await;
    (
        resp.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

// ---- Statuspage v2 schema --------------------------------------------------------------------

const COMPONENT_STATUS: &[&str] = &[
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];
const INDICATOR: &[&str] = &["none", "minor", "major", "critical", "maintenance"];
const INCIDENT_STATUS: &[&str] = &[
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "postmortem",
];
const MAINTENANCE_STATUS: &[&str] = &["scheduled", "in_progress", "verifying", "completed"];
const IMPACT: &[&str] = &["none", "minor", "major", "critical", "maintenance"];

#[derive(Clone, Copy)]
enum Kind {
    Str,
    OptStr,
    Bool,
    Int,
    Time,
    OptTime,
    Array,
    OneOf(&'static [&'static str]),
}

/// Asserts `v` has every field with its Statuspage type (RFC 3339 times, enum words).
fn shape(v: &Value, what: &str, fields: &[(&str, Kind)]) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    for (name, kind) in fields {
        let f = obj
            .get(*name)
            .unwrap_or_else(|| panic!("{what}: no field `{name}` in {v}"));
        let time = |s: &str| {
            s.len() >= 20 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T' && s.ends_with('Z')
        };
        let ok = match kind {
            Kind::Str => f.is_string(),
            Kind::OptStr => f.is_string() || f.is_null(),
            Kind::Bool => f.is_boolean(),
            Kind::Int => f.is_i64(),
            Kind::Time => f.as_str().is_some_and(time),
            Kind::OptTime => f.is_null() || f.as_str().is_some_and(time),
            Kind::Array => f.is_array(),
            Kind::OneOf(words) => f.as_str().is_some_and(|s| words.contains(&s)),
        };
        assert!(
            ok,
            "{what}: field `{name}` has the wrong type or value: {f}"
        );
    }
}

fn page_shape(v: &Value) {
    shape(
        &v["page"],
        "page",
        &[
            ("id", Kind::Str),
            ("name", Kind::Str),
            ("url", Kind::Str),
            ("time_zone", Kind::Str),
            ("updated_at", Kind::Time),
        ],
    );
}

fn status_shape(v: &Value) {
    shape(
        &v["status"],
        "status",
        &[
            ("indicator", Kind::OneOf(INDICATOR)),
            ("description", Kind::Str),
        ],
    );
}

fn component_shape(c: &Value) {
    shape(
        c,
        "component",
        &[
            ("id", Kind::Str),
            ("name", Kind::Str),
            ("status", Kind::OneOf(COMPONENT_STATUS)),
            ("created_at", Kind::Time),
            ("updated_at", Kind::Time),
            ("position", Kind::Int),
            ("description", Kind::OptStr),
            ("showcase", Kind::Bool),
            ("start_date", Kind::OptStr),
            ("group_id", Kind::OptStr),
            ("page_id", Kind::Str),
            ("group", Kind::Bool),
            ("only_show_if_degraded", Kind::Bool),
        ],
    );
}

fn incident_shape(i: &Value, maintenance: bool) {
    let status = if maintenance {
        MAINTENANCE_STATUS
    } else {
        INCIDENT_STATUS
    };
    shape(
        i,
        "incident",
        &[
            ("id", Kind::Str),
            ("name", Kind::Str),
            ("status", Kind::OneOf(status)),
            ("impact", Kind::OneOf(IMPACT)),
            ("created_at", Kind::Time),
            ("updated_at", Kind::Time),
            ("monitoring_at", Kind::OptTime),
            ("resolved_at", Kind::OptTime),
            ("shortlink", Kind::Str),
            ("started_at", Kind::Time),
            ("page_id", Kind::Str),
            ("incident_updates", Kind::Array),
            ("components", Kind::Array),
        ],
    );
    for u in i["incident_updates"].as_array().unwrap() {
        shape(
            u,
            "incident_update",
            &[
                ("id", Kind::Str),
                ("status", Kind::OneOf(status)),
                ("body", Kind::Str),
                ("incident_id", Kind::Str),
                ("created_at", Kind::Time),
                ("updated_at", Kind::Time),
                ("display_at", Kind::Time),
            ],
        );
    }
    for c in i["components"].as_array().unwrap() {
        component_shape(c);
    }
    if maintenance {
        shape(
            i,
            "scheduled_maintenance",
            &[
                ("scheduled_for", Kind::Time),
                ("scheduled_until", Kind::Time),
            ],
        );
    }
}

/// Every v2 endpoint the gateway serves, checked against Statuspage's field names and enums.
async fn statuspage_schema_holds(base: &str) -> Value {
    let status = json_at(&format!("{base}/api/v2/status.json")).await;
    page_shape(&status);
    status_shape(&status);

    let summary = json_at(&format!("{base}/api/v2/summary.json")).await;
    page_shape(&summary);
    status_shape(&summary);
    for c in summary["components"].as_array().unwrap() {
        component_shape(c);
    }
    for i in summary["incidents"].as_array().unwrap() {
        incident_shape(i, false);
    }
    for m in summary["scheduled_maintenances"].as_array().unwrap() {
        incident_shape(m, true);
    }

    let components = json_at(&format!("{base}/api/v2/components.json")).await;
    page_shape(&components);
    for c in components["components"].as_array().unwrap() {
        component_shape(c);
    }
    let incidents = json_at(&format!("{base}/api/v2/incidents.json")).await;
    page_shape(&incidents);
    for i in incidents["incidents"].as_array().unwrap() {
        incident_shape(i, false);
    }
    let unresolved = json_at(&format!("{base}/api/v2/incidents/unresolved.json")).await;
    for i in unresolved["incidents"].as_array().unwrap() {
        incident_shape(i, false);
        assert_ne!(i["status"], "resolved");
    }
    let maint = json_at(&format!("{base}/api/v2/scheduled-maintenances.json")).await;
    for m in maint["scheduled_maintenances"].as_array().unwrap() {
        incident_shape(m, true);
    }
    summary
}

/// A screenshot of `url` kept under the test target's tmp directory, for review.
fn screenshot(url: &str, name: &str) {
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    browser::chromium()
        .arg("--window-size=1000,1300")
        .arg("--hide-scrollbars")
        .screenshot(url, &shot, 5000);
}

const CHECK: &str = "health_check = { path = \"/healthz\", interval_ms = 100, timeout_ms = 500, fall = 2, rise = 2 }";

/// Needs `chromium` (scripts/test.sh installs it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_detected_shown_linked_and_resolved_when_the_origin_is_back() {
    let (a_addr, a) = demo("a", "127.0.0.1:0").await;
    let (b_addr, b) = demo("b", "127.0.0.1:0").await;
    let (pay_addr, pay) = demo("billing", "127.0.0.1:0").await;
    let env = gateway::start_with(move |data, _| {
        format!(
            r#"
[server]
data_dir = "{data}"
shutdown_grace_secs = 1

{LOOPBACK_LISTENERS}

[site]
name = "Example Chat"

[status]
path = "/status"

[[status.components]]
id = "chat"
name = "Chat API"
upstreams = ["chat"]
description = "Conversations and completions"

[[status.components]]
id = "billing"
name = "Billing"
upstreams = ["billing"]

[[status.mitigations]]
rule = "vpn"

[[access_rules]]
id = "vpn"
asn = 64500
action = "challenge"
note = "a VPN range"

[[upstreams]]
name = "chat"
targets = ["{a_addr}", "{b_addr}"]
connect_timeout_ms = 300
{CHECK}

[[upstreams]]
name = "billing"
targets = ["{pay_addr}"]
connect_timeout_ms = 300
{CHECK}

[[routes]]
name = "billing"
path_prefix = "/billing"
upstream = "billing"

[[routes]]
name = "chat"
upstream = "chat"
"#,
            data = data.display()
        )
    })
    .await;
    let base = env.url("/status");

    // Everything up: both components operational, nothing open, the schema holds.
    let summary = statuspage_schema_holds(&base).await;
    assert_eq!(summary["status"]["indicator"], "none", "{summary}");
    assert_eq!(component(&summary, "chat")["status"], "operational");
    assert_eq!(component(&summary, "chat")["name"], "Chat API");
    assert_eq!(summary["page"]["name"], "Example Chat status");
    assert_eq!(summary["incidents"], json!([]));

    // Billing's only server stops: after `fall` checks a major outage and an incident.
    pay.stop().await.unwrap();
    until("billing is a major outage", 15, async || {
        let s = json_at(&format!("{base}/api/v2/summary.json")).await;
        component(&s, "billing")["status"] == "major_outage"
    })
    .await;
    until("an incident is open", 5, async || {
        let s = json_at(&format!("{base}/api/v2/summary.json")).await;
        !s["incidents"].as_array().unwrap().is_empty()
    })
    .await;
    let summary = statuspage_schema_holds(&base).await;
    // Statuspage's words: a component in major outage makes the page "critical", "Major
    // Service Outage".
    assert_eq!(summary["status"]["indicator"], "critical", "{summary}");
    assert_eq!(summary["status"]["description"], "Major Service Outage");
    assert_eq!(component(&summary, "chat")["status"], "operational");
    let incident = &summary["incidents"][0];
    assert_eq!(incident["name"], "Billing is down");
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["impact"], "major");
    assert_eq!(incident["components"][0]["id"], "billing");
    let body = incident["incident_updates"][0]["body"].as_str().unwrap();
    assert!(body.contains("fails its health checks"), "{body}");
    assert!(
        !body.contains(&pay_addr.to_string()),
        "the public incident must not name internal addresses: {body}"
    );
    let incident_id = incident["id"].as_str().unwrap().to_owned();
    assert!(
        incident["shortlink"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/status/incidents/{incident_id}")),
        "{incident}"
    );

    // A request for billing gets a 503 that says so and links the status page.
    let (resp, body) = get(
        &env.url("/billing/invoices"),
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(header(&resp, "doorman-code"), "UPSTREAM_DOWN");
    let receipt: Value = serde_json::from_slice(&body).unwrap();
    assert!(receipt.to_string().contains("/status"), "{receipt}");
    let (_, html) = get(&env.url("/billing/invoices"), &[("accept", "text/html")]).await;
    let html = String::from_utf8_lossy(&html);
    assert!(html.contains("href=\"/status\""), "{html}");

    // One of chat's two servers stops: a partial outage, and traffic still flows.
    a.stop().await.unwrap();
    until("chat is a partial outage", 15, async || {
        let s = json_at(&format!("{base}/api/v2/summary.json")).await;
        component(&s, "chat")["status"] == "partial_outage"
    })
    .await;
    let (resp, _) = get(&env.url("/"), &[]).await;
    assert_eq!(resp.status(), 200);

    // The page, the incident page, the feed and the badge, while it is down.
    let (resp, page) = get(&base, &[]).await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-type").starts_with("text/html"));
    assert!(header(&resp, "content-security-policy").contains("default-src 'none'"));
    let page = String::from_utf8_lossy(&page);
    for needle in [
        "Chat API",
        "Billing",
        "Billing is down",
        "Challenge for visitors from network AS64500 (a VPN range)",
    ] {
        assert!(page.contains(needle), "page lacks {needle:?}:\n{page}");
    }
    let (resp, feed) = get(&format!("{base}/feed.atom"), &[]).await;
    assert!(header(&resp, "content-type").starts_with("application/atom+xml"));
    assert!(String::from_utf8_lossy(&feed).contains("Billing is down"));
    let (resp, badge) = get(&format!("{base}/badge.svg"), &[]).await;
    assert_eq!(header(&resp, "content-type"), "image/svg+xml");
    assert!(String::from_utf8_lossy(&badge).starts_with("<svg"));
    let (resp, _) = get(&format!("{base}/incidents/99999"), &[]).await;
    assert_eq!(resp.status(), 404);
    let (resp, _) = get(&format!("{base}/api/v2/nope.json"), &[]).await;
    assert_eq!(resp.status(), 404);

    // Headless Chromium renders both pages; the DOM carries the outage.
    let dom = browser::chromium().dump_dom(&base);
    assert!(dom.contains("Billing is down"), "{dom}");
    screenshot(&base, "status-page.png");
    let incident_url = format!("{base}/incidents/{incident_id}");
    let dom = browser::chromium().dump_dom(&incident_url);
    assert!(dom.contains("fails its health checks"), "{dom}");
    screenshot(&incident_url, "status-incident-page.png");

    // Billing is back on its address: operational again, and the incident resolves by itself.
    let (_, pay2) = demo("billing", &pay_addr.to_string()).await;
    until("the incident resolves", 15, async || {
        let s = json_at(&format!("{base}/api/v2/incidents.json")).await;
        s["incidents"][0]["status"] == "resolved"
    })
    .await;
    let incidents = json_at(&format!("{base}/api/v2/incidents.json")).await;
    let resolved = &incidents["incidents"][0];
    assert_eq!(resolved["id"], incident_id.as_str());
    assert!(resolved["resolved_at"].is_string());
    let latest = resolved["incident_updates"][0]["body"].as_str().unwrap();
    assert!(
        latest.contains("passes its health checks again"),
        "{latest}"
    );
    let summary = statuspage_schema_holds(&base).await;
    assert_eq!(component(&summary, "billing")["status"], "operational");
    assert_eq!(summary["incidents"], json!([]));
    // 90 daily bars, today's from the stored aggregate: billing's bar counts its failed checks.
    let (_, page) = get(&base, &[]).await;
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("89 days ago"), "{page}");
    let failed_today: Vec<u64> = page
        .match_indices(" checks failed)")
        .filter_map(|(i, _)| {
            let head = &page[..i];
            let open = head.rfind('(')?;
            head[open + 1..].split(" of ").next()?.parse().ok()
        })
        .collect();
    assert!(
        failed_today.iter().any(|&n| n >= 2),
        "some bar should count billing's failed checks: {failed_today:?}"
    );

    env.stop().await;
    pay2.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn incidents_and_maintenance_through_the_admin_api() {
    let env = gateway::start("[status]\npath = \"/status\"\n").await;
    let base = env.url("/status");

    // No token: refused.
    let addr = env.gateway.admin_addr.unwrap();
    let (resp, _) = get(&format!("http://{addr}/admin/incidents"), &[]).await;
    assert_eq!(resp.status(), 401);

    // Mistakes are named.
    let (code, words) = admin(
        &env,
        "POST",
        "/admin/incidents",
        Some(json!({ "name": "Slow answers", "message": "Looking", "components": ["chta"] })),
    )
    .await;
    assert_eq!(code, 400, "{words}");
    assert!(words.contains("chta"), "{words}");
    let (code, words) = admin(
        &env,
        "POST",
        "/admin/incidents",
        Some(json!({ "name": "Slow answers", "message": "Looking", "status": "fixing" })),
    )
    .await;
    assert_eq!(code, 400);
    assert!(words.contains("investigating"), "{words}");
    let (code, words) = admin(
        &env,
        "POST",
        "/admin/incidents",
        Some(json!({ "name": "x" })),
    )
    .await;
    assert_eq!(code, 400);
    assert!(words.contains("`message` is required"), "{words}");

    // Open, update, resolve.
    let (code, words) = admin(
        &env,
        "POST",
        "/admin/incidents",
        Some(json!({
            "name": "Slow answers",
            "message": "Some answers take over 10 s; we are looking into it.",
            "impact": "minor",
            "components": ["chat"]
        })),
    )
    .await;
    assert_eq!(code, 201, "{words}");
    let id = serde_json::from_str::<Value>(&words).unwrap()["incident"]["id"]
        .as_i64()
        .unwrap();
    let summary = json_at(&format!("{base}/api/v2/summary.json")).await;
    assert_eq!(summary["status"]["indicator"], "minor");
    assert_eq!(summary["incidents"][0]["name"], "Slow answers");

    let (code, words) = admin(
        &env,
        "POST",
        &format!("/admin/incidents/{id}"),
        Some(json!({ "status": "identified", "message": "A slow database replica." })),
    )
    .await;
    assert_eq!(code, 200, "{words}");
    let summary = json_at(&format!("{base}/api/v2/summary.json")).await;
    assert_eq!(summary["incidents"][0]["status"], "identified");

    let (code, _) = admin(
        &env,
        "POST",
        &format!("/admin/incidents/{id}/resolve"),
        Some(json!({ "message": "The replica was replaced." })),
    )
    .await;
    assert_eq!(code, 200);
    let summary = json_at(&format!("{base}/api/v2/summary.json")).await;
    assert_eq!(summary["status"]["indicator"], "none");
    let incidents = json_at(&format!("{base}/api/v2/incidents.json")).await;
    assert_eq!(incidents["incidents"][0]["status"], "resolved");
    let (code, _) = admin(
        &env,
        "POST",
        "/admin/incidents/424242/resolve",
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 404);

    // Maintenance: a window in the future is listed as scheduled.
    let (code, words) = admin(
        &env,
        "POST",
        "/admin/maintenances",
        Some(json!({
            "name": "Database upgrade",
            "message": "Chat may pause for a minute.",
            "starts_at": "2099-01-01T02:00:00Z",
            "ends_at": "2099-01-01T03:00:00Z",
            "components": ["chat"]
        })),
    )
    .await;
    assert_eq!(code, 201, "{words}");
    let maint = json_at(&format!("{base}/api/v2/scheduled-maintenances.json")).await;
    assert_eq!(
        maint["scheduled_maintenances"][0]["name"],
        "Database upgrade"
    );
    assert_eq!(maint["scheduled_maintenances"][0]["status"], "scheduled");
    let (code, words) = admin(
        &env,
        "POST",
        "/admin/maintenances",
        Some(json!({ "name": "x", "message": "y", "starts_at": "tomorrow", "ends_at": "later" })),
    )
    .await;
    assert_eq!(code, 400);
    assert!(words.contains("RFC 3339"), "{words}");
    env.stop().await;
}

#[tokio::test]
async fn a_blocked_visitor_can_still_read_the_status_page() {
    let env = gateway::start(
        r#"
[status]
path = "/status"

[[access_rules]]
id = "everyone-local"
ip = "127.0.0.1"
action = "block"
"#,
    )
    .await;
    let (resp, _) = get(&env.url("/"), &[]).await;
    assert_eq!(resp.status(), 403);
    let (resp, _) = get(&env.url("/status"), &[]).await;
    assert_eq!(resp.status(), 200);
    let (resp, _) = get(&env.url("/status/api/v2/status.json"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), "*");
    // Only GET and HEAD.
    let req = http::Request::post(env.url("/status"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let (resp, _) = client::send(req).await;
    assert_eq!(resp.status(), 405);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_an_outage_keeps_one_incident_and_resolves_it_on_recovery() {
    let dead = client::closed_addr();
    let env = gateway::start_with(move |data, _| {
        format!(
            r#"
[server]
data_dir = "{data}"
shutdown_grace_secs = 1

{LOOPBACK_LISTENERS}

[status]
path = "/status"

[[upstreams]]
name = "billing"
targets = ["{dead}"]
connect_timeout_ms = 300
{CHECK}

[[routes]]
name = "billing"
upstream = "billing"
"#,
            data = data.display()
        )
    })
    .await;
    let base = env.url("/status");
    until("the first incident", 15, async || {
        let s = json_at(&format!("{base}/api/v2/incidents.json")).await;
        s["incidents"].as_array().unwrap().len() == 1
    })
    .await;

    // The gateway restarts while billing is still down.
    let gateway::Env {
        dir,
        config_path,
        gateway,
        ..
    } = env;
    gateway.shutdown();
    gateway.wait().await;
    let loaded = doorman_config::load(&config_path).unwrap();
    let gateway = doorman_server::start(loaded, Some(config_path.clone()))
        .await
        .unwrap();
    let base = format!("http://{}/status", gateway.listen_addrs[0]);
    // Long enough for the new process's checks to settle on "down" several times over.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = json_at(&format!("{base}/api/v2/summary.json")).await;
    assert_eq!(component(&s, "billing")["status"], "major_outage", "{s}");
    let all = json_at(&format!("{base}/api/v2/incidents.json")).await;
    assert_eq!(
        all["incidents"].as_array().unwrap().len(),
        1,
        "a restart must not open a second incident: {all}"
    );

    // Billing comes up on its address: the incident opened before the restart resolves.
    let (_, billing) = demo("billing", &dead.to_string()).await;
    until("the adopted incident resolves", 15, async || {
        let s = json_at(&format!("{base}/api/v2/incidents.json")).await;
        s["incidents"][0]["status"] == "resolved"
    })
    .await;
    let all = json_at(&format!("{base}/api/v2/incidents.json")).await;
    assert_eq!(all["incidents"].as_array().unwrap().len(), 1, "{all}");
    gateway.shutdown();
    gateway.wait().await;
    billing.stop().await.unwrap();
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_health_checks_show_as_degraded_performance() {
    let (slow_addr, slow) = demo("slow", "127.0.0.1:0").await;
    let (fast_addr, fast) = demo("fast", "127.0.0.1:0").await;
    let env = gateway::start_with(move |data, _| {
        format!(
            r#"
[server]
data_dir = "{data}"
shutdown_grace_secs = 1

{LOOPBACK_LISTENERS}

[status]
path = "/status"
degraded_above_ms = 100

[[upstreams]]
name = "search"
targets = ["{slow_addr}"]
health_check = {{ path = "/debug/sleep?ms=250", interval_ms = 100, timeout_ms = 2000, fall = 2, rise = 2 }}

[[upstreams]]
name = "chat"
targets = ["{fast_addr}"]
{CHECK}

[[routes]]
name = "search"
path_prefix = "/search"
upstream = "search"

[[routes]]
name = "chat"
upstream = "chat"
"#,
            data = data.display()
        )
    })
    .await;
    let base = env.url("/status");
    until("search is degraded", 15, async || {
        let s = json_at(&format!("{base}/api/v2/summary.json")).await;
        component(&s, "search")["status"] == "degraded_performance"
    })
    .await;
    let s = statuspage_schema_holds(&base).await;
    assert_eq!(component(&s, "chat")["status"], "operational", "{s}");
    // Statuspage's words for a degraded component; slowness opens no incident.
    assert_eq!(s["status"]["indicator"], "minor", "{s}");
    assert_eq!(s["incidents"], json!([]));
    env.stop().await;
    slow.stop().await.unwrap();
    fast.stop().await.unwrap();
}
