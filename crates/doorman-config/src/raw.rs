//! The file as written: serde structs that mirror `doorman.toml` key for key, with its defaults.
//!
//! These types only say what shape a file may have. They accept anything the TOML grammar and
//! the field types allow; whether the values make sense together (names that resolve, addresses
//! that parse, files that exist) is decided later by [`crate::compile`]. Keys without a sensible
//! default are `Option`s here so that a missing key becomes a located, explained error from the
//! compiler rather than serde's terse "missing field", and so that removing a broken key while
//! collecting errors never invents a second, misleading one.
//!
//! Units are part of the key names (`_ms`, `_secs`, `_bytes`) because a bare `timeout = 30` has
//! misled every operator who ever guessed the unit wrong.

use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Default `[server] data_dir`, relative to the config file's directory.
pub const DEFAULT_DATA_DIR: &str = "./doorman-data";
/// Default `[server] shutdown_grace_secs`.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;
/// Default `[admin] addr`.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:9090";
/// Default `[admin] token_file`, relative to the data directory.
pub const DEFAULT_ADMIN_TOKEN_FILE: &str = "admin.token";
/// Default `[limits] max_header_bytes`.
pub const DEFAULT_MAX_HEADER_BYTES: u64 = 16 * 1024;
/// Default `[limits] max_headers`.
pub const DEFAULT_MAX_HEADERS: u64 = 100;
/// Default `[limits] max_body_bytes` (10 MiB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// Default `[limits] header_read_timeout_ms`.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Longest pause allowed between two reads of a request body.
pub const DEFAULT_BODY_READ_TIMEOUT_MS: u64 = 30_000;
/// Default `[limits] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 10_000;
/// Default `[limits] idle_timeout_ms` (nginx's keepalive_timeout).
pub const DEFAULT_CLIENT_IDLE_TIMEOUT_MS: u64 = 75_000;
/// Default `[limits] max_connection_age_secs`.
pub const DEFAULT_MAX_CONNECTION_AGE_SECS: u64 = 3600;
/// Default `[limits] max_requests_per_connection` (nginx's keepalive_requests).
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: u64 = 1000;
/// Default `[forwarding] ray_header`.
pub const DEFAULT_RAY_HEADER: &str = "doorman-ray";
/// Default `[site] name`.
pub const DEFAULT_SITE_NAME: &str = "Doorman";
/// Default `[logging] level`.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Default `[events] queue_capacity`.
pub const DEFAULT_EVENTS_QUEUE_CAPACITY: u64 = 10_000;
/// Default `[events] batch_size`.
pub const DEFAULT_EVENTS_BATCH_SIZE: u64 = 256;
/// Default `[events] retention_days`.
pub const DEFAULT_EVENTS_RETENTION_DAYS: u64 = 30;
/// Default `[events] retention_rows`.
pub const DEFAULT_EVENTS_RETENTION_ROWS: u64 = 1_000_000;
/// Default `[access_log] queue_capacity`.
pub const DEFAULT_ACCESS_LOG_QUEUE_CAPACITY: u64 = 16_384;
/// Default `[[upstreams]] connect_timeout_ms`.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;
/// Default `[[upstreams]] response_timeout_ms`.
pub const DEFAULT_RESPONSE_TIMEOUT_MS: u64 = 30_000;
/// Default `[[upstreams]] idle_timeout_ms`.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 90_000;
/// Default `[[upstreams]] max_idle_per_target`.
pub const DEFAULT_MAX_IDLE_PER_TARGET: u64 = 32;
/// Default `[rate_limit] max_keys`.
pub const DEFAULT_RATE_LIMIT_MAX_KEYS: u64 = 1_000_000;
/// Default `[rate_limit] redis_timeout_ms`.
pub const DEFAULT_REDIS_TIMEOUT_MS: u64 = 100;
/// Default `[rate_limit] redis_key_prefix`.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "doorman:rl:";
/// Default `[[routes]] path_prefix`.
pub const DEFAULT_PATH_PREFIX: &str = "/";

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// Process-wide settings.
    pub server: RawServer,
    /// Addresses to accept client connections on; at least one.
    pub listeners: Vec<RawListener>,
    /// The admin API and metrics endpoint.
    pub admin: RawAdmin,
    /// Size and time limits on client requests.
    pub limits: RawLimits,
    /// Which peers may name the client's address.
    pub client_ip: RawClientIp,
    /// Headers added for the upstream.
    pub forwarding: RawForwarding,
    /// What public pages say about the site.
    pub site: RawSite,
    /// Log output.
    pub logging: RawLogging,
    /// The event log writer.
    pub events: RawEvents,
    /// One line per request; off when the table is absent.
    pub access_log: Option<RawAccessLog>,
    /// Named origins.
    pub upstreams: Vec<RawUpstream>,
    /// Which requests go where, and who may use them.
    pub routes: Vec<RawRoute>,
    /// Country and AS databases.
    pub intel: RawIntel,
    /// Named lists of IPs, ASNs or strings, for access rules and expressions.
    pub lists: Vec<RawList>,
    /// IP access rules: allow, block, challenge or log by IP, list, ASN or country.
    pub access_rules: Vec<RawAccessRule>,
    /// Custom firewall rules in the rules language, in file order.
    pub rules: Vec<RawRule>,
    /// Where rate limit counters live (in process, or Redis shared by several gateways).
    pub rate_limit: RawRateLimitSettings,
    /// Rate limiting rules, in file order.
    pub rate_limits: Vec<RawRateLimit>,
    /// Where credentials come from and how the gateway answers about them.
    pub auth: RawAuth,
    /// Issuers whose JWTs routes may accept.
    pub jwt_providers: Vec<RawJwtProvider>,
    /// The challenge that `challenge` actions show browsers.
    pub challenge: RawChallenge,
    /// The public status page: components fed by health checks, incidents, mitigations.
    pub status: RawStatus,
    /// How request paths are normalized before routing and rules, and what the origin gets.
    pub normalization: RawNormalization,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    /// Suffix of every Ray ID. Default: the machine's host name, sanitized.
    pub node_name: Option<String>,
    /// Where the SQLite database and generated secrets live; relative to the config file.
    pub data_dir: PathBuf,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Reload when the file changes (SIGHUP always reloads).
    pub watch_config: bool,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            node_name: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            shutdown_grace_secs: DEFAULT_SHUTDOWN_GRACE_SECS,
            watch_config: true,
        }
    }
}

/// One `[[listeners]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawListener {
    /// `ip:port` to bind. Required.
    pub addr: Option<String>,
    /// Serve TLS with these files; absent means plain HTTP.
    pub tls: Option<RawTls>,
    /// Expect a PROXY protocol v1/v2 header on each connection.
    pub proxy_protocol: bool,
    /// Accept HTTP/2 with prior knowledge on a plain listener.
    pub h2c: bool,
}

impl Default for RawListener {
    fn default() -> Self {
        RawListener {
            addr: None,
            tls: None,
            proxy_protocol: false,
            h2c: true,
        }
    }
}

/// A listener's `tls = { … }` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTls {
    /// PEM certificate chain, leaf first; relative to the config file. Required.
    pub cert_file: Option<PathBuf>,
    /// PEM private key; relative to the config file. Required.
    pub key_file: Option<PathBuf>,
}

/// `[admin]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAdmin {
    /// Serve the admin API and `/metrics` at all.
    pub enabled: bool,
    /// `ip:port` of the admin API and `/metrics`.
    pub addr: String,
    /// File holding the bearer token; relative to `data_dir`. Generated when missing.
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the bearer token; excludes `token_file`.
    pub token_env: Option<String>,
}

impl Default for RawAdmin {
    fn default() -> Self {
        RawAdmin {
            enabled: true,
            addr: DEFAULT_ADMIN_ADDR.to_owned(),
            token_file: None,
            token_env: None,
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    /// Total size of a request head (request line and headers); larger gets 431.
    pub max_header_bytes: u64,
    /// Number of request headers; more gets 431.
    pub max_headers: u64,
    /// Request body size; larger gets 413. 0 means unlimited.
    pub max_body_bytes: u64,
    /// Time allowed to receive a request head; slower gets 408.
    pub header_read_timeout_ms: u64,
    /// Longest pause between two pieces of a request body; longer gets 408 (BODY_TIMEOUT).
    pub body_read_timeout_ms: u64,
    /// Client connections open at once; further ones wait in the accept queue.
    pub max_connections: u64,
    /// Time a connection may stay open with no request in flight.
    pub idle_timeout_ms: u64,
    /// Time after which a connection is closed gracefully.
    pub max_connection_age_secs: u64,
    /// Requests after which a connection is closed gracefully.
    pub max_requests_per_connection: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            body_read_timeout_ms: DEFAULT_BODY_READ_TIMEOUT_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout_ms: DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
            max_connection_age_secs: DEFAULT_MAX_CONNECTION_AGE_SECS,
            max_requests_per_connection: DEFAULT_MAX_REQUESTS_PER_CONNECTION,
        }
    }
}

/// `[client_ip]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawClientIp {
    /// CIDRs (or bare IPs) of proxies whose forwarding information is believed.
    pub trusted_proxies: Vec<String>,
    /// Where a trusted proxy puts the client's address.
    pub source: RawSource,
}

/// `[client_ip] source`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawSource {
    /// `X-Forwarded-For`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded`.
    Forwarded,
    /// The PROXY protocol header.
    ProxyProtocol,
    /// Never: the socket peer is the client.
    None,
}

/// `[forwarding]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawForwarding {
    /// Append the client address to `X-Forwarded-For`.
    pub x_forwarded_for: bool,
    /// Set `X-Forwarded-Proto` to `http` or `https`.
    pub x_forwarded_proto: bool,
    /// Set `X-Forwarded-Host` to the client's `Host`.
    pub x_forwarded_host: bool,
    /// Name of the Ray ID header (on every response and on every proxied request).
    pub ray_header: String,
}

impl Default for RawForwarding {
    fn default() -> Self {
        RawForwarding {
            x_forwarded_for: true,
            x_forwarded_proto: true,
            x_forwarded_host: true,
            ray_header: DEFAULT_RAY_HEADER.to_owned(),
        }
    }
}

/// `[site]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSite {
    /// The site's name as people know it.
    pub name: String,
    /// How a blocked person reaches the operator: e-mail, URL, or a sentence.
    pub support: Option<String>,
    /// Public status page, linked from upstream-failure pages.
    pub status_page_url: Option<String>,
    /// Where a client sees what the gateway sees of it (IP, network, TLS, time, the verdict for
    /// a path); "" turns it off.
    pub trace_path: String,
    /// Where a JSON receipt's `type` points: the code is appended. The default is the page the
    /// gateway serves itself at `/.well-known/doorman/errors`.
    pub errors_url: String,
}

/// Default `[site] trace_path`.
pub const DEFAULT_TRACE_PATH: &str = "/.well-known/doorman/trace";
/// Default `[site] errors_url`: the gateway's own page of codes, an anchor per code.
pub const DEFAULT_ERRORS_URL: &str = "/.well-known/doorman/errors#";

impl Default for RawSite {
    fn default() -> Self {
        RawSite {
            name: DEFAULT_SITE_NAME.to_owned(),
            support: None,
            status_page_url: None,
            trace_path: DEFAULT_TRACE_PATH.to_owned(),
            errors_url: DEFAULT_ERRORS_URL.to_owned(),
        }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLogging {
    /// Human-readable lines or one JSON object per line.
    pub format: RawLogFormat,
    /// A `tracing` env-filter directive list, e.g. `info,doorman_server=debug`.
    pub level: String,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging {
            format: RawLogFormat::Pretty,
            level: DEFAULT_LOG_LEVEL.to_owned(),
        }
    }
}

/// `[logging] format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawLogFormat {
    /// For a terminal.
    #[default]
    Pretty,
    /// For a log collector.
    Json,
}

/// `[events]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEvents {
    /// Events waiting for the writer thread; when full, new ones are dropped and counted.
    pub queue_capacity: u64,
    /// Events written per transaction.
    pub batch_size: u64,
    /// Delete events older than this many days; 0 keeps them forever.
    pub retention_days: u64,
    /// Keep at most this many events; 0 means no cap.
    pub retention_rows: u64,
}

impl Default for RawEvents {
    fn default() -> Self {
        RawEvents {
            queue_capacity: DEFAULT_EVENTS_QUEUE_CAPACITY,
            batch_size: DEFAULT_EVENTS_BATCH_SIZE,
            retention_days: DEFAULT_EVENTS_RETENTION_DAYS,
            retention_rows: DEFAULT_EVENTS_RETENTION_ROWS,
        }
    }
}

/// `[access_log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAccessLog {
    /// `"stdout"` or a file, relative to the config file.
    pub path: String,
    /// One JSON object per line, or Apache's combined format.
    pub format: RawAccessLogFormat,
    /// Fraction of allowed requests logged, 0.0 to 1.0; denials are always logged.
    pub sample_allowed: f64,
    /// Lines waiting for the writer; when full, new lines are dropped and counted.
    pub queue_capacity: u64,
}

impl Default for RawAccessLog {
    fn default() -> Self {
        RawAccessLog {
            path: "stdout".to_owned(),
            format: RawAccessLogFormat::Json,
            sample_allowed: 1.0,
            queue_capacity: DEFAULT_ACCESS_LOG_QUEUE_CAPACITY,
        }
    }
}

/// `[access_log] format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawAccessLogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Apache's combined log format.
    Combined,
}

/// One `[[upstreams]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUpstream {
    /// The name routes use. Required.
    pub name: Option<String>,
    /// `host:port` targets, taken round robin. Required, at least one.
    pub targets: Vec<String>,
    /// Time allowed to open a TCP connection to a target.
    pub connect_timeout_ms: u64,
    /// Time allowed from sending the request to receiving the response head.
    pub response_timeout_ms: u64,
    /// How long an idle pooled connection is kept.
    pub idle_timeout_ms: u64,
    /// Idle connections kept per target.
    pub max_idle_per_target: u64,
    /// Active health checks: `{ path = "/healthz" }` and optional `expect_status`,
    /// `expect_body`, `interval_ms`, `timeout_ms`, `fall`, `rise`.
    pub health_check: Option<RawHealthCheck>,
}

/// `[[upstreams]] health_check = { path = … }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHealthCheck {
    /// Path requested with GET. Required.
    pub path: Option<String>,
    /// Healthy status; default any 2xx/3xx.
    pub expect_status: Option<u64>,
    /// Text the body must contain.
    pub expect_body: Option<String>,
    /// Between checks of one target.
    pub interval_ms: u64,
    /// For one check.
    pub timeout_ms: u64,
    /// Consecutive failures to take a target out.
    pub fall: u64,
    /// Consecutive successes to bring it back.
    pub rise: u64,
}

impl Default for RawHealthCheck {
    fn default() -> Self {
        RawHealthCheck {
            path: None,
            expect_status: None,
            expect_body: None,
            interval_ms: 5_000,
            timeout_ms: 2_000,
            fall: 3,
            rise: 2,
        }
    }
}

impl Default for RawUpstream {
    fn default() -> Self {
        RawUpstream {
            name: None,
            targets: Vec::new(),
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            response_timeout_ms: DEFAULT_RESPONSE_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            max_idle_per_target: DEFAULT_MAX_IDLE_PER_TARGET,
            health_check: None,
        }
    }
}

/// One `[[routes]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRoute {
    /// The route's name in logs and metrics. Required.
    pub name: Option<String>,
    /// Hosts served: `example.com` or `*.example.com`; empty means any host.
    pub hosts: Vec<String>,
    /// Path prefix, matched on whole segments.
    pub path_prefix: String,
    /// Name of the `[[upstreams]]` entry requests go to. Required.
    pub upstream: Option<String>,
    /// `open` or `closed`.
    pub access: RawAccess,
    /// Only clients in these CIDRs may use the route; empty means everyone.
    pub allow_networks: Vec<String>,
    /// Public title shown to those denied.
    pub title: Option<String>,
    /// Why they were denied; required when the route denies anyone.
    pub reason: Option<String>,
    /// What a denied person can do, most likely fix first.
    pub remedies: Vec<String>,
    /// How much of the above a denied person sees.
    pub disclosure: RawDisclosure,
    /// Credentials the route requires (absent: none).
    pub auth: Option<RawRouteAuth>,
    /// Paths that cannot be normalized safely: refused, or passed as received (absent: the
    /// `[normalization]` default).
    pub ambiguous_paths: Option<RawAmbiguousPaths>,
    /// Protocol switches tunnelled to the upstream; only `websocket` exists.
    pub upgrades: Option<Vec<String>>,
}

/// `[[routes]] auth = { methods = […], scopes = […] }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRouteAuth {
    /// `api_key` and/or `jwt:<provider name>`. Required.
    pub methods: Option<Vec<String>>,
    /// Scopes the credential must grant, all of them.
    pub scopes: Vec<String>,
    /// Forward the credential to the upstream (default: stripped).
    pub keep_credentials: bool,
}

impl Default for RawRoute {
    fn default() -> Self {
        RawRoute {
            name: None,
            hosts: Vec::new(),
            path_prefix: DEFAULT_PATH_PREFIX.to_owned(),
            upstream: None,
            access: RawAccess::Open,
            allow_networks: Vec::new(),
            title: None,
            reason: None,
            remedies: Vec::new(),
            disclosure: RawDisclosure::Public,
            auth: None,
            ambiguous_paths: None,
            upgrades: None,
        }
    }
}

/// `[normalization]`: how request paths are normalized before routing and rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawNormalization {
    /// `cloudflare` (default), `rfc3986` or `none`.
    #[serde(rename = "type")]
    pub kind: RawNormalizationType,
    /// Which path the origin receives: `normalized` (default) or `raw`.
    pub forward: RawPathForward,
    /// Paths that cannot be normalized safely: `refuse` (default) or `pass`.
    pub ambiguous_paths: RawAmbiguousPaths,
}

/// `[normalization] type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawNormalizationType {
    #[default]
    Cloudflare,
    Rfc3986,
    None,
}

/// `[normalization] forward`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawPathForward {
    #[default]
    Normalized,
    Raw,
}

/// `ambiguous_paths`, in `[normalization]` and on a route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawAmbiguousPaths {
    #[default]
    Refuse,
    Pass,
}

/// `[[routes]] access`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawAccess {
    /// Requests pass to later phases (and `allow_networks`, when set).
    #[default]
    Open,
    /// Every request is denied with the route's notice.
    Closed,
}

/// `[[routes]] disclosure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawDisclosure {
    /// Show the title, reason and matched facts.
    #[default]
    Public,
    /// Show only the category.
    Hint,
    /// Show only the Ray ID and generic text.
    Private,
}

/// `[intel]`: MaxMind-format (`.mmdb`) databases for `ip.src.country` and `ip.src.asnum`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIntel {
    /// One database that carries both country and AS data (e.g. IPinfo Lite); excludes the two
    /// below.
    pub db: Option<PathBuf>,
    /// Country database (e.g. GeoLite2-Country); relative to the config file.
    pub country_db: Option<PathBuf>,
    /// AS database (e.g. GeoLite2-ASN); relative to the config file.
    pub asn_db: Option<PathBuf>,
}

/// One `[[lists]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawList {
    /// `[a-z0-9_]+`; rules write `$name`. Required.
    pub name: Option<String>,
    /// What the list holds. Required.
    pub kind: Option<RawListKind>,
    /// A list file, relative to the config file; excludes `items`.
    pub file: Option<PathBuf>,
    /// The entries, written inline; excludes `file`.
    pub items: Option<Vec<RawIntOrString>>,
    /// How the file is written.
    pub format: RawListFormat,
    /// What the networks on an IP list are (sets `doorman.ip.vpn` and the like).
    pub class: Option<RawIpClass>,
    /// What the list is, shown on receipts with public disclosure.
    pub description: Option<String>,
    /// Tell a client that it is on the list (the trace endpoint shows it, with the
    /// description), even when no rule acts on it.
    pub disclose: bool,
}

/// `[[lists]] kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawListKind {
    /// IP addresses, CIDRs and ranges.
    Ip,
    /// Autonomous system numbers.
    Asn,
    /// Exact strings.
    String,
    /// Host names: strings compared lower-case, one trailing dot removed.
    Hostname,
}

/// `[[lists]] format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawListFormat {
    /// Guess from the file's name and contents.
    #[default]
    Auto,
    /// One entry per line, `#` comments.
    Plain,
    /// The first column of a CSV file.
    Csv,
    /// FireHOL `.netset` / `.ipset`.
    Netset,
}

/// `[[lists]] class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawIpClass {
    /// Commercial VPN exits.
    Vpn,
    /// Hosting and data-centre ranges.
    Hosting,
    /// Tor exit nodes.
    Tor,
    /// Open proxies.
    Proxy,
}

/// One `[[access_rules]]` entry. Exactly one of `ip`, `ips`, `list`, `asn`, `country`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAccessRule {
    /// Unique id, in logs and events. Required.
    pub id: Option<String>,
    /// One IP address or CIDR.
    pub ip: Option<String>,
    /// Several IP addresses or CIDRs.
    pub ips: Option<Vec<String>>,
    /// The name of an `ip` or `asn` list.
    pub list: Option<String>,
    /// An autonomous system: `64500` or `"AS64500"`.
    pub asn: Option<RawIntOrString>,
    /// An ISO 3166-1 alpha-2 code, `T1` (Tor) or `XX` (unknown).
    pub country: Option<String>,
    /// What to do with a match. Required.
    pub action: Option<RawAccessAction>,
    /// The operator's note, shown to the person per disclosure.
    pub note: Option<String>,
    /// How much the person sees.
    pub disclosure: RawDisclosure,
    /// Act, or only record what would have happened.
    pub mode: RawMode,
}

/// `[[access_rules]] action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawAccessAction {
    /// Pass, skipping the later security phases.
    Allow,
    /// Deny (1006 IP, 1005 ASN, 1009 country).
    Block,
    /// Ask for a challenge.
    Challenge,
    /// Record and continue.
    Log,
}

/// `mode` of access rules and custom rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawMode {
    /// Do what the rule says.
    #[default]
    Enforce,
    /// Record what the rule would have done; change nothing.
    Shadow,
}

/// One `[[rules]]` entry: a custom firewall rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRule {
    /// Unique id, in logs and events. Required.
    pub id: Option<String>,
    /// Public title, shown per disclosure. Required.
    pub title: Option<String>,
    /// A rules-language expression. Required.
    pub expression: Option<String>,
    /// What to do with a match. Required.
    pub action: Option<RawRuleAction>,
    /// With `action = "skip"`: the later phases to skip.
    pub skip_phases: Option<Vec<String>>,
    /// How much the person sees.
    pub disclosure: RawDisclosure,
    /// What the person can do, most likely fix first.
    pub remedies: Vec<String>,
    /// HTTP status for `block` (400–499). Default 403.
    pub status: Option<u64>,
    /// Doorman code for `block` (a number or a name). Default 1020.
    pub code: Option<RawIntOrString>,
    /// Act, or only record what would have happened.
    pub mode: RawMode,
}

/// `[[rules]] action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawRuleAction {
    /// Deny with the rule's code and status.
    Block,
    /// Ask for a challenge.
    Challenge,
    /// Pass, skipping the remaining rules and later security phases.
    Allow,
    /// Skip the phases named in `skip_phases`.
    Skip,
    /// Record and continue.
    Log,
}

/// A value that may be written as an integer or a string: an ASN (`64500` or `"AS64500"`), a
/// code (`1020` or `"1020"`), a list item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawIntOrString {
    /// Written as a TOML integer.
    Int(i64),
    /// Written as a TOML string.
    Str(String),
}

impl std::fmt::Display for RawIntOrString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawIntOrString::Int(i) => write!(f, "{i}"),
            RawIntOrString::Str(s) => f.write_str(s),
        }
    }
}

// Written by hand rather than `#[serde(untagged)]`, whose error ("data did not match any
// variant") would name neither what was expected nor what was found.
impl<'de> Deserialize<'de> for RawIntOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawIntOrString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawIntOrString::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(RawIntOrString::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawIntOrString::Str(v.to_owned()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `[rate_limit]`: where the counters of `[[rate_limits]]` live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRateLimitSettings {
    /// `local` (this process; the default) or `redis` (shared by every gateway on that Redis).
    pub backend: RawLimitBackend,
    /// With `backend = "redis"`: `redis://[user:password@]host:port/db`.
    pub redis_url: Option<String>,
    /// With `backend = "redis"`: read the URL from this environment variable instead (keeps a
    /// password out of the file).
    pub redis_url_env: Option<String>,
    /// What to do while Redis cannot be reached: `open` (count locally; the default) or
    /// `closed` (refuse with a 503 receipt).
    pub fail_mode: RawFailMode,
    /// Prefix of every Redis key Doorman writes.
    pub redis_key_prefix: String,
    /// How long one Redis decision may take before the fail mode applies.
    pub redis_timeout_ms: u64,
    /// Keys the in-process limiter tracks at most (also the fallback's cap).
    pub max_keys: u64,
}

impl Default for RawRateLimitSettings {
    fn default() -> Self {
        RawRateLimitSettings {
            backend: RawLimitBackend::Local,
            redis_url: None,
            redis_url_env: None,
            fail_mode: RawFailMode::Open,
            redis_key_prefix: DEFAULT_REDIS_KEY_PREFIX.to_owned(),
            redis_timeout_ms: DEFAULT_REDIS_TIMEOUT_MS,
            max_keys: DEFAULT_RATE_LIMIT_MAX_KEYS,
        }
    }
}

/// `[rate_limit] backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawLimitBackend {
    /// Counters in this process.
    Local,
    /// Counters in Redis or Valkey, shared.
    Redis,
}

/// `[rate_limit] fail_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawFailMode {
    /// Fall back to counting in this process.
    Open,
    /// Refuse requests the limit applies to.
    Closed,
}

/// One `[[rate_limits]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRateLimit {
    /// Unique id; names the limit in headers, receipts and events. Required.
    pub id: Option<String>,
    /// Public description, shown as the receipt's title.
    pub description: Option<String>,
    /// Which requests the limit applies to (rules language). Required.
    pub expression: Option<String>,
    /// What one counter is kept per. Default: `["doorman.identity"]`.
    pub characteristics: Option<Vec<String>>,
    /// Requests allowed per period. Required.
    pub requests_per_period: Option<u64>,
    /// The period in seconds. Required.
    pub period_secs: Option<u64>,
    /// How long a key stays blocked after exceeding; 0 (the default) only throttles.
    pub mitigation_timeout_secs: u64,
    /// `block` (default), `challenge` or `log`.
    pub action: Option<RawLimitAction>,
    /// When set, only responses matching it count (e.g. `http.response.code eq 401`).
    pub counting_expression: Option<String>,
    /// How much the person sees.
    pub disclosure: RawDisclosure,
    /// One more remedy line for the receipt.
    pub note: Option<String>,
    /// Send `RateLimit-Policy` and `RateLimit` on allowed responses too. Default true.
    pub response_headers: Option<bool>,
}

/// `[[rate_limits]] action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawLimitAction {
    /// 429 with a receipt.
    Block,
    /// Ask for a challenge.
    Challenge,
    /// Record and let through.
    Log,
}

/// Default `[auth] realm`.
pub const DEFAULT_AUTH_REALM: &str = "doorman";
/// Default `[auth] key_prefixes`.
pub const DEFAULT_KEY_PREFIX: &str = "dmn_live";
/// Default `[auth] whoami_path`.
pub const DEFAULT_WHOAMI_PATH: &str = "/.well-known/doorman/whoami";
/// Default `[[jwt_providers]] leeway_secs`.
pub const DEFAULT_JWT_LEEWAY_SECS: u64 = 60;

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAuth {
    /// The `realm` of `WWW-Authenticate`.
    pub realm: String,
    /// A header that may carry an API key besides `Authorization: Bearer` (e.g. `x-api-key`).
    pub key_header: Option<String>,
    /// A query parameter that may carry an API key. Off by default: URLs end up in logs,
    /// histories and Referer headers.
    pub key_query_param: Option<String>,
    /// Prefixes of this site's API keys.
    pub key_prefixes: Vec<String>,
    /// Where a client asks what the gateway sees of its credential; "" turns it off.
    pub whoami_path: String,
}

impl Default for RawAuth {
    fn default() -> Self {
        RawAuth {
            realm: DEFAULT_AUTH_REALM.to_owned(),
            key_header: None,
            key_query_param: None,
            key_prefixes: vec![DEFAULT_KEY_PREFIX.to_owned()],
            whoami_path: DEFAULT_WHOAMI_PATH.to_owned(),
        }
    }
}

/// One `[[jwt_providers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawJwtProvider {
    /// Routes accept it as `jwt:<name>`. Required.
    pub name: Option<String>,
    /// What people call the issuer ("Example Accounts"), shown on receipts; `name` never is.
    pub display_name: Option<String>,
    /// The exact `iss` of its tokens. Required.
    pub issuer: Option<String>,
    /// Accepted `aud` values (any of them).
    pub audiences: Vec<String>,
    /// A JWKS file.
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL (https, or http on loopback).
    pub jwks_url: Option<String>,
    /// A file holding an HMAC secret (HS256/384/512).
    pub hmac_secret_file: Option<PathBuf>,
    /// Accepted `alg` values. Default: every asymmetric one (or HS256 with a secret).
    pub algorithms: Option<Vec<String>>,
    /// Clock skew tolerated on exp, nbf and iat.
    pub leeway_secs: u64,
    /// Claims every token must carry.
    pub required_claims: Vec<String>,
    /// How long fetched keys are used before they are fetched again.
    pub cache_ttl_secs: Option<u64>,
    /// At most one fetch per this many seconds, whatever asks for it (unknown `kid`s included).
    pub min_refetch_interval_secs: Option<u64>,
    /// CA certificates (PEM) to trust for the JWKS URL instead of the public roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for RawJwtProvider {
    fn default() -> Self {
        RawJwtProvider {
            name: None,
            display_name: None,
            issuer: None,
            audiences: Vec::new(),
            jwks_file: None,
            jwks_url: None,
            hmac_secret_file: None,
            algorithms: None,
            leeway_secs: DEFAULT_JWT_LEEWAY_SECS,
            required_claims: Vec::new(),
            cache_ttl_secs: None,
            min_refetch_interval_secs: None,
            ca_file: None,
        }
    }
}

/// Default `[challenge] difficulty`.
pub const DEFAULT_CHALLENGE_DIFFICULTY: u64 = 16;
/// Default `[challenge] submit_path`.
pub const DEFAULT_CHALLENGE_SUBMIT_PATH: &str = "/.well-known/doorman/challenge";
/// Default `[challenge] key_file`, in the data directory.
pub const DEFAULT_CHALLENGE_KEY_FILE: &str = "challenge.key";

/// `[challenge]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawChallenge {
    /// Leading zero bits of the proof of work (each one doubles the work).
    pub difficulty: u64,
    /// How long a clearance lasts.
    pub clearance_lifetime_secs: u64,
    /// The clearance signing keys; created (0600) when missing. Relative to the config file's
    /// directory, like every path; absent: `challenge.key` in the data directory.
    pub key_file: Option<PathBuf>,
    /// Where the page posts its answer.
    pub submit_path: String,
    /// Bind a clearance to the client's network (/24 for IPv4, /48 for IPv6).
    pub bind_network: bool,
    /// Bind a clearance to the browser's User-Agent.
    pub bind_user_agent: bool,
    /// The clearance cookie's name.
    pub cookie_name: String,
    /// For demos and tests only: `?doorman_clock_skew_s=N` on a challenged URL makes the page
    /// believe the client's clock is N seconds fast, to show the clock message.
    pub clock_skew_demo: bool,
}

impl Default for RawChallenge {
    fn default() -> Self {
        RawChallenge {
            difficulty: DEFAULT_CHALLENGE_DIFFICULTY,
            clearance_lifetime_secs: 86_400,
            key_file: None,
            submit_path: DEFAULT_CHALLENGE_SUBMIT_PATH.to_owned(),
            bind_network: true,
            bind_user_agent: true,
            cookie_name: "doorman_clearance".to_owned(),
            clock_skew_demo: false,
        }
    }
}

/// Default `[status] path` (off).
pub const DEFAULT_STATUS_PATH: &str = "";

/// `[status]`: the public status page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStatus {
    /// Where the page is served on every host of the public listeners, e.g. `/status`; ""
    /// (the default) turns it off.
    pub path: String,
    /// The page's title. Default: "<site.name> status".
    pub title: Option<String>,
    /// The page's public address (for JSON `page.url`, the feed and receipts' links), e.g.
    /// `https://example.com/status`. Default: the path alone.
    pub public_url: Option<String>,
    /// Open an incident when a component's every target is down, resolve it when one is back.
    pub auto_incidents: bool,
    /// A component whose targets are all up but whose last three passing checks took longer
    /// than this on average (ms) is shown as `degraded_performance`. Default: off.
    pub degraded_above_ms: Option<u64>,
    /// The components shown. Default: one per upstream with a health check (every upstream when
    /// none has one), named after it.
    pub components: Vec<RawStatusComponent>,
    /// Rules whose effect visitors may notice, listed on the page while in force.
    pub mitigations: Vec<RawStatusMitigation>,
}

impl Default for RawStatus {
    fn default() -> Self {
        RawStatus {
            path: DEFAULT_STATUS_PATH.to_owned(),
            title: None,
            public_url: None,
            auto_incidents: true,
            degraded_above_ms: None,
            components: Vec::new(),
            mitigations: Vec::new(),
        }
    }
}

/// One `[[status.components]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStatusComponent {
    /// Stable id (in JSON and the CLI). Required.
    pub id: Option<String>,
    /// The name visitors read. Default: the id.
    pub name: Option<String>,
    /// The upstreams whose health checks make up this component's state. Required.
    pub upstreams: Vec<String>,
    /// One line under the name.
    pub description: Option<String>,
    /// A group heading (Statuspage's `group`).
    pub group: Option<String>,
    /// This component's `degraded_performance` threshold (ms); default `[status]`'s.
    pub degraded_above_ms: Option<u64>,
}

/// One `[[status.mitigations]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStatusMitigation {
    /// The id of an access rule, custom rule or rate limit. Required.
    pub rule: Option<String>,
    /// What visitors read. Default: said from the rule ("Challenge for visitors from AS9009").
    pub text: Option<String>,
}
