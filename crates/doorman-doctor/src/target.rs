//! The URL under diagnosis, taken apart and checked before anything is sent: a usage error
//! belongs on the command line (exit 2), not in a network step.

use std::net::{IpAddr, SocketAddr};

use crate::DoctorError;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Where the doctor connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// Its scheme.
    pub scheme: Scheme,
    /// The host without brackets: a DNS name (lower case) or an IP address.
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// The path and query to request (the URL's, or `--path`).
    pub path: String,
}

impl Target {
    /// Parses an `http://` or `https://` URL.
    pub fn parse(url: &str) -> Result<Target, DoctorError> {
        let bad = |why: &str| DoctorError::InvalidUrl {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let uri: http::Uri = url.trim().parse().map_err(|e: http::uri::InvalidUri| {
            bad(&format!("{e}; write it like https://example.com/path"))
        })?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(other) => {
                return Err(bad(&format!("the scheme `{other}` is not http or https")));
            }
            None => {
                return Err(bad(
                    "no scheme; write https://… or http://… (the doctor does not guess)",
                ));
            }
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad(
                "user names and passwords in the URL are not supported (they would be sent nowhere; use --api-key for a key)",
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = authority.port_u16().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".to_owned());
        Ok(Target {
            url: url.trim().to_owned(),
            scheme,
            host,
            port,
            path,
        })
    }

    /// The host as an IP address, when it is one (then DNS is skipped).
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// `host[:port]` as a Host header: the port only when it is not the scheme's default.
    pub fn authority(&self) -> String {
        let host = match self.ip() {
            Some(IpAddr::V6(_)) => format!("[{}]", self.host),
            _ => self.host.clone(),
        };
        let default = match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The URL of another path on the same site, for messages.
    pub fn url_of(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme.as_str(), self.authority())
    }
}

/// Checks a `--path` value: it must start with `/` and be valid in a request line.
pub fn check_path(path: &str) -> Result<String, DoctorError> {
    let bad = |why: &str| DoctorError::InvalidPath {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    if !path.starts_with('/') {
        return Err(bad("it must start with /, e.g. /plugins/weather"));
    }
    path.parse::<http::uri::PathAndQuery>()
        .map_err(|e| bad(&e.to_string()))?;
    Ok(path.to_owned())
}

/// Parses a `--resolver` value: `IP` (port 53), `IP:PORT` or `[IPv6]:PORT`.
pub fn parse_resolver(text: &str) -> Result<SocketAddr, DoctorError> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(DoctorError::InvalidResolver {
        text: text.to_owned(),
    })
}

/// Percent-encodes a path for a `?path=` query parameter (the characters a query value cannot
/// carry as they are).
pub(crate) fn query_value(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("https://Example.com/a?b=1").unwrap();
        assert_eq!(
            (t.scheme, t.host.as_str(), t.port, t.path.as_str()),
            (Scheme::Https, "example.com", 443, "/a?b=1")
        );
        assert_eq!(t.authority(), "example.com");
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 8080, "/")
        );
        assert_eq!(t.authority(), "[::1]:8080");
        assert!(Target::parse("example.com").is_err());
        assert!(Target::parse("ftp://example.com").is_err());
        assert!(Target::parse("https://u:p@example.com").is_err());
        assert!(Target::parse("https://exa mple.com").is_err());
    }

    #[test]
    fn resolvers_and_paths() {
        assert_eq!(
            parse_resolver("192.0.2.1").unwrap(),
            "192.0.2.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_resolver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_resolver("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert_eq!(parse_resolver("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert!(parse_resolver("dns.google").is_err());
        assert!(check_path("/plugins/weather?x=1").is_ok());
        assert!(check_path("plugins").is_err());
        assert!(check_path("/a b").is_err());
        assert_eq!(query_value("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
    }
}
