//! No API key or token appears in what a running gateway logs, at debug level, whatever it is
//! sent: valid, mistyped, revoked, in the header, a bearer JWT.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn keys_and_tokens_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (origin, _origin) = runtime
        .block_on(doorman_demo::spawn("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let config = dir.path().join("doorman.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
data_dir = "{data}"
shutdown_grace_secs = 1

[logging]
level = "debug"

[[listeners]]
addr = "127.0.0.1:0"

[admin]
addr = "127.0.0.1:0"

[auth]
key_header = "x-api-key"

[[upstreams]]
name = "origin"
targets = ["{origin}"]

[[routes]]
name = "plugins"
path_prefix = "/debug"
upstream = "origin"
auth = {{ methods = ["api_key"], scopes = ["plugins:weather"] }}
"#,
            data = data.display(),
        ),
    )
    .unwrap();
    let create = Command::new(BIN)
        .args([
            "keys",
            "create",
            "--name",
            "bot",
            "--scopes",
            "plugins:weather",
            "--json",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(create.status.success());
    let created: serde_json::Value = serde_json::from_slice(&create.stdout).unwrap();
    let key = created["key"].as_str().unwrap().to_owned();

    let (mut gateway, log, addr) = serve(&config, &[]);
    let mut typo = key.clone();
    typo.pop();
    typo.push('x');
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViamVjdCJ9.c2lnbmF0dXJlLXNlY3JldA";
    let bearer = |v: &str| format!("Bearer {v}");
    for (name, value) in [
        ("authorization", bearer(&key)),
        ("x-api-key", key.clone()),
        ("authorization", bearer(&typo)),
        ("authorization", bearer(token)),
    ] {
        let answer = http_get(addr, "/debug/echo", &[(name, value.as_str())]);
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    }
    let revoke = Command::new(BIN)
        .args(["keys", "revoke", "bot", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(revoke.status.success());
    std::thread::sleep(Duration::from_millis(600));
    let answer = http_get(
        addr,
        "/debug/echo",
        &[("authorization", bearer(&key).as_str())],
    );
    assert!(answer.contains("KEY_REVOKED"), "{answer}");

    let _ = gateway.0.kill();
    let _ = gateway.0.wait();
    let mut lines = Vec::new();
    while let Ok(line) = log.recv_timeout(Duration::from_millis(500)) {
        lines.push(line);
    }
    let all = lines.join("\n");
    assert!(
        all.contains("API keys reloaded"),
        "the log was read at debug level:\n{all}"
    );
    let key_body = &key["dmn_live_".len()..];
    for secret in [
        key_body,
        &typo["dmn_live_".len()..],
        token,
        "c2lnbmF0dXJlLXNlY3JldA",
    ] {
        assert!(!all.contains(secret), "a secret is in the log:\n{all}");
    }
}
