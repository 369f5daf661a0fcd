//! doorman-rules vs wirefilter-engine 0.6.1 (crates.io) on the same rules and request.
//!
//! The rules are the part of the 1,000-rule benchmark ruleset that wirefilter 0.6.1 can
//! express (it has no functions, arrays or maps). Both engines are checked to agree on every
//! rule first, then timed in the same process: per request, a fresh context (wirefilter: the
//! fields set eagerly, as its API requires; doorman: computed lazily through the provider)
//! and every rule evaluated. Run with `cargo run --release` in this directory.

use std::borrow::Cow;
use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use doorman_rules::{
    EvalContext, Field, FieldProvider, Lists, Map, Scheme as DScheme, Value, compile,
};
use wirefilter::{ExecutionContext, Scheme as WScheme, Type};

#[path = "../../../crates/doorman-rules/benches/support/rulegen.rs"]
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
            _ => Value::Missing,
        }
    }
}

fn wf_context<'s>(scheme: &'s WScheme, r: &'s Request) -> ExecutionContext<'s> {
    let mut ctx = ExecutionContext::new(scheme);
    ctx.set_field_value("ip.src", r.ip).unwrap();
    ctx.set_field_value("http.host", r.host.as_str()).unwrap();
    ctx.set_field_value("http.request.method", r.method.as_str())
        .unwrap();
    ctx.set_field_value("http.request.uri.path", r.path.as_str())
        .unwrap();
    ctx.set_field_value("http.user_agent", r.user_agent.as_str())
        .unwrap();
    ctx.set_field_value("http.cookie", r.cookie.as_str())
        .unwrap();
    ctx.set_field_value("ip.src.country", r.country.as_str())
        .unwrap();
    ctx.set_field_value("ip.src.asnum", r.asn as i32).unwrap();
    ctx.set_field_value("cf.bot_management.score", r.bot_score as i32)
        .unwrap();
    ctx.set_field_value("ssl", r.ssl).unwrap();
    ctx
}

fn best_of<F: FnMut() -> usize>(rounds: usize, iters: usize, mut f: F) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        best = best.min(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

fn main() {
    // Declared first: wirefilter's context borrows the request for the scheme's lifetime.
    let req = rulegen::request();
    let mut other = rulegen::request();
    other.ip = "10.1.2.3".parse::<IpAddr>().unwrap();
    other.method = "POST".into();
    other.country = "KP".into();
    other.bot_score = 5;
    let all = rulegen::rules();
    let picked: Vec<(usize, &str)> = all
        .iter()
        .enumerate()
        .filter(|(_, g)| g.wirefilter)
        .map(|(i, g)| (i, g.expr.as_str()))
        .collect();
    let subset: Vec<&str> = picked.iter().map(|(_, e)| *e).collect();

    let mut wscheme = WScheme::default();
    for (name, ty) in [
        ("ip.src", Type::Ip),
        ("http.host", Type::Bytes),
        ("http.request.method", Type::Bytes),
        ("http.request.uri.path", Type::Bytes),
        ("http.user_agent", Type::Bytes),
        ("http.cookie", Type::Bytes),
        ("ip.src.country", Type::Bytes),
        ("ip.src.asnum", Type::Int),
        ("cf.bot_management.score", Type::Int),
        ("ssl", Type::Bool),
    ] {
        wscheme.add_field(name.to_string(), ty).unwrap();
    }
    let wfilters: Vec<_> = subset
        .iter()
        .map(|e| {
            wscheme
                .parse(e)
                .unwrap_or_else(|err| panic!("wirefilter rejects {e}: {err}"))
                .compile()
        })
        .collect();
    let lists = Lists::new();
    let dfilters: Vec<_> = subset
        .iter()
        .map(|e| compile(e, DScheme::builtin(), &lists).unwrap())
        .collect();

    // Same answers on the benchmark request and on one built to match some rules.
    for r in [&req, &other] {
        let facts = Facts(r);
        let dctx = EvalContext::new(&facts);
        let wctx = wf_context(&wscheme, r);
        let mut matched = 0;
        for (i, (w, d)) in wfilters.iter().zip(&dfilters).enumerate() {
            let (a, b) = (w.execute(&wctx).unwrap(), d.matches(&dctx));
            assert_eq!(a, b, "engines disagree on {}", subset[i]);
            matched += usize::from(a);
        }
        println!("agreement checked: {} rules, {matched} match", subset.len());
    }

    let n = subset.len() as f64;
    let iters = 2000;
    let w = best_of(7, iters, || {
        let ctx = wf_context(&wscheme, &req);
        wfilters.iter().filter(|f| f.execute(&ctx).unwrap()).count()
    });
    let d = best_of(7, iters, || {
        let facts = Facts(&req);
        let ctx = EvalContext::new(&facts);
        dfilters.iter().filter(|f| f.matches(&ctx)).count()
    });
    println!("rules evaluated per request: {}", subset.len());
    // Per kind of rule (the generator's categories), for where the time goes.
    for (name, lo, hi) in [
        ("ip sets", 0, 5),
        ("host/path", 6, 10),
        ("regex", 15, 15),
        ("compound", 16, 19),
    ] {
        let idx: Vec<usize> = (0..picked.len())
            .filter(|&k| (lo..=hi).contains(&(picked[k].0 % 20)))
            .collect();
        let k = idx.len() as f64;
        let w = best_of(5, iters, || {
            let ctx = wf_context(&wscheme, &req);
            idx.iter()
                .filter(|&&i| wfilters[i].execute(&ctx).unwrap())
                .count()
        });
        let d = best_of(5, iters, || {
            let facts = Facts(&req);
            let ctx = EvalContext::new(&facts);
            idx.iter().filter(|&&i| dfilters[i].matches(&ctx)).count()
        });
        println!(
            "  {name:10} ({:3} rules): wirefilter {:5.1} ns/rule, doorman {:5.1} ns/rule",
            idx.len(),
            w / k,
            d / k
        );
    }
    println!(
        "wirefilter-engine 0.6.1: {:8.0} ns/request  {:5.1} ns/rule",
        w,
        w / n
    );
    println!(
        "doorman-rules:           {:8.0} ns/request  {:5.1} ns/rule",
        d,
        d / n
    );
}
