//! List files as operators have them: every format, every kind, bad lines, odd encodings.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use doorman_intel::{
    ListError, ListFormat, ListItems, ListKind, LoadedList, MAX_PROBLEMS, list_from_items,
    load_list_file, parse_list,
};
use doorman_rules::List;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn file(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn problems(l: &LoadedList) -> Vec<String> {
    l.problems.iter().map(|p| p.to_string()).collect()
}

#[test]
fn plain_ip_list_with_every_item_form() {
    let text = "\
# Office and partners
192.0.2.1
198.51.100.0/24   # partner A
2001:db8::/32
2001:db8:ffff::1
203.0.113.10..203.0.113.20

   10.0.0.0/8\t# indented, tab before the comment
";
    let l = parse_list(text, ListKind::Ip, ListFormat::Plain, "office.txt");
    assert_eq!(l.entries, 6);
    assert!(l.problems.is_empty(), "{:?}", problems(&l));
    assert_eq!(l.kind, ListKind::Ip);
    assert_eq!(l.format, ListFormat::Plain);
    assert_eq!(l.source, "office.txt");
    for yes in [
        "192.0.2.1",
        "198.51.100.255",
        "2001:db8:1::1",
        "203.0.113.15",
        "10.20.30.40",
    ] {
        assert!(l.contains_ip(ip(yes)), "{yes}");
    }
    for no in [
        "192.0.2.2",
        "203.0.113.21",
        "2001:db9::1",
        "::ffff:192.0.2.1",
    ] {
        assert!(!l.contains_ip(ip(no)), "{no}");
    }
    let m = l.matching_entry(ip("198.51.100.7")).unwrap();
    assert_eq!(
        (m.line, m.item, m.note),
        (3, "198.51.100.0/24", Some("partner A"))
    );
    let m = l.matching_entry(ip("203.0.113.11")).unwrap();
    assert_eq!(m.item, "203.0.113.10..203.0.113.20");
    assert_eq!(l.matching_entry(ip("8.8.8.8")), None);
    // The rules language gets the same set.
    let List::Ip(set) = l.to_rule_list() else {
        panic!("not an IP list")
    };
    assert!(set.contains(ip("2001:db8:ffff::1")));
}

#[test]
fn bad_ip_lines_are_reported_with_position_and_fix() {
    let text = "\
192.0.2.0/24
  10.0.0.0/33
nonsense here
192.0.2.1-192.0.2.9
AS13335
192.0.2.7,office
10.0.0.9..10.0.0.1
192.0.2.1:8080
010.1.2.3
198.51.100.1
";
    let l = parse_list(text, ListKind::Ip, ListFormat::Plain, "block.txt");
    assert_eq!(l.entries, 2, "{:?}", problems(&l));
    assert_eq!(l.bad_lines, 8);
    let p = problems(&l);
    assert_eq!(
        p[0],
        "block.txt:2:3: `10.0.0.0/33`: prefix length /33 is too long for IPv4 (at most /32); fix \
         the prefix length"
    );
    assert_eq!(
        p[1],
        "block.txt:3:10: unexpected text `here` after `nonsense`: put one item per line, and \
         start comments with #"
    );
    assert!(
        p[2].starts_with("block.txt:4:1: `192.0.2.1-192.0.2.9` is not an IP address"),
        "{}",
        p[2]
    );
    assert!(p[2].ends_with("write a range with two dots: 192.0.2.1..192.0.2.9"));
    assert!(
        p[3].ends_with("AS numbers go in a list of kind \"asn\""),
        "{}",
        p[3]
    );
    assert!(
        p[4].contains("name the file *.csv or set format = \"csv\""),
        "{}",
        p[4]
    );
    assert!(p[5].starts_with("block.txt:7:1: range `10.0.0.9..10.0.0.1` must go from the lower"));
    assert!(p[5].ends_with("swap the two ends"));
    assert!(
        p[6].ends_with("remove the port: write 192.0.2.1"),
        "{}",
        p[6]
    );
    assert!(p[7].contains("remove the leading zeros"), "{}", p[7]);
    assert_eq!(l.problems[0].text, "10.0.0.0/33");
    assert_eq!(l.problems[0].line, 2);
    assert_eq!(l.problems[0].column, 3);
    assert_eq!(&*l.problems[0].file, "block.txt");
    assert!(
        l.contains_ip(ip("198.51.100.1")),
        "the line after bad ones still loads"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let l = parse_list("ünïcödé 1.2.3.4\n", ListKind::Ip, ListFormat::Plain, "u");
    assert_eq!(l.problems[0].column, 9);
    let l = parse_list("\u{feff}bad\n", ListKind::Ip, ListFormat::Plain, "u");
    assert_eq!((l.problems[0].line, l.problems[0].column), (1, 1));
}

#[test]
fn asn_lists_in_every_spelling() {
    let text = "\
13335
AS9009 # M247
as 64496
As64497 ; note
4294967295
4294967296
ASx
AS
1.2.3.4
64512 64513
";
    let l = parse_list(text, ListKind::Asn, ListFormat::Plain, "asn.txt");
    assert_eq!(l.entries, 4, "{:?}", problems(&l));
    for yes in [13335, 9009, 64497, u32::MAX] {
        assert!(l.contains_asn(yes), "{yes}");
    }
    assert!(!l.contains_asn(64496));
    let p = problems(&l);
    assert_eq!(p.len(), 6);
    assert_eq!(
        p[0],
        "asn.txt:3:4: write the AS number without a space: AS64496"
    );
    assert_eq!(
        p[1],
        "asn.txt:6:1: `4294967296` is too large for an AS number (at most 4294967295): check \
         the number"
    );
    assert_eq!(
        p[2],
        "asn.txt:7:1: `ASx` is not an AS number: write it as 13335 or AS13335"
    );
    assert_eq!(
        p[3],
        "asn.txt:8:1: `AS` needs a number after AS, for example AS13335"
    );
    assert!(
        p[4].contains("is an IP address, not an AS number"),
        "{}",
        p[4]
    );
    assert!(
        p[5].starts_with("asn.txt:10:7: unexpected text `64513`"),
        "{}",
        p[5]
    );
    assert!(matches!(l.items, ListItems::Asn(_)));
    assert!(matches!(l.to_rule_list(), List::Int(_)));
    assert!(l.entry_index.is_none());
}

#[test]
fn string_and_hostname_lists() {
    let text = "\
curl/8.4.0
Mozilla/5.0 (X11; Linux x86_64)   # a user agent with spaces
  padded  
tag#1
";
    let l = parse_list(text, ListKind::String, ListFormat::Plain, "ua.txt");
    assert_eq!(l.entries, 4);
    assert!(l.contains_str("Mozilla/5.0 (X11; Linux x86_64)"));
    assert!(l.contains_str("padded"));
    assert!(l.contains_str("tag#1"));
    assert!(!l.contains_str("curl/8.4.1"));

    let text = "Example.COM\nwww.example.org.\nbad host\n# comment\nAPI.example.net # api\n*.example.com\n";
    let l = parse_list(text, ListKind::Hostname, ListFormat::Plain, "hosts.txt");
    assert_eq!(l.entries, 3, "{:?}", problems(&l));
    assert!(l.contains_str("example.com"));
    assert!(!l.contains_str("Example.COM"));
    assert!(l.contains_str("www.example.org"));
    assert!(l.contains_str("api.example.net"));
    assert_eq!(
        problems(&l),
        vec![
            "hosts.txt:3:1: `bad host` is not a host name: host names have no spaces; put one \
             per line",
            "hosts.txt:6:1: `*.example.com`: host name lists match whole names, so a wildcard \
             would only match itself; list each name, or match the parent in a rule with \
             ends_with(http.host, \".example.com\")"
        ]
    );
    assert!(matches!(l.to_rule_list(), List::String(_)));
}

#[test]
fn cloudflare_csv_with_header_and_quotes() {
    let text = "\
ip,description
192.0.2.1,Office
\"198.51.100.0/24\",\"Partner, Inc. \"\"A\"\"\"
2001:db8::/32,
203.0.113.5
# a comment line
203.0.113.0/24 , spaced description ,with comma
\"192.0.2.200\" junk
\"192.0.2.201
,no item
";
    let l = parse_list(text, ListKind::Ip, ListFormat::Csv, "cf.csv");
    assert_eq!(l.entries, 5, "{:?}", problems(&l));
    assert!(l.contains_ip(ip("198.51.100.3")));
    assert!(l.contains_ip(ip("2001:db8::5")));
    assert!(l.contains_ip(ip("203.0.113.5")));
    let m = l.matching_entry(ip("198.51.100.3")).unwrap();
    assert_eq!(m.item, "198.51.100.0/24");
    assert_eq!(m.note, Some("Partner, Inc. \"A\""));
    assert_eq!(
        l.matching_entry(ip("192.0.2.1")).unwrap().note,
        Some("Office")
    );
    assert_eq!(l.matching_entry(ip("2001:db8::1")).unwrap().note, None);
    let m = l.matching_entry(ip("203.0.113.6")).unwrap();
    assert_eq!(m.note, Some("spaced description ,with comma"));
    assert_eq!(
        problems(&l),
        vec![
            "cf.csv:8:15: text after a closing quote: put a comma between the item and its \
             description",
            "cf.csv:9:1: the quote that starts here is never closed: end the field with \"",
            "cf.csv:10:1: the item is empty: write the item before the first comma",
        ]
    );
}

#[test]
fn csv_header_only_on_the_first_line_and_only_if_it_looks_like_one() {
    // A bad first entry is not mistaken for a header.
    let l = parse_list(
        "1.2.3.999,typo\n1.2.3.4,ok\n",
        ListKind::Ip,
        ListFormat::Csv,
        "a.csv",
    );
    assert_eq!((l.entries, l.bad_lines), (1, 1));
    // A header-looking line later on is a problem.
    let l = parse_list(
        "1.2.3.4\nip,description\n",
        ListKind::Ip,
        ListFormat::Csv,
        "a.csv",
    );
    assert_eq!(l.bad_lines, 1);
    // Header after leading comments and blank lines.
    let l = parse_list(
        "# export\n\nASN,Name\nAS13335,Cloudflare\n",
        ListKind::Asn,
        ListFormat::Csv,
        "a.csv",
    );
    assert_eq!((l.entries, l.bad_lines), (1, 0));
    assert!(l.contains_asn(13335));
    // String lists: a header is recognised by its words.
    let l = parse_list(
        "hostname,description\nexample.com,x\n",
        ListKind::Hostname,
        ListFormat::Csv,
        "h.csv",
    );
    assert_eq!(l.entries, 1);
    assert!(!l.contains_str("hostname"));
    let l = parse_list(
        "curl,bad bot\nwget,x\n",
        ListKind::String,
        ListFormat::Csv,
        "s.csv",
    );
    assert_eq!(l.entries, 2);
    assert!(l.contains_str("curl"));
}

#[test]
fn firehol_netset() {
    let text = "\
#
# firehol_level1
#
# ipv4 hash:net ipset
#
# Source File Date: Mon Nov 13 10:00:00 UTC 2023
# Entries    : 3 subnets, 16777472 unique IPs
#
0.0.0.0/8
192.0.2.0/24
198.51.100.7
";
    let dir = tempfile::tempdir().unwrap();
    let p = file(dir.path(), "firehol_level1.netset", text);
    let l = load_list_file(&p, ListKind::Ip, ListFormat::Auto).unwrap();
    assert_eq!(l.format, ListFormat::Netset);
    assert_eq!(l.entries, 3);
    assert!(l.problems.is_empty());
    assert!(l.contains_ip(ip("0.1.2.3")));
    assert!(l.contains_ip(ip("198.51.100.7")));
    assert_eq!(l.matching_entry(ip("192.0.2.9")).unwrap().line, 10);
    assert_eq!(l.path.as_deref(), Some(p.as_path()));
    assert!(l.modified.is_some());
}

#[test]
fn format_comes_from_extension_unless_given() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(dir.path(), "list.CSV", "192.0.2.1,desc\n");
    let l = load_list_file(&csv, ListKind::Ip, ListFormat::Auto).unwrap();
    assert_eq!((l.format, l.entries, l.bad_lines), (ListFormat::Csv, 1, 0));
    // The same file read as plain: the comma is an error that says what to do.
    let l = load_list_file(&csv, ListKind::Ip, ListFormat::Plain).unwrap();
    assert_eq!(
        (l.format, l.entries, l.bad_lines),
        (ListFormat::Plain, 0, 1)
    );
    let txt = file(dir.path(), "list.txt", "192.0.2.1,desc\n");
    let l = load_list_file(&txt, ListKind::Ip, ListFormat::Csv).unwrap();
    assert_eq!((l.format, l.entries), (ListFormat::Csv, 1));
    // parse_list has no name to go by: Auto is plain.
    assert_eq!(
        parse_list("", ListKind::Ip, ListFormat::Auto, "x").format,
        ListFormat::Plain
    );
}

#[test]
fn crlf_bom_and_utf16_files() {
    let dir = tempfile::tempdir().unwrap();
    let crlf = file(
        dir.path(),
        "crlf.txt",
        "\u{feff}192.0.2.1\r\n# c\r\n198.51.100.0/24 # x\r\nbad\r\n",
    );
    let l = load_list_file(&crlf, ListKind::Ip, ListFormat::Auto).unwrap();
    assert_eq!(l.entries, 2);
    assert_eq!(problems(&l).len(), 1);
    assert_eq!(l.problems[0].text, "bad");
    assert_eq!(l.problems[0].line, 4);
    assert_eq!(
        l.matching_entry(ip("198.51.100.1")).unwrap().note,
        Some("x")
    );

    let csv = file(
        dir.path(),
        "crlf.csv",
        "ip,description\r\n192.0.2.1,\"Office\"\r\n",
    );
    let l = load_list_file(&csv, ListKind::Ip, ListFormat::Auto).unwrap();
    assert_eq!(l.entries, 1);
    assert_eq!(
        l.matching_entry(ip("192.0.2.1")).unwrap().note,
        Some("Office")
    );

    // Windows "Unicode" (UTF-16 LE with BOM).
    let mut le = vec![0xFF, 0xFE];
    for u in "AS13335\r\nAS9009\r\n".encode_utf16() {
        le.extend_from_slice(&u.to_le_bytes());
    }
    let p = file(dir.path(), "asn16.txt", le);
    let l = load_list_file(&p, ListKind::Asn, ListFormat::Auto).unwrap();
    assert_eq!((l.entries, l.bad_lines), (2, 0));
    assert!(l.contains_asn(9009));
    let mut be = vec![0xFE, 0xFF];
    for u in "example.com\n".encode_utf16() {
        be.extend_from_slice(&u.to_be_bytes());
    }
    let p = file(dir.path(), "hosts16.txt", be);
    let l = load_list_file(&p, ListKind::Hostname, ListFormat::Auto).unwrap();
    assert!(l.contains_str("example.com"));

    // A stray Latin-1 byte costs its line only.
    let p = file(
        dir.path(),
        "latin1.txt",
        b"192.0.2.1\n19\xe9.0.2.2\n192.0.2.3\n".as_slice(),
    );
    let l = load_list_file(&p, ListKind::Ip, ListFormat::Auto).unwrap();
    assert_eq!((l.entries, l.bad_lines), (2, 1));
    assert_eq!(l.problems[0].line, 2);
}

#[test]
fn empty_and_comment_only_files() {
    let dir = tempfile::tempdir().unwrap();
    for kind in [
        ListKind::Ip,
        ListKind::Asn,
        ListKind::String,
        ListKind::Hostname,
    ] {
        let p = file(dir.path(), "empty.txt", "");
        let l = load_list_file(&p, kind, ListFormat::Auto).unwrap();
        assert_eq!((l.entries, l.bad_lines), (0, 0));
        assert!(!l.contains_ip(ip("1.2.3.4")));
    }
    // A huge comment block, then one item.
    let mut text = String::new();
    for i in 0..200_000 {
        text.push_str(&format!(
            "# comment line {i} with some words 1.2.3.4/24 AS13335\n"
        ));
    }
    text.push_str("192.0.2.1\n");
    let p = file(dir.path(), "comments.netset", &text);
    let l = load_list_file(&p, ListKind::Ip, ListFormat::Auto).unwrap();
    assert_eq!((l.entries, l.bad_lines), (1, 0));
    assert_eq!(l.matching_entry(ip("192.0.2.1")).unwrap().line, 200_001);
}

#[test]
fn unreadable_files_are_errors_that_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.txt");
    let e = load_list_file(&missing, ListKind::Ip, ListFormat::Auto).unwrap_err();
    assert!(matches!(e, ListError::NotFound { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "list file {} does not exist: check the path, or create the file",
            missing.display()
        )
    );
    let e = load_list_file(dir.path(), ListKind::Ip, ListFormat::Auto).unwrap_err();
    assert!(matches!(e, ListError::IsDirectory { .. }), "{e}");
    assert!(e.to_string().contains("is a directory"));
}

#[test]
fn problems_are_capped_but_counted() {
    let text = "bad\n".repeat(MAX_PROBLEMS * 3);
    let l = parse_list(&text, ListKind::Ip, ListFormat::Plain, "x");
    assert_eq!(l.problems.len(), MAX_PROBLEMS);
    assert_eq!(l.bad_lines, MAX_PROBLEMS * 3);
    let long = format!("{}\n", "z".repeat(5000));
    let l = parse_list(&long, ListKind::Ip, ListFormat::Plain, "x");
    assert!(l.problems[0].text.chars().count() <= 201);
    assert!(l.problems[0].message.len() < 300);
}

#[test]
fn inline_items() {
    let items = vec![
        "192.0.2.0/24".to_string(),
        " 2001:db8::1 ".to_string(),
        "not-an-ip".to_string(),
        String::new(),
    ];
    let l = list_from_items(&items, ListKind::Ip);
    assert_eq!(l.source, "inline");
    assert_eq!(l.entries, 2);
    assert_eq!(
        problems(&l),
        vec![
            "inline:3:1: `not-an-ip` is not an IP address, CIDR (192.0.2.0/24) or range \
             (192.0.2.1..192.0.2.9); fix the entry or delete the line",
            "inline:4:1: the item is empty: remove it or write a value",
        ]
    );
    let m = l.matching_entry(ip("2001:db8::1")).unwrap();
    assert_eq!((m.line, m.item), (2, "2001:db8::1"));
    let l = list_from_items(&["AS13335", "9009"], ListKind::Asn);
    assert!(l.contains_asn(13335) && l.contains_asn(9009));
    let l = list_from_items(&["Example.com", "a # b"], ListKind::String);
    assert!(l.contains_str("Example.com") && l.contains_str("a # b"));
    let l = list_from_items(&["Example.com"], ListKind::Hostname);
    assert!(l.contains_str("example.com"));
}

#[test]
fn entry_index_is_kept_only_for_small_lists() {
    let mut text = String::new();
    for i in 0..(doorman_intel::ENTRY_INDEX_MAX as u32 + 1) {
        text.push_str(&format!("{}\n", std::net::Ipv4Addr::from(0x0A00_0000 + i)));
    }
    let l = parse_list(&text, ListKind::Ip, ListFormat::Plain, "big");
    assert!(l.entry_index.is_none());
    assert!(l.contains_ip(ip("10.0.0.1")));
    assert_eq!(l.matching_entry(ip("10.0.0.1")), None);
    let small = parse_list(&text[..1000], ListKind::Ip, ListFormat::Plain, "small");
    let index = small.entry_index.as_ref().unwrap();
    assert!(index.len() > 50);
    assert!(index.heap_bytes() < 50 * 1024);
}

#[test]
fn garbage_never_panics_and_every_line_is_accounted_for() {
    // Lines built from the characters that steer the parsers: quotes, commas, comments,
    // separators, multi-byte characters.
    let alphabet: Vec<char> = "0123456789abcdefASas.:/,#;\"' \t-é✓\u{feff}\r"
        .chars()
        .collect();
    let mut x: u64 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = String::new();
    for _ in 0..3000 {
        let len = (next() % 24) as usize;
        for _ in 0..len {
            text.push(alphabet[(next() % alphabet.len() as u64) as usize]);
        }
        text.push('\n');
    }
    for kind in [
        ListKind::Ip,
        ListKind::Asn,
        ListKind::String,
        ListKind::Hostname,
    ] {
        for format in [ListFormat::Plain, ListFormat::Csv, ListFormat::Netset] {
            let l = parse_list(&text, kind, format, "fuzz");
            assert!(l.entries + l.bad_lines <= 3000);
            for p in &l.problems {
                assert!(p.column >= 1 && p.line >= 1 && p.line <= 3001, "{p}");
                assert!(!p.message.is_empty());
            }
            // Whatever matched, the entry index agrees with the set.
            if let Some(index) = &l.entry_index {
                for probe in ["0.0.0.0", "1.2.3.4", "::", "::1", "10.0.0.1"] {
                    let ip = ip(probe);
                    assert_eq!(index.find(ip).is_some(), l.contains_ip(ip), "{probe}");
                }
            }
        }
    }
    let items: Vec<&str> = text.lines().collect();
    for kind in [
        ListKind::Ip,
        ListKind::Asn,
        ListKind::String,
        ListKind::Hostname,
    ] {
        let l = list_from_items(&items, kind);
        assert_eq!(l.entries + l.bad_lines, items.len());
    }
}
