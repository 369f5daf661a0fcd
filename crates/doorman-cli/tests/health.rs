//! `doorman health`, the container image's HEALTHCHECK: exit 0 while the gateway that runs with
//! a config answers its liveness probe, 1 with the reason once it is gone, and a clear error when
//! the config disables the admin API it asks.

use doorman_test_support::client::free_port;
use doorman_test_support::gateway::process::*;

const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));

fn config(admin: &str) -> String {
    format!(
        r#"
[server]
data_dir = "data"
shutdown_grace_secs = 1

[[listeners]]
addr = "127.0.0.1:0"

{admin}

[[upstreams]]
name = "origin"
targets = ["127.0.0.1:9"]

[[routes]]
name = "all"
upstream = "origin"
"#
    )
}

fn health(config: &std::path::Path) -> (i32, String, String) {
    let out = DOORMAN
        .command()
        .args(["health", "--config"])
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn health_passes_while_the_gateway_serves_and_fails_once_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doorman.toml");
    let admin = format!("127.0.0.1:{}", free_port());
    std::fs::write(&path, config(&format!("[admin]\naddr = \"{admin}\""))).unwrap();

    let (gateway, _log, _addr) = DOORMAN.serve(&path, &[]);
    let (code, out, err) = health(&path);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("healthy: the gateway at {admin}")),
        "{out}"
    );

    drop(gateway);
    let (code, out, err) = health(&path);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains(&format!("cannot reach the admin API at {admin}"))
            && err.contains("is the gateway running with this config?"),
        "{err}"
    );
}

#[test]
fn health_says_when_the_config_disables_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doorman.toml");
    std::fs::write(&path, config("[admin]\nenabled = false")).unwrap();
    let (code, _, err) = health(&path);
    assert_ne!(code, 0);
    assert!(
        err.contains("the admin API is disabled") && err.contains("doorman health"),
        "{err}"
    );
}
