//! Fuzz target: the API-key format of doorman-keys, `<prefix>_<30 base62><6 base62 of CRC32>`.
//! The input is `presented text \0 parameter bytes`.
//!
//! 1. Arbitrary text is parsed against the default prefix, against several prefixes at once, and
//!    against a prefix the parameters spell (valid or not). Oracles: no panic; a refusal renders
//!    (message and remedy); an accepted key has the length of its prefix, is accepted among the
//!    other prefixes too, and its display (masked) form and hash work; `display_form` takes any
//!    prefix and body.
//! 2. Round trip: a key generated for a valid prefix (the parameters' one when `check_prefix`
//!    accepts it) parses back with that prefix, alone and among others, with the same display
//!    form; neither `Debug` prints it whole; and a copy with one byte changed, where and to what
//!    the parameters say, is refused with a message that repeats none of its random part.
//!
//! `DOORMAN_FUZZ_SEEDS=<dir>` makes the binary write seed inputs (generated keys and near-misses)
//! into `<dir>` and exit; scripts/fuzz.sh does this for an empty corpus.

#![no_main]

use doorman_keys::format::{BODY_LEN, RANDOM_LEN, check_prefix, display_form, generate, parse_any};
use doorman_keys::{DEFAULT_PREFIX, Malformed, parse};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

/// Prefixes that overlap (`dmn` is a prefix of the other two), which is what makes the
/// longest-match rule of `parse_any` matter.
fn prefixes() -> Vec<String> {
    ["dmn", DEFAULT_PREFIX, "dmn_test"]
        .map(str::to_owned)
        .to_vec()
}

fn render(m: &Malformed) -> String {
    format!("{m}\n{}", m.remedy())
}

/// Part 1: whatever the text and the prefix, parsing must not panic.
fn arbitrary_text(text: &str, prefix: &str) {
    match parse(text, DEFAULT_PREFIX) {
        Ok(key) => {
            assert_eq!(key.prefix(), DEFAULT_PREFIX);
            assert_eq!(text.len(), DEFAULT_PREFIX.len() + 1 + BODY_LEN);
            let among = parse_any(text, &prefixes()).expect("accepted alone, so among others");
            assert_eq!(among.prefix(), DEFAULT_PREFIX);
            assert_eq!(among.hash(), key.hash());
            let _ = (key.display(), format!("{key:?}"));
        }
        Err(m) => {
            render(&m);
        }
    }
    match parse_any(text, &prefixes()) {
        Ok(key) => {
            assert_eq!(text.len(), key.prefix().len() + 1 + BODY_LEN);
            let _ = key.display();
        }
        Err(m) => {
            render(&m);
        }
    }
    match parse(text, prefix) {
        Ok(key) => {
            assert_eq!(key.prefix(), prefix);
            let _ = key.display();
        }
        Err(m) => {
            render(&m);
        }
    }
    let _ = check_prefix(prefix);
    let _ = display_form(prefix, text);
}

/// Part 2: a generated key parses back, and no single-byte change to it does.
fn round_trip(prefix: &str, u: &mut Unstructured<'_>) {
    let prefix = if check_prefix(prefix).is_none() {
        prefix
    } else {
        DEFAULT_PREFIX
    };
    let secret = generate(prefix).expect("the OS random generator");
    let key = secret.expose();
    let parsed = parse(key, prefix).unwrap_or_else(|m| panic!("{key} is refused: {m}"));
    assert_eq!(parsed.prefix(), prefix);
    assert_eq!(parsed.display(), secret.display());
    let mut others = prefixes();
    others.push(prefix.to_owned());
    let among = parse_any(key, &others).unwrap_or_else(|m| panic!("{key} among {others:?}: {m}"));
    assert_eq!(among.prefix(), prefix, "{key} among {others:?}");
    for shown in [format!("{secret:?}"), format!("{parsed:?}")] {
        assert!(!shown.contains(key), "Debug prints the key: {shown}");
    }

    let mut changed = key.as_bytes().to_vec();
    let at = u
        .choose_index(changed.len())
        .unwrap_or_default()
        .min(changed.len() - 1);
    let delta = u.int_in_range(1..=255u8).unwrap_or(1);
    changed[at] = changed[at].wrapping_add(delta);
    let Ok(changed) = std::str::from_utf8(&changed) else {
        return;
    };
    let m = match parse(changed, prefix) {
        Ok(k) => panic!("{key} with byte {at} changed, {changed}, parses: {k:?}"),
        Err(m) => m,
    };
    // "Nothing here repeats the key": no 8 characters in a row of its random part. (8, not
    // fewer: a shorter run of random letters can be an English word of the message by chance.)
    let shown = render(&m);
    let random = &key[prefix.len() + 1..][..RANDOM_LEN];
    for i in 0..=RANDOM_LEN - 8 {
        let run = &random[i..i + 8];
        assert!(
            !shown.contains(run),
            "the refusal of {changed} repeats {run}: {shown}"
        );
    }
}

/// Seed inputs: generated keys for the overlapping prefixes, and the near-misses people send.
fn write_seeds(dir: &std::path::Path) {
    let mut texts: Vec<String> = Vec::new();
    for prefix in prefixes() {
        texts.push(generate(&prefix).expect("random").expose().to_owned());
    }
    let key = generate(DEFAULT_PREFIX)
        .expect("random")
        .expose()
        .to_owned();
    texts.extend([
        format!("\"{key}\""),
        format!("Bearer {key}"),
        format!("{key}x"),
        key[..key.len() - 1].to_owned(),
        key.to_uppercase(),
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln".to_owned(),
        "sk-proj-abcdef0123456789".to_owned(),
    ]);
    for (n, text) in texts.iter().enumerate() {
        let mut seed = text.clone().into_bytes();
        seed.push(0);
        // Parameters: a length-prefixed prefix, then a position and a change.
        seed.extend([8, b'a', b'c', b'm', b'e', b'_', b'k', b'e', b'y']);
        seed.extend([n as u8, 3 * n as u8 + 1]);
        std::fs::write(dir.join(format!("seed-{n}")), seed).expect("seed file");
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
        // Keys arrive in headers as text; lossy decoding keeps every input useful.
        let text = String::from_utf8_lossy(text);
        let mut u = Unstructured::new(params);
        let prefix: String = u.arbitrary().unwrap_or_default();
        arbitrary_text(&text, &prefix);
        round_trip(&prefix, &mut u);
    }
);
