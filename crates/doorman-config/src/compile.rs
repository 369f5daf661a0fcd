//! Stage two: [`RawConfig`] to [`Config`]. Resolves names to indexes and relative paths to real
//! ones, parses the structured strings, checks that the parts agree with each other, and reports
//! every problem at the span of the value that causes it.
//!
//! Every check runs even after an earlier one failed, so one run lists all problems. A value that
//! failed is replaced by a stand-in so that later checks can go on; the stand-ins never escape,
//! because any error means no `Config` is returned. Problems already reported by stage one (see
//! [`Parsed::reported`]) are not reported again as "missing".

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use doorman_core::Disclosure;
use doorman_core::canonical::{
    AmbiguousPaths, NormalizationType, PathForward, PathPolicy, normalize_path,
};
use doorman_core::policy::{
    ClientIpPolicy, ForwardedSource, HostPattern, NetworkGate, Notice, Policy, Route, RouteAccess,
    SiteInfo, UpstreamSpec,
};
use ipnet::IpNet;

use crate::diag::{Position, Sink};
use crate::parse::{Parsed, SpanIndex, child};
use crate::raw::{
    DEFAULT_ADMIN_TOKEN_FILE, RawAccess, RawAccessLogFormat, RawAmbiguousPaths, RawDisclosure,
    RawLogFormat, RawNormalization, RawNormalizationType, RawPathForward, RawRoute, RawSource,
    RawUpstream,
};
use crate::settings::{
    AccessLog, AccessLogDestination, AccessLogFormat, Admin, AdminToken, Config, Events,
    Forwarding, Limits, Listener, LogFormat, Logging, ServerSettings, TlsFiles,
};
use crate::suggest;
use crate::values::{self, Invalid};

/// Below this, ordinary browsers with a few cookies get 431s.
const SMALL_HEADER_LIMIT: u64 = 4096;

/// Compiles `parsed` into the configuration and the files besides the config it was built from
/// (see [`crate::Loaded::watched_files`]); `None` when any error was reported.
pub(crate) fn compile(
    parsed: Parsed,
    config_path: &Path,
    sink: &mut Sink<'_>,
) -> Option<(Config, Vec<PathBuf>)> {
    // Absolute, so that every path the file names means the same file to `doorman serve` and to
    // a CLI command started from another directory (a relative `--config` once put the admin
    // token under `<data_dir>/<data_dir>/`).
    let config_dir = match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let config_dir = std::path::absolute(&config_dir).unwrap_or(config_dir);
    let mut c = Compiler {
        index: &parsed.index,
        reported: &parsed.reported,
        sink,
        config_dir,
        used_upstreams: HashSet::new(),
        unresolved_routes: false,
        broken_providers: HashSet::new(),
    };
    let raw = parsed.raw;

    let node_name = c.node_name(raw.server.node_name.as_deref());
    let data_dir = c.data_dir(&raw.server.data_dir);
    let listeners = c.listeners(&raw.listeners);
    let client_ip = c.client_ip(&raw.client_ip, &raw.listeners);
    c.proxy_protocol_warnings(&raw.listeners, &client_ip);
    let admin = c.admin(&raw.admin, &data_dir, &listeners);
    let limits = c.limits(&raw.limits);
    let forwarding = c.forwarding(&raw.forwarding);
    let site = c.site(&raw.site);
    let trace_path = c.endpoint_path("site.trace_path", &raw.site.trace_path);
    let challenge = c.challenge(&raw.challenge, &data_dir);
    let logging = c.logging(&raw.logging);
    let events = c.events(&raw.events);
    let access_log = raw.access_log.as_ref().map(|a| c.access_log(a));
    let (upstreams, upstream_index, names_complete) = c.upstreams(&raw.upstreams);
    let (mut auth_policy, mut auth_server) = c.auth(&raw.auth);
    auth_server.jwt_providers = c.jwt_providers(&raw.jwt_providers);
    auth_policy.provider_names = raw
        .jwt_providers
        .iter()
        .filter_map(|p| Some((p.name.clone()?, p.display_name.clone()?)))
        .collect();
    let paths = c.normalization(&raw.normalization);
    let routes = c.routes(
        &raw.routes,
        &paths,
        &upstream_index,
        names_complete,
        &auth_server.jwt_providers,
    );
    c.unused_upstreams(&upstreams);
    let firewall = c.firewall(&raw);
    let rate_limit = c.rate_limit_settings(&raw.rate_limit);
    let status = c.status(&raw, &upstream_index);
    let mut site = site;
    if site.status_page_url.is_none()
        && let Some(s) = &status
    {
        site.status_page_url = Some(s.url.clone());
    }

    if c.sink.has_errors() {
        return None;
    }
    let server = ServerSettings {
        config_path: config_path.to_path_buf(),
        node_name: node_name.clone(),
        data_dir,
        shutdown_grace: Duration::from_secs(raw.server.shutdown_grace_secs),
        watch_config: raw.server.watch_config,
        listeners,
        admin,
        limits,
        rate_limit,
        auth: auth_server,
        trace_path,
        challenge,
        status,
        forwarding,
        logging,
        events,
        access_log,
    };
    let policy = Policy {
        node: Arc::from(node_name),
        site,
        client_ip,
        route_order: Policy::route_order_for(&routes),
        routes,
        upstreams,
        firewall: firewall.firewall,
        rate_limits: firewall.rate_limits,
        auth: auth_policy,
        paths,
    };
    Some((Config { server, policy }, firewall.watched_files))
}

fn ambiguous_paths(raw: RawAmbiguousPaths) -> AmbiguousPaths {
    match raw {
        RawAmbiguousPaths::Refuse => AmbiguousPaths::Refuse,
        RawAmbiguousPaths::Pass => AmbiguousPaths::PassRaw,
    }
}

pub(crate) struct Compiler<'a, 't> {
    pub(crate) index: &'a SpanIndex,
    pub(crate) reported: &'a HashSet<String>,
    pub(crate) sink: &'a mut Sink<'t>,
    pub(crate) config_dir: PathBuf,
    /// Upstreams some route resolved to.
    used_upstreams: HashSet<usize>,
    /// Whether some route's upstream is missing or unknown.
    unresolved_routes: bool,
    /// `[[jwt_providers]]` that are defined but could not be built (their error is reported).
    pub(crate) broken_providers: HashSet<String>,
}

impl Compiler<'_, '_> {
    pub(crate) fn error(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.sink.error(span, message, hint);
    }

    pub(crate) fn warn(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.sink.warn(span, message, hint);
    }

    /// "invalid value for `key`: …" at the value of `path`.
    pub(crate) fn invalid(&mut self, path: &str, invalid: Invalid) {
        let key = key_of(path);
        self.error(
            self.index.value(path),
            format!("invalid value for `{key}`: {}", invalid.detail),
            invalid.hint,
        );
    }

    /// A required key absent from a table, reported at the table (unless stage one already
    /// explained why it is absent).
    pub(crate) fn missing(&mut self, table_path: &str, key: &str, section: &str, hint: String) {
        if self.reported.contains(&child(table_path, key)) {
            return;
        }
        self.error(
            self.index.value(table_path),
            format!("missing key `{key}` in {section}"),
            Some(hint),
        );
    }

    pub(crate) fn line_of(&self, span: &Range<usize>) -> usize {
        Position::of(self.sink.text(), span.start).line
    }

    pub(crate) fn resolve(&self, base: &Path, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            base.join(path)
        }
    }

    fn node_name(&mut self, written: Option<&str>) -> String {
        match written {
            None => values::default_node_name(),
            Some(n) => values::node_name(n).unwrap_or_else(|e| {
                self.invalid("server.node_name", e);
                "invalid".to_owned()
            }),
        }
    }

    fn data_dir(&mut self, written: &Path) -> PathBuf {
        if written.as_os_str().is_empty() {
            self.invalid(
                "server.data_dir",
                Invalid {
                    detail: "an empty path".into(),
                    hint: Some("write a directory, e.g. \"./doorman-data\"".into()),
                },
            );
        }
        let dir = self.resolve(&self.config_dir.clone(), written);
        if dir.exists() && !dir.is_dir() {
            self.invalid(
                "server.data_dir",
                Invalid {
                    detail: format!("`{}` exists and is not a directory", dir.display()),
                    hint: Some(
                        "relative paths start from the config file's directory; point data_dir at a directory".into(),
                    ),
                },
            );
        }
        dir
    }

    fn listeners(&mut self, raw: &[crate::raw::RawListener]) -> Vec<Listener> {
        if raw.is_empty() && !self.reported.contains("listeners") {
            self.error(
                0..0,
                "no [[listeners]]: Doorman needs at least one address to accept connections on",
                Some("add a [[listeners]] table with addr = \"0.0.0.0:8080\"".into()),
            );
        }
        let mut out = Vec::new();
        let mut seen: Vec<(SocketAddr, Range<usize>)> = Vec::new();
        for (i, l) in raw.iter().enumerate() {
            let path = format!("listeners.{i}");
            let addr = match &l.addr {
                None => {
                    self.missing(
                        &path,
                        "addr",
                        "[[listeners]]",
                        "write the address to accept connections on, e.g. addr = \"0.0.0.0:8080\""
                            .into(),
                    );
                    None
                }
                Some(text) => match values::bind_addr(text) {
                    Ok(a) => Some(a),
                    Err(e) => {
                        self.invalid(&format!("{path}.addr"), e);
                        None
                    }
                },
            };
            let addr_span = self.index.value(&format!("{path}.addr"));
            if let Some(a) = addr {
                if let Some((other, span)) = seen.iter().find(|(o, _)| overlaps(*o, a)) {
                    let line = self.line_of(span);
                    self.error(
                        addr_span.clone(),
                        format!("listener address {a} conflicts with {other}"),
                        Some(format!(
                            "both bind port {} (the other is on line {line}); use one listener or different ports",
                            a.port()
                        )),
                    );
                } else {
                    seen.push((a, addr_span.clone()));
                }
            }
            let tls = l.tls.as_ref().and_then(|t| self.tls(&path, t));
            if let Some(a) = addr.filter(|a| a.port() == 443 && l.tls.is_none()) {
                self.warn(
                    addr_span,
                    format!("listener {a} serves plain HTTP on port 443"),
                    Some(
                        "browsers will speak TLS to it and fail; add tls = { cert_file = \"…\", key_file = \"…\" } or use another port"
                            .into(),
                    ),
                );
            }
            out.push(Listener {
                addr: addr.unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
                tls,
                proxy_protocol: l.proxy_protocol,
                h2c: l.h2c,
            });
        }
        out
    }

    fn tls(&mut self, listener_path: &str, raw: &crate::raw::RawTls) -> Option<TlsFiles> {
        let path = format!("{listener_path}.tls");
        let file = |c: &mut Self, key: &str, what: &str, value: &Option<PathBuf>| {
            let Some(written) = value else {
                c.missing(
                    &path,
                    key,
                    "the listener's tls table",
                    format!(
                        "write the {what} file, e.g. {key} = \"{}\"",
                        example_tls(key)
                    ),
                );
                return None;
            };
            let resolved = c.resolve(&c.config_dir.clone(), written);
            if let Err(problem) = readable(&resolved) {
                let dir = c.config_dir.display().to_string();
                c.error(
                    c.index.value(&format!("{path}.{key}")),
                    format!(
                        "TLS {what} file `{}` {problem} (looked at {})",
                        written.display(),
                        resolved.display()
                    ),
                    Some(format!(
                        "relative paths start from the config file's directory ({dir})"
                    )),
                );
            }
            Some(resolved)
        };
        let cert = file(self, "cert_file", "certificate", &raw.cert_file);
        let key = file(self, "key_file", "private key", &raw.key_file);
        Some(TlsFiles {
            cert_file: cert?,
            key_file: key?,
        })
    }

    fn client_ip(
        &mut self,
        raw: &crate::raw::RawClientIp,
        listeners: &[crate::raw::RawListener],
    ) -> ClientIpPolicy {
        let trusted = self.networks("client_ip.trusted_proxies", &raw.trusted_proxies);
        for (j, net) in trusted.iter().enumerate() {
            if net.prefix_len() == 0 {
                self.warn(
                    self.index.value(&format!("client_ip.trusted_proxies.{j}")),
                    format!("trusting {net} lets every client choose the address Doorman sees"),
                    Some("list only the addresses of your own proxies or load balancers".into()),
                );
            }
        }
        let source = match raw.source {
            RawSource::XForwardedFor => ForwardedSource::XForwardedFor,
            RawSource::Forwarded => ForwardedSource::Forwarded,
            RawSource::ProxyProtocol => ForwardedSource::ProxyProtocol,
            RawSource::None => ForwardedSource::None,
        };
        if source == ForwardedSource::None && !raw.trusted_proxies.is_empty() {
            self.warn(
                self.index.value("client_ip.source"),
                "client_ip.source = \"none\" ignores trusted_proxies",
                Some("remove trusted_proxies, or choose the header your proxies send".into()),
            );
        }
        if source == ForwardedSource::ProxyProtocol && !listeners.iter().any(|l| l.proxy_protocol) {
            self.warn(
                self.index.value("client_ip.source"),
                "client_ip.source is \"proxy-protocol\", but no listener has proxy_protocol = true",
                Some("set proxy_protocol = true on the listeners behind your load balancer".into()),
            );
        }
        ClientIpPolicy {
            trusted_proxies: trusted,
            source,
        }
    }

    fn proxy_protocol_warnings(
        &mut self,
        listeners: &[crate::raw::RawListener],
        client_ip: &ClientIpPolicy,
    ) {
        if !client_ip.trusted_proxies.is_empty() {
            return;
        }
        for (i, l) in listeners.iter().enumerate() {
            if l.proxy_protocol {
                self.warn(
                    self.index.value(&format!("listeners.{i}.proxy_protocol")),
                    "proxy_protocol is on, but client_ip.trusted_proxies is empty, so no PROXY header will be believed",
                    Some("list your load balancer's addresses in [client_ip] trusted_proxies".into()),
                );
            }
        }
    }

    /// Parses a list of networks, reporting each bad one at its own element.
    fn networks(&mut self, path: &str, raw: &[String]) -> Vec<IpNet> {
        let mut out = Vec::new();
        for (j, text) in raw.iter().enumerate() {
            let element = format!("{path}.{j}");
            match values::network(text) {
                Ok((net, meant)) => {
                    if let Some(meant) = meant {
                        self.warn(
                            self.index.value(&element),
                            format!("`{text}` has host bits set; it means {meant}"),
                            Some(format!("write \"{meant}\" to say so")),
                        );
                    }
                    out.push(net);
                }
                Err(e) => self.invalid(&element, e),
            }
        }
        out
    }

    fn admin(
        &mut self,
        raw: &crate::raw::RawAdmin,
        data_dir: &Path,
        listeners: &[Listener],
    ) -> Option<Admin> {
        if !raw.enabled {
            return None;
        }
        let addr = match values::bind_addr(&raw.addr) {
            Ok(a) => a,
            Err(e) => {
                self.invalid("admin.addr", e);
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
            }
        };
        let span = self.index.value("admin.addr");
        if addr.port() != 0
            && let Some(l) = listeners.iter().find(|l| overlaps(l.addr, addr))
        {
            self.error(
                span.clone(),
                format!("admin address {addr} conflicts with listener {}", l.addr),
                Some("give the admin API a port of its own, e.g. 127.0.0.1:9090".into()),
            );
        }
        if !addr.ip().is_loopback() {
            self.warn(
                span,
                format!("the admin API listens on {addr}, which other machines can reach"),
                Some(
                    "use 127.0.0.1:9090 and reach it over SSH or a private network, unless a firewall guards it"
                        .into(),
                ),
            );
        }
        let token = match (&raw.token_file, &raw.token_env) {
            (Some(_), Some(_)) => {
                self.error(
                    self.index.key("admin.token_env"),
                    "`token_file` and `token_env` cannot both be set",
                    Some(
                        "keep the one you use: a file Doorman can generate, or a variable you set"
                            .into(),
                    ),
                );
                AdminToken::Env(String::new())
            }
            (None, Some(var)) => {
                let valid = var
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    self.invalid(
                        "admin.token_env",
                        Invalid {
                            detail: format!("`{var}` is not an environment variable name"),
                            hint: Some(
                                "use letters, digits and `_`, e.g. \"DOORMAN_ADMIN_TOKEN\"".into(),
                            ),
                        },
                    );
                }
                AdminToken::Env(var.clone())
            }
            (file, None) => {
                let written = file
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_ADMIN_TOKEN_FILE));
                if written.as_os_str().is_empty() {
                    self.invalid(
                        "admin.token_file",
                        Invalid {
                            detail: "an empty path".into(),
                            hint: Some(format!(
                                "remove the key to use \"{DEFAULT_ADMIN_TOKEN_FILE}\" in the data directory"
                            )),
                        },
                    );
                }
                AdminToken::File(self.resolve(data_dir, &written))
            }
        };
        Some(Admin { addr, token })
    }

    fn limits(&mut self, raw: &crate::raw::RawLimits) -> Limits {
        for (key, value, zero_means) in [
            (
                "max_header_bytes",
                raw.max_header_bytes,
                "refuse every request",
            ),
            ("max_headers", raw.max_headers, "refuse every request"),
            (
                "header_read_timeout_ms",
                raw.header_read_timeout_ms,
                "refuse every request",
            ),
            (
                "body_read_timeout_ms",
                raw.body_read_timeout_ms,
                "refuse every request with a body",
            ),
            (
                "max_connections",
                raw.max_connections,
                "refuse every request",
            ),
            (
                "idle_timeout_ms",
                raw.idle_timeout_ms,
                "close every connection before its first request",
            ),
            (
                "max_connection_age_secs",
                raw.max_connection_age_secs,
                "close every connection as soon as it opens",
            ),
            (
                "max_requests_per_connection",
                raw.max_requests_per_connection,
                "close every connection before its first request",
            ),
        ] {
            if value == 0 {
                self.invalid(
                    &format!("limits.{key}"),
                    Invalid {
                        detail: format!("0 would {zero_means}"),
                        hint: Some(format!(
                            "remove the key to use the default, or set a positive {key}"
                        )),
                    },
                );
            }
        }
        if (1..SMALL_HEADER_LIMIT).contains(&raw.max_header_bytes) {
            self.warn(
                self.index.value("limits.max_header_bytes"),
                format!(
                    "max_header_bytes = {} is small: browsers with a few cookies send more, and will get 431",
                    raw.max_header_bytes
                ),
                Some(format!("{} is a common choice", crate::raw::DEFAULT_MAX_HEADER_BYTES)),
            );
        }
        Limits {
            max_header_bytes: to_usize(raw.max_header_bytes),
            max_headers: to_usize(raw.max_headers),
            max_body_bytes: (raw.max_body_bytes != 0).then_some(raw.max_body_bytes),
            header_read_timeout: Duration::from_millis(raw.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(raw.body_read_timeout_ms),
            max_connections: to_usize(raw.max_connections),
            idle_timeout: Duration::from_millis(raw.idle_timeout_ms),
            max_connection_age: Duration::from_secs(raw.max_connection_age_secs),
            max_requests_per_connection: raw.max_requests_per_connection,
        }
    }

    fn forwarding(&mut self, raw: &crate::raw::RawForwarding) -> Forwarding {
        let ray_header = values::header_name(&raw.ray_header).unwrap_or_else(|e| {
            self.invalid("forwarding.ray_header", e);
            http::HeaderName::from_static(crate::raw::DEFAULT_RAY_HEADER)
        });
        Forwarding {
            x_forwarded_for: raw.x_forwarded_for,
            x_forwarded_proto: raw.x_forwarded_proto,
            x_forwarded_host: raw.x_forwarded_host,
            ray_header,
        }
    }

    /// An upstream's `health_check = {…}`.
    fn health_check(
        &mut self,
        path: &str,
        raw: &crate::raw::RawHealthCheck,
    ) -> Option<doorman_core::policy::HealthCheck> {
        let Some(check_path) = &raw.path else {
            self.missing(
                path,
                "path",
                "health_check",
                "say what to request: path = \"/healthz\"".into(),
            );
            return None;
        };
        if !check_path.starts_with('/') {
            self.invalid(
                &format!("{path}.path"),
                Invalid {
                    detail: format!("`{check_path}` does not start with `/`"),
                    hint: Some("e.g. path = \"/healthz\"".into()),
                },
            );
            return None;
        }
        let expect_status = match raw.expect_status {
            None => None,
            Some(s @ 100..=599) => Some(s as u16),
            Some(s) => {
                self.invalid(
                    &format!("{path}.expect_status"),
                    Invalid {
                        detail: format!("{s} is not an HTTP status"),
                        hint: Some("100 to 599, or leave it out for any 2xx/3xx".into()),
                    },
                );
                return None;
            }
        };
        for (key, v) in [
            ("interval_ms", raw.interval_ms),
            ("timeout_ms", raw.timeout_ms),
            ("fall", raw.fall),
            ("rise", raw.rise),
        ] {
            if v == 0 {
                self.invalid(
                    &format!("{path}.{key}"),
                    Invalid {
                        detail: "0".into(),
                        hint: Some("use at least 1".into()),
                    },
                );
                return None;
            }
        }
        Some(doorman_core::policy::HealthCheck {
            path: check_path.clone(),
            expect_status,
            expect_body: raw.expect_body.clone(),
            interval: Duration::from_millis(raw.interval_ms),
            timeout: Duration::from_millis(raw.timeout_ms),
            fall: u32::try_from(raw.fall).unwrap_or(u32::MAX),
            rise: u32::try_from(raw.rise).unwrap_or(u32::MAX),
        })
    }

    /// `[challenge]`.
    fn challenge(
        &mut self,
        raw: &crate::raw::RawChallenge,
        data_dir: &Path,
    ) -> crate::settings::ChallengeServer {
        let difficulty = match u8::try_from(raw.difficulty) {
            Ok(d) if (1..=30).contains(&d) => d,
            _ => {
                self.invalid(
                    "challenge.difficulty",
                    Invalid {
                        detail: format!("{} bits", raw.difficulty),
                        hint: Some("use 1 to 30; 16 takes a browser about half a second, each bit more doubles it".into()),
                    },
                );
                16
            }
        };
        if raw.clearance_lifetime_secs == 0 {
            self.invalid(
                "challenge.clearance_lifetime_secs",
                Invalid {
                    detail: "0 seconds".into(),
                    hint: Some("a clearance must last a while, e.g. 86400 (a day)".into()),
                },
            );
        }
        if raw.cookie_name.is_empty()
            || !raw
                .cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.invalid(
                "challenge.cookie_name",
                Invalid {
                    detail: format!("`{}` is not a cookie name", raw.cookie_name),
                    hint: Some("letters, digits, `_` and `-`".into()),
                },
            );
        }
        let submit_path = self
            .endpoint_path("challenge.submit_path", &raw.submit_path)
            .unwrap_or_else(|| crate::raw::DEFAULT_CHALLENGE_SUBMIT_PATH.to_owned());
        let mut settings = doorman_challenge::Settings {
            cookie_name: raw.cookie_name.clone(),
            clearance_lifetime_s: raw.clearance_lifetime_secs.max(1),
            ..doorman_challenge::Settings::default()
        };
        if !raw.bind_network {
            settings.binding.ipv4_prefix = None;
            settings.binding.ipv6_prefix = None;
        }
        settings.binding.user_agent = raw.bind_user_agent;
        crate::settings::ChallengeServer {
            difficulty,
            key_file: match &raw.key_file {
                Some(file) => self.resolve(&self.config_dir.clone(), file),
                None => data_dir.join(crate::raw::DEFAULT_CHALLENGE_KEY_FILE),
            },
            submit_path,
            settings,
            clock_skew_demo: raw.clock_skew_demo,
        }
    }

    /// A path the gateway answers itself (trace, whoami): `None` when written as "".
    pub(crate) fn endpoint_path(&mut self, key: &str, written: &str) -> Option<String> {
        let path = written.trim();
        if path.is_empty() {
            return None;
        }
        if !path.starts_with('/') || path.contains(char::is_whitespace) || path.contains('?') {
            self.invalid(
                key,
                Invalid {
                    detail: format!("`{path}` is not a path"),
                    hint: Some(
                        "write a path starting with `/`, or \"\" to turn the endpoint off".into(),
                    ),
                },
            );
            return None;
        }
        Some(path.to_owned())
    }

    fn site(&mut self, raw: &crate::raw::RawSite) -> SiteInfo {
        if raw.name.trim().is_empty() {
            self.invalid(
                "site.name",
                Invalid {
                    detail: "an empty name".into(),
                    hint: Some("pages show it; write the name people know the site by".into()),
                },
            );
        }
        if raw.support.as_deref().is_some_and(|s| s.trim().is_empty()) {
            self.invalid(
                "site.support",
                Invalid {
                    detail: "empty text".into(),
                    hint: Some(
                        "write an e-mail address, a URL or a sentence, or remove the key".into(),
                    ),
                },
            );
        }
        if let Some(url) = &raw.status_page_url {
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
            if host.is_none_or(str::is_empty) || url.contains(char::is_whitespace) {
                self.invalid(
                    "site.status_page_url",
                    Invalid {
                        detail: format!("`{url}` is not an http(s) URL"),
                        hint: Some("write a full URL, e.g. \"https://status.example.com\"".into()),
                    },
                );
            }
        }
        if !(raw.errors_url.starts_with('/')
            || raw.errors_url.starts_with("https://")
            || raw.errors_url.starts_with("http://"))
            || raw.errors_url.contains(char::is_whitespace)
        {
            self.invalid(
                "site.errors_url",
                Invalid {
                    detail: format!("`{}` is not a URL or a path", raw.errors_url),
                    hint: Some(
                        "write where your error documentation lives, e.g. \"https://docs.example.com/errors#\" (the code is appended)"
                            .into(),
                    ),
                },
            );
        }
        SiteInfo {
            name: raw.name.clone(),
            support: raw.support.clone(),
            status_page_url: raw.status_page_url.clone(),
            errors_url: raw.errors_url.clone(),
        }
    }

    fn logging(&mut self, raw: &crate::raw::RawLogging) -> Logging {
        if let Err(e) = values::log_level(&raw.level) {
            self.invalid("logging.level", e);
        }
        Logging {
            format: match raw.format {
                RawLogFormat::Pretty => LogFormat::Pretty,
                RawLogFormat::Json => LogFormat::Json,
            },
            level: raw.level.clone(),
        }
    }

    fn events(&mut self, raw: &crate::raw::RawEvents) -> Events {
        for (key, value) in [
            ("queue_capacity", raw.queue_capacity),
            ("batch_size", raw.batch_size),
        ] {
            if value == 0 {
                self.invalid(
                    &format!("events.{key}"),
                    Invalid {
                        detail: "0 would drop every event".into(),
                        hint: Some("remove the key to use the default".into()),
                    },
                );
            }
        }
        if raw.batch_size > raw.queue_capacity && raw.queue_capacity > 0 {
            self.warn(
                self.index.value("events.batch_size"),
                format!(
                    "batch_size ({}) is larger than queue_capacity ({}); batches can never fill",
                    raw.batch_size, raw.queue_capacity
                ),
                Some("make queue_capacity several times batch_size".into()),
            );
        }
        Events {
            queue_capacity: to_usize(raw.queue_capacity),
            batch_size: to_usize(raw.batch_size),
            retention_days: (raw.retention_days != 0).then_some(raw.retention_days),
            retention_rows: (raw.retention_rows != 0).then_some(raw.retention_rows),
        }
    }

    fn access_log(&mut self, raw: &crate::raw::RawAccessLog) -> AccessLog {
        let destination = if raw.path == "stdout" {
            AccessLogDestination::Stdout
        } else {
            if raw.path.is_empty() {
                self.invalid(
                    "access_log.path",
                    Invalid {
                        detail: "an empty path".into(),
                        hint: Some(
                            "write \"stdout\" or a file, e.g. \"./access.log\"; remove [access_log] to turn it off".into(),
                        ),
                    },
                );
            }
            let file = self.resolve(&self.config_dir.clone(), Path::new(&raw.path));
            if file.is_dir() {
                self.invalid(
                    "access_log.path",
                    Invalid {
                        detail: format!("`{}` is a directory", file.display()),
                        hint: Some(
                            "relative paths start from the config file's directory; name a file in it, e.g. \"./access.log\"".into(),
                        ),
                    },
                );
            }
            AccessLogDestination::File(file)
        };
        if !(0.0..=1.0).contains(&raw.sample_allowed) {
            self.invalid(
                "access_log.sample_allowed",
                Invalid {
                    detail: format!(
                        "{} is not a fraction between 0.0 and 1.0",
                        raw.sample_allowed
                    ),
                    hint: Some(
                        "1.0 logs every allowed request, 0.1 one in ten, 0.0 only denials".into(),
                    ),
                },
            );
        }
        if raw.queue_capacity == 0 {
            self.invalid(
                "access_log.queue_capacity",
                Invalid {
                    detail: "0 would drop every line".into(),
                    hint: Some("remove the key to use the default".into()),
                },
            );
        }
        AccessLog {
            destination,
            format: match raw.format {
                RawAccessLogFormat::Json => AccessLogFormat::Json,
                RawAccessLogFormat::Combined => AccessLogFormat::Combined,
            },
            sample_allowed: raw.sample_allowed,
            queue_capacity: to_usize(raw.queue_capacity),
        }
    }

    /// A required, unique name of an upstream or route. Returns it when valid and new.
    fn unique_name(
        &mut self,
        table_path: &str,
        section: &str,
        written: Option<&String>,
        seen: &mut HashMap<String, Range<usize>>,
    ) -> Option<String> {
        self.unique_key(
            table_path,
            "name",
            section,
            written.map(String::as_str),
            seen,
            "every entry needs a name, e.g. name = \"app\"",
            None,
        )
    }

    /// A required key (`name`, `id`) whose value must be a valid name and unique within
    /// `section`. Returns it when valid and new; otherwise reports what is wrong and returns None.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn unique_key(
        &mut self,
        table_path: &str,
        key: &str,
        section: &str,
        written: Option<&str>,
        seen: &mut HashMap<String, Range<usize>>,
        missing_hint: &str,
        invalid_hint: Option<&str>,
    ) -> Option<String> {
        let Some(value) = written else {
            self.missing(table_path, key, section, missing_hint.into());
            return None;
        };
        let path = format!("{table_path}.{key}");
        if let Err(mut e) = values::name(value) {
            if let Some(hint) = invalid_hint {
                e.hint = Some(hint.into());
            }
            self.invalid(&path, e);
            return None;
        }
        self.first_use(
            &path,
            value,
            &format!("{key} `{value}` in {section}"),
            &format!("{key}s"),
            seen,
        )
    }

    /// Records `value` (the value at `path`) as used; a second use is reported as a duplicate
    /// ("duplicate <what>", pointing at the first), and gives None.
    pub(crate) fn first_use(
        &mut self,
        path: &str,
        value: &str,
        what: &str,
        plural: &str,
        seen: &mut HashMap<String, Range<usize>>,
    ) -> Option<String> {
        let span = self.index.value(path);
        if let Some(first) = seen.get(value) {
            let line = self.line_of(first);
            self.error(
                span,
                format!("duplicate {what}"),
                Some(format!(
                    "the first is on line {line}; {plural} must be unique"
                )),
            );
            return None;
        }
        seen.insert(value.to_owned(), span);
        Some(value.to_owned())
    }

    /// The upstreams, their index by name, and whether every upstream has a usable name (if not,
    /// an unknown name in a route may well be that one, so it is not reported).
    fn upstreams(
        &mut self,
        raw: &[RawUpstream],
    ) -> (Vec<UpstreamSpec>, HashMap<String, usize>, bool) {
        let mut seen = HashMap::new();
        let mut index = HashMap::new();
        let mut complete = true;
        let mut out = Vec::new();
        for (i, u) in raw.iter().enumerate() {
            let path = format!("upstreams.{i}");
            let name = self.unique_name(&path, "[[upstreams]]", u.name.as_ref(), &mut seen);
            match &name {
                Some(n) => {
                    index.insert(n.clone(), i);
                }
                // A duplicate still names an upstream that exists; only a name that is missing
                // or invalid leaves routes pointing at something we cannot see.
                None => complete &= u.name.as_ref().is_some_and(|n| index.contains_key(n)),
            }
            let targets_path = format!("{path}.targets");
            if u.targets.is_empty() {
                if self.index.has(&targets_path) {
                    self.error(
                        self.index.value(&targets_path),
                        "`targets` is empty",
                        Some(
                            "list at least one host:port, e.g. targets = [\"127.0.0.1:3000\"]"
                                .into(),
                        ),
                    );
                } else {
                    self.missing(
                        &path,
                        "targets",
                        "[[upstreams]]",
                        "list where requests go, e.g. targets = [\"127.0.0.1:3000\"]".into(),
                    );
                }
            }
            let mut distinct = HashSet::new();
            for (j, t) in u.targets.iter().enumerate() {
                let element = format!("{targets_path}.{j}");
                if let Err(e) = values::target(t) {
                    self.invalid(&element, e);
                } else if !distinct.insert(t.trim()) {
                    self.warn(
                        self.index.value(&element),
                        format!("target `{t}` is listed twice"),
                        Some("it will get twice the share of requests; remove one if that is not meant".into()),
                    );
                }
            }
            for (key, value) in [
                ("connect_timeout_ms", u.connect_timeout_ms),
                ("response_timeout_ms", u.response_timeout_ms),
            ] {
                if value == 0 {
                    self.invalid(
                        &format!("{path}.{key}"),
                        Invalid {
                            detail: "0 would fail every request".into(),
                            hint: Some(
                                "remove the key to use the default, or give a time in milliseconds"
                                    .into(),
                            ),
                        },
                    );
                }
            }
            out.push(UpstreamSpec {
                name: name.unwrap_or_default(),
                targets: u.targets.iter().map(|t| t.trim().to_owned()).collect(),
                connect_timeout: Duration::from_millis(u.connect_timeout_ms),
                response_timeout: Duration::from_millis(u.response_timeout_ms),
                idle_timeout: Duration::from_millis(u.idle_timeout_ms),
                max_idle_per_target: to_usize(u.max_idle_per_target),
                health_check: u
                    .health_check
                    .as_ref()
                    .and_then(|h| self.health_check(&format!("upstreams.{i}.health_check"), h)),
            });
        }
        (out, index, complete)
    }

    fn routes(
        &mut self,
        raw: &[RawRoute],
        paths: &PathPolicy,
        upstreams: &HashMap<String, usize>,
        names_complete: bool,
        providers: &[doorman_jwt::ProviderConfig],
    ) -> Vec<Route> {
        if raw.is_empty() && !self.reported.contains("routes") {
            self.warn(
                0..0,
                "no [[routes]]: every request will be answered 404 (NO_ROUTE)",
                Some("add a [[routes]] table with a name and an upstream".into()),
            );
        }
        let mut seen_names = HashMap::new();
        // (hosts, prefix) of earlier routes, to find routes that can never match.
        let mut seen_matches: Vec<(Vec<HostPattern>, String, String, usize)> = Vec::new();
        let mut out = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let path = format!("routes.{i}");
            let name = self
                .unique_name(&path, "[[routes]]", r.name.as_ref(), &mut seen_names)
                .unwrap_or_default();

            let mut hosts = Vec::new();
            let mut hosts_ok = true;
            for (j, h) in r.hosts.iter().enumerate() {
                match values::host_pattern(h) {
                    Ok(p) if !hosts.contains(&p) => hosts.push(p),
                    Ok(_) => {}
                    Err(e) => {
                        hosts_ok = false;
                        self.invalid(&format!("{path}.hosts.{j}"), e);
                    }
                }
            }
            if let Err(e) = values::path_prefix(&r.path_prefix) {
                self.invalid(&format!("{path}.path_prefix"), e);
            } else {
                let normal = normalize_path(&r.path_prefix, paths.normalization).path;
                if normal != r.path_prefix.as_str() {
                    self.error(
                        self.index.value(&format!("{path}.path_prefix")),
                        format!("path_prefix `{}` never matches a request", r.path_prefix),
                        Some(format!(
                            "request paths are normalized before routing ([normalization]), so this prefix reads `{normal}`: write it that way"
                        )),
                    );
                }
            }

            let upstream = self.route_upstream(&path, r, upstreams, names_complete);
            let mut access = self.route_access(&path, &name, r);
            access.auth = self.route_auth(&path, r.auth.as_ref(), providers, true);

            let mut sorted = hosts.clone();
            sorted.sort_by(|a, b| host_key(a).cmp(&host_key(b)));
            // With a broken host left out, the route would look wider than it is.
            let shadowed_by = seen_matches
                .iter()
                .find(|(h, p, _, _)| hosts_ok && *h == sorted && *p == r.path_prefix);
            if let Some((_, _, earlier, line)) = shadowed_by {
                self.warn(
                    self.index.value(&path),
                    format!("route `{name}` is never used"),
                    Some(format!(
                        "route `{earlier}` on line {line} has the same hosts and path_prefix and comes first"
                    )),
                );
            } else if hosts_ok {
                let line = self.line_of(&self.index.value(&path));
                seen_matches.push((sorted, r.path_prefix.clone(), name.clone(), line));
            }

            let websocket = self.route_upgrades(&path, r.upgrades.as_deref());
            out.push(Route {
                name,
                hosts,
                path_prefix: r.path_prefix.clone(),
                upstream: upstream.unwrap_or(0),
                access,
                ambiguous_paths: r.ambiguous_paths.map_or(paths.ambiguous, ambiguous_paths),
                websocket,
            });
        }
        out
    }

    /// `[normalization]` into the core's path policy, with a warning for the settings that let
    /// a request walk around a closed route.
    fn normalization(&mut self, raw: &RawNormalization) -> PathPolicy {
        if raw.kind == RawNormalizationType::None {
            self.warn(
                self.index.value("normalization.type"),
                "paths are routed and matched as received: `/x/../admin` or `/%61dmin` walks around a closed `/admin` route and its rules",
                Some("remove the key to normalize paths (type = \"cloudflare\")".into()),
            );
        }
        if raw.ambiguous_paths == RawAmbiguousPaths::Pass {
            self.warn(
                self.index.value("normalization.ambiguous_paths"),
                "every route passes encoded slashes and dot segments to its origin as received",
                Some(
                    "set ambiguous_paths = \"pass\" only on the [[routes]] whose origin needs it"
                        .into(),
                ),
            );
        }
        PathPolicy {
            normalization: match raw.kind {
                RawNormalizationType::Cloudflare => NormalizationType::Cloudflare,
                RawNormalizationType::Rfc3986 => NormalizationType::Rfc3986,
                RawNormalizationType::None => NormalizationType::None,
            },
            forward: match raw.forward {
                RawPathForward::Normalized => PathForward::Normalized,
                RawPathForward::Raw => PathForward::Raw,
            },
            ambiguous: ambiguous_paths(raw.ambiguous_paths),
        }
    }

    /// `upgrades = ["websocket"]` (the default) or `[]`: whether WebSocket is tunnelled.
    fn route_upgrades(&mut self, path: &str, upgrades: Option<&[String]>) -> bool {
        let Some(upgrades) = upgrades else {
            return true;
        };
        let mut websocket = false;
        for (j, u) in upgrades.iter().enumerate() {
            if u.eq_ignore_ascii_case("websocket") {
                websocket = true;
            } else {
                self.error(
                    self.index.value(&format!("{path}.upgrades.{j}")),
                    format!("`{u}` cannot be tunnelled"),
                    Some(
                        "only \"websocket\" can be listed: other upgrades (h2c among them) are never passed to an upstream; the request is served as plain HTTP/1.1".into(),
                    ),
                );
            }
        }
        websocket
    }

    fn route_upstream(
        &mut self,
        path: &str,
        r: &RawRoute,
        upstreams: &HashMap<String, usize>,
        names_complete: bool,
    ) -> Option<usize> {
        let Some(wanted) = &r.upstream else {
            self.unresolved_routes = true;
            self.missing(
                path,
                "upstream",
                "[[routes]]",
                "name the [[upstreams]] entry requests go to, e.g. upstream = \"app\"".into(),
            );
            return None;
        };
        if let Some(&i) = upstreams.get(wanted) {
            self.used_upstreams.insert(i);
            return Some(i);
        }
        self.unresolved_routes = true;
        if names_complete {
            let mut known: Vec<&str> = upstreams.keys().map(String::as_str).collect();
            known.sort_unstable();
            let hint = match suggest::nearest(wanted, known.iter().copied()) {
                Some(near) => format!("did you mean `{near}`? (upstreams: {})", known.join(", ")),
                None if known.is_empty() => format!(
                    "define it: [[upstreams]] name = \"{wanted}\" targets = [\"host:port\"]"
                ),
                None => format!("upstreams: {}", known.join(", ")),
            };
            self.error(
                self.index.value(&format!("{path}.upstream")),
                format!("unknown upstream `{wanted}`"),
                Some(hint),
            );
        }
        None
    }

    fn route_access(&mut self, path: &str, name: &str, r: &RawRoute) -> RouteAccess {
        let networks = self.networks(&format!("{path}.allow_networks"), &r.allow_networks);
        let closed = r.access == RawAccess::Closed;
        let gated = !r.allow_networks.is_empty();
        let reason = r.reason.as_deref().map(str::trim).unwrap_or_default();

        if (closed || gated) && reason.is_empty() {
            let (at, why) = if closed {
                ("access", "is closed")
            } else {
                ("allow_networks", "admits only some networks")
            };
            let reason_path = format!("{path}.reason");
            let span = if self.index.has(&reason_path) {
                self.index.value(&reason_path)
            } else {
                self.index.value(&format!("{path}.{at}"))
            };
            if !self.reported.contains(&reason_path) {
                self.error(
                    span,
                    format!("route `{name}` {why} but has no `reason`"),
                    Some(
                        "say why in words the people turned away will read, e.g. reason = \"This service is only open to staff.\""
                            .into(),
                    ),
                );
            }
        }
        if !closed && !gated {
            let given = [
                ("title", r.title.is_some()),
                ("reason", r.reason.is_some()),
                ("remedies", !r.remedies.is_empty()),
            ];
            if let Some((key, _)) = given.iter().find(|(_, set)| *set) {
                self.warn(
                    self.index.key(&format!("{path}.{key}")),
                    format!("`{key}` has no effect: route `{name}` turns nobody away"),
                    Some("set access = \"closed\" or allow_networks, or remove it".into()),
                );
            }
        }
        if closed && gated {
            self.warn(
                self.index.key(&format!("{path}.allow_networks")),
                format!("allow_networks has no effect: route `{name}` is closed to everyone"),
                Some(
                    "remove allow_networks, or set access = \"open\" to admit those networks"
                        .into(),
                ),
            );
        }

        let notice = Notice {
            title: r.title.clone().filter(|t| !t.trim().is_empty()),
            reason: reason.to_owned(),
            remedies: r.remedies.clone(),
            disclosure: match r.disclosure {
                RawDisclosure::Public => Disclosure::Public,
                RawDisclosure::Hint => Disclosure::Hint,
                RawDisclosure::Private => Disclosure::Private,
            },
        };
        RouteAccess {
            closed: closed.then(|| notice.clone()),
            allow_networks: (gated && !closed).then_some(NetworkGate { networks, notice }),
            auth: None,
        }
    }

    fn unused_upstreams(&mut self, upstreams: &[UpstreamSpec]) {
        // A route whose upstream could not be resolved may have meant any of them.
        if self.unresolved_routes {
            return;
        }
        for (i, u) in upstreams.iter().enumerate() {
            if !u.name.is_empty() && !self.used_upstreams.contains(&i) {
                self.warn(
                    self.index.value(&format!("upstreams.{i}.name")),
                    format!("upstream `{}` is not used by any route", u.name),
                    Some("add a [[routes]] entry with upstream = the name, or remove it".into()),
                );
            }
        }
    }
}

/// The last key of a path, skipping array indexes: `routes.0.hosts.2` → `hosts`.
pub(crate) fn key_of(path: &str) -> &str {
    path.rsplit('.')
        .find(|s| !s.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or(path)
}

fn host_key(p: &HostPattern) -> (u8, &str) {
    match p {
        HostPattern::Exact(h) => (0, h),
        HostPattern::Subdomains(s) => (1, s),
    }
}

/// Whether binding both addresses would collide: same port, and the same IP or a wildcard of the
/// same family (port 0 asks the OS for a fresh port, which never collides).
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    if a.port() != b.port() || a.port() == 0 {
        return false;
    }
    let same_family = matches!(
        (a.ip(), b.ip()),
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
    );
    a.ip() == b.ip() || (same_family && (a.ip().is_unspecified() || b.ip().is_unspecified()))
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn example_tls(key: &str) -> &'static str {
    if key == "cert_file" {
        "cert.pem"
    } else {
        "key.pem"
    }
}

/// Why `path` cannot be read as a file, if it cannot.
pub(crate) fn readable(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("does not exist".into()),
        Err(e) => Err(format!("cannot be read ({e})")),
        Ok(m) if m.is_dir() => Err("is a directory".into()),
        Ok(_) => std::fs::File::open(path)
            .map(drop)
            .map_err(|e| format!("cannot be read ({e})")),
    }
}
