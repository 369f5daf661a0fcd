//! The access log through a live gateway: a proxied, a denied, an allowed-by-rule and a streamed
//! request give lines with the fields that apply (and no others), a query-string API key is
//! redacted and a verified one named by its id, TLS requests carry their version and JA4,
//! sampling at 0.0 keeps only denials, the combined format reads as combined, a reopen after a
//! rename writes to the new file, and a full queue counts its drops.

use std::path::{Path, PathBuf};
use std::time::Duration;

use doorman_test_support::client::*;
use doorman_test_support::gateway::*;
use serde_json::Value;

fn access_log(path: &str, more: &str) -> String {
    format!(
        r#"
[auth]
key_query_param = "api_key"

[access_log]
path = "{path}"
{more}

[[rules]]
id = "no-admin"
title = "No admin pages"
expression = 'starts_with(http.request.uri.path, "/admin")'
action = "block"

[[rules]]
id = "let-status"
title = "Status probes pass"
expression = 'starts_with(http.request.uri.path, "/debug/status")'
action = "allow"
"#
    )
}

/// The file's lines once it has at least `n` (the writer flushes within 200 ms).
async fn lines(path: &Path, n: usize) -> Vec<String> {
    let mut last = Vec::new();
    for _ in 0..50 {
        last = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        if last.len() >= n {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("wanted {n} lines in {}, have {last:?}", path.display());
}

fn log_path(env: &Env) -> PathBuf {
    env.dir.path().join("access.log")
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[tokio::test]
async fn proxied_and_denied_requests_get_lines_with_their_fields() {
    let env = start(&access_log("access.log", "")).await;
    let (ok, ok_body) = get(
        &env.url("/debug/echo?city=Oslo"),
        &[("user-agent", "probe/1")],
    )
    .await;
    assert_eq!(ok.status(), 200);
    let (denied, denied_body) = get(&env.url("/admin/panel"), &[]).await;
    assert_eq!(denied.status(), 403);

    let lines = lines(&log_path(&env), 2).await;
    let proxied = json(&lines[0]);
    assert_eq!(proxied["ray"], header(&ok, "doorman-ray"));
    assert_eq!(proxied["method"], "GET");
    assert_eq!(proxied["host"], "127.0.0.1");
    assert_eq!(proxied["path"], "/debug/echo?city=Oslo");
    assert_eq!(proxied["status"], 200);
    assert_eq!(proxied["client_ip"], "127.0.0.1");
    assert_eq!(proxied["route"], "chat");
    assert_eq!(proxied["upstream"], "chat");
    assert_eq!(proxied["target"], env.origin_addr.to_string());
    assert_eq!(proxied["http_version"], "HTTP/1.1");
    assert_eq!(proxied["user_agent"], "probe/1");
    assert!(proxied["upstream_ms"].as_f64().is_some(), "{proxied}");
    assert!(proxied["duration_ms"].as_f64().is_some(), "{proxied}");
    assert_eq!(proxied["bytes_out"], ok_body.len());
    let time = proxied["time"].as_str().unwrap();
    assert!(doorman_common::when::parse_rfc3339(time).is_ok(), "{time}");
    assert_eq!(time.len(), "2026-11-22T21:44:11.250Z".len(), "{time}");
    for absent in ["code", "rule", "tls_version", "ja4", "key_id", "bytes_in"] {
        assert!(proxied.get(absent).is_none(), "{absent} in {proxied}");
    }
    assert!(!lines[0].contains("null"), "{}", lines[0]);

    let denial = json(&lines[1]);
    assert_eq!(denial["ray"], header(&denied, "doorman-ray"));
    assert_eq!(denial["status"], 403);
    assert_eq!(denial["code"], "1020");
    assert_eq!(denial["rule"], "rule:no-admin");
    assert_eq!(denial["route"], "chat");
    assert_eq!(denial["path"], "/admin/panel");
    assert!(denial.get("upstream").is_none() && denial.get("target").is_none());
    assert_eq!(denial["bytes_out"], denied_body.len());

    // An allow rule decided this one.
    let (allowed, _) = get(&env.url("/debug/status?code=204"), &[]).await;
    assert_eq!(allowed.status(), 204);
    let lines = self::lines(&log_path(&env), 3).await;
    let line = json(&lines[2]);
    assert_eq!(line["rule"], "rule:let-status");
    assert_eq!(line["status"], 204);
    assert!(line.get("code").is_none(), "{line}");

    // A streamed answer: the line is written once the stream ends, with what was sent.
    let (drip, drip_body) = get(&env.url("/debug/drip?chunks=3&interval_ms=20"), &[]).await;
    assert_eq!(drip.status(), 200);
    let lines = self::lines(&log_path(&env), 4).await;
    let line = json(&lines[3]);
    assert_eq!(line["ray"], header(&drip, "doorman-ray"));
    assert!(!drip_body.is_empty());
    assert_eq!(line["bytes_out"], drip_body.len());
    env.stop().await;
}

#[tokio::test]
async fn a_query_string_key_is_redacted() {
    let env = start(&access_log("access.log", "")).await;
    let secret = "dmn_live_notARealKeyButSecretAnyway1234";
    get(
        &env.url(&format!("/debug/echo?city=Oslo&api_key={secret}&u=1")),
        &[],
    )
    .await;
    let (denied, _) = get(&env.url(&format!("/admin?api_key={secret}")), &[]).await;
    assert_eq!(denied.status(), 403);
    let lines = lines(&log_path(&env), 2).await;
    assert_eq!(
        json(&lines[0])["path"],
        "/debug/echo?city=Oslo&api_key=REDACTED&u=1"
    );
    let line = json(&lines[1]);
    assert_eq!(line["ray"], header(&denied, "doorman-ray"));
    assert!(!lines.concat().contains(secret), "{lines:?}");
    // The event log writes it the same way.
    let event = env.event(header(&denied, "doorman-ray")).await;
    assert_eq!(event.path, line["path"].as_str().unwrap());
    assert_eq!(event.path, "/admin?api_key=REDACTED");
    env.stop().await;
}

#[tokio::test]
async fn sampling_nothing_still_logs_denials() {
    let env = start(&access_log("access.log", "sample_allowed = 0.0")).await;
    for _ in 0..5 {
        let (ok, _) = get(&env.url("/debug/echo"), &[]).await;
        assert_eq!(ok.status(), 200);
    }
    let (denied, _) = get(&env.url("/admin"), &[]).await;
    // Allowed requests sent before the denial would have been written first.
    let lines = lines(&log_path(&env), 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let lines_after = std::fs::read_to_string(log_path(&env)).unwrap();
    assert_eq!(lines_after.lines().count(), 1, "{lines_after}");
    assert_eq!(json(&lines[0])["ray"], header(&denied, "doorman-ray"));
    env.stop().await;
}

#[tokio::test]
async fn the_combined_format_reads_as_combined() {
    let env = start(&access_log("access.log", "format = \"combined\"")).await;
    let (ok, _) = get(
        &env.url("/debug/echo?a=1"),
        &[
            ("user-agent", "probe \"2\""),
            ("referer", "https://r.example/"),
        ],
    )
    .await;
    assert_eq!(ok.status(), 200);
    let lines = lines(&log_path(&env), 1).await;
    let line = &lines[0];
    // %h %l %u [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i"
    let (host, rest) = line
        .split_once(" - - [")
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(host, "127.0.0.1");
    let (time, rest) = rest.split_once("] \"").unwrap();
    assert_eq!(time.len(), "10/Oct/2000:13:55:36 +0000".len(), "{time}");
    assert!(
        time.ends_with(" +0000") && time.as_bytes()[2] == b'/',
        "{time}"
    );
    let (request, rest) = rest.split_once("\" ").unwrap();
    assert_eq!(request, "GET /debug/echo?a=1 HTTP/1.1");
    let mut fields = rest.splitn(3, ' ');
    assert_eq!(fields.next(), Some("200"));
    let bytes = fields.next().unwrap();
    assert!(bytes.parse::<u64>().is_ok_and(|b| b > 0), "{bytes}");
    assert_eq!(
        fields.next(),
        Some("\"https://r.example/\" \"probe \\\"2\\\"\"")
    );
    env.stop().await;
}

#[tokio::test]
async fn a_reopen_after_a_rename_writes_to_the_new_file() {
    let env = start(&access_log("access.log", "")).await;
    get(&env.url("/debug/echo?n=1"), &[]).await;
    lines(&log_path(&env), 1).await;
    let rotated = env.dir.path().join("access.log.1");
    std::fs::rename(log_path(&env), &rotated).unwrap();
    // What SIGUSR1 calls (the signal is handled by `doorman serve`, tested in doorman-cli).
    env.gateway.gateway.access_log.as_ref().unwrap().reopen();
    tokio::time::sleep(Duration::from_millis(500)).await;
    get(&env.url("/debug/echo?n=2"), &[]).await;
    let new = lines(&log_path(&env), 1).await;
    assert_eq!(json(&new[0])["path"], "/debug/echo?n=2");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert_eq!(old.lines().count(), 1, "{old}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(log_path(&env))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o137,
            0,
            "created {:o}, wanted 0640 or stricter",
            mode & 0o777
        );
    }
    env.stop().await;
}

/// A pipe nobody reads fills, the writer blocks on it, and the one-line queue overflows: the
/// request path drops lines rather than wait.
#[cfg(unix)]
#[tokio::test]
async fn a_full_queue_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Opened for reading and writing, so neither end waits for the other; never read.
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let env = start(&access_log(
        &fifo.display().to_string(),
        "queue_capacity = 1",
    ))
    .await;
    let gw = env.gateway.gateway.clone();
    let log = gw.access_log.as_ref().unwrap();
    // A pipe holds 64 KiB; lines are ~300 bytes, so a few hundred requests fill it.
    let mut sent = 0;
    while log.stats().dropped == 0 && sent < 3000 {
        let (resp, _) = get(&env.url("/admin/x"), &[]).await;
        assert_eq!(resp.status(), 403);
        sent += 1;
    }
    let stats = log.stats();
    assert!(stats.dropped > 0, "{sent} requests, {stats:?}");
    let metrics = doorman_server::metrics::scrape(&gw, doorman_server::metrics::Format::Classic);
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("doorman_access_log_dropped_total "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    assert!(dropped > 0);
    assert!(metrics.contains("doorman_access_log_lines_total "));
    // Closing the reader ends the writer's blocked write, so shutdown can flush and join.
    drop(held);
    drop(gw);
    env.stop().await;
}

#[tokio::test]
async fn a_tls_request_names_its_version_and_ja4() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, ca) = self_signed(certs.path());
    let env = start_with(|data, origin| {
        base_config(data, origin, "", &access_log("access.log", "")).replace(
            "[[listeners]]\naddr = \"127.0.0.1:0\"",
            &format!(
                "[[listeners]]\naddr = \"127.0.0.1:0\"\n\n[[listeners]]\naddr = \"127.0.0.1:0\"\n\
                 tls = {{ cert_file = \"{}\", key_file = \"{}\" }}",
                cert.display(),
                key.display()
            ),
        )
    })
    .await;
    let mut tls = tls_connect(env.gateway.listen_addrs[1], ca, &[b"http/1.1"]).await;
    tls.write_all(b"GET /debug/echo HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let lines = lines(&log_path(&env), 1).await;
    let line = json(&lines[0]);
    assert_eq!(line["host"], "localhost");
    assert_eq!(line["tls_version"], "TLSv1.3");
    let ja4 = line["ja4"].as_str().unwrap_or_default();
    assert!(ja4.starts_with("t13d"), "{line}");
    env.stop().await;
}

#[tokio::test]
async fn a_verified_key_is_named_by_its_id_never_its_secret() {
    let env = start(&access_log("access.log", "")).await;
    let store = doorman_keys::KeyStore::open(doorman_keys::keys_path(&env.data_dir())).unwrap();
    let now_ms = doorman_common::when::unix_ms(std::time::SystemTime::now());
    let (secret, record) = store
        .create(
            doorman_keys::NewKey {
                name: "reporting".into(),
                scopes: Vec::new(),
                expires_at: None,
                rate_limit: None,
            },
            "dmn_live",
            now_ms,
        )
        .unwrap();
    let secret = secret.expose().to_owned();
    // The gateway polls the key store every 250 ms.
    let url = env.url(&format!("/debug/echo?api_key={secret}"));
    let mut n = 0;
    let line = loop {
        get(&url, &[]).await;
        n += 1;
        let lines = lines(&log_path(&env), n).await;
        let line = json(&lines[n - 1]);
        if line.get("key_id").is_some() || n == 20 {
            assert!(!lines.concat().contains(&secret));
            break line;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(line["key_id"], record.id.as_str());
    assert_eq!(line["path"], "/debug/echo?api_key=REDACTED");
    env.stop().await;
}
