//! Helpers shared by the integration tests: real files in a temporary directory, and lookups of
//! diagnostics by message.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use doorman_config::{Diagnostic, Diagnostics, Loaded, Severity};

/// A listener, an upstream and a route: the smallest file that loads without warnings.
pub const BASE: &str = r#"[[listeners]]
addr = "127.0.0.1:8080"

[[upstreams]]
name = "app"
targets = ["127.0.0.1:3000"]

[[routes]]
name = "app"
upstream = "app"
"#;

/// A temporary directory holding config files; removed when dropped.
pub struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` inside the directory (creating parents) and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, text).expect("write file");
        path
    }

    pub fn load(&self, text: &str) -> Result<Loaded, Diagnostics> {
        let path = self.write("doorman.toml", text);
        doorman_config::load(path)
    }
}

/// Loads `text` from a fresh file and expects it to fail.
pub fn errors_of(text: &str) -> Diagnostics {
    match Dir::new().load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d,
    }
}

/// Loads `text` from a fresh file and expects it to succeed.
pub fn loaded(text: &str) -> Loaded {
    match Dir::new().load(text) {
        Ok(l) => l,
        Err(d) => panic!("expected success, got:\n{d}"),
    }
}

/// The one diagnostic of `severity` whose message contains `needle`.
pub fn find<'a>(items: &'a [Diagnostic], severity: Severity, needle: &str) -> &'a Diagnostic {
    let hits: Vec<&Diagnostic> = items
        .iter()
        .filter(|d| d.severity == severity && d.message.contains(needle))
        .collect();
    match hits.as_slice() {
        [one] => one,
        _ => panic!(
            "expected exactly one {severity:?} containing {needle:?}, found {}:\n{}",
            hits.len(),
            items
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// The 1-based (line, column) of the first occurrence of `needle` in `text`, found by plain
/// string search, to compare with the positions the crate reports.
pub fn pos(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// The (line, column) a diagnostic reports.
pub fn at(d: &Diagnostic) -> (usize, usize) {
    let p = d.position.expect("diagnostic has a position");
    (p.line, p.column)
}

/// Asserts a single error containing `message` at the first occurrence of `needle`, with a hint
/// containing `hint` (when given), and returns it.
pub fn assert_error(text: &str, message: &str, needle: &str, hint: Option<&str>) -> Diagnostic {
    let d = errors_of(text);
    let e = find(&d.items, Severity::Error, message).clone();
    assert_eq!(at(&e), pos(text, needle), "position of {e}");
    if let Some(h) = hint {
        let got = e.hint.as_deref().unwrap_or_default();
        assert!(got.contains(h), "hint {got:?} should contain {h:?}");
    }
    e
}
