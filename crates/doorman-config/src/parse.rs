//! Stage one: text to [`RawConfig`], collecting every syntax and shape error on the way.
//!
//! serde stops at the first error, but an operator wants to see all of a file's problems in one
//! run. So the file is parsed once into a tree that remembers where every key and value sits,
//! then deserialized; when that fails, the error is recorded (with its position, rewritten into
//! plain words), the key it is about (or the one bad element of an array of plain values) is cut
//! out of the tree, and deserialization is tried again,
//! up to [`MAX_ERRORS`] times. Cutting from the tree rather than the text keeps every other
//! position exact. Because every raw key is either defaulted or an `Option`, removing a key never
//! turns into a new "missing field" error of its own.
//!
//! Syntax errors are different: after one, the parser's guess at the rest of the file is often
//! wrong, and the shape errors that guess would produce are noise. So all syntax errors are
//! reported, and checking stops there.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use crate::diag::Sink;
use crate::raw::RawConfig;
use crate::schema::{self, Section};
use crate::suggest;

/// Stop collecting shape errors after this many; a file this broken is probably not a config.
pub const MAX_ERRORS: usize = 100;

/// The outcome of stage one, input to the compiler.
#[derive(Debug)]
pub(crate) struct Parsed {
    /// The file's values, with broken keys left at their defaults.
    pub raw: RawConfig,
    /// Where each key and value is, by path.
    pub index: SpanIndex,
    /// Paths already reported on (keys cut out, keys a typo most likely meant), so the compiler
    /// does not report them again as missing.
    pub reported: HashSet<String>,
}

/// Where a key and its value are in the file.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The key's span; `None` for array elements.
    pub key: Option<Range<usize>>,
    /// The value's span. For a `[table]` or `[[table]]` this is its header.
    pub value: Range<usize>,
}

/// Spans by path: `server.node_name`, `routes.2.upstream`, `routes.2.hosts.0`.
#[derive(Debug, Default)]
pub(crate) struct SpanIndex {
    entries: HashMap<String, Entry>,
}

impl SpanIndex {
    fn build(root: &DeTable<'_>) -> SpanIndex {
        let mut index = SpanIndex::default();
        index.add_table("", root);
        index
    }

    fn add_table(&mut self, path: &str, table: &DeTable<'_>) {
        for (k, v) in table.iter() {
            let p = child(path, k.get_ref());
            self.entries.insert(
                p.clone(),
                Entry {
                    key: Some(k.span()),
                    value: v.span(),
                },
            );
            self.add_value(&p, v.get_ref());
        }
    }

    fn add_value(&mut self, path: &str, value: &DeValue<'_>) {
        match value {
            DeValue::Table(t) => self.add_table(path, t),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = child(path, i);
                    self.entries.insert(
                        p.clone(),
                        Entry {
                            key: None,
                            value: item.span(),
                        },
                    );
                    self.add_value(&p, item.get_ref());
                }
            }
            _ => {}
        }
    }

    /// Whether the file wrote this path.
    pub fn has(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    /// The value's span, or the nearest enclosing one's, or the file's start.
    pub fn value(&self, path: &str) -> Range<usize> {
        let mut p = path;
        loop {
            if let Some(e) = self.entries.get(p) {
                return e.value.clone();
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return 0..0,
            }
        }
    }

    /// The key's span when the file wrote one, else as [`SpanIndex::value`].
    pub fn key(&self, path: &str) -> Range<usize> {
        match self.entries.get(path) {
            Some(Entry { key: Some(k), .. }) => k.clone(),
            _ => self.value(path),
        }
    }
}

/// `routes` + `2` → `routes.2`; the top level is the empty path.
pub(crate) fn child(parent: &str, segment: impl std::fmt::Display) -> String {
    if parent.is_empty() {
        segment.to_string()
    } else {
        format!("{parent}.{segment}")
    }
}

/// Parses and deserializes `text`, reporting into `sink`. `None` when the file could not be
/// read into a [`RawConfig`] at all (syntax errors, or an error that could not be cut out).
pub(crate) fn parse(sink: &mut Sink<'_>) -> Option<Parsed> {
    let text = sink.text();
    let (mut root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for e in &syntax_errors {
            report_syntax_error(sink, e);
        }
        return None;
    }
    crate::env::substitute(root.get_mut(), sink, &|name| std::env::var(name).ok());
    let mut reported = HashSet::new();
    for _ in 0..MAX_ERRORS {
        let de = toml::de::Deserializer::from(root.clone());
        let err = match RawConfig::deserialize(de) {
            Ok(raw) => {
                return Some(Parsed {
                    raw,
                    index: SpanIndex::build(root.get_ref()),
                    reported,
                });
            }
            Err(e) => e,
        };
        let Some(span) = err.span() else {
            sink.push(
                crate::diag::Severity::Error,
                None,
                err.message().to_owned(),
                None,
            );
            return None;
        };
        let Some(cut) = cut_at(root.get_mut(), "", &span) else {
            sink.error(span, err.message().to_owned(), None);
            return None;
        };
        report_shape_error(sink, err.message(), &span, &cut, &mut reported);
    }
    sink.set_truncated();
    None
}

/// A key (or one element of an array of plain values) cut out of the tree because
/// deserialization failed on it.
struct Cut {
    /// Its full path (an element's ends in its index).
    path: String,
    /// The key as written (for an element, its array's key).
    key: String,
    /// What the removed value was, in words (`integer 1`, `an array`).
    found: String,
    /// Whether the removed value was an array or a table.
    shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Scalar,
    Array,
    Table,
}

fn describe(value: &DeValue<'_>) -> (String, Shape) {
    match value {
        DeValue::String(s) => (format!("string {s:?}"), Shape::Scalar),
        DeValue::Integer(i) => (format!("integer {i}"), Shape::Scalar),
        DeValue::Float(f) => (format!("float {f}"), Shape::Scalar),
        DeValue::Boolean(b) => (format!("boolean {b}"), Shape::Scalar),
        DeValue::Datetime(d) => (format!("date-time {d}"), Shape::Scalar),
        DeValue::Array(_) => ("an array".to_owned(), Shape::Array),
        DeValue::Table(_) => ("a table".to_owned(), Shape::Table),
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Removes the innermost table entry whose key or value contains `span`.
fn cut_at<'i>(table: &mut DeTable<'i>, path: &str, span: &Range<usize>) -> Option<Cut> {
    let mut hit = None;
    for (k, v) in table.iter_mut() {
        if contains(&k.span(), span) {
            hit = Some(k.get_ref().to_string());
            break;
        }
        // A table's own span is only its header, so its body must be searched regardless.
        let p = child(path, k.get_ref());
        if let Some(cut) = cut_inside(v.get_mut(), &p, span) {
            return Some(cut);
        }
        if contains(&v.span(), span) {
            hit = Some(k.get_ref().to_string());
            break;
        }
    }
    let key = hit?;
    let value = table.remove(key.as_str())?;
    let (found, shape) = describe(value.get_ref());
    Some(Cut {
        path: child(path, &key),
        key,
        found,
        shape,
    })
}

fn cut_inside<'i>(value: &mut DeValue<'i>, path: &str, span: &Range<usize>) -> Option<Cut> {
    match value {
        DeValue::Table(t) => cut_at(t, path, span),
        DeValue::Array(items) => {
            // In an array of plain values, only the bad element goes, so that the others are
            // still checked in this run (`items = [64500, "ASx", true]` reports both bad ones).
            // The last element is not cut on its own: an array left empty would draw a second,
            // misleading "is empty" error, so then the whole key goes. Arrays of tables are cut
            // whole as before, because removing one would renumber the tables after it.
            let scalars = items
                .iter()
                .all(|item| !matches!(item.get_ref(), DeValue::Array(_) | DeValue::Table(_)));
            if scalars && items.len() > 1 {
                let i = items.iter().position(|item| contains(&item.span(), span))?;
                // `DeArray` has no `remove`; rebuild it without the element (an array of plain
                // values, so the array-of-tables flag that a rebuild drops does not apply).
                let old = std::mem::replace(items, toml::de::DeArray::new());
                let mut removed = None;
                for (j, item) in old.into_iter().enumerate() {
                    if j == i {
                        removed = Some(item);
                    } else {
                        items.push(item);
                    }
                }
                let (found, shape) = describe(removed?.get_ref());
                return Some(Cut {
                    path: child(path, i),
                    key: crate::compile::key_of(path).to_owned(),
                    found,
                    shape,
                });
            }
            items
                .iter_mut()
                .enumerate()
                .find_map(|(i, item)| cut_inside(item.get_mut(), &child(path, i), span))
        }
        _ => None,
    }
}

/// The table part of a key's path: `routes.2.upstream` → `routes.2`.
fn parent(path: &str) -> &str {
    path.rfind('.').map_or("", |i| &path[..i])
}

fn section_phrase(section: Option<&Section>, table_path: &str) -> String {
    match section {
        Some(s) if s.pattern.is_empty() => "at the top level".to_owned(),
        Some(s) => format!("in {}", s.display),
        None => format!("in `{table_path}`"),
    }
}

fn report_shape_error(
    sink: &mut Sink<'_>,
    message: &str,
    span: &Range<usize>,
    cut: &Cut,
    reported: &mut HashSet<String>,
) {
    reported.insert(cut.path.clone());
    let key = &cut.key;
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let table_path = parent(&cut.path);
        let section = schema::section_for(table_path);
        let known: Vec<&str> = match &section {
            Some(s) => s.keys.to_vec(),
            // Not expected (every table has a section), but serde's own list is still right.
            None => backticked(rest).into_iter().skip(1).collect(),
        };
        let hint = match suggest::nearest(key, known.iter().copied()) {
            Some(near) => {
                // The typo most likely was this key; do not also call it missing.
                reported.insert(child(table_path, near));
                Some(format!(
                    "did you mean `{near}`? (valid keys: {})",
                    known.join(", ")
                ))
            }
            None => Some(match home_of(key) {
                Some(home) => format!("`{key}` belongs in {home}"),
                None => format!("valid keys: {}", known.join(", ")),
            }),
        };
        sink.error(
            span.clone(),
            format!(
                "unknown key `{key}` {}",
                section_phrase(section.as_ref(), table_path)
            ),
            hint,
        );
        return;
    }

    // A whole section of the wrong shape (`[listeners]` for `[[listeners]]`): serde's words for
    // this are confusing (a struct may be read from an array), so say it from the schema.
    let pattern = schema::pattern_of(&cut.path);
    let sections = schema::sections();
    let table_section = sections.iter().find(|s| s.pattern == pattern);
    let array_section = sections
        .iter()
        .find(|s| s.pattern.strip_suffix(".*") == Some(pattern.as_str()));
    if let Some(s) = table_section.filter(|_| cut.shape != Shape::Table) {
        let hint = (cut.shape == Shape::Array)
            .then(|| format!("write {} with single brackets, once", s.display));
        sink.error(
            span.clone(),
            format!(
                "invalid value for `{key}`: expected a table, found {}",
                cut.found
            ),
            hint,
        );
        return;
    }
    if let Some(s) = array_section.filter(|_| cut.shape != Shape::Array) {
        let hint = (cut.shape == Shape::Table).then(|| {
            format!(
                "write each entry as its own {} table (double brackets)",
                s.display
            )
        });
        sink.error(
            span.clone(),
            format!(
                "invalid value for `{key}`: expected an array, found {}",
                cut.found
            ),
            hint,
        );
        return;
    }

    if let Some(words) =
        schema::enum_key(&pattern).filter(|_| !message.starts_with("unknown variant `"))
    {
        let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
        sink.error(
            span.clone(),
            format!(
                "invalid value for `{key}`: expected one of {}, found {}",
                quoted.join(", "),
                cut.found
            ),
            Some(format!(
                "write one of these words in quotes: {}",
                words.join(", ")
            )),
        );
        return;
    }

    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let words = backticked(rest);
        let found = words.first().copied().unwrap_or_default();
        let allowed: Vec<&str> = words.iter().skip(1).copied().collect();
        let quoted: Vec<String> = allowed.iter().map(|w| format!("\"{w}\"")).collect();
        let hint = suggest::nearest(found, allowed.iter().copied())
            .map(|near| format!("did you mean \"{near}\"?"));
        sink.error(
            span.clone(),
            format!(
                "invalid value for `{key}`: expected one of {}, found \"{found}\"",
                quoted.join(", ")
            ),
            hint,
        );
        return;
    }

    let body = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    if let Some((unexpected, expected)) = body.and_then(|b| b.split_once(", expected ")) {
        let expected_words = friendly_expected(expected);
        // serde sees a date-time as a map; the removed value knows better.
        let found = if unexpected.trim() == "map" && cut.shape == Shape::Scalar {
            cut.found.clone()
        } else {
            friendly_found(unexpected)
        };
        let hint = value_hint(key, unexpected, expected);
        sink.error(
            span.clone(),
            format!("invalid value for `{key}`: expected {expected_words}, found {found}"),
            hint,
        );
        return;
    }

    sink.error(
        span.clone(),
        format!("invalid value for `{key}`: {message}"),
        None,
    );
}

/// The sections other than the top level that accept `key`, for "`x` belongs in [limits]".
fn home_of(key: &str) -> Option<&'static str> {
    schema::sections()
        .into_iter()
        .filter(|s| !s.pattern.is_empty())
        .find(|s| s.keys.contains(&key))
        .map(|s| s.display)
}

/// The words between backticks in a serde message, in order.
fn backticked(text: &str) -> Vec<&str> {
    // Whatever precedes the first backtick belongs to the first word when the message was
    // already cut right after an opening backtick.
    let mut out = Vec::new();
    let mut parts = text.split('`');
    if let Some(first) = parts.next() {
        out.push(first);
    }
    // After the first word, words sit at every other part.
    for (i, part) in parts.enumerate() {
        if i % 2 == 1 {
            out.push(part);
        }
    }
    out
}

/// serde's name for what it wanted, in an operator's words.
fn friendly_expected(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "an array".to_owned(),
        "path string" => "a string (a file path)".to_owned(),
        _ if e.starts_with("struct ") => "a table".to_owned(),
        _ => e.to_owned(),
    }
}

/// serde's description of what it found (`integer `3``) in an operator's words.
fn friendly_found(unexpected: &str) -> String {
    match unexpected.trim() {
        "sequence" => "an array".to_owned(),
        "map" => "a table".to_owned(),
        u => u
            .replace("floating point", "float")
            .replace('`', "")
            .to_owned(),
    }
}

/// The inner text of serde's `string "…"` description.
fn found_string(unexpected: &str) -> Option<&str> {
    unexpected
        .trim()
        .strip_prefix("string \"")?
        .strip_suffix('"')
}

/// A helpful next step for a value of the wrong type, from the key's name and what was found.
fn value_hint(key: &str, unexpected: &str, expected: &str) -> Option<String> {
    let expected = expected.trim();
    let numeric = matches!(expected, "u8" | "u16" | "u32" | "u64" | "u128" | "usize");
    let u = unexpected.trim();
    if numeric {
        if let Some(s) = found_string(u) {
            if let Ok(n) = s.trim().parse::<u64>() {
                return Some(format!("numbers are written without quotes: {key} = {n}"));
            }
            return Some(unit_hint(key, s));
        }
        if u.starts_with("integer `-") {
            return Some("negative numbers are not allowed here".to_owned());
        }
        if u.starts_with("floating point") {
            return Some(unit_hint(key, ""));
        }
        return None;
    }
    if expected == "a boolean" {
        return Some(format!(
            "write {key} = true or {key} = false, without quotes"
        ));
    }
    if matches!(expected, "a string" | "path string")
        && (u.starts_with("integer") || u.starts_with("boolean") || u.starts_with("floating"))
    {
        let bare = friendly_found(u);
        let bare = bare.split_once(' ').map_or(bare.as_str(), |(_, v)| v);
        return Some(format!("text is written in quotes: \"{bare}\""));
    }
    if expected == "a sequence"
        && let Some(s) = found_string(u)
    {
        return Some(format!("write a list: {key} = [\"{s}\"]"));
    }
    None
}

/// "write the size in bytes, e.g. 10485760", using what the person wrote when it is a size or
/// duration with a unit.
pub(crate) fn unit_hint(key: &str, written: &str) -> String {
    if key.ends_with("_bytes") {
        let example = parse_size(written).unwrap_or(16_384);
        format!("write the size in bytes, e.g. {example}")
    } else if key.ends_with("_ms") {
        let example = doorman_common::when::parse_duration_ms(written).unwrap_or(2_000);
        format!("write the duration in milliseconds, e.g. {example}")
    } else if key.ends_with("_secs") {
        let example = doorman_common::when::parse_duration_ms(written).map_or(30, |ms| ms / 1000);
        format!("write the duration in seconds, e.g. {example}")
    } else if key.ends_with("_days") {
        "write a whole number of days, e.g. 30".to_owned()
    } else {
        "write a whole number, e.g. 100".to_owned()
    }
}

/// Splits `10MB` / `1.5 s` into number and lower-case unit.
fn number_and_unit(text: &str) -> Option<(f64, String)> {
    let t = text.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let number: f64 = t[..end].replace('_', "").parse().ok()?;
    Some((number, t[end..].trim().to_ascii_lowercase()))
}

/// `10MB`, `16k`, `1 GiB` → bytes (binary multiples, as memory and body sizes are usually meant).
fn parse_size(text: &str) -> Option<u64> {
    let (n, unit) = number_and_unit(text)?;
    let scale: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    Some((n * scale as f64).round() as u64)
}

fn report_syntax_error(sink: &mut Sink<'_>, e: &toml::de::Error) {
    let text = sink.text();
    let Some(span) = e.span() else {
        sink.push(
            crate::diag::Severity::Error,
            None,
            format!("invalid TOML: {}", e.message()),
            None,
        );
        return;
    };
    let snippet = text.get(span.clone()).unwrap_or_default();
    let message = e.message();
    if message.starts_with("duplicate key") {
        let is_header = text[..span.start.min(text.len())].trim_end().ends_with('[');
        let (msg, hint) = if is_header {
            (
                format!("duplicate table [{snippet}]"),
                format!(
                    "each table may appear once; for a list of entries write [[{snippet}]] for each"
                ),
            )
        } else {
            (
                format!("duplicate key `{snippet}`"),
                "a key may appear once per table; remove one of them".to_owned(),
            )
        };
        sink.error(span, msg, Some(hint));
        return;
    }
    if message.starts_with("string values must be quoted") {
        let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let key = text[line_start..span.start]
            .split('=')
            .next()
            .unwrap_or_default()
            .trim();
        let numeric_key = ["_bytes", "_ms", "_secs", "_days"]
            .iter()
            .any(|s| key.ends_with(s));
        let hint = if numeric_key {
            unit_hint(key, snippet)
        } else {
            format!("text is written in quotes: \"{snippet}\"")
        };
        sink.error(span, format!("unquoted value `{snippet}`"), Some(hint));
        return;
    }
    sink.error(span, format!("invalid TOML: {message}"), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_convert_for_hints() {
        assert_eq!(parse_size("10MB"), Some(10_485_760));
        assert_eq!(parse_size("16 KiB"), Some(16_384));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(
            unit_hint("max_body_bytes", "10MB"),
            "write the size in bytes, e.g. 10485760"
        );
        assert_eq!(
            unit_hint("shutdown_grace_secs", "1m"),
            "write the duration in seconds, e.g. 60"
        );
    }

    #[test]
    fn backticked_words_come_out_in_order() {
        assert_eq!(
            backticked("opn`, expected `open` or `closed`"),
            vec!["opn", "open", "closed"]
        );
        assert_eq!(
            backticked("x`, expected one of `a`, `b`, `c`"),
            vec!["x", "a", "b", "c"]
        );
    }

    #[test]
    fn span_index_falls_back_to_enclosing_values() {
        let text = "[[routes]]\nname = \"a\"\nhosts = [\"x\", \"y\"]\n";
        let mut sink = Sink::new("t.toml", text);
        let parsed = parse(&mut sink).expect("parses");
        assert!(parsed.index.has("routes.0.hosts.1"));
        assert_eq!(&text[parsed.index.value("routes.0.hosts.1")], "\"y\"");
        assert_eq!(&text[parsed.index.key("routes.0.name")], "name");
        // Not written: the route's header stands in.
        assert_eq!(&text[parsed.index.value("routes.0.upstream")], "[[routes]]");
        assert_eq!(parsed.index.value("nothing"), 0..0);
    }
}
