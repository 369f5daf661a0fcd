//! No API key or token appears in what a running gateway logs, at debug level, whatever it is
//! sent: valid, mistyped, revoked, in the header, a bearer JWT.

use std::time::Duration;

use doorman_test_support::client::*;
use doorman_test_support::config::LOOPBACK_LISTENERS;
use doorman_test_support::gateway::process::*;
use doorman_test_support::origin::BlockingDemo;

const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));

#[test]
fn keys_and_tokens_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = BlockingDemo::start();
    let origin = demo.addr;
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

{LOOPBACK_LISTENERS}

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
    let create = DOORMAN
        .command()
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

    let (mut gateway, log, addr) = DOORMAN.serve(&config, &[]);
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
    let revoke = DOORMAN
        .command()
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
