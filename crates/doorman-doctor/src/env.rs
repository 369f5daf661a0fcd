//! Proxy settings in the environment: would curl and most tools send this request through a
//! proxy? The doctor itself always connects directly, so when its checks pass but the person's
//! tool fails, a proxy in between is the difference, and this step says so.
//!
//! The rules are curl's: the lower-case variable wins over the upper-case one (curl ignores
//! upper-case `HTTP_PROXY` altogether, because of httpoxy), `ALL_PROXY` is the fallback, and
//! `NO_PROXY` lists host suffixes, IP addresses or CIDR ranges, or `*`.

use std::net::IpAddr;

use crate::target::{Scheme, Target};
use crate::{Status, Step};

fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<(&'a str, &'a str)> {
    env.iter()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(k, v)| (k.as_str(), v.trim()))
}

/// A proxy URL without its password, for a report that may end up in a support ticket.
fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}{user}:***@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

/// The NO_PROXY entry that excludes `host`, if any.
fn excluded_by<'a>(no_proxy: &'a str, host: &str, port: u16) -> Option<&'a str> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<IpAddr> = host.parse().ok();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .find(|entry| {
            if *entry == "*" {
                return true;
            }
            // An entry may carry a port: then it only applies to that port.
            let (name, entry_port) = match entry.rsplit_once(':') {
                Some((n, p)) if !n.contains(':') || n.ends_with(']') => (n, p.parse::<u16>().ok()),
                _ => (*entry, None),
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            let name = name.trim_start_matches('[').trim_end_matches(']');
            if let Some(ip) = ip {
                return cidr_contains(name, ip);
            }
            let name = name
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
        })
}

/// `entry` is an IP address equal to `ip`, or a CIDR range containing it.
fn cidr_contains(entry: &str, ip: IpAddr) -> bool {
    let (addr, bits) = match entry.split_once('/') {
        Some((a, b)) => match b.parse::<u32>() {
            Ok(b) => (a, Some(b)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// The proxy step.
pub(crate) fn step(env: &[(String, String)], t: &Target) -> Step {
    let mut step = Step::new("proxy");
    let mut any = false;
    for name in crate::PROXY_VARS {
        if let Some((k, v)) = get(env, name) {
            step.fact(k, redact(v));
            any = true;
        }
    }
    if !any {
        step.fact("variables", "none set: tools connect directly");
        return step;
    }
    let candidates: &[&str] = match t.scheme {
        Scheme::Http => &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"],
        Scheme::Https => &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
    };
    let Some((var, proxy)) = candidates.iter().find_map(|n| get(env, n)) else {
        step.fact(
            "this URL",
            format!("no proxy variable applies to {}:// URLs", t.scheme.as_str()),
        );
        return step;
    };
    let no_proxy = get(env, "no_proxy").or_else(|| get(env, "NO_PROXY"));
    if let Some(entry) = no_proxy.and_then(|(_, v)| excluded_by(v, &t.host, t.port)) {
        step.fact(
            "this URL",
            format!("goes direct: NO_PROXY entry `{entry}` excludes {}", t.host),
        );
        return step;
    }
    step.fact(
        "this URL",
        format!(
            "curl and most tools would send it through the proxy {} (from {var}){}",
            redact(proxy),
            if var == "HTTP_PROXY" {
                "; curl itself ignores upper-case HTTP_PROXY"
            } else {
                ""
            }
        ),
    );
    step.fact("the doctor", "connects directly, not through the proxy");
    step.status = Status::Warn;
    step.fix = Some(format!(
        "if the checks below pass but your browser or curl fails, the proxy is the difference: try without it (NO_PROXY={} or curl --noproxy {}), or ask whoever runs the proxy",
        t.host, t.host
    ));
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn decides_like_curl() {
        let t = Target::parse("https://api.example.com/x").unwrap();
        assert_eq!(step(&[], &t).status, Status::Ok);
        let s = step(
            &env(&[("HTTPS_PROXY", "http://bob:secret@proxy.corp:3128")]),
            &t,
        );
        assert_eq!(s.status, Status::Warn);
        assert_eq!(
            s.fact_value("HTTPS_PROXY"),
            Some("http://bob:***@proxy.corp:3128")
        );
        assert!(!format!("{s:?}").contains("secret"));
        let s = step(
            &env(&[
                ("https_proxy", "http://proxy:3128"),
                ("NO_PROXY", "localhost, .example.com"),
            ]),
            &t,
        );
        assert_eq!(s.status, Status::Ok);
        assert!(s.fact_value("this URL").unwrap().contains(".example.com"));
        // Only an http proxy: https goes direct.
        let s = step(&env(&[("http_proxy", "http://proxy:3128")]), &t);
        assert_eq!(s.status, Status::Ok);
    }

    #[test]
    fn no_proxy_entries() {
        assert_eq!(excluded_by("*", "a.b", 443), Some("*"));
        assert_eq!(
            excluded_by("example.com", "example.com", 443),
            Some("example.com")
        );
        assert_eq!(
            excluded_by("example.com", "www.example.com", 443),
            Some("example.com")
        );
        assert_eq!(excluded_by("example.com", "badexample.com", 443), None);
        assert_eq!(
            excluded_by("*.example.com", "a.example.com", 443),
            Some("*.example.com")
        );
        assert_eq!(excluded_by("example.com:8080", "example.com", 443), None);
        assert_eq!(
            excluded_by("example.com:443", "example.com", 443),
            Some("example.com:443")
        );
        assert_eq!(
            excluded_by("10.0.0.0/8", "10.1.2.3", 80),
            Some("10.0.0.0/8")
        );
        assert_eq!(excluded_by("10.0.0.0/8", "11.1.2.3", 80), None);
        assert_eq!(excluded_by("127.0.0.1", "127.0.0.1", 80), Some("127.0.0.1"));
        assert_eq!(excluded_by("::1", "::1", 80), Some("::1"));
        assert_eq!(excluded_by("[::1]:80", "::1", 80), Some("[::1]:80"));
        assert_eq!(excluded_by("fd00::/8", "fd12::1", 80), Some("fd00::/8"));
    }
}
