//! `doorman health`: exits 0 when the gateway running with a config answers its liveness probe
//! (`GET /healthz` on the admin listener), 1 otherwise, with the reason on stderr.
//!
//! Made for probes that have no HTTP client at hand: the container image's HEALTHCHECK (the
//! runtime image has no shell or curl) and scripts. It needs no admin token.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::admin_client::Admin;

/// Ask a running gateway whether it is alive.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    /// The configuration file the server runs with (for the admin address).
    #[arg(long, short, default_value = "doorman.toml")]
    pub config: PathBuf,
}

pub fn run(args: &HealthArgs) -> Result<ExitCode> {
    let admin = Admin::address_from_config(
        &args.config,
        "enable it for `doorman health`, or probe a listener instead",
    )?;
    let (status, body) = admin.call_raw("GET", "/healthz")?;
    if status == 200 {
        println!(
            "healthy: the gateway at {} answered {}",
            admin.addr,
            body.trim()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "unhealthy: the gateway at {} answered {status}: {}",
            admin.addr,
            body.trim()
        );
        Ok(ExitCode::from(1))
    }
}
