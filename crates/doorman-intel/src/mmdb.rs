//! [`MmdbIntel`]: country and autonomous-system lookups from MaxMind-format (`.mmdb`) databases,
//! behind the core's [`NetworkIntel`] trait.
//!
//! An operator points Doorman at up to two files: a country database (GeoLite2-Country or -City,
//! DB-IP Lite Country/City) and an ASN database (GeoLite2-ASN, DB-IP Lite ASN), or one database
//! that has both (IPinfo Lite). Each file is read whole into memory once (no mmap: a file
//! replaced on disk cannot change under a running lookup) and parsed by the `maxminddb` crate.
//!
//! **Layouts.** The record layout is recognised by trying field names, not by trusting the
//! database type: every lookup looks for the GeoIP2 names (`country.iso_code`, …) and the flat
//! IPinfo names (`country_code`, `asn`, …) in one pass (see the private `record` module), so a
//! renamed or unknown database type still works if its records use one of those layouts. The
//! metadata's `database_type` is only used to describe the database ([`Layout`]) and to warn
//! about a likely mix-up ([`MmdbIntel::warnings`]). Country fields come from the country
//! database first, AS fields from the ASN database first; each falls back to the other file.
//!
//! **Lookups** never fail and never panic: an address a database does not cover, an IPv6
//! address in an IPv4-only database, or a record that cannot be decoded gives missing fields
//! (decode failures are counted, [`MmdbIntel::lookup_errors`]). IPv4 addresses are found in IPv6
//! databases (the reader follows the `::/96` subtree), and IPv4-mapped IPv6 addresses
//! (`::ffff:192.0.2.1`) are looked up as the IPv4 address they carry.
//!
//! Not here: downloading or updating databases, watching files (build a new `MmdbIntel` and
//! swap it), and anything about lists.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use doorman_core::intel::{IpInfo, NetworkIntel};
use maxminddb::Reader;

use crate::record::Record;

/// A database that could not be opened. Messages name the file, what is wrong, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    /// No file at the path.
    #[error("{role} database {}: the file does not exist; check the path (or download the database)", path.display())]
    NotFound {
        /// `country` or `ASN`.
        role: &'static str,
        /// The path as given.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("{role} database {}: cannot read it: {source}", path.display())]
    Read {
        /// `country` or `ASN`.
        role: &'static str,
        /// The path as given.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The file is not a usable MaxMind DB.
    #[error("{role} database {}: {reason}", path.display())]
    Invalid {
        /// `country` or `ASN`.
        role: &'static str,
        /// The path as given.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// What kind of records a database holds, judged from its metadata's `database_type`.
/// Informational: lookups try every known layout regardless (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// GeoIP2/GeoLite2 or DB-IP Country/City: nested `country`, `continent` maps.
    GeoIp2Country,
    /// GeoIP2/GeoLite2 or DB-IP ASN (or GeoIP2 ISP): `autonomous_system_number/organization`.
    GeoIp2Asn,
    /// IPinfo (Lite, or country+ASN): flat `country_code`, `asn`, `as_name`.
    IpinfoFlat,
    /// A `database_type` this crate does not recognise.
    Unknown,
}

impl Layout {
    /// Guesses the layout from a `database_type` such as `GeoLite2-Country`,
    /// `DBIP-ASN-Lite (compat=GeoLite2-ASN)` or `ipinfo lite.mmdb`.
    pub fn from_database_type(database_type: &str) -> Layout {
        let t = database_type.to_ascii_lowercase();
        if t.contains("ipinfo") {
            Layout::IpinfoFlat
        } else if t.contains("asn") || t.contains("isp") {
            Layout::GeoIp2Asn
        } else if t.contains("country") || t.contains("city") || t.contains("enterprise") {
            Layout::GeoIp2Country
        } else {
            Layout::Unknown
        }
    }

    /// Whether records of this layout carry a country (unknown layouts: maybe, so true).
    pub fn has_country(self) -> bool {
        self != Layout::GeoIp2Asn
    }

    /// Whether records of this layout carry an AS number (unknown layouts: maybe, so true).
    pub fn has_asn(self) -> bool {
        self != Layout::GeoIp2Country
    }

    /// A short name for status output.
    pub fn name(self) -> &'static str {
        match self {
            Layout::GeoIp2Country => "geoip2-country",
            Layout::GeoIp2Asn => "geoip2-asn",
            Layout::IpinfoFlat => "ipinfo",
            Layout::Unknown => "unknown",
        }
    }
}

/// One open database, for `doorman check` and status pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// The file.
    pub path: PathBuf,
    /// What it is used for: `country`, `ASN`, or `country+ASN` (one file for both).
    pub role: &'static str,
    /// The metadata's `database_type` (e.g. `GeoLite2-Country`).
    pub database_type: String,
    /// When the database was built, seconds since the Unix epoch (metadata `build_epoch`).
    pub build_epoch: u64,
    /// 4 or 6.
    pub ip_version: u16,
    /// Search tree nodes (a rough size).
    pub node_count: u32,
    /// The layout judged from `database_type`.
    pub layout: Layout,
    /// The file's modification time when it was opened.
    pub modified: Option<SystemTime>,
}

struct Database {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
    layout: Layout,
    modified: Option<SystemTime>,
}

impl Database {
    fn open(path: &Path, role: &'static str) -> Result<Database, IntelError> {
        let bytes = std::fs::read(path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => IntelError::NotFound {
                role,
                path: path.to_path_buf(),
            },
            _ => IntelError::Read {
                role,
                path: path.to_path_buf(),
                source,
            },
        })?;
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let invalid = |reason: String| IntelError::Invalid {
            role,
            path: path.to_path_buf(),
            reason,
        };
        if let Some(reason) = sniff_not_mmdb(&bytes) {
            return Err(invalid(reason));
        }
        let reader = Reader::from_source(bytes).map_err(|e| invalid(describe_open_error(&e)))?;
        let layout = Layout::from_database_type(&reader.metadata().database_type);
        Ok(Database {
            path: path.to_path_buf(),
            reader,
            layout,
            modified,
        })
    }

    /// The record for `ip`, or `None` when the database has none (or it cannot be decoded, which
    /// is counted in `errors`).
    fn record(&self, ip: IpAddr, errors: &AtomicU64) -> Option<Record<'_>> {
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return None;
        }
        let found = match self.reader.lookup(ip) {
            Ok(found) => found,
            Err(_) => {
                errors.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        match found.decode::<Record>() {
            Ok(r) => r,
            Err(_) => {
                errors.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// Recognises files that are plainly not a MaxMind DB, to say so in words a person can act on
/// rather than as a parser error.
fn sniff_not_mmdb(bytes: &[u8]) -> Option<String> {
    const MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
    if bytes.is_empty() {
        return Some("the file is empty: download the database again".to_string());
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Some(
            "not a MaxMind DB: the file is gzip-compressed (a .tar.gz or .gz download); unpack \
             it and point to the .mmdb file inside"
                .to_string(),
        );
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Some(
            "not a MaxMind DB: the file is a ZIP archive; unpack it and point to the .mmdb file \
             inside"
                .to_string(),
        );
    }
    // The spec caps the metadata section (marker included) at 128 KiB, so the marker can only
    // be near the end; looking there keeps opening a large database fast.
    let tail = &bytes[bytes.len().saturating_sub(128 * 1024)..];
    if !tail.windows(MARKER.len()).any(|w| w == MARKER) {
        let looks_text = bytes.iter().take(512).all(|&b| b.is_ascii() && b != 0);
        let what = if looks_text {
            " (it looks like text: a CSV export or an HTML error page?)"
        } else {
            ""
        };
        return Some(format!(
            "not a MaxMind DB: metadata marker not found{what}; use the .mmdb download of the \
             database"
        ));
    }
    None
}

fn describe_open_error(e: &maxminddb::MaxMindDbError) -> String {
    format!("not a valid MaxMind DB ({e}); the file may be truncated or corrupt: download it again")
}

/// Country and ASN lookups over up to two MaxMind-format databases.
pub struct MmdbIntel {
    country: Option<Arc<Database>>,
    asn: Option<Arc<Database>>,
    errors: AtomicU64,
}

impl MmdbIntel {
    /// Opens the databases given. `None` for both gives an intel that knows nothing. When both
    /// paths name the same file it is read once and looked up once per address.
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<MmdbIntel, IntelError> {
        let same = matches!((country, asn), (Some(c), Some(a)) if same_file(c, a));
        let country_db = country
            .map(|p| {
                let role = if same { "country+ASN" } else { "country" };
                Database::open(p, role).map(Arc::new)
            })
            .transpose()?;
        let asn_db = match (same, &country_db) {
            (true, Some(db)) => Some(Arc::clone(db)),
            _ => asn
                .map(|p| Database::open(p, "ASN").map(Arc::new))
                .transpose()?,
        };
        Ok(MmdbIntel {
            country: country_db,
            asn: asn_db,
            errors: AtomicU64::new(0),
        })
    }

    /// True when no database is open.
    pub fn is_empty(&self) -> bool {
        self.country.is_none() && self.asn.is_none()
    }

    /// What is open: path, database type, build time and more, one entry per file.
    pub fn database_info(&self) -> Vec<DatabaseInfo> {
        let mut out = Vec::new();
        let same = self.shared_file();
        let mut push = |db: &Database, role: &'static str| {
            let m = db.reader.metadata();
            out.push(DatabaseInfo {
                path: db.path.clone(),
                role,
                database_type: m.database_type.clone(),
                build_epoch: m.build_epoch,
                ip_version: m.ip_version,
                node_count: m.node_count,
                layout: db.layout,
                modified: db.modified,
            });
        };
        if let Some(db) = &self.country {
            push(db, if same { "country+ASN" } else { "country" });
        }
        if let Some(db) = &self.asn
            && !same
        {
            push(db, "ASN");
        }
        out
    }

    /// Likely mistakes, in words: a country database given as the ASN database or the other
    /// way round. Empty when nothing looks wrong.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(db) = &self.country
            && !db.layout.has_country()
        {
            out.push(format!(
                "the country database {} is a {} database, which has no countries: did you mean \
                 it as the ASN database?",
                db.path.display(),
                db.reader.metadata().database_type
            ));
        }
        if let Some(db) = &self.asn
            && !db.layout.has_asn()
        {
            out.push(format!(
                "the ASN database {} is a {} database, which has no AS numbers: did you mean it \
                 as the country database?",
                db.path.display(),
                db.reader.metadata().database_type
            ));
        }
        out
    }

    /// Checks every open database whole (search tree, data section, metadata), for `doorman
    /// check`. Slow on large databases (it walks every network); lookups do not need it.
    pub fn verify(&self) -> Result<(), IntelError> {
        let mut dbs: Vec<(&Database, &'static str)> = Vec::new();
        if let Some(db) = &self.country {
            dbs.push((db, "country"));
        }
        if let Some(db) = &self.asn
            && !self.shared_file()
        {
            dbs.push((db, "ASN"));
        }
        for (db, role) in dbs {
            db.reader.verify().map_err(|e| IntelError::Invalid {
                role,
                path: db.path.clone(),
                reason: describe_open_error(&e),
            })?;
        }
        Ok(())
    }

    /// How many lookups found a record that could not be decoded (a damaged database).
    pub fn lookup_errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    fn shared_file(&self) -> bool {
        matches!((&self.country, &self.asn), (Some(c), Some(a)) if Arc::ptr_eq(c, a))
    }
}

/// Whether two paths name one file (so that it is read once); falls back to comparing the
/// paths when they cannot be resolved.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

impl NetworkIntel for MmdbIntel {
    fn lookup(&self, ip: IpAddr) -> IpInfo {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        let mut info = IpInfo::default();
        let from_country = self
            .country
            .as_ref()
            .and_then(|db| db.record(ip, &self.errors));
        let from_asn = if self.shared_file() {
            None
        } else {
            self.asn.as_ref().and_then(|db| db.record(ip, &self.errors))
        };
        // Each kind of field from its own database first, then from the other one.
        let country_first = [from_country.as_ref(), from_asn.as_ref()];
        for r in country_first.into_iter().flatten() {
            r.fill_country(&mut info);
        }
        for r in [from_asn.as_ref(), from_country.as_ref()]
            .into_iter()
            .flatten()
        {
            r.fill_asn(&mut info);
        }
        info
    }
}

impl fmt::Debug for MmdbIntel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MmdbIntel");
        for info in self.database_info() {
            d.field(info.role, &(info.path, info.database_type));
        }
        d.finish()
    }
}
