//! Diagnostics: what is wrong with a config file, where, and what to do about it.
//!
//! Every message names the file and the 1-based line and column of the offending key or value,
//! and prints the way compilers do (`file:line:col: error: …` with an indented `hint:`), so that
//! editors and terminals turn it into a link. A file's errors and warnings are all collected in
//! one run and shown in file order: fixing one problem per run is the experience this crate exists
//! to avoid.

use std::fmt;
use std::ops::Range;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file is not loaded.
    Error,
    /// The file loads, but probably does not do what its author meant.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the text).
    pub fn of(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the problem is in: the config file as the caller named it, or a file the config
    /// names (a list file), joined to the config file's directory.
    pub file: String,
    /// Where in the file; `None` when the problem is the file as a whole (e.g. unreadable).
    pub position: Option<Position>,
    /// The byte range in the config file the problem is about, for tools that underline; `None`
    /// for problems in other files.
    pub span: Option<Range<usize>>,
    /// What is wrong, in one line.
    pub message: String,
    /// What to do about it, when we can tell.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}:{}:{}: ", self.file, p.line, p.column)?,
            None => write!(f, "{}: ", self.file)?,
        }
        write!(f, "{}: {}", self.severity.as_str(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Everything wrong with a file that failed to load: at least one error, plus any warnings, in
/// file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics {
    /// The file, as the caller named it.
    pub file: String,
    /// Errors and warnings, sorted by position (whole-file problems first).
    pub items: Vec<Diagnostic>,
    /// Whether checking stopped early because there were too many errors to be useful.
    pub truncated: bool,
}

impl Diagnostics {
    /// The errors alone.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    /// The warnings alone.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
}

impl Diagnostic {
    /// The diagnostic as JSON: severity, file, line and column (when known), message, hint.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "severity": self.severity.as_str(),
            "file": self.file,
            "line": self.position.map(|p| p.line),
            "column": self.position.map(|p| p.column),
            "message": self.message,
            "hint": self.hint,
        })
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            writeln!(f, "{d}")?;
        }
        let errors = self.errors().count();
        let warnings = self.warnings().count();
        write!(f, "{}: {}", self.file, plural(errors, "error"))?;
        if warnings > 0 {
            write!(f, ", {}", plural(warnings, "warning"))?;
        }
        if self.truncated {
            write!(f, " (checking stopped there: is this the right file?)")?;
        }
        write!(f, "; the file was not loaded")
    }
}

/// `1 error`, `2 errors`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Collects diagnostics against one file's text.
#[derive(Debug)]
pub(crate) struct Sink<'t> {
    file: String,
    text: &'t str,
    /// Each diagnostic with the config-file offset it sorts at: its own span's start, or, for a
    /// problem in another file (a list file), the offset of the key that named that file.
    items: Vec<(Option<usize>, Diagnostic)>,
    truncated: bool,
}

impl<'t> Sink<'t> {
    pub(crate) fn new(file: impl Into<String>, text: &'t str) -> Self {
        Sink {
            file: file.into(),
            text,
            items: Vec::new(),
            truncated: false,
        }
    }

    pub(crate) fn text(&self) -> &'t str {
        self.text
    }

    pub(crate) fn push(
        &mut self,
        severity: Severity,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.items.push((
            span.as_ref().map(|s| s.start),
            Diagnostic {
                severity,
                file: self.file.clone(),
                position: span.as_ref().map(|s| Position::of(self.text, s.start)),
                span,
                message: one_line(message.into()),
                hint: hint.map(one_line),
            },
        ));
    }

    /// A warning about another file (a list file's line), placed in file order where the config
    /// names that file (`anchor`, a byte offset in the config).
    pub(crate) fn warn_in(
        &mut self,
        anchor: usize,
        file: String,
        position: Option<Position>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.items.push((
            Some(anchor),
            Diagnostic {
                severity: Severity::Warning,
                file,
                position,
                span: None,
                message: one_line(message.into()),
                hint: hint.map(one_line),
            },
        ));
    }

    pub(crate) fn error(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Severity::Error, Some(span), message, hint);
    }

    pub(crate) fn warn(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Severity::Warning, Some(span), message, hint);
    }

    /// Records that checking gave up before the end of the file.
    pub(crate) fn set_truncated(&mut self) {
        self.truncated = true;
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.items
            .iter()
            .any(|(_, d)| d.severity == Severity::Error)
    }

    /// All diagnostics in file order; among equals, the order they were found in.
    pub(crate) fn finish(mut self) -> Diagnostics {
        // A stable sort: diagnostics at one place stay in the order they were found.
        self.items.sort_by_key(|(at, _)| *at);
        Diagnostics {
            file: self.file,
            items: self.items.into_iter().map(|(_, d)| d).collect(),
            truncated: self.truncated,
        }
    }
}

/// A diagnostic is one line, whatever the file's values held: control characters a message
/// quotes from the file (a newline in a list name) are written as escapes.
fn one_line(text: String) -> String {
    if !text.chars().any(char::is_control) {
        return text;
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(Position::of(text, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::of(text, 6), Position { line: 2, column: 1 });
        // `=` after a two-byte `é` is the fourth character.
        assert_eq!(Position::of(text, 10), Position { line: 2, column: 4 });
        assert_eq!(Position::of(text, 999).line, 3);
    }

    #[test]
    fn prints_like_a_compiler() {
        let mut sink = Sink::new("d.toml", "x = 1\ny = 2\n");
        sink.error(6..7, "bad `y`", Some("fix it".into()));
        sink.warn(0..1, "odd `x`", None);
        let d = sink.finish();
        assert_eq!(
            d.to_string(),
            "d.toml:1:1: warning: odd `x`\n\
             d.toml:2:1: error: bad `y`\n  hint: fix it\n\
             d.toml: 1 error, 1 warning; the file was not loaded"
        );
    }
}
