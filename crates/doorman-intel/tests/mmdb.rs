//! MmdbIntel over databases written by the test writer, and the writer read back by the
//! `maxminddb` crate itself.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use doorman_core::intel::{IpInfo, NetworkIntel};
use doorman_intel::mmdb_writer::{
    MmdbValue, MmdbWriter, geolite2_asn, geolite2_country, ipinfo_lite,
};
use doorman_intel::{IntelError, Layout, MmdbIntel};
use maxminddb::Reader;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn write(dir: &Path, name: &str, w: &MmdbWriter) -> PathBuf {
    let p = dir.join(name);
    w.write_to(&p).unwrap();
    p
}

fn country_db() -> MmdbWriter {
    let mut w = MmdbWriter::new("GeoLite2-Country");
    w.insert(
        "81.2.0.0/16",
        geolite2_country("GB", "United Kingdom", "EU", false),
    )
    .unwrap();
    // A /24 inside the /16 with different data, inserted after it…
    w.insert(
        "81.2.69.0/24",
        geolite2_country("DE", "Germany", "EU", true),
    )
    .unwrap();
    // …and a /32 inside a /8 inserted before it: the most specific wins either way.
    w.insert("5.5.5.5/32", geolite2_country("FR", "France", "EU", true))
        .unwrap();
    w.insert("5.0.0.0/8", geolite2_country("SE", "Sweden", "EU", true))
        .unwrap();
    w.insert(
        "2001:db8::/32",
        geolite2_country("US", "United States", "NA", false),
    )
    .unwrap();
    w.insert(
        "2001:db8:1::/48",
        geolite2_country("CA", "Canada", "NA", false),
    )
    .unwrap();
    w
}

fn asn_db() -> MmdbWriter {
    let mut w = MmdbWriter::new("GeoLite2-ASN");
    w.insert("81.2.0.0/16", geolite2_asn(20712, "Andrews & Arnold Ltd"))
        .unwrap();
    w.insert("81.2.69.0/24", geolite2_asn(9009, "M247 Europe SRL"))
        .unwrap();
    w.insert("2001:db8::/32", geolite2_asn(64496, "Example IPv6 AS"))
        .unwrap();
    w
}

#[test]
fn writer_output_reads_back_with_maxminddb_at_every_record_size() {
    for bits in [24u16, 28, 32] {
        let mut w = country_db();
        w.record_size(bits);
        let reader = Reader::from_source(w.to_bytes().unwrap()).unwrap();
        reader.verify().unwrap();
        let m = reader.metadata();
        assert_eq!(m.record_size, bits);
        assert_eq!(m.ip_version, 6);
        assert_eq!(m.binary_format_major_version, 2);
        assert_eq!(m.binary_format_minor_version, 0);
        assert_eq!(m.database_type, "GeoLite2-Country");
        assert_eq!(m.languages, vec!["en".to_string()]);
        assert_eq!(m.build_epoch, 1_700_000_000);
        assert_eq!(m.description["en"], "Doorman test database");

        let iso = |addr: &str| -> Option<String> {
            reader
                .lookup(ip(addr))
                .unwrap()
                .decode_path(&maxminddb::path!["country", "iso_code"])
                .unwrap()
        };
        assert_eq!(iso("81.2.1.1").as_deref(), Some("GB"), "{bits}");
        assert_eq!(iso("81.2.69.160").as_deref(), Some("DE"));
        assert_eq!(iso("81.2.70.1").as_deref(), Some("GB"));
        assert_eq!(iso("5.5.5.5").as_deref(), Some("FR"));
        assert_eq!(iso("5.5.5.6").as_deref(), Some("SE"));
        assert_eq!(iso("81.3.0.1"), None);
        assert_eq!(iso("2001:db8:ffff::1").as_deref(), Some("US"));
        assert_eq!(iso("2001:db8:1::1").as_deref(), Some("CA"));
        // The IPv4-mapped alias leads to the same data, and ::/96 is where readers look.
        assert_eq!(iso("::ffff:81.2.69.1").as_deref(), Some("DE"));
        assert_eq!(iso("::81.2.69.1").as_deref(), Some("DE"));
        assert_eq!(iso("2001:db9::1"), None);

        let net = reader.lookup(ip("81.2.69.160")).unwrap().network().unwrap();
        assert_eq!(net.to_string(), "81.2.69.0/24");
    }
}

#[test]
fn writer_supports_every_data_type() {
    let value = MmdbValue::map([
        ("s", MmdbValue::from("héllo ✓")),
        ("long", MmdbValue::from("x".repeat(70_000))),
        ("mid", MmdbValue::from("y".repeat(300))),
        ("d", MmdbValue::Double(-1.5)),
        ("f", MmdbValue::Float(2.25)),
        ("b", MmdbValue::Bytes(vec![0, 1, 255])),
        ("u16", MmdbValue::U16(65535)),
        ("u32", MmdbValue::U32(0)),
        ("u64", MmdbValue::U64(u64::MAX)),
        ("u128", MmdbValue::U128(u128::MAX - 5)),
        ("i32", MmdbValue::I32(-7)),
        ("i32p", MmdbValue::I32(300)),
        ("t", MmdbValue::Bool(true)),
        ("fa", MmdbValue::Bool(false)),
        (
            "arr",
            MmdbValue::array([
                MmdbValue::U32(1),
                MmdbValue::from("two"),
                MmdbValue::array([]),
            ]),
        ),
        ("m", MmdbValue::map([("k", MmdbValue::U16(3))])),
    ]);
    let mut w = MmdbWriter::new("Doorman-Types");
    w.ipv4_only();
    w.record_size(24);
    w.insert("192.0.2.0/24", value).unwrap();
    let reader = Reader::from_source(w.to_bytes().unwrap()).unwrap();
    reader.verify().unwrap();
    assert_eq!(reader.metadata().ip_version, 4);

    #[derive(serde::Deserialize)]
    struct All {
        s: String,
        long: String,
        mid: String,
        d: f64,
        f: f32,
        b: serde_bytes_like::Bytes,
        u16: u16,
        u32: u32,
        u64: u64,
        u128: u128,
        i32: i32,
        i32p: i32,
        t: bool,
        fa: bool,
        arr: (u32, String, Vec<u32>),
        m: BTreeMap<String, u16>,
    }
    let all: All = reader
        .lookup(ip("192.0.2.7"))
        .unwrap()
        .decode()
        .unwrap()
        .unwrap();
    assert_eq!(all.s, "héllo ✓");
    assert_eq!(all.long.len(), 70_000);
    assert_eq!(all.mid.len(), 300);
    assert_eq!((all.d, all.f), (-1.5, 2.25));
    assert_eq!(all.b.0, vec![0, 1, 255]);
    assert_eq!((all.u16, all.u32, all.u64), (65535, 0, u64::MAX));
    assert_eq!(all.u128, u128::MAX - 5);
    assert_eq!((all.i32, all.i32p), (-7, 300));
    assert!(all.t && !all.fa);
    assert_eq!(all.arr, (1, "two".to_string(), vec![]));
    assert_eq!(all.m["k"], 3);
    assert!(
        reader
            .lookup(ip("192.0.3.1"))
            .unwrap()
            .decode::<All>()
            .unwrap()
            .is_none()
    );
}

/// Bytes as serde sees them from the decoder (`visit_borrowed_bytes`).
mod serde_bytes_like {
    pub struct Bytes(pub Vec<u8>);
    impl<'de> serde::Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

#[test]
fn geolite2_country_and_asn_databases() {
    let dir = tempfile::tempdir().unwrap();
    let c = write(dir.path(), "GeoLite2-Country.mmdb", &country_db());
    let a = write(dir.path(), "GeoLite2-ASN.mmdb", &asn_db());
    let intel = MmdbIntel::open(Some(&c), Some(&a)).unwrap();
    assert_eq!(
        intel.lookup(ip("81.2.69.160")),
        IpInfo {
            country: Some("DE".into()),
            country_name: Some("Germany".into()),
            continent: Some("EU".into()),
            in_eu: Some(true),
            asn: Some(9009),
            as_org: Some("M247 Europe SRL".into()),
        }
    );
    let gb = intel.lookup(ip("81.2.1.1"));
    assert_eq!(gb.country.as_deref(), Some("GB"));
    // GeoLite2 leaves is_in_european_union out when false.
    assert_eq!(gb.in_eu, Some(false));
    assert_eq!(gb.asn, Some(20712));
    let v6 = intel.lookup(ip("2001:db8:1::9"));
    assert_eq!(v6.country.as_deref(), Some("CA"));
    assert_eq!(v6.asn, Some(64496));
    assert_eq!(intel.lookup(ip("::ffff:81.2.69.1")).asn, Some(9009));
    assert_eq!(intel.lookup(ip("198.51.100.1")), IpInfo::default());
    assert_eq!(intel.lookup_errors(), 0);

    let info = intel.database_info();
    assert_eq!(info.len(), 2);
    assert_eq!(info[0].path, c);
    assert_eq!(info[0].role, "country");
    assert_eq!(info[0].database_type, "GeoLite2-Country");
    assert_eq!(info[0].build_epoch, 1_700_000_000);
    assert_eq!(info[0].layout, Layout::GeoIp2Country);
    assert_eq!(info[1].role, "ASN");
    assert_eq!(info[1].layout, Layout::GeoIp2Asn);
    assert!(intel.warnings().is_empty());
    intel.verify().unwrap();
}

#[test]
fn only_one_of_the_two_databases() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "asn.mmdb", &asn_db());
    let intel = MmdbIntel::open(None, Some(&a)).unwrap();
    let info = intel.lookup(ip("81.2.69.1"));
    assert_eq!((info.asn, info.country), (Some(9009), None));
    let c = write(dir.path(), "country.mmdb", &country_db());
    let intel = MmdbIntel::open(Some(&c), None).unwrap();
    let info = intel.lookup(ip("81.2.69.1"));
    assert_eq!((info.asn, info.country.as_deref()), (None, Some("DE")));
    let none = MmdbIntel::open(None, None).unwrap();
    assert!(none.is_empty());
    assert_eq!(none.lookup(ip("81.2.69.1")), IpInfo::default());
    assert!(none.database_info().is_empty());
}

#[test]
fn ipinfo_lite_one_file_for_both() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = MmdbWriter::new("ipinfo lite.mmdb");
    w.insert(
        "1.1.1.0/24",
        ipinfo_lite("AU", "Australia", "OC", 13335, "Cloudflare, Inc."),
    )
    .unwrap();
    w.insert(
        "2606:4700::/32",
        ipinfo_lite("US", "United States", "NA", 13335, "Cloudflare, Inc."),
    )
    .unwrap();
    w.insert(
        "1.1.1.128/25",
        ipinfo_lite("NL", "Netherlands", "EU", 64500, "Example NL"),
    )
    .unwrap();
    let p = write(dir.path(), "ipinfo_lite.mmdb", &w);
    let intel = MmdbIntel::open(Some(&p), Some(&p)).unwrap();
    assert_eq!(
        intel.lookup(ip("1.1.1.1")),
        IpInfo {
            country: Some("AU".into()),
            country_name: Some("Australia".into()),
            continent: Some("OC".into()),
            in_eu: Some(false),
            asn: Some(13335),
            as_org: Some("Cloudflare, Inc.".into()),
        }
    );
    let nl = intel.lookup(ip("1.1.1.200"));
    assert_eq!(nl.country.as_deref(), Some("NL"));
    // IPinfo has no EU flag; Doorman knows the member states.
    assert_eq!(nl.in_eu, Some(true));
    assert_eq!(nl.asn, Some(64500));
    assert_eq!(
        intel.lookup(ip("2606:4700::1111")).country.as_deref(),
        Some("US")
    );
    let info = intel.database_info();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].role, "country+ASN");
    assert_eq!(info[0].layout, Layout::IpinfoFlat);
}

#[test]
fn dbip_and_older_ipinfo_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = MmdbWriter::new("DBIP-Country-Lite");
    w.insert(
        "203.0.113.0/24",
        geolite2_country("JP", "Japan", "AS", false),
    )
    .unwrap();
    let c = write(dir.path(), "dbip-country-lite.mmdb", &w);
    let mut w = MmdbWriter::new("DBIP-ASN-Lite (compat=GeoLite2-ASN)");
    w.insert(
        "203.0.113.0/24",
        geolite2_asn(2519, "ARTERIA Networks Corporation"),
    )
    .unwrap();
    let a = write(dir.path(), "dbip-asn-lite.mmdb", &w);
    let intel = MmdbIntel::open(Some(&c), Some(&a)).unwrap();
    let info = intel.lookup(ip("203.0.113.9"));
    assert_eq!(info.country.as_deref(), Some("JP"));
    assert_eq!(info.continent.as_deref(), Some("AS"));
    assert_eq!(info.asn, Some(2519));
    assert_eq!(intel.database_info()[1].layout, Layout::GeoIp2Asn);

    // IPinfo's country+ASN layout: `country` is the code, `continent` the code.
    let mut w = MmdbWriter::new("ipinfo country_asn.mmdb");
    w.insert(
        "1.0.16.0/20",
        MmdbValue::map([
            ("country", MmdbValue::from("jp")),
            ("country_name", "Japan".into()),
            ("continent", "AS".into()),
            ("continent_name", "Asia".into()),
            ("asn", "AS2519".into()),
            ("as_name", "ARTERIA Networks Corporation".into()),
        ]),
    )
    .unwrap();
    let p = write(dir.path(), "country_asn.mmdb", &w);
    let intel = MmdbIntel::open(Some(&p), None).unwrap();
    let info = intel.lookup(ip("1.0.17.1"));
    assert_eq!(info.country.as_deref(), Some("JP"));
    assert_eq!(info.country_name.as_deref(), Some("Japan"));
    assert_eq!(info.continent.as_deref(), Some("AS"));
    assert_eq!(info.asn, Some(2519));
}

#[test]
fn city_records_fall_back_to_registered_country() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = MmdbWriter::new("GeoLite2-City");
    w.insert(
        "192.0.2.0/24",
        MmdbValue::map([
            (
                "city",
                MmdbValue::map([("names", MmdbValue::map([("en", MmdbValue::from("Berlin"))]))]),
            ),
            (
                "location",
                MmdbValue::map([
                    ("latitude", MmdbValue::Double(52.5)),
                    ("longitude", 13.4.into()),
                ]),
            ),
            (
                "subdivisions",
                MmdbValue::array([MmdbValue::map([("iso_code", MmdbValue::from("BE"))])]),
            ),
            (
                "registered_country",
                MmdbValue::map([
                    ("iso_code", MmdbValue::from("IT")),
                    ("is_in_european_union", true.into()),
                    ("names", MmdbValue::map([("en", MmdbValue::from("Italy"))])),
                ]),
            ),
        ]),
    )
    .unwrap();
    let p = write(dir.path(), "city.mmdb", &w);
    let intel = MmdbIntel::open(Some(&p), None).unwrap();
    let info = intel.lookup(ip("192.0.2.1"));
    assert_eq!(info.country.as_deref(), Some("IT"));
    assert_eq!(info.country_name.as_deref(), Some("Italy"));
    assert_eq!(info.in_eu, Some(true));
    assert_eq!(info.continent, None);
}

#[test]
fn odd_records_give_missing_fields_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = MmdbWriter::new("Weird-Country");
    let odd = [
        ("10.0.0.0/24", MmdbValue::from("just a string")),
        ("10.0.1.0/24", MmdbValue::array([MmdbValue::U32(1)])),
        (
            "10.0.2.0/24",
            MmdbValue::map([
                ("country", MmdbValue::U32(5)),
                ("continent", MmdbValue::array([MmdbValue::from("EU")])),
                ("autonomous_system_number", "not a number".into()),
                (
                    "autonomous_system_organization",
                    MmdbValue::map([("en", MmdbValue::U16(1))]),
                ),
            ]),
        ),
        (
            "10.0.3.0/24",
            MmdbValue::map([
                (
                    "country",
                    MmdbValue::map([
                        ("iso_code", MmdbValue::Double(1.0)),
                        ("names", MmdbValue::from("Germany")),
                        ("is_in_european_union", "yes".into()),
                    ]),
                ),
                ("asn", MmdbValue::U128(u128::MAX)),
                ("as_name", MmdbValue::Bool(true)),
            ]),
        ),
        (
            "10.0.4.0/24",
            MmdbValue::map([
                (
                    "country",
                    MmdbValue::map([("iso_code", MmdbValue::from("Germany"))]),
                ),
                ("asn", MmdbValue::U64(u64::from(u32::MAX) + 1)),
                ("country_code", "".into()),
            ]),
        ),
        (
            "10.0.5.0/24",
            MmdbValue::map([
                ("autonomous_system_number", MmdbValue::I32(-5)),
                (
                    "traits",
                    MmdbValue::map([("autonomous_system_number", MmdbValue::U32(64501))]),
                ),
                (
                    "unknown",
                    MmdbValue::map([(
                        "deep",
                        MmdbValue::array([MmdbValue::map([("x", MmdbValue::Bytes(vec![1]))])]),
                    )]),
                ),
            ]),
        ),
    ];
    for (net, v) in odd {
        w.insert(net, v).unwrap();
    }
    let p = write(dir.path(), "weird.mmdb", &w);
    let intel = MmdbIntel::open(Some(&p), None).unwrap();
    for i in 0..5 {
        assert_eq!(
            intel.lookup(ip(&format!("10.0.{i}.1"))),
            IpInfo::default(),
            "10.0.{i}.1"
        );
    }
    // The GeoIP2 Enterprise spot for AS numbers is found past a bad top-level value.
    assert_eq!(intel.lookup(ip("10.0.5.1")).asn, Some(64501));
    assert_eq!(intel.lookup_errors(), 0);
}

#[test]
fn ipv4_only_database_and_ipv6_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = MmdbWriter::new("GeoLite2-Country");
    w.ipv4_only();
    w.insert(
        "198.51.100.0/24",
        geolite2_country("BR", "Brazil", "SA", false),
    )
    .unwrap();
    assert!(w.insert("2001:db8::/32", geolite2_asn(1, "x")).is_err());
    let p = write(dir.path(), "v4.mmdb", &w);
    let intel = MmdbIntel::open(Some(&p), None).unwrap();
    assert_eq!(
        intel.lookup(ip("198.51.100.1")).country.as_deref(),
        Some("BR")
    );
    assert_eq!(
        intel.lookup(ip("::ffff:198.51.100.1")).country.as_deref(),
        Some("BR")
    );
    assert_eq!(intel.lookup(ip("2001:db8::1")), IpInfo::default());
    assert_eq!(intel.lookup_errors(), 0);
}

#[test]
fn without_the_mapped_alias_mapped_addresses_still_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = country_db();
    w.alias_ipv4_mapped(false);
    let bytes = w.to_bytes().unwrap();
    let reader = Reader::from_source(bytes.clone()).unwrap();
    let raw: Option<String> = reader
        .lookup(ip("::ffff:81.2.69.1"))
        .unwrap()
        .decode_path(&maxminddb::path!["country", "iso_code"])
        .unwrap();
    assert_eq!(raw, None);
    let p = dir.path().join("noalias.mmdb");
    std::fs::write(&p, bytes).unwrap();
    let intel = MmdbIntel::open(Some(&p), None).unwrap();
    // MmdbIntel looks mapped addresses up as IPv4.
    assert_eq!(
        intel.lookup(ip("::ffff:81.2.69.1")).country.as_deref(),
        Some("DE")
    );
}

#[test]
fn empty_and_whole_space_databases() {
    let w = MmdbWriter::new("GeoLite2-Country");
    let reader = Reader::from_source(w.to_bytes().unwrap()).unwrap();
    reader.verify().unwrap();
    assert_eq!(reader.metadata().node_count, 1);
    assert!(!reader.lookup(ip("1.2.3.4")).unwrap().has_data());

    let mut w = MmdbWriter::new("GeoLite2-Country");
    w.insert("::/0", geolite2_country("AQ", "Antarctica", "AN", false))
        .unwrap();
    w.insert("0.0.0.0/0", geolite2_country("FI", "Finland", "EU", true))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "all.mmdb", &w);
    let intel = MmdbIntel::open(Some(&p), None).unwrap();
    assert_eq!(intel.lookup(ip("8.8.8.8")).country.as_deref(), Some("FI"));
    assert_eq!(
        intel.lookup(ip("2001:db8::1")).country.as_deref(),
        Some("AQ")
    );
    intel.verify().unwrap();
}

#[test]
fn record_size_limits_are_checked() {
    let mut w = country_db();
    w.record_size(20);
    assert!(
        w.to_bytes()
            .unwrap_err()
            .to_string()
            .contains("24, 28 or 32")
    );
    let mut w = MmdbWriter::new("Big");
    w.record_size(24);
    // 16 MiB of distinct data cannot be addressed by 24-bit records.
    for i in 0..5u32 {
        w.insert(
            &format!("10.0.{i}.0/24"),
            MmdbValue::from(format!("{i}{}", "x".repeat(4_000_000))),
        )
        .unwrap();
    }
    let e = w.to_bytes().unwrap_err();
    assert!(e.to_string().contains("use a larger record size"), "{e}");
    w.record_size(28);
    assert!(w.to_bytes().is_ok());
}

fn open_err(country: Option<&Path>, asn: Option<&Path>) -> String {
    match MmdbIntel::open(country, asn) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_and_broken_files_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("GeoLite2-Country.mmdb");
    let e = open_err(Some(&missing), None);
    assert!(e.starts_with("country database "), "{e}");
    assert!(e.contains("GeoLite2-Country.mmdb"), "{e}");
    assert!(e.contains("does not exist"), "{e}");
    assert!(matches!(
        MmdbIntel::open(None, Some(&missing)),
        Err(IntelError::NotFound { role: "ASN", .. })
    ));

    let csv = dir.path().join("asn.mmdb");
    std::fs::write(&csv, "network,asn\n1.0.0.0/24,13335\n").unwrap();
    let e = open_err(None, Some(&csv));
    assert!(
        e.contains("not a MaxMind DB: metadata marker not found"),
        "{e}"
    );
    assert!(e.contains("CSV"), "{e}");

    let gz = dir.path().join("c.mmdb");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0]).unwrap();
    assert!(open_err(Some(&gz), None).contains("gzip-compressed"));

    let empty = dir.path().join("e.mmdb");
    std::fs::write(&empty, "").unwrap();
    assert!(open_err(Some(&empty), None).contains("the file is empty"));

    // A real database cut short: the marker survives but the tree points past the end.
    let bytes = country_db().to_bytes().unwrap();
    let marker = bytes
        .windows(14)
        .rposition(|w| w == b"\xab\xcd\xefMaxMind.com")
        .unwrap();
    let mut cut = bytes[..200].to_vec();
    cut.extend_from_slice(&bytes[marker..]);
    let truncated = dir.path().join("t.mmdb");
    std::fs::write(&truncated, cut).unwrap();
    let e = open_err(Some(&truncated), None);
    assert!(e.contains("not a valid MaxMind DB"), "{e}");
    assert!(e.contains("download it again"), "{e}");

    let e = open_err(Some(dir.path()), None);
    assert!(e.contains("cannot read it"), "{e}");
}

#[test]
fn swapped_paths_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let c = write(dir.path(), "c.mmdb", &country_db());
    let a = write(dir.path(), "a.mmdb", &asn_db());
    let intel = MmdbIntel::open(Some(&a), Some(&c)).unwrap();
    let w = intel.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("GeoLite2-ASN database, which has no countries"));
    // Lookups still find both kinds of field, each in the file that has it.
    let info = intel.lookup(ip("81.2.69.1"));
    assert_eq!(
        (info.country.as_deref(), info.asn),
        (Some("DE"), Some(9009))
    );
}

#[test]
fn many_threads_share_one_intel() {
    let dir = tempfile::tempdir().unwrap();
    let c = write(dir.path(), "c.mmdb", &country_db());
    let intel = std::sync::Arc::new(MmdbIntel::open(Some(&c), None).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let intel = intel.clone();
            std::thread::spawn(move || {
                (0..1000).all(|_| intel.lookup(ip("81.2.69.7")).country.as_deref() == Some("DE"))
            })
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}
