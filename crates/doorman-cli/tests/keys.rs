//! `doorman keys` as an operator runs it: the real binary on a temporary data directory.

use std::path::Path;
use std::process::Output;

use doorman_test_support::gateway::process::Doorman;

const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));

fn doorman(data_dir: &Path, args: &[&str]) -> Output {
    DOORMAN
        .command()
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs and expects success; returns stdout.
fn ok(data_dir: &Path, args: &[&str]) -> String {
    let out = doorman(data_dir, args);
    assert!(
        out.status.success(),
        "doorman keys {args:?} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// The one line of output that is a whole key.
fn key_in(text: &str, prefix: &str) -> String {
    let keys: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.starts_with(prefix) && w.len() == prefix.len() + 36)
        .collect();
    assert_eq!(keys.len(), 1, "one key, printed once:\n{text}");
    keys[0].to_owned()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn create_list_show_rotate_revoke() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    // Create: the key once, a warning, and what it is.
    let created = ok(
        &data,
        &[
            "create",
            "--name",
            "weather-bot",
            "--scopes",
            "plugins:weather,chat",
            "--expires",
            "30d",
            "--rate-limit",
            "100/1m",
        ],
    );
    let key = key_in(&created, "dmn_live_");
    assert!(created.contains("shown only this once"), "{created}");
    assert!(created.contains("plugins:weather, chat"), "{created}");
    assert!(created.contains("100/1m"), "{created}");
    assert!(created.contains("(in 30 days)"), "{created}");
    let display = format!("dmn_live_{}\u{2026}{}", &key[9..13], &key[key.len() - 4..]);
    assert!(created.contains(&display), "{created}");

    // List: the display form and status, never the key.
    let list = ok(&data, &["list"]);
    assert!(list.starts_with("ID"), "{list}");
    assert!(
        list.contains("weather-bot") && list.contains(&display),
        "{list}"
    );
    assert!(list.contains("active"), "{list}");
    assert!(!list.contains(&key[9..]), "{list}");
    let listed = json(&ok(&data, &["list", "--json"]));
    let first = &listed[0];
    assert_eq!(first["name"], "weather-bot");
    assert_eq!(first["status"], "active");
    assert_eq!(first["display"], display.as_str());
    assert_eq!(
        first["scopes"],
        serde_json::json!(["plugins:weather", "chat"])
    );
    let id = first["id"].as_str().unwrap().to_owned();
    assert!(!listed.to_string().contains(&key[9..]));

    // Show, by name and by id.
    let shown = ok(&data, &["show", "weather-bot"]);
    assert!(
        shown.contains(&id) && shown.contains("last used    never"),
        "{shown}"
    );
    assert!(!shown.contains(&key[9..]));
    assert_eq!(
        json(&ok(&data, &["show", &id, "--json"]))["name"],
        "weather-bot"
    );

    // Rotate: a new key, once; the old one has a grace period.
    let rotated = ok(&data, &["rotate", "weather-bot", "--grace", "1h"]);
    let new_key = key_in(&rotated, "dmn_live_");
    assert_ne!(new_key, key);
    assert!(rotated.contains("shown only this once"), "{rotated}");
    assert!(rotated.contains(&format!("The old key {id}")), "{rotated}");
    assert!(rotated.contains("keeps working until"), "{rotated}");
    assert!(rotated.contains("(in 1 hour)"), "{rotated}");
    let list = ok(&data, &["list"]);
    assert!(list.contains("rotated, ends in"), "{list}");
    assert!(!list.contains(&new_key[9..]) && !list.contains(&key[9..]));
    let listed = json(&ok(&data, &["list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["rotated_to"], listed[1]["id"]);
    assert_eq!(listed[1]["rotated_from"], id.as_str());

    // Revoke by name: the current key and its predecessor still in grace.
    let revoked = ok(&data, &["revoke", "weather-bot"]);
    assert!(
        revoked.contains("Revoked key_") && revoked.contains("KEY_REVOKED"),
        "{revoked}"
    );
    assert!(revoked.contains(&format!("Also revoked {id}")), "{revoked}");
    let listed = json(&ok(&data, &["list", "--json"]));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["status"] == "revoked"),
        "{listed}"
    );
    // Again: nothing to do, and said so.
    let again = ok(&data, &["revoke", "weather-bot"]);
    assert!(again.contains("was already revoked"), "{again}");
    let out = doorman(&data, &["rotate", "weather-bot"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot be rotated"),
        "{}",
        stderr(&out)
    );

    // No key is in any file of the data directory.
    for entry in std::fs::read_dir(&data).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for k in [&key, &new_key] {
            let body = &k.as_bytes()[9..];
            assert!(!bytes.windows(body.len()).any(|w| w == body));
        }
    }
}

#[test]
fn json_create_gives_the_key_to_scripts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = json(&ok(
        tmp.path(),
        &["create", "--name", "ci", "--prefix", "acme_test", "--json"],
    ));
    let key = out["key"].as_str().unwrap();
    assert!(key.starts_with("acme_test_") && key.len() == 46, "{out}");
    assert_eq!(out["expires_at"], serde_json::Value::Null);
    assert_eq!(out["scopes"], serde_json::json!([]));
}

#[test]
fn errors_name_the_problem_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();

    // Nothing created yet.
    let out = doorman(data, &["show", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no key database at"),
        "{}",
        stderr(&out)
    );
    let out = doorman(data, &["list"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("no key database at"));

    ok(data, &["create", "--name", "billing"]);
    ok(data, &["create", "--name", "billing-eu"]);
    // An unknown name lists the near ones.
    let out = doorman(data, &["revoke", "biling"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("no key has the id or name `biling`; did you mean `billing`"),
        "{err}"
    );
    // A past expiry is a bad argument (exit 2), with the reason.
    let out = doorman(data, &["create", "--name", "x", "--expires", "2001-01-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("a key must expire in the future"),
        "{}",
        stderr(&out)
    );
    // A taken name, a bad scope.
    for (args, expected) in [
        (&["create", "--name", "billing"][..], "already exists"),
        (
            &["create", "--name", "x", "--scopes", "a b"][..],
            "cannot be used",
        ),
    ] {
        let out = doorman(data, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn the_data_directory_can_come_from_a_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("doorman.toml");
    std::fs::write(
        &config,
        r#"[server]
data_dir = "state"

[[listeners]]
addr = "127.0.0.1:0"

[[upstreams]]
name = "app"
targets = ["127.0.0.1:9"]

[[routes]]
name = "all"
path_prefix = "/"
upstream = "app"
"#,
    )
    .unwrap();
    let out = DOORMAN
        .command()
        .args(["keys", "create", "--name", "c", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tmp.path().join("state").join("keys.sqlite").is_file());
}

#[test]
fn rotating_an_expired_key_says_it_had_expired() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&data, &["create", "--name", "short", "--expires", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let rotated = ok(&data, &["rotate", "short", "--grace", "1h"]);
    assert!(rotated.contains("had already expired"), "{rotated}");
    assert!(
        rotated.contains("it stays refused with KEY_EXPIRED, which now names"),
        "{rotated}"
    );
    assert!(!rotated.contains("keeps working"), "{rotated}");
}
