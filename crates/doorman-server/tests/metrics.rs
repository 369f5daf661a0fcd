//! `/metrics` of a live gateway after real traffic: counts typed as counters, the classic format
//! clean for `promtool check metrics`, OpenMetrics on request, every metric the docs name present
//! and every metric present documented, build and process metrics, request durations by route,
//! and each rule's matches by what it did.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use doorman_test_support::client::*;
use doorman_test_support::gateway::*;
use http_body_util::Full;

const RULES: &str = r#"
[client_ip]
trusted_proxies = ["127.0.0.1/32"]

[[upstreams]]
name = "checked"
targets = ["{origin}"]
health_check = { path = "/healthz", interval_ms = 200 }

[[routes]]
name = "debug"
path_prefix = "/debug"
upstream = "checked"

[[access_rules]]
id = "blocked-ip"
ip = "192.0.2.1"
action = "block"

[[access_rules]]
id = "partner"
ip = "192.0.2.2"
action = "allow"

[[access_rules]]
id = "partner-watch"
ip = "192.0.2.2"
action = "log"

[[access_rules]]
id = "trial-block"
ip = "192.0.2.3"
action = "block"
mode = "shadow"

[[rules]]
id = "no-admin"
title = "No admin pages"
expression = 'starts_with(http.request.uri.path, "/admin")'
action = "block"

[[rules]]
id = "note-chat"
title = "Chat traffic"
expression = 'starts_with(http.request.uri.path, "/v1/")'
action = "log"

[[rules]]
id = "trial-no-weather"
title = "Weather trial"
expression = 'http.request.uri.path eq "/plugins/weather"'
action = "block"
mode = "shadow"

[[rules]]
id = "prove-it"
title = "Prove you are a person"
expression = 'starts_with(http.request.uri.path, "/guarded")'
action = "challenge"

[[rules]]
id = "office"
title = "Office tools"
expression = 'http.request.uri.path eq "/office"'
action = "skip"
skip_phases = ["rate_limit"]

[[rate_limits]]
id = "echo"
expression = 'starts_with(http.request.uri.path, "/debug/echo")'
characteristics = ["ip.src"]
requests_per_period = 2
period_secs = 60

[[rate_limits]]
id = "echo-watch"
expression = 'starts_with(http.request.uri.path, "/debug/echo")'
characteristics = ["ip.src"]
requests_per_period = 1
period_secs = 60
action = "log"
"#;

async fn start_rules() -> Env {
    start_with(|data, origin| {
        base_config(
            data,
            origin,
            "",
            &RULES.replace("{origin}", &origin.to_string()),
        )
    })
    .await
}

fn admin_token(env: &Env) -> String {
    std::fs::read_to_string(env.data_dir().join("admin.token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// `/metrics` with `Accept: accept` (none when empty): the content type and the text.
async fn scrape_as(env: &Env, accept: &str) -> (String, String) {
    let mut req = http::Request::get(format!(
        "http://{}/metrics",
        env.gateway.admin_addr.unwrap()
    ))
    .header("authorization", format!("Bearer {}", admin_token(env)));
    if !accept.is_empty() {
        req = req.header("accept", accept);
    }
    let (resp, body) = send(req.body(Full::new(Bytes::new())).unwrap()).await;
    assert_eq!(resp.status(), 200);
    (
        header(&resp, "content-type").to_owned(),
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

async fn reload(env: &Env) {
    let admin = env.gateway.admin_addr.unwrap();
    let req = http::Request::post(format!("http://{admin}/admin/reload"))
        .header("authorization", format!("Bearer {}", admin_token(env)))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(req).await.0.status(), 200);
}

async fn scrape(env: &Env) -> String {
    scrape_as(env, "").await.1
}

async fn get_from(env: &Env, path: &str, client: &str) -> u16 {
    let (resp, _) = get(
        &env.url(path),
        &[("x-forwarded-for", client), ("accept", "application/json")],
    )
    .await;
    resp.status().as_u16()
}

/// Requests that make every rule of [`RULES`] match once, and some that pass.
async fn traffic(env: &Env) {
    assert_eq!(get_from(env, "/", "192.0.2.1").await, 403);
    assert_eq!(get_from(env, "/admin", "192.0.2.2").await, 404); // allowed: the origin has none
    assert_eq!(get_from(env, "/", "192.0.2.3").await, 200);
    assert_eq!(get_from(env, "/admin", "198.51.100.1").await, 403);
    get_from(env, "/v1/models", "198.51.100.1").await;
    assert_eq!(
        get_from(env, "/plugins/weather?city=Lisbon", "198.51.100.1").await,
        200
    );
    assert_eq!(get_from(env, "/guarded", "198.51.100.1").await, 403);
    get_from(env, "/office", "198.51.100.1").await;
    for expected in [200, 200, 429] {
        assert_eq!(get_from(env, "/debug/echo", "198.51.100.9").await, expected);
    }
}

/// One sample of the classic format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value in {line}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series, BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').unwrap();
                    let labels = body
                        .split("\",")
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once("=\"").unwrap();
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name, labels)
                }
            };
            Sample {
                name: name.to_owned(),
                labels,
                value,
            }
        })
        .collect()
}

/// The value of the one sample of `name` whose labels include `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = samples(text)
        .into_iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {labels:?} names {} series",
        found.len()
    );
    found.first().copied()
}

/// `# TYPE` lines: family name → type.
fn types(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').unwrap();
            (name.to_owned(), kind.to_owned())
        })
        .collect()
}

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[tokio::test]
async fn counts_are_counters_and_only_values_that_go_down_are_gauges() {
    let env = start_rules().await;
    traffic(&env).await;
    let text = scrape(&env).await;
    let types = types(&text);
    for name in [
        "doorman_event_log_dropped_total",
        "doorman_event_log_recorded_total",
        "doorman_event_log_write_errors_total",
        "doorman_rate_limit_evictions_total",
        "doorman_rate_limit_fallbacks_total",
        "doorman_rate_limit_redis_errors_total",
        "doorman_rate_limit_bans_unlisted_total",
        "doorman_status_checks_dropped_total",
        "doorman_requests_total",
        "doorman_rule_matches_total",
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some("counter"),
            "{name}\n{text}"
        );
    }
    // A gauge is for a value that can go down; anything else counted is a counter.
    let gauges: BTreeSet<&str> = types
        .iter()
        .filter(|(_, kind)| *kind == "gauge")
        .map(|(name, _)| name.as_str())
        .collect();
    let may_go_down = BTreeSet::from([
        "doorman_build_info",
        "doorman_connections_open",
        "doorman_rate_limit_redis_down",
        "doorman_rate_limit_tracked_keys",
        "doorman_upstream_target_up",
        "process_max_fds",
        "process_open_fds",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_virtual_memory_bytes",
    ]);
    let unexpected: Vec<_> = gauges.difference(&may_go_down).collect();
    assert!(unexpected.is_empty(), "gauges: {unexpected:?}");
    // The counts kept by the event log are copied at scrape time: the denials above get there.
    let mut recorded = 0.0;
    for _ in 0..50 {
        let text = scrape(&env).await;
        recorded = value(&text, "doorman_event_log_recorded_total", &[]).unwrap();
        if recorded >= 4.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recorded >= 4.0, "events recorded: {recorded}");
    env.stop().await;
}

#[tokio::test]
async fn each_rule_match_is_counted_by_kind_rule_and_action() {
    let env = start_rules().await;
    traffic(&env).await;
    let text = scrape(&env).await;
    let expected = [
        ("access_rule", "blocked-ip", "block"),
        ("access_rule", "partner", "allow"),
        ("access_rule", "partner-watch", "log"),
        ("access_rule", "trial-block", "shadow"),
        ("custom_rule", "no-admin", "block"),
        ("custom_rule", "note-chat", "log"),
        ("custom_rule", "trial-no-weather", "shadow"),
        ("custom_rule", "prove-it", "challenge"),
        ("custom_rule", "office", "skip"),
        ("rate_limit", "echo-watch", "log"),
        ("rate_limit", "echo", "block"),
    ];
    for (kind, rule, action) in expected {
        let labels = [("kind", kind), ("rule", rule), ("action", action)];
        assert_eq!(
            value(&text, "doorman_rule_matches_total", &labels),
            Some(1.0),
            "{labels:?}\n{text}"
        );
    }
    let series = samples(&text)
        .into_iter()
        .filter(|s| s.name == "doorman_rule_matches_total")
        .count();
    assert_eq!(series, expected.len(), "{text}");
    // Counted on the next request with the same handle, and again after a reload.
    get_from(&env, "/admin", "198.51.100.2").await;
    reload(&env).await;
    get_from(&env, "/admin", "198.51.100.3").await;
    let text = scrape(&env).await;
    let labels = [
        ("kind", "custom_rule"),
        ("rule", "no-admin"),
        ("action", "block"),
    ];
    assert_eq!(
        value(&text, "doorman_rule_matches_total", &labels),
        Some(3.0)
    );
    env.stop().await;
}

#[tokio::test]
async fn request_durations_are_observed_by_route() {
    let env = start_rules().await;
    for _ in 0..3 {
        assert_eq!(get_from(&env, "/healthz", "198.51.100.1").await, 200);
    }
    assert_eq!(
        get_from(&env, "/debug/sleep?ms=300", "198.51.100.1").await,
        200
    );
    let text = scrape(&env).await;
    let count = |route| {
        value(
            &text,
            "doorman_request_duration_seconds_count",
            &[("route", route)],
        )
    };
    assert_eq!(count("chat"), Some(3.0), "{text}");
    assert_eq!(count("debug"), Some(1.0), "{text}");
    let bucket = |le| {
        value(
            &text,
            "doorman_request_duration_seconds_bucket",
            &[("route", "debug"), ("le", le)],
        )
    };
    // The origin slept 300 ms before its response head: not within 250 ms.
    assert_eq!(bucket("0.25"), Some(0.0), "{text}");
    assert_eq!(bucket("+Inf"), Some(1.0), "{text}");
    let sum = value(
        &text,
        "doorman_request_duration_seconds_sum",
        &[("route", "debug")],
    )
    .unwrap();
    assert!(sum >= 0.3, "{sum}");
    // The requests counter goes through the same prepared handles.
    let requests = value(
        &text,
        "doorman_requests_total",
        &[("route", "chat"), ("status", "200")],
    );
    assert_eq!(requests, Some(3.0), "{text}");
    env.stop().await;
}

#[tokio::test]
async fn openmetrics_when_asked_for_the_classic_format_otherwise() {
    let env = start_rules().await;
    traffic(&env).await;
    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (ct, om) = scrape_as(&env, prometheus_accept).await;
    assert_eq!(
        ct,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE doorman_requests counter\n"), "{om}");
    for accept in ["", "*/*", "text/plain;version=0.0.4"] {
        let (ct, text) = scrape_as(&env, accept).await;
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8", "{accept}");
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            text.contains("# TYPE doorman_requests_total counter\n"),
            "{text}"
        );
        // The same samples either way.
        let series = |t: &str| {
            samples(t)
                .into_iter()
                .filter(|s| s.name == "doorman_rule_matches_total")
                .count()
        };
        assert_eq!(series(&text), series(&om));
    }
    env.stop().await;
}

#[tokio::test]
async fn the_classic_exposition_passes_promtool() {
    let Some(promtool) = promtool() else {
        return;
    };
    let env = start_rules().await;
    traffic(&env).await;
    let text = scrape(&env).await;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics ({}):\n{said}\n--- the exposition:\n{text}",
        out.status
    );
    env.stop().await;
}

/// promtool, when installed. CI installs it (scripts/test.sh), so there a missing one fails.
fn promtool() -> Option<&'static str> {
    let found = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("promtool");
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "promtool is not installed; scripts/test.sh installs it (Debian package `prometheus`)"
    );
    eprintln!(
        "notice: promtool is not installed, so the exposition was not checked with it; `apt-get install prometheus` (or run scripts/test.sh)"
    );
    None
}

/// `doorman_…` words in the docs that are not metrics: crate names (in paths and log filters),
/// the clearance cookies and the challenge page's demo parameter.
fn not_metrics() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = std::fs::read_dir(workspace_root().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().replace('-', "_"))
        .collect();
    for word in [
        "doorman_clearance",
        "doorman_challenge_passed",
        "doorman_clock_skew_s",
    ] {
        names.insert(word.to_owned());
    }
    names
}

/// Every `doorman_[a-z_]+` of the Markdown docs, with where it is written.
fn names_in_docs() -> BTreeMap<String, String> {
    let root = workspace_root();
    let mut files: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.push(root.join("README.md"));
    files.push(root.join("ARCHITECTURE.md"));
    let mut names = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let bytes = text.as_bytes();
        let mut at = 0;
        while let Some(found) = text[at..].find("doorman_") {
            let start = at + found;
            let boundary = start == 0 || {
                let c = bytes[start - 1];
                !(c.is_ascii_alphanumeric() || c == b'_')
            };
            let end = text[start..]
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .map_or(text.len(), |n| start + n);
            at = end;
            let name = text[start..end].trim_end_matches('_').to_owned();
            // `doorman_` alone is a file name (`doorman_0.1.0-1_amd64.deb`), not a metric.
            if boundary && name != "doorman" {
                let line = text[..start].lines().count().max(1);
                names
                    .entry(name)
                    .or_insert_with(|| format!("{}:{line}", file.display()));
            }
        }
    }
    names
}

#[tokio::test]
async fn every_metric_the_docs_name_is_exposed_and_every_one_exposed_is_documented() {
    let env = start_rules().await;
    traffic(&env).await;
    reload(&env).await;
    let text = scrape(&env).await;
    // Names with a sample, and histograms by their family name as well.
    let mut exposed: BTreeSet<String> = BTreeSet::new();
    for s in samples(&text) {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = s.name.strip_suffix(suffix) {
                exposed.insert(base.to_owned());
            }
        }
        exposed.insert(s.name);
    }
    let skip = not_metrics();
    let docs = names_in_docs();
    let missing: Vec<String> = docs
        .iter()
        .filter(|(name, _)| !skip.contains(*name) && !exposed.contains(*name))
        .map(|(name, at)| format!("{name} ({at})"))
        .collect();
    assert!(
        missing.is_empty(),
        "the docs name metrics that /metrics does not have:\n{}\n--- /metrics:\n{text}",
        missing.join("\n")
    );
    // The other way: each family is in docs/config.md's list.
    let config = std::fs::read_to_string(workspace_root().join("docs/config.md")).unwrap();
    let start = config.find("\n## Metrics\n").expect("a Metrics section") + 1;
    let list = &config[start..];
    let list = &list[..list[3..].find("\n## ").map_or(list.len(), |n| n + 3)];
    let undocumented: Vec<String> = types(&text)
        .into_keys()
        .filter(|name| !list.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "metrics missing from docs/config.md \"Metrics\": {undocumented:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn build_info_names_the_version_and_commit() {
    let env = start_rules().await;
    let text = scrape(&env).await;
    let labels = [
        ("version", doorman_server::build::VERSION),
        ("commit", doorman_server::build::COMMIT),
    ];
    assert_eq!(
        value(&text, "doorman_build_info", &labels),
        Some(1.0),
        "{text}"
    );
    assert_eq!(doorman_server::build::VERSION, env!("CARGO_PKG_VERSION"));
    // Built from this checkout (the build script reruns when HEAD moves), unless the build was
    // told otherwise.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(head) = head
        && std::env::var_os("DOORMAN_COMMIT").is_none()
    {
        assert_eq!(
            doorman_server::build::COMMIT,
            String::from_utf8_lossy(&head.stdout).trim()
        );
        let date = doorman_server::build::COMMIT_DATE;
        assert!(
            date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
            "{date}"
        );
    }
    env.stop().await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn process_metrics_describe_this_process() {
    let env = start_rules().await;
    // Some CPU time to see.
    let mut x = 0u64;
    for i in 0..20_000_000u64 {
        x = x.wrapping_mul(31).wrapping_add(i);
    }
    std::hint::black_box(x);
    let text = scrape(&env).await;
    let get = |name| value(&text, name, &[]).unwrap_or_else(|| panic!("no {name}\n{text}"));
    assert!(get("process_cpu_seconds_total") > 0.0, "{text}");
    let rss = get("process_resident_memory_bytes");
    assert!(rss > 1e6, "{rss}");
    assert!(get("process_virtual_memory_bytes") >= rss);
    // The listeners, the admin socket and the event log's database at least.
    let fds = get("process_open_fds");
    assert!(fds >= 4.0, "{fds}");
    assert!(get("process_max_fds") >= fds);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = get("process_start_time_seconds");
    assert!(
        start <= now + 1.0 && start > now - 3600.0,
        "{start} vs {now}"
    );
    env.stop().await;
}
