//! The `doorman` binary: command-line glue over the library crates. Each subcommand parses its
//! arguments, calls one library entry point, and turns the outcome into an exit code here, in one
//! place.
#![forbid(unsafe_code)]

mod admin_client;
mod cmd_bans;
mod cmd_challenge;
mod cmd_doctor;
mod cmd_events;
mod cmd_health;
mod cmd_keys;
mod cmd_status;
mod cmd_trace;
mod demo;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};

/// `0.1.0 (commit 7c6faf2, 2026-12-07)`: the version, and the commit the binary was built from
/// with that commit's date (the build's own date would make two builds of one source differ).
fn long_version() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use doorman_server::build::{COMMIT, COMMIT_DATE, VERSION};
        format!("{VERSION} (commit {COMMIT}, {COMMIT_DATE})")
    });
    TEXT.as_str()
}

#[derive(Parser, Debug)]
#[command(
    name = "doorman",
    version = long_version(),
    about = "A self-hosted edge gateway that explains every denial",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway with a configuration file.
    Serve {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Worker threads for the async runtime (default: one per core; 1 runs everything on one
        /// thread).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Run the built-in demo: a chat service and the gateway in front of it.
    Demo(demo::DemoArgs),
    /// Print shell completions: `doorman completions bash > /etc/bash_completion.d/doorman`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `doorman man | gzip > /usr/share/man/man1/doorman.1.gz`.
    Man,
    /// Validate a configuration file; errors are printed as file:line:col.
    Check {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Print the report as JSON (on stdout, whatever the result).
        #[arg(long)]
        json: bool,
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        strict: bool,
    },
    /// List recorded events (denials and other non-allow answers).
    Events(cmd_events::EventsArgs),
    /// Show everything recorded about one request, by Ray ID.
    Explain(cmd_events::ExplainArgs),
    /// What-if: run a described request (JSON) through a config's policy.
    Trace(cmd_trace::TraceArgs),
    /// Manage API keys: create, list, show, revoke, rotate.
    Keys(cmd_keys::KeysArgs),
    /// List and lift temporary bans (rate limits with a mitigation timeout) on a running gateway.
    Bans(cmd_bans::BansArgs),
    /// Exit 0 if the gateway running with a config answers its liveness probe (for HEALTHCHECK).
    Health(cmd_health::HealthArgs),
    /// Manage the challenge's signing keys (rotate with overlap).
    Challenge(cmd_challenge::ChallengeArgs),
    /// Post and follow incidents on the status page: open, update, resolve, list.
    Incident(cmd_status::IncidentArgs),
    /// Announce maintenance windows on the status page: schedule, list.
    Maintenance(cmd_status::MaintenanceArgs),
    /// Diagnose a site from this machine: DNS, proxy, TCP, TLS, clock, HTTP, trace, API key.
    Doctor(cmd_doctor::DoctorArgs),
    /// Check or evaluate rules-language expressions.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// Parse an expression; print its normalized form (exit 0) or the error (exit 1).
    Check {
        /// The expression, e.g. 'http.host eq "example.com"'.
        expr: String,
    },
    /// Evaluate an expression against field values from a JSON object; prints true or false.
    Eval {
        /// The expression.
        expr: String,
        /// JSON file mapping field names to values (`-` for standard input).
        #[arg(long)]
        fields: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("doorman: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes generated text to stdout; a reader that stops early (`| head`) is not an error.
fn print_bytes(bytes: &[u8]) -> Result<ExitCode> {
    use std::io::Write;
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Serve { config, workers } => serve(&config, workers),
        Command::Demo(args) => demo::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Completions { shell } => {
            // Into a buffer first: the generator panics when stdout closes early (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "doorman", &mut script);
            print_bytes(&script)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            print_bytes(&page)
        }
        Command::Check {
            config,
            json,
            strict,
        } => {
            let checked = doorman_config::check(&config);
            let passes = checked.passes(strict);
            if json {
                println!("{}", serde_json::to_string_pretty(&checked.json(strict))?);
            } else if checked.errors > 0 {
                eprintln!("{}", checked.text());
            } else if passes {
                println!("{}", checked.text());
            } else {
                eprintln!("{}", checked.text());
                eprintln!(
                    "strict: {} count as errors; the file was not accepted",
                    if checked.warnings == 1 {
                        "1 warning".to_owned()
                    } else {
                        format!("{} warnings", checked.warnings)
                    }
                );
            }
            Ok(if passes {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Events(args) => cmd_events::run_events(&args),
        Command::Explain(args) => cmd_events::run_explain(&args),
        Command::Trace(args) => cmd_trace::run(&args),
        Command::Keys(args) => cmd_keys::run(&args),
        Command::Bans(args) => cmd_bans::run(&args),
        Command::Health(args) => cmd_health::run(&args),
        Command::Challenge(args) => cmd_challenge::run(&args),
        Command::Incident(args) => cmd_status::run_incident(&args),
        Command::Maintenance(args) => cmd_status::run_maintenance(&args),
        Command::Doctor(args) => cmd_doctor::run(&args),
        Command::Rules(RulesCommand::Check { expr }) => {
            match doorman_rules::cli::check_command(&expr) {
                Ok(normalized) => {
                    println!("{normalized}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Rules(RulesCommand::Eval { expr, fields }) => {
            let json = read_input(&fields);
            let outcome = json.map_err(|e| e.to_string()).and_then(|json| {
                doorman_rules::cli::eval_command(&expr, &json).map_err(|e| e.to_string())
            });
            match outcome {
                Ok(value) => {
                    println!("{value}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}

pub(crate) fn read_input(path: &PathBuf) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("reading standard input")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

fn serve(config: &PathBuf, workers: Option<usize>) -> Result<ExitCode> {
    let loaded = match doorman_config::load(config) {
        Ok(l) => l,
        Err(d) => {
            eprint!("{d}");
            eprintln!(
                "doorman: {} has errors; fix them and start again (`doorman check --config {}`)",
                config.display(),
                config.display()
            );
            return Ok(ExitCode::from(1));
        }
    };
    let logging = &loaded.config.server.logging;
    let _guard = doorman_server::logging::init(
        logging.format == doorman_config::LogFormat::Json,
        &logging.level,
    );
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    // One worker means one thread doing everything: a current-thread runtime then saves the
    // hand-offs between the worker and the I/O driver that a one-worker pool still makes.
    let mut builder = match workers {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all();
    if let Some(n) = workers.filter(|&n| n > 1) {
        builder.worker_threads(n);
    }
    let runtime = builder.build().context("starting the async runtime")?;
    runtime
        .block_on(doorman_server::serve(loaded, Some(config.clone())))
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}
