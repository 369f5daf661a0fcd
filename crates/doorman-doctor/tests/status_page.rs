//! The status step against loopback Statuspage-compatible pages: an outage fails the step and
//! explains a site that is down, an operational page passes, a page the Doorman trace names is
//! read without `--status-url`, an unreachable page only warns. Nothing leaves 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use doorman_doctor::fixtures::{
    Pki, Reply, closed_port, http_date, http_server, https_server_with, rfc3339_in,
};
use doorman_doctor::{Options, Report, Status, render_json, render_text, run};

fn opts(url: &str) -> Options {
    let mut o = Options::isolated(url).unwrap();
    o.timeouts.connect = Duration::from_secs(2);
    o.timeouts.request = Duration::from_secs(3);
    o
}

fn first_failure(r: &Report) -> Option<&'static str> {
    r.first_failure.map(|i| r.steps[i].name)
}

fn names(r: &Report) -> Vec<&'static str> {
    r.steps.iter().map(|s| s.name).collect()
}

/// Statuspage's summary.json with an API in major outage and an incident under investigation
/// for 25 minutes, its latest update 5 minutes old.
fn major_outage() -> String {
    format!(
        r#"{{
  "page": {{"id": "p1", "name": "Example", "url": "https://status.example.com", "time_zone": "Etc/UTC", "updated_at": "{now}"}},
  "components": [
    {{"id": "c1", "name": "API", "status": "major_outage", "group": false, "group_id": null, "only_show_if_degraded": false, "position": 1}},
    {{"id": "c2", "name": "Website", "status": "operational", "group": false, "position": 2}},
    {{"id": "g1", "name": "Everything", "status": "major_outage", "group": true, "components": ["c1", "c2"]}}
  ],
  "incidents": [
    {{"id": "i1", "name": "Elevated API errors", "status": "investigating", "impact": "major",
      "shortlink": "https://stspg.io/x1", "created_at": "{started}", "started_at": "{started}", "updated_at": "{now}",
      "incident_updates": [
        {{"id": "u1", "status": "investigating", "body": "We are looking into it.", "created_at": "{started}"}},
        {{"id": "u2", "status": "investigating", "body": "The database  is overloaded;\n we are adding capacity.", "created_at": "{latest}"}}
      ]}},
    {{"id": "i0", "name": "Last week's blip", "status": "resolved", "impact": "minor", "created_at": "{started}", "incident_updates": []}}
  ],
  "scheduled_maintenances": [],
  "status": {{"indicator": "major", "description": "Partial System Outage"}}
}}"#,
        now = rfc3339_in(0),
        started = rfc3339_in(-25 * 60),
        latest = rfc3339_in(-5 * 60),
    )
}

fn all_operational() -> String {
    r#"{"page":{"id":"p1","name":"Example","url":"https://status.example.com"},
        "components":[{"id":"c1","name":"API","status":"operational","group":false}],
        "incidents":[],"scheduled_maintenances":[],
        "status":{"indicator":"none","description":"All Systems Operational"}}"#
        .to_owned()
}

/// A status page host serving `summary` at `{prefix}/api/v2/summary.json` (and a status.json
/// cut from it).
async fn status_page(prefix: &'static str, summary: String) -> SocketAddr {
    http_server(move |asked| {
        let path = asked.path();
        if path == format!("{prefix}/api/v2/summary.json") {
            Reply::new(
                200,
                &[("content-type", "application/json")],
                summary.clone(),
            )
        } else if path == format!("{prefix}/api/v2/status.json") {
            let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
            Reply::new(
                200,
                &[("content-type", "application/json")],
                serde_json::json!({"page": v["page"], "status": v["status"]}).to_string(),
            )
        } else {
            Reply::new(404, &[("content-type", "text/plain")], "not found")
        }
    })
    .await
    .unwrap()
}

async fn healthy_site() -> SocketAddr {
    http_server(|_| Reply::new(200, &[("date", &http_date(0))], "hello"))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_major_outage_fails_the_step_and_names_the_component_and_incident() {
    let page = status_page("", major_outage()).await;
    let site = healthy_site().await;
    let o = opts(&format!("http://{site}/"))
        .with_status_url(&format!("http://{page}/"))
        .unwrap();
    let r = run(o).await;
    let text = render_text(&r);
    assert_eq!(
        names(&r),
        [
            "dns",
            "proxy",
            "tcp",
            "tls",
            "clock",
            "http",
            "trace",
            "status",
            "credential"
        ]
    );
    assert_eq!(first_failure(&r), Some("status"), "{text}");
    let status = r.step("status").unwrap();
    assert_eq!(status.status, Status::Fail, "{text}");
    assert!(text.contains("✗ Status page\n"), "{text}");
    assert_eq!(status.fact_value("found via"), Some("--status-url"));
    assert_eq!(
        status.fact_value("read"),
        Some(format!("GET http://{page}/api/v2/summary.json (200)").as_str())
    );
    assert_eq!(
        status.fact_value("page"),
        Some("Example (https://status.example.com)")
    );
    assert_eq!(
        status.fact_value("status"),
        Some("Partial System Outage (indicator major)")
    );
    assert_eq!(status.fact_value("component API"), Some("major outage"));
    // Operational components and groups are not listed; resolved incidents neither.
    assert_eq!(status.fact_value("component Website"), None);
    assert_eq!(status.fact_value("component Everything"), None);
    let incidents: Vec<&str> = status
        .facts
        .iter()
        .filter(|(k, _)| k == "incident")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(incidents.len(), 1, "{text}");
    assert_eq!(
        incidents[0],
        "Elevated API errors — investigating, major impact, started 25 minutes ago; latest update (5 minutes ago): The database is overloaded; we are adding capacity. <https://stspg.io/x1>"
    );
    assert_eq!(
        status.fix.as_deref(),
        Some(
            "the service itself is having an outage (Partial System Outage: Elevated API errors): nothing on your side will fix it; follow https://status.example.com and try again when it is resolved"
        )
    );
    // The site answered fine, so nothing is "explained": the outage is the first failure.
    assert_eq!(r.explained_by, None);
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["steps"][7]["name"], "status");
    assert_eq!(json["steps"][7]["title"], "Status page");
    assert_eq!(json["steps"][7]["status"], "fail");
    assert_eq!(json["first_failure"], "status");
    assert_eq!(json["explained_by"], serde_json::Value::Null);
}

#[tokio::test]
async fn an_operational_page_passes() {
    let page = status_page("", all_operational()).await;
    let site = healthy_site().await;
    let o = opts(&format!("http://{site}/"))
        .with_status_url(&format!("http://{page}"))
        .unwrap();
    let r = run(o).await;
    let text = render_text(&r);
    assert!(r.passed(), "{text}");
    let status = r.step("status").unwrap();
    assert_eq!(status.status, Status::Ok, "{text}");
    assert_eq!(
        status.fact_value("status"),
        Some("All Systems Operational (indicator none)")
    );
    assert_eq!(
        status.fact_value("page"),
        Some("Example (https://status.example.com)")
    );
    assert!(text.trim_end().ends_with("all checks passed"), "{text}");
}

#[tokio::test]
async fn a_page_with_only_status_json_is_read() {
    let summary = major_outage();
    let page = http_server(move |asked| {
        if asked.path() == "/api/v2/status.json" {
            let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
            Reply::new(
                200,
                &[("content-type", "application/json")],
                serde_json::json!({"page": v["page"], "status": v["status"]}).to_string(),
            )
        } else {
            Reply::new(404, &[], "")
        }
    })
    .await
    .unwrap();
    let site = healthy_site().await;
    let o = opts(&format!("http://{site}/"))
        .with_status_url(&format!("http://{page}"))
        .unwrap();
    let r = run(o).await;
    let status = r.step("status").unwrap();
    assert_eq!(status.status, Status::Fail, "{}", render_text(&r));
    assert_eq!(
        status.fact_value("read"),
        Some(format!("GET http://{page}/api/v2/status.json (200)").as_str())
    );
}

#[tokio::test]
async fn the_doorman_trace_names_the_status_page_on_the_same_host() {
    let summary = all_operational();
    let site = http_server(move |asked| match asked.path() {
        "/.well-known/doorman/trace" => Reply::new(
            200,
            &[("content-type", "application/json")],
            r#"{"ip":"127.0.0.1","status_page":"/status","verdict":{"path":"/","allowed":true}}"#,
        ),
        // Doorman's page writes its own URL as a path.
        "/status/api/v2/summary.json" => Reply::new(
            200,
            &[("content-type", "application/json")],
            summary.replace("https://status.example.com", "/status"),
        ),
        _ => Reply::new(200, &[("date", &http_date(0))], "hello"),
    })
    .await
    .unwrap();
    let r = run(opts(&format!("http://{site}/"))).await;
    let text = render_text(&r);
    assert!(r.passed(), "{text}");
    assert_eq!(
        r.step("trace").unwrap().fact_value("status page"),
        Some("/status")
    );
    let status = r.step("status").unwrap();
    assert_eq!(status.status, Status::Ok, "{text}");
    assert_eq!(
        status.fact_value("found via"),
        Some("the gateway's trace (status_page)")
    );
    assert_eq!(
        status.fact_value("read"),
        Some(format!("GET http://{site}/status/api/v2/summary.json (200)").as_str())
    );
    assert_eq!(
        status.fact_value("page"),
        Some(format!("Example (http://{site}/status)").as_str())
    );
}

#[tokio::test]
async fn the_doorman_trace_may_name_a_page_on_another_host() {
    let page = status_page("/s", major_outage()).await;
    let site = http_server(move |asked| match asked.path() {
        "/.well-known/doorman/trace" => Reply::new(
            200,
            &[("content-type", "application/json")],
            format!(r#"{{"ip":"127.0.0.1","status_page":"http://{page}/s/"}}"#),
        ),
        _ => Reply::new(503, &[("content-type", "text/plain")], "down"),
    })
    .await
    .unwrap();
    let r = run(opts(&format!("http://{site}/"))).await;
    let text = render_text(&r);
    // The site's 503 is the first failure; the outage explains it.
    assert_eq!(first_failure(&r), Some("http"), "{text}");
    assert_eq!(r.step("status").unwrap().status, Status::Fail, "{text}");
    let explained = r.explained_by.map(|i| r.steps[i].name);
    assert_eq!(explained, Some("status"), "{text}");
    // The HTTP step's own fix points at the page it knows.
    assert!(
        r.step("http")
            .unwrap()
            .fix
            .as_deref()
            .unwrap()
            .contains("the site's status page (https://status.example.com)"),
        "{text}"
    );
    let last = text.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with(
            "first failure: HTTP (http), explained by Status page (status) — the service itself is having an outage (Partial System Outage: Elevated API errors): nothing on your side will fix it"
        ),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["first_failure"], "http");
    assert_eq!(json["explained_by"], "status");
}

#[tokio::test]
async fn a_site_that_refuses_connections_is_explained_by_the_outage() {
    let page = status_page("", major_outage()).await;
    let site = closed_port().unwrap();
    let o = opts(&format!("http://{site}/"))
        .with_status_url(&format!("http://{page}"))
        .unwrap();
    let r = run(o).await;
    let text = render_text(&r);
    assert_eq!(first_failure(&r), Some("tcp"), "{text}");
    // The status page is read even though the site cannot be reached.
    assert_eq!(r.step("status").unwrap().status, Status::Fail, "{text}");
    assert_eq!(r.explained_by.map(|i| r.steps[i].name), Some("status"));
    assert!(
        text.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("first failure: TCP connect (tcp), explained by Status page (status)"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_status_page_only_warns() {
    let site = healthy_site().await;
    let gone = closed_port().unwrap();
    let o = opts(&format!("http://{site}/"))
        .with_status_url(&format!("http://{gone}/"))
        .unwrap();
    let r = run(o).await;
    let text = render_text(&r);
    assert!(r.passed(), "{text}");
    let status = r.step("status").unwrap();
    assert_eq!(status.status, Status::Warn, "{text}");
    assert!(
        status
            .fact_value("error")
            .unwrap()
            .starts_with(&format!("could not connect to {gone}")),
        "{text}"
    );
    assert!(
        status
            .fix
            .as_deref()
            .unwrap()
            .starts_with(&format!("the status page http://{gone} could not be read")),
        "{text}"
    );
}

#[tokio::test]
async fn a_status_url_that_is_not_a_url_is_a_usage_error() {
    let err = opts("http://127.0.0.1:1/")
        .with_status_url("status.example.com")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("--status-url `status.example.com`: no scheme"),
        "{err}"
    );
}

#[tokio::test]
async fn a_status_page_over_https_uses_the_same_roots_as_the_site() {
    let pki = Pki::private_ca(&["127.0.0.1"]).unwrap();
    let summary = all_operational();
    let page = https_server_with(&pki, move |asked| {
        if asked.path() == "/api/v2/summary.json" {
            Reply::new(
                200,
                &[("content-type", "application/json")],
                summary.clone(),
            )
        } else {
            Reply::new(404, &[], "")
        }
    })
    .await
    .unwrap();
    let site = healthy_site().await;
    let url = format!("https://127.0.0.1:{}", page.port());
    // Trusted with the private CA, as the site would be.
    let mut o = opts(&format!("http://{site}/"))
        .with_status_url(&url)
        .unwrap();
    o.add_ca_pem(pki.ca_pem.as_bytes()).unwrap();
    let r = run(o).await;
    assert_eq!(
        r.step("status").unwrap().status,
        Status::Ok,
        "{}",
        render_text(&r)
    );
    // Without it, the certificate is refused in the TLS step's words, and the step warns.
    let o = opts(&format!("http://{site}/"))
        .with_status_url(&url)
        .unwrap();
    let r = run(o).await;
    let status = r.step("status").unwrap();
    assert_eq!(status.status, Status::Warn, "{}", render_text(&r));
    assert!(
        status
            .fact_value("error")
            .unwrap()
            .starts_with("TLS with 127.0.0.1 failed: unknown issuer"),
        "{}",
        render_text(&r)
    );
}

#[tokio::test]
async fn a_page_the_trace_names_without_a_statuspage_api_is_skipped() {
    let site = http_server(|asked| match asked.path() {
        "/.well-known/doorman/trace" => Reply::new(
            200,
            &[("content-type", "application/json")],
            r#"{"ip":"127.0.0.1","status_page":"/status"}"#,
        ),
        "/status" => Reply::new(200, &[("content-type", "text/html")], "<h1>All good</h1>"),
        p if p.starts_with("/status/") => Reply::new(404, &[], ""),
        _ => Reply::new(200, &[("date", &http_date(0))], "hello"),
    })
    .await
    .unwrap();
    let r = run(opts(&format!("http://{site}/"))).await;
    let text = render_text(&r);
    assert!(r.passed(), "{text}");
    let status = r.step("status").unwrap();
    assert_eq!(status.status, Status::Skip, "{text}");
    assert_eq!(
        status.fact_value("skipped"),
        Some(
            format!(
                "http://{site}/status has no Statuspage API (404 from it): open it in a browser"
            )
            .as_str()
        )
    );
}
