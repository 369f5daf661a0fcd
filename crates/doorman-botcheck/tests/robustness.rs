//! Hostile input never panics: truncated, mutated and random ClientHellos, random header sets
//! and random JA4 strings. A small deterministic generator stands in for a fuzzer so the test is
//! reproducible and needs no extra dependency.

use doorman_botcheck::{Ja4Summary, RequestView, assess, claimed_browser, parse_client_hello};
use doorman_test_support::rng::Rng;
use http::Version;

fn fixtures() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "hex") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push(hex::decode(text.trim()).unwrap());
        }
    }
    assert!(out.len() >= 10);
    out
}

/// Parse and, when that succeeds, compute everything derived from the hello.
fn exercise(bytes: &[u8]) {
    if let Ok(hello) = parse_client_hello(bytes) {
        let ja4 = hello.ja4().to_string();
        assert!(Ja4Summary::parse(&ja4).is_some(), "{ja4}");
        let _ = (hello.ja4_r(), hello.ja4_o(), hello.ja4_ro(), hello.ja3());
        let _ = hello.to_string();
        assert!(hello.wire_len <= bytes.len());
    }
}

#[test]
fn truncated_hellos_never_panic() {
    for bytes in fixtures() {
        for cut in 0..=bytes.len() {
            exercise(&bytes[..cut]);
        }
    }
}

#[test]
fn mutated_hellos_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for bytes in fixtures() {
        for _ in 0..3000 {
            let mut m = bytes.clone();
            for _ in 0..1 + rng.index(4) {
                let i = rng.index(m.len());
                match rng.index(3) {
                    0 => m[i] = rng.byte(),
                    // Length fields are where parsers break: push bytes to extremes.
                    1 => m[i] = if rng.index(2) == 0 { 0 } else { 0xff },
                    _ => m[i] = m[i].wrapping_add(1),
                }
            }
            exercise(&m);
        }
    }
}

#[test]
fn random_bytes_behind_a_valid_record_header_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.index(600);
        let mut m = vec![
            22,
            3,
            1,
            (len >> 8) as u8,
            len as u8,
            1,
            0,
            (len >> 8) as u8,
        ];
        m.extend((0..len).map(|_| rng.byte()));
        exercise(&m);
        let garbage: Vec<u8> = (0..rng.index(64)).map(|_| rng.byte()).collect();
        exercise(&garbage);
    }
}

#[test]
fn random_header_sets_and_fingerprints_never_panic() {
    let mut rng = Rng(7);
    let pieces = [
        "Mozilla/5.0",
        " (",
        ")",
        "Chrome/",
        "131",
        ".0",
        " Safari/537.36",
        "Firefox/",
        "rv:",
        "Gecko/20100101",
        "Version/",
        "iPhone",
        "Edg/",
        "OPR/",
        "HeadlessChrome/",
        "curl/",
        "é",
        "\u{0}",
        ";",
        "/",
        " ",
        "Mobile",
        "bot/",
        "\"",
        "v=",
        ",",
        "Not_A Brand",
    ];
    let names = [
        "User-Agent",
        "sec-ch-ua",
        "Accept",
        "Accept-Language",
        "Accept-Encoding",
        "Host",
        "Sec-Fetch-Mode",
        "Upgrade",
        "x-devtools-request-id",
        "",
    ];
    for _ in 0..20_000 {
        let text = |rng: &mut Rng, n: usize| -> String {
            (0..n).map(|_| pieces[rng.index(pieces.len())]).collect()
        };
        let values: Vec<String> = (0..6).map(|i| text(&mut rng, i * 2)).collect();
        let mut headers: Vec<(&str, &str)> = Vec::new();
        for v in &values {
            headers.push((names[rng.index(names.len())], v.as_str()));
        }
        let ja4 = text(&mut rng, 3);
        let mut view = RequestView::new("GET", "/", Version::HTTP_11, &headers);
        view.secure = rng.index(2) == 0;
        view.order_preserved = rng.index(2) == 0;
        view.ja4 = Some(&ja4);
        let a = assess(&view);
        assert!(a.score <= 100);
        assert!((1..=99).contains(&a.cloudflare_score()));
        let _ = claimed_browser(&values[5]);
        let _ = Ja4Summary::parse(&ja4);
    }
}
