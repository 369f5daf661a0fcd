//! The compiled policy: an immutable snapshot the server swaps atomically on reload. Built by
//! `doorman-config` from the TOML file; the core only ever sees this validated form.

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::receipt::Disclosure;

/// Everything the core needs to decide. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Policy {
    /// This node's name: the suffix of every Ray ID.
    pub node: Arc<str>,
    /// What pages say about the site and whom to contact.
    pub site: SiteInfo,
    /// Which peers may tell us the client's address.
    pub client_ip: ClientIpPolicy,
    /// Routes, in the order written in the file.
    pub routes: Vec<Route>,
    /// Indexes into `routes` in match order: routes naming hosts before host-less ones, then the
    /// longest path prefix, then file order.
    pub route_order: Vec<usize>,
    /// Named origins, referenced by index from routes.
    pub upstreams: Vec<UpstreamSpec>,
    /// IP access rules, lists, network intelligence and custom rules.
    pub firewall: crate::firewall::Firewall,
    /// Rate limiting rules, in file order, each with the expression selecting its requests.
    pub rate_limits: doorman_rules::Ruleset<crate::ratelimit::RateLimitRule>,
    /// How the gateway answers about credentials.
    pub auth: AuthSettings,
    /// How request paths are normalized and forwarded (`[normalization]`).
    pub paths: crate::canonical::PathPolicy,
}

/// Site-wide settings of authorization.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The `realm` of `WWW-Authenticate`.
    pub realm: String,
    /// Where clients may put an API key besides `Authorization: Bearer`, for the receipts' words.
    pub key_header: Option<String>,
    /// Headers the upstream gets with the verified identity; client-sent copies are removed.
    pub identity_headers: IdentityHeaders,
    /// `[[jwt_providers]]` names and the names people know them by (`display_name`), for the
    /// receipts' words; a provider without one is called "this site's sign-in service".
    pub provider_names: Vec<(String, String)>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            realm: "doorman".to_string(),
            key_header: None,
            identity_headers: IdentityHeaders::default(),
            provider_names: Vec::new(),
        }
    }
}

impl AuthSettings {
    /// What a route's accepted credentials are called on a receipt: "an API key or a sign-in
    /// token from Example Accounts". Provider names are internal; only display names show.
    pub fn methods_words(&self, route: &crate::auth::RouteAuth) -> String {
        let words: Vec<String> = route.methods.iter().map(|m| self.method_words(m)).collect();
        let mut unique: Vec<String> = Vec::with_capacity(words.len());
        for w in words {
            if !unique.contains(&w) {
                unique.push(w);
            }
        }
        unique.join(" or ")
    }

    /// One kind of credential in words: "an API key", "a sign-in token from Example Accounts".
    pub fn method_words(&self, method: &crate::auth::AuthMethod) -> String {
        match method {
            crate::auth::AuthMethod::ApiKey => "an API key".to_string(),
            crate::auth::AuthMethod::Jwt { provider } => {
                match self
                    .provider_names
                    .iter()
                    .find(|(name, _)| name == provider)
                {
                    Some((_, display)) => format!("a sign-in token from {display}"),
                    None => "a sign-in token from this site's sign-in service".to_string(),
                }
            }
        }
    }
}

/// Names of the identity headers for the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaders {
    /// The API key's id.
    pub key_id: http::HeaderName,
    /// The key's name or the token's subject.
    pub subject: http::HeaderName,
    /// Space-separated scopes.
    pub scopes: http::HeaderName,
    /// `api_key` or `jwt:<provider>`.
    pub method: http::HeaderName,
}

impl Default for IdentityHeaders {
    fn default() -> Self {
        IdentityHeaders {
            key_id: http::HeaderName::from_static("doorman-key-id"),
            subject: http::HeaderName::from_static("doorman-subject"),
            scopes: http::HeaderName::from_static("doorman-scopes"),
            method: http::HeaderName::from_static("doorman-auth-method"),
        }
    }
}

impl IdentityHeaders {
    /// All of them, to strip from what the client sent.
    pub fn all(&self) -> [&http::HeaderName; 4] {
        [&self.key_id, &self.subject, &self.scopes, &self.method]
    }
}

/// Public facts about the site, shown on receipts.
#[derive(Debug, Clone, Default)]
pub struct SiteInfo {
    /// The site's name as people know it.
    pub name: String,
    /// How a blocked person reaches the operator (e-mail, URL, or a sentence).
    pub support: Option<String>,
    /// A link to the public status page, shown on upstream failures.
    pub status_page_url: Option<String>,
    /// Where a JSON receipt's `type` points, the code appended; empty: the gateway's own page.
    pub errors_url: String,
}

impl SiteInfo {
    /// Fills what every receipt says about the site: whom to contact, where the codes are
    /// explained, and the site's name with the host the request was for.
    pub fn fill(&self, r: &mut crate::receipt::Receipt, host: &str) {
        r.support = self.support.clone();
        r.errors_url = if self.errors_url.is_empty() {
            None
        } else {
            Some(self.errors_url.clone())
        };
        r.site = match (self.name.as_str(), host) {
            ("", "") => None,
            (name, "") => Some(name.to_owned()),
            ("", host) => Some(host.to_owned()),
            (name, host) if name.eq_ignore_ascii_case(host) => Some(host.to_owned()),
            (name, host) => Some(format!("{name} ({host})")),
        };
    }
}

/// Where the client's address comes from when the socket peer is a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedSource {
    /// `X-Forwarded-For`: the rightmost address that is not a trusted proxy.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`, same rightmost-untrusted rule.
    Forwarded,
    /// The PROXY protocol (v1 or v2) header at the start of the connection.
    ProxyProtocol,
    /// Never: the socket peer is the client.
    None,
}

/// Trusted-proxy settings.
#[derive(Debug, Clone, Default)]
pub struct ClientIpPolicy {
    /// Networks whose forwarding headers we believe. Empty: nobody's.
    pub trusted_proxies: Vec<IpNet>,
    /// Which header or protocol carries the client address.
    pub source: ForwardedSource,
}

/// Which hosts a route serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this host (lower-case).
    Exact(String),
    /// `*.example.com`: any subdomain of the stored suffix (`.example.com`), not the apex.
    Subdomains(String),
}

impl HostPattern {
    /// Whether `host` (already lower-case, no port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        }
    }
}

/// A route: which requests it takes, where they go, who may use it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The route's name, as written in the config (used in logs and metrics).
    pub name: String,
    /// Hosts served; empty means any host.
    pub hosts: Vec<HostPattern>,
    /// Path prefix, matched on whole segments and without regard to ASCII case: `/plugins`
    /// takes `/plugins`, `/Plugins/x` and `/plugins;v=1`, not `/pluginsx`. `/` takes everything.
    pub path_prefix: String,
    /// Index into [`Policy::upstreams`].
    pub upstream: usize,
    /// Route-level access.
    pub access: RouteAccess,
    /// What happens to a path that cannot be normalized safely on this route.
    pub ambiguous_paths: crate::canonical::AmbiguousPaths,
    /// Whether WebSocket upgrades are tunnelled to the upstream (`upgrades = ["websocket"]`).
    pub websocket: bool,
}

impl Route {
    /// Whether this route takes a request for `host` and `path`.
    pub fn matches(&self, host: &str, path: &str) -> bool {
        (self.hosts.is_empty() || self.hosts.iter().any(|h| h.matches(host)))
            && path_has_prefix(path, &self.path_prefix)
    }
}

/// Segment-aware prefix test (see [`Route::path_prefix`]). Case is ignored and `;` ends a
/// segment's name, because origins differ on both (IIS and many frameworks ignore case; servlet
/// containers strip `;parameters`): reading `/ADMIN` or `/admin;x=1` as another route than
/// `/admin` would let a request walk around a closed route.
pub fn path_has_prefix(path: &str, prefix: &str) -> bool {
    if prefix.is_empty() || prefix == "/" {
        return true;
    }
    let (path, prefix) = (path.as_bytes(), prefix.as_bytes());
    if path.len() < prefix.len() || !path[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return false;
    }
    let rest = &path[prefix.len()..];
    prefix.ends_with(b"/") || rest.is_empty() || rest[0] == b'/' || rest[0] == b';'
}

/// Route-level access, the first phase: a route can be closed outright, or admit only some
/// networks.
#[derive(Debug, Clone, Default)]
pub struct RouteAccess {
    /// When set, every request on the route is denied with this notice.
    pub closed: Option<Notice>,
    /// When set, only clients in these networks pass; others get the gate's notice.
    pub allow_networks: Option<NetworkGate>,
    /// When set, requests need a credential of one of these kinds, with these scopes (checked
    /// after rate limiting).
    pub auth: Option<crate::auth::RouteAuth>,
}

/// A client-network allowlist with the words shown to those outside it.
#[derive(Debug, Clone)]
pub struct NetworkGate {
    /// Networks admitted.
    pub networks: Vec<IpNet>,
    /// What the others are told.
    pub notice: Notice,
}

/// What an operator wrote for people who are denied: the reason, the fixes, how much to disclose.
#[derive(Debug, Clone, Default)]
pub struct Notice {
    /// Public title, replacing the code's generic one when the disclosure allows.
    pub title: Option<String>,
    /// Why, in plain words.
    pub reason: String,
    /// What the person can do, in order.
    pub remedies: Vec<String>,
    /// How much of this the person sees.
    pub disclosure: Disclosure,
}

/// A named origin: one or more targets taken in turn, with its timeouts.
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    /// The name routes refer to.
    pub name: String,
    /// `host:port` targets, used round robin.
    pub targets: Vec<String>,
    /// Time allowed to open a TCP connection to a target.
    pub connect_timeout: Duration,
    /// Time allowed from sending the request to receiving the response head.
    pub response_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub idle_timeout: Duration,
    /// At most this many idle connections are kept per target.
    pub max_idle_per_target: usize,
    /// Active health checks of each target; `None`: targets are always taken.
    pub health_check: Option<HealthCheck>,
}

/// An active HTTP health check of an upstream's targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// Path requested (GET).
    pub path: String,
    /// Status that counts as healthy; `None`: any 2xx or 3xx.
    pub expect_status: Option<u16>,
    /// Text the body must contain.
    pub expect_body: Option<String>,
    /// Time between checks of one target.
    pub interval: std::time::Duration,
    /// Time allowed for one check.
    pub timeout: std::time::Duration,
    /// Consecutive failures that take a target out of the rotation.
    pub fall: u32,
    /// Consecutive successes that bring it back.
    pub rise: u32,
}

impl Policy {
    /// Builds the match order from `routes`: a route that names its hosts is more specific than
    /// one that takes any host (as with nginx's server blocks), then the longest prefix wins, then
    /// file order (the sort is stable).
    pub fn route_order_for(routes: &[Route]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..routes.len()).collect();
        order.sort_by_key(|&i| {
            (
                routes[i].hosts.is_empty(),
                std::cmp::Reverse(routes[i].path_prefix.len()),
            )
        });
        order
    }

    /// The address a mistyped path probably meant: its leading segments respelt as the nearest
    /// prefix of an open route for this host (`/plugin/weather` → `/plugins/weather`). Closed
    /// and network-gated routes are never suggested: a suggestion must not reveal them.
    pub fn did_you_mean(&self, host: &str, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or(path);
        let mut best: Option<(usize, String)> = None;
        for route in &self.routes {
            let prefix = route.path_prefix.trim_end_matches('/');
            if prefix.is_empty()
                || route.access.closed.is_some()
                || route.access.allow_networks.is_some()
                || !route.matches(host, &route.path_prefix)
                || path_has_prefix(path, &route.path_prefix)
            {
                continue;
            }
            let segments = prefix.matches('/').count();
            // The same number of leading segments of the asked path, and what follows them.
            let cut = path
                .match_indices('/')
                .nth(segments)
                .map_or(path.len(), |(i, _)| i);
            let (head, tail) = path.split_at(cut);
            let d = strsim::osa_distance(&head.to_ascii_lowercase(), &prefix.to_ascii_lowercase());
            // As many edits as a typo makes: one in a short word, up to three in a long one.
            let budget = match prefix.chars().count() {
                0..=3 => 0,
                4..=6 => 1,
                7..=10 => 2,
                _ => 3,
            };
            if d > 0 && d <= budget && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
                best = Some((d, format!("{prefix}{tail}")));
            }
        }
        best.map(|(_, p)| p)
    }

    /// The route taking a request for `host` and `path`, if any.
    pub fn route_for(&self, host: &str, path: &str) -> Option<usize> {
        self.route_order
            .iter()
            .copied()
            .find(|&i| self.routes[i].matches(host, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, hosts: Vec<HostPattern>, prefix: &str) -> Route {
        Route {
            name: name.into(),
            hosts,
            path_prefix: prefix.into(),
            upstream: 0,
            access: RouteAccess::default(),
            ambiguous_paths: Default::default(),
            websocket: true,
        }
    }

    fn policy(routes: Vec<Route>) -> Policy {
        Policy {
            node: Arc::from("t"),
            site: SiteInfo::default(),
            client_ip: ClientIpPolicy::default(),
            route_order: Policy::route_order_for(&routes),
            routes,
            upstreams: vec![],
            firewall: Default::default(),
            rate_limits: doorman_rules::Ruleset::new(),
            auth: Default::default(),
            paths: Default::default(),
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(path_has_prefix("/plugins", "/plugins"));
        assert!(path_has_prefix("/plugins/weather", "/plugins"));
        assert!(!path_has_prefix("/pluginsx", "/plugins"));
        assert!(path_has_prefix("/plugins/x", "/plugins/"));
        assert!(path_has_prefix("/anything", "/"));
    }

    #[test]
    fn prefixes_ignore_case_and_parameters() {
        assert!(path_has_prefix("/ADMIN/", "/admin"));
        assert!(path_has_prefix("/Admin", "/admin"));
        assert!(path_has_prefix("/admin;x=1/", "/admin"));
        assert!(path_has_prefix("/admin;jsessionid=1", "/admin"));
        assert!(!path_has_prefix("/admins", "/admin"));
        assert!(!path_has_prefix("/adm", "/admin"));
        // A multi-byte character across the prefix's end must not panic.
        assert!(!path_has_prefix("/adé", "/adm"));
    }

    #[test]
    fn longest_prefix_wins_then_file_order() {
        let p = policy(vec![
            route("all", vec![], "/"),
            route("plugins", vec![], "/plugins"),
            route("plugins-again", vec![], "/plugins"),
        ]);
        assert_eq!(p.route_for("x", "/plugins/w"), Some(1));
        assert_eq!(p.route_for("x", "/chat"), Some(0));
    }

    #[test]
    fn host_specific_routes_beat_catch_alls() {
        let p = policy(vec![
            route("all", vec![], "/"),
            route("api", vec![HostPattern::Exact("api.example".into())], "/"),
        ]);
        assert_eq!(p.route_for("api.example", "/v1"), Some(1));
        assert_eq!(p.route_for("www.example", "/v1"), Some(0));
    }

    #[test]
    fn hosts_restrict_routes() {
        let p = policy(vec![
            route("api", vec![HostPattern::Exact("api.example".into())], "/"),
            route(
                "subs",
                vec![HostPattern::Subdomains(".example".into())],
                "/",
            ),
        ]);
        assert_eq!(p.route_for("api.example", "/"), Some(0));
        assert_eq!(p.route_for("www.example", "/"), Some(1));
        assert_eq!(p.route_for("example", "/"), None);
    }
}
