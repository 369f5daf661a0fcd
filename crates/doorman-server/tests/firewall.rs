//! The firewall through the real server: each code in HTML and JSON with the right facts,
//! allow-over-block, shadow rules, list files edited under a running server, and the events that
//! `doorman explain` reads.

use std::path::Path;
use std::time::Duration;

use doorman_intel::mmdb_writer::{MmdbWriter, ipinfo_lite};
use doorman_test_support::client::*;
use doorman_test_support::gateway::*;
use serde_json::Value;

/// A tiny IPinfo-Lite-style database covering the documentation ranges the tests use.
fn write_geo(path: &Path) {
    let mut w = MmdbWriter::new("ipinfo lite.mmdb");
    w.insert(
        "198.51.100.0/24",
        ipinfo_lite("NL", "Netherlands", "EU", 9009, "M247 Europe SRL"),
    )
    .unwrap();
    w.insert(
        "203.0.113.0/24",
        ipinfo_lite("US", "United States", "NA", 64500, "Example Transit"),
    )
    .unwrap();
    w.insert(
        "192.0.2.0/25",
        ipinfo_lite("DE", "Germany", "EU", 64502, "Office ISP"),
    )
    .unwrap();
    w.insert(
        "192.0.2.128/25",
        ipinfo_lite("RU", "Russia", "EU", 64501, "Example RU"),
    )
    .unwrap();
    w.insert(
        "100.64.0.0/16",
        ipinfo_lite("FR", "France", "EU", 64999, "Blocked Networks SA"),
    )
    .unwrap();
    w.write_to(path).unwrap();
}

async fn start_firewall() -> Env {
    start_with(|data, origin| {
        let dir = data.parent().unwrap();
        write_geo(&dir.join("geo.mmdb"));
        std::fs::write(
            dir.join("abuse.txt"),
            "# abuse feed\n203.0.113.0/25\nnot-an-ip\n",
        )
        .unwrap();
        base_config(
            data,
            origin,
            "",
            r#"
[client_ip]
trusted_proxies = ["127.0.0.1/32"]

[intel]
db = "geo.mmdb"

[[lists]]
name = "abuse_feed"
kind = "ip"
file = "abuse.txt"
description = "addresses reported for credential stuffing"

[[lists]]
name = "vpn_exits"
kind = "ip"
class = "vpn"
items = ["198.51.100.0/24"]

[[access_rules]]
id = "abuse"
list = "abuse_feed"
action = "block"

[[access_rules]]
id = "partner"
ip = "203.0.113.9"
action = "allow"

[[access_rules]]
id = "sanctions"
country = "RU"
action = "block"

[[access_rules]]
id = "bad-network"
asn = "AS64999"
action = "block"
note = "Contact your provider: its network is blocked after repeated abuse."

[[rules]]
id = "admin-outside"
title = "Admin pages from outside the office"
expression = '''starts_with(http.request.uri.path, "/admin")
  and not ip.src in {192.0.2.0/25}'''
action = "block"
remedies = ["Connect through the office VPN."]

[[rules]]
id = "no-vpn-plugins"
title = "Plugins are not available through VPNs"
expression = 'starts_with(http.request.uri.path, "/plugins") and doorman.ip.vpn'
action = "block"

[[rules]]
id = "trial-block-weather"
title = "Weather plugin trial block"
expression = 'http.request.uri.path eq "/plugins/weather"'
action = "block"
mode = "shadow"
"#,
        )
    })
    .await
}

async fn json_from(env: &Env, path: &str, client: &str) -> (u16, Value, String) {
    let (resp, body) = get(
        &env.url(path),
        &[("x-forwarded-for", client), ("accept", "application/json")],
    )
    .await;
    let ray = header(&resp, "doorman-ray").to_string();
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (resp.status().as_u16(), v, ray)
}

#[tokio::test]
async fn each_cause_has_its_code_and_facts_in_json_and_html() {
    let env = start_firewall().await;

    let (status, v, _) = json_from(&env, "/", "203.0.113.7").await;
    assert_eq!(status, 403);
    assert_eq!(v["code"], "1006");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("203.0.113.7 is on the list `abuse_feed` (updated "),
        "{v}"
    );
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("credential stuffing"),
        "{v}"
    );

    let (status, v, _) = json_from(&env, "/", "100.64.3.4").await;
    assert_eq!(status, 403);
    assert_eq!(v["code"], "1005");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("AS64999 (Blocked Networks SA)"),
        "{v}"
    );
    assert_eq!(
        v["remedies"][0],
        "Contact your provider: its network is blocked after repeated abuse."
    );

    let (status, v, _) = json_from(&env, "/", "192.0.2.200").await;
    assert_eq!(status, 403);
    assert_eq!(v["code"], "1009");
    assert_eq!(
        v["detail"],
        "Requests from Russia (RU) are blocked by this site."
    );

    let (status, v, _) = json_from(&env, "/admin/users", "198.51.100.20").await;
    assert_eq!(status, 403);
    assert_eq!(v["code"], "1020");
    assert_eq!(v["title"], "Blocked by a firewall rule");
    assert_eq!(v["rule_title"], "Admin pages from outside the office");
    assert_eq!(v["facts"]["Path"], "/admin/users");
    assert_eq!(v["remedies"][0], "Connect through the office VPN.");

    // The same denials as pages: the code, the cause and the facts a browser user sees.
    let pages = [
        (
            "/",
            "203.0.113.7",
            "1006",
            "is on the list <code>abuse_feed</code>",
        ),
        ("/", "100.64.3.4", "1005", "AS64999 (Blocked Networks SA)"),
        (
            "/",
            "192.0.2.200",
            "1009",
            "Requests from Russia (RU) are blocked",
        ),
        (
            "/admin/users",
            "198.51.100.20",
            "1020",
            "Admin pages from outside the office",
        ),
    ];
    for (path, client, code, words) in pages {
        let (resp, body) = get(
            &env.url(path),
            &[("x-forwarded-for", client), ("accept", "text/html")],
        )
        .await;
        assert_eq!(resp.status(), 403);
        assert!(header(&resp, "content-type").starts_with("text/html"));
        assert_eq!(header(&resp, "doorman-code"), code);
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains(&format!("Error {code}")), "{html}");
        assert!(html.contains(words), "{code}: {html}");
        assert!(
            html.contains(client),
            "{code}: the page shows the IP as seen"
        );
    }

    // Office clients pass.
    let (resp, _) = get(&env.url("/admin"), &[("x-forwarded-for", "192.0.2.10")]).await;
    assert_ne!(resp.status(), 403);
    env.stop().await;
}

#[tokio::test]
async fn a_vpn_range_is_named_with_its_network_and_fix() {
    let env = start_firewall().await;
    let (status, v, _) = json_from(&env, "/plugins/weather?city=Oslo", "198.51.100.20").await;
    assert_eq!(status, 403);
    assert_eq!(v["code"], "1020");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains("through AS9009 (M247 Europe SRL)"),
        "{detail}"
    );
    assert!(detail.contains("`vpn_exits`"), "{detail}");
    assert!(
        v["remedies"][0]
            .as_str()
            .unwrap()
            .starts_with("Disconnect the VPN"),
        "{v}"
    );
    env.stop().await;
}

#[tokio::test]
async fn allow_wins_over_block() {
    let env = start_firewall().await;
    // 203.0.113.9 is inside the blocked abuse range, but an allow rule names it.
    let (resp, _) = get(
        &env.url("/plugins/weather?city=Rome"),
        &[("x-forwarded-for", "203.0.113.9")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    env.stop().await;
}

#[tokio::test]
async fn shadow_rules_change_nothing_but_are_logged_and_explainable() {
    let env = start_firewall().await;
    let (resp, _) = get(
        &env.url("/plugins/weather?city=Rome"),
        &[("x-forwarded-for", "192.0.2.10")],
    )
    .await;
    assert_eq!(resp.status(), 200, "a shadow rule must not block");
    let ray = header(&resp, "doorman-ray").to_string();
    let rec = env.event(&ray).await;
    assert_eq!(rec.action, doorman_store::Action::Shadow);
    assert_eq!(rec.rule.as_deref(), Some("rule:trial-block-weather"));
    assert_eq!(rec.code, "1020");
    assert_eq!(rec.country.as_deref(), Some("DE"));
    assert_eq!(rec.asn, Some(64502));
    env.stop().await;
}

#[tokio::test]
async fn a_1020_event_names_the_rule_and_the_matching_conditions() {
    let env = start_firewall().await;
    let (_, _, ray) = json_from(&env, "/admin/x", "198.51.100.20").await;
    let rec = env.event(&ray).await;
    assert_eq!(rec.rule.as_deref(), Some("rule:admin-outside"));
    let trace: Vec<String> = rec
        .trace
        .iter()
        .map(|t| format!("{}: {}", t.phase, t.outcome))
        .collect();
    let line = trace
        .iter()
        .find(|l| l.starts_with("custom_rules"))
        .expect("custom rules step");
    assert!(
        line.contains("rule `admin-outside` (block) matched"),
        "{line}"
    );
    assert!(
        line.contains("starts_with(http.request.uri.path, \"/admin\")"),
        "{line}"
    );
    assert!(line.contains("not ip.src in {192.0.2.0/25}"), "{line}");
    env.stop().await;
}

#[tokio::test]
async fn list_file_edits_take_effect_without_restart_and_bad_lines_are_reported() {
    let env = start_firewall().await;
    // The bad line is a warning with file:line; the rest of the list loaded.
    let (report, ok) = doorman_config::check_report(&env.config_path);
    assert!(ok, "{report}");
    assert!(report.contains("abuse.txt:3:1"), "{report}");
    let (status, _, _) = json_from(&env, "/", "203.0.113.7").await;
    assert_eq!(status, 403);

    // Add a new range to the file: blocked within a few seconds, no restart.
    let list = env.dir.path().join("abuse.txt");
    let before = std::fs::read_to_string(&list).unwrap();
    std::fs::write(&list, format!("{before}100.64.200.0/24\n")).unwrap();
    let mut code = Value::Null;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, v, _) = json_from(&env, "/", "100.64.200.1").await;
        if v["code"] == "1006" {
            code = v["code"].clone();
            break;
        }
    }
    assert_eq!(code, "1006", "the edited list was not picked up");
    env.stop().await;
}
