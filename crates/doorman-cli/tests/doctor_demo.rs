//! `doorman doctor` against `doorman demo`, as the guide tells a newcomer to run it: all green
//! on a normal path, then one thing wrong at a time — a clock ten minutes fast, a blocked IP
//! (played through the demo's trusted X-Forwarded-For), a wrong path, a wrong scheme, the plugin
//! API's origin stopped (SIGUSR1), a revoked key — and each time the report names that cause
//! and its fix. Everything runs on 127.0.0.1.

use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::*;

/// Runs `doorman doctor ARGS` without proxy variables.
fn doctor(args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("doctor").args(args);
    for var in doorman_doctor::PROXY_VARS {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn verdict(report: &str) -> &str {
    report.trim_end().lines().last().unwrap_or("")
}

/// Runs the doctor until its report satisfies `done` (health checks and key snapshots take a
/// moment to notice a change).
fn doctor_until(args: &[&str], what: &str, done: impl Fn(Option<i32>, &str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let (code, report) = doctor(args);
        if done(code, &report) {
            return report;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never: {what}; last report:\n{report}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(unix)]
#[test]
fn the_doctor_names_each_cause_against_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_child, stdout, pid) = demo(&data);
    let pid = pid.to_string();
    let mut seen = Vec::new();
    let url = wait_for(&stdout, "Chat page (open in a browser):", &mut seen);
    let base = url.trim_end_matches('/').to_owned();
    let key = wait_for(&stdout, "KEY=", &mut seen)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(key.starts_with("dmn_live_"), "{key}");
    let root = format!("{base}/");
    let weather = "/plugins/weather?city=Oslo";
    let with_key = ["--api-key", key.as_str(), "--path", weather];
    let args = |extra: &[&str]| -> Vec<String> {
        std::iter::once(root.clone())
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        doctor(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Normal path with a good key: every step passes, the status page is found and read.
    let report = doctor_until(
        &args(&with_key)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "all green (the first health checks settle)",
        |code, r| code == Some(0) && r.contains("All Systems Operational"),
    );
    assert_eq!(verdict(&report), "all checks passed", "{report}");
    for step in [
        "✓ Clock",
        "✓ HTTP",
        "✓ Trace",
        "✓ Status page",
        "✓ Credential",
    ] {
        assert!(report.contains(step), "{step}:\n{report}");
    }

    // A clock ten minutes fast.
    let (code, report) = run(&["--clock-skew", "600"]);
    assert_eq!(code, Some(1));
    assert!(
        verdict(&report)
            .starts_with("first failure: Clock (clock) — your clock is 10 minutes fast"),
        "{report}"
    );

    // A blocked IP: the demo trusts X-Forwarded-For from this machine.
    let (code, report) = run(&["--header", "X-Forwarded-For: 203.0.113.7"]);
    assert_eq!(code, Some(1));
    let v = verdict(&report);
    assert!(v.starts_with("first failure: HTTP (http)"), "{report}");
    assert!(
        v.contains("Your IP address 203.0.113.7 is on the list `abuse_feed`"),
        "{report}"
    );
    assert!(v.contains("quote Ray ID "), "{report}");
    // The trace says so too: the demo discloses that list.
    assert!(
        report.contains("on the list:") && report.contains("abuse_feed (addresses reported"),
        "{report}"
    );

    // A wrong path.
    let (code, report) = doctor(&[&format!("{base}/plugin/weather")]);
    assert_eq!(code, Some(1));
    assert!(
        verdict(&report).contains("path /plugin/weather not found; did you mean /plugins/weather?"),
        "{report}"
    );

    // A wrong scheme.
    let (code, report) = doctor(&[&root.replace("http://", "https://")]);
    assert_eq!(code, Some(1));
    assert!(
        verdict(&report).contains(&format!("speak plain HTTP: use {root}")),
        "{report}"
    );

    // The plugin API's origin stopped: the request fails, and the status page explains it.
    let usr1 = || {
        let ok = Command::new("kill")
            .args(["-USR1", &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -USR1 {pid}");
    };
    usr1();
    // Another plugin path than the weather, whose 5-per-30-s limit polling would use up.
    let other_plugin = ["--api-key", key.as_str(), "--path", "/plugins/forecast"];
    let report = doctor_until(
        &args(&other_plugin)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "the outage is seen and explained",
        // The state and the incident are two writes: wait for both.
        |_, r| verdict(r).contains("explained by Status page") && r.contains("Plugin API is down"),
    );
    assert!(report.contains("503 Service Unavailable"), "{report}");
    assert!(report.contains("The `plugins` service is down"), "{report}");
    assert!(report.contains("Plugin API: major outage"), "{report}");
    assert!(
        report.contains("Plugin API is down — investigating"),
        "{report}"
    );
    assert!(
        verdict(&report).contains("the service itself is having an outage"),
        "{report}"
    );

    // Started again: green again, the incident resolved by itself.
    usr1();
    doctor_until(
        &args(&[]).iter().map(String::as_str).collect::<Vec<_>>(),
        "recovery",
        |code, r| code == Some(0) && r.contains("All Systems Operational"),
    );

    // A revoked key: named with when, by the HTTP step and the credential step.
    let out = Command::new(BIN)
        .args(["keys", "revoke", "demo-weather", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let report = doctor_until(
        &args(&with_key)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "the revocation is seen",
        // By every request of one run: the gateway re-reads keys every 250 ms, so a run can
        // straddle the change (its main request passes, its trace refuses).
        |_, r| {
            let v = verdict(r);
            v.starts_with("first failure: HTTP (http)") && v.contains("was revoked at")
        },
    );
    let v = verdict(&report);
    assert!(v.starts_with("first failure: HTTP (http)"), "{report}");
    assert!(v.contains("was revoked at"), "{report}");
    assert!(v.contains("A revoked key never works again"), "{report}");
    assert!(report.contains("✗ Credential"), "{report}");
}
