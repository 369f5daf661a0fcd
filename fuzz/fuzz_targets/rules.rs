//! Fuzz target: arbitrary bytes → parse + compile + evaluate (+ explain, + re-check of the
//! normalized form). The input is `expression \0 value-bytes`; the value bytes feed a
//! provider that gives every field a value of its type, so evaluation paths run too.
//!
//! Oracles: no panic, no hang, no stack overflow; a valid expression's normalized text is
//! valid and a fixed point; explain() agrees with matches() (explain walks the checked tree,
//! matches runs the specialized evaluation plan built from it).

#![no_main]

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use doorman_rules::{
    EvalContext, Field, FieldProvider, IpRangeSet, Lists, Map, Scheme, Type, Value, compile,
};
use libfuzzer_sys::fuzz_target;

struct Fuzzed<'a> {
    parts: Vec<&'a [u8]>,
}

impl Fuzzed<'_> {
    fn part(&self, i: usize) -> &[u8] {
        if self.parts.is_empty() {
            b""
        } else {
            self.parts[i % self.parts.len()]
        }
    }

    fn value(&self, ty: &Type, seed: usize, depth: usize) -> Value<'_> {
        let p = self.part(seed);
        if p.first() == Some(&0xff) {
            return Value::Missing;
        }
        match ty {
            Type::Bool => Value::Bool(p.len() % 2 == 1),
            Type::Int => {
                let mut b = [0u8; 8];
                for (i, x) in p.iter().take(8).enumerate() {
                    b[i] = *x;
                }
                Value::Int(i64::from_le_bytes(b) >> (p.len() % 60))
            }
            Type::Ip => {
                if p.len() % 2 == 0 {
                    let mut b = [0u8; 4];
                    for (i, x) in p.iter().take(4).enumerate() {
                        b[i] = *x;
                    }
                    Value::Ip(IpAddr::V4(Ipv4Addr::from(b)))
                } else {
                    let mut b = [0u8; 16];
                    for (i, x) in p.iter().take(16).enumerate() {
                        b[i] = *x;
                    }
                    Value::Ip(IpAddr::V6(Ipv6Addr::from(b)))
                }
            }
            Type::String | Type::Bytes => Value::bytes(p),
            Type::Array(elem) => {
                if depth > 2 {
                    return Value::Array(Vec::new());
                }
                let n = p.len() % 4;
                Value::Array(
                    (0..n)
                        .map(|k| self.value(elem, seed + 1 + k, depth + 1))
                        .collect(),
                )
            }
            Type::Map(elem) => {
                if depth > 2 {
                    return Value::Map(Map::default());
                }
                let n = p.len() % 4;
                Value::Map(Map::new((0..n).map(|k| {
                    let key = String::from_utf8_lossy(self.part(seed + 7 + k)).into_owned();
                    (Cow::Owned(key), self.value(elem, seed + 1 + k, depth + 1))
                })))
            }
        }
    }
}

impl FieldProvider for Fuzzed<'_> {
    fn field(&self, f: Field) -> Value<'_> {
        self.value(&f.ty(), f.index(), 0)
    }
}

fuzz_target!(|data: &[u8]| {
    let (expr, values) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    static LISTS: OnceLock<Lists> = OnceLock::new();
    let lists = LISTS.get_or_init(|| {
        let mut lists = Lists::new();
        lists.insert_ip(
            "office",
            IpRangeSet::parse(["192.0.2.0/24", "::/1"]).unwrap(),
        );
        lists.insert_strings("hosts", ["a", "b"]);
        lists.insert_ints("asns", [1, 2, 3]);
        lists
    });
    let scheme = Scheme::builtin();
    let compiled = match compile(expr, scheme, lists) {
        Ok(c) => c,
        Err(e) => {
            // Rendering the error must not panic either.
            let _ = e.to_string();
            return;
        }
    };
    let again = compile(compiled.normalized(), scheme, lists).unwrap_or_else(|e| {
        panic!(
            "normalized form does not compile:\n{}\n{e}",
            compiled.normalized()
        )
    });
    assert_eq!(
        again.normalized(),
        compiled.normalized(),
        "normalized form is not a fixed point"
    );

    let provider = Fuzzed {
        parts: values.split(|&b| b == b',').collect(),
    };
    let ctx = EvalContext::new(&provider);
    let m = compiled.matches(&ctx);
    assert_eq!(
        again.matches(&ctx),
        m,
        "normalized form evaluates differently"
    );
    let why = compiled.explain(&ctx);
    assert_eq!(why.is_some(), m);
    if let Some(w) = why {
        for c in w {
            let _ = c.to_string();
        }
    }
});
