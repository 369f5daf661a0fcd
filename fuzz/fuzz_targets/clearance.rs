//! Fuzz target: the challenge clearance cookie (doorman-challenge). The input is
//! `cookie text \0 parameter bytes`.
//!
//! 1. Arbitrary cookie text is verified against a fixed keyring at a fixed time (`verify`, and
//!    `assess` with the text in a `Cookie` header), read by `inspect` and as a loop marker, and
//!    written into a `Set-Cookie` header. Oracles: no panic; every refusal renders and has a
//!    listed code; anything accepted is inside its validity and reads the same through
//!    `inspect`; the `Set-Cookie` header is a valid header value whose attributes the text
//!    cannot add to.
//! 2. Round trip: the parameters pick a client, the settings and which key signs. The cookie
//!    `issue_cookies` makes verifies as what was granted, from the `Set-Cookie` header through
//!    `assess` too (signed by a retired key past its overlap it is refused as OLD_KEY, by a
//!    same-named foreign key as TAMPERED, by an unknown key as UNKNOWN_KEY); a copy with one
//!    byte changed, where and to what the parameters say, is refused; verified at another time,
//!    address or browser it never panics and is only accepted inside its validity.
//!
//! `DOORMAN_FUZZ_SEEDS=<dir>` makes the binary write seed inputs (cookies of the fixed keys)
//! into `<dir>` and exit; scripts/fuzz.sh does this for an empty corpus.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use doorman_challenge::{
    BindingPolicy, ClearanceRejection, Gate, Issued, Key, Keyring, Level, RequestContext, Settings,
    assess, inspect, issue_cookies, read_marker, set_cookie_header, verify,
};
use http::header::{COOKIE, HeaderMap, HeaderValue};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

/// The fixed time everything is verified at.
const NOW: u64 = 1_800_000_000;
/// Until when the retired key `k1` is accepted; `k0`'s time is already over.
const K1_UNTIL: u64 = NOW + 3600;
const K0_UNTIL: u64 = NOW - 1;
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";

/// The site: `k2` signs; `k1` is retired but still accepted; `k0` is retired and no longer is.
fn site() -> &'static Keyring {
    static SITE: OnceLock<Keyring> = OnceLock::new();
    SITE.get_or_init(|| {
        Keyring::new("k2", Key::from_bytes([2; 32]))
            .and_then(|r| r.with_previous("k1", Key::from_bytes([1; 32]), K1_UNTIL))
            .and_then(|r| r.with_previous("k0", Key::from_bytes([0; 32]), K0_UNTIL))
            .expect("valid keyring")
    })
}

/// Who signs a round-trip cookie, and what the site must answer.
#[derive(Clone, Copy, Debug)]
enum Signer {
    /// The site's current key.
    Current,
    /// Another gateway still on `k1`, retired but inside its overlap.
    Retired,
    /// Another gateway still on `k0`, past its overlap.
    Expired,
    /// Another site whose key is also called `k2`.
    Foreign,
    /// A key id the site never had.
    Unknown,
}

impl Signer {
    const ALL: [Signer; 5] = [
        Signer::Current,
        Signer::Retired,
        Signer::Expired,
        Signer::Foreign,
        Signer::Unknown,
    ];

    fn keyring(self) -> Keyring {
        let (kid, byte) = match self {
            Signer::Current => ("k2", 2),
            Signer::Retired => ("k1", 1),
            Signer::Expired => ("k0", 0),
            Signer::Foreign => ("k2", 9),
            Signer::Unknown => ("k7", 7),
        };
        Keyring::new(kid, Key::from_bytes([byte; 32])).expect("valid kid")
    }
}

/// The request context every arbitrary cookie text is verified in.
fn fixed_ctx() -> RequestContext<'static> {
    RequestContext {
        now: NOW,
        client_ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        user_agent: Some(FIREFOX),
    }
}

fn render(e: &ClearanceRejection) {
    assert!(
        ClearanceRejection::CODES.contains(&e.code()),
        "unlisted code {}",
        e.code()
    );
    let _ = (e.to_string(), e.reason(), e.remedy(), e.is_site_side());
}

fn ip(u: &mut Unstructured<'_>) -> IpAddr {
    if u.arbitrary::<bool>().unwrap_or_default() {
        IpAddr::V4(Ipv4Addr::from(u.arbitrary::<[u8; 4]>().unwrap_or_default()))
    } else {
        IpAddr::V6(Ipv6Addr::from(
            u.arbitrary::<[u8; 16]>().unwrap_or_default(),
        ))
    }
}

fn settings(u: &mut Unstructured<'_>) -> Settings {
    Settings {
        // At least a second: a clearance that expires the second it is issued is refused at once,
        // which is right but not a round trip.
        clearance_lifetime_s: u.arbitrary::<u64>().unwrap_or_default().max(1),
        clock_skew_s: u.arbitrary().unwrap_or_default(),
        binding: BindingPolicy {
            ipv4_prefix: u.arbitrary().unwrap_or_default(),
            ipv6_prefix: u.arbitrary().unwrap_or_default(),
            user_agent: u.arbitrary().unwrap_or_default(),
        },
        ..Settings::default()
    }
}

/// Part 1: whatever the text, verifying it against the site must not panic.
fn arbitrary_text(text: &str) {
    let ctx = fixed_ctx();
    let settings = Settings::default();
    match verify(site(), text, &ctx, &settings) {
        Ok(c) => {
            assert!(c.issued_at <= NOW && NOW < c.expires_at, "{c:?}");
            assert_eq!(inspect(text).map(|(_, i)| i), Some(c));
        }
        Err(e) => render(&e),
    }
    let _ = inspect(text);
    let _ = read_marker(site(), text, NOW, &settings);
    if let Ok(cookie) = HeaderValue::from_str(&format!("{}={text}", settings.cookie_name)) {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, cookie);
        match assess(site(), &headers, &ctx, &settings) {
            Gate::Pass(c) => assert!(c.issued_at <= NOW && NOW < c.expires_at, "{c:?}"),
            Gate::Challenge { problem, .. } => {
                if let Some(e) = problem {
                    render(&e);
                }
            }
        }
    }
    // The name and path come from the configuration, the value from this crate; whatever they
    // hold, the header must stay one valid value with exactly the attributes it writes.
    for secure in [false, true] {
        let header = set_cookie_header(text, text, 60, secure, text);
        assert!(HeaderValue::from_str(&header).is_ok(), "{header:?}");
        let attributes = if secure { 6 } else { 5 };
        assert_eq!(header.split(';').count(), attributes, "{header:?}");
    }
}

/// The cookie values a `Set-Cookie` header sets, as a browser would send them back.
fn cookie_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap_or_default()
}

/// Part 2: a cookie the crate issues verifies, and no single-byte change to it does.
fn round_trip(u: &mut Unstructured<'_>) {
    let signer = *u.choose(&Signer::ALL).unwrap_or(&Signer::Current);
    let level = if u.arbitrary::<bool>().unwrap_or_default() {
        Level::Interactive
    } else {
        Level::Pow
    };
    let settings = settings(u);
    let client_ip = ip(u);
    let user_agent: Option<String> = u.arbitrary().unwrap_or_default();
    let ctx = RequestContext {
        now: NOW,
        client_ip,
        user_agent: user_agent.as_deref(),
    };
    let secure = u.arbitrary::<bool>().unwrap_or_default();
    let Issued {
        clearance,
        cookie_value,
        set_cookie,
    } = issue_cookies(&signer.keyring(), level, &ctx, &settings, secure);
    let cookie = cookie_value.as_str();

    let verified = verify(site(), cookie, &ctx, &settings);
    match signer {
        Signer::Current | Signer::Retired => {
            assert_eq!(verified, Ok(clearance), "{signer:?} cookie {cookie}")
        }
        Signer::Expired => assert_eq!(
            verified,
            Err(ClearanceRejection::OldKey {
                kid: "k0".to_owned(),
                retired_at: K0_UNTIL,
                now: NOW
            }),
            "{cookie}"
        ),
        Signer::Foreign => assert_eq!(
            verified,
            Err(ClearanceRejection::Tampered {
                kid: "k2".to_owned()
            }),
            "{cookie}"
        ),
        Signer::Unknown => assert_eq!(
            verified,
            Err(ClearanceRejection::UnknownKey {
                kid: "k7".to_owned()
            }),
            "{cookie}"
        ),
    }
    assert_eq!(
        inspect(cookie),
        Some((signer.keyring().current_kid().to_owned(), clearance))
    );

    // The way a browser sends it back: both cookies, as the Set-Cookie headers named them.
    let header = format!(
        "{}; {}",
        cookie_pair(&set_cookie[0]),
        cookie_pair(&set_cookie[1])
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        HeaderValue::from_str(&header).expect("issued cookies are header-safe"),
    );
    match (assess(site(), &headers, &ctx, &settings), &verified) {
        (Gate::Pass(c), Ok(v)) => assert_eq!(&c, v),
        (Gate::Challenge { problem, .. }, Err(e)) => assert_eq!(problem.as_ref(), Some(e)),
        (gate, _) => panic!("assess says {gate:?}, verify says {verified:?}: {header}"),
    }

    // One byte changed: never accepted. A change that is not UTF-8 cannot be a header's text.
    let mut changed = cookie.as_bytes().to_vec();
    let at = u
        .choose_index(changed.len())
        .unwrap_or_default()
        .min(changed.len() - 1);
    let delta = u.int_in_range(1..=255u8).unwrap_or(1);
    changed[at] = changed[at].wrapping_add(delta);
    if let Ok(changed) = std::str::from_utf8(&changed) {
        match verify(site(), changed, &ctx, &settings) {
            Ok(c) => panic!("{cookie} with byte {at} changed, {changed}, verifies: {c:?}"),
            Err(e) => render(&e),
        }
    }

    // Elsewhere and at another time: only ever accepted within the clearance's validity.
    let now = NOW.wrapping_add_signed(u.arbitrary::<i64>().unwrap_or_default());
    let other_ua: Option<String> = u.arbitrary().unwrap_or_default();
    let other = RequestContext {
        now,
        client_ip: ip(u),
        user_agent: other_ua.as_deref(),
    };
    match verify(site(), cookie, &other, &settings) {
        Ok(c) => {
            assert_eq!(c, clearance);
            assert!(c.issued_at <= now && now < c.expires_at, "{c:?} at {now}");
        }
        Err(e) => render(&e),
    }
}

/// Seed inputs: cookies the site accepts, and ones of each other signer, each with parameters.
fn write_seeds(dir: &std::path::Path) {
    let settings = Settings::default();
    let ctx = fixed_ctx();
    for (n, signer) in Signer::ALL.into_iter().enumerate() {
        for level in [Level::Pow, Level::Interactive] {
            let issued = issue_cookies(&signer.keyring(), level, &ctx, &settings, true);
            let mut seed = issued.cookie_value.into_bytes();
            seed.push(0);
            // Parameters: the signer, then a spread of bytes for the rest.
            seed.push(n as u8);
            seed.extend((0..64u8).map(|i| i.wrapping_mul(37).wrapping_add(n as u8)));
            let name = format!("seed-{n}-{}", level.as_str());
            std::fs::write(dir.join(name), seed).expect("seed file");
        }
    }
}

fuzz_target!(
    init: {
        if let Some(dir) = std::env::var_os("DOORMAN_FUZZ_SEEDS") {
            write_seeds(std::path::Path::new(&dir));
            std::process::exit(0);
        }
    },
    |data: &[u8]| {
        let (text, params) = match data.iter().position(|&b| b == 0) {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &[][..]),
        };
        // Cookie headers are mostly ASCII; lossy decoding keeps every input useful.
        arbitrary_text(&String::from_utf8_lossy(text));
        round_trip(&mut Unstructured::new(params));
    }
);
