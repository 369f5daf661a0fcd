//! Header rules of a proxy: hop-by-hop headers (RFC 9110 §7.6.1, including any a `Connection`
//! header names) never cross the gateway, and the upstream learns the client's address, scheme and
//! host through X-Forwarded-* headers we write ourselves.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The settings an `Upgrade: h2c` offer carries (hop-by-hop, RFC 9113 §3.2.1); removed with the
/// offer it belongs to rather than looked up on every request.
pub static HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// Headers that describe one connection, not the message.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Removes hop-by-hop headers and those named in `Connection`. When `keep_upgrade` is set (a
/// protocol switch in progress), `Upgrade` survives and `Connection: upgrade` is written back,
/// because the upgrade handshake needs them end to end.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Collect the names `Connection` lists before removing it.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        if keep_upgrade && name == header::UPGRADE {
            continue;
        }
        headers.remove(&name);
    }
    for name in HOP_BY_HOP.iter() {
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

/// Which forwarding headers to write for the upstream.
#[derive(Debug, Clone, Copy)]
pub struct Forwarding {
    pub x_forwarded_for: bool,
    pub x_forwarded_proto: bool,
    pub x_forwarded_host: bool,
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Writes X-Forwarded-For/-Proto/-Host. `peer_trusted` says whether the socket peer is one of our
/// trusted proxies: only then is the chain it sent kept (and our peer appended to it); from anyone
/// else the client-sent values are replaced, so the upstream never sees a forged chain.
pub fn set_forwarding(
    headers: &mut HeaderMap,
    fwd: Forwarding,
    peer: IpAddr,
    peer_trusted: bool,
    scheme: &'static str,
    host: Option<HeaderValue>,
) {
    if fwd.x_forwarded_for {
        let chain = if peer_trusted {
            let previous: Vec<&str> = headers
                .get_all(&X_FORWARDED_FOR)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if previous.is_empty() {
                peer.to_string()
            } else {
                format!("{}, {peer}", previous.join(", "))
            }
        } else {
            peer.to_string()
        };
        if let Ok(v) = HeaderValue::from_str(&chain) {
            headers.insert(X_FORWARDED_FOR.clone(), v);
        }
    } else if !peer_trusted {
        headers.remove(&X_FORWARDED_FOR);
    }
    if fwd.x_forwarded_proto {
        if !(peer_trusted && headers.contains_key(&X_FORWARDED_PROTO)) {
            headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(scheme));
        }
    } else if !peer_trusted {
        headers.remove(&X_FORWARDED_PROTO);
    }
    if fwd.x_forwarded_host {
        if !(peer_trusted && headers.contains_key(&X_FORWARDED_HOST)) {
            match host {
                Some(h) => {
                    headers.insert(X_FORWARDED_HOST.clone(), h);
                }
                None => {
                    headers.remove(&X_FORWARDED_HOST);
                }
            }
        }
    } else if !peer_trusted {
        headers.remove(&X_FORWARDED_HOST);
    }
}

/// Total size of a header block as it travels on HTTP/1.1 (`name: value\r\n`), for the 431 check.
pub fn head_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn removes_hop_by_hop_and_connection_named_headers() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn upgrade_survives_when_switching_protocols() {
        let mut h = map(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "k"),
        ]);
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["sec-websocket-key"], "k");
    }

    const FWD: Forwarding = Forwarding {
        x_forwarded_for: true,
        x_forwarded_proto: true,
        x_forwarded_host: true,
    };

    #[test]
    fn untrusted_peer_cannot_forge_the_chain() {
        let mut h = map(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
        ]);
        set_forwarding(
            &mut h,
            FWD,
            "203.0.113.7".parse().unwrap(),
            false,
            "http",
            Some(HeaderValue::from_static("chat.example")),
        );
        assert_eq!(h["x-forwarded-for"], "203.0.113.7");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "chat.example");
    }

    #[test]
    fn trusted_peer_chain_is_extended() {
        let mut h = map(&[
            ("x-forwarded-for", "198.51.100.9"),
            ("x-forwarded-proto", "https"),
        ]);
        set_forwarding(&mut h, FWD, "10.0.0.5".parse().unwrap(), true, "http", None);
        assert_eq!(h["x-forwarded-for"], "198.51.100.9, 10.0.0.5");
        assert_eq!(h["x-forwarded-proto"], "https");
    }

    #[test]
    fn head_size_counts_wire_bytes() {
        let h = map(&[("a", "bc")]);
        assert_eq!(head_size(&h), 1 + 2 + 4);
    }
}

/// Decodes `%XX` escapes and `+` (query strings of the admin and whoami endpoints: IPs, hex,
/// paths). A malformed escape stays as written.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                // On bytes, not `&s[..]`: a slice through a multi-byte character would panic.
                let hex = |b: u8| (b as char).to_digit(16);
                if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod percent_tests {
    use super::percent_decode;

    #[test]
    fn escapes_decode_and_bad_ones_stay() {
        assert_eq!(percent_decode("2001%3Adb8%3A%3A1"), "2001:db8::1");
        assert_eq!(percent_decode("a+b%2"), "a b%2");
        assert_eq!(percent_decode("%é%zz"), "%é%zz");
    }
}
