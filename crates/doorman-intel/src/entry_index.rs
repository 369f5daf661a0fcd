//! Which entry of an IP list matched an address, so that a receipt can say "on the list
//! `blocklist`, line 12: `203.0.113.0/24` (scanner)" instead of only "on the list".
//!
//! [`IpRangeSet`](doorman_rules::IpRangeSet) answers membership only: it merges overlapping
//! entries and forgets where they came from. This index keeps, next to it, the address space cut
//! into disjoint segments, each labelled with the narrowest entry covering it (the first in the
//! file among equally narrow ones), plus the entries' text. A lookup is one binary search.
//!
//! It is built only for lists of at most [`ENTRY_INDEX_MAX`] entries, because it costs memory
//! the membership set does not: per entry about 8 bytes of bookkeeping plus its text (item and
//! note), and per segment (at most two per entry) 8 bytes for IPv4 or 20 bytes for IPv6; about
//! 5 MB at the limit. [`IpEntryIndex::heap_bytes`] reports the real figure. It is not a
//! membership test to use instead of the set: for lists over the limit there is no index.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;

use doorman_rules::IpRange;

/// Largest IP list (in entries) that gets an [`IpEntryIndex`].
pub const ENTRY_INDEX_MAX: usize = 100_000;

/// Segment label for "no entry covers this segment".
const NONE: u32 = u32::MAX;

/// The matched entry of an IP list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatchedEntry<'a> {
    /// 1-based line in the file (for inline lists: the item's position).
    pub line: usize,
    /// The entry as written (`192.0.2.0/24`).
    pub item: &'a str,
    /// The entry's comment or CSV description, if it had one.
    pub note: Option<&'a str>,
}

/// Text of one entry: spans into [`IpEntryIndex::text`].
#[derive(Clone, Copy, Debug)]
struct Entry {
    line: u32,
    item: (u32, u32),
    /// `(0, 0)` when there is no note.
    note: (u32, u32),
}

/// Disjoint segments of the address space labelled with the entry that covers them.
#[derive(Clone, Debug, Default)]
pub struct IpEntryIndex {
    v4_starts: Vec<u32>,
    v4_labels: Vec<u32>,
    v6_starts: Vec<u128>,
    v6_labels: Vec<u32>,
    entries: Vec<Entry>,
    /// All items and notes, one after the other; one allocation instead of two per entry.
    text: String,
}

impl IpEntryIndex {
    /// Builds from `(range, line, item text, note)` in file order.
    pub(crate) fn build<'a, I>(entries: I) -> IpEntryIndex
    where
        I: IntoIterator<Item = (IpRange, u32, Cow<'a, str>, Option<Cow<'a, str>>)>,
    {
        let mut index = IpEntryIndex::default();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (range, line, item, note) in entries {
            let Ok(id) = u32::try_from(index.entries.len()) else {
                break;
            };
            if id == NONE {
                break;
            }
            let item = index.push_text(&item);
            let note = note.map_or((0, 0), |n| index.push_text(&n));
            index.entries.push(Entry { line, item, note });
            match range {
                IpRange::V4(a, b) => v4.push((a, b, id)),
                IpRange::V6(a, b) => v6.push((a, b, id)),
            }
        }
        (index.v4_starts, index.v4_labels) =
            segments(v4, |x| x.checked_add(1), |a, b| u128::from(b - a));
        (index.v6_starts, index.v6_labels) = segments(v6, |x| x.checked_add(1), |a, b| b - a);
        index.entries.shrink_to_fit();
        index.text.shrink_to_fit();
        index
    }

    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len();
        self.text.push_str(s);
        // Lists are far below 4 GiB of text; saturate rather than wrap if one is not.
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        (clamp(start), clamp(self.text.len()))
    }

    fn span(&self, (a, b): (u32, u32)) -> &str {
        self.text.get(a as usize..b as usize).unwrap_or("")
    }

    /// The narrowest entry containing `ip`, if any. IPv4 and IPv6 are separate families, as in
    /// [`IpRangeSet::contains`](doorman_rules::IpRangeSet::contains).
    pub fn find(&self, ip: IpAddr) -> Option<MatchedEntry<'_>> {
        let label = match ip {
            IpAddr::V4(a) => label_at(&self.v4_starts, &self.v4_labels, u32::from(a)),
            IpAddr::V6(a) => label_at(&self.v6_starts, &self.v6_labels, u128::from(a)),
        }?;
        let e = self.entries.get(label as usize)?;
        Some(MatchedEntry {
            line: e.line as usize,
            item: self.span(e.item),
            note: (e.note != (0, 0)).then(|| self.span(e.note)),
        })
    }

    /// Number of entries indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Heap memory held, in bytes (for status pages and the documentation's cost figure).
    pub fn heap_bytes(&self) -> usize {
        self.v4_starts.capacity() * 4
            + self.v4_labels.capacity() * 4
            + self.v6_starts.capacity() * 16
            + self.v6_labels.capacity() * 4
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.text.capacity()
    }
}

impl doorman_core::firewall::EntryLookup for IpEntryIndex {
    fn entry_for(&self, ip: IpAddr) -> Option<doorman_core::firewall::ListEntry> {
        self.find(ip).map(|e| doorman_core::firewall::ListEntry {
            line: e.line,
            item: e.item.to_owned(),
            note: e.note.map(str::to_owned),
        })
    }
}

fn label_at<N: Ord + Copy>(starts: &[N], labels: &[u32], x: N) -> Option<u32> {
    let i = starts.partition_point(|&s| s <= x);
    let label = *labels.get(i.checked_sub(1)?)?;
    (label != NONE).then_some(label)
}

/// Cuts the space covered by `items` (`start, end inclusive, id`) into segments labelled with
/// the narrowest covering entry (lowest id among equals), or [`NONE`]. A sweep over the sorted
/// boundaries with a heap of the entries open at each one: O(n log n).
fn segments<N: Ord + Copy>(
    mut items: Vec<(N, N, u32)>,
    succ: impl Fn(N) -> Option<N>,
    width: impl Fn(N, N) -> u128,
) -> (Vec<N>, Vec<u32>) {
    items.sort_unstable_by_key(|&(a, _, id)| (a, id));
    let mut points: Vec<N> = Vec::with_capacity(items.len() * 2);
    for &(a, b, _) in &items {
        points.push(a);
        if let Some(after) = succ(b) {
            points.push(after);
        }
    }
    points.sort_unstable();
    points.dedup();

    let mut starts = Vec::new();
    let mut labels: Vec<u32> = Vec::new();
    let mut open: BinaryHeap<Reverse<(u128, u32, N)>> = BinaryHeap::new();
    let mut next = 0;
    for p in points {
        while let Some(&(a, b, id)) = items.get(next)
            && a <= p
        {
            open.push(Reverse((width(a, b), id, b)));
            next += 1;
        }
        // Entries that ended before `p` may linger below the top; only the top matters.
        while open.peek().is_some_and(|Reverse((_, _, end))| *end < p) {
            open.pop();
        }
        let label = open.peek().map_or(NONE, |Reverse((_, id, _))| *id);
        if labels.last() != Some(&label) {
            starts.push(p);
            labels.push(label);
        }
    }
    starts.shrink_to_fit();
    labels.shrink_to_fit();
    (starts, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(entries: &[(&str, Option<&str>)]) -> IpEntryIndex {
        IpEntryIndex::build(entries.iter().enumerate().map(|(i, (e, n))| {
            (
                e.parse::<IpRange>().unwrap(),
                i as u32 + 1,
                Cow::Borrowed(*e),
                n.map(Cow::Borrowed),
            )
        }))
    }

    fn line(idx: &IpEntryIndex, ip: &str) -> Option<usize> {
        idx.find(ip.parse().unwrap()).map(|m| m.line)
    }

    #[test]
    fn narrowest_entry_wins_in_any_order() {
        let idx = build(&[
            ("10.0.0.0/8", Some("big")),
            ("10.1.2.0/24", None),
            ("10.1.0.0/16", Some("mid")),
            ("10.1.2.3", None),
            ("2001:db8::/32", None),
            ("2001:db8:1::/48", None),
        ]);
        assert_eq!(line(&idx, "10.9.9.9"), Some(1));
        assert_eq!(line(&idx, "10.1.9.9"), Some(3));
        assert_eq!(line(&idx, "10.1.2.9"), Some(2));
        assert_eq!(line(&idx, "10.1.2.3"), Some(4));
        assert_eq!(line(&idx, "10.1.2.4"), Some(2));
        assert_eq!(line(&idx, "11.0.0.0"), None);
        assert_eq!(line(&idx, "9.255.255.255"), None);
        assert_eq!(line(&idx, "2001:db8:1::5"), Some(6));
        assert_eq!(line(&idx, "2001:db8:2::5"), Some(5));
        assert_eq!(line(&idx, "::ffff:10.0.0.1"), None);
        let m = idx.find("10.1.0.1".parse().unwrap()).unwrap();
        assert_eq!((m.item, m.note), ("10.1.0.0/16", Some("mid")));
        assert_eq!(idx.len(), 6);
    }

    #[test]
    fn overlapping_ranges_and_ties() {
        let idx = build(&[
            ("192.0.2.0..192.0.2.100", None),
            ("192.0.2.50..192.0.2.200", None),
            ("192.0.2.50..192.0.2.150", None),
            ("192.0.2.60..192.0.2.160", None),
        ]);
        assert_eq!(line(&idx, "192.0.2.10"), Some(1));
        // 192.0.2.55: entries 1 (101 wide), 2, 3 (101 wide): 1 and 3 tie, the first wins.
        assert_eq!(line(&idx, "192.0.2.55"), Some(1));
        assert_eq!(line(&idx, "192.0.2.120"), Some(3));
        assert_eq!(line(&idx, "192.0.2.155"), Some(4));
        assert_eq!(line(&idx, "192.0.2.199"), Some(2));
        assert_eq!(line(&idx, "192.0.2.201"), None);
    }

    #[test]
    fn edges_of_the_space() {
        let idx = build(&[
            ("0.0.0.0/0", None),
            ("255.255.255.255", None),
            ("::/0", None),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ]);
        assert_eq!(line(&idx, "0.0.0.0"), Some(1));
        assert_eq!(line(&idx, "255.255.255.254"), Some(1));
        assert_eq!(line(&idx, "255.255.255.255"), Some(2));
        assert_eq!(line(&idx, "::"), Some(3));
        assert_eq!(
            line(&idx, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            Some(4)
        );
        assert!(idx.heap_bytes() > 0);
    }

    #[test]
    fn agrees_with_brute_force() {
        let mut x: u32 = 7;
        let mut next = || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            x
        };
        let mut raw = Vec::new();
        for _ in 0..300 {
            let base = next() & 0x0000_FFFF;
            let len = 16 + next() % 17;
            raw.push(format!("10.0.{}.{}/{len}", base >> 8, base & 0xFF));
        }
        let entries: Vec<(&str, Option<&str>)> = raw.iter().map(|s| (s.as_str(), None)).collect();
        let idx = build(&entries);
        let ranges: Vec<(u32, u32)> = raw
            .iter()
            .map(|s| match s.parse::<IpRange>().unwrap() {
                IpRange::V4(a, b) => (a, b),
                IpRange::V6(..) => unreachable!(),
            })
            .collect();
        for _ in 0..5000 {
            let probe = 0x0A00_0000 | (next() & 0x0000_FFFF);
            let want = ranges
                .iter()
                .enumerate()
                .filter(|(_, (a, b))| *a <= probe && probe <= *b)
                .min_by_key(|(i, (a, b))| (b - a, *i))
                .map(|(i, _)| i + 1);
            assert_eq!(
                line(&idx, &std::net::Ipv4Addr::from(probe).to_string()),
                want
            );
        }
    }
}
