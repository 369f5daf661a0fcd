//! `doorman keys create|list|show|revoke|rotate`: API keys in `<data_dir>/keys.sqlite`.
//!
//! Glue over `doorman_keys::KeyStore`: find the database (as `doorman events` does, from
//! `--data-dir`, or from a config file's `[server] data_dir`), call one store operation, print
//! the outcome. A running server watches the same file and applies every change within a
//! second, so nothing here talks to the server.
//!
//! A key is printed once, by `create` and `rotate`, and never again: `list` and `show` print
//! its display form (`dmn_live_AbCd…WxYz`), never the key or its hash.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use doorman_common::when::{self, relative, rfc3339, rfc3339_and_relative as both};
use doorman_keys::{
    DEFAULT_PREFIX, KeyRecord, KeyStatus, KeyStore, KeyStoreError, NewKey, Secret, keys_path,
};
use serde_json::{Value, json};

/// Where the server keeps its state unless told otherwise (as for `doorman events`).
const DEFAULT_DATA_DIR: &str = "./doorman-data";

/// Manage API keys.
#[derive(Debug, Clone, clap::Args)]
pub struct KeysArgs {
    /// The server's data directory; keys live in <DIR>/keys.sqlite [default: ./doorman-data].
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Use the data directory named by this config file's `[server] data_dir`.
    #[arg(long, short, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// The `keys` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it, once.
    Create(CreateArgs),
    /// List keys: id, name, display form, status, scopes, expiry, last use (never the keys).
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one key by id (key_…) or name.
    Show {
        /// The key's id or name.
        #[arg(value_name = "ID|NAME")]
        key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key (and any older key it replaced that still works); takes effect on a
    /// running server within a second.
    Revoke {
        /// The key's id or name.
        #[arg(value_name = "ID|NAME")]
        key: String,
    },
    /// Replace a key with a new one (same name, scopes, rate limit) and print it, once; the
    /// old key keeps working for a grace period.
    Rotate {
        /// The key's id or name.
        #[arg(value_name = "ID|NAME")]
        key: String,
        /// How long the old key keeps working: 0s, 15m, 24h, 7d, 1h30m.
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_grace)]
        grace: Duration,
        /// Print JSON (with the new key in `key`).
        #[arg(long)]
        json: bool,
    },
}

/// `doorman keys create`.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateArgs {
    /// A name for the key, unique among working keys (letters, digits, - _ . : @).
    #[arg(long)]
    pub name: String,
    /// What the key may do, comma-separated (plugins:weather,chat).
    #[arg(long, value_name = "SCOPES", value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// When the key stops working: a duration from now (30d, 12h, 2w) or a time
    /// (2027-01-01, 2027-01-01T12:00:00Z). Default: never.
    #[arg(long, value_name = "WHEN", value_parser = parse_expires, allow_hyphen_values = true)]
    pub expires: Option<i64>,
    /// A rate limit for this key, e.g. 100/1m (applied by the gateway's rate limiting).
    #[arg(long, value_name = "LIMIT")]
    pub rate_limit: Option<String>,
    /// The key's prefix: letters, digits and '_'.
    #[arg(long, default_value = DEFAULT_PREFIX)]
    pub prefix: String,
    /// Print JSON (with the key in `key`).
    #[arg(long)]
    pub json: bool,
}

fn parse_grace(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    when::parse_duration(text.trim())
        .ok_or_else(|| format!("`{text}` is not a duration: use e.g. 0s, 15m, 24h, 7d, 1h30m"))
}

fn parse_expires(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let now = std::time::SystemTime::now();
    if let Some(ago) = text.strip_prefix('-')
        && when::parse_duration(ago).is_some()
    {
        return Err(format!(
            "`{text}` is in the past: a key must expire in the future, e.g. --expires {ago}"
        ));
    }
    if let Some(d) = when::parse_duration(text) {
        return Ok(when::unix_ms(now + d));
    }
    let at = when::parse_rfc3339(text).map_err(|_| {
        format!(
            "`{text}` is not a duration or a time: use e.g. 30d, 12h, 2w, or 2027-01-01, \
             2027-01-01T12:00:00Z"
        )
    })?;
    let now_ms = when::unix_ms(now);
    if at <= now_ms {
        let ago = Duration::from_millis(now_ms.abs_diff(at));
        return Err(format!(
            "`{text}` is {} ago: a key must expire in the future (to stop a key now, use `doorman keys revoke`)",
            when::duration_words(ago, when::UnitNames::Long)
        ));
    }
    Ok(at)
}

/// Runs `doorman keys …`.
pub fn run(args: &KeysArgs) -> anyhow::Result<ExitCode> {
    let path = keys_path(&data_dir(args)?);
    let now = when::unix_ms(std::time::SystemTime::now());
    match &args.command {
        KeysCommand::Create(create) => {
            let store = KeyStore::open(&path)
                .with_context(|| format!("opening the key database {}", path.display()))?;
            let new = NewKey {
                name: create.name.clone(),
                scopes: create.scopes.clone(),
                expires_at: create.expires,
                rate_limit: create.rate_limit.clone(),
            };
            let (secret, record) = store.create(new, &create.prefix, now)?;
            let text = if create.json {
                json_text(&with_key(record_json(&record, now), &secret))
            } else {
                format!(
                    "Created {} (`{}`).\n{}\n{}",
                    record.id,
                    record.name,
                    reveal(&secret),
                    details(&record, now)
                )
            };
            print(&text)?;
        }
        KeysCommand::List { json } => {
            let store = match KeyStore::open_existing(&path) {
                Ok(store) => store,
                Err(err @ KeyStoreError::Missing { .. }) => {
                    // Nothing to list is not a failure; where it looked is worth saying.
                    eprintln!("doorman: {err}");
                    if *json {
                        print("[]\n")?;
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                Err(err) => return Err(err).context("opening the key database"),
            };
            let keys = store.list()?;
            if *json {
                let all: Vec<Value> = keys.iter().map(|k| record_json(k, now)).collect();
                print(&json_text(&Value::Array(all)))?;
            } else {
                if !keys.is_empty() {
                    print(&table(&keys, now))?;
                }
                // On stderr, so that a pipe through grep or sort sees only rows.
                let working = keys.iter().filter(|k| k.status(now).works()).count();
                eprintln!(
                    "{} ({working} working) in {}",
                    plural(keys.len(), "key"),
                    path.display()
                );
            }
        }
        KeysCommand::Show { key, json } => {
            let store = open_existing(&path)?;
            let record = store.find(key)?;
            let text = if *json {
                json_text(&record_json(&record, now))
            } else {
                format!(
                    "{} (`{}`)\n{}",
                    record.id,
                    record.name,
                    details(&record, now)
                )
            };
            print(&text)?;
        }
        KeysCommand::Revoke { key } => {
            let store = open_existing(&path)?;
            match store.revoke(key, now) {
                Ok(revoked) => print(&revoke_text(&revoked))?,
                Err(KeyStoreError::AlreadyRevoked { id, name, at }) => {
                    // The operator's intent holds; saying so is enough.
                    print(&format!(
                        "{id} (`{name}`) was already revoked {}; nothing changed.\n",
                        both(at, now)
                    ))?;
                }
                Err(err) => return Err(err.into()),
            }
        }
        KeysCommand::Rotate { key, grace, json } => {
            let store = open_existing(&path)?;
            let rotation = store.rotate(key, *grace, now)?;
            let (new, old) = (&rotation.new, &rotation.old);
            let text = if *json {
                let mut value = with_key(record_json(new, now), &rotation.secret);
                value["replaces"] = record_json(old, now);
                json_text(&value)
            } else {
                let old_end = old.expires_at.unwrap_or(now);
                let fate = if old_end < now {
                    format!(
                        "had already expired {}; it stays refused with KEY_EXPIRED, which now names {} as its successor",
                        both(old_end, now),
                        new.id
                    )
                } else if old_end == now {
                    format!(
                        "stopped working now: it is refused with KEY_EXPIRED, naming {} as its successor",
                        new.id
                    )
                } else {
                    format!(
                        "keeps working until {}; after that it is refused with KEY_EXPIRED, naming {} as its successor",
                        both(old_end, now),
                        new.id
                    )
                };
                format!(
                    "Rotated `{}`: {} replaces {}.\n{}\n{}\nThe old key {} ({}) {fate}.\n",
                    new.name,
                    new.id,
                    old.id,
                    reveal(&rotation.secret),
                    details(new, now),
                    old.id,
                    old.display,
                )
            };
            print(&text)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The data directory: `--data-dir`, else the config file's `[server] data_dir`, else the
/// default.
fn data_dir(args: &KeysArgs) -> anyhow::Result<PathBuf> {
    resolve_data_dir(args.data_dir.as_ref(), args.config.as_ref())
}

/// The data directory from `--data-dir`, or a config file's `[server] data_dir`, or the
/// default; shared by the commands that work on the gateway's files directly.
pub(crate) fn resolve_data_dir(
    data_dir: Option<&PathBuf>,
    config: Option<&PathBuf>,
) -> anyhow::Result<PathBuf> {
    match (data_dir, config) {
        (Some(_), Some(_)) => {
            bail!("give --data-dir or --config, not both (--config reads [server] data_dir)")
        }
        (Some(dir), None) => Ok(dir.clone()),
        (None, Some(config)) => match doorman_config::load(config) {
            Ok(loaded) => Ok(loaded.config.server.data_dir),
            Err(diagnostics) => {
                eprint!("{diagnostics}");
                bail!(
                    "{} has errors, so its data_dir is unknown; fix them, or pass --data-dir",
                    config.display()
                )
            }
        },
        (None, None) => Ok(PathBuf::from(DEFAULT_DATA_DIR)),
    }
}

fn open_existing(path: &Path) -> anyhow::Result<KeyStore> {
    KeyStore::open_existing(path).map_err(|err| match err {
        KeyStoreError::Missing { .. } => {
            anyhow::anyhow!("{err} (pass --data-dir or --config to use another data directory)")
        }
        err => anyhow::Error::new(err).context("opening the key database"),
    })
}

/// The one place a key is printed, with the warning that goes with it.
fn reveal(secret: &Secret) -> String {
    format!(
        "\n    {}\n\nStore this key now, somewhere safe: it is shown only this once. Doorman keeps \
         only its SHA-256 hash and cannot show it again (if it is lost, rotate it).\n",
        secret.expose()
    )
}

fn with_key(mut value: Value, secret: &Secret) -> Value {
    value["key"] = Value::String(secret.expose().to_owned());
    value["warning"] = Value::String(
        "store this key now: it is shown only this once; Doorman keeps only its hash".to_owned(),
    );
    value
}

/// A key's fields, one per line, for `create`, `rotate` and `show`.
fn details(k: &KeyRecord, now: i64) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("id", k.id.clone()),
        ("name", k.name.clone()),
        ("key", k.display.clone()),
        ("status", k.status(now).describe(now)),
        ("scopes", scopes_text(&k.scopes)),
        ("created", both(k.created_at, now)),
        (
            "expires",
            k.expires_at.map_or("never".to_owned(), |at| both(at, now)),
        ),
        (
            "last used",
            k.last_used_at
                .map_or("never".to_owned(), |at| both(at, now)),
        ),
        (
            "rate limit",
            k.rate_limit.clone().unwrap_or_else(|| "none".to_owned()),
        ),
    ];
    if let Some(at) = k.revoked_at {
        rows.push(("revoked", both(at, now)));
    }
    if let Some(from) = &k.rotated_from {
        rows.push(("replaces", from.clone()));
    }
    if let Some(to) = &k.rotated_to {
        rows.push(("replaced by", to.clone()));
    }
    let mut out = String::new();
    for (label, value) in rows {
        out.push_str(&format!("  {label:<12} {value}\n"));
    }
    out
}

fn scopes_text(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "(none)".to_owned()
    } else {
        scopes.join(", ")
    }
}

/// The status column: one word, and for a rotated key in its grace period, when it ends.
fn status_cell(k: &KeyRecord, now: i64) -> String {
    match k.status(now) {
        KeyStatus::RotatedGrace { until, .. } => format!("rotated, ends {}", relative(until, now)),
        status => status.word().to_owned(),
    }
}

fn table(keys: &[KeyRecord], now: i64) -> String {
    let header = [
        "ID",
        "NAME",
        "KEY",
        "STATUS",
        "SCOPES",
        "EXPIRES",
        "LAST USED",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            [
                k.id.clone(),
                k.name.clone(),
                k.display.clone(),
                status_cell(k, now),
                if k.scopes.is_empty() {
                    "-".to_owned()
                } else {
                    k.scopes.join(",")
                },
                k.expires_at
                    .map_or("never".to_owned(), |at| relative(at, now)),
                k.last_used_at
                    .map_or("never".to_owned(), |at| relative(at, now)),
            ]
        })
        .collect();
    let mut widths = [0usize; 7];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                // Padding by characters: the display form's '…' is one column, three bytes.
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn revoke_text(revoked: &[KeyRecord]) -> String {
    let Some((first, older)) = revoked.split_first() else {
        return String::new();
    };
    let mut out = format!(
        "Revoked {} (`{}`, {}). Requests with it are refused with KEY_REVOKED; a running server \
         applies this within a second.\n",
        first.id, first.name, first.display
    );
    for k in older {
        out.push_str(&format!(
            "Also revoked {} ({}), an older key it replaced that was still in its grace \
             period.\n",
            k.id, k.display
        ));
    }
    out
}

/// A key as JSON: never the key, never the hash. Times are RFC 3339 (UTC) or null.
fn record_json(k: &KeyRecord, now: i64) -> Value {
    let status = k.status(now);
    json!({
        "id": k.id,
        "name": k.name,
        "display": k.display,
        "prefix": k.prefix,
        "status": status.word(),
        "works": status.works(),
        "scopes": k.scopes,
        "created_at": rfc3339(k.created_at),
        "expires_at": k.expires_at.map(rfc3339),
        "revoked_at": k.revoked_at.map(rfc3339),
        "last_used_at": k.last_used_at.map(rfc3339),
        "rate_limit": k.rate_limit,
        "rotated_from": k.rotated_from,
        "rotated_to": k.rotated_to,
    })
}

fn json_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
    text.push('\n');
    text
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Writes to stdout; a closed pipe (`doorman keys list | head`) is not an error.
fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    match written {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
            Err(err).context("writing to standard output")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Keys {
        #[command(flatten)]
        args: KeysArgs,
    }

    fn parse(args: &[&str]) -> Result<KeysArgs, clap::Error> {
        Keys::try_parse_from(std::iter::once("keys").chain(args.iter().copied())).map(|k| k.args)
    }

    #[test]
    fn create_reads_scopes_expiry_and_location_anywhere() {
        let args = parse(&[
            "create",
            "--name",
            "ci",
            "--scopes",
            "a,b",
            "--expires",
            "2027-01-01",
            "--data-dir",
            "/tmp/x",
        ])
        .unwrap();
        assert_eq!(args.data_dir.as_deref(), Some(Path::new("/tmp/x")));
        let KeysCommand::Create(create) = args.command else {
            panic!("{:?}", args.command)
        };
        assert_eq!(create.scopes, ["a", "b"]);
        assert_eq!(create.expires, Some(1_798_761_600_000));
        assert_eq!(create.prefix, "dmn_live");
    }

    #[test]
    fn bad_durations_say_what_is_expected() {
        let err = parse(&["rotate", "ci", "--grace", "tomorrow"]).unwrap_err();
        assert!(err.to_string().contains("use e.g. 0s, 15m, 24h"), "{err}");
        let err = parse(&["create", "--name", "x", "--expires", "soon"]).unwrap_err();
        assert!(err.to_string().contains("30d"), "{err}");
        // A time in the past says it is, instead of clap's "unexpected argument '-5'".
        let err = parse(&["create", "--name", "x", "--expires", "-5m"]).unwrap_err();
        assert!(
            err.to_string().contains(
                "`-5m` is in the past: a key must expire in the future, e.g. --expires 5m"
            ),
            "{err}"
        );
        let err = parse(&["create", "--name", "x", "--expires", "2020-01-01"]).unwrap_err();
        assert!(err.to_string().contains("`2020-01-01` is "), "{err}");
        assert!(
            err.to_string()
                .contains(" ago: a key must expire in the future"),
            "{err}"
        );
        let KeysCommand::Rotate { grace, .. } = parse(&["rotate", "ci"]).unwrap().command else {
            panic!()
        };
        assert_eq!(grace, Duration::from_secs(24 * 3600));
    }
}
