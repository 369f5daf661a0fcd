//! `doorman incident` and `doorman maintenance` as an operator runs them: against the data
//! directory of a running `doorman serve`, whose status page shows each change within seconds.

use std::path::Path;
use std::time::{Duration, Instant};

use doorman_test_support::client::*;
use doorman_test_support::config::LOOPBACK_LISTENERS;
use doorman_test_support::gateway::process::*;
use doorman_test_support::origin::BlockingDemo;

const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));

fn run(args: &[&str], data: &Path) -> (bool, String) {
    let out = DOORMAN
        .command()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn summary(addr: std::net::SocketAddr) -> serde_json::Value {
    let answer = http_get(addr, "/status/api/v2/summary.json", &[]);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

/// Polls the page until `done` holds (the gateway re-reads the file at most once a second).
fn until(addr: std::net::SocketAddr, what: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let start = Instant::now();
    loop {
        let s = summary(addr);
        if done(&s) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never: {what}: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn incidents_posted_from_the_command_line_show_on_the_running_page() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // Before any gateway ran here: a clear refusal, not a new empty database.
    let (ok, words) = run(&["incident", "list"], &data);
    assert!(!ok);
    assert!(words.contains("there is no status database at"), "{words}");
    assert!(!data.join("status.sqlite").exists());

    let demo = BlockingDemo::start();
    let origin = demo.addr;
    let config = dir.path().join("doorman.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
data_dir = "data"

{LOOPBACK_LISTENERS}

[[upstreams]]
name = "chat"
targets = ["{origin}"]

[[routes]]
name = "all"
upstream = "chat"

[status]
path = "/status"
"#
        ),
    )
    .unwrap();
    let (_child, _stderr, addr) = DOORMAN.serve(&config, &["--workers", "1"]);
    until(addr, "the chat component", |s| {
        s["components"][0]["id"] == "chat"
    });

    // A misspelt component is named, with the nearest one.
    let (ok, words) = run(
        &[
            "incident",
            "open",
            "--name",
            "Slow answers",
            "-m",
            "Looking.",
            "--component",
            "caht",
        ],
        &data,
    );
    assert!(!ok);
    assert!(words.contains("did you mean `chat`?"), "{words}");
    let (ok, words) = run(
        &[
            "incident",
            "open",
            "--name",
            "Slow answers",
            "-m",
            "Looking.",
            "--impact",
            "huge",
        ],
        &data,
    );
    assert!(!ok);
    assert!(
        words.contains("--impact") && words.contains("critical"),
        "{words}"
    );

    let (ok, words) = run(
        &[
            "incident",
            "open",
            "--name",
            "Slow answers",
            "-m",
            "Some answers take 10 s; we are on it.",
            "--impact",
            "minor",
            "--component",
            "chat",
        ],
        &data,
    );
    assert!(ok, "{words}");
    assert!(
        words.starts_with("opened #1 Slow answers — investigating"),
        "{words}"
    );
    until(addr, "the incident on the page", |s| {
        s["incidents"][0]["name"] == "Slow answers" && s["status"]["indicator"] == "minor"
    });

    let (ok, words) = run(
        &[
            "incident",
            "update",
            "1",
            "--status",
            "monitoring",
            "-m",
            "A fix is out.",
        ],
        &data,
    );
    assert!(ok, "{words}");
    until(addr, "the update", |s| {
        s["incidents"][0]["status"] == "monitoring"
    });

    let (ok, words) = run(&["incident", "resolve", "1"], &data);
    assert!(ok, "{words}");
    until(addr, "resolved", |s| {
        s["incidents"] == serde_json::json!([]) && s["status"]["indicator"] == "none"
    });
    let (ok, words) = run(&["incident", "list", "--json"], &data);
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(&words).unwrap();
    assert_eq!(list[0]["status"], "resolved");
    assert_eq!(list[0]["updates"].as_array().unwrap().len(), 3);
    let (ok, words) = run(&["incident", "resolve", "9"], &data);
    assert!(!ok);
    assert!(words.contains("no incident 9"), "{words}");

    // Maintenance in an hour, for 30 minutes.
    let (ok, words) = run(
        &[
            "maintenance",
            "schedule",
            "--name",
            "Database upgrade",
            "-m",
            "Chat may pause for a minute.",
            "--start",
            "1h",
            "--duration",
            "30m",
            "--component",
            "chat",
        ],
        &data,
    );
    assert!(ok, "{words}");
    assert!(
        words.contains("scheduled #1 Database upgrade — scheduled"),
        "{words}"
    );
    until(addr, "the maintenance", |s| {
        s["scheduled_maintenances"][0]["name"] == "Database upgrade"
    });
    let (ok, words) = run(
        &[
            "maintenance",
            "schedule",
            "--name",
            "x",
            "-m",
            "y",
            "--start",
            "soon",
            "--duration",
            "1h",
        ],
        &data,
    );
    assert!(!ok);
    assert!(words.contains("RFC 3339"), "{words}");
    drop(demo);
}
