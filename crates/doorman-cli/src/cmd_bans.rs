//! `doorman bans list|lift`: the temporary bans a running gateway enforces (rate limiting rules
//! with a mitigation timeout), through its admin API.
//!
//! Bans live in the running process (and in Redis when counters are shared), not in a file, so
//! this command asks the server. It reads the same config file the server runs with to find the
//! admin address and token, and talks plain HTTP/1.1 over loopback: no client library needed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::admin_client::Admin;

/// See and lift temporary bans.
#[derive(Debug, Clone, clap::Args)]
pub struct BansArgs {
    #[command(subcommand)]
    pub command: BansCommand,
    /// The configuration file the server runs with (for the admin address and token).
    #[arg(long, short, global = true, default_value = "doorman.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum BansCommand {
    /// List the bans in force, ending soonest first.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End a ban now: the key's counter starts afresh.
    Lift {
        /// The banned value as listed (an IP, a key id), or its 16-hex-digit key.
        key: String,
        /// Only the ban of this rule (by default, every rule's ban on that key).
        #[arg(long)]
        rule: Option<String>,
    },
}

pub fn run(args: &BansArgs) -> Result<ExitCode> {
    let admin = Admin::from_config(&args.config, "bans can only be listed through it")?;
    match &args.command {
        BansCommand::List { json } => {
            let body = admin.call("GET", "/admin/bans")?.1;
            if *json {
                println!("{body}");
                return Ok(ExitCode::SUCCESS);
            }
            let bans = body["bans"].as_array().cloned().unwrap_or_default();
            if bans.is_empty() {
                println!("no bans in force");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<20} {:<12} {:<28} {:<22} {:<18} RAY",
                "RULE", "KIND", "VALUE", "UNTIL", "KEY"
            );
            for b in bans {
                let s = |k: &str| b[k].as_str().unwrap_or("").to_owned();
                println!(
                    "{:<20} {:<12} {:<28} {:<22} {:<18} {}",
                    s("rule"),
                    s("kind"),
                    s("value"),
                    s("until"),
                    s("key"),
                    s("ray_id")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BansCommand::Lift { key, rule } => {
            let mut path = format!("/admin/bans/lift?key={}", encode(key));
            if let Some(rule) = rule {
                path.push_str(&format!("&rule={}", encode(rule)));
            }
            let (status, body) = admin.call("POST", &path)?;
            if status == 404 {
                bail!("no ban in force matches `{key}`; `doorman bans list` shows them");
            }
            for b in body["lifted"].as_array().cloned().unwrap_or_default() {
                println!(
                    "lifted: {} {} (rule {}, was until {})",
                    b["kind"].as_str().unwrap_or(""),
                    b["value"].as_str().unwrap_or(""),
                    b["rule"].as_str().unwrap_or(""),
                    b["until"].as_str().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Percent-encodes everything but unreserved characters (IPv6 colons included, to be safe).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
