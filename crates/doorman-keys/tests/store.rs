//! The key store on real SQLite files in temporary directories: what is stored, names and
//! their uniqueness, revocation, rotation, last-used times, change detection across
//! connections, file permissions, and what may never be printed.

use std::time::Duration;

use doorman_keys::store::schema_version;
use doorman_keys::{DEFAULT_PREFIX, KeyStatus, KeyStore, KeyStoreError, NewKey, keys_path};

const NOW: i64 = 1_795_383_851_000; // 2026-11-22T21:44:11Z
const HOUR: i64 = 3_600_000;

fn new_key(name: &str, scopes: &[&str]) -> NewKey {
    NewKey {
        name: name.to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        expires_at: None,
        rate_limit: None,
    }
}

fn store() -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::open(keys_path(&dir.path().join("data"))).unwrap();
    (dir, store)
}

#[test]
fn create_stores_the_record_and_find_reads_it_by_id_and_name() {
    let (_dir, store) = store();
    let mut new = new_key("billing", &["plugins:weather", "chat", "chat"]);
    new.expires_at = Some(NOW + 30 * 24 * HOUR);
    new.rate_limit = Some("100/1m".to_owned());
    let (secret, record) = store.create(new, DEFAULT_PREFIX, NOW).unwrap();
    assert!(
        record.id.starts_with("key_") && record.id.len() == 12,
        "{}",
        record.id
    );
    assert_eq!(record.name, "billing");
    assert_eq!(
        record.scopes,
        ["plugins:weather", "chat"],
        "repeats dropped, order kept"
    );
    assert_eq!(record.display, secret.display());
    assert_eq!(record.created_at, NOW);
    assert_eq!(record.rate_limit.as_deref(), Some("100/1m"));
    assert_eq!(store.find(&record.id).unwrap(), record);
    assert_eq!(store.find("billing").unwrap(), record);
    assert_eq!(store.list().unwrap(), vec![record]);
}

#[test]
fn the_database_holds_no_usable_key() {
    let (dir, store) = store();
    let mut secrets = Vec::new();
    for i in 0..5 {
        let (secret, _) = store
            .create(new_key(&format!("k{i}"), &["a"]), DEFAULT_PREFIX, NOW)
            .unwrap();
        secrets.push(secret.expose().to_owned());
    }
    drop(store);
    // Every byte of every file SQLite wrote (database, WAL, shared memory).
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for k in &secrets {
            let body = &k.as_bytes()[9..];
            assert!(
                !bytes.windows(body.len()).any(|w| w == body),
                "a key's body was found in a database file"
            );
            // Not even the random part without its checksum.
            let random = &body[..30];
            assert!(!bytes.windows(random.len()).any(|w| w == random));
        }
    }
}

#[test]
fn invalid_input_is_refused_with_the_reason() {
    let (_dir, store) = store();
    let cases: Vec<(NewKey, &str, &str)> = vec![
        (new_key("", &[]), DEFAULT_PREFIX, "a name is required"),
        (
            new_key("has space", &[]),
            DEFAULT_PREFIX,
            "' ' is not allowed",
        ),
        (
            new_key("key_abcdefgh", &[]),
            DEFAULT_PREFIX,
            "shaped like a key id",
        ),
        (
            new_key("ok", &["a b"]),
            DEFAULT_PREFIX,
            "' ' is not allowed in a scope",
        ),
        (new_key("ok", &["a", ""]), DEFAULT_PREFIX, "an empty scope"),
        (new_key("ok", &[]), "dmn-live", "cannot be used"),
        (
            NewKey {
                expires_at: Some(NOW - 1),
                ..new_key("ok", &[])
            },
            DEFAULT_PREFIX,
            "is not in the future",
        ),
        (
            NewKey {
                rate_limit: Some(" ".to_owned()),
                ..new_key("ok", &[])
            },
            DEFAULT_PREFIX,
            "the rate limit",
        ),
        (
            NewKey {
                rate_limit: Some("100 per minute".to_owned()),
                ..new_key("ok", &[])
            },
            DEFAULT_PREFIX,
            "e.g. 100/1m",
        ),
        (
            NewKey {
                rate_limit: Some("70000/1m".to_owned()),
                ..new_key("ok", &[])
            },
            DEFAULT_PREFIX,
            "from 1 to 65535",
        ),
    ];
    for (new, prefix, expected) in cases {
        let err = store.create(new.clone(), prefix, NOW).unwrap_err();
        assert!(err.to_string().contains(expected), "{new:?}: {err}");
    }
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn names_are_unique_among_current_keys() {
    let (_dir, store) = store();
    let (_, first) = store
        .create(new_key("ci", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    let err = store
        .create(new_key("ci", &[]), DEFAULT_PREFIX, NOW)
        .unwrap_err();
    assert!(
        matches!(&err, KeyStoreError::NameTaken { id, .. } if *id == first.id),
        "{err}"
    );
    assert!(err.to_string().contains("doorman keys rotate ci"), "{err}");
    // Once revoked, the name is free again; the name then finds the new key.
    store.revoke("ci", NOW + 1).unwrap();
    let (_, second) = store
        .create(new_key("ci", &[]), DEFAULT_PREFIX, NOW + 2)
        .unwrap();
    assert_eq!(store.find("ci").unwrap().id, second.id);
    assert_eq!(store.find(&first.id).unwrap().revoked_at, Some(NOW + 1));
}

#[test]
fn an_unknown_name_suggests_near_ones() {
    let (_dir, store) = store();
    store
        .create(new_key("billing", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    store
        .create(new_key("billing-eu", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    store
        .create(new_key("zebra", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    let err = store.find("biling").unwrap_err();
    match &err {
        KeyStoreError::NotFound { near, .. } => {
            assert_eq!(near.first().map(String::as_str), Some("billing"));
            assert!(!near.iter().any(|n| n == "zebra"), "{near:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("did you mean `billing`"), "{err}");
    let err = store.find("nothing-like-it").unwrap_err();
    assert!(
        err.to_string()
            .contains("`doorman keys list` shows them all"),
        "{err}"
    );
    assert!(store.find("key_00000000").is_err());
}

#[test]
fn revoke_is_recorded_and_not_repeated() {
    let (_dir, store) = store();
    let (_, key) = store
        .create(new_key("a", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    let revoked = store.revoke(&key.id, NOW + HOUR).unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].revoked_at, Some(NOW + HOUR));
    assert_eq!(
        store.find("a").unwrap().status(NOW + 2 * HOUR),
        KeyStatus::Revoked { at: NOW + HOUR }
    );
    let err = store.revoke("a", NOW + 2 * HOUR).unwrap_err();
    assert!(matches!(err, KeyStoreError::AlreadyRevoked { at, .. } if at == NOW + HOUR));
}

#[test]
fn rotate_keeps_name_scopes_and_limit_and_gives_the_old_key_a_grace_period() {
    let (_dir, store) = store();
    let mut new = new_key("partner", &["plugins:weather"]);
    new.rate_limit = Some("10/1s".to_owned());
    new.expires_at = Some(NOW + 30 * 24 * HOUR);
    let (old_secret, old) = store.create(new, DEFAULT_PREFIX, NOW).unwrap();
    let later = NOW + 10 * 24 * HOUR;
    let rotation = store
        .rotate("partner", Duration::from_secs(24 * 3600), later)
        .unwrap();
    assert_ne!(rotation.secret.expose(), old_secret.expose());
    let new = &rotation.new;
    assert_eq!((new.name.as_str(), &new.scopes), ("partner", &old.scopes));
    assert_eq!(new.rate_limit, old.rate_limit);
    assert_eq!(new.rotated_from.as_deref(), Some(old.id.as_str()));
    assert_eq!(
        new.expires_at,
        Some(later + 30 * 24 * HOUR),
        "same lifetime, from now"
    );
    assert_eq!(rotation.old.rotated_to.as_deref(), Some(new.id.as_str()));
    assert_eq!(rotation.old.expires_at, Some(later + 24 * HOUR));
    assert_eq!(store.find(&old.id).unwrap(), rotation.old);
    // The name now finds the successor.
    assert_eq!(store.find("partner").unwrap().id, new.id);
    assert_eq!(
        rotation.old.status(later + HOUR),
        KeyStatus::RotatedGrace {
            until: later + 24 * HOUR,
            to: new.id.clone()
        }
    );
    assert_eq!(
        rotation.old.status(later + 24 * HOUR),
        KeyStatus::Rotated {
            at: later + 24 * HOUR,
            to: new.id.clone()
        }
    );
    // An old key cannot be rotated twice.
    let err = store.rotate(&old.id, Duration::ZERO, later).unwrap_err();
    assert!(
        matches!(err, KeyStoreError::AlreadyRotated { ref to, .. } if *to == new.id),
        "{err}"
    );
}

#[test]
fn the_grace_period_never_extends_an_earlier_expiry() {
    let (_dir, store) = store();
    let mut new = new_key("short", &[]);
    new.expires_at = Some(NOW + HOUR);
    store.create(new, DEFAULT_PREFIX, NOW).unwrap();
    let rotation = store
        .rotate("short", Duration::from_secs(24 * 3600), NOW)
        .unwrap();
    assert_eq!(rotation.old.expires_at, Some(NOW + HOUR));
}

#[test]
fn revoking_a_rotated_name_stops_the_predecessor_in_its_grace_period_too() {
    let (_dir, store) = store();
    let (_, first) = store
        .create(new_key("svc", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    let second = store
        .rotate("svc", Duration::from_secs(3600), NOW)
        .unwrap()
        .new;
    let third = store
        .rotate("svc", Duration::from_secs(7200), NOW + 1)
        .unwrap()
        .new;
    let revoked = store.revoke("svc", NOW + 2).unwrap();
    let ids: Vec<&str> = revoked.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(
        ids,
        [third.id.as_str(), second.id.as_str(), first.id.as_str()]
    );
    // Revoking an old key by id leaves its successor alone.
    let (_, a) = store
        .create(new_key("other", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    let b = store
        .rotate("other", Duration::from_secs(3600), NOW)
        .unwrap()
        .new;
    let revoked = store.revoke(&a.id, NOW + 1).unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        store.find(&b.id).unwrap().status(NOW + 1),
        KeyStatus::Active
    );
    // A revoked key cannot be rotated.
    let err = store.rotate(&a.id, Duration::ZERO, NOW + 2).unwrap_err();
    assert!(matches!(err, KeyStoreError::RotateRevoked { .. }), "{err}");
}

#[test]
fn last_used_times_are_batched_and_only_move_forward() {
    let (_dir, store) = store();
    let (_, a) = store
        .create(new_key("a", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    let (_, b) = store
        .create(new_key("b", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    store
        .record_last_used(&[
            (a.id.as_str(), NOW + 5),
            (b.id.as_str(), NOW + 7),
            ("key_unknown1", NOW),
        ])
        .unwrap();
    store.record_last_used(&[(a.id.clone(), NOW + 3)]).unwrap();
    store.record_last_used::<&str>(&[]).unwrap();
    assert_eq!(store.find("a").unwrap().last_used_at, Some(NOW + 5));
    assert_eq!(store.find("b").unwrap().last_used_at, Some(NOW + 7));
}

#[test]
fn data_version_changes_when_another_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = keys_path(dir.path());
    // The gateway's connection and, standing in for `doorman keys`, another one on the file.
    let gateway = KeyStore::open(&path).unwrap();
    let cli = KeyStore::open(&path).unwrap();
    let v0 = gateway.data_version().unwrap();
    assert_eq!(
        gateway.data_version().unwrap(),
        v0,
        "no change, same version"
    );
    let (_, key) = cli.create(new_key("a", &[]), DEFAULT_PREFIX, NOW).unwrap();
    let v1 = gateway.data_version().unwrap();
    assert_ne!(v1, v0);
    let (seen, snapshot) = gateway.snapshot_if_changed(Some(v0)).unwrap().unwrap();
    assert_eq!(seen, v1);
    assert_eq!(snapshot.len(), 1);
    assert!(gateway.snapshot_if_changed(Some(seen)).unwrap().is_none());
    cli.revoke(&key.id, NOW + 1).unwrap();
    assert_ne!(gateway.data_version().unwrap(), v1);
    // The gateway's own last-used writes do not make it reload; its own key changes do.
    let v2 = gateway.data_version().unwrap();
    gateway.record_last_used(&[(key.id.as_str(), NOW)]).unwrap();
    assert_eq!(gateway.data_version().unwrap(), v2);
    gateway
        .create(new_key("b", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    assert_ne!(gateway.data_version().unwrap(), v2);
}

#[cfg(unix)]
#[test]
fn files_and_directory_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new").join("data");
    let path = keys_path(&data);
    let store = KeyStore::open(&path).unwrap();
    store
        .create(new_key("a", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&path), 0o600);
    let wal = data.join("keys.sqlite-wal");
    assert!(wal.exists(), "WAL mode");
    assert_eq!(mode(&wal), 0o600);
}

#[test]
fn a_database_from_a_newer_doorman_is_refused_and_reopening_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = keys_path(dir.path());
    let store = KeyStore::open(&path).unwrap();
    store
        .create(new_key("a", &[]), DEFAULT_PREFIX, NOW)
        .unwrap();
    drop(store);
    let store = KeyStore::open(&path).unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", schema_version() + 1)
        .unwrap();
    drop(conn);
    let err = KeyStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            KeyStoreError::Setup(doorman_common::sqlite::SqliteError::TooNew { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("run a newer Doorman"), "{err}");
}

#[test]
fn open_existing_does_not_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = keys_path(dir.path());
    let err = KeyStore::open_existing(&path).unwrap_err();
    assert!(matches!(err, KeyStoreError::Missing { .. }));
    assert!(err.to_string().contains("doorman keys create"), "{err}");
    assert!(!path.exists());
}

#[test]
fn no_public_type_prints_a_secret_in_debug_output() {
    let (_dir, store) = store();
    let (secret, record) = store
        .create(new_key("a", &["s"]), DEFAULT_PREFIX, NOW)
        .unwrap();
    let rotation = store.rotate("a", Duration::from_secs(60), NOW).unwrap();
    let snapshot = store.snapshot().unwrap();
    let rejection = snapshot
        .verify(secret.expose(), NOW + 3_600_000)
        .unwrap_err();
    let debug = format!(
        "{secret:?} {record:?} {rotation:?} {snapshot:?} {rejection:?} {store:?} {}",
        rejection.reason()
    );
    for k in [secret.expose(), rotation.secret.expose()] {
        assert!(!debug.contains(&k[9..]), "{debug}");
        assert!(!debug.contains(&k[13..41]), "{debug}");
    }
    assert!(debug.contains(&record.display));
}

#[test]
fn rate_limits_read_as_requests_per_period() {
    use doorman_keys::parse_rate_limit;
    use std::time::Duration;
    assert_eq!(
        parse_rate_limit("100/1m"),
        Ok((100, Duration::from_secs(60)))
    );
    assert_eq!(
        parse_rate_limit(" 10/30s "),
        Ok((10, Duration::from_secs(30)))
    );
    assert_eq!(
        parse_rate_limit("20000/d"),
        Ok((20000, Duration::from_secs(86_400)))
    );
    assert!(
        parse_rate_limit("5/0s")
            .unwrap_err()
            .contains("between 1 s and 30 days")
    );
    assert!(parse_rate_limit("5/1w").unwrap_err().contains("no unit"));
}
