//! Criterion benchmark: a 1,000-rule ruleset over a typical request, with field values
//! computed lazily through the `FieldProvider` trait as the gateway does (a fresh
//! `EvalContext` per request). Reported per request; divide by 1,000 for ns per rule.

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use doorman_rules::{
    EvalContext, Field, FieldProvider, Lists, Map, Ruleset, Scheme, Value, compile,
};

#[path = "support/rulegen.rs"]
mod rulegen;

use rulegen::Request;

struct Facts<'r>(&'r Request);

impl FieldProvider for Facts<'_> {
    fn field(&self, f: Field) -> Value<'_> {
        let r = self.0;
        match f {
            Field::IpSrc => Value::Ip(r.ip),
            Field::HttpHost => Value::str(&r.host),
            Field::HttpRequestMethod => Value::str(&r.method),
            Field::HttpRequestUriPath => Value::str(&r.path),
            Field::HttpRequestUriQuery => Value::str(&r.query),
            Field::HttpUserAgent => Value::str(&r.user_agent),
            Field::HttpCookie => Value::str(&r.cookie),
            Field::IpSrcCountry => Value::str(&r.country),
            Field::IpSrcAsnum => Value::Int(r.asn),
            Field::DoormanBotScore => Value::Int(r.bot_score),
            Field::Ssl => Value::Bool(r.ssl),
            Field::HttpRequestHeaders => {
                Value::Map(Map::from_pairs(r.headers.iter().map(|(k, v)| {
                    (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()))
                })))
            }
            Field::HttpRequestHeadersNames => {
                Value::strs(r.headers.iter().map(|(k, _)| k.as_str()))
            }
            _ => Value::Missing,
        }
    }
}

fn build() -> Ruleset<usize> {
    let lists = Lists::new();
    rulegen::rules()
        .iter()
        .enumerate()
        .map(|(i, g)| {
            (
                i,
                compile(&g.expr, Scheme::builtin(), &lists).expect("generated rule compiles"),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = build();
    let req = rulegen::request();
    let matched = {
        let facts = Facts(&req);
        let ctx = EvalContext::new(&facts);
        rules.all_matches(&ctx).len()
    };
    eprintln!(
        "ruleset: {} rules, {matched} match the request",
        rules.len()
    );

    c.bench_function("1000 rules, every rule evaluated (per request)", |b| {
        b.iter(|| {
            let facts = Facts(black_box(&req));
            let ctx = EvalContext::new(&facts);
            let mut n = 0usize;
            for (_, e) in rules.iter() {
                n += usize::from(e.matches(&ctx));
            }
            black_box(n)
        })
    });
    c.bench_function("1000 rules, first_match (per request)", |b| {
        b.iter(|| {
            let facts = Facts(black_box(&req));
            let ctx = EvalContext::new(&facts);
            black_box(rules.first_match(&ctx).map(|m| m.index))
        })
    });
    let texts: Vec<String> = rulegen::rules().into_iter().map(|g| g.expr).collect();
    c.bench_function("compile 1000 rules", |b| {
        b.iter(|| {
            let lists = Lists::new();
            for t in &texts {
                black_box(compile(t, Scheme::builtin(), &lists).is_ok());
            }
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
