//! Clearance cookies: round trips, every rejection with its code and key fact, tampering,
//! key rotation with overlap, skew back-dating, binding on and off, loop detection.

use std::net::IpAddr;

use doorman_challenge::{
    BindingPolicy, Clearance, ClearanceRejection, Gate, Key, Keyring, Level, RequestContext,
    Settings, assess, cookie_values, inspect, issue_cookies, mint, mint_marker, read_marker,
    set_cookie_header, verify,
};
use http::HeaderMap;
use http::header::COOKIE;

const NOW: u64 = 1_800_000_000;
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";

fn ring() -> Keyring {
    Keyring::new("k1", Key::from_bytes([7; 32])).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ctx(now: u64, addr: &str, ua: Option<&'static str>) -> RequestContext<'static> {
    RequestContext {
        now,
        client_ip: ip(addr),
        user_agent: ua,
    }
}

fn minted(ring: &Keyring, settings: &Settings) -> (Clearance, String) {
    let c = Clearance::grant(
        Level::Pow,
        &ctx(NOW, "203.0.113.7", Some(FIREFOX)),
        settings,
    );
    let v = mint(ring, &c);
    (c, v)
}

#[test]
fn round_trip_and_compact() {
    let ring = ring();
    let s = Settings::default();
    let (c, v) = minted(&ring, &s);
    assert!(v.len() < 120, "{} bytes: {v}", v.len());
    assert!(
        v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    );
    let back = verify(&ring, &v, &ctx(NOW + 10, "203.0.113.99", Some(FIREFOX)), &s).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.level, Level::Pow);
    assert_eq!(back.issued_at, NOW - s.clock_skew_s);
    assert_eq!(back.expires_at, NOW + s.clearance_lifetime_s);
    assert_eq!(
        back.binding.ip_prefix.unwrap().to_string(),
        "203.0.113.0/24"
    );
    assert_eq!(inspect(&v), Some(("k1".to_owned(), c)));
    let c2 = Clearance {
        level: Level::Interactive,
        ..c
    };
    let v2 = mint(&ring, &c2);
    assert_eq!(
        verify(&ring, &v2, &ctx(NOW, "203.0.113.7", Some(FIREFOX)), &s)
            .unwrap()
            .level,
        Level::Interactive
    );
    assert!(Level::Interactive > Level::Pow);
}

/// Checks code, that the reason names `fact`, and that there is a remedy.
fn expect(r: Result<Clearance, ClearanceRejection>, code: &str, fact: &str) -> ClearanceRejection {
    let e = r.expect_err("should be refused");
    assert_eq!(e.code(), code, "{e}");
    assert!(
        e.reason().contains(fact),
        "reason {:?} lacks {fact:?}",
        e.reason()
    );
    assert!(!e.remedy().is_empty());
    assert!(ClearanceRejection::CODES.contains(&e.code()));
    e
}

#[test]
fn every_rejection_with_its_facts() {
    let ring = ring();
    let s = Settings::default();
    let (c, v) = minted(&ring, &s);
    let here = |now| ctx(now, "203.0.113.7", Some(FIREFOX));

    expect(
        verify(&ring, "garbage", &here(NOW), &s),
        "CLEARANCE_MALFORMED",
        "four parts",
    );
    expect(
        verify(&ring, "", &here(NOW), &s),
        "CLEARANCE_MALFORMED",
        "format",
    );
    expect(
        verify(&ring, &v.replacen("v1.", "v2.", 1), &here(NOW), &s),
        "CLEARANCE_MALFORMED",
        "version 1",
    );

    // Change one character of the body: the signature no longer matches.
    let mut parts: Vec<String> = v.split('.').map(str::to_owned).collect();
    let body = parts[2].clone();
    let flipped = if body.starts_with('A') { 'B' } else { 'A' };
    parts[2] = format!("{flipped}{}", &body[1..]);
    let e = expect(
        verify(&ring, &parts.join("."), &here(NOW), &s),
        "CLEARANCE_TAMPERED",
        "changed after",
    );
    assert!(!e.is_site_side());

    let other = Keyring::new("k2", Key::from_bytes([8; 32])).unwrap();
    let e = expect(
        verify(&other, &v, &here(NOW), &s),
        "CLEARANCE_UNKNOWN_KEY",
        "`k1`",
    );
    assert!(e.is_site_side());

    // A key of the same id but other bytes: tampered, not unknown.
    let impostor = Keyring::new("k1", Key::from_bytes([9; 32])).unwrap();
    expect(
        verify(&impostor, &v, &here(NOW), &s),
        "CLEARANCE_TAMPERED",
        "signature",
    );

    // Expired 3 minutes ago, and says when.
    let at = c.expires_at;
    let e = expect(
        verify(&ring, &v, &here(at + 180), &s),
        "CLEARANCE_EXPIRED",
        "expired 3 minutes ago",
    );
    assert_eq!(e, ClearanceRejection::Expired { at, now: at + 180 });
    assert!(e.reason().contains("2027-01-16T"), "{}", e.reason());
    // The last valid second, and the first invalid one.
    assert!(verify(&ring, &v, &here(at - 1), &s).is_ok());
    assert!(verify(&ring, &v, &here(at), &s).is_err());

    // The server's clock stepped back by more than the back-dating covers.
    let e = expect(
        verify(&ring, &v, &here(NOW - s.clock_skew_s - 600), &s),
        "CLEARANCE_NOT_YET_VALID",
        "10 minutes after this server's current time",
    );
    assert!(e.is_site_side());

    let e = expect(
        verify(&ring, &v, &ctx(NOW, "198.51.100.20", Some(FIREFOX)), &s),
        "CLEARANCE_OTHER_NETWORK",
        "issued to a different network (203.0.113.0/24); you now come from 198.51.100.0/24",
    );
    assert!(e.reason().contains("VPN or mobile network"));
    expect(
        verify(&ring, &v, &ctx(NOW, "2001:db8:5::1", Some(FIREFOX)), &s),
        "CLEARANCE_OTHER_NETWORK",
        "switched between IPv4 and IPv6",
    );

    expect(
        verify(&ring, &v, &ctx(NOW, "203.0.113.7", Some("curl/8.5.0")), &s),
        "CLEARANCE_OTHER_BROWSER",
        "another browser, or your browser updated",
    );
    expect(
        verify(&ring, &v, &ctx(NOW, "203.0.113.7", None), &s),
        "CLEARANCE_OTHER_BROWSER",
        "User-Agent",
    );
}

#[test]
fn old_keys_work_until_they_retire() {
    let s = Settings::default();
    let old = ring();
    let (_, v) = minted(&old, &s);
    // Rotated an hour later, old key kept for two more hours.
    let rotated = old.rotated(NOW + 3600, 7200);
    assert_ne!(rotated.current_kid(), "k1");
    let here = |now| ctx(now, "203.0.113.7", Some(FIREFOX));
    assert!(verify(&rotated, &v, &here(NOW + 3600), &s).is_ok());
    assert!(verify(&rotated, &v, &here(NOW + 3600 + 7199), &s).is_ok());
    let e = expect(
        verify(&rotated, &v, &here(NOW + 3600 + 7200 + 300), &s),
        "CLEARANCE_OLD_KEY",
        "retired 5 minutes ago",
    );
    assert!(
        matches!(e, ClearanceRejection::OldKey { ref kid, retired_at, .. } if kid == "k1" && retired_at == NOW + 10_800)
    );
    // New cookies are signed with the new key and verify.
    let (_, fresh) = minted(&rotated, &s);
    assert!(fresh.starts_with(&format!("v1.{}.", rotated.current_kid())));
    assert!(verify(&rotated, &fresh, &here(NOW + 20_000), &s).is_ok());
    // After the next rotation past its time, the first key is gone entirely.
    let again = rotated.rotated(NOW + 30_000, 7200);
    expect(
        verify(&again, &v, &here(NOW + 30_000), &s),
        "CLEARANCE_UNKNOWN_KEY",
        "k1",
    );
    // An expired cookie from a retired key reads as expired, the more basic fact.
    let (c, v2) = minted(&old, &s);
    let late = old.rotated(NOW, 60);
    expect(
        verify(&late, &v2, &here(c.expires_at + 120), &s),
        "CLEARANCE_EXPIRED",
        "2 minutes ago",
    );
}

#[test]
fn issue_time_is_back_dated_by_the_skew() {
    let ring = ring();
    let s = Settings {
        clock_skew_s: 120,
        ..Settings::default()
    };
    let (_, v) = minted(&ring, &s);
    // Another gateway whose clock is 119 s behind accepts it at once ...
    assert!(verify(&ring, &v, &ctx(NOW - 119, "203.0.113.7", Some(FIREFOX)), &s).is_ok());
    assert!(verify(&ring, &v, &ctx(NOW - 120, "203.0.113.7", Some(FIREFOX)), &s).is_ok());
    // ... one 121 s behind does not, and says by how much.
    expect(
        verify(&ring, &v, &ctx(NOW - 121, "203.0.113.7", Some(FIREFOX)), &s),
        "CLEARANCE_NOT_YET_VALID",
        "1 second after",
    );
    // Without skew, nothing is back-dated.
    let strict = Settings {
        clock_skew_s: 0,
        ..Settings::default()
    };
    let (c, _) = minted(&ring, &strict);
    assert_eq!(c.issued_at, NOW);
    // Near the epoch, back-dating saturates instead of wrapping.
    let c = Clearance::grant(Level::Pow, &ctx(5, "203.0.113.7", None), &s);
    assert_eq!(c.issued_at, 0);
}

#[test]
fn binding_can_be_turned_off_and_tuned() {
    let ring = ring();
    let unbound = Settings {
        binding: BindingPolicy::NONE,
        ..Settings::default()
    };
    let (c, v) = minted(&ring, &unbound);
    assert_eq!(c.binding.ip_prefix, None);
    assert_eq!(c.binding.ua_hash, None);
    assert!(
        verify(
            &ring,
            &v,
            &ctx(NOW, "198.51.100.1", Some("curl/8")),
            &unbound
        )
        .is_ok()
    );
    // A policy that binds still accepts cookies minted without binding (docs: rotate the key to
    // force everyone through the check again).
    assert!(
        verify(
            &ring,
            &v,
            &ctx(NOW, "198.51.100.1", None),
            &Settings::default()
        )
        .is_ok()
    );

    // Network only.
    let net_only = Settings {
        binding: BindingPolicy {
            user_agent: false,
            ..BindingPolicy::default()
        },
        ..Settings::default()
    };
    let (_, v) = minted(&ring, &net_only);
    assert!(
        verify(
            &ring,
            &v,
            &ctx(NOW, "203.0.113.8", Some("other")),
            &net_only
        )
        .is_ok()
    );
    assert!(
        verify(
            &ring,
            &v,
            &ctx(NOW, "203.0.114.8", Some(FIREFOX)),
            &net_only
        )
        .is_err()
    );

    // A wider IPv4 prefix tolerates more address changes.
    let wide = Settings {
        binding: BindingPolicy {
            ipv4_prefix: Some(16),
            ..BindingPolicy::default()
        },
        ..Settings::default()
    };
    let (_, v) = minted(&ring, &wide);
    assert!(verify(&ring, &v, &ctx(NOW, "203.0.200.1", Some(FIREFOX)), &wide).is_ok());
    expect(
        verify(&ring, &v, &ctx(NOW, "203.1.0.1", Some(FIREFOX)), &wide),
        "CLEARANCE_OTHER_NETWORK",
        "(203.0.0.0/16); you now come from 203.1.0.0/16",
    );

    // Turning binding off applies at once to cookies minted with it.
    let (_, bound) = minted(&ring, &Settings::default());
    assert!(
        verify(
            &ring,
            &bound,
            &ctx(NOW, "198.51.100.1", Some("x")),
            &unbound
        )
        .is_ok()
    );

    // IPv6 clients are bound to their /48.
    let s = Settings::default();
    let c = Clearance::grant(Level::Pow, &ctx(NOW, "2001:db8:aa:1::5", Some(FIREFOX)), &s);
    let v = mint(&ring, &c);
    assert!(
        verify(
            &ring,
            &v,
            &ctx(NOW, "2001:db8:aa:ffff::1", Some(FIREFOX)),
            &s
        )
        .is_ok()
    );
    expect(
        verify(&ring, &v, &ctx(NOW, "2001:db8:ab::1", Some(FIREFOX)), &s),
        "CLEARANCE_OTHER_NETWORK",
        "(2001:db8:aa::/48); you now come from 2001:db8:ab::/48",
    );
    // An IPv4 client seen through a dual-stack socket is the same client.
    let (_, v4) = minted(&ring, &s);
    assert!(
        verify(
            &ring,
            &v4,
            &ctx(NOW, "::ffff:203.0.113.50", Some(FIREFOX)),
            &s
        )
        .is_ok()
    );
}

#[test]
fn tampering_any_byte_is_refused() {
    let ring = ring();
    let s = Settings::default();
    let (_, v) = minted(&ring, &s);
    let here = ctx(NOW, "203.0.113.7", Some(FIREFOX));
    let bytes = v.as_bytes();
    let mut tried = 0;
    for i in 0..bytes.len() {
        for replacement in [
            b'A', b'B', b'a', b'z', b'0', b'9', b'-', b'_', b'.', b'%', 0xff,
        ] {
            if bytes[i] == replacement {
                continue;
            }
            let mut t = bytes.to_vec();
            t[i] = replacement;
            let t = String::from_utf8_lossy(&t);
            assert!(
                verify(&ring, &t, &here, &s).is_err(),
                "byte {i} → {replacement}: {t}"
            );
            tried += 1;
        }
        // Dropping the byte, too.
        let mut t = bytes.to_vec();
        t.remove(i);
        assert!(verify(&ring, &String::from_utf8_lossy(&t), &here, &s).is_err());
    }
    assert!(tried >= bytes.len() * 9, "{tried}");
    // Appending anything.
    for extra in ["A", ".", ".x", "=="] {
        assert!(verify(&ring, &format!("{v}{extra}"), &here, &s).is_err());
    }
}

#[test]
fn arbitrary_input_never_panics() {
    let ring = ring();
    let s = Settings::default();
    let here = ctx(NOW, "203.0.113.7", Some(FIREFOX));
    // A cheap deterministic generator: xorshift over dots, base64url letters and bytes.
    let alphabet = b"v1.k-_AZaz09.......\xff\x00";
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 140) as usize;
        let s_bytes: Vec<u8> = (0..len)
            .map(|i| alphabet[((x >> (i % 60)) as usize + i) % alphabet.len()])
            .collect();
        let input = String::from_utf8_lossy(&s_bytes);
        let _ = verify(&ring, &input, &here, &s);
        let _ = inspect(&input);
        let _ = read_marker(&ring, &input, NOW, &s);
    }
    // Well-formed envelopes with a valid signature over bodies that are not clearances.
    for body in [
        "",
        "AQ",
        "AQEAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &"A".repeat(300),
    ] {
        let _ = verify(&ring, &format!("v1.k1.{body}.AAAA"), &here, &s);
    }
}

#[test]
fn set_cookie_header_attributes() {
    let h = set_cookie_header("doorman_clearance", "v1.k1.AA.BB", 86_400, true, "/");
    assert_eq!(
        h,
        "doorman_clearance=v1.k1.AA.BB; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax; Secure"
    );
    let h = set_cookie_header("c", "v", 60, false, "/app");
    assert!(!h.contains("Secure") && h.contains("Path=/app") && !h.contains("Expires"));
    // Hostile configuration cannot add attributes.
    let h = set_cookie_header("c; Domain=evil", "v;x", 60, false, "/; Domain=evil");
    assert_eq!(h.matches(';').count(), 4, "{h}");
    assert!(!h.contains(" Domain"));
}

fn headers(cookies: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for c in cookies {
        h.append(COOKIE, c.parse().unwrap());
    }
    h
}

#[test]
fn cookies_are_found_in_every_cookie_header() {
    let h = headers(&[
        "a=1; doorman_clearance=\"x\"",
        "doorman_clearance=y;b=2",
        "doorman_clearanceX=z",
    ]);
    assert_eq!(cookie_values(&h, "doorman_clearance"), vec!["x", "y"]);
    assert!(cookie_values(&h, "missing").is_empty());
}

#[test]
fn assess_passes_challenges_and_detects_loops() {
    let ring = ring();
    let s = Settings::default();
    let here = ctx(NOW, "203.0.113.7", Some(FIREFOX));
    let issued = issue_cookies(&ring, Level::Pow, &here, &s, true);
    assert!(issued.set_cookie[0].starts_with("doorman_clearance=v1.k1."));
    assert!(issued.set_cookie[0].contains("HttpOnly"));
    assert!(issued.set_cookie[0].contains(&format!("Max-Age={}", s.clearance_lifetime_s)));
    // The marker is for the page's script: not HttpOnly, short-lived.
    assert!(issued.set_cookie[1].starts_with("doorman_challenge_passed=v1.k1."));
    assert!(!issued.set_cookie[1].contains("HttpOnly"));
    assert!(issued.set_cookie[1].contains("Max-Age=300"));
    let cookie = |set: &str| set.split(';').next().unwrap().to_owned();
    let clearance = cookie(&issued.set_cookie[0]);
    let marker = cookie(&issued.set_cookie[1]);

    // A new visitor.
    assert_eq!(
        assess(&ring, &headers(&[]), &here, &s),
        Gate::Challenge {
            problem: None,
            loop_hint: None
        }
    );
    // Both cookies came back: pass.
    let later = ctx(NOW + 20, "203.0.113.7", Some(FIREFOX));
    let both = format!("{clearance}; {marker}");
    assert_eq!(
        assess(&ring, &headers(&[&both]), &later, &s),
        Gate::Pass(issued.clearance)
    );
    // Only the marker came back: a cookie problem, 20 seconds after passing.
    match assess(&ring, &headers(&[&marker]), &later, &s) {
        Gate::Challenge {
            problem: None,
            loop_hint: Some(h),
        } => {
            assert_eq!(h.passed_at, NOW);
            assert_eq!(h.seconds_ago(), 20);
        }
        other => panic!("{other:?}"),
    }
    // Both came back but the network changed since: the hint and the reason.
    let moved = ctx(NOW + 5, "198.51.100.7", Some(FIREFOX));
    match assess(&ring, &headers(&[&both]), &moved, &s) {
        Gate::Challenge {
            problem: Some(p),
            loop_hint: Some(_),
        } => assert_eq!(p.code(), "CLEARANCE_OTHER_NETWORK"),
        other => panic!("{other:?}"),
    }
    // The marker ages out: an expired clearance later is an ordinary expiry.
    let much_later = ctx(
        NOW + s.clearance_lifetime_s + 10,
        "203.0.113.7",
        Some(FIREFOX),
    );
    match assess(&ring, &headers(&[&both]), &much_later, &s) {
        Gate::Challenge {
            problem: Some(p),
            loop_hint: None,
        } => assert_eq!(p.code(), "CLEARANCE_EXPIRED"),
        other => panic!("{other:?}"),
    }
    // A stale clearance next to a fresh one (two paths): the fresh one passes.
    let stale = format!("doorman_clearance={}", "v1.k1.AAAA.AAAA");
    assert!(matches!(
        assess(&ring, &headers(&[&stale, &clearance]), &later, &s),
        Gate::Pass(_)
    ));
}

#[test]
fn markers_are_signed_short_lived_and_not_clearances() {
    let ring = ring();
    let s = Settings::default();
    let m = mint_marker(&ring, NOW);
    assert_eq!(read_marker(&ring, &m, NOW + 1, &s).unwrap().passed_at, NOW);
    assert!(read_marker(&ring, &m, NOW + s.marker_lifetime_s, &s).is_none());
    let other = Keyring::new("k1", Key::from_bytes([1; 32])).unwrap();
    assert!(read_marker(&other, &m, NOW, &s).is_none());
    // A marker is not a clearance, nor the other way round.
    let here = ctx(NOW, "203.0.113.7", Some(FIREFOX));
    assert_eq!(
        verify(&ring, &m, &here, &s).unwrap_err().code(),
        "CLEARANCE_TAMPERED"
    );
    let (_, v) = minted(&ring, &s);
    assert!(read_marker(&ring, &v, NOW, &s).is_none());
}
