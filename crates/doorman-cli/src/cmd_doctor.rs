//! `doorman doctor URL`: the client-side diagnosis a blocked person or a support person runs.
//!
//! Glue over `doorman_doctor`: turn the arguments into `Options` (a bad URL, path, resolver,
//! status page URL, header or headers file is a usage error, exit 2), run the steps, print each
//! one as soon as it is known (a slow network should not look like a hang), and exit 0 when
//! nothing failed, 1 otherwise. `--json` prints one document at the end instead, for a support ticket.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use doorman_doctor::{HeaderSet, Options, parse_resolver};

/// Diagnose a site from this machine.
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    /// The URL to diagnose, e.g. https://example.com/plugins/weather.
    #[arg(value_name = "URL")]
    pub url: String,
    /// An API key to check through the gateway's whoami endpoint; sent as
    /// `Authorization: Bearer` to the URL's host and nowhere else.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Request this path instead of the URL's (and ask the gateway about it).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Print one JSON document (for a support ticket) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also ask this DNS resolver directly and compare answers: IP, IP:PORT or [IPv6]:PORT.
    /// Repeatable. Default: the nameservers in /etc/resolv.conf beyond the first.
    #[arg(long, value_name = "IP[:PORT]")]
    pub resolver: Vec<String>,
    /// Also read this Statuspage-compatible status page (its base URL, e.g.
    /// https://status.example.com): an outage there explains a site that is down. Default: the
    /// page the gateway's trace names, if any.
    #[arg(long, value_name = "URL")]
    pub status_url: Option<String>,
    /// Also trust the certificates in this PEM file (a private CA), beside the public roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Pretend the local clock is off by this many seconds (negative: behind), to see what a
    /// wrong clock does.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub clock_skew: Option<i64>,
    /// Seconds to wait for each HTTP answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
    /// Send this header to the site too (repeatable), e.g. 'X-Forwarded-For: 203.0.113.7' to
    /// see what a client behind a proxy the site trusts would get. A header the doctor would
    /// send anyway (User-Agent, Accept…) is replaced, not sent twice. Never sent to a status
    /// page.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Send a current Chrome's headers (User-Agent, Accept, Accept-Language, Sec-Fetch-*,
    /// sec-ch-ua…) instead of the doctor's own, to see what a browser gets from the site's bot
    /// checks.
    #[arg(long, conflicts_with = "headers_from")]
    pub browser: bool,
    /// Send the request headers in FILE instead of the doctor's own: `Name: value` lines, as a
    /// browser's developer tools copy them (Network tab: right-click the request, Copy request
    /// headers).
    #[arg(long, value_name = "FILE")]
    pub headers_from: Option<PathBuf>,
}

/// The options, or a usage error in words.
fn options(args: &DoctorArgs) -> Result<Options, String> {
    let words = |e: doorman_doctor::DoctorError| e.to_string();
    let mut opts = Options::new(&args.url).map_err(words)?;
    if let Some(path) = &args.path {
        opts = opts.with_path(path).map_err(words)?;
    }
    if let Some(url) = &args.status_url {
        opts = opts.with_status_url(url).map_err(words)?;
    }
    if let Some(file) = &args.ca_file {
        let pem = std::fs::read(file).map_err(|e| format!("--ca-file {}: {e}", file.display()))?;
        opts.add_ca_pem(&pem)
            .map_err(|e| format!("{e} (in {})", file.display()))?;
    }
    opts.api_key = args.api_key.clone();
    if args.browser {
        opts.header_set = HeaderSet::Browser;
    }
    if let Some(file) = &args.headers_from {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("--headers-from {}: {e}", file.display()))?;
        opts.header_set = HeaderSet::copied(&text, &file.display().to_string()).map_err(words)?;
    }
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .map(|(n, v)| (n.trim(), v.trim()))
            .filter(|(n, _)| !n.is_empty() && http::HeaderName::from_bytes(n.as_bytes()).is_ok())
            .ok_or_else(|| {
                format!("--header `{h}`: write NAME: VALUE, e.g. 'X-Forwarded-For: 203.0.113.7'")
            })?;
        if http::HeaderValue::from_str(value).is_err() {
            return Err(format!(
                "--header `{h}`: the value has characters a header cannot carry"
            ));
        }
        opts.extra_headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
    }
    opts.resolvers = args
        .resolver
        .iter()
        .map(|r| parse_resolver(r))
        .collect::<Result<_, _>>()
        .map_err(words)?;
    opts.clock_skew_ms = args.clock_skew.unwrap_or(0).saturating_mul(1000);
    opts.timeouts.request = Duration::from_secs(args.timeout.max(1));
    Ok(opts)
}

/// Runs `doorman doctor`.
pub fn run(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let opts = match options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("doorman doctor: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = if args.json {
        runtime.block_on(doorman_doctor::run(opts))
    } else {
        println!("doorman doctor {}\n", args.url.trim());
        let mut out = std::io::stdout();
        runtime.block_on(doorman_doctor::run_with(opts, |step| {
            let _ = out.write_all(doorman_doctor::render_step(step).as_bytes());
            let _ = out.flush();
        }))
    };
    if args.json {
        print!("{}", doorman_doctor::render_json(&report));
    } else {
        print!("{}", doorman_doctor::footer(&report));
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
