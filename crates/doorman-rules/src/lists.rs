//! Named lists (`ip.src in $office_network`) and the registry the compiler resolves them from.
//!
//! Lists are resolved at compile time: a compiled expression holds an `Arc` to the list's
//! contents, so evaluation never looks a name up. When a list file changes, the owner builds a
//! new registry and recompiles the policy. This module does not read files; callers parse
//! their own formats and hand over built lists.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::ipset::IpRangeSet;

/// The contents of one named list.
#[derive(Clone, Debug)]
pub enum List {
    /// IP addresses, CIDRs and ranges (for IP fields such as `ip.src`).
    Ip(Arc<IpRangeSet>),
    /// Exact strings (for example host names, for `http.host`).
    String(Arc<StringSet>),
    /// Integers (for example ASNs, for `ip.src.asnum`).
    Int(Arc<IntSet>),
}

impl List {
    /// What the list holds, in words for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            List::Ip(_) => "IP addresses",
            List::String(_) => "strings",
            List::Int(_) => "integers",
        }
    }
}

/// Where the compiler finds named lists.
///
/// Implement it over whatever holds the lists (the firewall's list manager), or use [`Lists`].
/// It must be `Sync` because deeply nested expressions are compiled on a helper thread.
pub trait ListRegistry: Sync {
    /// The list called `name` (without the `$`).
    fn get(&self, name: &str) -> Option<List>;
    /// All list names, for the "unknown list" error.
    fn names(&self) -> Vec<String>;
}

/// A registry with no lists.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLists;

impl ListRegistry for NoLists {
    fn get(&self, _name: &str) -> Option<List> {
        None
    }
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A simple map-backed registry.
#[derive(Clone, Debug, Default)]
pub struct Lists {
    lists: BTreeMap<String, List>,
}

impl Lists {
    /// An empty registry.
    pub fn new() -> Lists {
        Lists::default()
    }

    /// Adds or replaces a list.
    pub fn insert(&mut self, name: impl Into<String>, list: List) -> &mut Lists {
        self.lists.insert(name.into(), list);
        self
    }

    /// Adds an IP list.
    pub fn insert_ip(&mut self, name: impl Into<String>, set: IpRangeSet) -> &mut Lists {
        self.insert(name, List::Ip(Arc::new(set)))
    }

    /// Adds a string list.
    pub fn insert_strings<I, S>(&mut self, name: impl Into<String>, items: I) -> &mut Lists
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.insert(name, List::String(Arc::new(StringSet::new(items))))
    }

    /// Adds an integer list.
    pub fn insert_ints<I: IntoIterator<Item = i64>>(
        &mut self,
        name: impl Into<String>,
        items: I,
    ) -> &mut Lists {
        self.insert(
            name,
            List::Int(Arc::new(IntSet::new(items.into_iter().map(|i| (i, i))))),
        )
    }
}

impl ListRegistry for Lists {
    fn get(&self, name: &str) -> Option<List> {
        self.lists.get(name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.lists.keys().cloned().collect()
    }
}

/// A hashed set of byte strings. Small sets are scanned linearly, which beats hashing.
#[derive(Clone, Default)]
pub struct StringSet {
    small: Vec<Box<[u8]>>,
    hashed: HashSet<Box<[u8]>, FxBuild>,
}

const LINEAR_MAX: usize = 6;

impl StringSet {
    /// Builds the set; duplicates are fine.
    pub fn new<I, S>(items: I) -> StringSet
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut all: Vec<Box<[u8]>> = items.into_iter().map(|s| s.as_ref().into()).collect();
        all.sort();
        all.dedup();
        if all.len() <= LINEAR_MAX {
            StringSet {
                small: all,
                hashed: HashSet::default(),
            }
        } else {
            StringSet {
                small: Vec::new(),
                hashed: all.into_iter().collect(),
            }
        }
    }

    /// Membership test.
    #[inline]
    pub fn contains(&self, s: &[u8]) -> bool {
        if self.hashed.is_empty() {
            self.small.iter().any(|x| crate::expr::bytes_eq(x, s))
        } else {
            self.hashed.contains(s)
        }
    }

    /// The entries when the set is small enough to be scanned rather than hashed.
    pub(crate) fn small_items(&self) -> Option<&[Box<[u8]>]> {
        self.hashed.is_empty().then_some(self.small.as_slice())
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.small.len() + self.hashed.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for StringSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StringSet({} items)", self.len())
    }
}

/// A set of integers as sorted, merged inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntSet {
    starts: Vec<i64>,
    ends: Vec<i64>,
}

impl IntSet {
    /// Builds from inclusive `(start, end)` ranges in any order.
    pub fn new<I: IntoIterator<Item = (i64, i64)>>(ranges: I) -> IntSet {
        let mut v: Vec<(i64, i64)> = ranges.into_iter().filter(|(a, b)| a <= b).collect();
        v.sort_unstable();
        let mut starts: Vec<i64> = Vec::with_capacity(v.len());
        let mut ends: Vec<i64> = Vec::with_capacity(v.len());
        for (a, b) in v {
            if let Some(last) = ends.last_mut()
                && last.checked_add(1).is_none_or(|n| a <= n)
            {
                *last = (*last).max(b);
                continue;
            }
            starts.push(a);
            ends.push(b);
        }
        IntSet { starts, ends }
    }

    /// Membership test (binary search).
    #[inline]
    pub fn contains(&self, x: i64) -> bool {
        let i = self.starts.partition_point(|&s| s <= x);
        i > 0 && self.ends.get(i - 1).is_some_and(|&e| x <= e)
    }
}

/// FxHash (the rustc hasher): much faster than SipHash on short keys, and the keys here come
/// from the operator's own configuration, so flooding resistance is not needed.
#[derive(Clone, Copy, Default)]
pub(crate) struct FxBuild;

impl std::hash::BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

#[derive(Default)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_sets_small_and_large() {
        let small = StringSet::new(["a", "b", "a"]);
        assert_eq!(small.len(), 2);
        assert!(small.contains(b"a"));
        assert!(!small.contains(b"c"));
        let large = StringSet::new((0..100).map(|i| format!("host{i}.example")));
        assert!(large.contains(b"host42.example"));
        assert!(!large.contains(b"host100.example"));
    }

    #[test]
    fn int_sets_merge() {
        let s = IntSet::new([(1, 3), (4, 4), (10, 20), (i64::MAX, i64::MAX)]);
        assert!(s.contains(4));
        assert!(s.contains(15));
        assert!(!s.contains(5));
        assert!(s.contains(i64::MAX));
        assert!(!s.contains(i64::MIN));
    }
}
