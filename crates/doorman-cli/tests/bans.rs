//! `doorman bans list|lift` against a running gateway: a rate limit with a mitigation timeout
//! bans this client, the command lists the ban and lifts it.

use doorman_test_support::client::*;
use doorman_test_support::gateway::process::*;
use doorman_test_support::origin::BlockingDemo;

const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));

fn status(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The README's way: `doorman serve --config doorman.toml` in the config's directory, then
/// `doorman bans` from another directory: both must find the same data directory and token.
#[test]
fn bans_are_listed_and_lifted_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let demo = BlockingDemo::start();
    let origin = demo.addr;
    std::fs::write(
        dir.path().join("doorman.toml"),
        format!(
            r#"
[server]
data_dir = "data"
shutdown_grace_secs = 1

[[listeners]]
addr = "127.0.0.1:0"

[admin]
addr = "127.0.0.1:{admin}"

[[upstreams]]
name = "origin"
targets = ["{origin}"]

[[routes]]
name = "all"
upstream = "origin"

[[rate_limits]]
id = "tight"
expression = 'http.request.uri.path eq "/healthz"'
characteristics = ["ip.src"]
requests_per_period = 1
period_secs = 60
mitigation_timeout_secs = 600
"#,
            admin = free_port(),
        ),
    )
    .unwrap();
    let (_gateway, _log, addr) =
        DOORMAN.serve_from(Some(dir.path()), std::path::Path::new("doorman.toml"), &[]);
    assert!(
        dir.path().join("data/admin.token").is_file(),
        "the token lives in the data directory, once"
    );
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();

    let bans = |args: &[&str]| {
        let out = DOORMAN
            .command()
            .current_dir(&elsewhere)
            .arg("bans")
            .args(args)
            .args(["--config", "../doorman.toml"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = bans(&["list"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("no bans in force"), "{out}");

    assert_eq!(status(&http_get(addr, "/healthz", &[])), 200);
    let banned = http_get(addr, "/healthz", &[]);
    assert_eq!(status(&banned), 429, "{banned}");
    assert!(banned.contains("1015"), "{banned}");

    let (code, out, err) = bans(&["list"]);
    assert_eq!(code, Some(0), "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("tight"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("IP address") && line.contains("127.0.0.1"),
        "{line}"
    );

    let (code, _, err) = bans(&["lift", "192.0.2.1"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no ban in force matches"), "{err}");

    let (code, out, err) = bans(&["lift", "127.0.0.1", "--rule", "tight"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("lifted: IP address 127.0.0.1 (rule tight"),
        "{out}"
    );
    assert_eq!(
        status(&http_get(addr, "/healthz", &[])),
        200,
        "the key starts afresh"
    );
}

#[test]
fn challenge_rotate_key_keeps_the_old_key_for_the_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("doorman.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = \"{}\"\n\n[[listeners]]\naddr = \"127.0.0.1:0\"\n\n[[upstreams]]\nname = \"o\"\ntargets = [\"127.0.0.1:9\"]\n\n[[routes]]\nname = \"r\"\nupstream = \"o\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let rotate = |overlap: &str| {
        let out = DOORMAN
            .command()
            .args(["challenge", "rotate-key", "--overlap", overlap, "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            std::fs::read_to_string(dir.path().join("data/challenge.key")).unwrap(),
        )
    };
    let current = |file: &str| {
        file.lines()
            .find_map(|l| {
                l.strip_prefix("current")
                    .map(|r| r.split_whitespace().next().unwrap().to_owned())
            })
            .unwrap()
    };
    let (out, err, first) = rotate("1d");
    assert!(out.contains("a new key signs from now on"), "{out}");
    assert!(err.is_empty(), "{err}");
    let (_, err, second) = rotate("1h");
    assert_ne!(current(&first), current(&second));
    assert!(
        second.contains(&format!("previous {}", current(&first))),
        "{second}"
    );
    assert!(err.contains("shorter than the clearance lifetime"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/challenge.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
