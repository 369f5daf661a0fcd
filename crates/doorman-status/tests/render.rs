//! Renderers over a snapshot read from a real store: Statuspage JSON against a fixture of the
//! documented shape, HTML self-containment and escaping, Atom well-formedness, badge colours.

use doorman_common::when::{DAY_MS, HOUR_MS};
use doorman_status::{
    ComponentSpec, ComponentStatus, Endpoint, Impact, IncidentStatus, Mitigation, NewIncident,
    NewMaintenance, PageInfo, Snapshot, SnapshotOptions, StatusStore, badge,
};
use serde_json::Value;

const DAY0: i64 = 20_777 * DAY_MS;
const NOW: i64 = DAY0 + 14 * HOUR_MS + 5 * 60_000;
const HOSTILE: &str = "<script>alert('x')</script> & \"Co\" <img src=https://evil.example/x>";

fn snapshot(dir: &std::path::Path) -> Snapshot {
    let store = StatusStore::open(dir).unwrap();
    for (i, (id, name, group)) in [
        ("api", "API", Some("Core")),
        ("chat", HOSTILE, Some("Core")),
        ("web", "Website", None),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .upsert_component(
                &ComponentSpec {
                    id: id.into(),
                    name: name.into(),
                    group: group.map(Into::into),
                    description: Some(format!("{name} description")),
                    show_on_page: true,
                    position: i as i64,
                },
                DAY0 - 100 * DAY_MS,
            )
            .unwrap();
    }
    let hidden = ComponentSpec {
        id: "internal".into(),
        name: "Internal".into(),
        group: None,
        description: None,
        show_on_page: false,
        position: 9,
    };
    store.upsert_component(&hidden, DAY0).unwrap();
    store
        .set_component_status("internal", ComponentStatus::MajorOutage, DAY0)
        .unwrap();
    store
        .set_component_status("api", ComponentStatus::PartialOutage, NOW - 180_000)
        .unwrap();
    for d in 0..5 {
        for h in 0..24 {
            let at = DAY0 - d * DAY_MS + h * HOUR_MS;
            if at <= NOW {
                store
                    .record_check("api", at, h != 3, 50 + h as u64)
                    .unwrap();
                store.record_check("web", at, true, 20).unwrap();
            }
        }
    }
    let inc = store
        .open_incident(
            &NewIncident {
                name: format!("Errors on {HOSTILE}"),
                status: IncidentStatus::Investigating,
                impact: Impact::Major,
                body: "Looking </p><script>x</script>".into(),
                components: vec!["api".into(), "chat".into()],
            },
            NOW - 180_000,
        )
        .unwrap();
    store
        .update_incident(
            inc.id,
            IncidentStatus::Identified,
            "A bad deploy.",
            None,
            NOW - 60_000,
        )
        .unwrap();
    let old = store
        .open_incident(
            &NewIncident {
                name: "Slow website".into(),
                status: IncidentStatus::Investigating,
                impact: Impact::Minor,
                body: "Slow.".into(),
                components: vec!["web".into()],
            },
            DAY0 - 3 * DAY_MS,
        )
        .unwrap();
    store
        .resolve_incident(old.id, "Fixed.", DAY0 - 3 * DAY_MS + HOUR_MS)
        .unwrap();
    store
        .schedule_maintenance(
            &NewMaintenance {
                name: "Database upgrade".into(),
                body: "Read-only for an hour.".into(),
                scheduled_for_ms: DAY0 + 2 * DAY_MS,
                scheduled_until_ms: DAY0 + 2 * DAY_MS + HOUR_MS,
                components: vec!["web".into()],
            },
            DAY0,
        )
        .unwrap();
    let mitigations = vec![Mitigation {
        what: format!("challenge for AS9009 {HOSTILE}"),
        since_ms: DAY0 + 14 * HOUR_MS + 2 * 60_000,
        until_ms: None,
    }];
    store
        .snapshot(
            PageInfo {
                id: "doorman".into(),
                name: "Example status".into(),
                url: "https://example.com/status".into(),
            },
            NOW,
            mitigations,
            &SnapshotOptions::default(),
        )
        .unwrap()
}

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/statuspage_summary.json")).unwrap()
}

/// Every key of `expected` is present in `got` with a value of the same JSON type (null in
/// either counts as compatible: Statuspage's nullable fields).
fn same_shape(expected: &Value, got: &Value, at: &str) {
    let (Value::Object(e), Value::Object(g)) = (expected, got) else {
        panic!("{at}: not objects");
    };
    for (k, ev) in e {
        let gv = g
            .get(k)
            .unwrap_or_else(|| panic!("{at}.{k} missing in {got}"));
        let kind = |v: &Value| match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !ev.is_null() && !gv.is_null() {
            assert_eq!(kind(ev), kind(gv), "{at}.{k}: {ev} vs {gv}");
        }
    }
}

fn one_of(v: &Value, allowed: &[&str], at: &str) {
    let s = v.as_str().unwrap_or_else(|| panic!("{at} not a string"));
    assert!(allowed.contains(&s), "{at} = {s:?} not in {allowed:?}");
}

const COMPONENT: &[&str] = &[
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];
const INCIDENT: &[&str] = &[
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "postmortem",
];
const MAINTENANCE: &[&str] = &["scheduled", "in_progress", "verifying", "completed"];
const IMPACT: &[&str] = &["none", "minor", "major", "critical", "maintenance"];
const INDICATOR: &[&str] = &["none", "minor", "major", "critical", "maintenance"];

#[test]
fn summary_matches_statuspage_shape_and_enums() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let got = doorman_status::json::summary(&snap);
    let fx = fixture();
    same_shape(&fx, &got, "summary");
    same_shape(&fx["page"], &got["page"], "page");
    same_shape(&fx["status"], &got["status"], "status");
    one_of(&got["status"]["indicator"], INDICATOR, "status.indicator");
    // api is partial_outage, the incident is major: "major".
    assert_eq!(got["status"]["indicator"], "major");
    assert_eq!(got["status"]["description"], "Partial System Outage");

    let comps = got["components"].as_array().unwrap();
    // A "Core" group entry, api, chat, web; the hidden component is absent.
    assert_eq!(comps.len(), 4);
    assert!(comps.iter().all(|c| c["id"] != "internal"));
    for c in comps {
        same_shape(&fx["components"][0], c, "component");
        one_of(&c["status"], COMPONENT, "component.status");
    }
    let group = &comps[0];
    assert_eq!(group["group"], true);
    assert_eq!(group["status"], "partial_outage");
    assert_eq!(group["components"], serde_json::json!(["api", "chat"]));
    assert_eq!(comps[1]["group_id"], group["id"]);

    let incidents = got["incidents"].as_array().unwrap();
    assert_eq!(
        incidents.len(),
        1,
        "summary lists unresolved incidents only"
    );
    for i in incidents {
        same_shape(&fx["incidents"][0], i, "incident");
        one_of(&i["status"], INCIDENT, "incident.status");
        one_of(&i["impact"], IMPACT, "incident.impact");
        for u in i["incident_updates"].as_array().unwrap() {
            same_shape(
                &fx["incidents"][0]["incident_updates"][0],
                u,
                "incident_update",
            );
            one_of(&u["status"], INCIDENT, "incident_update.status");
        }
    }
    assert_eq!(incidents[0]["incident_updates"][0]["status"], "identified");
    assert!(
        incidents[0]["shortlink"]
            .as_str()
            .unwrap()
            .starts_with("https://example.com/status/incidents/")
    );

    let maint = got["scheduled_maintenances"].as_array().unwrap();
    assert_eq!(maint.len(), 1);
    same_shape(&fx["scheduled_maintenances"][0], &maint[0], "maintenance");
    one_of(&maint[0]["status"], MAINTENANCE, "maintenance.status");
    assert_eq!(maint[0]["scheduled_for"], "2026-11-22T00:00:00.000Z");
}

#[test]
fn other_json_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let status = doorman_status::json::status(&snap);
    assert_eq!(
        status.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["page", "status"]
    );
    let page = status["page"].as_object().unwrap();
    for k in ["id", "name", "url", "updated_at"] {
        assert!(page.contains_key(k), "page.{k}");
    }
    let incidents = doorman_status::json::incidents(&snap);
    let list = incidents["incidents"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["status"], "resolved");
    assert!(list[1]["resolved_at"].is_string());
    assert!(list[0]["resolved_at"].is_null());
    let comps = doorman_status::json::components(&snap);
    assert_eq!(comps["components"].as_array().unwrap().len(), 4);
    // The endpoint table serves the same bodies with JSON content types.
    let r = Endpoint::parse("/api/v2/status.json")
        .unwrap()
        .render(&snap)
        .unwrap();
    assert_eq!(r.content_type, "application/json");
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap(), status);
}

#[test]
fn html_is_self_contained_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let html = doorman_status::html::page(&snap);
    // No external asset or link: no src, no script, no CSS url(), and every href is a path on
    // this host. (The hostile name's "https://evil…" survives only as escaped text.)
    let outside_text = html.replace("&lt;img src=https://evil.example/x&gt;", "");
    for needle in ["src=", "<script", "url(", "=\"http", "=\"//", "<img"] {
        assert!(
            !outside_text.contains(needle),
            "{needle:?} found in the page"
        );
    }
    for (i, _) in html.match_indices("href=\"") {
        let target = &html[i + 6..];
        assert!(
            target.starts_with('/') && !target.starts_with("//"),
            "external href {:.40}",
            target
        );
    }
    assert!(!outside_text.contains("https://") && !outside_text.contains("http://"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("&lt;/p&gt;&lt;script&gt;x&lt;/script&gt;"));
    // Sections.
    assert!(html.contains("Partial System Outage"));
    assert!(html.contains("Mitigations in force"));
    assert!(html.contains("challenge for AS9009"));
    assert!(html.contains("since 14:02 UTC"));
    assert!(html.contains("Active incidents"));
    assert!(html.contains("Scheduled maintenance"));
    assert!(html.contains("Database upgrade"));
    assert!(html.contains("Past incidents"));
    // 90 bars per public component, with tooltips; some days have no data.
    assert_eq!(html.matches("<rect ").count(), 3 * 90);
    assert!(html.contains("2026-11-20: "));
    assert!(html.contains(": no data</title>"));
    assert!(html.contains("<polyline"));
    assert!(!html.contains("Internal"));
    // Relative links only.
    assert!(html.contains("href=\"/status/feed.atom\""));

    let one = doorman_status::html::incident_page(&snap, snap.incidents[0].id).unwrap();
    assert!(one.contains("A bad deploy."));
    assert!(
        !one.replace("&lt;img src=https://evil.example/x&gt;", "")
            .contains("https://")
    );
    assert!(doorman_status::html::incident_page(&snap, 9999).is_none());
}

/// A minimal XML check: tags balance, attributes are quoted, no raw `<` or `&` in text.
fn check_xml(doc: &str) -> usize {
    let body = doc
        .strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n")
        .expect("XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut elements = 0;
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        assert!(!text.contains('>'), "raw > in text: {text}");
        for (i, _) in text.match_indices('&') {
            let ent = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "bad entity at {ent:.20}"
            );
        }
        let gt = rest[lt..].find('>').expect("unclosed tag") + lt;
        let tag = &rest[lt + 1..gt];
        assert!(!tag.contains('<'), "< inside tag {tag}");
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in {tag}"
        );
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap().to_owned());
            elements += 1;
        } else {
            elements += 1;
        }
        rest = &rest[gt + 1..];
    }
    assert!(rest.trim().is_empty());
    assert!(stack.is_empty(), "unclosed {stack:?}");
    elements
}

#[test]
fn atom_feed_is_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let feed = doorman_status::atom::feed(&snap);
    assert!(check_xml(&feed) > 10);
    assert_eq!(feed.matches("<entry>").count(), 2);
    assert!(feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    assert!(feed.contains("tag:doorman,2026:doorman:incident:"));
    assert!(feed.contains("<updated>2026-11-20T14:04:00.000Z</updated>"));
    // The hostile text is escaped twice inside the HTML content, once in titles.
    assert!(feed.contains("&amp;lt;script&amp;gt;"));
    assert!(!feed.contains("<script"));
}

#[test]
fn badge_colours_follow_the_state() {
    let cases = [
        (ComponentStatus::Operational, "operational", "#1a7f37"),
        (ComponentStatus::DegradedPerformance, "degraded", "#9a6700"),
        (ComponentStatus::PartialOutage, "partial outage", "#bc4c00"),
        (ComponentStatus::MajorOutage, "major outage", "#cf222e"),
        (ComponentStatus::UnderMaintenance, "maintenance", "#0969da"),
    ];
    for (status, text, colour) in cases {
        let svg = badge::component("status", status);
        assert!(svg.contains(&format!(">{text}</text>")), "{svg}");
        assert!(svg.contains(&format!("fill=\"{colour}\"")), "{svg}");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    }
    let svg = badge::component("<b>", ComponentStatus::Operational);
    assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));

    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());
    let overall = badge::overall(&snap);
    assert!(overall.contains(">partial outage</text>"));
    assert!(overall.contains("#bc4c00"));
    let r = Endpoint::Badge.render(&snap).unwrap();
    assert_eq!(r.content_type, "image/svg+xml");
}
