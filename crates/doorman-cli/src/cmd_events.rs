//! `doorman events` (list recent non-allow decisions) and `doorman explain RAY` (one decision,
//! told in full). Both only read the database, so they are safe to run beside a live server.
//!
//! This module is glue: argument parsing and where output goes. What is printed, and how
//! `--since`, `--ip`, `--asn`, `--country`, `--action` and Ray IDs are read, lives in
//! `doorman_store::report`, `doorman_store::query` and `doorman_store::record`, where it is unit
//! tested.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use doorman_store::{Action, EventFilter, EventQuery, IpFilter, StoreError, report};

/// Where the server keeps its state unless told otherwise.
const DEFAULT_DATA_DIR: &str = "./doorman-data";

/// Exit status for an argument that is malformed (as clap uses for usage errors).
const USAGE: u8 = 2;

/// List recent denials, challenges and logged requests, newest first.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// The server's data directory (holding doorman.db).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Only events since then: a duration ago (15m, 2h, 7d, 1h30m) or an RFC 3339 time
    /// (2026-11-22T21:44:11Z, or a date).
    #[arg(long, value_name = "WHEN", value_parser = parse_since_now)]
    pub since: Option<SystemTime>,
    /// Only events from this client IP or CIDR block.
    #[arg(long, value_name = "IP|CIDR")]
    pub ip: Option<IpFilter>,
    /// Only events with this code (1020, ROUTE_CLOSED, …; case does not matter).
    #[arg(long)]
    pub code: Option<String>,
    /// Only events decided by this rule; a trailing '*' matches a prefix (route:*).
    #[arg(long)]
    pub rule: Option<String>,
    /// Only events from clients in this autonomous system (9009 or AS9009).
    #[arg(long, value_name = "ASN", value_parser = report::parse_asn)]
    pub asn: Option<u32>,
    /// Only events from clients in this country (ISO code: NL, us, T1 for Tor).
    #[arg(long, value_name = "CC", value_parser = report::parse_country)]
    pub country: Option<String>,
    /// Only events where the gateway did this: deny, challenge, log or shadow (log and shadow
    /// are matches that were recorded but not enforced).
    #[arg(long, value_name = "ACTION")]
    pub action: Option<Action>,
    /// Show at most this many events (0 = all).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Explain one request's decision from its Ray ID: what happened, why, and how.
#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// The Ray ID, as shown on the error page (16 hex characters, '-', node name).
    pub ray: String,
    /// The server's data directory (holding doorman.db).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Print the event as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_since_now(text: &str) -> Result<SystemTime, report::BadSince> {
    report::parse_since(text, SystemTime::now())
}

/// Runs `doorman events`.
pub fn run_events(args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let Some(query) = open_dir(&args.data_dir)? else {
        return Ok(ExitCode::FAILURE);
    };
    let filter = EventFilter {
        since: args.since,
        ip: args.ip,
        code: args.code.clone(),
        rule: args.rule.clone(),
        asn: args.asn,
        country: args.country.clone(),
        action: args.action,
        limit: args.limit,
    };
    let events = query
        .list(&filter)
        .with_context(|| format!("reading events from {}", query.path().display()))?;
    let mut out = String::new();
    if args.json {
        for event in &events {
            out.push_str(&report::json_line(event));
            out.push('\n');
        }
    } else if !events.is_empty() {
        out = report::format_table(&events);
    }
    print(&out)?;
    if !args.json {
        // On stderr, so that piping the table through grep or sort sees only rows.
        eprintln!(
            "{}",
            report::table_footer(events.len(), args.limit, query.path())
        );
        if let Some(note) = report::forwarded_note(&events) {
            eprintln!("{note}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `doorman explain`.
pub fn run_explain(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let ray = match report::normalize_ray(&args.ray) {
        Ok(ray) => ray,
        Err(err) => {
            eprintln!("doorman explain: {err}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    let Some(query) = open_dir(&args.data_dir)? else {
        return Ok(ExitCode::FAILURE);
    };
    let found = query
        .get(&ray)
        .with_context(|| format!("reading {}", query.path().display()))?;
    match found {
        Some(event) => {
            let text = if args.json {
                report::json_pretty(&event) + "\n"
            } else {
                report::format_explain(&event)
            };
            print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            // These only enrich the message; a failure to read them must not hide it.
            let retention = query.retention().ok().flatten();
            let oldest = query.oldest().ok().flatten();
            eprintln!(
                "doorman explain: {}",
                report::not_found_message(&ray, query.path(), retention, oldest)
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Opens the event log read-only; `None` (after saying why) when there is no database there,
/// which is the operator's mistake to fix rather than a failure to report with a chain.
fn open_dir(data_dir: &std::path::Path) -> anyhow::Result<Option<EventQuery>> {
    match EventQuery::open(data_dir) {
        Ok(query) => Ok(Some(query)),
        Err(
            err @ (StoreError::Missing { .. }
            | StoreError::Setup(doorman_common::sqlite::SqliteError::Uninitialized { .. })),
        ) => {
            eprintln!("doorman: {err} (pass --data-dir to read another one)");
            Ok(None)
        }
        Err(err) => Err(err).context("opening the event log"),
    }
}

/// Writes to stdout; a closed pipe (`doorman events | head`) is not an error.
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
    struct Events {
        #[command(flatten)]
        args: EventsArgs,
    }

    fn parse(args: &[&str]) -> Result<EventsArgs, clap::Error> {
        Events::try_parse_from(std::iter::once("events").chain(args.iter().copied()))
            .map(|e| e.args)
    }

    #[test]
    fn network_and_action_filters_are_read() {
        let args = parse(&["--asn", "AS9009", "--country", "nl", "--action", "shadow"]).unwrap();
        assert_eq!(args.asn, Some(9009));
        assert_eq!(args.country.as_deref(), Some("NL"));
        assert_eq!(args.action, Some(Action::Shadow));
        assert_eq!(parse(&["--asn", "9009"]).unwrap().asn, Some(9009));
        let none = parse(&[]).unwrap();
        assert_eq!((none.asn, none.country, none.action), (None, None, None));
    }

    #[test]
    fn bad_filter_values_say_what_is_expected() {
        for (args, expected) in [
            (
                ["--asn", "M247"],
                "--asn expects a number like 9009 or AS9009",
            ),
            (
                ["--country", "NLD"],
                "--country expects a two-letter ISO 3166 code like NL",
            ),
            (
                ["--action", "allow"],
                "expected deny, challenge, log or shadow",
            ),
        ] {
            let err = parse(&args).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
            assert!(err.to_string().contains(expected), "{args:?}: {err}");
        }
    }
}
