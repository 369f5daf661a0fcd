//! Benchmarks: loading a 1,000,000-entry CIDR list file (goal: under one second), membership
//! lookups in it, the entry index, and MMDB lookups on a generated database.
//!
//! Run with `cargo bench -p doorman-intel --bench lists`.

use std::hint::black_box;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use doorman_core::intel::NetworkIntel;
use doorman_intel::mmdb_writer::{MmdbWriter, geolite2_asn, geolite2_country};
use doorman_intel::{ListFormat, ListKind, MmdbIntel, load_list_file, parse_list};
use doorman_rules::{IpRange, IpRangeSet};
// Fixed seeds, so every run measures the same lists.
use doorman_test_support::rng::Rng;

const ENTRIES: usize = 1_000_000;

/// 1,000,000 lines: random IPv4 /24–/32 (1 in 50 an IPv6 /32–/64), with a comment header and
/// a few trailing comments, as a downloaded block list looks.
fn write_list(path: &std::path::Path) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "# generated block list\n# Entries: {ENTRIES}\n#").unwrap();
    for i in 0..ENTRIES {
        let r = rng.next();
        if i % 50 == 0 {
            let a = Ipv6Addr::from(u128::from(r) << 64 | 0x2001_0db8_0000_0000_u128 << 64 >> 64);
            let len = 32 + (r >> 58) as u32 % 33;
            writeln!(out, "{a}/{len}").unwrap();
        } else {
            let a = Ipv4Addr::from((r >> 32) as u32);
            let len = 24 + (r as u32 % 9);
            if i % 97 == 0 {
                writeln!(out, "{a}/{len} # seen 2023-11-14").unwrap();
            } else {
                writeln!(out, "{a}/{len}").unwrap();
            }
        }
    }
    out.flush().unwrap();
}

fn lists(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("block-1m.txt");
    write_list(&path);

    let once = std::time::Instant::now();
    let list = load_list_file(&path, ListKind::Ip, ListFormat::Auto).unwrap();
    eprintln!(
        "one load of {} entries ({} bytes): {:?}, {} merged ranges, {} bad lines",
        list.entries,
        std::fs::metadata(&path).unwrap().len(),
        once.elapsed(),
        match &list.items {
            doorman_intel::ListItems::Ip(s) => s.range_count(),
            _ => 0,
        },
        list.bad_lines
    );
    assert_eq!(list.entries, ENTRIES);
    assert_eq!(list.bad_lines, 0);

    let mut g = c.benchmark_group("list_load");
    g.sample_size(10);
    g.bench_function("load_list_file_1m_plain", |b| {
        b.iter(|| load_list_file(black_box(&path), ListKind::Ip, ListFormat::Auto).unwrap())
    });
    // The parts of a load, to tell parsing (this crate) from set building (doorman-rules).
    let text = std::fs::read_to_string(&path).unwrap();
    g.bench_function("parse_list_1m_plain", |b| {
        b.iter(|| parse_list(black_box(&text), ListKind::Ip, ListFormat::Plain, "bench"))
    });
    let ranges: Vec<IpRange> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('#').next().unwrap().trim().parse().unwrap())
        .collect();
    g.bench_function("ip_range_set_from_ranges_1m", |b| {
        b.iter(|| IpRangeSet::from_ranges(black_box(ranges.iter().copied())))
    });
    g.bench_function("parse_items_only_1m", |b| {
        b.iter(|| {
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .filter(|l| {
                    l.split('#')
                        .next()
                        .unwrap()
                        .trim()
                        .parse::<IpRange>()
                        .is_ok()
                })
                .count()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("list_lookup");
    let mut rng = Rng(42);
    // Hits: addresses inside entries of the list; misses: random addresses (most are outside).
    let hits: Vec<IpAddr> = ranges
        .iter()
        .step_by(997)
        .map(|r| match *r {
            IpRange::V4(a, _) => IpAddr::V4(Ipv4Addr::from(a)),
            IpRange::V6(a, _) => IpAddr::V6(Ipv6Addr::from(a)),
        })
        .collect();
    let misses: Vec<IpAddr> = (0..1024)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.next() as u32)))
        .filter(|ip| !list.contains_ip(*ip))
        .collect();
    assert!(hits.iter().all(|ip| list.contains_ip(*ip)));
    let mut i = 0;
    g.bench_function("contains_hit_1m", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            list.contains_ip(black_box(hits[i]))
        })
    });
    let mut i = 0;
    g.bench_function("contains_miss_1m", |b| {
        b.iter(|| {
            i = (i + 1) % misses.len();
            list.contains_ip(black_box(misses[i]))
        })
    });
    // The entry index at its size limit.
    let small_text: String = text
        .lines()
        .take(100_003)
        .map(|l| format!("{l}\n"))
        .collect();
    let small = parse_list(&small_text, ListKind::Ip, ListFormat::Plain, "bench");
    let index = small.entry_index.clone().expect("100k entries are indexed");
    eprintln!(
        "entry index of {} entries: {} bytes of heap",
        index.len(),
        index.heap_bytes()
    );
    let small_hits: Vec<IpAddr> = hits
        .iter()
        .copied()
        .filter(|ip| small.contains_ip(*ip))
        .collect();
    let mut i = 0;
    g.bench_function("matching_entry_100k", |b| {
        b.iter(|| {
            i = (i + 1) % small_hits.len();
            small.matching_entry(black_box(small_hits[i]))
        })
    });
    g.finish();
}

fn mmdb(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let mut country = MmdbWriter::new("GeoLite2-Country");
    let mut asn = MmdbWriter::new("GeoLite2-ASN");
    let codes = [
        ("DE", "Germany", "EU", true),
        ("US", "United States", "NA", false),
        ("FR", "France", "EU", true),
        ("JP", "Japan", "AS", false),
        ("BR", "Brazil", "SA", false),
    ];
    let mut probes = Vec::new();
    for i in 0..50_000u32 {
        let r = rng.next();
        let a = Ipv4Addr::from((r >> 32) as u32 & 0xFFFF_FF00);
        let (iso, name, cont, eu) = codes[i as usize % codes.len()];
        country
            .insert(&format!("{a}/24"), geolite2_country(iso, name, cont, eu))
            .unwrap();
        asn.insert(
            &format!("{a}/24"),
            geolite2_asn(64_000 + i % 500, "Example Networks Ltd"),
        )
        .unwrap();
        probes.push(IpAddr::V4(Ipv4Addr::from(u32::from(a) | 7)));
    }
    let cp = dir.path().join("country.mmdb");
    let ap = dir.path().join("asn.mmdb");
    country.write_to(&cp).unwrap();
    asn.write_to(&ap).unwrap();
    let intel = MmdbIntel::open(Some(&cp), Some(&ap)).unwrap();
    assert_eq!(intel.lookup(probes[0]).country.as_deref(), Some("DE"));
    let misses: Vec<IpAddr> = (0..1024)
        .map(|_| IpAddr::V6(Ipv6Addr::from(u128::from(rng.next()) << 64 | 0x2a00 << 112)))
        .collect();

    let mut g = c.benchmark_group("mmdb_lookup");
    let mut i = 0;
    g.bench_function("country_and_asn_hit", |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            intel.lookup(black_box(probes[i]))
        })
    });
    let only_country = MmdbIntel::open(Some(&cp), None).unwrap();
    let mut i = 0;
    g.bench_function("country_only_hit", |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            only_country.lookup(black_box(probes[i]))
        })
    });
    let mut i = 0;
    g.bench_function("country_and_asn_miss_v6", |b| {
        b.iter(|| {
            i = (i + 1) % misses.len();
            intel.lookup(black_box(misses[i]))
        })
    });
    g.finish();
}

criterion_group!(benches, lists, mmdb);
criterion_main!(benches);
