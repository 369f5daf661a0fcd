//! What the server knows about one request, handed to the core. Borrowed from the server's request
//! so that building facts allocates nothing; derived facts (ASN, lists, …) come later from
//! read-only lookups.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::SystemTime;

use http::{HeaderMap, Method, Uri, Version};

use crate::ray::RayId;

/// How the client reached the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS terminated by Doorman.
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

/// Facts of the TLS handshake, when Doorman terminated TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFacts {
    /// Negotiated protocol version, e.g. `TLSv1.3`.
    pub version: String,
    /// Server name the client asked for, if any.
    pub sni: Option<String>,
    /// Negotiated ALPN protocol, e.g. `h2`.
    pub alpn: Option<String>,
    /// JA4 fingerprint of the ClientHello (`t13d1516h2_8daaf6152771_d8a2da3f94cd`); `None` when
    /// the hello could not be read before the handshake (the connection is served all the same).
    pub ja4: Option<String>,
    /// JA3 string of the ClientHello (`771,4865-…,0-23-…,29-23-24,0`), the input of `ja3_hash`.
    pub ja3: Option<String>,
    /// JA3 fingerprint: MD5 of `ja3`, 32 lowercase hex digits.
    pub ja3_hash: Option<String>,
}

/// The facts of one request. `now` is the time the request was received: the core never reads a
/// clock of its own.
#[derive(Debug)]
pub struct RequestFacts<'a> {
    /// This request's Ray ID.
    pub ray_id: &'a RayId,
    /// When the request was received.
    pub now: SystemTime,
    /// The client's IP after trusted-proxy resolution (see [`crate::client_ip`]).
    pub client_ip: IpAddr,
    /// The socket peer's IP (or the PROXY protocol source).
    pub peer_ip: IpAddr,
    /// Request method.
    pub method: &'a Method,
    /// Request target as received (the `raw.*` fields read it).
    pub uri: &'a Uri,
    /// Host the request is for, from [`crate::canonical::request_authority`]: lower-case,
    /// without port or trailing dot.
    pub host: Cow<'a, str>,
    /// The request path normalized by [`crate::canonical::normalize_path`]: what routing, rules
    /// and events see, and (by default) what the origin receives.
    pub path: Cow<'a, str>,
    /// Why the path could not be normalized safely, if it could not: the route decides whether
    /// that refuses the request (`PATH_AMBIGUOUS`) or passes it raw.
    pub path_problem: Option<crate::canonical::PathProblem>,
    /// Request headers as received (hop-by-hop headers included).
    pub headers: &'a HeaderMap,
    /// HTTP version.
    pub version: Version,
    /// How the client connected.
    pub scheme: Scheme,
    /// TLS facts, when TLS was terminated here.
    pub tls: Option<&'a TlsFacts>,
    /// The credential the request carried and what checking it found.
    pub auth: &'a crate::auth::AuthFacts,
    /// The challenge clearance cookie and what checking it found.
    pub clearance: &'a crate::clearance::ClearanceFacts,
    /// The bot assessment, when the policy's rules read it.
    pub bot: Option<&'a crate::bot::BotFacts>,
}

impl<'a> RequestFacts<'a> {
    /// The normalized request path (without query).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The normalized path with the query as received: `http.request.uri`.
    pub fn path_and_query(&self) -> Cow<'_, str> {
        let raw = self.uri.path_and_query().map_or("/", |pq| pq.as_str());
        match self.uri.query() {
            _ if self.path == self.uri.path() => Cow::Borrowed(raw),
            None => Cow::Borrowed(&self.path),
            Some(q) => Cow::Owned(format!("{}?{q}", self.path)),
        }
    }

    /// The first value of a header as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The User-Agent, or an empty string.
    pub fn user_agent(&self) -> &'a str {
        self.header("user-agent").unwrap_or("")
    }
}
