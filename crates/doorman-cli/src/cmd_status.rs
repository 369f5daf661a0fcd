//! `doorman incident open|update|resolve|list` and `doorman maintenance schedule|list`: the
//! status page's incidents and maintenance windows, in `<data_dir>/status.sqlite`.
//!
//! Glue over `doorman_status::StatusStore`, like `doorman keys`: it works on the file the
//! gateway uses, so it works while the gateway is down too (exactly when an incident is
//! posted); a running gateway shows a change within a second. The admin API offers the same
//! operations for remote tools (`POST /admin/incidents`, docs/status.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use doorman_status::{
    Impact, Incident, IncidentStatus, Maintenance, NewIncident, NewMaintenance, StatusError,
    StatusStore,
};
use serde_json::json;

/// Where the store lives.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The gateway's data directory; the status page lives in <DIR>/status.sqlite
    /// [default: ./doorman-data].
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Use the data directory named by this config file's `[server] data_dir`.
    #[arg(long, short, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

/// Post and follow incidents on the status page.
#[derive(Debug, Clone, clap::Args)]
pub struct IncidentArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: IncidentCommand,
}

/// The `incident` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum IncidentCommand {
    /// Open an incident (shown at once on the status page).
    Open {
        /// The title visitors read, e.g. "Slow chat answers".
        #[arg(long)]
        name: String,
        /// The first update: what is happening, in words for visitors.
        #[arg(long, short)]
        message: String,
        /// investigating, identified, monitoring.
        #[arg(long, default_value = "investigating")]
        status: String,
        /// none, minor, major, critical.
        #[arg(long, default_value = "major")]
        impact: String,
        /// An affected component's id (repeatable).
        #[arg(long = "component", value_name = "ID")]
        components: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Post an update (and move the incident to a new status).
    Update {
        /// The incident's number.
        id: i64,
        /// investigating, identified, monitoring, resolved.
        #[arg(long)]
        status: String,
        /// What changed, for visitors.
        #[arg(long, short)]
        message: String,
        /// A new impact: none, minor, major, critical.
        #[arg(long)]
        impact: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resolve an incident.
    Resolve {
        /// The incident's number.
        id: i64,
        /// The closing words.
        #[arg(long, short, default_value = "This incident has been resolved.")]
        message: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List open incidents and those resolved in the last 30 days.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Announce maintenance windows on the status page.
#[derive(Debug, Clone, clap::Args)]
pub struct MaintenanceArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: MaintenanceCommand,
}

/// The `maintenance` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum MaintenanceCommand {
    /// Announce a window; it moves to in progress and completed by itself.
    Schedule {
        /// The title visitors read, e.g. "Database upgrade".
        #[arg(long)]
        name: String,
        /// What will happen, for visitors.
        #[arg(long, short)]
        message: String,
        /// When it starts: an RFC 3339 time (2026-11-24T22:00:00Z) or a delay from now (30m).
        #[arg(long)]
        start: String,
        /// How long it lasts: 30m, 2h, 1h30m.
        #[arg(long, value_name = "DURATION")]
        duration: String,
        /// An affected component's id (repeatable).
        #[arg(long = "component", value_name = "ID")]
        components: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List windows not completed, and those completed in the last 30 days.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn open(args: &StoreArgs) -> anyhow::Result<StatusStore> {
    let dir = crate::cmd_keys::resolve_data_dir(args.data_dir.as_ref(), args.config.as_ref())?;
    let file = doorman_status::db_path(&dir);
    if !file.exists() {
        bail!(
            "there is no status database at {} (the gateway creates it when it starts); pass --data-dir or --config to use the gateway's data directory",
            file.display()
        );
    }
    StatusStore::open(&dir).with_context(|| format!("opening {}", file.display()))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A store error in words, with the known components when one was misnamed.
fn explain(store: &StatusStore, e: StatusError) -> anyhow::Error {
    if let StatusError::UnknownComponent(id) = &e {
        let known: Vec<String> = store
            .components()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.show_on_page)
            .map(|c| c.id)
            .collect();
        let hint = match doorman_config::suggest::nearest(id, known.iter().map(String::as_str)) {
            Some(n) => format!("did you mean `{n}`?"),
            None if known.is_empty() => {
                "the status page has no components yet: configure [status] and start the gateway"
                    .to_owned()
            }
            None => format!("known components: {}", known.join(", ")),
        };
        return anyhow::anyhow!("there is no component `{id}`; {hint}");
    }
    anyhow::Error::new(e)
}

fn parse<T: std::str::FromStr<Err = StatusError>>(flag: &str, text: &str) -> anyhow::Result<T> {
    text.parse().map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
}

/// Runs `doorman incident`.
pub fn run_incident(args: &IncidentArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.store)?;
    let now = now_ms();
    let (incident, json_out, verb) = match &args.command {
        IncidentCommand::Open {
            name,
            message,
            status,
            impact,
            components,
            json,
        } => {
            let new = NewIncident {
                name: name.clone(),
                status: parse("status", status)?,
                impact: parse("impact", impact)?,
                body: message.clone(),
                components: components.clone(),
            };
            let i = store
                .open_incident(&new, now)
                .map_err(|e| explain(&store, e))?;
            (i, *json, "opened")
        }
        IncidentCommand::Update {
            id,
            status,
            message,
            impact,
            json,
        } => {
            let to: IncidentStatus = parse("status", status)?;
            let impact: Option<Impact> =
                impact.as_deref().map(|i| parse("impact", i)).transpose()?;
            let i = store
                .update_incident(*id, to, message, impact, now)
                .map_err(|e| explain(&store, e))?;
            (i, *json, "updated")
        }
        IncidentCommand::Resolve { id, message, json } => {
            let i = store
                .resolve_incident(*id, message, now)
                .map_err(|e| explain(&store, e))?;
            (i, *json, "resolved")
        }
        IncidentCommand::List { json } => {
            let list = store.incidents(now - 30 * 86_400_000, 100)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&json!(list))?);
            } else if list.is_empty() {
                println!("no open incidents, none resolved in the last 30 days");
            } else {
                for i in &list {
                    println!("{}", incident_line(i));
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    if json_out {
        println!("{}", serde_json::to_string_pretty(&json!(incident))?);
    } else {
        println!("{verb} {}", incident_line(&incident));
    }
    Ok(ExitCode::SUCCESS)
}

fn incident_line(i: &Incident) -> String {
    let components = if i.components.is_empty() {
        String::new()
    } else {
        format!(" [{}]", i.components.join(", "))
    };
    format!(
        "#{} {} — {} (impact {}){components}, since {}",
        i.id,
        i.name,
        i.status.as_str(),
        i.impact.as_str(),
        doorman_common::when::utc_minutes(i.created_ms)
    )
}

/// Runs `doorman maintenance`.
pub fn run_maintenance(args: &MaintenanceArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.store)?;
    let now = now_ms();
    match &args.command {
        MaintenanceCommand::Schedule {
            name,
            message,
            start,
            duration,
            components,
            json,
        } => {
            let starts = when(start, now)?;
            let Some(length) =
                doorman_common::when::parse_duration(duration).filter(|d| *d > Duration::ZERO)
            else {
                bail!("--duration `{duration}`: write how long it lasts, e.g. 30m, 2h or 1h30m");
            };
            let length_ms = i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
            let new = NewMaintenance {
                name: name.clone(),
                body: message.clone(),
                scheduled_for_ms: starts,
                scheduled_until_ms: starts.saturating_add(length_ms),
                components: components.clone(),
            };
            let m = store
                .schedule_maintenance(&new, now)
                .map_err(|e| explain(&store, e))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&json!(m))?);
            } else {
                println!("scheduled {}", maintenance_line(&m));
            }
        }
        MaintenanceCommand::List { json } => {
            let list = store.maintenances(now - 30 * 86_400_000)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&json!(list))?);
            } else if list.is_empty() {
                println!("no maintenance scheduled, none completed in the last 30 days");
            } else {
                for m in &list {
                    println!("{}", maintenance_line(m));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An RFC 3339 time, or a delay from now ("30m").
fn when(text: &str, now: i64) -> anyhow::Result<i64> {
    if let Some(d) = doorman_common::when::parse_duration(text) {
        return Ok(doorman_common::when::add(now, d));
    }
    doorman_common::when::parse_rfc3339(text)
        .map_err(|e| anyhow::anyhow!("--start: {e}, or a delay from now (30m, 2h)"))
}

fn maintenance_line(m: &Maintenance) -> String {
    let components = if m.components.is_empty() {
        String::new()
    } else {
        format!(" [{}]", m.components.join(", "))
    };
    format!(
        "#{} {} — {}{components}, {} to {}",
        m.id,
        m.name,
        m.status.as_str(),
        doorman_common::when::utc_minutes(m.scheduled_for_ms),
        doorman_common::when::utc_minutes(m.scheduled_until_ms)
    )
}
