//! Per-request costs: verifying a clearance cookie (what every challenged request pays) and
//! minting one; checking a proof-of-work answer.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use doorman_challenge::{
    Clearance, Key, Keyring, Level, RequestContext, Settings, check_solution, issue_with_nonce,
    mint, solve, verify,
};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36";

fn bench(c: &mut Criterion) {
    let ring = Keyring::new("k1", Key::from_bytes([7; 32])).unwrap();
    let settings = Settings::default();
    let ip: IpAddr = "203.0.113.7".parse().unwrap();
    let ctx = RequestContext {
        now: 1_800_000_000,
        client_ip: ip,
        user_agent: Some(UA),
    };
    let clearance = Clearance::grant(Level::Pow, &ctx, &settings);
    let cookie = mint(&ring, &clearance);
    c.bench_function("clearance_verify", |b| {
        b.iter(|| verify(black_box(&ring), black_box(&cookie), &ctx, &settings))
    });
    c.bench_function("clearance_mint", |b| {
        b.iter(|| mint(black_box(&ring), black_box(&clearance)))
    });
    let token = issue_with_nonce(&ring, &ctx, 16, [1; 16], &settings);
    let counter = solve(token.as_str(), 16);
    c.bench_function("pow_check_solution", |b| {
        b.iter(|| check_solution(&ring, black_box(token.as_str()), counter, &ctx, &settings))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
