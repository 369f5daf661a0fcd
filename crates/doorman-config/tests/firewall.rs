//! The firewall sections (`[intel]`, `[[lists]]`, `[[access_rules]]`, `[[rules]]`) with real
//! files in a temporary directory: what they compile into, and every error and warning they can
//! produce, each at its `file:line:col`.

mod common;

use std::net::IpAddr;
use std::path::Path;

use common::{BASE, Dir, assert_error, at, errors_of, find, loaded, pos};
use doorman_config::{Diagnostic, Loaded, Severity};
use doorman_core::Code;
use doorman_core::Disclosure;
use doorman_core::firewall::{AccessAction, AccessTarget, IpClass, NamedList, RuleAction};
use doorman_intel::mmdb_writer::{MmdbWriter, geolite2_asn, geolite2_country, ipinfo_lite};
use doorman_rules::{EvalContext, Field, FieldProvider, List, Value};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn list<'a>(l: &'a Loaded, name: &str) -> &'a NamedList {
    l.config
        .policy
        .firewall
        .list(name)
        .unwrap_or_else(|| panic!("no list {name}"))
}

/// A request that has only a client IP and a path, to run compiled rules against.
struct Request {
    ip: IpAddr,
    path: &'static str,
}

impl FieldProvider for Request {
    fn field(&self, f: Field) -> Value<'_> {
        match f {
            Field::IpSrc => Value::Ip(self.ip),
            Field::HttpRequestUriPath => Value::str(self.path),
            _ => Value::Missing,
        }
    }
}

/// The ids of the custom rules that match `req`, in order.
fn matching_rules(l: &Loaded, req: &Request) -> Vec<String> {
    let ctx = EvalContext::new(req);
    l.config
        .policy
        .firewall
        .rules
        .all_matches(&ctx)
        .iter()
        .map(|m| m.data.id.clone())
        .collect()
}

fn write_mmdb(dir: &Dir, name: &str, w: &MmdbWriter) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    w.write_to(&path).expect("write mmdb");
    path
}

fn all(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

// ----- happy paths ----------------------------------------------------------------------------

#[test]
fn lists_load_from_files_and_items_in_every_kind_and_format() {
    let dir = Dir::new();
    dir.write(
        "lists/abuse.netset",
        "# FireHOL style\n# comments\n203.0.113.0/24\n198.51.100.17\n2001:db8:bad::/48\n",
    );
    dir.write(
        "lists/cf-export.csv",
        "ip,description\n192.0.2.10,\"a host\"\n192.0.2.20,other\n",
    );
    dir.write("lists/asns.txt", "AS64500\n64501 # comment\n");
    let text = format!(
        r#"{BASE}
[[lists]]
name = "abuse"
kind = "ip"
file = "lists/abuse.netset"
class = "hosting"
description = "addresses that attacked us"

[[lists]]
name = "exported"
kind = "ip"
file = "lists/cf-export.csv"
format = "csv"

[[lists]]
name = "bad_asns"
kind = "asn"
file = "lists/asns.txt"

[[lists]]
name = "more_asns"
kind = "asn"
items = [64510, "AS64511"]

[[lists]]
name = "agents"
kind = "string"
items = ["curl/8.0", "Wget"]

[[lists]]
name = "hosts"
kind = "hostname"
items = ["Example.COM."]
"#
    );
    let l = dir.load(&text).unwrap_or_else(|d| panic!("{d}"));
    assert!(l.warnings.is_empty(), "{}", all(&l.warnings));
    let fw = &l.config.policy.firewall;
    assert_eq!(
        fw.lists.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        [
            "abuse",
            "exported",
            "bad_asns",
            "more_asns",
            "agents",
            "hosts"
        ]
    );

    let abuse = list(&l, "abuse");
    assert_eq!(abuse.entries, 3);
    assert!(abuse.contains_ip(ip("203.0.113.99")));
    assert!(abuse.contains_ip(ip("2001:db8:bad::1")));
    assert!(!abuse.contains_ip(ip("198.51.100.18")));
    assert_eq!(abuse.class, Some(IpClass::Hosting));
    assert_eq!(
        abuse.description.as_deref(),
        Some("addresses that attacked us")
    );
    let file = dir.path().join("lists/abuse.netset");
    assert_eq!(abuse.source, file.display().to_string());
    assert_eq!(
        abuse.updated,
        Some(std::fs::metadata(&file).unwrap().modified().unwrap())
    );

    let exported = list(&l, "exported");
    assert_eq!(exported.entries, 2);
    assert!(exported.contains_ip(ip("192.0.2.20")));
    assert_eq!(exported.class, None);

    assert!(list(&l, "bad_asns").contains_asn(64500));
    assert!(list(&l, "bad_asns").contains_asn(64501));
    let more = list(&l, "more_asns");
    assert!(more.contains_asn(64510) && more.contains_asn(64511));
    assert_eq!(more.source, "inline");
    assert_eq!(more.updated, None);

    match &list(&l, "agents").list {
        List::String(set) => assert!(set.contains(b"Wget") && !set.contains(b"wget")),
        other => panic!("agents is {other:?}"),
    }
    match &list(&l, "hosts").list {
        List::String(set) => assert!(set.contains(b"example.com")),
        other => panic!("hosts is {other:?}"),
    }

    // Every list file is watched; inline lists have no file.
    assert_eq!(
        l.watched_files,
        vec![
            dir.path().join("lists/abuse.netset"),
            dir.path().join("lists/cf-export.csv"),
            dir.path().join("lists/asns.txt"),
        ]
    );
}

#[test]
fn access_rules_compile_every_target_action_and_mode() {
    let dir = Dir::new();
    let geo = write_mmdb(
        &dir,
        "geo/country.mmdb",
        MmdbWriter::new("GeoLite2-Country")
            .insert(
                "192.0.2.0/24",
                geolite2_country("DE", "Germany", "EU", true),
            )
            .unwrap(),
    );
    let asn = write_mmdb(
        &dir,
        "geo/asn.mmdb",
        MmdbWriter::new("GeoLite2-ASN")
            .insert("192.0.2.0/24", geolite2_asn(64500, "Example Net"))
            .unwrap(),
    );
    let text = format!(
        r#"{BASE}
[intel]
country_db = "geo/country.mmdb"
asn_db = "geo/asn.mmdb"

[[lists]]
name = "office"
kind = "ip"
items = ["192.0.2.0/24"]

[[lists]]
name = "asns"
kind = "asn"
items = [64500]

[[access_rules]]
id = "one-ip"
ip = "198.51.100.7"
action = "allow"
note = "hello"

[[access_rules]]
id = "many"
ips = ["198.51.100.0/25", "2001:db8::/32"]
action = "block"
disclosure = "private"

[[access_rules]]
id = "by-list"
list = "office"
action = "challenge"
mode = "shadow"

[[access_rules]]
id = "by-asn-list"
list = "asns"
action = "log"

[[access_rules]]
id = "by-asn"
asn = "AS64500"
action = "block"
disclosure = "hint"

[[access_rules]]
id = "by-asn-number"
asn = 64501
action = "block"

[[access_rules]]
id = "by-country"
country = "DE"
action = "block"
"#
    );
    let l = dir.load(&text).unwrap_or_else(|d| panic!("{d}"));
    assert!(l.warnings.is_empty(), "{}", all(&l.warnings));
    let rules = &l.config.policy.firewall.access_rules;
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "one-ip",
            "many",
            "by-list",
            "by-asn-list",
            "by-asn",
            "by-asn-number",
            "by-country"
        ]
    );

    match &rules[0].target {
        AccessTarget::Ips { set, written } => {
            assert_eq!(written, "198.51.100.7");
            assert!(set.contains(ip("198.51.100.7")) && !set.contains(ip("198.51.100.8")));
        }
        t => panic!("{t:?}"),
    }
    assert_eq!(rules[0].action, AccessAction::Allow);
    assert_eq!(rules[0].note.as_deref(), Some("hello"));
    assert_eq!(rules[0].disclosure, Disclosure::Public);
    assert!(!rules[0].shadow);

    match &rules[1].target {
        AccessTarget::Ips { set, written } => {
            assert_eq!(written, "198.51.100.0/25, 2001:db8::/32");
            assert!(set.contains(ip("198.51.100.127")) && set.contains(ip("2001:db8::9")));
            assert!(!set.contains(ip("198.51.100.128")));
        }
        t => panic!("{t:?}"),
    }
    assert_eq!(
        (rules[1].action, rules[1].disclosure),
        (AccessAction::Block, Disclosure::Private)
    );

    // List targets index into Firewall::lists.
    assert!(matches!(rules[2].target, AccessTarget::List(0)));
    assert_eq!(rules[2].action, AccessAction::Challenge);
    assert!(rules[2].shadow);
    assert!(matches!(rules[3].target, AccessTarget::List(1)));
    assert_eq!(rules[3].action, AccessAction::Log);

    assert!(matches!(rules[4].target, AccessTarget::Asn(64500)));
    assert_eq!(rules[4].disclosure, Disclosure::Hint);
    assert!(matches!(rules[5].target, AccessTarget::Asn(64501)));
    assert!(matches!(&rules[6].target, AccessTarget::Country(c) if c == "DE"));

    // The databases answer through the policy, and are watched.
    let info = l.config.policy.firewall.intel.lookup(ip("192.0.2.9"));
    assert_eq!(info.country.as_deref(), Some("DE"));
    assert_eq!(info.asn, Some(64500));
    assert_eq!(l.watched_files, vec![geo, asn]);
}

#[test]
fn one_database_with_both_serves_both_lookups() {
    let dir = Dir::new();
    let mut w = MmdbWriter::new("ipinfo lite.mmdb");
    w.insert(
        "203.0.113.0/24",
        ipinfo_lite("NL", "Netherlands", "EU", 64496, "Example BV"),
    )
    .unwrap();
    let db = write_mmdb(&dir, "ipinfo.mmdb", &w);
    let text = format!(
        "{BASE}\n[intel]\ndb = \"ipinfo.mmdb\"\n\n[[access_rules]]\nid = \"nl\"\ncountry = \"NL\"\naction = \"block\"\n\n[[access_rules]]\nid = \"as\"\nasn = 64496\naction = \"block\"\n"
    );
    let l = dir.load(&text).unwrap_or_else(|d| panic!("{d}"));
    assert!(l.warnings.is_empty(), "{}", all(&l.warnings));
    let info = l.config.policy.firewall.intel.lookup(ip("203.0.113.5"));
    assert_eq!(
        (info.country.as_deref(), info.asn),
        (Some("NL"), Some(64496))
    );
    assert_eq!(l.watched_files, vec![db]);
}

#[test]
fn custom_rules_compile_with_lists_and_every_option() {
    let text = format!(
        r#"{BASE}
[[lists]]
name = "office"
kind = "ip"
items = ["192.0.2.0/24"]

[[rules]]
id = "admin-from-outside"
title = "Admin pages from outside the office"
expression = 'starts_with(http.request.uri.path, "/admin") and not ip.src in $office'
action = "block"
disclosure = "hint"
remedies = ["Connect to the office VPN."]
status = 451
code = 1010
mode = "shadow"

[[rules]]
id = "health"
title = "Health checks"
expression = "http.request.uri.path eq \"/healthz\""
action = "skip"
skip_phases = ["custom_rules"]

[[rules]]
id = "everything"
title = "Everything"
expression = """
http.request.uri.path ne ""
"""
action = "log"

[[rules]]
id = "challenge"
title = "Challenge"
expression = 'http.request.uri.path eq "/login"'
action = "challenge"

[[rules]]
id = "allow"
title = "Allow"
expression = 'ip.src in $office'
action = "allow"

[[rules]]
id = "rate-code"
title = "Rate"
expression = 'http.request.uri.path eq "/x"'
action = "block"
code = "1015"
"#
    );
    let l = loaded(&text);
    assert!(l.warnings.is_empty(), "{}", all(&l.warnings));
    let rules: Vec<_> = l
        .config
        .policy
        .firewall
        .rules
        .iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(rules.len(), 6);

    let admin = rules[0];
    assert_eq!(admin.id, "admin-from-outside");
    assert_eq!(admin.title, "Admin pages from outside the office");
    assert_eq!(admin.action, RuleAction::Block);
    assert_eq!(admin.disclosure, Disclosure::Hint);
    assert_eq!(
        admin.remedies,
        vec!["Connect to the office VPN.".to_owned()]
    );
    assert_eq!((admin.status, admin.code), (451, Code::BrowserSignature));
    assert!(admin.shadow);

    assert_eq!(
        rules[1].action,
        RuleAction::Skip {
            phases: vec!["custom_rules".into()]
        }
    );
    assert_eq!(rules[2].action, RuleAction::Log);
    assert_eq!(rules[3].action, RuleAction::Challenge);
    assert_eq!(rules[4].action, RuleAction::Allow);
    // Defaults: 1020 with 403; a code's own 4xx status when only the code is given.
    assert_eq!((rules[1].status, rules[1].code), (403, Code::FirewallRule));
    assert_eq!((rules[5].status, rules[5].code), (429, Code::RateLimited));
    assert!(!rules[1].shadow);
    assert_eq!(rules[1].disclosure, Disclosure::Public);

    // The expressions really run, with the list resolved.
    let outside = Request {
        ip: ip("203.0.113.1"),
        path: "/admin/users",
    };
    assert_eq!(
        matching_rules(&l, &outside),
        ["admin-from-outside", "everything"]
    );
    let office = Request {
        ip: ip("192.0.2.1"),
        path: "/admin/users",
    };
    assert_eq!(matching_rules(&l, &office), ["everything", "allow"]);
}

// ----- expression errors inside strings -------------------------------------------------------

#[test]
fn an_expression_error_points_into_a_basic_string() {
    let text = format!(
        "{BASE}\n[[rules]]\nid = \"office\"\ntitle = \"Office\"\nexpression = \"ip.src == 192.0.2.0/24\"\naction = \"block\"\n"
    );
    let e = assert_error(
        &text,
        "in the expression of rule `office`: a CIDR cannot be compared with ==",
        "192.0.2.0/24",
        Some("a CIDR only goes inside a set: ip.src in {192.0.2.0/24}"),
    );
    // The underline covers the CIDR.
    let span = e.span.clone().unwrap();
    assert_eq!(&text[span], "192.0.2.0/24");
}

#[test]
fn an_expression_error_points_into_a_literal_string_and_names_the_nearest_field() {
    let text = format!(
        "{BASE}\n[[rules]]\nid = \"r\"\ntitle = \"R\"\nexpression = 'http.request.uri.pth eq \"/\"'\naction = \"block\"\n"
    );
    assert_error(
        &text,
        "unknown field `http.request.uri.pth`",
        "http.request.uri.pth",
        Some("did you mean http.request.uri.path"),
    );
}

#[test]
fn an_error_inside_a_multi_line_expression_is_on_the_right_line_of_the_file() {
    let text = format!(
        r#"{BASE}
[[rules]]
id = "multi"
title = "Multi"
expression = '''
http.request.uri.path eq "/a"
  and ip.src in $offce
'''
action = "block"

[[lists]]
name = "office"
kind = "ip"
items = ["192.0.2.0/24"]
"#
    );
    let e = assert_error(
        &text,
        "unknown list $offce",
        "$offce",
        Some("did you mean $office?"),
    );
    // The second line of the expression is the line after `http.request…`.
    assert_eq!(at(&e).0, pos(&text, "http.request.uri.path eq").0 + 1);
    assert_eq!(at(&e).1, 17);
}

#[test]
fn escapes_in_basic_strings_keep_columns_exact() {
    // `\"` is two characters in the file and one in the expression; `\u00e9` six and one.
    let text = format!(
        "{BASE}\n[[rules]]\nid = \"esc\"\ntitle = \"Esc\"\nexpression = \"http.host eq \\\"\\u00e9\\\" and lowr(http.host) eq \\\"x\\\"\"\naction = \"block\"\n"
    );
    assert_error(
        &text,
        "unknown function lowr()",
        "lowr(",
        Some("did you mean lower()?"),
    );
    // A multi-line basic string with a line-ending backslash.
    let text = format!(
        "{BASE}\n[[rules]]\nid = \"ml\"\ntitle = \"Ml\"\nexpression = \"\"\"\nhttp.host eq \"a\" \\\n    and http.hots eq \"b\"\"\"\"\naction = \"block\"\n"
    );
    assert_error(&text, "unknown field `http.hots`", "http.hots", None);
}

// ----- other errors ---------------------------------------------------------------------------

#[test]
fn unknown_lists_and_wrong_list_kinds() {
    let lists = r#"
[[lists]]
name = "office"
kind = "ip"
items = ["192.0.2.0/24"]

[[lists]]
name = "agents"
kind = "string"
items = ["curl"]

[[lists]]
name = "asns"
kind = "asn"
items = [64500]
"#;
    let text = format!(
        "{BASE}{lists}\n[[access_rules]]\nid = \"a\"\nlist = \"ofice\"\naction = \"allow\"\n"
    );
    assert_error(
        &text,
        "unknown list `ofice`",
        "\"ofice\"",
        Some("did you mean `office`? (lists: agents, asns, office)"),
    );

    let text = format!(
        "{BASE}{lists}\n[[access_rules]]\nid = \"a\"\nlist = \"agents\"\naction = \"block\"\n"
    );
    assert_error(
        &text,
        "list `agents` is a string list; an access rule needs an ip or asn list",
        "\"agents\"\naction",
        Some("http.host in $agents"),
    );

    // An asn list where an expression wants IPs: the rules crate's own type error.
    let text = format!(
        "{BASE}{lists}\n[[rules]]\nid = \"r\"\ntitle = \"R\"\nexpression = 'ip.src in $asns'\naction = \"block\"\n"
    );
    assert_error(
        &text,
        "list $asns holds integers, but `ip.src` is",
        "$asns'",
        None,
    );

    // An ip rule given a list's name says to use `list`.
    let text = format!(
        "{BASE}{lists}\n[[access_rules]]\nid = \"a\"\nip = \"office\"\naction = \"allow\"\n"
    );
    assert_error(
        &text,
        "invalid value for `ip`: `office` is not an IP network",
        "\"office\"\naction",
        Some("`office` is a list: write list = \"office\""),
    );
}

#[test]
fn duplicates_are_errors_that_name_the_first() {
    let text = format!(
        r#"{BASE}
[[lists]]
name = "a"
kind = "ip"
items = ["192.0.2.1"]

[[lists]]
name = "a"
kind = "ip"
items = ["192.0.2.2"]

[[access_rules]]
id = "x"
ip = "192.0.2.1"
action = "allow"

[[access_rules]]
id = "x"
ip = "192.0.2.2"
action = "allow"

[[rules]]
id = "y"
title = "Y"
expression = 'http.host eq "a"'
action = "log"

[[rules]]
id = "y"
title = "Y again"
expression = 'http.host eq "b"'
action = "log"
"#
    );
    let d = errors_of(&text);
    let list = find(&d.items, Severity::Error, "duplicate list name `a`");
    let first_list = pos(&text, "name = \"a\"").0;
    assert_eq!(
        list.hint.as_deref(),
        Some(format!("the first is on line {first_list}; list names must be unique").as_str())
    );
    let access = find(
        &d.items,
        Severity::Error,
        "duplicate id `x` in [[access_rules]]",
    );
    assert_eq!(at(access).0, pos(&text, "id = \"x\"\nip = \"192.0.2.2\"").0);
    let rule = find(&d.items, Severity::Error, "duplicate id `y` in [[rules]]");
    assert_eq!(at(rule).0, pos(&text, "id = \"y\"\ntitle = \"Y again\"").0);
    assert_eq!(d.errors().count(), 3, "{d}");
}

#[test]
fn access_rules_need_exactly_one_target() {
    let text = format!("{BASE}\n[[access_rules]]\nid = \"none\"\naction = \"block\"\n");
    assert_error(
        &text,
        "an access rule needs a target",
        "[[access_rules]]",
        Some("exactly one of ip"),
    );

    let text = format!(
        "{BASE}\n[[access_rules]]\nid = \"two\"\nip = \"192.0.2.1\"\ncountry = \"DE\"\naction = \"block\"\n"
    );
    let d = errors_of(&text);
    let e = find(
        &d.items,
        Severity::Error,
        "an access rule has one target, but this one has `ip` and `country`",
    );
    assert_eq!(at(e), pos(&text, "country ="));
    assert_eq!(d.errors().count(), 1, "{d}");
}

#[test]
fn bad_networks_asns_and_countries() {
    let rule = |target: &str| {
        format!("{BASE}\n[[access_rules]]\nid = \"r\"\n{target}\naction = \"block\"\n")
    };
    assert_error(
        &rule("ip = \"192.0.2.0/33\""),
        "invalid value for `ip`: `192.0.2.0/33` is not an IP network",
        "\"192.0.2.0/33\"",
        Some("write a CIDR"),
    );
    let text = rule("ips = [\"192.0.2.0/24\", \"10.0.0\"]");
    assert_error(
        &text,
        "invalid value for `ips`: `10.0.0` is not an IP network",
        "\"10.0.0\"",
        None,
    );
    assert_error(
        &rule("ips = []"),
        "`ips` is empty",
        "[]",
        Some("at least one"),
    );
    assert_error(
        &rule("asn = \"AS-64500\""),
        "invalid value for `asn`: `AS-64500` is not an AS number",
        "\"AS-64500\"",
        Some("asn = 64500"),
    );
    assert_error(&rule("asn = 0"), "AS0 is reserved", "0\naction", None);
    assert_error(
        &rule("asn = true"),
        "invalid value for `asn`: expected a string or an integer, found boolean true",
        "true",
        None,
    );
    assert_error(
        &rule("country = \"de\""),
        "invalid value for `country`: `de` is not a country code",
        "\"de\"",
        Some("country codes are upper case: \"DE\""),
    );
    assert_error(
        &rule("country = \"UK\""),
        "`UK` is not an ISO 3166-1 country code",
        "\"UK\"",
        Some("\"GB\""),
    );
}

#[test]
fn skip_phases_status_and_code_are_checked() {
    let rule = |extra: &str| {
        format!(
            "{BASE}\n[[rules]]\nid = \"r\"\ntitle = \"R\"\nexpression = 'http.host eq \"a\"'\n{extra}\n"
        )
    };
    assert_error(
        &rule("action = \"skip\"\nskip_phases = [\"custom_rules\", \"bot_checks\"]"),
        "`bot_checks` is not a phase a rule can skip",
        "\"bot_checks\"",
        Some("custom_rules"),
    );
    assert_error(
        &rule("action = \"skip\"\nskip_phases = [\"custom-rule\"]"),
        "`custom-rule` is not a phase a rule can skip",
        "\"custom-rule\"",
        Some("did you mean \"custom_rules\"?"),
    );
    assert_error(
        &rule("action = \"skip\""),
        "action = \"skip\" needs the phases to skip",
        "\"skip\"",
        Some("skip_phases = [\"custom_rules\"]"),
    );
    assert_error(
        &rule("action = \"block\"\nstatus = 302"),
        "invalid value for `status`: 302 is not a client-error status (400–499)",
        "302",
        Some("403"),
    );
    assert_error(
        &rule("action = \"block\"\nstatus = 500"),
        "500 is not a client-error status",
        "500",
        None,
    );
    assert_error(
        &rule("action = \"block\"\ncode = \"10200\""),
        "unknown code `10200`",
        "\"10200\"",
        Some("did you mean \"1020\"?"),
    );
    assert_error(
        &rule("action = \"block\"\ncode = 42"),
        "unknown code `42`",
        "42",
        None,
    );
}

#[test]
fn required_keys_and_shapes_of_lists_and_rules() {
    let text = format!(
        r#"{BASE}
[[lists]]
name = "Bad-Name"
kind = "ip"
items = ["192.0.2.1"]

[[lists]]
name = "nothing"
kind = "ip"

[[lists]]
name = "both"
kind = "ip"
file = "x.txt"
items = ["192.0.2.1"]

[[lists]]
name = "classy"
kind = "asn"
items = [64500]
class = "vpn"

[[lists]]
name = "kindless"
items = ["192.0.2.1"]

[[lists]]
name = "typo"
kind = "asm"
items = ["192.0.2.1"]

[[rules]]
id = "bare"
"#
    );
    let d = errors_of(&text);
    let e = find(
        &d.items,
        Severity::Error,
        "`Bad-Name` is not a valid list name",
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("use lower-case letters, digits and `_`: \"bad_name\"")
    );
    let e = find(&d.items, Severity::Error, "a list needs `file` or `items`");
    assert_eq!(at(e).0, pos(&text, "name = \"nothing\"").0 - 1);
    let e = find(
        &d.items,
        Severity::Error,
        "`file` and `items` cannot both be set",
    );
    assert_eq!(at(e).0, pos(&text, "name = \"both\"").0 + 3);
    // The file of `both` is still looked for: its absence is reported in the same run.
    find(
        &d.items,
        Severity::Error,
        "list file `x.txt` does not exist",
    );
    find(
        &d.items,
        Severity::Error,
        "`class` only applies to ip lists; this list is kind = \"asn\"",
    );
    let e = find(&d.items, Severity::Error, "missing key `kind` in [[lists]]");
    assert_eq!(at(e).0, pos(&text, "name = \"kindless\"").0 - 1);
    let e = find(&d.items, Severity::Error, "invalid value for `kind`");
    assert_eq!(e.hint.as_deref(), Some("did you mean \"asn\"?"));
    for key in ["title", "expression", "action"] {
        find(
            &d.items,
            Severity::Error,
            &format!("missing key `{key}` in [[rules]]"),
        );
    }
    // Nothing else: no follow-on errors about the broken lists.
    assert_eq!(d.errors().count(), 10, "{d}");
}

#[test]
fn inline_items_are_checked_one_by_one() {
    let text = format!(
        "{BASE}\n[[lists]]\nname = \"l\"\nkind = \"ip\"\nitems = [\"192.0.2.1\", \"not-an-ip\", \"198.51.100.0/24\"]\n"
    );
    let e = assert_error(&text, "invalid item in list `l`", "\"not-an-ip\"", None);
    assert!(e.message.contains("not-an-ip"), "{e}");

    let text = format!(
        "{BASE}\n[[lists]]\nname = \"l\"\nkind = \"asn\"\nitems = [64500, \"ASx\", true]\n"
    );
    let d = errors_of(&text);
    // The wrongly typed item is cut out alone, so the other bad one is still checked.
    let wrong_type = find(&d.items, Severity::Error, "expected a string or an integer");
    assert_eq!(at(wrong_type), pos(&text, "true"));
    let bad = find(&d.items, Severity::Error, "invalid item in list `l`");
    assert_eq!(at(bad), pos(&text, "\"ASx\""));
    assert_eq!(d.errors().count(), 2, "{d}");
}

#[test]
fn a_broken_list_causes_no_follow_on_errors() {
    // The list file is missing: the access rule and the expression that use the list must not
    // also call it unknown.
    let text = format!(
        r#"{BASE}
[[lists]]
name = "feed"
kind = "ip"
file = "lists/missing.txt"

[[lists]]
name = 7
kind = "ip"
items = []

[[access_rules]]
id = "feed"
list = "feed"
action = "block"

[[access_rules]]
id = "maybe-the-broken-one"
list = "seven"
action = "block"

[[rules]]
id = "feed"
title = "Feed"
expression = 'ip.src in $feed or ip.src in $seven'
action = "block"
"#
    );
    let d = errors_of(&text);
    let e = find(
        &d.items,
        Severity::Error,
        "list file `lists/missing.txt` does not exist",
    );
    assert_eq!(at(e), pos(&text, "\"lists/missing.txt\""));
    assert!(
        e.hint
            .as_deref()
            .unwrap()
            .contains("relative paths start from")
    );
    find(&d.items, Severity::Error, "invalid value for `name`");
    assert_eq!(d.errors().count(), 2, "{d}");
}

#[test]
fn errors_of_every_firewall_section_come_out_in_one_run_in_file_order() {
    let text = format!(
        r#"{BASE}
[[lists]]
name = "office"
kind = "ip"
items = ["192.0.2.0/24"]

[[access_rules]]
id = "a"
country = "de"
action = "block"

[[access_rules]]
id = "b"
list = "offices"
action = "allow"

[[rules]]
id = "c"
title = "C"
expression = 'ip.src in $office and http.hots eq "x"'
action = "block"
status = 200

[[rules]]
id = "d"
title = "D"
expression = 'true'
action = "skip"
skip_phases = ["bots"]
colour = "red"
"#
    );
    let d = errors_of(&text);
    let got: Vec<(usize, usize)> = d.errors().map(at).collect();
    let want = vec![
        pos(&text, "\"de\""),
        pos(&text, "\"offices\""),
        pos(&text, "http.hots"),
        pos(&text, "200"),
        pos(&text, "\"bots\""),
        pos(&text, "colour"),
    ];
    assert_eq!(got, want, "{d}");
}

// ----- warnings -------------------------------------------------------------------------------

#[test]
fn bad_lines_of_a_list_file_are_warnings_at_that_files_line() {
    let dir = Dir::new();
    let list_path = dir.write(
        "lists/feed.txt",
        "192.0.2.1\nnot an address\n198.51.100.0/24\n\n203.0.113.0/33\n",
    );
    let text =
        format!("{BASE}\n[[lists]]\nname = \"feed\"\nkind = \"ip\"\nfile = \"lists/feed.txt\"\n");
    let l = dir.load(&text).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.warnings.len(), 2, "{}", all(&l.warnings));
    let shown = list_path.display().to_string();
    for (w, line) in l.warnings.iter().zip([2, 5]) {
        assert_eq!(w.severity, Severity::Warning);
        assert_eq!(w.file, shown);
        // The column is the list loader's: where on the line the problem starts.
        let (l, col) = at(w);
        assert_eq!(l, line);
        assert!(w.span.is_none());
        assert!(w.message.starts_with("in list `feed`: "), "{w}");
        assert!(
            w.to_string()
                .starts_with(&format!("{shown}:{line}:{col}: warning: in list `feed`")),
            "{w}"
        );
    }
    // The rest of the list loaded.
    let feed = list(&l, "feed");
    assert_eq!(feed.entries, 2);
    assert!(feed.contains_ip(ip("198.51.100.9")));

    // `doorman check` prints them, and still succeeds.
    let (report, ok) = doorman_config::check_report(dir.path().join("doorman.toml"));
    assert!(ok);
    assert!(report.contains(&format!("{shown}:2:")), "{report}");
    assert!(
        report.ends_with("ok: 1 route, 1 upstream, 1 listener, 1 list"),
        "{report}"
    );
}

#[test]
fn a_file_of_many_bad_lines_shows_ten_and_a_count() {
    let dir = Dir::new();
    let body: String = (0..25).map(|i| format!("bad-{i}\n")).collect();
    dir.write("lists/wrong.txt", &format!("192.0.2.1\n{body}"));
    let text =
        format!("{BASE}\n[[lists]]\nname = \"wrong\"\nkind = \"ip\"\nfile = \"lists/wrong.txt\"\n");
    let l = dir.load(&text).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.warnings.len(), 11, "{}", all(&l.warnings));
    assert_eq!(at(&l.warnings[9]).0, 11);
    let last = &l.warnings[10];
    assert_eq!(
        last.message,
        "in list `wrong`: 15 more bad lines, not shown; they are skipped"
    );
    assert!(last.hint.as_deref().unwrap().contains("read as plain"));
    assert_eq!(list(&l, "wrong").entries, 1);
}

#[test]
fn list_file_warnings_sit_in_config_order() {
    // A warning about the config after the list comes after the list file's warnings.
    let dir = Dir::new();
    dir.write("feed.txt", "nope\n192.0.2.1\n");
    let text = format!(
        "{BASE}\n[[lists]]\nname = \"feed\"\nkind = \"ip\"\nfile = \"feed.txt\"\n\n[[access_rules]]\nid = \"a\"\nip = \"10.1.2.3/8\"\naction = \"block\"\n"
    );
    let l = dir.load(&text).unwrap_or_else(|d| panic!("{d}"));
    let messages: Vec<&str> = l.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].starts_with("in list `feed`"));
    assert!(messages[1].contains("has host bits set"));
}

#[test]
fn a_missing_database_is_a_warning_and_the_file_still_loads() {
    let dir = Dir::new();
    let text = format!(
        "{BASE}\n[intel]\ncountry_db = \"geo/GeoLite2-Country.mmdb\"\n\n[[rules]]\nid = \"de\"\ntitle = \"DE\"\nexpression = 'ip.src.country eq \"DE\"'\naction = \"block\"\n"
    );
    let l = dir.load(&text).unwrap_or_else(|d| panic!("{d}"));
    // One warning: the database's. The rule on its field is not warned about again.
    assert_eq!(l.warnings.len(), 1, "{}", all(&l.warnings));
    let w = &l.warnings[0];
    assert_eq!(at(w), pos(&text, "\"geo/GeoLite2-Country.mmdb\""));
    assert_eq!(
        w.message,
        "database `geo/GeoLite2-Country.mmdb` does not exist; ip.src.country and country access rules will never match until it loads"
    );
    // Missing, and still watched: the server reloads when it appears.
    assert_eq!(
        l.watched_files,
        vec![dir.path().join("geo/GeoLite2-Country.mmdb")]
    );
    assert!(
        l.config
            .policy
            .firewall
            .intel
            .lookup(ip("192.0.2.1"))
            .country
            .is_none()
    );
}

#[test]
fn one_bad_database_does_not_stop_the_other() {
    let dir = Dir::new();
    dir.write("geo/junk.mmdb", "this is not a database");
    let mut w = MmdbWriter::new("GeoLite2-ASN");
    w.insert("192.0.2.0/24", geolite2_asn(64500, "Example"))
        .unwrap();
    write_mmdb(&dir, "geo/asn.mmdb", &w);
    let text =
        format!("{BASE}\n[intel]\ncountry_db = \"geo/junk.mmdb\"\nasn_db = \"geo/asn.mmdb\"\n");
    let l = dir.load(&text).unwrap_or_else(|d| panic!("{d}"));
    let w = find(
        &l.warnings,
        Severity::Warning,
        "database `geo/junk.mmdb` is not usable",
    );
    assert_eq!(at(w), pos(&text, "\"geo/junk.mmdb\""));
    assert_eq!(l.warnings.len(), 1, "{}", all(&l.warnings));
    let info = l.config.policy.firewall.intel.lookup(ip("192.0.2.1"));
    assert_eq!((info.asn, info.country), (Some(64500), None));
}

#[test]
fn a_database_given_in_the_wrong_role_is_a_warning() {
    let dir = Dir::new();
    let mut w = MmdbWriter::new("GeoLite2-ASN");
    w.insert("192.0.2.0/24", geolite2_asn(64500, "Example"))
        .unwrap();
    write_mmdb(&dir, "asn.mmdb", &w);
    let text = format!("{BASE}\n[intel]\ncountry_db = \"asn.mmdb\"\n");
    let l = dir.load(&text).unwrap_or_else(|d| panic!("{d}"));
    let w = find(&l.warnings, Severity::Warning, "which has no countries");
    assert_eq!(at(w), pos(&text, "\"asn.mmdb\""));
}

#[test]
fn db_excludes_the_two_role_keys() {
    let text = format!("{BASE}\n[intel]\ndb = \"a.mmdb\"\ncountry_db = \"b.mmdb\"\n");
    assert_error(
        &text,
        "`db` and `country_db` cannot both be set",
        "country_db",
        Some("either `db`"),
    );
}

#[test]
fn rules_and_targets_that_need_a_database_warn_without_one() {
    let text = format!(
        r#"{BASE}
[[access_rules]]
id = "unknown-country"
country = "XX"
action = "block"

[[access_rules]]
id = "as"
asn = 64500
action = "block"

[[rules]]
id = "asn-rule"
title = "ASN"
expression = 'ip.src.asnum eq 64500'
action = "log"
"#
    );
    let l = loaded(&text);
    let w = find(
        &l.warnings,
        Severity::Warning,
        "this rule matches every client",
    );
    assert_eq!(at(w), pos(&text, "\"XX\""));
    let w = find(
        &l.warnings,
        Severity::Warning,
        "this asn rule will never match",
    );
    assert_eq!(at(w), pos(&text, "64500\naction"));
    let w = find(
        &l.warnings,
        Severity::Warning,
        "rule `asn-rule` uses ip.src.asnum, but no AS database is configured",
    );
    assert_eq!(at(w), pos(&text, "'ip.src.asnum"));
    assert_eq!(l.warnings.len(), 3, "{}", all(&l.warnings));
}

#[test]
fn options_that_do_nothing_draw_warnings() {
    let text = format!(
        r#"{BASE}
[[lists]]
name = "empty"
kind = "ip"
items = []
format = "csv"

[[rules]]
id = "r"
title = "R"
expression = 'http.host eq "a"'
action = "log"
status = 403
code = "1020"
skip_phases = ["custom_rules"]
"#
    );
    let l = loaded(&text);
    find(&l.warnings, Severity::Warning, "list `empty` is empty");
    let w = find(
        &l.warnings,
        Severity::Warning,
        "`format` has no effect on inline items",
    );
    assert_eq!(at(w), pos(&text, "format ="));
    for key in ["status", "code"] {
        let w = find(
            &l.warnings,
            Severity::Warning,
            &format!("`{key}` has no effect: only action = \"block\" uses it"),
        );
        assert_eq!(at(w), pos(&text, &format!("{key} =")));
    }
    find(
        &l.warnings,
        Severity::Warning,
        "`skip_phases` has no effect",
    );
    assert_eq!(l.warnings.len(), 5, "{}", all(&l.warnings));
}

#[test]
fn the_example_netset_list_is_the_one_the_example_config_uses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/doorman.toml");
    let l = doorman_config::load(&path).unwrap_or_else(|d| panic!("{d}"));
    let feed = list(&l, "abuse_feed");
    assert_eq!(feed.entries, 3);
    assert!(feed.contains_ip(ip("203.0.113.50")));
    assert_eq!(l.watched_files.len(), 1);
    assert!(l.watched_files[0].ends_with("examples/lists/abuse.netset"));
    let blocked = Request {
        ip: ip("198.51.100.1"),
        path: "/wp-login.php",
    };
    assert_eq!(matching_rules(&l, &blocked), ["wordpress-probes"]);
}

#[test]
fn country_rules_without_a_country_database() {
    let text = format!(
        r#"{BASE}
[[access_rules]]
id = "tor-without-list"
country = "T1"
action = "block"

[[rules]]
id = "eu"
title = "EU"
expression = 'ip.src.country in {{"DE" "FR"}}'
action = "log"
"#
    );
    let l = loaded(&text);
    let w = find(
        &l.warnings,
        Severity::Warning,
        "T1 (Tor) comes from an ip list",
    );
    assert_eq!(at(w), pos(&text, "\"T1\""));
    let w = find(
        &l.warnings,
        Severity::Warning,
        "rule `eu` uses ip.src.country, but no country database is configured, so it has no value",
    );
    assert_eq!(at(w), pos(&text, "'ip.src.country"));
    assert_eq!(l.warnings.len(), 2, "{}", all(&l.warnings));

    // With a Tor list, T1 is known without a database.
    let text = format!(
        "{BASE}\n[[lists]]\nname = \"tor\"\nkind = \"ip\"\nitems = [\"198.51.100.1\"]\nclass = \"tor\"\n\n[[access_rules]]\nid = \"tor\"\ncountry = \"T1\"\naction = \"challenge\"\n"
    );
    let l = loaded(&text);
    assert!(l.warnings.is_empty(), "{}", all(&l.warnings));
    assert_eq!(l.config.policy.firewall.lists[0].class, Some(IpClass::Tor));
}

#[test]
fn a_list_of_unknown_kind_draws_no_type_errors_in_expressions() {
    // The kind is reported once; whether `http.host in $hosts` fits it cannot be known.
    let text = format!(
        "{BASE}\n[[lists]]\nname = \"hosts\"\nkind = \"hostnames\"\nitems = [\"example.com\"]\n\n[[rules]]\nid = \"r\"\ntitle = \"R\"\nexpression = 'http.host in $hosts'\naction = \"block\"\n"
    );
    let d = errors_of(&text);
    let e = find(&d.items, Severity::Error, "invalid value for `kind`");
    assert_eq!(e.hint.as_deref(), Some("did you mean \"hostname\"?"));
    assert_eq!(d.errors().count(), 1, "{d}");
}
