//! Doorman's configuration layer: reads `doorman.toml`, tells the operator everything that is
//! wrong with it at once (each problem at its `file:line:col`, with a hint), and compiles a good
//! file into a [`Config`]: the core's immutable [`doorman_core::Policy`] plus the
//! [`ServerSettings`] only the I/O shell needs.
//!
//! It works in two stages, like ripgrep's low-level/high-level arguments or pingora's server
//! conf: [`raw`] mirrors the file with serde (stage one, in `parse`, collects every syntax and
//! shape error rather than stopping at the first), and `compile` turns the raw values into
//! resolved, cross-checked ones (stage two). Nothing is half-loaded: [`load`] returns either a
//! whole `Config` or the [`Diagnostics`], which is what lets the server reload on SIGHUP and keep
//! the working config when the new file is broken.
//!
//! The firewall sections (`[intel]`, `[[lists]]`, `[[access_rules]]`, `[[rules]]`) compile into
//! [`doorman_core::firewall::Firewall`]: list files and `.mmdb` databases are read through
//! `doorman-intel`, and rule expressions are compiled by `doorman-rules` against the lists, with
//! their errors reported at their own place inside the TOML string. The files a policy was built
//! from come back as [`Loaded::watched_files`], so that the server can reload when one changes.
//! A bad line in a list file is a warning at that file's `line:col`; a missing database is a
//! warning; an unreadable list file is an error.
//!
//! The file format is documented in `docs/config.md`, and `examples/doorman.toml` shows every
//! key with its default.
#![forbid(unsafe_code)]

mod auth;
mod compile;
pub mod diag;
mod env;
mod firewall;
mod literal;
mod parse;
mod ratelimit;
pub mod raw;
pub mod schema;
mod settings;
mod status;
pub mod suggest;
pub mod values;

use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Diagnostics, Position, Severity};
pub use firewall::{LIST_PROBLEMS_SHOWN, MAX_LIST_NAME, SKIPPABLE_PHASES};
pub use parse::MAX_ERRORS;
pub use ratelimit::{MAX_PERIOD_SECS, MAX_REQUESTS_PER_PERIOD};
pub use settings::{
    AccessLog, AccessLogDestination, AccessLogFormat, Admin, AdminToken, AuthServer,
    ChallengeServer, Config, Events, Forwarding, Limits, Listener, LogFormat, Logging,
    RateLimitSettings, RedisSettings, ServerSettings, StatusComponent, StatusSettings, TlsFiles,
};

/// A configuration that loaded, and what looked odd about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The compiled configuration.
    pub config: Config,
    /// Things that are allowed but probably not meant, in file order. Includes the bad lines
    /// of list files, each at its own `list-file:line:col`.
    pub warnings: Vec<Diagnostic>,
    /// Every file the policy was built from besides the config file itself: list files and
    /// `.mmdb` databases, resolved against the config file's directory, in file order, without
    /// repeats. A configured database that is missing is listed too, so that the server, which
    /// polls these for changes, reloads when it appears.
    pub watched_files: Vec<PathBuf>,
}

/// Reads and compiles the config file at `path`.
///
/// Relative paths inside the file (`data_dir`, TLS files) are resolved against the file's
/// directory. On failure, every error found (and every warning) comes back, in file order.
pub fn load(path: impl AsRef<Path>) -> Result<Loaded, Diagnostics> {
    let path = path.as_ref();
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&text, path),
        Err(e) => {
            let hint = match e.kind() {
                std::io::ErrorKind::NotFound => Some(
                    "check the path given to --config; examples/doorman.toml is a starting point"
                        .to_owned(),
                ),
                std::io::ErrorKind::InvalidData => Some("the file must be UTF-8 text".to_owned()),
                _ => None,
            };
            Err(Diagnostics {
                file: file.clone(),
                items: vec![Diagnostic {
                    severity: Severity::Error,
                    file,
                    position: None,
                    span: None,
                    message: format!("cannot read the config file: {e}"),
                    hint,
                }],
                truncated: false,
            })
        }
    }
}

/// Compiles config text. `path` names the file in messages, and its directory is where relative
/// paths in the text start from; the file itself is not read.
pub fn load_str(text: &str, path: impl AsRef<Path>) -> Result<Loaded, Diagnostics> {
    let path = path.as_ref();
    let mut sink = diag::Sink::new(path.display().to_string(), text);
    let config =
        parse::parse(&mut sink).and_then(|parsed| compile::compile(parsed, path, &mut sink));
    let diagnostics = sink.finish();
    match config {
        Some((config, watched_files)) if diagnostics.errors().next().is_none() => Ok(Loaded {
            config,
            warnings: diagnostics.items,
            watched_files,
        }),
        _ => Err(diagnostics),
    }
}

/// What `doorman check --config F` prints, and whether it succeeded (exit 0).
///
/// On success: each warning, then `ok: N routes, M upstreams, K listeners` followed by the
/// counts of lists, access rules, rules, rate limits and JWT providers when there are any (print to stdout). On
/// failure: every diagnostic and a summary line (print to stderr, exit 1). The text has no
/// trailing newline.
pub fn check_report(path: impl AsRef<Path>) -> (String, bool) {
    let checked = check(path);
    (checked.text(), checked.errors == 0)
}

/// What `doorman check` found: every diagnostic, and on success what the file defines.
#[derive(Debug)]
pub struct Checked {
    /// The file as the caller named it.
    pub file: String,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many are errors.
    pub errors: usize,
    /// How many are warnings.
    pub warnings: usize,
    /// On success: what the file defines, as (thing, count), e.g. ("route", 3).
    pub counts: Vec<(&'static str, usize)>,
    /// The report `Diagnostics` prints on failure (with its summary line).
    failure: Option<String>,
}

impl Checked {
    /// The human report: on success the warnings and `ok: 3 routes, …`; on failure every
    /// diagnostic and the summary line. No trailing newline.
    pub fn text(&self) -> String {
        if let Some(failure) = &self.failure {
            return failure.clone();
        }
        let mut out = String::new();
        for w in &self.diagnostics {
            out.push_str(&w.to_string());
            out.push('\n');
        }
        out.push_str("ok: ");
        // Routes, upstreams and listeners always; the rest only when there are any, so the
        // line stays short for a small file.
        let shown: Vec<String> = self
            .counts
            .iter()
            .enumerate()
            .filter(|(i, (_, n))| *i < 3 || *n > 0)
            .map(|(_, (what, n))| diag::plural(*n, what))
            .collect();
        out.push_str(&shown.join(", "));
        out
    }

    /// The report as JSON, for scripts and CI: `ok`, the counts of errors and warnings, every
    /// diagnostic with its position, and what the file defines.
    pub fn json(&self, strict: bool) -> serde_json::Value {
        let defines: serde_json::Map<String, serde_json::Value> = self
            .counts
            .iter()
            .map(|(what, n)| (what.replace(' ', "_"), serde_json::json!(n)))
            .collect();
        serde_json::json!({
            "file": self.file,
            "ok": self.passes(strict),
            "errors": self.errors,
            "warnings": self.warnings,
            "strict": strict,
            "diagnostics": self.diagnostics.iter().map(Diagnostic::to_json).collect::<Vec<_>>(),
            "defines": defines,
        })
    }

    /// Whether the file passes: no error, and with `strict` no warning either.
    pub fn passes(&self, strict: bool) -> bool {
        self.errors == 0 && (!strict || self.warnings == 0)
    }
}

/// Loads `path` as `doorman check` does and says what was found.
pub fn check(path: impl AsRef<Path>) -> Checked {
    let file = path.as_ref().display().to_string();
    match load(path) {
        Ok(loaded) => {
            let p = &loaded.config.policy;
            let fw = &p.firewall;
            let counts = vec![
                ("route", p.routes.len()),
                ("upstream", p.upstreams.len()),
                ("listener", loaded.config.server.listeners.len()),
                ("list", fw.lists.len()),
                ("access rule", fw.access_rules.len()),
                ("rule", fw.rules.len()),
                ("rate limit", p.rate_limits.len()),
                (
                    "JWT provider",
                    loaded.config.server.auth.jwt_providers.len(),
                ),
            ];
            Checked {
                file,
                errors: 0,
                warnings: loaded.warnings.len(),
                diagnostics: loaded.warnings,
                counts,
                failure: None,
            }
        }
        Err(d) => Checked {
            file,
            errors: d.errors().count(),
            warnings: d.warnings().count(),
            failure: Some(d.to_string()),
            diagnostics: d.items,
            counts: Vec::new(),
        },
    }
}
