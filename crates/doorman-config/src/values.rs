//! Parsers for the strings in the file that carry structure: addresses, networks, host patterns,
//! upstream targets, names. Each returns the parsed value or an [`Invalid`] that says what is
//! wrong with the text and, where a likely fix exists, spells the fix out.
//!
//! They take no positions and report nothing themselves, so they can be tested as plain
//! functions; the compiler attaches the span of the value they were given.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use doorman_core::policy::HostPattern;
use ipnet::IpNet;

/// What is wrong with one value, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Completes "invalid value for `key`: …".
    pub detail: String,
    /// A likely fix.
    pub hint: Option<String>,
}

fn invalid(detail: impl Into<String>, hint: Option<String>) -> Invalid {
    Invalid {
        detail: detail.into(),
        hint,
    }
}

/// A network for an allow list or trusted proxies: a CIDR or a bare address (one host).
/// The second value, when set, is the network the author probably meant when they wrote an
/// address with host bits set (`10.1.2.3/8` means `10.0.0.0/8`).
pub fn network(text: &str) -> Result<(IpNet, Option<IpNet>), Invalid> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok((IpNet::from(ip), None));
    }
    match t.parse::<IpNet>() {
        Ok(net) => {
            let base = net.trunc();
            Ok((base, (base != net).then_some(base)))
        }
        Err(_) => Err(invalid(
            format!("`{t}` is not an IP network"),
            Some("write a CIDR such as 192.0.2.0/24 or 2001:db8::/32, or a single address".into()),
        )),
    }
}

/// A socket address to bind: `ip:port` (IPv6 in brackets).
pub fn bind_addr(text: &str) -> Result<SocketAddr, Invalid> {
    let t = text.trim();
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let detail = format!("`{t}` is not an ip:port address");
    let hint = if let Some(port) = t.strip_prefix("localhost:") {
        format!("a socket binds an IP address, not a name: write 127.0.0.1:{port}")
    } else if t.parse::<Ipv6Addr>().is_ok() {
        // `::1:80` is itself a valid IPv6 address, so say both readings.
        match t.rsplit_once(':') {
            Some((host, port)) if host.parse::<Ipv6Addr>().is_ok() => format!(
                "an IPv6 address and port need brackets: [{host}]:{port} (or [{t}]:8080 if it was all address)"
            ),
            _ => format!("add brackets and a port, e.g. [{t}]:8080"),
        }
    } else if let Some(port) = t.strip_prefix(':') {
        format!("write 0.0.0.0:{port} for every IPv4 address, or [::]:{port} for IPv6 too")
    } else if t.parse::<u16>().is_ok() {
        format!("write 0.0.0.0:{t} for every IPv4 address, or 127.0.0.1:{t} for this machine only")
    } else if t.parse::<IpAddr>().is_ok() {
        format!("add the port, e.g. {t}:8080")
    } else if let Some((host, port)) = t
        .rsplit_once(':')
        .filter(|(host, _)| host.parse::<Ipv6Addr>().is_ok())
    {
        format!("put an IPv6 address in brackets: [{host}]:{port}")
    } else {
        "write an IP address and a port, e.g. 0.0.0.0:8080".to_owned()
    };
    Err(invalid(detail, Some(hint)))
}

/// A route's host pattern: `example.com` or `*.example.com`, compared lower-case.
pub fn host_pattern(text: &str) -> Result<HostPattern, Invalid> {
    let h = text.trim().to_ascii_lowercase();
    if h.is_empty() {
        return Err(invalid(
            "an empty host",
            Some("remove it; hosts = [] takes every host".into()),
        ));
    }
    if h == "*" {
        return Err(invalid(
            "`*` is not a host pattern",
            Some("hosts = [] takes every host".into()),
        ));
    }
    if let Some((scheme, rest)) = h.split_once("://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        return Err(invalid(
            format!("`{text}` has a scheme (`{scheme}://`)"),
            Some(format!("write just the host: \"{host}\"")),
        ));
    }
    if let Some((host, _)) = h.split_once('/') {
        return Err(invalid(
            format!("`{text}` has a path"),
            Some(format!(
                "write just the host (\"{host}\") and put the path in path_prefix"
            )),
        ));
    }
    if let Some(inner) = h.strip_prefix('[') {
        return match inner.strip_suffix(']').map(str::parse::<Ipv6Addr>) {
            Some(Ok(_)) => Ok(HostPattern::Exact(h)),
            _ => Err(invalid(
                format!("`{text}` is not a bracketed IPv6 address"),
                Some("write an IPv6 host as [2001:db8::1], without a port".into()),
            )),
        };
    }
    if let Some((host, port)) = h.rsplit_once(':') {
        let hint = if port.bytes().all(|b| b.is_ascii_digit()) && !host.contains(':') {
            format!("hosts are matched without the port: write \"{host}\"")
        } else {
            "write an IPv6 host in brackets, e.g. [2001:db8::1]".to_owned()
        };
        return Err(invalid(format!("`{text}` has a `:`"), Some(hint)));
    }
    if let Some(stripped) = h.strip_suffix('.') {
        return Err(invalid(
            format!("`{text}` ends with a dot"),
            Some(format!("write \"{stripped}\"")),
        ));
    }
    if let Some(rest) = h.strip_prefix("*.") {
        if dns_name(rest) {
            return Ok(HostPattern::Subdomains(format!(".{rest}")));
        }
        if rest.contains('*') {
            return Err(invalid(
                format!("`{text}` has more than one wildcard"),
                Some("only one leading `*.` is supported, e.g. *.example.com".into()),
            ));
        }
    } else if h.contains('*') {
        return Err(invalid(
            format!("`{text}` has a wildcard that is not a leading `*.`"),
            Some("only a leading `*.` is supported, e.g. *.example.com".into()),
        ));
    } else if dns_name(&h) {
        return Ok(HostPattern::Exact(h));
    }
    Err(invalid(
        format!("`{text}` is not a valid host name"),
        Some("host names are letters, digits and `-`, in labels joined by `.`".into()),
    ))
}

/// Whether `s` is a DNS name (or an IPv4 literal, which has the same shape): labels of letters,
/// digits, `-` and `_` (seen in real internal names), not starting or ending with `-`.
fn dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// An upstream target: `host:port` (IPv6 host in brackets).
pub fn target(text: &str) -> Result<(), Invalid> {
    let t = text.trim();
    if let Some((scheme, rest)) = t.split_once("://") {
        let authority = rest.split('/').next().unwrap_or_default();
        let fixed = if authority.contains(':') {
            authority.to_owned()
        } else if scheme.eq_ignore_ascii_case("https") {
            format!("{authority}:443")
        } else {
            format!("{authority}:80")
        };
        return Err(invalid(
            format!("`{t}` is a URL, not host:port"),
            Some(format!("write \"{fixed}\"")),
        ));
    }
    if t.contains('/') {
        return Err(invalid(
            format!("`{t}` has a path"),
            Some("a target is only host:port; requests keep their own path".into()),
        ));
    }
    let (host, port) = if let Some(rest) = t.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((ip, port)) if ip.parse::<Ipv6Addr>().is_ok() => (ip, port),
            _ => {
                return Err(invalid(
                    format!("`{t}` is not [ipv6]:port"),
                    Some("write an IPv6 target as [2001:db8::1]:8080".into()),
                ));
            }
        }
    } else {
        match t.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(invalid(
                    format!("`{t}` is an IPv6 address without brackets"),
                    Some("write an IPv6 target as [2001:db8::1]:8080".into()),
                ));
            }
            Some((host, port)) if dns_name(host) => (host, port),
            Some((host, _)) => {
                return Err(invalid(
                    format!("`{host}` is not a valid host name"),
                    Some("write host:port, e.g. 127.0.0.1:3000 or app.internal:3000".into()),
                ));
            }
            None => {
                return Err(invalid(
                    format!("`{t}` has no port"),
                    Some(format!("add the port, e.g. \"{t}:80\"")),
                ));
            }
        }
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(invalid(
            format!("`{port}` is not a port number for `{host}`"),
            Some("ports go from 1 to 65535".into()),
        )),
    }
}

/// A route's path prefix: starts with `/`, no query, fragment or spaces.
pub fn path_prefix(text: &str) -> Result<(), Invalid> {
    if !text.starts_with('/') {
        return Err(invalid(
            format!("`{text}` does not start with `/`"),
            Some(format!("write \"/{}\"", text.trim_start_matches('/'))),
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c, '?' | '#') || c.is_whitespace())
    {
        return Err(invalid(
            format!("`{text}` contains {c:?}"),
            Some("a path prefix is matched against the path only, before any `?`".into()),
        ));
    }
    Ok(())
}

/// A route or upstream name: it appears in logs, metrics labels and the admin API.
pub fn name(text: &str) -> Result<(), Invalid> {
    if text.is_empty() {
        return Err(invalid(
            "an empty name",
            Some("write a short name such as \"app\"".into()),
        ));
    }
    let ok = text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            format!("`{text}` is not a valid name"),
            Some("names are up to 64 letters, digits, `-`, `_` and `.`".into()),
        ))
    }
}

/// A list's name, as rules write it after `$`: lower-case letters, digits and `_` (Cloudflare's
/// rule, so that expressions carry over both ways), at most `max` characters.
pub fn list_name(text: &str, max: usize) -> Result<(), Invalid> {
    if text.is_empty() {
        return Err(invalid(
            "an empty name",
            Some("write a short name such as \"office\"".into()),
        ));
    }
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    if text.bytes().all(ok) && text.len() <= max {
        return Ok(());
    }
    let bare = text.strip_prefix('$').unwrap_or(text);
    let fixed: String = bare
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c if c.is_ascii_lowercase() || c.is_ascii_digit() => c,
            _ => '_',
        })
        .collect();
    let hint = if text.len() > max {
        format!("list names are at most {max} characters")
    } else if text.starts_with('$') {
        format!("the `$` belongs in expressions only: name = \"{fixed}\"")
    } else {
        format!("use lower-case letters, digits and `_`: \"{fixed}\"")
    };
    Err(invalid(
        format!("`{text}` is not a valid list name"),
        Some(hint),
    ))
}

/// An autonomous system number: `64500`, `"64500"` or `"AS64500"` (any case). AS0 is reserved
/// (RFC 7607) and never announced, so a rule on it could never match.
pub fn asn(written: &crate::raw::RawIntOrString) -> Result<u32, Invalid> {
    use crate::raw::RawIntOrString;
    let hint = || Some("write the number, e.g. asn = 64500 or asn = \"AS64500\"".to_owned());
    let n: i64 = match written {
        RawIntOrString::Int(n) => *n,
        RawIntOrString::Str(s) => {
            let t = s.trim();
            let digits = t
                .strip_prefix("AS")
                .or_else(|| t.strip_prefix("as"))
                .or_else(|| t.strip_prefix("As"))
                .unwrap_or(t);
            match digits.parse::<i64>() {
                Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(invalid(format!("`{s}` is not an AS number"), hint())),
            }
        }
    };
    match u32::try_from(n) {
        Ok(0) => Err(invalid(
            "AS0 is reserved and never announced",
            Some("write the AS number of the network you mean".into()),
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(invalid(
            format!("{n} is not an AS number (1 to 4294967295)"),
            hint(),
        )),
    }
}

/// A country for an access rule: an ISO 3166-1 alpha-2 code in upper case, `T1` (Tor) or `XX`
/// (unknown). Only the shape is checked (the list of codes changes, and the database decides),
/// except for `UK`, which is not the United Kingdom's code and so would never match.
pub fn country(text: &str) -> Result<String, Invalid> {
    let t = text.trim();
    if t == "UK" {
        return Err(invalid(
            "`UK` is not an ISO 3166-1 country code",
            Some("the United Kingdom is \"GB\"".into()),
        ));
    }
    if (t.len() == 2 && t.bytes().all(|b| b.is_ascii_uppercase())) || t == "T1" {
        return Ok(t.to_owned());
    }
    let upper = t.to_ascii_uppercase();
    let hint =
        if upper.len() == 2 && (upper.bytes().all(|b| b.is_ascii_uppercase()) || upper == "T1") {
            format!("country codes are upper case: \"{upper}\"")
        } else {
            "write a two-letter ISO 3166-1 code such as \"DE\", or \"T1\" (Tor) or \"XX\" (unknown)"
                .to_owned()
        };
    Err(invalid(format!("`{t}` is not a country code"), Some(hint)))
}

/// `[server] node_name`, lower-cased; must be `[a-z0-9-]+` because it ends every Ray ID.
pub fn node_name(text: &str) -> Result<String, Invalid> {
    let lower = text.to_ascii_lowercase();
    if !lower.is_empty()
        && lower
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Ok(lower);
    }
    let hint = match sanitize_node_name(text) {
        Some(s) => format!("use letters, digits and `-` only, e.g. \"{s}\""),
        None => "use letters, digits and `-` only, e.g. \"edge-1\"".to_owned(),
    };
    Err(invalid(
        format!("`{text}` is not a valid node name"),
        Some(hint),
    ))
}

/// A host name made fit for a node name: its first label, lower-cased, other characters as `-`.
pub fn sanitize_node_name(host: &str) -> Option<String> {
    let first = host.trim().split('.').next().unwrap_or_default();
    let cleaned: String = first
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The node name when the file gives none: `$HOSTNAME`, else `/etc/hostname`, made fit; else
/// `doorman`.
pub fn default_node_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .and_then(|h| sanitize_node_name(&h))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .and_then(|h| sanitize_node_name(&h))
        })
        .unwrap_or_else(|| "doorman".to_owned())
}

/// Headers the gateway itself manages; a Ray ID header by one of these names would clobber it.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "cookie",
    "set-cookie",
    "authorization",
    "location",
    "retry-after",
    "www-authenticate",
];

/// `[forwarding] ray_header`.
pub fn header_name(text: &str) -> Result<http::HeaderName, Invalid> {
    let lower = text.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) {
        return Err(invalid(
            format!("`{text}` is a standard header the gateway already sets or forwards"),
            Some(format!(
                "choose a name of your own, e.g. \"{}\"",
                crate::raw::DEFAULT_RAY_HEADER
            )),
        ));
    }
    http::HeaderName::from_bytes(lower.as_bytes()).map_err(|_| {
        invalid(
            format!("`{text}` is not a valid header name"),
            Some("header names are letters, digits and `-`, e.g. \"doorman-ray\"".into()),
        )
    })
}

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// `[logging] level`: a cheap check of `tracing` env-filter syntax that catches misspelt levels
/// without rejecting anything the real parser accepts.
pub fn log_level(text: &str) -> Result<(), Invalid> {
    if text.trim().is_empty() {
        return Err(invalid(
            "an empty filter",
            Some("write a level such as \"info\"".into()),
        ));
    }
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        // Span and field filters (`target[span{f=v}]=debug`) have a grammar of their own; the
        // server's parser will judge those.
        if directive.contains('[') {
            continue;
        }
        let level = match directive.rsplit_once('=') {
            Some((_, level)) => level,
            None => {
                let lower = directive.to_ascii_lowercase();
                // A bare target name (`hyper`) enables it at every level, but a near miss of a
                // level name is far likelier a typo than a module called `inf`.
                if LEVELS.contains(&lower.as_str())
                    || crate::suggest::nearest(&lower, LEVELS.iter().copied()).is_none()
                {
                    continue;
                }
                directive
            }
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            let near = crate::suggest::nearest(&level.to_ascii_lowercase(), LEVELS.iter().copied());
            return Err(invalid(
                format!("`{level}` in `{text}` is not a log level"),
                Some(match near {
                    Some(n) => format!("did you mean `{n}`? (levels: {})", LEVELS.join(", ")),
                    None => format!("levels: {}", LEVELS.join(", ")),
                }),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_accept_cidrs_and_bare_addresses() {
        assert_eq!(
            network("10.0.0.0/8").unwrap(),
            ("10.0.0.0/8".parse().unwrap(), None)
        );
        assert_eq!(
            network("192.0.2.7").unwrap().0,
            "192.0.2.7/32".parse().unwrap()
        );
        assert_eq!(
            network("2001:db8::1").unwrap().0,
            "2001:db8::1/128".parse().unwrap()
        );
        let (net, meant) = network("10.1.2.3/8").unwrap();
        assert_eq!(net, "10.0.0.0/8".parse().unwrap());
        assert_eq!(meant, Some(net));
        assert!(network("10.0.0/8").is_err());
        assert!(network("10.0.0.0/33").is_err());
    }

    #[test]
    fn bind_addresses_explain_common_mistakes() {
        assert_eq!(bind_addr("0.0.0.0:8080").unwrap().port(), 8080);
        assert!(bind_addr("[::1]:80").is_ok());
        let e = bind_addr("localhost:8080").unwrap_err();
        assert!(e.hint.unwrap().contains("127.0.0.1:8080"));
        assert!(
            bind_addr(":8080")
                .unwrap_err()
                .hint
                .unwrap()
                .contains("0.0.0.0:8080")
        );
        assert!(
            bind_addr("::1:80")
                .unwrap_err()
                .hint
                .unwrap()
                .contains("[::1]:80")
        );
    }

    #[test]
    fn host_patterns() {
        assert_eq!(
            host_pattern("API.Example.com").unwrap(),
            HostPattern::Exact("api.example.com".into())
        );
        assert_eq!(
            host_pattern("*.example.com").unwrap(),
            HostPattern::Subdomains(".example.com".into())
        );
        assert_eq!(
            host_pattern("[::1]").unwrap(),
            HostPattern::Exact("[::1]".into())
        );
        for bad in [
            "*",
            "",
            "a.*.com",
            "*.*.com",
            "https://x.com",
            "x.com:8080",
            "x.com/",
            "x.com.",
            "-x.com",
            "a b",
        ] {
            assert!(host_pattern(bad).is_err(), "{bad}");
        }
        assert_eq!(
            host_pattern("example.com:443").unwrap_err().hint.unwrap(),
            "hosts are matched without the port: write \"example.com\""
        );
    }

    #[test]
    fn targets() {
        for good in ["127.0.0.1:3000", "app.internal:80", "[::1]:8080"] {
            assert!(target(good).is_ok(), "{good}");
        }
        assert_eq!(
            target("http://app:3000/x").unwrap_err().hint.unwrap(),
            "write \"app:3000\""
        );
        assert_eq!(
            target("https://app").unwrap_err().hint.unwrap(),
            "write \"app:443\""
        );
        assert!(target("app").unwrap_err().detail.contains("no port"));
        assert!(target("app:0").is_err());
        assert!(target("app:99999").is_err());
        assert!(target("::1:80").is_err());
    }

    #[test]
    fn names_and_prefixes() {
        assert!(name("chat-v2.beta_1").is_ok());
        assert!(name("").is_err());
        assert!(name("a b").is_err());
        assert!(path_prefix("/").is_ok());
        assert!(path_prefix("/api/v1").is_ok());
        assert_eq!(
            path_prefix("api").unwrap_err().hint.unwrap(),
            "write \"/api\""
        );
        assert!(path_prefix("/a?b").is_err());
    }

    #[test]
    fn node_names() {
        assert_eq!(node_name("Edge-1").unwrap(), "edge-1");
        let e = node_name("edge_1.example").unwrap_err();
        assert!(e.hint.unwrap().contains("\"edge-1\""));
        assert_eq!(
            sanitize_node_name("Web_01.prod.example.com").as_deref(),
            Some("web-01")
        );
        assert_eq!(sanitize_node_name("..."), None);
        let d = default_node_name();
        assert!(
            !d.is_empty()
                && d.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
    }

    #[test]
    fn header_names() {
        assert_eq!(header_name("Doorman-Ray").unwrap().as_str(), "doorman-ray");
        assert!(header_name("host").is_err());
        assert!(header_name("bad header").is_err());
    }

    #[test]
    fn list_names_asns_and_countries() {
        use crate::raw::RawIntOrString::{Int, Str};
        assert!(list_name("abuse_feed_2", 50).is_ok());
        assert_eq!(
            list_name("Abuse-Feed", 50).unwrap_err().hint.unwrap(),
            "use lower-case letters, digits and `_`: \"abuse_feed\""
        );
        assert!(
            list_name("$office", 50)
                .unwrap_err()
                .hint
                .unwrap()
                .contains("name = \"office\"")
        );
        assert!(list_name(&"a".repeat(51), 50).is_err());
        assert!(list_name("", 50).is_err());

        assert_eq!(asn(&Int(64500)).unwrap(), 64500);
        assert_eq!(asn(&Str("AS64500".into())).unwrap(), 64500);
        assert_eq!(asn(&Str("as13335".into())).unwrap(), 13335);
        assert_eq!(asn(&Str("4294967295".into())).unwrap(), u32::MAX);
        assert!(asn(&Int(0)).is_err());
        assert!(asn(&Int(-5)).is_err());
        assert!(asn(&Int(4_294_967_296)).is_err());
        assert!(asn(&Str("AS-1".into())).is_err());
        assert!(asn(&Str("cloudflare".into())).is_err());

        assert_eq!(country("DE").unwrap(), "DE");
        assert_eq!(country("T1").unwrap(), "T1");
        assert_eq!(country("XX").unwrap(), "XX");
        assert_eq!(
            country("de").unwrap_err().hint.unwrap(),
            "country codes are upper case: \"DE\""
        );
        assert!(country("UK").unwrap_err().hint.unwrap().contains("GB"));
        assert!(country("DEU").is_err());
        assert!(country("Germany").is_err());
    }

    #[test]
    fn log_levels() {
        for good in [
            "info",
            "warn,doorman_server=debug",
            "hyper",
            "a[span{x=1}]=trace",
            "OFF",
        ] {
            assert!(log_level(good).is_ok(), "{good}");
        }
        let e = log_level("inf").unwrap_err();
        assert!(e.hint.unwrap().contains("`info`"));
        assert!(log_level("doorman=verbose").is_err());
        assert!(log_level(" ").is_err());
    }
}
