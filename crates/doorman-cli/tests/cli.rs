//! The `doorman` binary as a user runs it: real processes, real signals, real sockets on
//! 127.0.0.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use doorman_test_support::client::*;
use doorman_test_support::config::LOOPBACK_LISTENERS;
use doorman_test_support::gateway::process::*;
use doorman_test_support::origin::BlockingDemo;

const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));

#[test]
fn check_prints_every_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doorman.toml");
    std::fs::write(
        &file,
        r#"[[listeners]]
addr = "127.0.0.1:8080"

[limits]
max_body_bytes = "10MB"

[[upstreams]]
name = "chat"
targets = ["127.0.0.1:3000"]

[[routes]]
name = "chat"
path_prefix = "/"
uptsream = "chat"
"#,
    )
    .unwrap();
    let out = DOORMAN
        .command()
        .args(["check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("doorman.toml:5:18: error: invalid value for `max_body_bytes`"),
        "{err}"
    );
    assert!(
        err.contains("doorman.toml:14:1: error: unknown key `uptsream`"),
        "{err}"
    );
    assert!(err.contains("did you mean `upstream`?"), "{err}");

    std::fs::write(
        &file,
        "[[listeners]]\naddr = \"127.0.0.1:8080\"\n\n[[upstreams]]\nname = \"chat\"\ntargets = [\"127.0.0.1:3000\"]\n\n[[routes]]\nname = \"chat\"\npath_prefix = \"/\"\nupstream = \"chat\"\n",
    )
    .unwrap();
    let out = DOORMAN
        .command()
        .args(["check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: 1 route, 1 upstream, 1 listener"));
}

#[test]
fn check_json_and_strict_for_ci() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doorman.toml");
    // Loads, with one warning: the admin API on every interface.
    std::fs::write(
        &file,
        "[[listeners]]\naddr = \"127.0.0.1:8080\"\n\n[admin]\naddr = \"0.0.0.0:9090\"\n\n[[upstreams]]\nname = \"chat\"\ntargets = [\"127.0.0.1:3000\"]\n\n[[routes]]\nname = \"chat\"\nupstream = \"chat\"\n",
    )
    .unwrap();
    let check = |extra: &[&str]| {
        let out = DOORMAN
            .command()
            .args(["check", "--config"])
            .arg(&file)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = check(&[]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("warning: the admin API listens on 0.0.0.0:9090"),
        "{out}"
    );

    let (code, _, err) = check(&["--strict"]);
    assert_eq!(code, Some(1), "warnings fail under --strict");
    assert!(err.contains("strict: 1 warning count as errors"), "{err}");

    let (code, out, _) = check(&["--json", "--strict"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(v["ok"], false);
    assert_eq!(
        (v["errors"].as_u64(), v["warnings"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(v["diagnostics"][0]["severity"], "warning");
    assert_eq!(v["diagnostics"][0]["line"], 5);
    assert_eq!(v["defines"]["route"], 1);

    let (code, out, _) = check(&["--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true);
}

#[test]
fn sigterm_drains_a_streaming_response_then_exits() {
    let demo = BlockingDemo::start();
    let origin = demo.addr;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("doorman.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
node_name = "drain"
data_dir = "data"
shutdown_grace_secs = 10

{LOOPBACK_LISTENERS}

[[upstreams]]
name = "origin"
targets = ["{origin}"]

[[routes]]
name = "all"
path_prefix = "/"
upstream = "origin"
"#
        ),
    )
    .unwrap();
    // One worker: the single-threaded runtime drains too.
    let (mut child, stderr, addr) = DOORMAN.serve(&config, &["--workers", "1"]);
    let pid = child.0.id();
    let mut seen = Vec::new();

    // A response that takes ~2 s to stream: 10 chunks, 200 ms apart.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /debug/drip?chunks=10&interval_ms=200 HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 64];
    let n = s.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));

    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for(&stderr, "SIGTERM", &mut seen);

    // New connections are refused once the listener has closed.
    let mut refused = false;
    for _ in 0..50 {
        if TcpStream::connect(addr).is_err() {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(refused, "the listener still accepts after SIGTERM");

    // The stream in flight still completes: chunked encoding ends with 0\r\n\r\n.
    let mut rest = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                rest.extend_from_slice(&buf[..n]);
                if rest.ends_with(b"0\r\n\r\n") {
                    break;
                }
            }
            Err(e) => panic!(
                "stream cut during drain: {e}; got {:?}",
                String::from_utf8_lossy(&rest)
            ),
        }
    }
    let text = String::from_utf8_lossy(&rest);
    assert!(
        text.ends_with("0\r\n\r\n"),
        "stream did not finish: {text:?}"
    );
    drop(s);

    let exit = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(15),
            "did not exit after draining"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn the_demo_serves_the_chat_and_explains_a_denial() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_child, stdout, _) = DOORMAN.demo(&data);
    let mut seen = Vec::new();
    let url = wait_for(&stdout, "Chat page (open in a browser):", &mut seen);
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();

    let page = http_get(addr, "/", &[("accept", "text/html")]);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<html"));

    let denied = http_get(addr, "/admin/", &[("accept", "application/json")]);
    assert!(denied.starts_with("HTTP/1.1 403"), "{denied}");
    assert!(denied.contains("\"code\":\"ROUTE_CLOSED\""));
    let ray = header_value(&denied, "doorman-ray");

    let mut explained = String::new();
    for _ in 0..50 {
        let out = DOORMAN
            .command()
            .args(["explain", &ray, "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        if out.status.success() {
            explained = String::from_utf8_lossy(&out.stdout).into_owned();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(explained.contains(&ray), "explain never found {ray}");
    assert!(explained.contains("ROUTE_CLOSED"));
    assert!(explained.contains("route `admin` is closed"), "{explained}");
}

#[test]
fn trace_agrees_with_live_traffic() {
    let demo = BlockingDemo::start();
    let origin = demo.addr;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("doorman.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
node_name = "live"
data_dir = "data"

{LOOPBACK_LISTENERS}

[client_ip]
trusted_proxies = ["127.0.0.1/32"]

[[upstreams]]
name = "origin"
targets = ["{origin}"]

[[routes]]
name = "all"
path_prefix = "/"
upstream = "origin"

[[lists]]
name = "abuse_feed"
kind = "ip"
items = ["203.0.113.0/24"]

[[access_rules]]
id = "abuse"
list = "abuse_feed"
action = "block"

[[rules]]
id = "admin"
title = "No admin"
expression = 'starts_with(http.request.uri.path, "/admin")'
action = "block"
"#
        ),
    )
    .unwrap();
    let (_child, _stderr, addr) = DOORMAN.serve(&config, &[]);

    let cases = [
        ("/admin/users", "198.51.100.1"),
        ("/plugins/weather?city=Oslo", "203.0.113.5"),
        ("/plugins/weather?city=Oslo", "198.51.100.1"),
    ];
    for (path, client) in cases {
        let live = http_get(addr, path, &[("x-forwarded-for", client)]);
        let live_code = live
            .lines()
            .find_map(|l| l.strip_prefix("doorman-code: "))
            .map(str::trim)
            .unwrap_or("allow")
            .to_string();

        let request = dir.path().join("request.json");
        std::fs::write(
            &request,
            serde_json::json!({
                "peer": "127.0.0.1",
                "url": format!("http://{addr}{path}"),
                "headers": {"x-forwarded-for": client},
            })
            .to_string(),
        )
        .unwrap();
        let out = DOORMAN
            .command()
            .args(["trace", "--json", "--config"])
            .arg(&config)
            .arg("--request")
            .arg(&request)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let traced: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let traced_code = traced["receipt"]["code"]
            .as_str()
            .unwrap_or("allow")
            .to_string();
        assert_eq!(
            traced_code, live_code,
            "{path} from {client}: trace says {traced}"
        );
        assert_eq!(traced["client_ip"], client);
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_cli_definition() {
    for (shell, marker) in [
        ("bash", "_doorman()"),
        ("zsh", "#compdef doorman"),
        ("fish", "complete -c doorman"),
    ] {
        let out = DOORMAN
            .command()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for sub in ["serve", "check", "explain", "doctor"] {
            assert!(script.contains(sub), "{shell} completes {sub}");
        }
    }
    let out = DOORMAN.command().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH doorman 1"), "{page}");
    assert!(page.contains("explains every denial"), "{page}");
}

#[test]
fn version_names_the_commit_and_its_date() {
    let out = DOORMAN.command().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // `doorman 0.1.0 (commit 1a2b3c4, 2026-12-08)`; "unknown" only outside a git checkout.
    let inside = text
        .split_once("(commit ")
        .and_then(|(_, rest)| rest.strip_suffix(")\n"))
        .unwrap_or_else(|| panic!("{text}"));
    let (commit, date) = inside.split_once(", ").unwrap();
    assert!(
        commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{text}"
    );
    assert!(
        date == "unknown" || (date.len() == 10 && date.as_bytes()[4] == b'-'),
        "{text}"
    );
    assert!(
        text.starts_with(&format!("doorman {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}

/// logrotate's way: move the file, then SIGUSR1; the next lines go to a new file at the old
/// path, and the moved one keeps what was written before.
#[test]
fn sigusr1_reopens_the_access_log_after_a_rename() {
    let demo = BlockingDemo::start();
    let origin = demo.addr;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("doorman.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
node_name = "rotate"
data_dir = "data"

{LOOPBACK_LISTENERS}

[access_log]
path = "access.log"

[[upstreams]]
name = "origin"
targets = ["{origin}"]

[[routes]]
name = "all"
path_prefix = "/"
upstream = "origin"
"#
        ),
    )
    .unwrap();
    let (child, stderr, addr) = DOORMAN.serve(&config, &[]);
    let pid = child.0.id().to_string();
    let log = dir.path().join("access.log");
    let lines_in = |path: &std::path::Path, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.lines().count() >= n {
                return text;
            }
            assert!(Instant::now() < deadline, "{} has {text:?}", path.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    assert!(http_get(addr, "/debug/echo?before=1", &[]).starts_with("HTTP/1.1 200"));
    lines_in(&log, 1);
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let status = Command::new("kill").args(["-USR1", &pid]).status().unwrap();
    assert!(status.success());
    let mut seen = Vec::new();
    wait_for(&stderr, "SIGUSR1", &mut seen);
    // The writer reopens within its 200 ms flush interval.
    std::thread::sleep(Duration::from_millis(500));
    assert!(http_get(addr, "/debug/echo?after=1", &[]).starts_with("HTTP/1.1 200"));

    let new = lines_in(&log, 1);
    assert!(
        new.contains("after=1") && !new.contains("before=1"),
        "{new}"
    );
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(
        old.contains("before=1") && !old.contains("after=1"),
        "{old}"
    );
}
