//! Cost per connection (ClientHello parse + JA4 + JA3) and per request (integrity check).

use criterion::{Criterion, criterion_group, criterion_main};
use doorman_botcheck::{RequestView, assess, parse_client_hello};
use http::Version;
use std::hint::black_box;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("fixture");
    hex::decode(text.trim()).expect("hex fixture")
}

fn bench(c: &mut Criterion) {
    let chromium = fixture("chromium-148-headless.hex");
    c.bench_function("parse_client_hello (chromium 148)", |b| {
        b.iter(|| parse_client_hello(black_box(&chromium)).expect("parses"))
    });
    let hello = parse_client_hello(&chromium).expect("parses");
    c.bench_function("ja4 (chromium 148)", |b| b.iter(|| black_box(&hello).ja4()));
    c.bench_function("ja3 (chromium 148)", |b| b.iter(|| black_box(&hello).ja3()));

    let headers: &[(&str, &str)] = &[
        ("Host", "example.test"),
        ("Connection", "keep-alive"),
        ("sec-ch-ua", r#""Not/A)Brand";v="99", "Chromium";v="148""#),
        ("sec-ch-ua-mobile", "?0"),
        ("sec-ch-ua-platform", "\"Linux\""),
        ("Upgrade-Insecure-Requests", "1"),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36",
        ),
        (
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("Sec-Fetch-Site", "none"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-User", "?1"),
        ("Sec-Fetch-Dest", "document"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Accept-Language", "en-US,en;q=0.9"),
    ];
    let mut view = RequestView::new("GET", "/", Version::HTTP_11, headers);
    view.secure = true;
    view.order_preserved = true;
    view.ja4 = Some("t13d1516h2_8daaf6152771_d8a2da3f94cd");
    c.bench_function("assess (real Chromium navigation)", |b| {
        b.iter(|| assess(black_box(&view)))
    });
    let curl: &[(&str, &str)] = &[
        ("Host", "example.test"),
        ("User-Agent", "curl/7.88.1"),
        ("Accept", "*/*"),
    ];
    let view = RequestView::new("GET", "/", Version::HTTP_11, curl);
    c.bench_function("assess (curl)", |b| b.iter(|| assess(black_box(&view))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
