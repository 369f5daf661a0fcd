//! Canonical text for literals: how strings, regexes and values are written back out in
//! normalized expressions, explanations and error hints.
//!
//! The output always parses back to the same value. It does not decide operator spelling or
//! spacing; the parser builds those while it parses.

use std::fmt;

/// Writes `b` as a double-quoted string literal, escaping `"`, `\` and non-printable bytes.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, b: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        for &byte in chunk.invalid() {
            write!(f, "\\x{byte:02x}")?;
        }
    }
    f.write_char('"')
}

/// `b` as a quoted string literal.
pub(crate) fn quote_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    let _ = write_quoted(&mut s, b);
    s
}

/// A regex pattern as a raw string literal, with as many `#` as it needs.
pub(crate) fn quote_regex(pat: &str) -> String {
    let mut hashes = 0;
    while pat.contains(&format!("\"{}", "#".repeat(hashes))) {
        hashes += 1;
    }
    let h = "#".repeat(hashes);
    format!("r{h}\"{pat}\"{h}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_bytes(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote_bytes(b"\x00\xff"), r#""\x00\xff""#);
        assert_eq!(quote_bytes("é".as_bytes()), "\"é\"");
        assert_eq!(quote_regex(r"^/a\.b$"), r#"r"^/a\.b$""#);
        assert_eq!(quote_regex(r#"a"b"#), r##"r#"a"b"#"##);
        assert_eq!(quote_regex(r##"a"#b"##), r###"r##"a"#b"##"###);
    }
}
