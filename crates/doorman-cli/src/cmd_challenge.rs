//! `doorman challenge rotate-key`: a new key signs clearance cookies from now on; the old one
//! keeps verifying for an overlap, so nobody's clearance is cut short.
//!
//! The key file is the one the gateway reads (`[challenge] key_file`, in the data directory by
//! default). The gateway re-reads it on reload (SIGHUP, `POST /admin/reload`, or an edit of its
//! config file), so a rotation needs no restart.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};

/// Manage the challenge's signing keys.
#[derive(Debug, Clone, clap::Args)]
pub struct ChallengeArgs {
    #[command(subcommand)]
    pub command: ChallengeCommand,
    /// The configuration file the gateway runs with (for `[challenge] key_file`).
    #[arg(long, short, global = true, default_value = "doorman.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ChallengeCommand {
    /// Sign with a new key; the current one keeps verifying for `--overlap`.
    RotateKey {
        /// How long cookies signed with the old key stay valid (at least the clearance
        /// lifetime, so that none is cut short).
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_overlap)]
        overlap: Duration,
    },
}

fn parse_overlap(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    doorman_common::when::parse_duration(text.trim())
        .ok_or_else(|| format!("`{text}` is not a duration: use e.g. 0s, 12h, 1d"))
}

pub fn run(args: &ChallengeArgs) -> Result<ExitCode> {
    let loaded = doorman_config::load(&args.config).map_err(|d| {
        anyhow!(
            "cannot read {}: {d}\nhint: pass the config the gateway runs with: --config PATH",
            args.config.display()
        )
    })?;
    let challenge = &loaded.config.server.challenge;
    let path = &challenge.key_file;
    match &args.command {
        ChallengeCommand::RotateKey { overlap } => {
            let keyring = doorman_challenge::Keyring::load_or_create(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let rotated = keyring.rotated(now, overlap.as_secs());
            // Written to a temporary file in the same directory, then renamed: a gateway
            // reloading at that moment reads the old file or the new one, never half of one.
            let tmp = path.with_extension("rotating");
            write_private(&tmp, &rotated.to_file_string())
                .with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
            if overlap.as_secs() < challenge.settings.clearance_lifetime_s {
                eprintln!(
                    "note: the overlap is shorter than the clearance lifetime ({} s): clearances signed with the old key end early (CLEARANCE_OLD_KEY)",
                    challenge.settings.clearance_lifetime_s
                );
            }
            println!(
                "rotated: a new key signs from now on; the old one verifies for {} more seconds.\nReload the gateway to use it: kill -HUP <pid>, or POST /admin/reload.",
                overlap.as_secs()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
