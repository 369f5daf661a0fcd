//! Who the client is: the socket peer, unless the peer is a configured trusted proxy, in which case
//! the forwarding header it sent names the client. Headers from any other peer are ignored, so a
//! client cannot choose its own address (and so its own rate-limit bucket or allowlist entry).
//!
//! For `X-Forwarded-For` and `Forwarded`, the client is the rightmost address that is not itself a
//! trusted proxy: everything left of it was written by parties we do not trust.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

use crate::policy::{ClientIpPolicy, ForwardedSource};

/// Whether `ip` is inside one of `nets`.
pub fn is_trusted(ip: IpAddr, nets: &[IpNet]) -> bool {
    let ip = canonical(ip);
    nets.iter().any(|n| n.contains(&ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, seen on dual-stack sockets) become IPv4, so that
/// IPv4 rules and lists apply to them.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Resolves the client IP for a request whose connection came from `peer` (already replaced by
/// the PROXY protocol source when that is in use).
pub fn resolve(peer: IpAddr, headers: &HeaderMap, policy: &ClientIpPolicy) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, &policy.trusted_proxies) {
        return peer;
    }
    let hops: Vec<IpAddr> = match policy.source {
        ForwardedSource::XForwardedFor => headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(parse_hop)
            .collect(),
        ForwardedSource::Forwarded => headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(forwarded_for)
            .collect(),
        ForwardedSource::ProxyProtocol | ForwardedSource::None => return peer,
    };
    // Walk from the nearest hop outwards; the first untrusted one is the client. When every hop is
    // trusted (a request from inside), the farthest one is the best we know.
    hops.iter()
        .rev()
        .copied()
        .find(|ip| !is_trusted(*ip, &policy.trusted_proxies))
        .or_else(|| hops.first().copied())
        .unwrap_or(peer)
}

/// One X-Forwarded-For element: an IP, optionally with a port (`192.0.2.1:1234`, `[2001:db8::1]:80`).
fn parse_hop(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_matches('"');
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    t.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// The `for=` parameter of one RFC 7239 element; obfuscated identifiers and `unknown` give `None`.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        let v = v
            .strip_prefix('[')
            .map_or(v, |rest| rest.split(']').next().unwrap_or(rest));
        parse_hop(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(source: ForwardedSource) -> ClientIpPolicy {
        ClientIpPolicy {
            trusted_proxies: vec![
                "10.0.0.0/8".parse().unwrap(),
                "127.0.0.1/32".parse().unwrap(),
            ],
            source,
        }
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let h = headers("x-forwarded-for", &["198.51.100.9"]);
        let got = resolve(
            ip("203.0.113.7"),
            &h,
            &policy(ForwardedSource::XForwardedFor),
        );
        assert_eq!(got, ip("203.0.113.7"));
    }

    #[test]
    fn rightmost_untrusted_hop_wins_so_spoofed_left_entries_do_not() {
        // The client sent a fake "1.1.1.1"; its real address was appended by our proxies.
        let h = headers("x-forwarded-for", &["1.1.1.1, 198.51.100.9", "10.0.0.5"]);
        let got = resolve(ip("127.0.0.1"), &h, &policy(ForwardedSource::XForwardedFor));
        assert_eq!(got, ip("198.51.100.9"));
    }

    #[test]
    fn all_trusted_hops_fall_back_to_the_farthest() {
        let h = headers("x-forwarded-for", &["10.1.1.1, 10.0.0.5"]);
        let got = resolve(ip("127.0.0.1"), &h, &policy(ForwardedSource::XForwardedFor));
        assert_eq!(got, ip("10.1.1.1"));
    }

    #[test]
    fn garbage_and_missing_headers_keep_the_peer() {
        let p = policy(ForwardedSource::XForwardedFor);
        assert_eq!(
            resolve(ip("127.0.0.1"), &HeaderMap::new(), &p),
            ip("127.0.0.1")
        );
        let h = headers("x-forwarded-for", &["not-an-ip"]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &p), ip("127.0.0.1"));
    }

    #[test]
    fn forwarded_header_with_ports_and_v6() {
        let h = headers(
            "forwarded",
            &["for=1.1.1.1, for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.5"],
        );
        let got = resolve(ip("127.0.0.1"), &h, &policy(ForwardedSource::Forwarded));
        assert_eq!(got, ip("2001:db8::7"));
    }

    #[test]
    fn mapped_v6_peers_are_treated_as_v4() {
        let h = headers("x-forwarded-for", &["198.51.100.9"]);
        let got = resolve(
            ip("::ffff:127.0.0.1"),
            &h,
            &policy(ForwardedSource::XForwardedFor),
        );
        assert_eq!(got, ip("198.51.100.9"));
        assert_eq!(canonical(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn xff_with_ports() {
        let h = headers("x-forwarded-for", &["198.51.100.9:5555"]);
        let got = resolve(ip("10.0.0.1"), &h, &policy(ForwardedSource::XForwardedFor));
        assert_eq!(got, ip("198.51.100.9"));
    }
}
