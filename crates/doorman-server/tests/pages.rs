//! What people see (issue #14, "Phones and accessibility"), through the real gateway in front of
//! the demo origin: every kind of receipt it can be made to give here, the challenge page, the
//! status page with an incident, and the errors page.
//!
//! - `colours_in_the_pages_css_meet_wcag_aa` reads the CSS each page is served with and checks
//!   every text/background pair it can put on screen, light and dark, against WCAG AA.
//! - `pages_in_headless_chromium_on_a_desktop_and_a_phone` drives one Debian chromium through
//!   the DevTools protocol: each page at 1280×900 and 390×844 (and dark at 390), screenshots in
//!   `target/tmp/pages/<name>-<width>[-dark].png` (whole page, so a phone's screenshot is as
//!   tall as the page) for people to look at, and what a DOM can tell: one `h1`, the site's
//!   name, no word broken across lines, no card touching a phone's edges, nothing wider than
//!   the screen, the challenge's live region, and the contrast of every visible text as the
//!   browser computed its colours (each status banner and state colour in turn).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use doorman_test_support::browser::{self, Browser};
use doorman_test_support::config::LOOPBACK_LISTENERS;
use doorman_test_support::{client, gateway};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const SITE: &str = "Example Chat";

/// A gateway set up to refuse in every way a browser can be refused here. No catch-all route,
/// so that `/nowhere` has none; `/app` is the demo origin behind the firewall and limits.
async fn gateway() -> gateway::Env {
    let refused = client::closed_addr();
    let down = client::closed_addr();
    gateway::start_with(move |data, origin| {
        history(data);
        format!(
            r#"
[server]
node_name = "test"
data_dir = "{data}"
shutdown_grace_secs = 1

{LOOPBACK_LISTENERS}

[site]
name = "{SITE}"
support = "help@chat.example"

# The test (and chromium) are the trusted proxy: X-Forwarded-For picks the client's address,
# so one page can come from a blocked network.
[client_ip]
trusted_proxies = ["127.0.0.1/32"]

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

# Hard enough (about 67 million attempts) that the page is still at work when it is
# photographed, and never comes back cleared.
[challenge]
difficulty = 26
clock_skew_demo = true

[[upstreams]]
name = "chat"
targets = ["{origin}"]
health_check = {{ path = "/healthz", interval_ms = 200, timeout_ms = 500, fall = 1, rise = 1 }}

[[upstreams]]
name = "reports"
targets = ["{refused}"]
connect_timeout_ms = 300

[[upstreams]]
name = "billing"
targets = ["{down}"]
connect_timeout_ms = 300
health_check = {{ path = "/healthz", interval_ms = 100, timeout_ms = 300, fall = 1, rise = 1 }}

[[routes]]
name = "app"
path_prefix = "/app"
upstream = "chat"

[[routes]]
name = "admin"
path_prefix = "/admin"
upstream = "chat"
access = "closed"
title = "The admin area is for staff"
reason = "The admin pages of Example Chat are only open to the staff network."
remedies = ["Connect to the staff VPN, then reload this page.", "If you are not staff, the help centre has what you need."]

[[routes]]
name = "api"
path_prefix = "/v1"
upstream = "chat"
auth = {{ methods = ["api_key"] }}

[[routes]]
name = "reports"
path_prefix = "/reports"
upstream = "reports"

[[routes]]
name = "billing"
path_prefix = "/billing"
upstream = "billing"

[[access_rules]]
id = "abuse-range"
ip = "203.0.113.0/24"
action = "block"
note = "Ask your network's administrator why it was reported for abuse."

[[rules]]
id = "no-bulk-downloads"
title = "Bulk downloads are not allowed"
expression = 'starts_with(http.request.uri.path, "/app/download")'
action = "block"
remedies = ["Download one conversation at a time from its own page."]

[[rules]]
id = "check-browsers"
title = "Checking browsers"
expression = 'starts_with(http.request.uri.path, "/app/guarded")'
action = "challenge"

[[rate_limits]]
id = "weather"
description = "Weather lookups"
expression = 'starts_with(http.request.uri.path, "/app/weather")'
characteristics = ["ip.src"]
requests_per_period = 1
period_secs = 3600
"#,
            data = data.display()
        )
    })
    .await
}

/// Weeks of health checks for the chat component and a resolved incident, written before the
/// gateway starts, so that the status page shows what it shows in real life: bars of several
/// colours, a response-time line over a day, past incidents.
fn history(data: &std::path::Path) {
    use doorman_common::when::{DAY_MS, HOUR_MS};
    use doorman_status::{ComponentSpec, Impact, IncidentStatus, NewIncident, StatusStore};
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let store = StatusStore::open(data).unwrap();
    let spec = ComponentSpec {
        id: "chat".into(),
        name: "Chat API".into(),
        group: None,
        description: Some("Conversations and completions".into()),
        show_on_page: true,
        position: 0,
    };
    store.upsert_component(&spec, now - 60 * DAY_MS).unwrap();
    for day in 1..=40 {
        let start = now - day * DAY_MS;
        // One bad day (red), one day with 1 failure in 200 (yellow-green), the rest clean.
        let (checks, failures) = match day {
            12 => (4, 1),
            5 => (200, 1),
            _ => (4, 0),
        };
        for i in 0..checks {
            let at = start + i * (DAY_MS / checks);
            store.record_check("chat", at, i >= failures, 30).unwrap();
        }
    }
    for hour in 1..24 {
        let latency = 20 + (hour * 7 % 25) as u64;
        store
            .record_check("chat", now - hour * HOUR_MS, true, latency)
            .unwrap();
    }
    let past = store
        .open_incident(
            &NewIncident {
                name: "Slow answers from the chat API".into(),
                status: IncidentStatus::Investigating,
                impact: Impact::Minor,
                body: "Some answers take over 10 s; we are looking into it.".into(),
                components: vec!["chat".into()],
            },
            now - 3 * DAY_MS,
        )
        .unwrap();
    store
        .update_incident(
            past.id,
            IncidentStatus::Resolved,
            "A database index was missing; answers are fast again.",
            None,
            now - 3 * DAY_MS + 40 * 60_000,
        )
        .unwrap();
}

/// Waits until the status page shows the billing outage and its automatic incident.
async fn billing_incident(env: &gateway::Env) -> String {
    for _ in 0..100 {
        let (_, body) = client::get(&env.url("/status/api/v2/summary.json"), &[]).await;
        let summary: Value = serde_json::from_slice(&body).unwrap();
        if let Some(id) = summary["incidents"][0]["id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no automatic incident for billing");
}

/// The pages a browser is shown: name, path, expected status and `doorman-code`, extra request
/// headers.
struct PageCase {
    name: &'static str,
    path: String,
    status: u16,
    code: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
}

fn case(
    name: &'static str,
    path: &str,
    status: u16,
    code: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
) -> PageCase {
    PageCase {
        name,
        path: path.to_owned(),
        status,
        code,
        headers,
    }
}

fn cases(incident_id: &str) -> Vec<PageCase> {
    const BLOCKED_IP: &[(&str, &str)] = &[("x-forwarded-for", "203.0.113.9")];
    vec![
        case(
            "route-closed",
            "/admin/users",
            403,
            Some("ROUTE_CLOSED"),
            &[],
        ),
        // A long path without spaces: it must wrap inside the card, not widen the page.
        case(
            "firewall-1020",
            "/app/download/all-conversations-including-archived-rooms-2026-12-08T00-00-00Z.zip",
            403,
            Some("1020"),
            &[],
        ),
        case("ip-1006", "/app/", 403, Some("1006"), BLOCKED_IP),
        case("no-route", "/nowhere", 404, Some("NO_ROUTE"), &[]),
        case(
            "rate-limit-1015",
            "/app/weather?city=Lisbon",
            429,
            Some("1015"),
            &[],
        ),
        case(
            "key-missing",
            "/v1/chat/completions",
            401,
            Some("KEY_MISSING"),
            &[],
        ),
        case(
            "upstream-502",
            "/reports/2026",
            502,
            Some("UPSTREAM_REFUSED"),
            &[],
        ),
        case(
            "upstream-503",
            "/billing/invoices",
            503,
            Some("UPSTREAM_DOWN"),
            &[],
        ),
        case(
            "path-ambiguous",
            "/app/files/a%2Fb",
            400,
            Some("PATH_AMBIGUOUS"),
            &[],
        ),
        case("challenge", "/app/guarded/page", 403, None, &[]),
        case(
            "challenge-clock",
            "/app/guarded/page?doorman_clock_skew_s=420",
            403,
            None,
            &[],
        ),
        case("status", "/status", 200, None, &[]),
        case(
            "status-incident",
            &format!("/status/incidents/{incident_id}"),
            200,
            None,
            &[],
        ),
        case("errors", "/.well-known/doorman/errors", 200, None, &[]),
    ]
}

/// GETs a page as a browser asks for it and checks that it is the page meant.
async fn fetch(env: &gateway::Env, c: &PageCase) -> String {
    let mut headers = vec![("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    headers.extend_from_slice(c.headers);
    if c.status == 429 {
        // The limit's one request; the next is refused.
        client::get(&env.url(&c.path), &headers).await;
    }
    let (resp, body) = client::get(&env.url(&c.path), &headers).await;
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(resp.status(), c.status, "{}: {body}", c.name);
    if let Some(code) = c.code {
        assert_eq!(client::header(&resp, "doorman-code"), code, "{}", c.name);
    }
    body
}

// ---- WCAG contrast ----------------------------------------------------------------------------

type Rgb = [f64; 3];

/// WCAG 2.x relative luminance of an sRGB colour (components 0–255).
fn luminance(c: Rgb) -> f64 {
    let lin = |v: f64| {
        let v = v / 255.0;
        if v <= 0.040_45 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
}

/// WCAG contrast ratio, 1 to 21.
fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

fn hex(s: &str) -> Option<Rgb> {
    let h = s.strip_prefix('#')?;
    let digits: Vec<u8> = match h.len() {
        3 => h.bytes().flat_map(|b| [b, b]).collect(),
        6 => h.bytes().collect(),
        _ => return None,
    };
    let byte = |i: usize| u8::from_str_radix(std::str::from_utf8(&digits[i..i + 2]).ok()?, 16).ok();
    Some([byte(0)?.into(), byte(2)?.into(), byte(4)?.into()])
}

fn css_hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0] as u8, c[1] as u8, c[2] as u8)
}

/// One CSS rule: its selectors, its declarations, and whether it applies only in dark mode.
struct Rule {
    dark: bool,
    selectors: Vec<String>,
    decls: Vec<(String, String)>,
}

/// A CSS reader for the pages' own style sheets: rules and `@media` blocks, no nesting beyond
/// that, no comments. `@media (prefers-color-scheme:dark)` rules are dark-only; other media
/// blocks (widths) are taken to apply, since a phone sees them.
fn parse_css(css: &str, dark: bool, rules: &mut Vec<Rule>) {
    let mut rest = css;
    while let Some(open) = rest.find('{') {
        let prelude = rest[..open].trim();
        let body_start = open + 1;
        let mut depth = 1;
        let mut end = body_start;
        for (i, ch) in rest[body_start..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = body_start + i;
                break;
            }
        }
        assert_eq!(depth, 0, "unbalanced braces in {css}");
        let body = &rest[body_start..end];
        if let Some(media) = prelude.strip_prefix("@media") {
            let media: String = media.chars().filter(|c| !c.is_whitespace()).collect();
            parse_css(
                body,
                dark || media.contains("prefers-color-scheme:dark"),
                rules,
            );
        } else {
            assert!(!prelude.starts_with('@'), "unexpected {prelude}");
            rules.push(Rule {
                dark,
                selectors: prelude.split(',').map(|s| s.trim().to_owned()).collect(),
                decls: body
                    .split(';')
                    .filter_map(|d| d.split_once(':'))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .collect(),
            });
        }
        rest = &rest[end + 1..];
    }
}

/// The `<style>` of a page.
fn style_of(html: &str) -> String {
    let start = html.find("<style").expect("a <style> element");
    let start = start + html[start..].find('>').unwrap() + 1;
    let end = start + html[start..].find("</style>").unwrap();
    html[start..end].to_owned()
}

const TEXT: f64 = 4.5;
/// Graphics that carry meaning (the response-time line): WCAG 1.4.11's 3:1.
const GRAPHIC: f64 = 3.0;

/// Which colour sits on which background in a page, as selectors of its CSS; the minimum ratio.
/// A text that sets no colour of its own inherits `body`'s, so it is written as `body`.
struct Pairs(&'static [(&'static str, &'static str, f64)]);

/// Receipts and the errors page (render.rs's STYLE): everything is inside the `main` card; the
/// Ray ID's `code` sits in the footer, operator text's `code` in the body text.
const RECEIPT: Pairs = Pairs(&[
    ("body", "body", TEXT),
    ("body", "main", TEXT),
    (".code", "main", TEXT),
    ("dt", "main", TEXT),
    ("footer", "main", TEXT),
    ("a", "main", TEXT),
    ("body", "code", TEXT),
    ("footer", "code", TEXT),
]);

/// The challenge page: the receipts' look and the warning box.
const CHALLENGE: Pairs = Pairs(&[
    ("body", "body", TEXT),
    ("body", "main", TEXT),
    (".code", "main", TEXT),
    ("dt", "main", TEXT),
    ("footer", "main", TEXT),
    ("a", "main", TEXT),
    ("body", "code", TEXT),
    ("footer", "code", TEXT),
    ("body", ".warn", TEXT),
]);

/// The status page: headings, groups, footer and its links on the page background; cards with
/// state words, muted lines and incident links; white text on each banner colour.
const STATUS: Pairs = Pairs(&[
    ("body", "body", TEXT),
    ("a", "body", TEXT),
    (".muted", "body", TEXT),
    ("footer", "body", TEXT),
    ("body", ".card", TEXT),
    ("a", ".card", TEXT),
    (".muted", ".card", TEXT),
    (".s-operational", ".card", TEXT),
    (".s-degraded_performance", ".card", TEXT),
    (".s-partial_outage", ".card", TEXT),
    (".s-major_outage", ".card", TEXT),
    (".s-under_maintenance", ".card", TEXT),
    (".banner", ".i-none", TEXT),
    (".banner", ".i-maintenance", TEXT),
    (".banner", ".i-minor", TEXT),
    (".banner", ".i-major", TEXT),
    (".banner", ".i-critical", TEXT),
    (".spark", ".card", GRAPHIC),
]);

/// The colour a selector's own rules give `property` (`color` or the background) in a scheme;
/// the last rule wins, as in the cascade among equal selectors.
fn colour(rules: &[Rule], selector: &str, background: bool, dark: bool) -> Option<Rgb> {
    let mut found = None;
    for r in rules.iter().filter(|r| !r.dark || dark) {
        if !r.selectors.iter().any(|s| s == selector) {
            continue;
        }
        for (k, v) in &r.decls {
            let wanted = if background {
                k == "background" || k == "background-color"
            } else {
                k == "color"
            };
            if wanted {
                let token = v.split_whitespace().find(|t| t.starts_with('#'));
                found =
                    Some(token.and_then(hex).unwrap_or_else(|| {
                        panic!("{selector} {{{k}:{v}}}: write colours as #hex")
                    }));
            }
        }
    }
    found
}

/// Checks a page's CSS against its pairs, light and dark; returns the lines of a report.
fn check_pairs(page: &str, css: &str, pairs: &Pairs, failures: &mut Vec<String>) -> Vec<String> {
    let mut rules = Vec::new();
    parse_css(css, false, &mut rules);
    // Every colour the CSS sets is in a pair: a new colour cannot escape the check.
    for r in &rules {
        for (k, _) in &r.decls {
            let background = k == "background" || k == "background-color";
            if !(background || k == "color") {
                continue;
            }
            for s in &r.selectors {
                let listed = pairs
                    .0
                    .iter()
                    .any(|(fg, bg, _)| if background { bg == s } else { fg == s });
                assert!(
                    listed,
                    "{page}: `{s}` sets {k} but no pair of this test says what it sits on/under"
                );
            }
        }
    }
    let mut report = Vec::new();
    for dark in [false, true] {
        let scheme = if dark { "dark" } else { "light" };
        for (fg_sel, bg_sel, min) in pairs.0 {
            let fg = colour(&rules, fg_sel, false, dark)
                // Links with no colour of their own get the browser's.
                .or_else(|| (*fg_sel == "a").then_some([0.0, 0.0, 238.0]));
            let bg = colour(&rules, bg_sel, true, dark);
            let (Some(fg), Some(bg)) = (fg, bg) else {
                failures.push(format!(
                    "{page} {scheme}: {fg_sel} on {bg_sel}: a colour is missing"
                ));
                continue;
            };
            let ratio = contrast(fg, bg);
            let line = format!(
                "{page} {scheme}: {fg_sel} {} on {bg_sel} {}: {ratio:.2}:1",
                css_hex(fg),
                css_hex(bg)
            );
            if ratio < *min {
                failures.push(format!("{line}, below {min}:1"));
            }
            report.push(line);
        }
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colours_in_the_pages_css_meet_wcag_aa() {
    let env = gateway().await;
    let incident = billing_incident(&env).await;
    let all = cases(&incident);
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for (name, pairs) in [
        ("route-closed", &RECEIPT),
        ("errors", &RECEIPT),
        ("challenge", &CHALLENGE),
        ("status", &STATUS),
    ] {
        let c = all.iter().find(|c| c.name == name).unwrap();
        let html = fetch(&env, c).await;
        report.extend(check_pairs(name, &style_of(&html), pairs, &mut failures));
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "below WCAG AA:\n{}",
        failures.join("\n")
    );

    // The check can fail: white on the old green banner was 3.22:1.
    let mut old = Vec::new();
    check_pairs(
        "old status",
        ".banner{color:#fff}.i-none{background:#2da44e}",
        &Pairs(&[(".banner", ".i-none", TEXT)]),
        &mut old,
    );
    assert_eq!(old.len(), 2, "{old:?}");
    assert!(old[0].contains("3.22:1"), "{old:?}");
    env.stop().await;
}

#[test]
fn contrast_is_computed_as_wcag_says() {
    let white = hex("#fff").unwrap();
    assert!((contrast(white, hex("#000000").unwrap()) - 21.0).abs() < 1e-9);
    assert!((contrast(white, white) - 1.0).abs() < 1e-9);
    // WebAIM's checker: #767676 on white is 4.54:1, the lightest grey that passes AA.
    assert_eq!(
        format!("{:.2}", contrast(hex("#767676").unwrap(), white)),
        "4.54"
    );
    assert_eq!(
        format!("{:.2}", contrast(white, hex("#2da44e").unwrap())),
        "3.22"
    );
}

// ---- Chromium through the DevTools protocol --------------------------------------------------

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One page (target) of that browser, spoken to over the protocol's flat sessions.
struct Tab {
    ws: Socket,
    session: Option<String>,
    next_id: u64,
    events: Vec<Value>,
}

impl Tab {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        loop {
            let v = self.read().await;
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    async fn read(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .expect("chromium stopped answering")
                .expect("chromium closed the connection")
                .unwrap();
            if let Message::Text(t) = msg {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    async fn wait_event(&mut self, method: &str) {
        if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
            self.events.drain(..=i);
            return;
        }
        loop {
            let v = self.read().await;
            if v["method"] == method {
                self.events.clear();
                return;
            }
        }
    }

    async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        r["result"]["value"].clone()
    }

    async fn open(&mut self, url: &str) {
        self.events.clear();
        self.call("Page.navigate", json!({ "url": url })).await;
        self.wait_event("Page.loadEventFired").await;
    }
}

/// Starts chromium as the other browser tests do, with a DevTools port of the system's choosing,
/// and opens one tab.
async fn chromium() -> (Browser, Tab) {
    let (browser, url) =
        tokio::task::spawn_blocking(|| browser::chromium().arg("--hide-scrollbars").devtools())
            .await
            .unwrap();
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let mut tab = Tab {
        ws,
        session: None,
        next_id: 0,
        events: Vec::new(),
    };
    let target = tab
        .call("Target.createTarget", json!({ "url": "about:blank" }))
        .await;
    let attached = tab
        .call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        )
        .await;
    tab.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
    tab.call("Page.enable", json!({})).await;
    tab.call("Network.enable", json!({})).await;
    (browser, tab)
}

/// Every visible element with text of its own: its text, computed colour, the first opaque
/// background behind it, font size and weight.
const TEXTS: &str = r#"(() => {
  const rgb = (s) => {
    const m = s.match(/rgba?\(([^)]*)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (!el.getClientRects().length) continue;
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible') continue;
    let bg = [255, 255, 255, 1];
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { bg = c; break; }
    }
    out.push({ text: el.textContent.trim().replace(/\s+/g, ' ').slice(0, 50),
      tag: el.tagName.toLowerCase(), fg: rgb(cs.color), bg,
      size: parseFloat(cs.fontSize), weight: Number(cs.fontWeight) });
  }
  return out;
})()"#;

/// Elements that reach past the right edge of the viewport, if the page scrolls sideways.
const OVERFLOW: &str = r#"(() => {
  const w = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= w) return [];
  return [...document.body.querySelectorAll('*')]
    .filter((e) => e.getBoundingClientRect().right > w + 0.5)
    .map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ': ' +
      (e.textContent || '').trim().slice(0, 40));
})()"#;

/// Boxes (a background or a border of their own) closer than 8 px to the screen's left or right
/// edge: a card that touches the edges of a phone.
const AT_THE_EDGE: &str = r#"(() => {
  const w = document.documentElement.clientWidth;
  return [...document.body.querySelectorAll('*')].filter((e) => {
    const cs = getComputedStyle(e);
    const boxed = parseFloat(cs.borderLeftWidth) > 0 || !/rgba\(.*, 0\)|transparent/.test(cs.backgroundColor);
    const r = e.getBoundingClientRect();
    return boxed && r.width > 0 && (r.left < 8 || r.right > w - 8);
  }).map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
})()"#;

/// Words (runs of letters and digits of up to 20 characters: not Ray IDs or paths, which may
/// break) that the browser broke across two lines.
const SPLIT_WORDS: &str = r#"(() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement || !n.parentElement.getClientRects().length) continue;
    for (const m of n.data.matchAll(/[\p{L}\p{N}]+/gu)) {
      if (m[0].length > 20) continue;
      const r = document.createRange();
      r.setStart(n, m.index);
      r.setEnd(n, m.index + m[0].length);
      const lines = new Set([...r.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
      if (lines.size > 1) out.push(m[0]);
    }
  }
  return out;
})()"#;

/// Checks each visible text's contrast as chromium computed it (WCAG: 3:1 for large text,
/// 24px, or 18.66px bold; 4.5:1 otherwise).
async fn computed_contrast(tab: &mut Tab, what: &str, failures: &mut Vec<String>) -> usize {
    let texts = tab.eval(TEXTS).await;
    let texts = texts.as_array().unwrap();
    for t in texts {
        let c = |k: &str| -> Rgb {
            let a = t[k].as_array().unwrap();
            [
                a[0].as_f64().unwrap(),
                a[1].as_f64().unwrap(),
                a[2].as_f64().unwrap(),
            ]
        };
        let size = t["size"].as_f64().unwrap();
        let large = size >= 24.0 || (size >= 18.66 && t["weight"].as_f64().unwrap() >= 700.0);
        let min = if large { 3.0 } else { 4.5 };
        let ratio = contrast(c("fg"), c("bg"));
        if ratio < min {
            failures.push(format!(
                "{what}: <{}> {:?}: {} on {} is {ratio:.2}:1, below {min}:1",
                t["tag"].as_str().unwrap(),
                t["text"].as_str().unwrap(),
                css_hex(c("fg")),
                css_hex(c("bg"))
            ));
        }
    }
    texts.len()
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pages");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Needs `chromium` (scripts/test.sh installs it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_headless_chromium_on_a_desktop_and_a_phone() {
    let env = gateway().await;
    let incident = billing_incident(&env).await;
    let all = cases(&incident);
    for c in &all {
        // Each page is what it should be before it is looked at (and the rate limit is spent).
        fetch(&env, c).await;
    }
    let dir = shots_dir();
    let (_browser, mut tab) = chromium().await;
    let mut failures = Vec::new();
    let mut shots = Vec::new();
    for (width, height, dark) in [(1280, 900, false), (390, 844, false), (390, 844, true)] {
        tab.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
        )
        .await;
        let scheme = if dark { "dark" } else { "light" };
        tab.call(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        )
        .await;
        for c in &all {
            let headers: HashMap<&str, &str> = c.headers.iter().copied().collect();
            tab.call("Network.setExtraHTTPHeaders", json!({ "headers": headers }))
                .await;
            tab.open(&env.url(&c.path)).await;
            let what = format!("{} at {width}px {scheme}", c.name);
            if c.name.starts_with("challenge") {
                // The page starts at once; its progress line is what is photographed.
                for _ in 0..50 {
                    let status = tab
                        .eval("document.getElementById('status').textContent")
                        .await;
                    if status.as_str().is_some_and(|s| s.starts_with("Working:")) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let live = tab
                    .eval("(() => { const s = document.getElementById('status'); return [s.getAttribute('role'), s.getAttribute('aria-live'), s.hidden]; })()")
                    .await;
                assert_eq!(live, json!(["status", "polite", false]), "{what}");
            }

            // A heading, and the site's name, in what the browser shows.
            let dom = tab
                .eval("[document.querySelectorAll('h1').length, document.body.innerText]")
                .await;
            assert_eq!(dom[0], 1, "{what}: one h1");
            assert!(
                dom[1].as_str().unwrap().contains(SITE),
                "{what}: the site's name is not on the page:\n{}",
                dom[1]
            );
            let split = tab.eval(SPLIT_WORDS).await;
            if split.as_array().is_some_and(|w| !w.is_empty()) {
                failures.push(format!("{what}: words split across lines: {split}"));
            }
            let edge = tab.eval(AT_THE_EDGE).await;
            if edge.as_array().is_some_and(|w| !w.is_empty()) {
                failures.push(format!("{what}: boxes at the screen's edge: {edge}"));
            }
            let wide = tab.eval(OVERFLOW).await;
            if wide.as_array().is_some_and(|w| !w.is_empty()) {
                failures.push(format!("{what}: wider than the screen: {wide}"));
            }
            if c.name == "status" {
                // Each banner and state colour, not only today's: the test (not the page) puts
                // each class on the banner and a state word in turn.
                for (indicator, state) in [
                    ("none", "operational"),
                    ("maintenance", "under_maintenance"),
                    ("minor", "degraded_performance"),
                    ("major", "partial_outage"),
                    ("critical", "major_outage"),
                ] {
                    tab.eval(&format!(
                        "document.querySelector('.banner').className = 'banner i-{indicator}'; \
                         document.querySelector('.card [class^=\"s-\"]').className = 's-{state}'"
                    ))
                    .await;
                    computed_contrast(
                        &mut tab,
                        &format!("{what} ({indicator}, {state})"),
                        &mut failures,
                    )
                    .await;
                }
                tab.open(&env.url(&c.path)).await;
            } else {
                let n = computed_contrast(&mut tab, &what, &mut failures).await;
                assert!(n > 3, "{what}: only {n} texts found");
            }

            let full_height = tab
                .eval("Math.ceil(document.documentElement.scrollHeight)")
                .await
                .as_f64()
                .unwrap()
                .max(height as f64);
            let shot = tab
                .call(
                    "Page.captureScreenshot",
                    json!({
                        "format": "png",
                        "captureBeyondViewport": true,
                        "clip": { "x": 0, "y": 0, "width": width, "height": full_height, "scale": 1 },
                    }),
                )
                .await;
            let png = base64::engine::general_purpose::STANDARD
                .decode(shot["data"].as_str().unwrap())
                .unwrap();
            assert!(png.starts_with(b"\x89PNG") && png.len() > 5000, "{what}");
            let file = dir.join(format!(
                "{}-{width}{}.png",
                c.name,
                if dark { "-dark" } else { "" }
            ));
            std::fs::write(&file, png).unwrap();
            shots.push(file);
        }
    }
    // The challenge pages' solvers stop with the page.
    tab.open("about:blank").await;
    eprintln!(
        "screenshots:\n{}",
        shots
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    env.stop().await;
}
