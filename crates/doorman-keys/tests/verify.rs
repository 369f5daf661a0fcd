//! `KeySnapshot::verify`, the request path: every outcome, from a real store on a real file.

use std::sync::Arc;
use std::time::Duration;

use doorman_keys::{
    DEFAULT_PREFIX, KeyRejection, KeySnapshot, KeyStore, Malformed, NewKey, keys_path,
};

const NOW: i64 = 1_795_383_851_000; // 2026-11-22T21:44:11Z
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

fn new_key(name: &str) -> NewKey {
    NewKey {
        name: name.to_owned(),
        scopes: vec!["plugins:weather".to_owned()],
        expires_at: None,
        rate_limit: None,
    }
}

fn store() -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::open(keys_path(dir.path())).unwrap();
    (dir, store)
}

#[test]
fn an_active_key_is_accepted_with_its_record() {
    let (_dir, store) = store();
    let (secret, record) = store.create(new_key("a"), DEFAULT_PREFIX, NOW).unwrap();
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.len(), 1);
    let got = snapshot.verify(secret.expose(), NOW + 1).unwrap();
    assert_eq!(*got, record);
    assert_eq!(snapshot.get(&record.id).map(|r| r.name.as_str()), Some("a"));
}

#[test]
fn an_expired_key_is_refused_with_when() {
    let (_dir, store) = store();
    let mut new = new_key("trial");
    new.expires_at = Some(NOW + HOUR);
    let (secret, record) = store.create(new, DEFAULT_PREFIX, NOW).unwrap();
    let snapshot = store.snapshot().unwrap();
    assert!(snapshot.verify(secret.expose(), NOW + HOUR - 1).is_ok());
    let err = snapshot
        .verify(secret.expose(), NOW + HOUR + 3 * MINUTE)
        .unwrap_err();
    assert_eq!(err.code(), "KEY_EXPIRED");
    assert!(
        matches!(&err, KeyRejection::Expired { at, rotated_to: None, .. } if *at == NOW + HOUR)
    );
    let reason = err.reason();
    assert!(reason.contains(&record.id), "{reason}");
    assert!(
        reason.contains("2026-11-22T22:44:11Z (3 minutes ago)"),
        "{reason}"
    );
    assert!(
        err.remedy()
            .contains(&format!("doorman keys rotate {}", record.id))
    );
    // Expired from the very millisecond of its expiry.
    assert!(snapshot.verify(secret.expose(), NOW + HOUR).is_err());
}

#[test]
fn a_revoked_key_is_refused_with_when() {
    let (_dir, store) = store();
    let (secret, _) = store.create(new_key("a"), DEFAULT_PREFIX, NOW).unwrap();
    store.revoke("a", NOW + MINUTE).unwrap();
    let err = store
        .snapshot()
        .unwrap()
        .verify(secret.expose(), NOW + MINUTE + HOUR)
        .unwrap_err();
    assert_eq!(err.code(), "KEY_REVOKED");
    assert_eq!(err.at(), Some(NOW + MINUTE));
    assert!(
        err.reason()
            .contains("was revoked at 2026-11-22T21:45:11Z (1 hour ago)"),
        "{}",
        err.reason()
    );
    assert!(err.remedy().contains("never works again"));
}

#[test]
fn a_rotated_key_works_during_its_grace_period_then_points_to_its_successor() {
    let (_dir, store) = store();
    let (old_secret, old) = store
        .create(new_key("partner"), DEFAULT_PREFIX, NOW)
        .unwrap();
    let rotation = store
        .rotate("partner", Duration::from_secs(24 * 3600), NOW)
        .unwrap();
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.len(), 2);
    // In grace: both work.
    let during = NOW + 23 * HOUR;
    let got = snapshot.verify(old_secret.expose(), during).unwrap();
    assert_eq!(got.id, old.id);
    assert_eq!(got.rotated_to.as_deref(), Some(rotation.new.id.as_str()));
    assert_eq!(
        snapshot
            .verify(rotation.secret.expose(), during)
            .unwrap()
            .id,
        rotation.new.id
    );
    // After grace: the old one is expired, and the refusal names its successor.
    let after = NOW + 25 * HOUR;
    let err = snapshot.verify(old_secret.expose(), after).unwrap_err();
    assert_eq!(err.code(), "KEY_EXPIRED");
    match &err {
        KeyRejection::Expired {
            rotated_to: Some(new),
            at,
            ..
        } => {
            assert_eq!(new.id, rotation.new.id);
            assert_eq!(*at, NOW + 24 * HOUR);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.reason().contains("when it was rotated"),
        "{}",
        err.reason()
    );
    assert!(err.reason().contains("(1 hour ago)"), "{}", err.reason());
    assert!(err.remedy().contains(&rotation.new.id), "{}", err.remedy());
    assert!(err.remedy().contains(&rotation.new.display));
    assert!(snapshot.verify(rotation.secret.expose(), after).is_ok());
}

#[test]
fn a_well_formed_key_that_is_not_stored_is_unknown() {
    let (_dir, store) = store();
    store.create(new_key("a"), DEFAULT_PREFIX, NOW).unwrap();
    let elsewhere = doorman_keys::format::generate(DEFAULT_PREFIX).unwrap();
    let err = store
        .snapshot()
        .unwrap()
        .verify(elsewhere.expose(), NOW)
        .unwrap_err();
    assert_eq!(err.code(), "KEY_UNKNOWN");
    assert_eq!(
        err,
        KeyRejection::Unknown {
            display: elsewhere.display()
        }
    );
    assert!(
        err.reason()
            .contains("not (or no longer) known to this site")
    );
    assert!(err.reason().contains("another Doorman, or deleted"));
}

#[test]
fn malformed_keys_never_reach_the_lookup_and_name_the_problem() {
    let (_dir, store) = store();
    let (secret, _) = store.create(new_key("a"), DEFAULT_PREFIX, NOW).unwrap();
    let snapshot = store.snapshot().unwrap();
    let k = secret.expose();
    let mut typo: Vec<char> = k.chars().collect();
    typo[15] = if typo[15] == 'x' { 'y' } else { 'x' };
    let typo: String = typo.into_iter().collect();
    for (bad, expected) in [
        (typo.as_str(), Malformed::Checksum),
        (
            &k[..40],
            Malformed::TooShort {
                expected: 45,
                found: 40,
            },
        ),
        (
            "sk-abcdef",
            Malformed::WrongPrefix {
                expected: vec![DEFAULT_PREFIX.to_owned()],
                found: Some("sk-".to_owned()),
            },
        ),
    ] {
        let err = snapshot.verify(bad, NOW).unwrap_err();
        assert_eq!(err.code(), "KEY_MALFORMED");
        assert_eq!(err, KeyRejection::Malformed(expected));
        assert!(
            err.reason().starts_with("The API key is malformed: "),
            "{}",
            err.reason()
        );
        assert!(!err.remedy().is_empty());
    }
}

#[test]
fn the_snapshot_knows_the_prefixes_of_its_keys() {
    let (_dir, store) = store();
    assert_eq!(store.snapshot().unwrap().prefixes(), [DEFAULT_PREFIX]);
    assert!(KeySnapshot::empty().is_empty());
    let (test_key, _) = store.create(new_key("t"), "dmn_test", NOW).unwrap();
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.prefixes(), ["dmn_test"]);
    assert!(snapshot.verify(test_key.expose(), NOW).is_ok());
    let err = snapshot
        .verify(
            doorman_keys::format::generate(DEFAULT_PREFIX)
                .unwrap()
                .expose(),
            NOW,
        )
        .unwrap_err();
    assert!(
        err.reason()
            .contains("keys for this site start with dmn_test_"),
        "{}",
        err.reason()
    );
}

#[test]
fn a_snapshot_is_shareable_and_frozen() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<KeySnapshot>();
    assert_send_sync::<KeyStore>();
    let (_dir, store) = store();
    let (secret, _) = store.create(new_key("a"), DEFAULT_PREFIX, NOW).unwrap();
    let snapshot = Arc::new(store.snapshot().unwrap());
    store.revoke("a", NOW).unwrap();
    // The old snapshot still accepts it (a request keeps the snapshot it started with)…
    assert!(snapshot.verify(secret.expose(), NOW + 1).is_ok());
    // …and the next one does not.
    let fresh = store.snapshot().unwrap();
    assert_eq!(
        fresh.verify(secret.expose(), NOW + 1).unwrap_err().code(),
        "KEY_REVOKED"
    );
}

#[test]
fn codes_are_the_documented_ones() {
    assert_eq!(
        KeyRejection::CODES,
        ["KEY_MALFORMED", "KEY_UNKNOWN", "KEY_REVOKED", "KEY_EXPIRED"]
    );
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/keys.md"))
        .unwrap();
    for code in KeyRejection::CODES {
        assert!(
            docs.contains(&format!("`{code}`")),
            "docs/keys.md lacks {code}"
        );
    }
}
