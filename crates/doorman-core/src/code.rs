//! The stable codes a denial carries. Numbers follow Cloudflare's 1xxx families so that people who
//! know them feel at home; Doorman's own causes have upper-case names. docs/errors.md lists them all
//! and must change with this file.

use std::fmt;

/// Why a request was not passed on. Stable: clients and runbooks match on [`Code::as_str`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// 1005: the client's network (ASN) is blocked.
    AsnBlocked,
    /// 1006: the client's IP is blocked by an access rule or a list.
    IpBlocked,
    /// 1009: the client's country or region is blocked.
    CountryBlocked,
    /// 1010: the browser's signature or header consistency check failed.
    BrowserSignature,
    /// 1012: a temporary ban for abusive behaviour.
    TemporaryBan,
    /// 1015: rate limited.
    RateLimited,
    /// 1020: a custom firewall rule blocked the request.
    FirewallRule,
    /// The shared rate limiter cannot be reached and the operator chose to fail closed (503).
    LimiterUnavailable,
    /// A challenge must be passed first.
    Challenge,
    /// KEY_MISSING: no credential was sent (401).
    KeyMissing,
    /// KEY_MALFORMED: the key is not in this site's format (401).
    KeyMalformed,
    /// KEY_UNKNOWN: the key is not known here (401).
    KeyUnknown,
    /// KEY_REVOKED: the key was revoked (401).
    KeyRevoked,
    /// KEY_EXPIRED: the key has expired (401).
    KeyExpired,
    /// TOKEN_MALFORMED: the token is not a well-formed JWT (401).
    TokenMalformed,
    /// TOKEN_EXPIRED: the token has expired (401).
    TokenExpired,
    /// TOKEN_NOT_YET_VALID: the token is not valid yet (401).
    TokenNotYetValid,
    /// TOKEN_BAD_SIGNATURE: the signature does not verify (401).
    TokenBadSignature,
    /// TOKEN_UNKNOWN_ISSUER: the issuer is not trusted (401).
    TokenUnknownIssuer,
    /// TOKEN_WRONG_AUDIENCE: the token is for another audience (401).
    TokenWrongAudience,
    /// TOKEN_ALGORITHM_NOT_ALLOWED: the token's `alg` is not on the provider's list (401).
    TokenAlgorithmNotAllowed,
    /// TOKEN_UNKNOWN_KEY: no key of the issuer has the token's `kid` (401).
    TokenUnknownKey,
    /// TOKEN_MISSING_CLAIM: a required claim is absent (401).
    TokenMissingClaim,
    /// CREDENTIAL_NOT_ACCEPTED: another kind of credential is needed (401).
    CredentialNotAccepted,
    /// INSUFFICIENT_SCOPE: a scope is missing (403).
    InsufficientScope,
    /// TOKEN_KEYS_UNAVAILABLE: the issuer's keys cannot be fetched and none are cached (503).
    TokenKeysUnavailable,
    /// The route is closed to everyone, with a reason the operator wrote.
    RouteClosed,
    /// The route only admits some networks and the client's is not one of them.
    NetworkNotAllowed,
    /// No route matches the request's host and path.
    NoRoute,
    /// The request's headers are larger or more numerous than allowed (431).
    HeadersTooLarge,
    /// The request's body is larger than allowed (413).
    BodyTooLarge,
    /// The client did not send its request headers in time (408).
    RequestTimeout,
    /// The request is malformed (400).
    BadRequest,
    /// The path cannot be normalized without guessing how the origin reads it (400).
    PathAmbiguous,
    /// The Host header is missing, duplicated or not a host name (400).
    BadHost,
    /// The method is not served through the gateway: CONNECT (405).
    MethodNotAllowed,
    /// A protocol switch (WebSocket) that the route does not allow (403).
    UpgradeNotAllowed,
    /// The request body stopped arriving for longer than the body-read timeout (408).
    BodyTimeout,
    /// A transfer coding other than `chunked` (501).
    UnsupportedTransferCoding,
    /// The origin refused the connection (502).
    UpstreamRefused,
    /// The origin reset or closed the connection mid-exchange (502).
    UpstreamReset,
    /// The origin did not answer within the configured timeout (504).
    UpstreamTimeout,
    /// The origin answered with something that is not valid HTTP, or another transport error (502).
    UpstreamError,
    /// Every target of the upstream failed its health checks (503).
    UpstreamDown,
}

impl Code {
    /// Every code, in the order docs/errors.md lists them.
    pub const ALL: &'static [Code] = &[
        Code::AsnBlocked,
        Code::IpBlocked,
        Code::CountryBlocked,
        Code::BrowserSignature,
        Code::TemporaryBan,
        Code::RateLimited,
        Code::FirewallRule,
        Code::LimiterUnavailable,
        Code::Challenge,
        Code::KeyMissing,
        Code::KeyMalformed,
        Code::KeyUnknown,
        Code::KeyRevoked,
        Code::KeyExpired,
        Code::TokenMalformed,
        Code::TokenExpired,
        Code::TokenNotYetValid,
        Code::TokenBadSignature,
        Code::TokenUnknownIssuer,
        Code::TokenWrongAudience,
        Code::TokenAlgorithmNotAllowed,
        Code::TokenUnknownKey,
        Code::TokenMissingClaim,
        Code::CredentialNotAccepted,
        Code::InsufficientScope,
        Code::TokenKeysUnavailable,
        Code::RouteClosed,
        Code::NetworkNotAllowed,
        Code::NoRoute,
        Code::HeadersTooLarge,
        Code::BodyTooLarge,
        Code::RequestTimeout,
        Code::BadRequest,
        Code::PathAmbiguous,
        Code::BadHost,
        Code::MethodNotAllowed,
        Code::UpgradeNotAllowed,
        Code::BodyTimeout,
        Code::UnsupportedTransferCoding,
        Code::UpstreamRefused,
        Code::UpstreamReset,
        Code::UpstreamTimeout,
        Code::UpstreamError,
        Code::UpstreamDown,
    ];

    /// The stable spelling: a number for Cloudflare-family codes, a name for Doorman's own.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::AsnBlocked => "1005",
            Code::IpBlocked => "1006",
            Code::CountryBlocked => "1009",
            Code::BrowserSignature => "1010",
            Code::TemporaryBan => "1012",
            Code::RateLimited => "1015",
            Code::FirewallRule => "1020",
            Code::LimiterUnavailable => "RATE_LIMITER_UNAVAILABLE",
            Code::Challenge => "CHALLENGE",
            Code::KeyMissing => "KEY_MISSING",
            Code::KeyMalformed => "KEY_MALFORMED",
            Code::KeyUnknown => "KEY_UNKNOWN",
            Code::KeyRevoked => "KEY_REVOKED",
            Code::KeyExpired => "KEY_EXPIRED",
            Code::TokenMalformed => "TOKEN_MALFORMED",
            Code::TokenExpired => "TOKEN_EXPIRED",
            Code::TokenNotYetValid => "TOKEN_NOT_YET_VALID",
            Code::TokenBadSignature => "TOKEN_BAD_SIGNATURE",
            Code::TokenUnknownIssuer => "TOKEN_UNKNOWN_ISSUER",
            Code::TokenWrongAudience => "TOKEN_WRONG_AUDIENCE",
            Code::TokenAlgorithmNotAllowed => "TOKEN_ALGORITHM_NOT_ALLOWED",
            Code::TokenUnknownKey => "TOKEN_UNKNOWN_KEY",
            Code::TokenMissingClaim => "TOKEN_MISSING_CLAIM",
            Code::CredentialNotAccepted => "CREDENTIAL_NOT_ACCEPTED",
            Code::InsufficientScope => "INSUFFICIENT_SCOPE",
            Code::TokenKeysUnavailable => "TOKEN_KEYS_UNAVAILABLE",
            Code::RouteClosed => "ROUTE_CLOSED",
            Code::NetworkNotAllowed => "NETWORK_NOT_ALLOWED",
            Code::NoRoute => "NO_ROUTE",
            Code::HeadersTooLarge => "HEADERS_TOO_LARGE",
            Code::BodyTooLarge => "BODY_TOO_LARGE",
            Code::RequestTimeout => "REQUEST_TIMEOUT",
            Code::BadRequest => "BAD_REQUEST",
            Code::PathAmbiguous => "PATH_AMBIGUOUS",
            Code::BadHost => "BAD_HOST",
            Code::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Code::UpgradeNotAllowed => "UPGRADE_NOT_ALLOWED",
            Code::BodyTimeout => "BODY_TIMEOUT",
            Code::UnsupportedTransferCoding => "UNSUPPORTED_TRANSFER_CODING",
            Code::UpstreamRefused => "UPSTREAM_REFUSED",
            Code::UpstreamReset => "UPSTREAM_RESET",
            Code::UpstreamTimeout => "UPSTREAM_TIMEOUT",
            Code::UpstreamError => "UPSTREAM_ERROR",
            Code::UpstreamDown => "UPSTREAM_DOWN",
        }
    }

    /// Parses [`Code::as_str`]'s spelling back (for `doorman events --code`).
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(text))
    }

    /// The HTTP status this code is answered with unless a rule overrides it.
    pub const fn default_status(self) -> u16 {
        match self {
            Code::RateLimited | Code::TemporaryBan => 429,
            Code::LimiterUnavailable => 503,
            Code::NoRoute => 404,
            Code::KeyMissing
            | Code::KeyMalformed
            | Code::KeyUnknown
            | Code::KeyRevoked
            | Code::KeyExpired
            | Code::TokenMalformed
            | Code::TokenExpired
            | Code::TokenNotYetValid
            | Code::TokenBadSignature
            | Code::TokenUnknownIssuer
            | Code::TokenWrongAudience
            | Code::TokenAlgorithmNotAllowed
            | Code::TokenUnknownKey
            | Code::TokenMissingClaim
            | Code::CredentialNotAccepted => 401,
            Code::TokenKeysUnavailable => 503,
            Code::HeadersTooLarge => 431,
            Code::BodyTooLarge => 413,
            Code::RequestTimeout => 408,
            Code::BadRequest | Code::PathAmbiguous | Code::BadHost => 400,
            Code::MethodNotAllowed => 405,
            Code::BodyTimeout => 408,
            Code::UnsupportedTransferCoding => 501,
            Code::UpstreamRefused | Code::UpstreamReset | Code::UpstreamError => 502,
            Code::UpstreamTimeout => 504,
            Code::UpstreamDown => 503,
            _ => 403,
        }
    }

    /// A short, public title for the code's family. Always safe to show, whatever the disclosure.
    pub const fn title(self) -> &'static str {
        match self {
            Code::AsnBlocked => "Your network is blocked",
            Code::IpBlocked => "Your IP address is blocked",
            Code::CountryBlocked => "Access from your country or region is blocked",
            Code::BrowserSignature => "Your browser's request looked inconsistent",
            Code::TemporaryBan => "You are temporarily banned",
            Code::RateLimited => "Too many requests",
            Code::FirewallRule => "Blocked by a firewall rule",
            Code::LimiterUnavailable => "The rate limiter is unavailable",
            Code::Challenge => "Please confirm you are a person",
            Code::KeyMissing => "Credentials required",
            Code::KeyMalformed => "The API key is malformed",
            Code::KeyUnknown => "The API key is not known",
            Code::KeyRevoked => "The API key was revoked",
            Code::KeyExpired => "The API key has expired",
            Code::TokenMalformed => "The token is malformed",
            Code::TokenExpired => "The token has expired",
            Code::TokenNotYetValid => "The token is not valid yet",
            Code::TokenBadSignature => "The token's signature does not verify",
            Code::TokenUnknownIssuer => "The token's issuer is not trusted here",
            Code::TokenWrongAudience => "The token is for another audience",
            Code::TokenAlgorithmNotAllowed => "The token's algorithm is not accepted",
            Code::TokenUnknownKey => "The token's signing key is not known",
            Code::TokenMissingClaim => "The token lacks a required claim",
            Code::CredentialNotAccepted => "This kind of credential is not accepted here",
            Code::InsufficientScope => "Missing permission",
            Code::TokenKeysUnavailable => "Tokens cannot be checked right now",
            Code::RouteClosed => "This part of the site is closed",
            Code::NetworkNotAllowed => "Your network may not use this part of the site",
            Code::NoRoute => "Nothing is served at this address",
            Code::HeadersTooLarge => "Request headers too large",
            Code::BodyTooLarge => "Request body too large",
            Code::RequestTimeout => "Request not received in time",
            Code::BadRequest => "Malformed request",
            Code::PathAmbiguous => "The address's path is ambiguous",
            Code::BadHost => "The request does not name one valid host",
            Code::MethodNotAllowed => "This method is not accepted",
            Code::UpgradeNotAllowed => "This connection cannot be upgraded here",
            Code::BodyTimeout => "The request body stopped arriving",
            Code::UnsupportedTransferCoding => "The request's transfer coding is not supported",
            Code::UpstreamRefused => "The service refused the connection",
            Code::UpstreamReset => "The service dropped the connection",
            Code::UpstreamTimeout => "The service did not answer in time",
            Code::UpstreamError => "The service sent an invalid answer",
            Code::UpstreamDown => "The service is down",
        }
    }

    /// Whether this is an authorization code (answered with `WWW-Authenticate`).
    pub const fn is_auth(self) -> bool {
        matches!(
            self,
            Code::KeyMissing
                | Code::KeyMalformed
                | Code::KeyUnknown
                | Code::KeyRevoked
                | Code::KeyExpired
                | Code::TokenMalformed
                | Code::TokenExpired
                | Code::TokenNotYetValid
                | Code::TokenBadSignature
                | Code::TokenUnknownIssuer
                | Code::TokenWrongAudience
                | Code::TokenAlgorithmNotAllowed
                | Code::TokenUnknownKey
                | Code::TokenMissingClaim
                | Code::CredentialNotAccepted
                | Code::InsufficientScope
                | Code::TokenKeysUnavailable
        )
    }

    /// Whether this code comes from a security decision (counts toward nothing the client did
    /// wrong at the protocol level) as opposed to a transport or protocol failure.
    pub const fn is_upstream(self) -> bool {
        matches!(
            self,
            Code::UpstreamRefused
                | Code::UpstreamReset
                | Code::UpstreamTimeout
                | Code::UpstreamError
                | Code::UpstreamDown
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_spelling() {
        for &code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
        assert_eq!(Code::parse("route_closed"), Some(Code::RouteClosed));
        assert_eq!(Code::parse("9999"), None);
    }

    #[test]
    fn spellings_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {code}");
        }
    }

    #[test]
    fn statuses_follow_the_families() {
        assert_eq!(Code::RateLimited.default_status(), 429);
        assert_eq!(Code::FirewallRule.default_status(), 403);
        assert_eq!(Code::UpstreamTimeout.default_status(), 504);
        assert_eq!(Code::UpstreamRefused.default_status(), 502);
        assert_eq!(Code::HeadersTooLarge.default_status(), 431);
    }
}
