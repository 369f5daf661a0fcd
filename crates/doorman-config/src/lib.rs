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
    Admin, AdminToken, AuthServer, ChallengeServer, Config, Events, Forwarding, Limits, Listener,
    LogFormat, Logging, RateLimitSettings, RedisSettings, ServerSettings, StatusComponent,
    StatusSettings, TlsFiles,
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
    match load(path) {
        Ok(loaded) => {
            let mut out = String::new();
            for w in &loaded.warnings {
                out.push_str(&w.to_string());
                out.push('\n');
            }
            let p = &loaded.config.policy;
            out.push_str(&format!(
                "ok: {}, {}, {}",
                diag::plural(p.routes.len(), "route"),
                diag::plural(p.upstreams.len(), "upstream"),
                diag::plural(loaded.config.server.listeners.len(), "listener"),
            ));
            // Firewall counts only when there is a firewall, so the line stays short otherwise.
            let fw = &p.firewall;
            for (n, what) in [
                (fw.lists.len(), "list"),
                (fw.access_rules.len(), "access rule"),
                (fw.rules.len(), "rule"),
                (p.rate_limits.len(), "rate limit"),
                (
                    loaded.config.server.auth.jwt_providers.len(),
                    "JWT provider",
                ),
            ] {
                if n > 0 {
                    out.push_str(&format!(", {}", diag::plural(n, what)));
                }
            }
            (out, true)
        }
        Err(d) => (d.to_string(), false),
    }
}
