//! The rules language's view of one request: a [`FieldProvider`] over [`RequestFacts`] and what
//! read-only lookups say about the client IP (network intelligence, list memberships).
//!
//! Every value is computed only when a rule asks for it, at most once per request (the rules
//! crate's `EvalContext` caches it); strings borrow from the request where they can. Fields this
//! build cannot fill (bodies, JWT claims, TLS fingerprints, response fields) are missing values,
//! so a rule on them is simply false.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

use doorman_rules::{Field, FieldProvider, Map, Value};
use http::Version;

use crate::facts::RequestFacts;
use crate::firewall::{Firewall, IpClass};
use crate::intel::IpInfo;

/// Lazily derived facts about the client IP, shared by the firewall phases and their receipts.
pub struct ClientIpFacts<'p> {
    ip: IpAddr,
    firewall: &'p Firewall,
    info: OnceCell<IpInfo>,
    lists: OnceCell<Vec<usize>>,
}

impl<'p> ClientIpFacts<'p> {
    /// Facts about `ip`, looked up on first use.
    pub fn new(ip: IpAddr, firewall: &'p Firewall) -> Self {
        ClientIpFacts {
            ip,
            firewall,
            info: OnceCell::new(),
            lists: OnceCell::new(),
        }
    }

    /// The client IP.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Country and AS, with Tor exits reported as country `T1` as Cloudflare does.
    pub fn info(&self) -> &IpInfo {
        self.info.get_or_init(|| {
            let mut info = self.firewall.intel.lookup(self.ip);
            if self.class(IpClass::Tor).is_some() {
                info.country = Some("T1".to_string());
            }
            info
        })
    }

    /// Indexes (into `firewall.lists`) of the IP lists that contain the client IP.
    pub fn list_indexes(&self) -> &[usize] {
        self.lists.get_or_init(|| {
            self.firewall
                .lists
                .iter()
                .enumerate()
                .filter(|(_, l)| l.contains_ip(self.ip))
                .map(|(i, _)| i)
                .collect()
        })
    }

    /// The first list of class `class` that contains the client IP, if any.
    pub fn class(&self, class: IpClass) -> Option<&'p crate::firewall::NamedList> {
        let firewall = self.firewall;
        firewall
            .lists
            .iter()
            .find(|l| l.class == Some(class) && l.contains_ip(self.ip))
    }
}

/// The field provider for one request.
pub struct RequestFields<'a, 'p> {
    facts: &'a RequestFacts<'a>,
    ip: &'a ClientIpFacts<'p>,
    route: Option<&'p str>,
    full_uri: OnceCell<String>,
    raw_full_uri: OnceCell<String>,
}

impl<'a, 'p> RequestFields<'a, 'p> {
    /// A provider over `facts`, with client-IP lookups from `ip` and the matched route's name.
    pub fn new(
        facts: &'a RequestFacts<'a>,
        ip: &'a ClientIpFacts<'p>,
        route: Option<&'p str>,
    ) -> Self {
        RequestFields {
            facts,
            ip,
            route,
            full_uri: OnceCell::new(),
            raw_full_uri: OnceCell::new(),
        }
    }

    fn header(&self, name: &str) -> Value<'_> {
        Value::opt_str(self.facts.header(name))
    }

    fn headers_map(&self) -> Value<'_> {
        let mut by_name: Vec<(Cow<'_, str>, Value<'_>)> =
            Vec::with_capacity(self.facts.headers.keys_len());
        for name in self.facts.headers.keys() {
            let values = self
                .facts
                .headers
                .get_all(name)
                .iter()
                .map(|v| Value::bytes(v.as_bytes()))
                .collect();
            by_name.push((Cow::Borrowed(name.as_str()), Value::Array(values)));
        }
        Value::Map(Map::new(by_name))
    }

    fn query_pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.facts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
    }

    fn cookie_pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.facts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(doorman_common::cookie::pairs)
    }
}

/// Groups (name, value) pairs into a map of arrays, keeping each name's values in order.
fn group<'v>(pairs: impl Iterator<Item = (&'v str, &'v str)>) -> Value<'v> {
    let mut grouped: Vec<(&str, Vec<Value<'v>>)> = Vec::new();
    for (name, value) in pairs {
        match grouped.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(Value::str(value)),
            None => grouped.push((name, vec![Value::str(value)])),
        }
    }
    Value::Map(Map::new(
        grouped
            .into_iter()
            .map(|(n, vs)| (Cow::Borrowed(n), Value::Array(vs))),
    ))
}

/// Language tags of an Accept-Language header, highest quality first (stable for equal q).
fn accepted_languages(header: &str) -> Vec<&str> {
    let mut tags: Vec<(&str, f32)> = header
        .split(',')
        .filter_map(|part| {
            let mut it = part.split(';');
            let tag = it.next()?.trim();
            if tag.is_empty() {
                return None;
            }
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse().ok())
                .unwrap_or(1.0);
            Some((tag, q))
        })
        .collect();
    tags.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    tags.into_iter().map(|(t, _)| t).collect()
}

fn extension(path: &str) -> Value<'static> {
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() || !ext.is_empty() => {
            Value::string(ext.to_ascii_lowercase())
        }
        _ => Value::str(""),
    }
}

impl FieldProvider for RequestFields<'_, '_> {
    fn field(&self, field: Field) -> Value<'_> {
        let f = self.facts;
        match field {
            Field::IpSrc => Value::Ip(self.ip.ip()),
            Field::IpSrcAsnum => self
                .ip
                .info()
                .asn
                .map_or(Value::Missing, |a| Value::Int(a.into())),
            Field::IpSrcCountry => Value::opt_str(self.ip.info().country.as_deref()),
            Field::IpSrcContinent => Value::opt_str(self.ip.info().continent.as_deref()),
            Field::IpSrcIsInEuropeanUnion => {
                self.ip.info().in_eu.map_or(Value::Missing, Value::Bool)
            }
            Field::HttpCookie => self.header("cookie"),
            Field::HttpHost => Value::str(&f.host),
            Field::HttpReferer => self.header("referer"),
            Field::HttpUserAgent => self.header("user-agent"),
            Field::HttpXForwardedFor => self.header("x-forwarded-for"),
            Field::HttpRequestFullUri => Value::str(self.full_uri.get_or_init(|| {
                format!("{}://{}{}", f.scheme.as_str(), f.host, f.path_and_query())
            })),
            Field::RawHttpRequestFullUri => Value::str(self.raw_full_uri.get_or_init(|| {
                let pq = f.uri.path_and_query().map_or("/", |p| p.as_str());
                format!("{}://{}{pq}", f.scheme.as_str(), f.host)
            })),
            Field::HttpRequestMethod => Value::str(f.method.as_str()),
            Field::HttpRequestUri => match f.path_and_query() {
                Cow::Borrowed(pq) => Value::str(pq),
                Cow::Owned(pq) => Value::string(pq),
            },
            Field::RawHttpRequestUri => {
                Value::str(f.uri.path_and_query().map_or("/", |p| p.as_str()))
            }
            Field::HttpRequestUriPath => Value::str(f.path()),
            Field::RawHttpRequestUriPath => Value::str(f.uri.path()),
            Field::HttpRequestUriPathExtension => extension(f.path()),
            Field::RawHttpRequestUriPathExtension => extension(f.uri.path()),
            Field::HttpRequestUriQuery | Field::RawHttpRequestUriQuery => {
                Value::str(f.uri.query().unwrap_or(""))
            }
            Field::HttpRequestVersion => Value::str(match f.version {
                Version::HTTP_09 => "HTTP/0.9",
                Version::HTTP_10 => "HTTP/1.0",
                Version::HTTP_2 => "HTTP/2",
                Version::HTTP_3 => "HTTP/3",
                _ => "HTTP/1.1",
            }),
            Field::HttpRequestTimestampSec | Field::HttpRequestTimestampMsec => {
                let since = f.now.duration_since(UNIX_EPOCH).unwrap_or_default();
                if field == Field::HttpRequestTimestampSec {
                    Value::Int(since.as_secs() as i64)
                } else {
                    Value::Int(i64::from(since.subsec_millis()))
                }
            }
            Field::HttpRequestCookies => group(self.cookie_pairs()),
            Field::HttpRequestUriArgs | Field::RawHttpRequestUriArgs => group(self.query_pairs()),
            Field::HttpRequestUriArgsNames | Field::RawHttpRequestUriArgsNames => {
                Value::strs(self.query_pairs().map(|(n, _)| n))
            }
            Field::HttpRequestUriArgsValues | Field::RawHttpRequestUriArgsValues => {
                Value::strs(self.query_pairs().map(|(_, v)| v))
            }
            Field::HttpRequestHeaders => self.headers_map(),
            Field::HttpRequestHeadersNames => {
                Value::strs(f.headers.iter().map(|(k, _)| k.as_str()))
            }
            Field::HttpRequestHeadersValues => Value::Array(
                f.headers
                    .iter()
                    .map(|(_, v)| Value::bytes(v.as_bytes()))
                    .collect(),
            ),
            Field::HttpRequestHeadersTruncated => Value::Bool(false),
            Field::HttpRequestAcceptedLanguages => Value::strs(
                f.header("accept-language")
                    .map(accepted_languages)
                    .unwrap_or_default(),
            ),
            Field::Ssl => Value::Bool(f.tls.is_some()),
            Field::CfTlsVersion => Value::opt_str(f.tls.map(|t| t.version.as_str())),
            // Computed by the server from the raw ClientHello before rustls saw it; missing over
            // plain HTTP and when the hello could not be read in time.
            Field::DoormanTlsJa4 => Value::opt_str(f.tls.and_then(|t| t.ja4.as_deref())),
            Field::DoormanTlsJa3Hash => Value::opt_str(f.tls.and_then(|t| t.ja3_hash.as_deref())),
            Field::DoormanIpVpn => Value::Bool(self.ip.class(IpClass::Vpn).is_some()),
            Field::DoormanIpHosting => Value::Bool(self.ip.class(IpClass::Hosting).is_some()),
            Field::DoormanIpTor => Value::Bool(self.ip.class(IpClass::Tor).is_some()),
            Field::DoormanIpProxy => Value::Bool(self.ip.class(IpClass::Proxy).is_some()),
            Field::DoormanIpLists => Value::strs(
                self.ip
                    .list_indexes()
                    .iter()
                    .map(|&i| self.ip.firewall.lists[i].name.as_str()),
            ),
            Field::DoormanRoute => Value::opt_str(self.route),
            Field::DoormanClearance => Value::str(f.clearance.state()),
            Field::DoormanBotScore => f.bot.map_or(Value::Missing, |b| Value::Int(b.score.into())),
            Field::DoormanBotSignals => f.bot.map_or(Value::Missing, |b| Value::strs(b.ids())),
            Field::DoormanAuthMethod => Value::str(match f.auth.identity() {
                Some(i) => i.method.kind(),
                None => "none",
            }),
            Field::DoormanAuthKeyId => {
                Value::opt_str(f.auth.identity().and_then(|i| i.key_id.as_deref()))
            }
            Field::DoormanAuthSubject => Value::opt_str(
                f.auth
                    .identity()
                    .map(|i| i.subject.as_deref().unwrap_or(&i.name)),
            ),
            Field::DoormanAuthScopes => match f.auth.identity() {
                Some(i) => Value::strs(i.scopes.iter().map(String::as_str)),
                None => Value::Missing,
            },
            Field::DoormanRayId => Value::string(f.ray_id.to_string()),
            _ => Value::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_by_quality() {
        assert_eq!(
            accepted_languages("de;q=0.5, en-GB, fr;q=0.8"),
            vec!["en-GB", "fr", "de"]
        );
        assert!(accepted_languages("").is_empty());
    }

    #[test]
    fn extensions_are_lowercased_last_segment() {
        assert_eq!(extension("/a/b/Report.PDF"), Value::str("pdf"));
        assert_eq!(extension("/a.b/c"), Value::str(""));
        assert_eq!(extension("/"), Value::str(""));
    }
}
