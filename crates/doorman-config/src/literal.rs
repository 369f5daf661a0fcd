//! Where each character of a string value sits in the file, so that an error found *inside* a
//! string (a rules-language expression) can be reported at its own `line:col` rather than at the
//! opening quote.
//!
//! The rules compiler reports byte offsets into the decoded string; the file holds the string as
//! written: between quotes, with escapes (`\"`, `\u00e9`), and for multi-line strings after a
//! newline that TOML drops. [`content_offsets`] walks the literal once, decoding it the way TOML
//! does, and records for every decoded byte the file byte it came from. An escape maps to its
//! backslash, a line-ending backslash (which TOML removes with the whitespace after it) maps to
//! nothing, so positions are exact for every string form, escapes included.
//!
//! The walk is checked against the value the TOML parser produced; if they ever differ (a string
//! form this walk does not know), the caller gets `None` and falls back to the string's start,
//! which is never wrong, only less precise.

/// For each byte of the decoded string, the offset within `raw` of the text it came from, plus
/// one entry for the end of the content. `raw` is the value's text in the file, quotes included;
/// `value` is what the TOML parser decoded from it. `None` when `raw` is not a string literal or
/// decoding it here does not give `value`.
pub(crate) fn content_offsets(raw: &str, value: &str) -> Option<Vec<usize>> {
    let multi_line = raw.starts_with("'''") || raw.starts_with("\"\"\"");
    let basic = raw.starts_with('"');
    if !basic && !raw.starts_with('\'') {
        return None;
    }
    let quotes = if multi_line { 3 } else { 1 };
    if raw.len() < 2 * quotes {
        return None;
    }
    let mut start = quotes;
    if multi_line {
        // TOML drops a newline right after the opening quotes, so the content starts on the
        // next line.
        if raw[start..].starts_with("\r\n") {
            start += 2;
        } else if raw[start..].starts_with('\n') {
            start += 1;
        }
    }
    let end = raw.len() - quotes;
    let body = raw.get(start..end)?;

    let mut decoded = String::with_capacity(body.len());
    let mut offsets = Vec::with_capacity(body.len() + 1);
    let mut i = 0;
    while i < body.len() {
        let c = body[i..].chars().next()?;
        if !(basic && c == '\\') {
            decoded.push(c);
            offsets.extend((0..c.len_utf8()).map(|k| start + i + k));
            i += c.len_utf8();
            continue;
        }
        let rest = &body[i + 1..];
        let escape = rest.chars().next()?;
        let (ch, len) = match escape {
            'b' => ('\u{8}', 2),
            'e' => ('\u{1b}', 2),
            'f' => ('\u{c}', 2),
            'n' => ('\n', 2),
            'r' => ('\r', 2),
            't' => ('\t', 2),
            '\\' => ('\\', 2),
            '"' => ('"', 2),
            'x' => (hex_char(rest.get(1..3)?)?, 4),
            'u' => (hex_char(rest.get(1..5)?)?, 6),
            'U' => (hex_char(rest.get(1..9)?)?, 10),
            ' ' | '\t' | '\r' | '\n' if multi_line => {
                // A line-ending backslash: TOML removes it and all whitespace and newlines
                // after it.
                let skipped = rest
                    .find(|c: char| !matches!(c, ' ' | '\t' | '\r' | '\n'))
                    .unwrap_or(rest.len());
                i += 1 + skipped;
                continue;
            }
            _ => return None,
        };
        decoded.push(ch);
        offsets.extend((0..ch.len_utf8()).map(|_| start + i));
        i += len;
    }
    offsets.push(end);
    (decoded == value).then_some(offsets)
}

fn hex_char(digits: &str) -> Option<char> {
    u32::from_str_radix(digits, 16)
        .ok()
        .and_then(char::from_u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The raw text at the offset recorded for the decoded byte where `needle` starts.
    fn raw_at<'r>(raw: &'r str, value: &str, needle: &str) -> &'r str {
        let offsets = content_offsets(raw, value).expect("maps");
        &raw[offsets[value.find(needle).expect("needle in value")]..]
    }

    #[test]
    fn plain_strings_map_one_to_one() {
        assert!(raw_at(r#""ab c""#, "ab c", "c").starts_with("c\""));
        assert!(raw_at("'a\\b c'", "a\\b c", "c").starts_with("c'"));
        let offsets = content_offsets("\"é x\"", "é x").unwrap();
        // Both bytes of `é` map into it; the end maps to the closing quote.
        assert_eq!(offsets, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn escapes_map_to_their_backslash() {
        let raw = r#""a \"b\" \u00e9 \x41 z""#;
        let value = "a \"b\" é A z";
        assert!(raw_at(raw, value, "b").starts_with("b\\\""));
        assert!(raw_at(raw, value, "é").starts_with("\\u00e9"));
        assert!(raw_at(raw, value, "A").starts_with("\\x41"));
        assert!(raw_at(raw, value, "z").starts_with("z\""));
    }

    #[test]
    fn multi_line_strings_skip_the_first_newline_and_escaped_newlines() {
        let raw = "'''\nline one\n  line two'''";
        assert!(raw_at(raw, "line one\n  line two", "line two").starts_with("line two'''"));
        let raw = "\"\"\"\r\nab \\\n    cd\"\"\"";
        assert!(raw_at(raw, "ab cd", "cd").starts_with("cd\"\"\""));
        let raw = "'''no newline'''";
        assert!(raw_at(raw, "no newline", "newline").starts_with("newline'''"));
    }

    #[test]
    fn a_mismatch_or_a_non_string_gives_none() {
        assert_eq!(content_offsets("\"abc\"", "abd"), None);
        assert_eq!(content_offsets("12", "12"), None);
        assert_eq!(content_offsets("\"bad \\q\"", "bad \\q"), None);
    }
}
