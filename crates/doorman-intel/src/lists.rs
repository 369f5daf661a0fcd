//! List files: IP/CIDR, ASN and string lists as operators download or write them, read into the
//! rules crate's sets ([`IpRangeSet`], [`IntSet`], [`StringSet`]).
//!
//! Three formats are understood:
//! - **plain**: one item per line; `#` starts a comment (a whole line or the rest of a line);
//!   blank lines are ignored. In IP and ASN lists a `;` after the item also starts a comment
//!   (Spamhaus style `192.0.2.0/24 ; SBL123`).
//! - **CSV** as Cloudflare exports lists: `item,description`, the description optionally in
//!   double quotes (`""` inside quotes is one quote). A first line that is a header
//!   (`ip,description`) is skipped. Quoted fields spanning several lines are not supported.
//! - **FireHOL netset**: `#` comment blocks with metadata, then one IP or CIDR per line; read
//!   exactly like plain.
//!
//! [`ListFormat::Auto`] picks the format from the file extension (`.csv`; `.netset`/`.ipset`;
//! anything else is plain). Items are typed by [`ListKind`]: IPs (single addresses, CIDRs,
//! `a..b` ranges), AS numbers (`13335` or `AS13335`, any case), strings (as written, trimmed) or
//! host names (strings lower-cased, one trailing dot removed).
//!
//! A bad line never stops a load: it becomes a [`LineProblem`] and the rest of the list loads.
//! Only a file that cannot be read at all is an error ([`ListError`]). Files may have CRLF line
//! ends, a UTF-8 or UTF-16 byte-order mark, or stray non-UTF-8 bytes (those lines are reported).
//!
//! This module does not register lists or watch files; the caller does (see `doorman-config`
//! and the server's reload).

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::SystemTime;

use doorman_rules::{IntSet, IpEntryError, IpRange, IpRangeSet, List, StringSet};
use serde::{Deserialize, Serialize};

use crate::entry_index::{ENTRY_INDEX_MAX, IpEntryIndex, MatchedEntry};

/// At most this many [`LineProblem`]s are kept per list; [`LoadedList::bad_lines`] counts all.
/// A garbage file of a million lines should cost a count, not a million messages.
pub const MAX_PROBLEMS: usize = 100;

/// Longest offending line kept in a [`LineProblem`], in characters.
const MAX_PROBLEM_TEXT: usize = 200;

/// What a list holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    /// IPv4/IPv6 addresses, CIDRs and `a..b` ranges (for `ip.src`).
    Ip,
    /// Autonomous system numbers, `13335` or `AS13335` (for `ip.src.asnum`).
    Asn,
    /// Exact strings, as written (trimmed).
    String,
    /// Host names: strings lower-cased (ASCII) with one trailing dot removed, because host names
    /// compare without regard to case (for `http.host`).
    Hostname,
}

impl ListKind {
    /// Every kind, in documentation order.
    pub const ALL: [ListKind; 4] = [
        ListKind::Ip,
        ListKind::Asn,
        ListKind::String,
        ListKind::Hostname,
    ];

    /// The name used in configuration files (`ip`, `asn`, `string`, `hostname`).
    pub fn name(self) -> &'static str {
        match self {
            ListKind::Ip => "ip",
            ListKind::Asn => "asn",
            ListKind::String => "string",
            ListKind::Hostname => "hostname",
        }
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kind or format name that is not known; the message lists the known ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}`: use one of {choices}")]
pub struct UnknownName {
    /// "list kind" or "list format".
    pub what: &'static str,
    /// What was given.
    pub given: String,
    /// The accepted names, comma-separated.
    pub choices: String,
}

impl FromStr for ListKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<ListKind, UnknownName> {
        ListKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName {
                what: "list kind",
                given: s.to_string(),
                choices: ListKind::ALL.map(ListKind::name).join(", "),
            })
    }
}

/// How a list file is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    /// Decide by file extension: `.csv` → CSV, `.netset`/`.ipset` → netset, else plain. Text
    /// without a file name is plain.
    #[default]
    Auto,
    /// One item per line, `#` comments.
    Plain,
    /// `item,description` lines (Cloudflare's list export), optional header.
    Csv,
    /// FireHOL `.netset`/`.ipset`: comments and one IP/CIDR per line.
    Netset,
}

impl ListFormat {
    /// Every format, in documentation order.
    pub const ALL: [ListFormat; 4] = [
        ListFormat::Auto,
        ListFormat::Plain,
        ListFormat::Csv,
        ListFormat::Netset,
    ];

    /// The name used in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            ListFormat::Auto => "auto",
            ListFormat::Plain => "plain",
            ListFormat::Csv => "csv",
            ListFormat::Netset => "netset",
        }
    }

    /// The format a file of this name is read in: `self` unless it is `Auto`, then by extension.
    pub fn resolve(self, path: Option<&Path>) -> ListFormat {
        if self != ListFormat::Auto {
            return self;
        }
        let ext = path
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
            .unwrap_or("");
        if ext.eq_ignore_ascii_case("csv") {
            ListFormat::Csv
        } else if ext.eq_ignore_ascii_case("netset") || ext.eq_ignore_ascii_case("ipset") {
            ListFormat::Netset
        } else {
            ListFormat::Plain
        }
    }
}

impl fmt::Display for ListFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ListFormat {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<ListFormat, UnknownName> {
        ListFormat::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName {
                what: "list format",
                given: s.to_string(),
                choices: ListFormat::ALL.map(ListFormat::name).join(", "),
            })
    }
}

/// The contents of a loaded list, shared (`Arc`) so that registering it with the rules compiler
/// ([`ListItems::to_rule_list`]) costs no copy.
#[derive(Clone, Debug)]
pub enum ListItems {
    /// From [`ListKind::Ip`].
    Ip(Arc<IpRangeSet>),
    /// From [`ListKind::Asn`].
    Asn(Arc<IntSet>),
    /// From [`ListKind::String`] and [`ListKind::Hostname`].
    String(Arc<StringSet>),
}

impl ListItems {
    /// The list as the rules language sees it (`List::Int` for AS numbers).
    pub fn to_rule_list(&self) -> List {
        match self {
            ListItems::Ip(s) => List::Ip(Arc::clone(s)),
            ListItems::Asn(s) => List::Int(Arc::clone(s)),
            ListItems::String(s) => List::String(Arc::clone(s)),
        }
    }
}

/// One line that could not be read as an item. `Display` is `file:line:col: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct LineProblem {
    /// The list's path as given, or `inline`.
    pub file: Arc<str>,
    /// 1-based line number (for inline lists: the 1-based position of the item).
    pub line: usize,
    /// 1-based column, in characters, where the problem starts.
    pub column: usize,
    /// The offending line, trimmed (cut at 200 characters).
    pub text: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A list file that could not be read at all. Bad lines are not errors (see [`LineProblem`]).
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// No file at the path.
    #[error("list file {} does not exist: check the path, or create the file", path.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The path is a directory.
    #[error("list file {} is a directory: point to a file inside it", path.display())]
    IsDirectory {
        /// The path as given.
        path: PathBuf,
    },
    /// Any other read failure (permissions, I/O).
    #[error("cannot read list file {}: {source}", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
}

/// A list read from a file or from inline items.
#[derive(Clone, Debug)]
pub struct LoadedList {
    /// The path as given, or `inline` (also the `file` of every problem).
    pub source: String,
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// What the items are.
    pub kind: ListKind,
    /// The format actually used (never `Auto`).
    pub format: ListFormat,
    /// The items as a set.
    pub items: ListItems,
    /// How many items were read (before duplicates and overlaps were merged).
    pub entries: usize,
    /// The first [`MAX_PROBLEMS`] bad lines.
    pub problems: Vec<LineProblem>,
    /// How many lines were bad in all (may exceed `problems.len()`).
    pub bad_lines: usize,
    /// The file's modification time, when known.
    pub modified: Option<SystemTime>,
    /// For IP lists of at most [`ENTRY_INDEX_MAX`] entries: which entry matched an address.
    pub entry_index: Option<Arc<IpEntryIndex>>,
}

impl LoadedList {
    /// Whether `ip` is in an IP list (false for other kinds). IPv4-mapped IPv6 addresses are
    /// IPv6 here, as everywhere in the rules language.
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        matches!(&self.items, ListItems::Ip(s) if s.contains(ip))
    }

    /// Whether `asn` is in an ASN list (false for other kinds).
    pub fn contains_asn(&self, asn: u32) -> bool {
        matches!(&self.items, ListItems::Asn(s) if s.contains(i64::from(asn)))
    }

    /// Whether `s` is in a string list, compared exactly (false for other kinds). For
    /// [`ListKind::Hostname`] lists pass a lower-case name.
    pub fn contains_str(&self, s: &str) -> bool {
        matches!(&self.items, ListItems::String(set) if set.contains(s.as_bytes()))
    }

    /// The entry of an IP list that matched `ip` (the narrowest one; the first in the file among
    /// equals), when the list kept an [`IpEntryIndex`]. `None` when `ip` is not in the list or
    /// the list was too large to index.
    pub fn matching_entry(&self, ip: IpAddr) -> Option<MatchedEntry<'_>> {
        self.entry_index.as_ref()?.find(ip)
    }

    /// The list as the rules language sees it.
    pub fn to_rule_list(&self) -> List {
        self.items.to_rule_list()
    }
}

/// Reads a list file. Fails only when the file cannot be read; bad lines become problems.
///
/// `format` `Auto` decides by extension. The text may start with a UTF-8 or UTF-16 byte-order
/// mark; bytes that are not UTF-8 become U+FFFD (and the lines holding them problems).
pub fn load_list_file(
    path: &Path,
    kind: ListKind,
    format: ListFormat,
) -> Result<LoadedList, ListError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ListError::NotFound {
            path: path.to_path_buf(),
        },
        io::ErrorKind::IsADirectory => ListError::IsDirectory {
            path: path.to_path_buf(),
        },
        _ if path.is_dir() => ListError::IsDirectory {
            path: path.to_path_buf(),
        },
        _ => ListError::Read {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let text = decode_text(bytes);
    let format = format.resolve(Some(path));
    let mut list = parse_list(&text, kind, format, &path.display().to_string());
    list.path = Some(path.to_path_buf());
    list.modified = modified;
    Ok(list)
}

/// Turns file bytes into text: UTF-16 when a UTF-16 byte-order mark says so (Windows editors
/// save "Unicode" that way), else UTF-8 with invalid bytes replaced rather than refused, so that
/// one odd description byte costs one line, not the list.
fn decode_text(bytes: Vec<u8>) -> String {
    let utf16 = |be: bool| {
        let units = bytes[2..].chunks_exact(2).map(|c| {
            if be {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
    };
    match bytes.get(..2) {
        Some([0xFF, 0xFE]) => return utf16(false),
        Some([0xFE, 0xFF]) => return utf16(true),
        _ => {}
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Parses list text. `source` names it in problems (a path, or `inline`). `Auto` means plain
/// here (there is no file name to go by).
pub fn parse_list(text: &str, kind: ListKind, format: ListFormat, source: &str) -> LoadedList {
    let format = format.resolve(None);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut b = Builder::new(kind, format, source);
    let mut offset = 0usize;
    for (i, raw) in text.split('\n').enumerate() {
        let line_start = offset;
        offset += raw.len() + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        b.line(i + 1, line, line_start);
    }
    b.finish(text)
}

/// A list from items given one by one, as in an inline TOML array. Each item is one entry (no
/// comments, no CSV); a problem's `line` is the item's 1-based position and `file` is `inline`.
pub fn list_from_items<S: AsRef<str>>(items: &[S], kind: ListKind) -> LoadedList {
    let mut b = Builder::new(kind, ListFormat::Plain, "inline");
    // The entry index needs the items' text; give it one buffer with one item per line so that
    // it can read them back exactly as a file's.
    let mut text = String::new();
    let mut starts = Vec::with_capacity(items.len());
    for item in items {
        starts.push(text.len());
        // A newline inside an item would shift every later line: keep items on one line.
        text.extend(
            item.as_ref()
                .chars()
                .map(|c| if c == '\n' { ' ' } else { c }),
        );
        text.push('\n');
    }
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |&n| n) - 1;
        b.item_line(i + 1, &text[start..end], start);
    }
    b.finish(&text)
}

/// The parts of one line: nothing, an item (with an optional note: a comment or CSV
/// description), or a problem.
enum LineParts<'a> {
    Skip,
    Item {
        item: Cow<'a, str>,
        /// Byte offset of the item in the line.
        at: usize,
        note: Option<Cow<'a, str>>,
    },
    Problem {
        at: usize,
        message: String,
    },
}

/// Splits one line of a file into its parts, by format and kind. Pure, so that the entry index
/// can re-read a line exactly as the loader did.
fn split_line<'a>(line: &'a str, format: ListFormat, kind: ListKind) -> LineParts<'a> {
    match format {
        ListFormat::Csv => split_csv(line, kind),
        _ => split_plain(line, kind),
    }
}

/// For IP and ASN items a `#` anywhere starts a comment; in strings only at the start or after
/// whitespace, so that `a#b` stays a string.
fn comment_start(line: &str, kind: ListKind) -> Option<usize> {
    match kind {
        ListKind::Ip | ListKind::Asn => line.find('#'),
        ListKind::String | ListKind::Hostname => {
            let bytes = line.as_bytes();
            line.match_indices('#')
                .map(|(i, _)| i)
                .find(|&i| i == 0 || bytes[i - 1].is_ascii_whitespace())
        }
    }
}

/// Where `inner`, a slice of `outer`, starts in it (in bytes).
fn offset_in(outer: &str, inner: &str) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

fn non_empty(s: &str) -> Option<Cow<'_, str>> {
    let s = s.trim();
    (!s.is_empty()).then_some(Cow::Borrowed(s))
}

fn split_plain(line: &str, kind: ListKind) -> LineParts<'_> {
    let (content, mut note) = match comment_start(line, kind) {
        Some(i) => (&line[..i], non_empty(&line[i + 1..])),
        None => (line, None),
    };
    let item = content.trim();
    if item.is_empty() {
        return LineParts::Skip;
    }
    let at = offset_in(line, item);
    match kind {
        ListKind::Ip | ListKind::Asn => {
            let end = item.find(|c: char| c.is_whitespace()).unwrap_or(item.len());
            let (token, rest) = item.split_at(end);
            let rest = rest.trim_start();
            if !rest.is_empty() {
                if let Some(comment) = rest.strip_prefix(';') {
                    note = non_empty(comment).or(note);
                } else {
                    return LineParts::Problem {
                        at: offset_in(line, rest),
                        message: extra_text_message(token, rest, kind),
                    };
                }
            }
            LineParts::Item {
                item: Cow::Borrowed(token),
                at,
                note,
            }
        }
        ListKind::String | ListKind::Hostname => LineParts::Item {
            item: Cow::Borrowed(item),
            at,
            note,
        },
    }
}

fn extra_text_message(token: &str, rest: &str, kind: ListKind) -> String {
    let rest_shown = shorten(rest, 40);
    if kind == ListKind::Asn
        && token.eq_ignore_ascii_case("as")
        && rest.starts_with(|c: char| c.is_ascii_digit())
    {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return format!("write the AS number without a space: AS{digits}");
    }
    if kind == ListKind::Ip && (rest.starts_with('-') || rest.starts_with("..")) {
        return format!(
            "unexpected text `{rest_shown}` after `{token}`: write a range without spaces as \
             first..last, for example 192.0.2.1..192.0.2.9"
        );
    }
    format!(
        "unexpected text `{rest_shown}` after `{token}`: put one item per line, and start \
         comments with #"
    )
}

/// Cloudflare-style CSV: `item,description`. Only the first field is the item; everything after
/// the first unquoted comma is the description.
fn split_csv(line: &str, kind: ListKind) -> LineParts<'_> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return LineParts::Skip;
    }
    if let Some(quoted) = t.strip_prefix('"') {
        let open = offset_in(line, t);
        let Some((item, after)) = read_quoted(quoted) else {
            return LineParts::Problem {
                at: open,
                message: "the quote that starts here is never closed: end the field with \""
                    .to_string(),
            };
        };
        let after = after.trim_start();
        let note = if after.is_empty() {
            None
        } else if let Some(desc) = after.strip_prefix(',') {
            csv_field(desc)
        } else {
            return LineParts::Problem {
                at: offset_in(line, after),
                message: "text after a closing quote: put a comma between the item and its \
                          description"
                    .to_string(),
            };
        };
        let trimmed = match item {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
        };
        if trimmed.is_empty() {
            return LineParts::Problem {
                at: open,
                message: "the item is empty: write the item before the first comma".to_string(),
            };
        }
        return LineParts::Item {
            item: trimmed,
            at: open + 1,
            note,
        };
    }
    let (field, desc) = match t.find(',') {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    // Without a description the line may still carry a `#` comment, as in a plain file.
    let (field, comment) = match (desc, comment_start(field, kind)) {
        (None, Some(i)) => (&field[..i], non_empty(&field[i + 1..])),
        _ => (field, None),
    };
    let item = field.trim();
    if item.is_empty() {
        return LineParts::Problem {
            at: offset_in(line, t),
            message: "the item is empty: write the item before the first comma".to_string(),
        };
    }
    LineParts::Item {
        item: Cow::Borrowed(item),
        at: offset_in(line, item),
        note: desc.and_then(csv_field).or(comment),
    }
}

/// Reads a quoted CSV field after its opening quote: the unescaped text and what follows the
/// closing quote. `None` when the quote is never closed.
fn read_quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let mut owned: Option<String> = None;
    let mut from = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            if bytes.get(i + 1) == Some(&b'"') {
                owned.get_or_insert_with(String::new).push_str(&s[from..=i]);
                i += 2;
                from = i;
                continue;
            }
            let text = match owned {
                Some(mut o) => {
                    o.push_str(&s[from..i]);
                    Cow::Owned(o)
                }
                None => Cow::Borrowed(&s[..i]),
            };
            return Some((text, &s[i + 1..]));
        }
        i += 1;
    }
    None
}

/// A CSV description field: trimmed, unquoted when quoted, `None` when empty.
fn csv_field(s: &str) -> Option<Cow<'_, str>> {
    let t = s.trim();
    if let Some(q) = t.strip_prefix('"')
        && let Some((text, _)) = read_quoted(q)
    {
        return match text {
            Cow::Borrowed(b) => non_empty(b),
            Cow::Owned(o) => {
                let o = o.trim();
                (!o.is_empty()).then(|| Cow::Owned(o.to_string()))
            }
        };
    }
    non_empty(t)
}

/// Words a CSV header's first field may be, for lists whose items could be any text.
const HEADER_WORDS: &[&str] = &[
    "ip",
    "ips",
    "ip address",
    "address",
    "cidr",
    "network",
    "range",
    "asn",
    "as",
    "item",
    "items",
    "value",
    "entry",
    "host",
    "hostname",
    "domain",
    "string",
    "name",
];

fn is_csv_header(item: &str, kind: ListKind) -> bool {
    let lower = item.to_ascii_lowercase();
    if HEADER_WORDS.contains(&lower.as_str()) {
        return true;
    }
    // An IP or ASN item always has a digit; a field without one that failed to parse is a
    // header, while `1.2.3.999` is a bad first entry that must be reported.
    matches!(kind, ListKind::Ip | ListKind::Asn) && !item.bytes().any(|b| b.is_ascii_digit())
}

/// An item parsed by kind.
enum Parsed<'a> {
    Ip(IpRange),
    Asn(u32),
    Str(Cow<'a, str>),
}

fn parse_item(item: Cow<'_, str>, kind: ListKind) -> Result<Parsed<'_>, String> {
    match kind {
        ListKind::Ip => item
            .parse::<IpRange>()
            .map(Parsed::Ip)
            .map_err(|e| ip_message(&item, &e)),
        ListKind::Asn => parse_asn(&item).map(Parsed::Asn),
        ListKind::String => Ok(Parsed::Str(item)),
        ListKind::Hostname => {
            if let Some(parent) = item.strip_prefix("*.") {
                return Err(format!(
                    "`{}`: host name lists match whole names, so a wildcard would only match \
                     itself; list each name, or match the parent in a rule with \
                     ends_with(http.host, \".{}\")",
                    shorten(&item, 60),
                    shorten(parent, 60)
                ));
            }
            if item.contains(char::is_whitespace) {
                return Err(format!(
                    "`{}` is not a host name: host names have no spaces; put one per line",
                    shorten(&item, 60)
                ));
            }
            let item = match item {
                Cow::Borrowed(s) => Cow::Borrowed(s.strip_suffix('.').unwrap_or(s)),
                Cow::Owned(mut s) => {
                    if s.ends_with('.') {
                        s.pop();
                    }
                    Cow::Owned(s)
                }
            };
            if item.bytes().any(|b| b.is_ascii_uppercase()) {
                Ok(Parsed::Str(Cow::Owned(item.to_ascii_lowercase())))
            } else {
                Ok(Parsed::Str(item))
            }
        }
    }
}

fn looks_like_asn(s: &str) -> bool {
    let digits = if s.len() > 2 && s.is_char_boundary(2) && s[..2].eq_ignore_ascii_case("as") {
        &s[2..]
    } else {
        s
    };
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn ip_message(item: &str, e: &IpEntryError) -> String {
    let shown = shorten(item, 60);
    match e {
        IpEntryError::PrefixLength { .. } => format!("`{shown}`: {e}; fix the prefix length"),
        IpEntryError::BadRange(_) => format!("{e}: swap the two ends"),
        IpEntryError::Syntax(_) => {
            let base = format!(
                "`{shown}` is not an IP address, CIDR (192.0.2.0/24) or range \
                 (192.0.2.1..192.0.2.9)"
            );
            let hint = if looks_like_asn(item) {
                "it looks like an AS number: AS numbers go in a list of kind \"asn\"".to_string()
            } else if item.contains(',') {
                "commas separate an item from its description only in CSV files: name the \
                 file *.csv or set format = \"csv\""
                    .to_string()
            } else if let Some((a, b)) = item.split_once('-')
                && a.trim().parse::<IpAddr>().is_ok()
                && b.trim().parse::<IpAddr>().is_ok()
            {
                format!("write a range with two dots: {}..{}", a.trim(), b.trim())
            } else if let Some((a, port)) = item.rsplit_once(':')
                && a.parse::<std::net::Ipv4Addr>().is_ok()
                && port.bytes().all(|b| b.is_ascii_digit())
            {
                format!("remove the port: write {a}")
            } else if item
                .split(['.', '/'])
                .any(|o| o.len() > 1 && o.starts_with('0'))
                && item.contains('.')
                && !item.contains(':')
            {
                "remove the leading zeros from the numbers (010.0.0.1 is ambiguous)".to_string()
            } else {
                "fix the entry or delete the line".to_string()
            };
            format!("{base}; {hint}")
        }
    }
}

fn parse_asn(item: &str) -> Result<u32, String> {
    let shown = shorten(item, 60);
    let digits =
        if item.len() >= 2 && item.is_char_boundary(2) && item[..2].eq_ignore_ascii_case("as") {
            &item[2..]
        } else {
            item
        };
    if digits.is_empty() {
        return Err(format!(
            "`{shown}` needs a number after AS, for example AS13335"
        ));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        if item.parse::<IpRange>().is_ok() {
            return Err(format!(
                "`{shown}` is an IP address, not an AS number: IP addresses go in a list of \
                 kind \"ip\""
            ));
        }
        return Err(format!(
            "`{shown}` is not an AS number: write it as 13335 or AS13335"
        ));
    }
    match digits.parse::<u64>() {
        Ok(n) if n <= u64::from(u32::MAX) => Ok(n as u32),
        _ => Err(format!(
            "`{shown}` is too large for an AS number (at most 4294967295): check the number"
        )),
    }
}

fn shorten(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

/// An accepted IP item remembered for the entry index: where its line is, so that the index
/// can re-read the text only if the list turns out small enough to be indexed.
pub(crate) struct Pending {
    pub(crate) range: IpRange,
    pub(crate) line: u32,
    pub(crate) line_start: usize,
}

/// Collects items and problems line by line.
struct Builder<'t> {
    kind: ListKind,
    format: ListFormat,
    file: Arc<str>,
    /// IPv4 and IPv6 apart: 8 bytes per IPv4 entry instead of an `IpRange`'s 48, which matters
    /// at a million entries.
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    ints: Vec<(i64, i64)>,
    strings: Vec<Cow<'t, str>>,
    entries: usize,
    problems: Vec<LineProblem>,
    bad_lines: usize,
    /// `None` once the list has more entries than [`ENTRY_INDEX_MAX`].
    pending: Option<Vec<Pending>>,
    seen_content: bool,
}

impl<'t> Builder<'t> {
    fn new(kind: ListKind, format: ListFormat, source: &str) -> Builder<'t> {
        Builder {
            kind,
            format,
            file: Arc::from(source),
            v4: Vec::new(),
            v6: Vec::new(),
            ints: Vec::new(),
            strings: Vec::new(),
            entries: 0,
            problems: Vec::new(),
            bad_lines: 0,
            pending: (kind == ListKind::Ip).then(Vec::new),
            seen_content: false,
        }
    }

    fn line(&mut self, number: usize, line: &'t str, line_start: usize) {
        let parts = split_line(line, self.format, self.kind);
        self.parts(number, line, line_start, parts);
    }

    /// An inline item: the whole line is the item (no comments, no CSV).
    fn item_line(&mut self, number: usize, line: &'t str, line_start: usize) {
        let item = line.trim();
        let parts = if item.is_empty() {
            LineParts::Problem {
                at: 0,
                message: "the item is empty: remove it or write a value".to_string(),
            }
        } else {
            LineParts::Item {
                item: Cow::Borrowed(item),
                at: offset_in(line, item),
                note: None,
            }
        };
        self.parts(number, line, line_start, parts);
    }

    fn parts(&mut self, number: usize, line: &'t str, line_start: usize, parts: LineParts<'t>) {
        let first_content = !self.seen_content;
        match parts {
            LineParts::Skip => {}
            LineParts::Problem { at, message } => {
                self.seen_content = true;
                self.problem(number, line, at, message);
            }
            LineParts::Item { item, at, .. } => {
                self.seen_content = true;
                // Only the first line of a CSV file can be a header; strings would parse as
                // items, so for them the header is recognised by its words alone.
                let header_like = first_content
                    && self.format == ListFormat::Csv
                    && is_csv_header(&item, self.kind);
                if header_like && matches!(self.kind, ListKind::String | ListKind::Hostname) {
                    return;
                }
                match parse_item(item, self.kind) {
                    Ok(p) => self.accept(p, number, line_start),
                    Err(_) if header_like => {}
                    Err(message) => self.problem(number, line, at, message),
                }
            }
        }
    }

    fn accept(&mut self, parsed: Parsed<'t>, number: usize, line_start: usize) {
        self.entries += 1;
        match parsed {
            Parsed::Ip(r) => {
                match r {
                    IpRange::V4(a, b) => self.v4.push((a, b)),
                    IpRange::V6(a, b) => self.v6.push((a, b)),
                }
                if let Some(p) = &mut self.pending {
                    if p.len() < ENTRY_INDEX_MAX {
                        p.push(Pending {
                            range: r,
                            line: u32::try_from(number).unwrap_or(u32::MAX),
                            line_start,
                        });
                    } else {
                        self.pending = None;
                    }
                }
            }
            Parsed::Asn(n) => self.ints.push((i64::from(n), i64::from(n))),
            Parsed::Str(s) => self.strings.push(s),
        }
    }

    fn problem(&mut self, number: usize, line: &str, at: usize, message: String) {
        self.bad_lines += 1;
        if self.problems.len() >= MAX_PROBLEMS {
            return;
        }
        let at = at.min(line.len());
        let column = line.get(..at).map_or(1, |s| s.chars().count() + 1);
        let trimmed = line.trim();
        self.problems.push(LineProblem {
            file: Arc::clone(&self.file),
            line: number,
            column,
            text: shorten(trimmed, MAX_PROBLEM_TEXT).into_owned(),
            message,
        });
    }

    fn finish(self, text: &str) -> LoadedList {
        let (format, kind) = (self.format, self.kind);
        let entry_index = self.pending.map(|pending| {
            let entries = pending.into_iter().map(|p| {
                let rest = &text[p.line_start..];
                let line = rest.split('\n').next().unwrap_or("");
                let line = line.strip_suffix('\r').unwrap_or(line);
                let (item, note) = match split_line(line, format, kind) {
                    LineParts::Item { item, note, .. } => (item, note),
                    // Inline items were not split by format; their whole line is the item.
                    _ => (Cow::Borrowed(line.trim()), None),
                };
                (p.range, p.line, item, note)
            });
            Arc::new(IpEntryIndex::build(entries))
        });
        let items = match kind {
            ListKind::Ip => {
                let v4 = self.v4.into_iter().map(|(a, b)| IpRange::V4(a, b));
                let v6 = self.v6.into_iter().map(|(a, b)| IpRange::V6(a, b));
                ListItems::Ip(Arc::new(IpRangeSet::from_ranges(v4.chain(v6))))
            }
            ListKind::Asn => ListItems::Asn(Arc::new(IntSet::new(self.ints))),
            ListKind::String | ListKind::Hostname => ListItems::String(Arc::new(StringSet::new(
                self.strings.iter().map(|s| s.as_bytes()),
            ))),
        };
        LoadedList {
            source: self.file.to_string(),
            path: None,
            kind,
            format,
            items,
            entries: self.entries,
            problems: self.problems,
            bad_lines: self.bad_lines,
            modified: None,
            entry_index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn plain_splits_comments_and_tokens() {
        let l = parse_list(
            "# header\n\n192.0.2.0/24 # office\n198.51.100.7;x\n203.0.113.0/24 ; SBL1\n",
            ListKind::Ip,
            ListFormat::Plain,
            "t",
        );
        assert_eq!(l.entries, 2, "{:?}", l.problems);
        assert_eq!(l.bad_lines, 1);
        assert_eq!(l.problems[0].line, 4);
        assert!(l.contains_ip(ip("192.0.2.9")));
        assert!(l.contains_ip(ip("203.0.113.9")));
        let m = l.matching_entry(ip("192.0.2.9")).unwrap();
        assert_eq!(
            (m.line, m.item, m.note),
            (3, "192.0.2.0/24", Some("office"))
        );
        let m = l.matching_entry(ip("203.0.113.1")).unwrap();
        assert_eq!(m.note, Some("SBL1"));
    }

    #[test]
    fn string_comments_need_whitespace_before_hash() {
        let l = parse_list(
            "a#b\nc # note\n#whole\n",
            ListKind::String,
            ListFormat::Plain,
            "t",
        );
        assert_eq!(l.entries, 2);
        assert!(l.contains_str("a#b"));
        assert!(l.contains_str("c"));
    }

    #[test]
    fn quoted_csv_fields() {
        let (item, rest) = read_quoted(r#"a""b",x"#).unwrap();
        assert_eq!((item.as_ref(), rest), ("a\"b", ",x"));
        assert!(read_quoted("abc").is_none());
        assert_eq!(csv_field(r#" "x, ""y""" "#).as_deref(), Some("x, \"y\""));
        assert_eq!(csv_field("  "), None);
    }

    #[test]
    fn format_by_extension() {
        let f = |p: &str| ListFormat::Auto.resolve(Some(Path::new(p)));
        assert_eq!(f("a/b.CSV"), ListFormat::Csv);
        assert_eq!(f("x.netset"), ListFormat::Netset);
        assert_eq!(f("x.ipset"), ListFormat::Netset);
        assert_eq!(f("x.txt"), ListFormat::Plain);
        assert_eq!(f("noext"), ListFormat::Plain);
        assert_eq!(
            ListFormat::Plain.resolve(Some(Path::new("x.csv"))),
            ListFormat::Plain
        );
    }

    #[test]
    fn names_round_trip() {
        for k in ListKind::ALL {
            assert_eq!(k.name().parse::<ListKind>().unwrap(), k);
        }
        for f in ListFormat::ALL {
            assert_eq!(f.to_string().parse::<ListFormat>().unwrap(), f);
        }
        let e = "ips".parse::<ListKind>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown list kind `ips`: use one of ip, asn, string, hostname"
        );
    }
}
