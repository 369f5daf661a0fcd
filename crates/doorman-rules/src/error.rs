//! Compile errors a person can act on: where (line, column, a caret under the spot), what, and
//! a hint for the usual fix.
//!
//! Every error is a [`RuleError`]. Its `Display` prints the offending line of the expression, a
//! caret line and the message; `kind` lets tools and tests tell errors apart without parsing
//! text. Runtime evaluation has no errors: a value that cannot be computed is missing.

use std::fmt::Write as _;

/// What went wrong, for programs (the text is for people).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Malformed text: unexpected character, missing parenthesis, bad escape…
    Syntax,
    /// A name that is neither a field nor a function.
    UnknownField,
    /// A Cloudflare field that Doorman cannot provide.
    UnsupportedField,
    /// A function name not known here.
    UnknownFunction,
    /// `$name` not in the list registry.
    UnknownList,
    /// An operator or argument used with a value of the wrong type.
    Type,
    /// A literal that does not parse (integer overflow, bad IP, bad CIDR…).
    Literal,
    /// The expression is longer than [`crate::MAX_EXPRESSION_LEN`].
    TooLong,
    /// Parentheses, `not` or calls nested deeper than [`crate::MAX_NESTING_DEPTH`].
    TooDeep,
    /// More regular expressions than [`crate::MAX_REGEXES`] in one expression.
    TooManyRegexes,
    /// A regex that does not compile, or is too big once compiled.
    Regex,
    /// A wildcard pattern with `**` or a bad escape.
    Wildcard,
    /// The whole expression does not yield a Boolean.
    NotBoolean,
    /// Wrong number of function arguments, or an argument that must be a literal is not.
    Arguments,
}

/// A compile error with its position in the expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.line, .column, .line_text, .caret_len, .message, .hint))]
pub struct RuleError {
    /// Category.
    pub kind: ErrorKind,
    /// Byte offset of the problem in the expression.
    pub offset: usize,
    /// Length in bytes of the offending text (at least 1 when shown).
    pub len: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// The text of the offending line.
    pub line_text: String,
    /// Caret width in characters.
    pub caret_len: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is a usual fix.
    pub hint: Option<String>,
}

impl RuleError {
    /// Builds an error for the span `offset..offset+len` of `src`.
    pub(crate) fn new(
        kind: ErrorKind,
        src: &str,
        offset: usize,
        len: usize,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> RuleError {
        let offset = floor_char_boundary(src, offset.min(src.len()));
        let end = floor_char_boundary(src, offset.saturating_add(len).min(src.len()));
        let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
        let line = src[..offset].matches('\n').count() + 1;
        let column = src[line_start..offset].chars().count() + 1;
        let line_text = src[line_start..line_end].trim_end_matches('\r').to_string();
        let caret_end = end.min(line_end);
        let caret_len = src[offset..caret_end.max(offset)].chars().count().max(1);
        RuleError {
            kind,
            offset,
            len: end - offset,
            line,
            column,
            line_text,
            caret_len,
            message: message.into(),
            hint,
        }
    }

    /// Only the message and hint, on one line (for logs and JSON).
    pub fn short(&self) -> String {
        match &self.hint {
            Some(h) => format!(
                "{} ({}:{}); hint: {h}",
                self.message, self.line, self.column
            ),
            None => format!("{} ({}:{})", self.message, self.line, self.column),
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn render(
    line: &usize,
    column: &usize,
    line_text: &str,
    caret_len: &usize,
    message: &str,
    hint: &Option<String>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "error at line {line}, column {column}: {message}");
    // Tabs in the echoed line would misalign the caret, so they are shown as single spaces.
    let shown: String = line_text
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let _ = writeln!(out, "  {shown}");
    let _ = write!(
        out,
        "  {}{}",
        " ".repeat(column.saturating_sub(1)),
        "^".repeat(*caret_len)
    );
    if let Some(h) = hint {
        let _ = write!(out, "\nhint: {h}");
    }
    out
}

/// Up to three candidates closest to `name`, close enough to be a plausible typo.
pub(crate) fn nearest<'c>(name: &str, candidates: impl Iterator<Item = &'c str>) -> Vec<&'c str> {
    let limit = (name.chars().count() / 3).clamp(2, 6);
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    // Closest first; ties in name order so the hint is stable.
    scored.sort();
    scored.dedup();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_points_at_the_spot_on_the_right_line() {
        let src = "http.host eq \"a\"\nand http.hots eq \"b\"";
        let off = src.find("http.hots").unwrap();
        let e = RuleError::new(
            ErrorKind::UnknownField,
            src,
            off,
            9,
            "unknown field",
            Some("did you mean http.host?".into()),
        );
        assert_eq!((e.line, e.column), (2, 5));
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "error at line 2, column 5: unknown field");
        assert_eq!(lines[1], "  and http.hots eq \"b\"");
        assert_eq!(lines[2], "      ^^^^^^^^^");
        assert_eq!(lines[3], "hint: did you mean http.host?");
    }

    #[test]
    fn offsets_past_the_end_and_inside_characters_are_safe() {
        let src = "é";
        let e = RuleError::new(ErrorKind::Syntax, src, 1, 10, "x", None);
        assert_eq!(e.offset, 0);
        let e = RuleError::new(ErrorKind::Syntax, src, 99, 1, "x", None);
        assert_eq!(e.column, 2);
        assert_eq!(e.caret_len, 1);
    }

    #[test]
    fn distances() {
        // Plain Levenshtein: a swap of two letters costs two edits, within the limit of 2 to 6.
        assert_eq!(strsim::levenshtein("http.hots", "http.host"), 2);
        assert_eq!(strsim::levenshtein("", "abc"), 3);
        let near = nearest("http.hots", ["http.host", "ssl", "http.cookie"].into_iter());
        assert_eq!(near, vec!["http.host"]);
    }
}
