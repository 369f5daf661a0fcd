//! The diagnosis behind `doorman doctor URL`: what a blocked person, or the support person
//! helping them, runs to find the one thing standing between them and a site. Every Doorman
//! receipt says "check your connection", "sync your clock", "verify your API key"; this crate
//! does those checks from the client's side, in the order a request lives through them — name,
//! proxy, connection, encryption, clock, the request itself, what the gateway sees, the key —
//! and reports each as a [`Step`] with the facts it measured and, when it fails, the one fix.
//! It talks only to the host in the URL (and to the DNS resolvers it is given or finds), and
//! every network operation has a timeout, so a diagnosis always ends.
//!
//! Map:
//! - [`run`] / [`run_with`]: the steps in order; a step whose prerequisite failed is skipped.
//! - `target`: the URL, `--path` and `--resolver` values, checked before anything is sent.
//! - `dns`: the system resolver, the hosts file, and direct queries to each resolver (UDP, and
//!   TCP when the UDP answer is truncated).
//! - `env`: proxy variables and whether they would apply to this URL.
//! - `tcp`: one connection attempt per address, first success wins.
//! - `tls`: a rustls handshake whose verifier records the certificate and webpki's verdict;
//!   [`x509`] reads what a person needs from the certificate.
//! - `http`: one request on a fresh connection, bounded in time and size; Doorman receipts; the
//!   headers sent ([`HeaderSet`]: the doctor's own, a browser's, or ones copied from a browser,
//!   with `-H` replacing any of the same name).
//! - `clock`, `trace`, `credential`: the server's time, `/.well-known/doorman/trace` (with the
//!   bans in force for this client) and `/.well-known/doorman/whoami`.
//! - `render`: [`render_text`] and [`render_json`].
#![forbid(unsafe_code)]

mod clock;
mod cloudflare;
mod credential;
mod dns;
mod env;
#[cfg(feature = "test-support")]
pub mod fixtures;
mod http;
mod render;
mod status;
mod target;
mod tcp;
mod tls;
mod trace;
pub mod x509;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use doorman_common::when;

pub use http::BROWSER_HEADERS;
pub use render::{footer, render_json, render_step, render_text, verdict_line};
pub use target::{Scheme, Target, check_path, parse_resolver};

/// What can be wrong with the doctor's own arguments (network trouble is never an error: it
/// is what the report is about).
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// The URL cannot be checked.
    #[error("`{url}` is not a URL the doctor can check: {why}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why, and how to write it.
        why: String,
    },
    /// The `--path` value is unusable.
    #[error("--path `{path}`: {why}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why.
        why: String,
    },
    /// A `--ca-file` holds no usable certificate.
    #[error("--ca-file: {why}")]
    InvalidCa {
        /// Why.
        why: String,
    },
    /// The `--status-url` value is not an http(s) URL.
    #[error(
        "--status-url `{url}`: {why}; give the base URL of a Statuspage-compatible page, e.g. https://status.example.com"
    )]
    InvalidStatusUrl {
        /// The URL as given.
        url: String,
        /// Why.
        why: String,
    },
    /// A `--headers-from` file cannot be read as request headers.
    #[error("--headers-from {from}: {why}")]
    InvalidHeaders {
        /// The file as named.
        from: String,
        /// What is wrong, with the line when there is one.
        why: String,
    },
    /// A `--resolver` value is not an address.
    #[error(
        "--resolver `{text}` is not an address: write an IP (192.0.2.1), IP:PORT (127.0.0.1:5353) or [IPv6]:PORT"
    )]
    InvalidResolver {
        /// The value as given.
        text: String,
    },
}

/// A step's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Checked and fine.
    Ok,
    /// Checked and broken: the fix says what to do.
    Fail,
    /// Works, but something deserves attention.
    Warn,
    /// Not checked (not applicable, or a step it needs failed).
    Skip,
}

impl Status {
    /// `ok`, `fail`, `warn` or `skip` (the JSON form).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Skip => "skip",
        }
    }

    /// ✓, ✗, ! or - (the text form).
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Fail => "✗",
            Status::Warn => "!",
            Status::Skip => "-",
        }
    }
}

/// One check: what it measured and, when something is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Stable name: `dns`, `proxy`, `tcp`, `tls`, `clock`, `http`, `trace`, `status`,
    /// `credential`.
    pub name: &'static str,
    /// The outcome.
    pub status: Status,
    /// Measured facts, in order, as (label, value).
    pub facts: Vec<(String, String)>,
    /// The one thing to do, when the step failed or warns.
    pub fix: Option<String>,
}

impl Step {
    pub(crate) fn new(name: &'static str) -> Step {
        Step {
            name,
            status: Status::Ok,
            facts: Vec::new(),
            fix: None,
        }
    }

    pub(crate) fn skipped(name: &'static str, why: &str) -> Step {
        let mut s = Step::new(name);
        s.status = Status::Skip;
        s.fact("skipped", why);
        s
    }

    pub(crate) fn fact(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.facts.push((label.into(), value.into()));
    }

    pub(crate) fn fail(&mut self, fix: impl Into<String>) {
        self.status = Status::Fail;
        self.fix = Some(fix.into());
    }

    /// A warning never hides a failure already set.
    pub(crate) fn warn(&mut self, fix: Option<String>) {
        if self.status != Status::Fail {
            self.status = Status::Warn;
            if fix.is_some() {
                self.fix = fix;
            }
        }
    }

    /// The step's name for people.
    pub fn title(&self) -> &'static str {
        match self.name {
            "dns" => "DNS",
            "proxy" => "Proxy environment",
            "tcp" => "TCP connect",
            "tls" => "TLS",
            "clock" => "Clock",
            "http" => "HTTP",
            "trace" => "Trace",
            "status" => "Status page",
            "credential" => "Credential",
            other => other,
        }
    }

    /// The value of the first fact with this label.
    pub fn fact_value(&self, label: &str) -> Option<&str> {
        self.facts
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.as_str())
    }
}

/// Whose headers the doctor's requests to the site carry, before `-H` replaces or adds any.
/// The doctor's own are not a browser's, and a site's bot check judges them as such: the
/// other sets let the doctor reproduce what a browser gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HeaderSet {
    /// The doctor's own: `User-Agent: doorman-doctor/<version>`, `Accept: application/json`.
    #[default]
    Doctor,
    /// A current desktop Chrome's page load ([`BROWSER_HEADERS`]): `--browser`.
    Browser,
    /// A browser's request headers copied into a file (`--headers-from`).
    Copied {
        /// Where they came from (the file's name), for the report.
        from: String,
        /// The headers kept, names in lower case, in the file's order.
        headers: Vec<(String, String)>,
        /// Names in the file the doctor does not send (the connection's own, and
        /// `Accept-Encoding`), once each.
        left_out: Vec<String>,
    },
}

/// Headers a copied set never carries: the connection sets its own, and the doctor reads
/// answers uncompressed (a compressed receipt or error page would say nothing).
const NOT_COPIED: [&str; 9] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "te",
    "accept-encoding",
];

impl HeaderSet {
    /// A browser's request headers as its developer tools copy them ("Copy request headers" in
    /// Chrome, "Copy Request Headers" in Firefox): `Name: value` lines. Blank lines, `#`
    /// comments, a request line (`GET / HTTP/1.1`) and HTTP/2 pseudo-headers (`:authority: …`)
    /// are skipped; the connection's own headers and `Accept-Encoding` are left out (and
    /// named). `from` names the file in the report and in errors.
    pub fn copied(text: &str, from: &str) -> Result<HeaderSet, DoctorError> {
        let bad = |why: String| DoctorError::InvalidHeaders {
            from: from.to_owned(),
            why,
        };
        let mut headers = Vec::new();
        let mut left_out: Vec<String> = Vec::new();
        for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
            let line = line.trim();
            let n = i + 1;
            if line.is_empty() || line.starts_with('#') || line.starts_with(':') {
                continue;
            }
            if line.starts_with("curl ") {
                return Err(bad(format!(
                    "line {n} is a curl command: copy the request headers instead (in the browser's developer tools, Network tab: right-click the request, Copy request headers)"
                )));
            }
            let words: Vec<&str> = line.split(' ').collect();
            let request_line = words.len() == 3
                && words[0].bytes().all(|b| b.is_ascii_uppercase())
                && words[2].starts_with("HTTP/");
            if request_line {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(bad(format!(
                    "line {n} is not a `Name: value` header: `{line}`"
                )));
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if ::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(bad(format!("line {n}: `{name}` is not a header name")));
            }
            if ::http::HeaderValue::from_str(value).is_err() {
                return Err(bad(format!(
                    "line {n}: the value of {name} has characters a header cannot carry"
                )));
            }
            if NOT_COPIED.contains(&name.as_str()) {
                if !left_out.contains(&name) {
                    left_out.push(name);
                }
                continue;
            }
            headers.push((name, value.to_owned()));
        }
        if headers.is_empty() {
            return Err(bad(
                "no headers found: the file should hold `Name: value` lines, as the browser's developer tools copy them".to_owned(),
            ));
        }
        Ok(HeaderSet::Copied {
            from: from.to_owned(),
            headers,
            left_out,
        })
    }

    /// Whether this is the doctor's own set (so a bot check's verdict is about the doctor).
    pub fn is_doctor(&self) -> bool {
        matches!(self, HeaderSet::Doctor)
    }
}

/// How long each kind of wait may last.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// One direct DNS query (A and AAAA together, a TCP retry after a truncated answer included).
    pub dns_query: Duration,
    /// The system resolver.
    pub lookup: Duration,
    /// One TCP connection attempt.
    pub connect: Duration,
    /// One TLS handshake.
    pub tls: Duration,
    /// One HTTP request, answer and body included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            dns_query: Duration::from_secs(2),
            lookup: Duration::from_secs(5),
            connect: Duration::from_secs(5),
            tls: Duration::from_secs(5),
            request: Duration::from_secs(10),
        }
    }
}

/// What to diagnose and with what.
#[derive(Debug, Clone)]
pub struct Options {
    /// The URL, taken apart; `target.path` is what the HTTP step requests.
    pub target: Target,
    /// An API key to check (`Authorization: Bearer`), sent only to the target's host.
    pub api_key: Option<String>,
    /// Resolvers to ask directly. Empty: those of `resolv_conf` beyond the first, if any.
    pub resolvers: Vec<SocketAddr>,
    /// Where to find more resolvers when none are given (Linux: `/etc/resolv.conf`).
    pub resolv_conf: Option<PathBuf>,
    /// The hosts file to look the name up in.
    pub hosts_file: Option<PathBuf>,
    /// More trusted roots (DER), beside Mozilla's: a private CA the person's machine trusts.
    pub extra_roots: Vec<Vec<u8>>,
    /// The proxy variables of the environment (only those; nothing else is kept).
    pub env: Vec<(String, String)>,
    /// A Statuspage-compatible status page to read (its base URL, e.g.
    /// `https://status.example.com`). Without it, the page the Doorman trace names, if any.
    pub status_url: Option<String>,
    /// Whose headers the requests to the site carry: the doctor's own, a browser's
    /// (`--browser`) or a copied set (`--headers-from`).
    pub header_set: HeaderSet,
    /// More request headers for the site (never for a status page on another host), e.g.
    /// `X-Forwarded-For` when playing a client behind a proxy the site trusts. Each replaces a
    /// header of the same name (in any case) that the set or the key would send.
    pub extra_headers: Vec<(String, String)>,
    /// Pretend the local clock is this far ahead (negative: behind), to see what a wrong
    /// clock looks like; also applied to certificate validity.
    pub clock_skew_ms: i64,
    /// Time limits.
    pub timeouts: Timeouts,
}

/// The environment variables the proxy step reads, in the spellings tools accept.
pub const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

impl Options {
    /// Options for `url` with this machine's settings: its proxy variables, hosts file and
    /// (on Linux) resolv.conf. Nothing else is read from the environment.
    pub fn new(url: &str) -> Result<Options, DoctorError> {
        let env = PROXY_VARS
            .iter()
            .filter_map(|name| {
                let v = std::env::var_os(name)?;
                Some(((*name).to_owned(), v.to_string_lossy().into_owned()))
            })
            .collect();
        let hosts_file = if cfg!(windows) {
            Some(PathBuf::from(r"C:\Windows\System32\drivers\etc\hosts"))
        } else {
            Some(PathBuf::from("/etc/hosts"))
        };
        let resolv_conf = cfg!(target_os = "linux").then(|| PathBuf::from("/etc/resolv.conf"));
        Ok(Options {
            target: Target::parse(url)?,
            api_key: None,
            resolvers: Vec::new(),
            resolv_conf,
            hosts_file,
            extra_roots: Vec::new(),
            status_url: None,
            header_set: HeaderSet::Doctor,
            extra_headers: Vec::new(),
            env,
            clock_skew_ms: 0,
            timeouts: Timeouts::default(),
        })
    }

    /// Options that read nothing from this machine: no proxy variables, no hosts file, no
    /// resolv.conf (for tests and for embedding).
    pub fn isolated(url: &str) -> Result<Options, DoctorError> {
        Ok(Options {
            env: Vec::new(),
            hosts_file: None,
            resolv_conf: None,
            ..Options::new(url)?
        })
    }

    /// Trusts the certificates of a PEM file (a private CA) beside Mozilla's roots; returns
    /// how many were added.
    pub fn add_ca_pem(&mut self, pem: &[u8]) -> Result<usize, DoctorError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| DoctorError::InvalidCa {
                why: format!("not a PEM certificate file ({e})"),
            })?;
            // Checked now, so that a bad file is a usage error rather than a TLS failure.
            let mut probe = rustls::RootCertStore::empty();
            probe
                .add(cert.clone())
                .map_err(|e| DoctorError::InvalidCa {
                    why: format!("a certificate cannot be used as a root ({e})"),
                })?;
            self.extra_roots.push(cert.to_vec());
            added += 1;
        }
        if added == 0 {
            return Err(DoctorError::InvalidCa {
                why: "no `-----BEGIN CERTIFICATE-----` block found".to_owned(),
            });
        }
        Ok(added)
    }

    /// Reads this status page (checked now: a bad URL is a usage error, not a network step).
    pub fn with_status_url(mut self, url: &str) -> Result<Options, DoctorError> {
        Target::parse(url).map_err(|e| DoctorError::InvalidStatusUrl {
            url: url.to_owned(),
            why: match e {
                DoctorError::InvalidUrl { why, .. } => why,
                other => other.to_string(),
            },
        })?;
        self.status_url = Some(url.trim().to_owned());
        Ok(self)
    }

    /// Requests `path` instead of the URL's own path (and asks the trace and whoami endpoints
    /// about it).
    pub fn with_path(mut self, path: &str) -> Result<Options, DoctorError> {
        self.target.path = check_path(path)?;
        Ok(self)
    }
}

/// The outcome of a diagnosis.
#[derive(Debug, Clone)]
pub struct Report {
    /// The URL diagnosed.
    pub url: String,
    /// When the diagnosis started, RFC 3339 by the local clock.
    pub started_at: String,
    /// The steps in order.
    pub steps: Vec<Step>,
    /// The index of the first failed step.
    pub first_failure: Option<usize>,
    /// The index of the step that explains the first failure, when another step does: the
    /// status page reporting an outage (or an incident, or maintenance) explains a refused
    /// connection or a 5xx/absent answer better than that failure's own fix. The verdict
    /// line names both.
    pub explained_by: Option<usize>,
    /// Every Ray ID the site answered with (quote them to support).
    pub ray_ids: Vec<String>,
}

impl Report {
    /// No step failed (warnings and skipped steps pass).
    pub fn passed(&self) -> bool {
        self.first_failure.is_none()
    }

    /// The step with this name.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// Runs every step and returns the report.
pub async fn run(opts: Options) -> Report {
    run_with(opts, |_| {}).await
}

/// Runs every step, handing each to `on_step` as soon as it is known (so a person sees the
/// progress of a slow network), and returns the report.
///
/// The steps are reported in a fixed order — dns, proxy, tcp, tls, clock, http, trace, status,
/// credential — but measured in the order the network allows: the clock is judged from the
/// answers of the HTTP, trace and Cloudflare trace requests, and the HTTP step's words use what
/// the trace and the status page said. `status` is there only when a status page is known
/// (`--status-url`, or the trace's `status_page`); with `--status-url` it is read even when the
/// site itself cannot be reached, since that is when it matters most.
pub async fn run_with(opts: Options, mut on_step: impl FnMut(&Step)) -> Report {
    let skew = opts.clock_skew_ms;
    let mut report = Report {
        url: opts.target.url.clone(),
        started_at: when::rfc3339(clock::now_ms(skew)),
        steps: Vec::new(),
        first_failure: None,
        explained_by: None,
        ray_ids: Vec::new(),
    };
    let mut push = |report: &mut Report, step: Step| {
        on_step(&step);
        if step.status == Status::Fail && report.first_failure.is_none() {
            report.first_failure = Some(report.steps.len());
        }
        report.steps.push(step);
    };
    let t = &opts.target;

    let (step, addrs) = dns::step(&opts).await;
    push(&mut report, step);
    push(&mut report, env::step(&opts.env, t));

    let tcp = if addrs.is_empty() {
        push(
            &mut report,
            Step::skipped("tcp", "there is no address to connect to (DNS failed)"),
        );
        None
    } else {
        let (step, conn) = tcp::step(&addrs, &t.host, t.port, opts.timeouts.connect).await;
        push(&mut report, step);
        conn
    };

    let connected = match (tcp, t.scheme) {
        (None, _) => {
            push(
                &mut report,
                Step::skipped("tls", "no connection (TCP connect failed)"),
            );
            None
        }
        (Some((stream, addr)), Scheme::Http) => {
            push(
                &mut report,
                Step::skipped("tls", "http:// URL: nothing is encrypted"),
            );
            let connector = http::Connector::new(addr, None, &opts.timeouts);
            Some((connector, http::boxed(stream), false))
        }
        (Some((stream, addr)), Scheme::Https) => {
            let (step, out) =
                tls::step(stream, t, &opts.extra_roots, skew, opts.timeouts.tls).await;
            push(&mut report, step);
            out.map(|(io, params, h2)| {
                (
                    http::Connector::new(addr, Some(params), &opts.timeouts),
                    io,
                    h2,
                )
            })
        }
    };
    let Some((connector, io, h2)) = connected else {
        for (name, why) in [
            ("clock", "no connection to ask the server's time over"),
            ("http", "no connection"),
            ("trace", "no connection"),
        ] {
            push(&mut report, Step::skipped(name, why));
        }
        let mut outage = false;
        if let Some((base, source)) = status::base(opts.status_url.as_deref(), None) {
            let checked = status::check(&base, source, t, None, &opts).await;
            let (step, o) = status::step(&checked, clock::now_ms(skew).div_euclid(1000));
            outage = o;
            push(&mut report, step);
        }
        push(&mut report, Step::skipped("credential", "no connection"));
        explain_first_failure(&mut report, outage, true);
        return report;
    };

    // The request itself, then the gateway's own endpoints; the clock is judged from all of
    // their answers but reported first, because a wrong clock explains refusals that follow.
    let main = http::fetch(
        io,
        h2,
        t,
        &t.path,
        &http::headers(&opts, false),
        opts.timeouts.request,
        skew,
    )
    .await;
    // A refusal that came as a page (a browser's Accept) is asked once more as JSON, for its
    // words: the gateway's page is for a person's eyes, its JSON for the doctor.
    let again = match &main {
        Ok(f)
            if f.status.as_u16() >= 400
                && f.header("doorman-code").is_some()
                && http::receipt(f).is_none() =>
        {
            connector
                .get(t, &t.path, &http::headers(&opts, true), skew)
                .await
                .ok()
        }
        _ => None,
    };
    let json_receipt = again.as_ref().and_then(http::receipt);
    let (traced, whoami) = if main.is_ok() {
        let path = target::query_value(&t.path);
        let traced = connector
            .get(
                t,
                &format!("{}?path={path}", trace::PATH),
                &http::headers(&opts, true),
                skew,
            )
            .await;
        let whoami = match &opts.api_key {
            Some(_) => Some(
                connector
                    .get(
                        t,
                        &format!("{}?path={path}", credential::PATH),
                        &http::headers(&opts, true),
                        skew,
                    )
                    .await,
            ),
            None => None,
        };
        (Some(traced), whoami)
    } else {
        (None, None)
    };
    let traced_ok = traced.as_ref().and_then(|r| r.as_ref().ok());

    let mut samples = Vec::new();
    for (what, fetched) in [
        (format!("Date header of GET {}", t.path), main.as_ref().ok()),
        (format!("Date header of GET {}", trace::PATH), traced_ok),
    ] {
        if let Some(f) = fetched {
            samples.extend(clock::from_date(f, &what));
            report.ray_ids.extend(http::ray_ids(f));
        }
    }
    if let Some(f) = &again {
        report.ray_ids.extend(http::ray_ids(f));
    }
    if let Some(Ok(f)) = &whoami {
        report.ray_ids.extend(http::ray_ids(f));
    }
    let own_headers = http::own_headers(&opts);
    let (mut trace_step, trace_info) = trace::step(traced.as_ref(), &t.path, own_headers.is_some());
    if let Some(sample) = trace_info.as_ref().and_then(|i| i.clock.clone()) {
        samples.push(sample);
    }

    // Behind Cloudflare without a Doorman trace, Cloudflare's own trace says what it sees.
    let behind_cloudflare = main.as_ref().is_ok_and(cloudflare::detected)
        || traced_ok.is_some_and(cloudflare::detected);
    let mut cf_trace = None;
    if behind_cloudflare && trace_info.is_none() {
        let fetched = connector
            .get(
                t,
                cloudflare::TRACE_PATH,
                &http::plain_headers("text/plain"),
                skew,
            )
            .await;
        match &fetched {
            Ok(f) => {
                report.ray_ids.extend(http::ray_ids(f));
                match cloudflare::CfTrace::parse(&f.body).filter(|_| f.status.is_success()) {
                    Some(tr) => {
                        let (step, sample) = cloudflare::trace_step(f, &tr);
                        trace_step = step;
                        samples.extend(sample);
                        cf_trace = Some(tr);
                    }
                    None => trace_step.fact(
                        "Cloudflare trace",
                        format!(
                            "{} from GET {}, not a trace",
                            f.status.as_u16(),
                            cloudflare::TRACE_PATH
                        ),
                    ),
                }
            }
            Err(e) => trace_step.fact(
                "Cloudflare trace",
                format!("GET {} failed: {}", cloudflare::TRACE_PATH, e.what),
            ),
        }
    }
    // A Cloudflare error page shows its Ray ID in the body; the header usually has it too,
    // with the data centre appended.
    if let Some(ray) = main
        .as_ref()
        .ok()
        .and_then(cloudflare::error_page)
        .and_then(|e| e.ray)
        && !report.ray_ids.iter().any(|r| r.starts_with(ray.as_str()))
    {
        report.ray_ids.push(ray);
    }

    // The status page: the flag's, else the one the trace names.
    let status_base = status::base(
        opts.status_url.as_deref(),
        trace_info.as_ref().and_then(|i| i.status_page.as_deref()),
    );
    let checked = match &status_base {
        Some((base, source)) => {
            Some(status::check(base, *source, t, Some(&connector), &opts).await)
        }
        None => None,
    };

    push(
        &mut report,
        if main.is_err() {
            Step::skipped("clock", "the server did not answer")
        } else {
            clock::step(&samples, skew)
        },
    );
    let follow = checked.as_ref().map(status::Checked::follow_url);
    let hints = http::Hints {
        did_you_mean: trace_info.as_ref().and_then(|i| i.did_you_mean.as_deref()),
        cf_trace: cf_trace.as_ref(),
        status_page: follow.as_deref(),
        request: Some(http::describe_request(&opts, &t.path)),
        own_headers,
        json_receipt: json_receipt.as_ref(),
    };
    push(
        &mut report,
        http::step(&main, t, opts.api_key.is_some(), &hints),
    );
    push(&mut report, trace_step);
    let mut outage = false;
    if let Some(c) = &checked {
        let (step, o) = status::step(c, clock::now_ms(skew).div_euclid(1000));
        outage = o;
        push(&mut report, step);
    }
    push(
        &mut report,
        match (&opts.api_key, &whoami) {
            (Some(_), None) => Step::skipped("credential", "the server did not answer"),
            _ => credential::step(whoami.as_ref(), &t.path, clock::now_ms(skew)),
        },
    );
    let server_side = match &main {
        Err(_) => true,
        Ok(f) => f.status.is_server_error(),
    };
    explain_first_failure(&mut report, outage, server_side);
    let mut seen = std::collections::HashSet::new();
    report.ray_ids.retain(|r| seen.insert(r.clone()));
    report
}

/// Points the verdict at the status page when it reports trouble and the first failure is one
/// an outage causes: a connection the site refuses or drops, or an answer that is a 5xx or
/// never comes (`server_side`). A refusal addressed to this client (403, 429, a 1020) is not
/// explained by an outage, nor is a wrong clock or certificate.
fn explain_first_failure(report: &mut Report, outage: bool, server_side: bool) {
    let Some(first) = report.first_failure else {
        return;
    };
    let Some(status_at) = report.steps.iter().position(|s| s.name == "status") else {
        return;
    };
    let status_step = &report.steps[status_at];
    let explains = outage
        && matches!(status_step.status, Status::Fail | Status::Warn)
        && match report.steps[first].name {
            "tcp" => true,
            "http" => server_side,
            _ => false,
        };
    if explains {
        report.explained_by = Some(status_at);
    }
}
