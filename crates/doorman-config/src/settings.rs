//! The compiled configuration: validated, resolved values ready to use, with no strings left to
//! parse. What the decision core needs lives in [`doorman_core::Policy`]; what only the I/O shell
//! needs (sockets, files, limits, logging) lives in [`ServerSettings`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use doorman_core::Policy;

/// A loaded, valid configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// What the server process needs: sockets, files, limits, logging.
    pub server: ServerSettings,
    /// What the decision core needs: routes, upstreams, client-IP trust, site info.
    pub policy: Policy,
}

/// Settings for the I/O shell.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The file this was loaded from, as given (for reloads and messages).
    pub config_path: PathBuf,
    /// Suffix of every Ray ID (also in [`Policy::node`]); matches `[a-z0-9-]+`.
    pub node_name: String,
    /// Where the SQLite database and generated secrets live; relative paths in the file were
    /// resolved against the config file's directory.
    pub data_dir: PathBuf,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Whether to reload when the file changes (SIGHUP always reloads).
    pub watch_config: bool,
    /// Where to accept client connections; never empty.
    pub listeners: Vec<Listener>,
    /// The admin API and `/metrics`; `None` when `[admin] enabled = false`.
    pub admin: Option<Admin>,
    /// Limits on client requests.
    pub limits: Limits,
    /// Where rate limit counters live.
    pub rate_limit: RateLimitSettings,
    /// Where credentials are read from and which JWT issuers are trusted.
    pub auth: AuthServer,
    /// The trace endpoint's path; `None` turns it off.
    pub trace_path: Option<String>,
    /// The challenge page and clearance cookies.
    pub challenge: ChallengeServer,
    /// `[status]`; `None` when the page is off.
    pub status: Option<StatusSettings>,
    /// Headers added for the upstream.
    pub forwarding: Forwarding,
    /// Log output.
    pub logging: Logging,
    /// The event log writer.
    pub events: Events,
    /// `[access_log]`; `None` when the table is absent.
    pub access_log: Option<AccessLog>,
}

/// One socket to accept client connections on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Address to bind.
    pub addr: SocketAddr,
    /// TLS certificate and key; `None` for plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Expect a PROXY protocol v1/v2 header on each connection; honoured only from
    /// `client_ip.trusted_proxies`.
    pub proxy_protocol: bool,
    /// Accept HTTP/2 with prior knowledge (plain listeners only; TLS listeners negotiate with
    /// ALPN).
    pub h2c: bool,
}

/// A certificate chain and its key, both PEM, both checked readable when the file was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// Private key.
    pub key_file: PathBuf,
}

/// The admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Address of the admin API and `/metrics`.
    pub addr: SocketAddr,
    /// Where the bearer token comes from.
    pub token: AdminToken,
}

/// Where the admin bearer token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminToken {
    /// This file (resolved against the data directory). If it does not exist, the server
    /// generates a token and writes it here with mode 0600.
    File(PathBuf),
    /// This environment variable.
    Env(String),
}

/// Limits on client requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Request line plus headers, in bytes; more gets 431.
    pub max_header_bytes: usize,
    /// Number of request headers; more gets 431.
    pub max_headers: usize,
    /// Body size in bytes; more gets 413. `None`: unlimited.
    pub max_body_bytes: Option<u64>,
    /// Time to receive the request head; slower gets 408.
    pub header_read_timeout: Duration,
    /// Longest pause between two reads of a request body; longer gets 408 (BODY_TIMEOUT).
    pub body_read_timeout: Duration,
    /// Client connections open at once (needs a restart to change).
    pub max_connections: usize,
    /// How long a connection may stay open with no request in flight (HTTP/1 keep-alive, and
    /// HTTP/2 with no open stream).
    pub idle_timeout: Duration,
    /// After this, a connection is closed gracefully: requests in flight finish.
    pub max_connection_age: Duration,
    /// After this many requests, a connection is closed gracefully once their responses are sent.
    pub max_requests_per_connection: u64,
}

/// Headers added to proxied requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarding {
    /// Append the client address to `X-Forwarded-For`.
    pub x_forwarded_for: bool,
    /// Set `X-Forwarded-Proto`.
    pub x_forwarded_proto: bool,
    /// Set `X-Forwarded-Host`.
    pub x_forwarded_host: bool,
    /// The Ray ID header, on every response and every proxied request (lower-case).
    pub ray_header: http::HeaderName,
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// Pretty or JSON lines.
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive list.
    pub level: String,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The event log writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Events {
    /// Events waiting for the writer thread; when full, new events are dropped and counted.
    pub queue_capacity: usize,
    /// Events written per transaction.
    pub batch_size: usize,
    /// Delete events older than this many days; `None` keeps them forever.
    pub retention_days: Option<u64>,
    /// Keep at most this many events; `None`: no cap.
    pub retention_rows: Option<u64>,
}

/// `[access_log]`: one line per request.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLog {
    pub destination: AccessLogDestination,
    pub format: AccessLogFormat,
    /// Fraction of allowed requests logged, in `0.0..=1.0`.
    pub sample_allowed: f64,
    /// Lines waiting for the writer; when full, new lines are dropped and counted.
    pub queue_capacity: usize,
}

/// Where access log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogDestination {
    Stdout,
    /// Resolved against the config file's directory.
    File(PathBuf),
}

/// How an access log line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    Json,
    /// Apache's combined log format.
    Combined,
}

/// Where rate limit counters live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Keys the in-process limiter tracks at most.
    pub max_keys: usize,
    /// `None`: counters in this process only.
    pub redis: Option<RedisSettings>,
}

/// `[rate_limit] backend = "redis"`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// The URL, which may hold a password: never logged (see the Debug impl).
    pub url: String,
    /// Refuse (`true`) or count locally (`false`) while Redis is unreachable.
    pub fail_closed: bool,
    /// Prefix of every key written.
    pub key_prefix: String,
    /// Per-decision timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &"<redacted>")
            .field("fail_closed", &self.fail_closed)
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The server's part of `[auth]` and `[[jwt_providers]]`.
#[derive(Debug, Clone)]
pub struct AuthServer {
    /// A header that may carry an API key besides `Authorization: Bearer`.
    pub key_header: Option<http::HeaderName>,
    /// A query parameter that may carry an API key (warned about).
    pub key_query_param: Option<String>,
    /// Prefixes of this site's API keys.
    pub key_prefixes: Vec<String>,
    /// The whoami endpoint's path; `None` turns it off.
    pub whoami_path: Option<String>,
    /// Trusted JWT issuers, checked at load.
    pub jwt_providers: Vec<doorman_jwt::ProviderConfig>,
}

/// `[challenge]`: what a `challenge` action shows browsers.
#[derive(Debug, Clone)]
pub struct ChallengeServer {
    /// Leading zero bits of the proof of work.
    pub difficulty: u8,
    /// The signing keys' file (created 0600 when missing).
    pub key_file: PathBuf,
    /// Where the page posts its answer.
    pub submit_path: String,
    /// Cookie names, lifetimes and binding.
    pub settings: doorman_challenge::Settings,
    /// Honour `?doorman_clock_skew_s=N` (demos and tests only).
    pub clock_skew_demo: bool,
}

/// `[status]`: the public status page, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSettings {
    /// Where it is served, e.g. `/status` (never empty, never with a trailing `/`).
    pub path: String,
    /// The page title.
    pub title: String,
    /// The page's public address, or the path when none was given.
    pub url: String,
    /// Open and resolve incidents from health checks.
    pub auto_incidents: bool,
    /// The components, in page order.
    pub components: Vec<StatusComponent>,
    /// The public mitigations: (a stable key, the words visitors read).
    pub mitigations: Vec<(String, String)>,
}

/// One component of the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusComponent {
    /// Stable id.
    pub id: String,
    /// Shown name.
    pub name: String,
    /// One line under the name.
    pub description: Option<String>,
    /// A group heading.
    pub group: Option<String>,
    /// The upstreams it is made of (names that exist).
    pub upstreams: Vec<String>,
    /// Shown as `degraded_performance` while all targets are up but the last three passing
    /// checks took longer than this on average.
    pub degraded_above: Option<std::time::Duration>,
}
