//! `doorman doctor` against `doorman demo`, as the guide tells a newcomer to run it: all green
//! on a normal path, then one thing wrong at a time — a clock ten minutes fast, a blocked IP
//! (played through the demo's trusted X-Forwarded-For), a wrong path, a wrong scheme, the plugin
//! API's origin stopped (SIGUSR1), a revoked key, a ban after failed logins — and each time the
//! report names that cause and its fix. Everything runs on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use doorman_test_support::gateway::process::*;

const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));

/// Runs `doorman doctor ARGS` without proxy variables.
fn doctor(args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = DOORMAN.command();
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
    let (_child, stdout, pid) = DOORMAN.demo(&data);
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
    let out = DOORMAN
        .command()
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

/// The value of the first fact line `label: value` (facts are padded to line up).
fn fact<'a>(report: &'a str, label: &str) -> Option<&'a str> {
    report.lines().find_map(|l| {
        l.trim()
            .strip_prefix(label)?
            .strip_prefix(':')
            .map(str::trim)
    })
}

/// A failed login as a browser's form sends it: `POST /login` with a wrong password. Returns
/// the status code.
fn failed_login(addr: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = "user=ann&password=guess";
    write!(
        s,
        "POST /login HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The demo's failed-login limit (3 origin 401s from `POST /login` in a minute ban the IP for
/// two minutes, 1012) refuses every page afterwards, but the doctor's own GETs never log in and
/// pass: the doctor must read the ban from the trace and fail, saying which limit, until when
/// and what to do. Lifted, the ban is gone from the report.
#[cfg(unix)]
#[test]
fn the_doctor_sees_a_ban_that_failed_logins_started() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_child, stdout, _pid) = DOORMAN.demo(&data);
    let mut seen = Vec::new();
    let url = wait_for(&stdout, "Chat page (open in a browser):", &mut seen);
    // `http://ADDR/metrics  (token: DATA/admin.token)`
    let admin = wait_for(&stdout, "Admin API and metrics:", &mut seen);
    let admin = admin
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let root = format!("{}/", url.trim_end_matches('/'));
    let addr = root
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();

    // Before: the trace says there is no ban.
    let (_, report) = doctor(&[&root]);
    assert!(report.contains("✓ Trace"), "{report}");
    assert_eq!(fact(&report, "temporary bans"), Some("none"), "{report}");

    // Three failed logins; the third completes the count and starts the ban (counted after the
    // origin's answer, off the response path: the next login is refused once it lands).
    for _ in 0..3 {
        assert_eq!(failed_login(&addr), 401);
    }
    let start = Instant::now();
    while failed_login(&addr) != 429 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the failed logins never started a ban"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The doctor's GET of / passes, yet the report fails on the ban, in words.
    let (code, report) = doctor(&[&root]);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("✓ HTTP"), "{report}");
    assert!(report.contains("✗ Trace"), "{report}");
    let ban = fact(&report, "temporary ban").unwrap_or_else(|| panic!("{report}"));
    assert!(
        ban.starts_with(
            "Too many failed logins (1012), counted per your IP address 127.0.0.1, until "
        ),
        "{report}"
    );
    let v = verdict(&report);
    assert!(
        v.starts_with(
            "first failure: Trace (trace) — the site has paused requests from your IP address 127.0.0.1 that fall under"
        ),
        "{report}"
    );
    assert!(
        v.contains(" that fall under its limit \"Too many failed logins\" (1012) until "),
        "{report}"
    );
    assert!(v.contains(" UTC (in "), "{report}");
    assert!(
        v.contains("Wait until then before trying again"),
        "{report}"
    );
    assert!(
        v.contains("if you think it is a mistake, contact the site's support and quote Ray ID "),
        "{report}"
    );
    // Never the rule's expression or its id.
    assert!(!report.contains("http.re"), "{report}");
    assert!(!report.contains("failed-logins"), "{report}");

    // Lifted by the operator (the admin API `doorman bans lift` uses; the demo's admin port is
    // ephemeral, so not through the config): the ban is gone from the report.
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let mut s = TcpStream::connect(&admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /admin/bans/lift?key=127.0.0.1 HTTP/1.1\r\nhost: {admin}\r\nauthorization: Bearer {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        token.trim()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, report) = doctor(&[&root]);
    assert!(report.contains("✓ Trace"), "{report}");
    assert_eq!(fact(&report, "temporary bans"), Some("none"), "{report}");
}
