//! What Doorman knows about a network address beyond the request itself: the country and
//! autonomous system of an IP (from MaxMind-format `.mmdb` databases) and membership of
//! operator-supplied lists (IP/CIDR, ASN and string list files).
//!
//! This crate reads files, once, when a policy is built; it never touches the network, never
//! downloads a database and holds no clock. What it produces is immutable and cheap to query
//! from many threads: [`MmdbIntel`] implements the core's [`NetworkIntel`] trait, and a
//! [`LoadedList`] carries the rules crate's sets ([`IpRangeSet`], [`IntSet`], [`StringSet`]) ready
//! to be registered as `$name` lists. Reloading is the caller's business: build a new value and
//! swap it in. It knows nothing of HTTP, configuration files or the decision pipeline.
//!
//! # Map of the crate
//! - [`lists`]: list files in plain, CSV and FireHOL netset formats → [`LoadedList`], with a
//!   [`LineProblem`] (file:line:col, what is wrong, how to fix it) for every bad line.
//! - [`entry_index`]: for small IP lists, which entry (line and text) matched an address, so a
//!   receipt can name it.
//! - [`mmdb`]: [`MmdbIntel`], country and ASN lookups over GeoLite2, DB-IP Lite and IPinfo Lite
//!   databases.
//! - `record` (private): tolerant decoding of one database record into the fields Doorman uses.
//! - `mmdb_writer` (feature `test-support`): writes small valid `.mmdb` files for tests.
//!
//! [`NetworkIntel`]: doorman_core::intel::NetworkIntel
//! [`IpRangeSet`]: doorman_rules::IpRangeSet
//! [`IntSet`]: doorman_rules::IntSet
//! [`StringSet`]: doorman_rules::StringSet

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod entry_index;
pub mod lists;
pub mod mmdb;
#[cfg(any(test, feature = "test-support"))]
pub mod mmdb_writer;
mod record;

pub use entry_index::{ENTRY_INDEX_MAX, IpEntryIndex, MatchedEntry};
pub use lists::{
    LineProblem, ListError, ListFormat, ListItems, ListKind, LoadedList, MAX_PROBLEMS, UnknownName,
    list_from_items, load_list_file, parse_list,
};
pub use mmdb::{DatabaseInfo, IntelError, Layout, MmdbIntel};
