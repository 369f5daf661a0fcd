//! Unit tests of the language: every operator, every function, every error kind, limits,
//! normalization, explanations, rulesets and the provider contract.

use std::cell::Cell;
use std::net::IpAddr;

use doorman_rules::cli::JsonFields;
use doorman_rules::{
    CompiledExpr, ErrorKind, EvalContext, Field, FieldProvider, IpRangeSet, Lists, Map, NoFields,
    NoLists, RuleError, Ruleset, Scheme, Type, Value, compile, timed_hmac_token,
};

fn lists() -> Lists {
    let mut l = Lists::new();
    l.insert_ip(
        "office",
        IpRangeSet::parse(["192.0.2.0/24", "2001:db8::/48"]).unwrap(),
    );
    l.insert_strings("hosts", ["a.example", "b.example"]);
    l.insert_ints("asns", [64496, 64497]);
    l
}

fn c(expr: &str) -> CompiledExpr {
    compile(expr, Scheme::builtin(), &lists()).unwrap_or_else(|e| panic!("{expr}:\n{e}"))
}

fn eval(expr: &str, json: &str) -> bool {
    let fields = JsonFields::parse(json).unwrap();
    let ctx = EvalContext::new(&fields);
    c(expr).matches(&ctx)
}

fn err(expr: &str) -> RuleError {
    match compile(expr, Scheme::builtin(), &lists()) {
        Ok(e) => panic!("{expr} compiled to {e}"),
        Err(e) => e,
    }
}

fn norm(expr: &str) -> String {
    c(expr).normalized().to_string()
}

// ----- comparison operators ----------------------------------------------------------------

#[test]
fn equality_and_ordering_on_strings() {
    let f = r#"{"http.host":"b.example"}"#;
    assert!(eval(r#"http.host eq "b.example""#, f));
    assert!(eval(r#"http.host == "b.example""#, f));
    assert!(!eval(r#"http.host ne "b.example""#, f));
    assert!(!eval(r#"http.host != "b.example""#, f));
    assert!(eval(r#"http.host gt "a""#, f));
    assert!(eval(r#"http.host > "a""#, f));
    assert!(eval(r#"http.host ge "b.example""#, f));
    assert!(eval(r#"http.host >= "b""#, f));
    assert!(eval(r#"http.host lt "c""#, f));
    assert!(eval(r#"http.host < "c""#, f));
    assert!(eval(r#"http.host le "b.example""#, f));
    assert!(!eval(r#"http.host <= "b""#, f));
}

#[test]
fn equality_and_ordering_on_integers_and_ips() {
    let f = r#"{"cf.edge.server_port":443,"ip.src":"192.0.2.10"}"#;
    assert!(eval("cf.edge.server_port eq 443", f));
    assert!(eval("cf.edge.server_port ne 80", f));
    assert!(eval(
        "cf.edge.server_port lt 444 and cf.edge.server_port le 443",
        f
    ));
    assert!(eval(
        "cf.edge.server_port gt -1 and cf.edge.server_port ge 443",
        f
    ));
    assert!(eval("ip.src eq 192.0.2.10", f));
    assert!(eval("ip.src ne 192.0.2.11", f));
    assert!(eval("ip.src gt 192.0.2.9 and ip.src lt 192.0.2.11", f));
    // IPv4 and IPv6 are incomparable: only ne holds.
    assert!(eval("ip.src ne ::1", f));
    assert!(!eval("ip.src lt ::1", f));
    assert!(!eval("ip.src eq ::ffff:192.0.2.10", f));
}

#[test]
fn booleans_as_conditions_and_with_eq() {
    assert!(eval("ssl", r#"{"ssl":true}"#));
    assert!(!eval("ssl", r#"{"ssl":false}"#));
    assert!(!eval("ssl", "{}"));
    assert!(eval("not ssl", "{}"));
    assert!(eval("ssl eq true", r#"{"ssl":true}"#));
    assert!(eval("ssl ne true", r#"{"ssl":false}"#));
    assert_eq!(err("ssl lt true").kind, ErrorKind::Type);
}

#[test]
fn contains_matches_wildcard() {
    let f =
        r#"{"http.user_agent":"Mozilla/5.0 (X11) curl-ish","http.request.uri.path":"/A/b.HTML"}"#;
    assert!(eval(r#"http.user_agent contains "X11""#, f));
    assert!(eval(r#"http.user_agent contains """#, f));
    assert!(!eval(r#"http.user_agent contains "x11""#, f));
    assert!(eval(r#"http.user_agent matches "^Mozilla/\d""#, f));
    assert!(eval(r#"http.user_agent ~ "curl""#, f));
    assert!(!eval(r#"http.user_agent matches "^curl""#, f));
    assert!(eval(r#"http.request.uri.path wildcard "/a/*.html""#, f));
    assert!(!eval(
        r#"http.request.uri.path strict wildcard "/a/*.html""#,
        f
    ));
    assert!(eval(
        r#"http.request.uri.path strict wildcard "/A/*.HTML""#,
        f
    ));
    assert!(eval(
        r#"http.host contains 6F:72:67"#,
        r#"{"http.host":"example.org"}"#
    ));
}

#[test]
fn sets_and_lists() {
    let f = r#"{"http.host":"a.example","ip.src":"2001:db8:0:1::9","ip.src.asnum":64497,"cf.edge.server_port":8005}"#;
    assert!(eval(r#"http.host in {"x" "a.example"}"#, f));
    assert!(!eval(r#"http.host in {}"#, f));
    assert!(eval("ip.src in {192.0.2.0/24 2001:db8::/32}", f));
    assert!(eval("ip.src in {2001:db8::1..2001:db8:ffff::}", f));
    assert!(eval("cf.edge.server_port in {80 8000..8009}", f));
    assert!(!eval("cf.edge.server_port in {80 443}", f));
    assert!(eval("ip.src in $office", f));
    assert!(eval("http.host in $hosts", f));
    assert!(eval("ip.src.asnum in $asns", f));
    assert!(!eval("ip.src in $office", r#"{"ip.src":"198.51.100.1"}"#));
    assert_eq!(err("ip.src in $hosts").kind, ErrorKind::Type);
    assert_eq!(err("http.host in $office").kind, ErrorKind::Type);
}

#[test]
fn bitwise_and() {
    assert!(eval(
        "cf.edge.server_port & 1",
        r#"{"cf.edge.server_port":443}"#
    ));
    assert!(!eval(
        "cf.edge.server_port bitwise_and 4",
        r#"{"cf.edge.server_port":443}"#
    ));
    assert_eq!(err(r#"http.host & 1"#).kind, ErrorKind::Type);
}

#[test]
fn integer_literal_forms() {
    let f = r#"{"cf.edge.server_port":83}"#;
    assert!(eval("cf.edge.server_port eq 0123", f));
    assert!(eval("cf.edge.server_port eq 0x53", f));
    assert!(eval("cf.edge.server_port eq 83", f));
    assert!(eval(
        "doorman.reputation.score eq -9223372036854775808",
        r#"{"doorman.reputation.score":-9223372036854775808}"#
    ));
    assert_eq!(
        err("cf.edge.server_port eq 9223372036854775808").kind,
        ErrorKind::Literal
    );
    assert_eq!(err("cf.edge.server_port eq 08").kind, ErrorKind::Literal);
    assert_eq!(err("cf.edge.server_port eq 1.5").kind, ErrorKind::Literal);
}

#[test]
fn string_literal_forms() {
    let f = r#"{"http.host":"a\"b\\c.d"}"#;
    assert!(eval(r#"http.host eq "a\"b\\c.d""#, f));
    assert!(eval(r#"http.host eq "a\x22b\x5cc\056d""#, f));
    assert!(eval(r##"http.host eq r#"a"b\c.d"#"##, f));
    assert!(eval(r#"http.host eq "é""#, r#"{"http.host":"é"}"#));
}

#[test]
fn regex_literal_escaping() {
    let f = r#"{"http.request.uri.path":"/a\"b[\"]x"}"#;
    // In the quoted form `\"` is a quote and other escapes go to the regex engine.
    assert!(eval(r#"http.request.uri.path matches "a\"b""#, f));
    assert!(eval(r#"http.request.uri.path matches "\[\"\]""#, f));
    // A `"` inside a class does not end the literal.
    assert!(eval(r#"http.request.uri.path matches "a[x"]b""#, f));
    assert!(eval(r#"http.request.uri.path matches "(?u)^/\w""#, f));
}

// ----- logic -----------------------------------------------------------------------------

#[test]
fn precedence_not_and_xor_or() {
    // Parsed as: t or (t and f) or (f xor (t and t)) or f  => true
    let e = c("true or true && false and true or false ^^ true and true || false");
    assert_eq!(e.constant(), Some(true));
    assert_eq!(
        norm("ssl or ssl and ssl xor ssl"),
        "ssl or ((ssl and ssl) xor ssl)"
    );
    assert_eq!(norm("not ssl and ssl"), "not ssl and ssl");
    assert_eq!(norm("not (ssl and ssl)"), "not (ssl and ssl)");
    assert!(!eval("not ssl and ssl", r#"{"ssl":true}"#));
    assert!(eval("ssl xor ssl xor ssl", r#"{"ssl":true}"#));
    assert!(!eval("ssl ^^ ssl", r#"{"ssl":true}"#));
    assert!(eval("!ssl || ssl", r#"{"ssl":false}"#));
}

#[test]
fn short_circuit_reads_no_unneeded_field() {
    struct Counting(Cell<u32>);
    impl FieldProvider for Counting {
        fn field(&self, f: Field) -> Value<'_> {
            self.0.set(self.0.get() + 1);
            match f {
                Field::Ssl => Value::Bool(false),
                _ => Value::str("x"),
            }
        }
    }
    let p = Counting(Cell::new(0));
    let ctx = EvalContext::new(&p);
    assert!(!c(r#"ssl and http.host eq "x""#).matches(&ctx));
    assert_eq!(p.0.get(), 1, "http.host must not be computed");
}

#[test]
fn fields_are_computed_once_per_context_and_aliases_share_a_slot() {
    struct Counting(Cell<u32>);
    impl FieldProvider for Counting {
        fn field(&self, f: Field) -> Value<'_> {
            self.0.set(self.0.get() + 1);
            match f {
                Field::IpSrcCountry => Value::str("FR"),
                Field::DoormanBotScore => Value::Int(10),
                _ => Value::Missing,
            }
        }
    }
    let p = Counting(Cell::new(0));
    let ctx = EvalContext::new(&p);
    let mut rs = Ruleset::new();
    rs.push(1, c(r#"ip.src.country eq "DE""#));
    rs.push(2, c(r#"ip.geoip.country eq "US""#));
    rs.push(
        3,
        c(r#"cf.bot_management.score lt 5 or doorman.bot.score gt 50"#),
    );
    rs.push(
        4,
        c(r#"ip.geoip.country in {"FR"} and cf.bot_management.score eq 10"#),
    );
    assert_eq!(rs.first_match(&ctx).map(|m| *m.data), Some(4));
    assert_eq!(p.0.get(), 2, "two distinct fields, each computed once");
    let computed: Vec<Field> = ctx.computed().map(|(f, _)| f).collect();
    assert_eq!(computed, vec![Field::IpSrcCountry, Field::DoormanBotScore]);
}

#[test]
fn constant_folding() {
    assert_eq!(c("true").constant(), Some(true));
    assert_eq!(c("false").constant(), Some(false));
    assert_eq!(c("not true or false").constant(), Some(false));
    assert_eq!(c(r#"lower("ABC") eq "abc""#).constant(), Some(true));
    assert_eq!(c(r#"ssl and true"#).constant(), None);
    assert_eq!(c(r#"ssl and false"#).constant(), Some(false));
    assert_eq!(c(r#"ssl or true"#).constant(), Some(true));
    assert_eq!(c(r#"false xor true"#).constant(), Some(true));
    // Folding keeps the normalized text as written.
    assert_eq!(norm(r#"lower("ABC") eq "abc""#), r#"lower("ABC") eq "abc""#);
    assert_eq!(c("ssl and true").fields(), &[Field::Ssl]);
    // xor with a constant true negates the rest.
    assert!(!eval("ssl xor true", r#"{"ssl":true}"#));
    assert!(eval("ssl xor true", r#"{"ssl":false}"#));
}

// ----- arrays, maps, missing values --------------------------------------------------------

#[test]
fn arrays_maps_and_each() {
    let f = r#"{"http.request.headers":{"accept":["text/html","application/json"],"x-n":["1"]},
               "http.request.body.multipart.names":[["a","b"],["c"]]}"#;
    assert!(eval(
        r#"http.request.headers["accept"][1] eq "application/json""#,
        f
    ));
    assert!(eval(
        r#"any(http.request.headers["accept"][*] contains "json")"#,
        f
    ));
    assert!(!eval(
        r#"all(http.request.headers["accept"][*] contains "json")"#,
        f
    ));
    assert!(eval(r#"any(http.request.headers[*][0] eq "1")"#, f));
    assert!(eval(
        r#"any(http.request.body.multipart.names[*][*] eq "c")"#,
        f
    ));
    assert_eq!(
        err(r#"len(http.request.headers) eq 2"#).kind,
        ErrorKind::Type
    );
    assert!(eval(
        r#"any(http.request.headers["accept"][*] eq "text/html" and http.request.headers["accept"][*] ne "x")"#,
        f
    ));
}

#[test]
fn missing_values_follow_the_docs() {
    // Comparison on missing → false; not of it → true; any over a missing key → false; all → true.
    assert!(!eval(r#"http.host eq "a""#, "{}"));
    assert!(!eval(r#"http.host ne "a""#, "{}"));
    assert!(eval(r#"not http.host eq "a""#, "{}"));
    assert!(!eval(r#"http.host in {"a"}"#, "{}"));
    assert!(!eval(r#"any(http.request.headers["x"][*] eq "a")"#, "{}"));
    assert!(eval(r#"all(http.request.headers["x"][*] eq "a")"#, "{}"));
    assert!(!eval(r#"starts_with(http.host, "a")"#, "{}"));
    assert!(eval(r#"not starts_with(http.host, "a")"#, "{}"));
    assert!(eval(r#"concat("a", http.host, "b") eq "ab""#, "{}"));
    assert!(!eval(r#"lower(http.host) eq """#, "{}"));
    assert!(!eval(r#"http.request.uri.path eq http.host"#, "{}"));
}

#[test]
fn field_to_field_comparisons() {
    let f = r#"{"http.request.uri.path":"/a","raw.http.request.uri.path":"/b","cf.edge.server_port":443,"doorman.bot.score":443}"#;
    assert!(eval(
        "http.request.uri.path ne raw.http.request.uri.path",
        f
    ));
    assert!(eval(
        "http.request.uri.path lt raw.http.request.uri.path",
        f
    ));
    assert!(eval("cf.edge.server_port eq doorman.bot.score", f));
    assert!(eval(r#"lower(http.request.uri.path) eq lower("/A")"#, f));
    assert_eq!(
        err("http.host eq cf.edge.server_port").kind,
        ErrorKind::Type
    );
}

// ----- functions ----------------------------------------------------------------------------

#[test]
fn every_function() {
    let f = r#"{"http.host":"Www.Example.com","http.request.uri.path":"/a%2Fb+c","ip.src":"192.0.2.77",
               "http.request.headers.names":["A","B"],"cf.random_seed":"seed","http.request.uri.query":"a=1&b=2&a=3"}"#;
    assert!(eval(r#"lower(http.host) eq "www.example.com""#, f));
    assert!(eval(r#"upper(http.host) eq "WWW.EXAMPLE.COM""#, f));
    assert!(eval(
        "len(http.host) eq 15 and len(http.request.headers.names) eq 2",
        f
    ));
    assert!(eval(
        r#"concat(http.host, "/", "x") eq "Www.Example.com/x""#,
        f
    ));
    assert!(eval(
        r#"len(concat(http.request.headers.names, http.request.headers.names)) eq 4"#,
        f
    ));
    assert!(eval(
        r#"starts_with(http.host, "Www") and ends_with(http.host, ".com")"#,
        f
    ));
    assert!(eval(r#"substring(http.host, 4, 11) eq "Example""#, f));
    assert!(eval(r#"substring(http.host, -3) eq "com""#, f));
    assert!(eval(r#"substring(http.host, 10, 2) eq """#, f));
    assert!(eval(r#"url_decode(http.request.uri.path) eq "/a/b c""#, f));
    assert!(eval(
        r#"regex_replace(http.host, "(?i)example", "x") eq "Www.x.com""#,
        f
    ));
    assert!(eval(
        r#"wildcard_replace(http.host, "www.*.com", "${1}") eq "Example""#,
        f
    ));
    assert!(eval(r#"to_string(ip.src) eq "192.0.2.77""#, f));
    assert!(eval(r#"to_string(len(http.host)) eq "15""#, f));
    assert!(eval(
        r#"remove_bytes(http.host, ".") eq "WwwExamplecom""#,
        f
    ));
    assert!(eval(
        r#"decode_base64("aGk") eq "hi" and decode_base64("aGk=") eq "hi""#,
        f
    ));
    assert!(eval(r#"decode_base64("_-8") eq "\xff\xef""#, f));
    assert!(eval(
        r#"encode_base64("hi") eq "aGk" and encode_base64("hi", "p") eq "aGk=""#,
        f
    ));
    assert!(eval(r#"encode_base64("\xff\xef", "u") eq "_-8""#, f));
    assert!(eval(r#"len(sha256(http.host)) eq 32"#, f));
    assert!(eval(
        "cidr(ip.src, 24, 64) eq 192.0.2.0 and cidr6(ip.src, 64) eq 192.0.2.77",
        f
    ));
    assert!(eval(r#"split(http.host, ".", 2)[1] eq "Example.com""#, f));
    assert!(eval(r#"join(http.request.headers.names, "-") eq "A-B""#, f));
    assert!(eval(
        r#"coalesce(http.referer, http.host) eq "Www.Example.com""#,
        f
    ));
    assert!(eval(
        "hash_in_range(1, 6, cf.random_seed) ge 1 and hash_in_range(1, 6, cf.random_seed) le 6",
        f
    ));
    assert!(eval("hash_in_range(5, 5, http.host) eq 5", f));
    assert!(eval(
        r#"remove_query_args(http.request.uri.query, "a") eq "b=2""#,
        f
    ));
    assert!(eval(
        r#"len(uuidv4(cf.random_seed)) eq 36 and substring(uuidv4(cf.random_seed), 14, 15) eq "4""#,
        f
    ));
    assert!(eval(
        r#"lookup_json_string("{\"a\":[\"x\",{\"b\":\"y\"}]}", "a", 1, "b") eq "y""#,
        f
    ));
    assert!(eval(r#"lookup_json_integer("{\"a\":7}", "a") eq 7"#, f));
    assert!(!eval(r#"lookup_json_integer("not json", "a") eq 7"#, f));
    assert!(eval(
        r#"any(starts_with(http.request.headers.names[*], "B")[*])"#,
        f
    ));
}

#[test]
fn hash_in_range_is_deterministic_and_spread() {
    let mut seen = [0u32; 10];
    for i in 0..1000 {
        let json = format!(r#"{{"http.host":"host{i}"}}"#);
        let fields = JsonFields::parse(&json).unwrap();
        let ctx = EvalContext::new(&fields);
        for b in 0..10i64 {
            if c(&format!("hash_in_range(0, 9, http.host) eq {b}")).matches(&ctx) {
                seen[b as usize] += 1;
            }
        }
    }
    assert_eq!(seen.iter().sum::<u32>(), 1000);
    assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
}

#[test]
fn timed_hmac_round_trip() {
    for url_safe in [false, true] {
        let token = timed_hmac_token(b"secret", "/file.zip", "?verify=", 1_700_000_000, url_safe);
        let flags = if url_safe { r#", "s""# } else { "" };
        let expr = format!(
            r#"is_timed_hmac_valid_v0("secret", http.request.uri, 60, http.request.timestamp.sec, 8{flags})"#
        );
        let at = |t: i64, uri: &str| {
            let json =
                serde_json::json!({"http.request.uri": uri, "http.request.timestamp.sec": t})
                    .to_string();
            eval(&expr, &json)
        };
        assert!(at(1_700_000_030, &token));
        // Valid while now < issued + ttl (the formula on the token-authentication page).
        assert!(at(1_700_000_059, &token));
        assert!(!at(1_700_000_060, &token), "expired");
        assert!(
            !at(1_700_000_030, &token.replace("file", "fila")),
            "tampered message"
        );
        let wrong_key = expr.replace("\"secret\"", "\"other\"");
        let json = serde_json::json!({"http.request.uri": token, "http.request.timestamp.sec": 1_700_000_030}).to_string();
        assert!(!eval(&wrong_key, &json));
    }
    assert!(!eval(
        r#"is_timed_hmac_valid_v0("k", http.request.uri, 60, http.request.timestamp.sec)"#,
        r#"{"http.request.uri":"short","http.request.timestamp.sec":1}"#
    ));
}

// ----- errors -----------------------------------------------------------------------------

#[test]
fn error_kinds_and_hints() {
    let e = err("ip.src == 192.0.2.0/24");
    assert_eq!(e.kind, ErrorKind::Literal);
    assert_eq!(
        e.hint.as_deref(),
        Some("a CIDR only goes inside a set: ip.src in {192.0.2.0/24}")
    );
    assert_eq!((e.line, e.column), (1, 11));

    let e = err(r#"http.request.uri.path ends_with ".html""#);
    assert_eq!(
        e.hint.as_deref(),
        Some(r#"ends_with is a function: ends_with(http.request.uri.path, ".html")"#)
    );

    let e = err(r#"http.host eq "a" AND ssl"#);
    assert_eq!(e.hint.as_deref(), Some("operators are lowercase: and"));
    assert_eq!(
        err(r#"http.host EQ "a""#).hint.as_deref(),
        Some("operators are lowercase: eq")
    );
    assert_eq!(
        err(r#"Http.Host eq "a""#).hint.as_deref(),
        Some("field names are lowercase: http.host")
    );
    assert_eq!(
        err(r#"LOWER(http.host) eq "a""#).hint.as_deref(),
        Some("function names are lowercase: lower()")
    );

    let e = err(r#"http.hots eq "a""#);
    assert_eq!(e.kind, ErrorKind::UnknownField);
    assert!(e.hint.unwrap().contains("http.host"));

    let e = err(r#"http.host in {"a", "b"}"#);
    assert_eq!(e.hint.as_deref(), Some(r#"write {"a" "b"}"#));
    let e = err(r#"http.host eq 'a'"#);
    assert_eq!(e.hint.as_deref(), Some(r#"write "a""#));

    assert_eq!(err("cf.waf.score lt 20").kind, ErrorKind::UnsupportedField);
    assert_eq!(
        err("lowr(http.host) eq \"a\"").kind,
        ErrorKind::UnknownFunction
    );
    assert!(
        err("lowr(http.host) eq \"a\"")
            .hint
            .unwrap()
            .contains("lower()")
    );
    let e = err("ip.src in $ofice");
    assert_eq!(e.kind, ErrorKind::UnknownList);
    assert!(e.hint.as_deref().unwrap().contains("$office"), "{e}");
    assert_eq!(err("http.host").kind, ErrorKind::NotBoolean);
    assert_eq!(
        err("http.request.headers.names[*] eq \"a\"").kind,
        ErrorKind::NotBoolean
    );
    assert_eq!(
        err("lower(http.host, http.host) eq \"a\"").kind,
        ErrorKind::Arguments
    );
    assert_eq!(
        err(r#"split(http.host, http.host, 2)[0] eq "a""#).kind,
        ErrorKind::Arguments
    );
    assert_eq!(err(r#"http.host matches "(""#).kind, ErrorKind::Regex);
    assert_eq!(err(r#"http.host wildcard "a**""#).kind, ErrorKind::Wildcard);
    assert_eq!(err(r#"http.host wildcard "a\b""#).kind, ErrorKind::Literal);
    assert_eq!(
        err(r#"http.host wildcard r"a\b""#).kind,
        ErrorKind::Wildcard
    );
    assert_eq!(
        err(r#"ip.src in 192.0.2.0/24"#).hint.as_deref(),
        Some("a set needs braces: ip.src in {192.0.2.0/24}")
    );
    assert_eq!(err("ssl and").kind, ErrorKind::Syntax);
    assert_eq!(err("(ssl").kind, ErrorKind::Syntax);
    assert_eq!(err("ssl)").kind, ErrorKind::Syntax);
    assert_eq!(
        err("http.host = \"a\"").hint.as_deref(),
        Some("use == or eq to compare")
    );
}

#[test]
fn error_display_has_line_caret_and_hint() {
    let e = err("http.host eq \"a\"\n  and ip.src == 10.0.0.0/8");
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "error at line 2, column 17: a CIDR cannot be compared with ==; it only goes inside a set"
    );
    assert_eq!(lines[1], "    and ip.src == 10.0.0.0/8");
    assert_eq!(lines[2], "                  ^^^^^^^^^^");
    assert_eq!(
        lines[3],
        "hint: a CIDR only goes inside a set: ip.src in {10.0.0.0/8}"
    );
}

#[test]
fn limits() {
    let long = format!("http.host eq \"{}\"", "a".repeat(4100));
    assert_eq!(err(&long).kind, ErrorKind::TooLong);
    let ok = format!("http.host eq \"{}\"", "a".repeat(4096 - 15));
    assert_eq!(ok.len(), 4096);
    c(&ok);

    let deep = format!("{}ssl{}", "(".repeat(128), ")".repeat(128));
    c(&deep);
    let too_deep = format!("{}ssl{}", "(".repeat(129), ")".repeat(129));
    assert_eq!(err(&too_deep).kind, ErrorKind::TooDeep);
    let nots = format!("{}ssl", "not ".repeat(129));
    assert_eq!(err(&nots).kind, ErrorKind::TooDeep);
    let calls = format!(
        "{}http.host{} eq \"a\"",
        "lower(".repeat(128),
        ")".repeat(128)
    );
    c(&calls);
    let too_many_calls = format!(
        "{}http.host{} eq \"a\"",
        "lower(".repeat(129),
        ")".repeat(129)
    );
    assert_eq!(err(&too_many_calls).kind, ErrorKind::TooDeep);

    let regexes = |n: usize| {
        (0..n)
            .map(|i| format!("http.host matches \"a{i}\""))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    assert_eq!(c(&regexes(64)).regex_count(), 64);
    assert_eq!(err(&regexes(65)).kind, ErrorKind::TooManyRegexes);
    let e = err(r#"http.host matches "(?u)\w{1000}{100}""#);
    assert_eq!(e.kind, ErrorKind::Regex);
    assert!(e.message.contains("too big"), "{e}");
}

// ----- normalization ----------------------------------------------------------------------

#[test]
fn normalized_form() {
    assert_eq!(
        norm("http.host==\"a\"&&(ip.src in {10.0.0.0/8   192.0.2.1}||!ssl)"),
        "http.host eq \"a\" and (ip.src in {10.0.0.0/8 192.0.2.1} or not ssl)"
    );
    assert_eq!(
        norm("http.request.uri.path ~ \"^/a\\.b\""),
        r#"http.request.uri.path matches r"^/a\.b""#
    );
    assert_eq!(
        norm("cf.edge.server_port eq 0x1bb"),
        "cf.edge.server_port eq 443"
    );
    assert_eq!(
        norm("ip.src in {192.0.2.77/24}"),
        "ip.src in {192.0.2.0/24}"
    );
    assert_eq!(norm("http.host eq r\"a\\b\""), r#"http.host eq "a\\b""#);
    assert_eq!(
        norm("http.host strict  wildcard \"A*\""),
        r#"http.host strict wildcard "A*""#
    );
    assert_eq!(
        norm("ip.geoip.country eq \"FR\""),
        r#"ip.geoip.country eq "FR""#
    );
    assert_eq!(
        norm("any( http.request.headers[ \"a\" ][ * ] == \"b\" )"),
        r#"any(http.request.headers["a"][*] eq "b")"#
    );
    assert_eq!(norm("(((ssl)))"), "ssl");
    assert_eq!(norm("ssl and (ssl and ssl)"), "ssl and ssl and ssl");
}

// ----- explanations and rulesets ------------------------------------------------------------

#[test]
fn explanations_list_the_deciding_leaves() {
    let e = c(
        r#"(http.host eq "a" or ip.src in {192.0.2.0/24}) and not http.request.method eq "GET" and ssl"#,
    );
    let fields = JsonFields::parse(
        r#"{"http.host":"b","ip.src":"192.0.2.7","http.request.method":"POST","ssl":true}"#,
    )
    .unwrap();
    let ctx = EvalContext::new(&fields);
    let why = e.explain(&ctx).unwrap();
    let shown: Vec<String> = why.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "ip.src in {192.0.2.0/24} (ip.src = 192.0.2.7)",
            r#"not http.request.method eq "GET" (http.request.method = "POST")"#,
            "ssl",
        ]
    );
    let miss = JsonFields::parse(r#"{"http.host":"b"}"#).unwrap();
    assert!(e.explain(&EvalContext::new(&miss)).is_none());
}

#[test]
fn ruleset_first_and_all_matches() {
    let mut rs = Ruleset::new();
    rs.push("log-all", c("true"));
    rs.push(
        "admin",
        c(r#"starts_with(http.request.uri.path, "/admin")"#),
    );
    rs.push("office", c("ip.src in $office"));
    rs.push("never", c("false"));
    let fields =
        JsonFields::parse(r#"{"http.request.uri.path":"/admin/x","ip.src":"192.0.2.1"}"#).unwrap();
    let ctx = EvalContext::new(&fields);
    let first = rs.first_match(&ctx).unwrap();
    assert_eq!((first.index, *first.data), (0, "log-all"));
    let all: Vec<&str> = rs.all_matches(&ctx).iter().map(|m| *m.data).collect();
    assert_eq!(all, vec!["log-all", "admin", "office"]);
    let office = &rs.all_matches(&ctx)[2];
    assert_eq!(
        office.explain(&ctx)[0].to_string(),
        "ip.src in $office (ip.src = 192.0.2.1)"
    );
    assert_eq!(rs.len(), 4);
}

// ----- provider and values ---------------------------------------------------------------

#[test]
fn provider_values_can_borrow_and_wrong_types_are_missing() {
    struct Req {
        host: String,
        headers: Vec<(String, String)>,
    }
    impl FieldProvider for Req {
        fn field(&self, f: Field) -> Value<'_> {
            match f {
                Field::HttpHost => Value::str(&self.host),
                Field::HttpRequestHeaders => {
                    Value::Map(Map::from_pairs(self.headers.iter().map(|(k, v)| {
                        (
                            std::borrow::Cow::Owned(k.to_ascii_lowercase()),
                            std::borrow::Cow::Borrowed(v.as_str()),
                        )
                    })))
                }
                // Deliberately wrong type: comparisons treat it as missing.
                Field::HttpUserAgent => Value::Int(5),
                _ => Value::Missing,
            }
        }
    }
    let req = Req {
        host: "example.com".into(),
        headers: vec![
            ("Accept".into(), "a".into()),
            ("X-Dup".into(), "1".into()),
            ("x-dup".into(), "2".into()),
        ],
    };
    let ctx = EvalContext::new(&req);
    assert!(c(r#"http.host eq "example.com""#).matches(&ctx));
    assert!(c(r#"http.request.headers["x-dup"][1] eq "2" and http.request.headers["accept"][0] eq "a""#).matches(&ctx));
    assert!(!c(r#"http.user_agent eq "5""#).matches(&ctx));
    assert!(c(r#"not http.user_agent eq "5""#).matches(&ctx));
}

#[test]
fn scheme_is_introspectable() {
    let s = Scheme::builtin();
    let all = s.fields();
    assert!(all.len() > 150);
    let alias = all.iter().find(|f| f.name == "ip.geoip.country").unwrap();
    assert_eq!(alias.alias_of, Some("ip.src.country"));
    assert_eq!(alias.field, Field::IpSrcCountry);
    for (name, ty) in [
        ("ip.src", Type::Ip),
        ("http.request.headers", Type::map_of_string_arrays()),
        ("doorman.ip.lists", Type::array_of_strings()),
        ("doorman.auth.scopes", Type::array_of_strings()),
        ("doorman.bot.signals", Type::array_of_strings()),
        ("doorman.reputation.score", Type::Int),
        ("doorman.ip.vpn", Type::Bool),
        ("doorman.clearance", Type::String),
        ("doorman.route", Type::String),
        ("cf.bot_management.ja4", Type::String),
        ("cf.edge.server_port", Type::Int),
    ] {
        let f = s.lookup(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(f.ty(), ty, "{name}");
        assert!(!f.source().is_empty());
    }
    for (i, f) in Field::ALL.iter().enumerate() {
        assert_eq!(f.index(), i);
        assert_eq!(Field::from_index(i), Some(*f));
    }
    // Every field in Cloudflare's reference that Doorman fills keeps Cloudflare's type.
    let tsv = include_str!("data/cloudflare-fields.tsv");
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let mut cols = line.split('\t');
        let (Some(name), Some(ty)) = (cols.next(), cols.next()) else {
            continue;
        };
        if let Some(f) = s.lookup(name) {
            let want = ty.replace("Number", "Integer");
            assert_eq!(f.ty().to_string(), want, "{name}");
        }
    }
}

#[test]
fn no_lists_and_no_fields() {
    let e = compile("ip.src in $x", Scheme::builtin(), &NoLists).unwrap_err();
    assert!(e.hint.unwrap().contains("no lists are defined"));
    let e = compile("ssl", Scheme::builtin(), &NoLists).unwrap();
    assert!(!e.matches(&EvalContext::new(&NoFields)));
}

#[test]
fn ip_values_from_strings() {
    let ip: IpAddr = "2001:db8::1".parse().unwrap();
    struct P(IpAddr);
    impl FieldProvider for P {
        fn field(&self, f: Field) -> Value<'_> {
            if f == Field::IpSrc {
                Value::Ip(self.0)
            } else {
                Value::Missing
            }
        }
    }
    assert!(c("ip.src in $office").matches(&EvalContext::new(&P(ip))));
}

#[test]
fn docs_list_every_field_and_alias_with_its_type() {
    let doc = include_str!("../../../docs/rules.md");
    for info in Scheme::builtin().fields() {
        let row = if let Some(target) = info.alias_of {
            format!("| `{}` | `{}` |", info.name, target)
        } else {
            format!("| `{}` | {} |", info.name, info.ty)
        };
        assert!(
            doc.contains(&row),
            "docs/rules.md lacks the row starting {row}"
        );
    }
}

#[test]
fn compile_time_specialisations_keep_their_meaning() {
    let f = r#"{"http.host":"Www.Example.com","http.request.uri.path":"/Admin/x"}"#;
    assert!(eval(r#"lower(http.host) eq "www.example.com""#, f));
    assert!(!eval(r#"lower(http.host) ne "www.example.com""#, f));
    // A literal with uppercase can never equal a lowered value.
    assert!(!eval(r#"lower(http.host) eq "Www.example.com""#, f));
    assert!(eval(r#"lower(http.host) ne "Www.example.com""#, f));
    assert!(!eval(r#"lower(http.host) eq "x""#, "{}"));
    assert!(!eval(r#"lower(http.host) ne "x""#, "{}"));
    assert!(eval(r#"starts_with(http.request.uri.path, "/Admin")"#, f));
    assert!(!eval(r#"starts_with(http.request.uri.path, "/admin")"#, f));
    assert!(eval(r#"not ends_with(http.request.uri.path, "/y")"#, f));
    assert!(!eval(r#"ends_with(http.request.uri.path, "/y")"#, "{}"));
    assert!(eval(r#"not ends_with(http.request.uri.path, "/y")"#, "{}"));
    // Anchored regexes are pre-checked against their literal prefix; optional or
    // alternative prefixes must not be required.
    for (pat, val, want) in [
        ("^a?b", "b", true),
        ("^ab*c", "ac", true),
        ("^a{2}", "aa", true),
        ("^/api|/x", "/x", true),
        ("^(?i)abc", "ABC", true),
        (r"^\.x", ".x", true),
        ("^/admin/", "/Admin/", false),
        ("^/admin/", "/admin/users", true),
        ("^é", "é!", true),
    ] {
        let expr = format!("http.request.uri.path matches r\"{pat}\"");
        let json = serde_json::json!({ "http.request.uri.path": val }).to_string();
        assert_eq!(eval(&expr, &json), want, "{pat} on {val}");
    }
    // Explanations of rewritten calls still name the call and show the tested value.
    let e = c(r#"starts_with(http.request.uri.path, "/Admin")"#);
    let fields = JsonFields::parse(f).unwrap();
    let why = e.explain(&EvalContext::new(&fields)).unwrap();
    assert_eq!(
        why[0].to_string(),
        r#"starts_with(http.request.uri.path, "/Admin") (http.request.uri.path = "/Admin/x")"#
    );
}
