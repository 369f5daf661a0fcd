//! The key file: created once with mode 0600, read back unchanged, never overwritten.

use doorman_challenge::{Clearance, Keyring, Level, RequestContext, Settings, mint, verify};

#[test]
fn created_private_then_reread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("challenge.keys");
    let first = Keyring::load_or_create(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("current {} ", first.current_kid())));
    let second = Keyring::load_or_create(&path).unwrap();
    assert_eq!(first, second);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // A cookie minted before a restart verifies after it.
    let s = Settings::default();
    let ctx = RequestContext {
        now: 1_800_000_000,
        client_ip: "203.0.113.7".parse().unwrap(),
        user_agent: Some("x"),
    };
    let v = mint(&first, &Clearance::grant(Level::Pow, &ctx, &s));
    assert!(verify(&second, &v, &ctx, &s).is_ok());
}

#[test]
fn rotation_is_written_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("challenge.keys");
    let first = Keyring::load_or_create(&path).unwrap();
    let rotated = first.rotated(1_800_000_000, 2 * 86_400);
    std::fs::write(&path, rotated.to_file_string()).unwrap();
    let back = Keyring::load_or_create(&path).unwrap();
    assert_eq!(back, rotated);
    assert_eq!(back.previous()[0].kid, first.current_kid());
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("accepted until 2027-01-17T08:00:00Z")
    );
}

#[test]
fn a_broken_file_is_an_error_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("challenge.keys");
    std::fs::write(&path, "current k1 not-hex\n").unwrap();
    let e = Keyring::load_or_create(&path).unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("challenge.keys:1:"), "{shown}");
    assert!(shown.contains("64 hex digits"), "{shown}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "current k1 not-hex\n"
    );
}
