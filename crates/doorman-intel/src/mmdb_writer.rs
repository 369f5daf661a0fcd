//! A small writer of MaxMind DB (format 2.0) files, so that tests here and in other crates can
//! build tiny `.mmdb` databases instead of shipping real ones. Behind the `test-support` feature;
//! not for production databases (everything is built in memory, no size tuning, no merging of
//! equal neighbours).
//!
//! What it writes, per the MaxMind DB specification:
//! - a binary search tree over 128-bit (IPv6 databases) or 32-bit (IPv4 databases) addresses,
//!   records of 24, 28 or 32 bits. IPv4 networks in an IPv6 database go under `::/96`, where
//!   readers look for IPv4 addresses, and `::ffff:0:0/96` points at the same subtree (as
//!   MaxMind's own databases do) unless [`MmdbWriter::alias_ipv4_mapped`] turns that off;
//! - 16 zero bytes, then the data section: maps, UTF-8 strings, doubles, floats, bytes, uint16,
//!   uint32, uint64, uint128, int32, booleans and arrays ([`MmdbValue`]); equal records are
//!   stored once;
//! - the metadata marker and map: `binary_format_major_version` 2, `binary_format_minor_version`
//!   0, `database_type`, `ip_version`, `node_count`, `record_size`, `languages`, `description`,
//!   `build_epoch`.
//!
//! Networks may nest: the most specific network wins wherever networks overlap, whatever the
//! order of insertion (equal networks: the last insert wins). The `::ffff:0:0/96` alias is laid
//! over whatever was inserted there; turn it off to insert IPv4-mapped networks yourself.
//!
//! ```
//! use doorman_intel::mmdb_writer::{MmdbWriter, geolite2_country};
//! let mut w = MmdbWriter::new("GeoLite2-Country");
//! w.insert("192.0.2.0/24", geolite2_country("DE", "Germany", "EU", true)).unwrap();
//! let bytes = w.to_bytes().unwrap();
//! assert!(bytes.len() > 100);
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// A value in the data section.
#[derive(Clone, Debug, PartialEq)]
pub enum MmdbValue {
    /// UTF-8 string (type 2).
    String(String),
    /// IEEE-754 double (type 3).
    Double(f64),
    /// Raw bytes (type 4).
    Bytes(Vec<u8>),
    /// Unsigned 16-bit (type 5).
    U16(u16),
    /// Unsigned 32-bit (type 6).
    U32(u32),
    /// Map with string keys, in the order given (type 7).
    Map(Vec<(String, MmdbValue)>),
    /// Signed 32-bit (type 8).
    I32(i32),
    /// Unsigned 64-bit (type 9).
    U64(u64),
    /// Unsigned 128-bit (type 10).
    U128(u128),
    /// Array (type 11).
    Array(Vec<MmdbValue>),
    /// Boolean (type 14).
    Bool(bool),
    /// IEEE-754 float (type 15).
    Float(f32),
}

impl MmdbValue {
    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>, I: IntoIterator<Item = (K, MmdbValue)>>(entries: I) -> MmdbValue {
        MmdbValue::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// An array.
    pub fn array<I: IntoIterator<Item = MmdbValue>>(items: I) -> MmdbValue {
        MmdbValue::Array(items.into_iter().collect())
    }
}

impl From<&str> for MmdbValue {
    fn from(s: &str) -> MmdbValue {
        MmdbValue::String(s.to_string())
    }
}
impl From<String> for MmdbValue {
    fn from(s: String) -> MmdbValue {
        MmdbValue::String(s)
    }
}
impl From<u16> for MmdbValue {
    fn from(n: u16) -> MmdbValue {
        MmdbValue::U16(n)
    }
}
impl From<u32> for MmdbValue {
    fn from(n: u32) -> MmdbValue {
        MmdbValue::U32(n)
    }
}
impl From<u64> for MmdbValue {
    fn from(n: u64) -> MmdbValue {
        MmdbValue::U64(n)
    }
}
impl From<i32> for MmdbValue {
    fn from(n: i32) -> MmdbValue {
        MmdbValue::I32(n)
    }
}
impl From<bool> for MmdbValue {
    fn from(b: bool) -> MmdbValue {
        MmdbValue::Bool(b)
    }
}
impl From<f64> for MmdbValue {
    fn from(x: f64) -> MmdbValue {
        MmdbValue::Double(x)
    }
}

/// A GeoLite2-Country style record: `continent { code, names.en }`, `country { iso_code,
/// names { en, de }, is_in_european_union (only when true, as MaxMind writes it), geoname_id }`,
/// and `registered_country` equal to `country`.
pub fn geolite2_country(iso: &str, name: &str, continent: &str, in_eu: bool) -> MmdbValue {
    let mut country = vec![
        ("geoname_id".to_string(), MmdbValue::U32(2_921_044)),
        ("iso_code".to_string(), iso.into()),
        (
            "names".to_string(),
            MmdbValue::map([("de", MmdbValue::from(name)), ("en", name.into())]),
        ),
    ];
    if in_eu {
        country.push(("is_in_european_union".to_string(), true.into()));
    }
    let country = MmdbValue::Map(country);
    MmdbValue::map([
        (
            "continent",
            MmdbValue::map([
                ("code", MmdbValue::from(continent)),
                ("geoname_id", MmdbValue::U32(6_255_148)),
                (
                    "names",
                    MmdbValue::map([("en", MmdbValue::from(continent))]),
                ),
            ]),
        ),
        ("country", country.clone()),
        ("registered_country", country),
    ])
}

/// A GeoLite2-ASN style record.
pub fn geolite2_asn(asn: u32, org: &str) -> MmdbValue {
    MmdbValue::map([
        ("autonomous_system_number", MmdbValue::U32(asn)),
        ("autonomous_system_organization", org.into()),
    ])
}

/// An IPinfo Lite style record (flat; `asn` as `"AS13335"`).
pub fn ipinfo_lite(
    country_code: &str,
    country: &str,
    continent_code: &str,
    asn: u32,
    as_name: &str,
) -> MmdbValue {
    MmdbValue::map([
        ("as_domain", MmdbValue::from("example.net")),
        ("as_name", as_name.into()),
        ("asn", format!("AS{asn}").into()),
        ("continent", "Europe".into()),
        ("continent_code", continent_code.into()),
        ("country", country.into()),
        ("country_code", country_code.into()),
    ])
}

/// Why a database could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    /// A network that does not parse or does not fit the database.
    #[error("bad network `{network}`: {reason}")]
    Network {
        /// As given.
        network: String,
        /// Why.
        reason: String,
    },
    /// Record size other than 24, 28 or 32.
    #[error("record size must be 24, 28 or 32 bits, not {0}")]
    RecordSize(u16),
    /// The tree or data section is too large for the record size.
    #[error(
        "the database needs {needed} as a record value but {bits}-bit records stop below {limit}: use a larger record size"
    )]
    TooLarge {
        /// The largest record value needed.
        needed: u64,
        /// Record size.
        bits: u16,
        /// 2^bits.
        limit: u64,
    },
    /// A string, map or array longer than the format allows.
    #[error("a value of {0} elements or bytes is too long for the format")]
    ValueTooLong(usize),
    /// Writing the file failed.
    #[error("cannot write the database: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds one `.mmdb` file in memory.
#[derive(Clone, Debug)]
pub struct MmdbWriter {
    database_type: String,
    record_size: u16,
    ip_version: u16,
    languages: Vec<String>,
    description: Vec<(String, String)>,
    build_epoch: u64,
    alias_ipv4_mapped: bool,
    /// `(address bits aligned to the tree depth, prefix length in the tree, data)`.
    networks: Vec<(u128, u8, MmdbValue)>,
}

/// A search tree record while building.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rec {
    Empty,
    Node(usize),
    Data(usize),
}

impl MmdbWriter {
    /// An IPv6 database of the given type with 28-bit records, language `en`, a description,
    /// and a fixed build time (2023-11-14T22:13:20Z) so that output is reproducible.
    pub fn new(database_type: &str) -> MmdbWriter {
        MmdbWriter {
            database_type: database_type.to_string(),
            record_size: 28,
            ip_version: 6,
            languages: vec!["en".to_string()],
            description: vec![("en".to_string(), "Doorman test database".to_string())],
            build_epoch: 1_700_000_000,
            alias_ipv4_mapped: true,
            networks: Vec::new(),
        }
    }

    /// Sets the record size (24, 28 or 32 bits; checked when writing).
    pub fn record_size(&mut self, bits: u16) -> &mut MmdbWriter {
        self.record_size = bits;
        self
    }

    /// Makes an IPv4-only database (`ip_version` 4, a 32-level tree). Call before inserting.
    pub fn ipv4_only(&mut self) -> &mut MmdbWriter {
        self.ip_version = 4;
        self
    }

    /// Sets the build time, seconds since the Unix epoch.
    pub fn build_epoch(&mut self, secs: u64) -> &mut MmdbWriter {
        self.build_epoch = secs;
        self
    }

    /// Sets the metadata `languages`.
    pub fn languages(&mut self, langs: &[&str]) -> &mut MmdbWriter {
        self.languages = langs.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Adds or replaces a description in one language.
    pub fn description(&mut self, lang: &str, text: &str) -> &mut MmdbWriter {
        self.description.retain(|(l, _)| l != lang);
        self.description.push((lang.to_string(), text.to_string()));
        self
    }

    /// Whether `::ffff:0:0/96` leads to the IPv4 data too (default true; IPv6 databases only).
    pub fn alias_ipv4_mapped(&mut self, on: bool) -> &mut MmdbWriter {
        self.alias_ipv4_mapped = on;
        self
    }

    /// Inserts a network written as `192.0.2.0/24`, `2001:db8::/32` or a single address. Host
    /// bits are ignored.
    pub fn insert(
        &mut self,
        network: &str,
        value: MmdbValue,
    ) -> Result<&mut MmdbWriter, WriterError> {
        let bad = |reason: &str| WriterError::Network {
            network: network.to_string(),
            reason: reason.to_string(),
        };
        let (addr, len) = match network.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (network, None),
        };
        let ip: IpAddr = addr.trim().parse().map_err(|_| bad("not an IP address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| bad("bad prefix length"))?,
            None => max,
        };
        self.insert_net(ip, len, value)
    }

    /// Inserts `ip/len`.
    pub fn insert_net(
        &mut self,
        ip: IpAddr,
        len: u8,
        value: MmdbValue,
    ) -> Result<&mut MmdbWriter, WriterError> {
        let bad = |reason: &str| WriterError::Network {
            network: format!("{ip}/{len}"),
            reason: reason.to_string(),
        };
        let (bits, tree_len) = match (ip, self.ip_version) {
            (IpAddr::V4(a), 4) if len <= 32 => (u128::from(u32::from(a)), len),
            // IPv4 lives under ::/96 in an IPv6 tree.
            (IpAddr::V4(a), _) if len <= 32 => (u128::from(u32::from(a)), 96 + len),
            (IpAddr::V6(_), 4) => return Err(bad("an IPv6 network in an IPv4-only database")),
            (IpAddr::V6(a), _) if len <= 128 => (u128::from(a), len),
            _ => return Err(bad("prefix length too long")),
        };
        let depth = self.depth();
        let full = u128::MAX >> (128 - u32::from(depth));
        let mask = u128::MAX
            .checked_shl(u32::from(depth - tree_len))
            .unwrap_or(0)
            & full;
        self.networks.push((bits & mask, tree_len, value));
        Ok(self)
    }

    fn depth(&self) -> u8 {
        if self.ip_version == 4 { 32 } else { 128 }
    }

    /// The database file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WriterError> {
        if !matches!(self.record_size, 24 | 28 | 32) {
            return Err(WriterError::RecordSize(self.record_size));
        }
        let depth = self.depth();
        let mut tree: Vec<[Rec; 2]> = vec![[Rec::Empty, Rec::Empty]];
        let mut order: Vec<usize> = (0..self.networks.len()).collect();
        // Broader networks first, so that more specific ones are carved out of them.
        order.sort_by_key(|&i| self.networks[i].1);
        for i in order {
            let (bits, len, _) = &self.networks[i];
            set_record(&mut tree, depth, *bits, *len, Rec::Data(i));
        }
        if self.ip_version == 6 && self.alias_ipv4_mapped {
            let v4 = get_record(&tree, depth, 0, 96);
            if v4 != Rec::Empty {
                set_record(&mut tree, depth, 0xffff_u128 << 32, 96, v4);
            }
        }

        // Number reachable nodes breadth-first (the root is node 0); the tree may share the
        // IPv4 subtree between two parents, so each node is numbered once.
        let mut number: Vec<Option<usize>> = vec![None; tree.len()];
        let mut queue = vec![0usize];
        number[0] = Some(0);
        let mut next = 0;
        while next < queue.len() {
            let n = queue[next];
            next += 1;
            for r in tree[n] {
                if let Rec::Node(c) = r
                    && number[c].is_none()
                {
                    number[c] = Some(queue.len());
                    queue.push(c);
                }
            }
        }
        let node_count = queue.len();

        // Data section: each distinct record once.
        let mut data = Vec::new();
        let mut offset_of_value: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut offset_of_network: HashMap<usize, usize> = HashMap::new();
        for &n in &queue {
            for r in tree[n] {
                if let Rec::Data(i) = r
                    && !offset_of_network.contains_key(&i)
                {
                    let mut bytes = Vec::new();
                    encode(&self.networks[i].2, &mut bytes)?;
                    let off = *offset_of_value.entry(bytes).or_insert_with_key(|b| {
                        let off = data.len();
                        data.extend_from_slice(b);
                        off
                    });
                    offset_of_network.insert(i, off);
                }
            }
        }

        let limit = 1u64 << self.record_size;
        let value = |r: Rec| -> u64 {
            match r {
                Rec::Empty => node_count as u64,
                Rec::Node(c) => number[c].unwrap_or(0) as u64,
                Rec::Data(i) => (node_count + 16 + offset_of_network[&i]) as u64,
            }
        };
        let needed = (node_count + 16 + data.len()) as u64;
        if needed >= limit {
            return Err(WriterError::TooLarge {
                needed,
                bits: self.record_size,
                limit,
            });
        }

        let node_bytes = usize::from(self.record_size) / 4;
        let mut out = Vec::with_capacity(node_count * node_bytes + 16 + data.len() + 512);
        for &n in &queue {
            let [l, r] = tree[n];
            write_node(&mut out, self.record_size, value(l), value(r));
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
        let metadata = MmdbValue::map([
            ("binary_format_major_version", MmdbValue::U16(2)),
            ("binary_format_minor_version", MmdbValue::U16(0)),
            ("build_epoch", MmdbValue::U64(self.build_epoch)),
            ("database_type", self.database_type.as_str().into()),
            (
                "description",
                MmdbValue::map(
                    self.description
                        .iter()
                        .map(|(l, t)| (l.clone(), MmdbValue::from(t.as_str()))),
                ),
            ),
            ("ip_version", MmdbValue::U16(self.ip_version)),
            (
                "languages",
                MmdbValue::array(self.languages.iter().map(|l| MmdbValue::from(l.as_str()))),
            ),
            ("node_count", MmdbValue::U32(node_count as u32)),
            ("record_size", MmdbValue::U16(self.record_size)),
        ]);
        encode(&metadata, &mut out)?;
        Ok(out)
    }

    /// Writes the database to `path`.
    pub fn write_to(&self, path: &Path) -> Result<(), WriterError> {
        std::fs::write(path, self.to_bytes()?)?;
        Ok(())
    }
}

/// Bit `i` (0 = most significant) of a `depth`-bit address.
fn bit(bits: u128, depth: u8, i: u8) -> usize {
    ((bits >> (depth - 1 - i)) & 1) as usize
}

/// Sets the record for `bits/len` to `rec`, splitting data records met on the way (so the rest
/// of a broader network keeps its data) and dropping whatever was below.
fn set_record(tree: &mut Vec<[Rec; 2]>, depth: u8, bits: u128, len: u8, rec: Rec) {
    if len == 0 {
        tree[0] = [rec, rec];
        return;
    }
    let mut node = 0;
    for i in 0..len - 1 {
        let b = bit(bits, depth, i);
        node = match tree[node][b] {
            Rec::Node(c) => c,
            inherited => {
                tree.push([inherited, inherited]);
                let c = tree.len() - 1;
                tree[node][b] = Rec::Node(c);
                c
            }
        };
    }
    tree[node][bit(bits, depth, len - 1)] = rec;
}

/// The record that covers `bits/len`: the one at that depth, or a data/empty record above it.
fn get_record(tree: &[[Rec; 2]], depth: u8, bits: u128, len: u8) -> Rec {
    if len == 0 {
        return Rec::Node(0);
    }
    let mut node = 0;
    for i in 0..len {
        match tree[node][bit(bits, depth, i)] {
            Rec::Node(c) if i + 1 < len => node = c,
            r => return r,
        }
    }
    Rec::Empty
}

fn write_node(out: &mut Vec<u8>, record_size: u16, l: u64, r: u64) {
    match record_size {
        24 => {
            out.extend_from_slice(&(l as u32).to_be_bytes()[1..]);
            out.extend_from_slice(&(r as u32).to_be_bytes()[1..]);
        }
        28 => {
            // Three low bytes of each record; the middle byte holds both top nibbles, left's
            // first.
            out.extend_from_slice(&(l as u32).to_be_bytes()[1..]);
            out.push((((l >> 24) & 0x0F) << 4 | ((r >> 24) & 0x0F)) as u8);
            out.extend_from_slice(&(r as u32).to_be_bytes()[1..]);
        }
        _ => {
            out.extend_from_slice(&(l as u32).to_be_bytes());
            out.extend_from_slice(&(r as u32).to_be_bytes());
        }
    }
}

/// Writes a control byte (and extended type byte and size bytes) for `type_num` and `size`.
fn control(out: &mut Vec<u8>, type_num: u8, size: usize) -> Result<(), WriterError> {
    let (low5, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, Vec::new())
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else if size < 285 + 65_536 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else if size < 65_821 + (1 << 24) {
        (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec())
    } else {
        return Err(WriterError::ValueTooLong(size));
    };
    if type_num <= 7 {
        out.push(type_num << 5 | low5);
    } else {
        out.push(low5);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&extra);
    Ok(())
}

/// An unsigned integer in as few big-endian bytes as it needs (zero takes none).
fn uint(out: &mut Vec<u8>, type_num: u8, n: u128) -> Result<(), WriterError> {
    let len = (128 - n.leading_zeros()).div_ceil(8) as usize;
    control(out, type_num, len)?;
    out.extend_from_slice(&n.to_be_bytes()[16 - len..]);
    Ok(())
}

fn encode(v: &MmdbValue, out: &mut Vec<u8>) -> Result<(), WriterError> {
    match v {
        MmdbValue::String(s) => {
            control(out, 2, s.len())?;
            out.extend_from_slice(s.as_bytes());
        }
        MmdbValue::Double(x) => {
            control(out, 3, 8)?;
            out.extend_from_slice(&x.to_be_bytes());
        }
        MmdbValue::Bytes(b) => {
            control(out, 4, b.len())?;
            out.extend_from_slice(b);
        }
        MmdbValue::U16(n) => uint(out, 5, u128::from(*n))?,
        MmdbValue::U32(n) => uint(out, 6, u128::from(*n))?,
        MmdbValue::Map(entries) => {
            control(out, 7, entries.len())?;
            for (k, v) in entries {
                control(out, 2, k.len())?;
                out.extend_from_slice(k.as_bytes());
                encode(v, out)?;
            }
        }
        MmdbValue::I32(n) => {
            // Negative numbers need all four bytes for their sign; others may be shorter.
            if *n < 0 {
                control(out, 8, 4)?;
                out.extend_from_slice(&n.to_be_bytes());
            } else {
                uint(out, 8, *n as u128)?;
            }
        }
        MmdbValue::U64(n) => uint(out, 9, u128::from(*n))?,
        MmdbValue::U128(n) => uint(out, 10, *n)?,
        MmdbValue::Array(items) => {
            control(out, 11, items.len())?;
            for item in items {
                encode(item, out)?;
            }
        }
        MmdbValue::Bool(b) => control(out, 14, usize::from(*b))?,
        MmdbValue::Float(x) => {
            control(out, 15, 4)?;
            out.extend_from_slice(&x.to_be_bytes());
        }
    }
    Ok(())
}
