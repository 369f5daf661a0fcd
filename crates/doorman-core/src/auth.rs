//! Authorization as the core sees it: what credential a request carried and what checking it
//! found ([`AuthFacts`], filled by the server, which owns the key store and the JWKS caches), and
//! what a route requires ([`RouteAuth`]). The phase itself is in the pipeline; this module holds
//! the vocabulary and the receipts, which answer per RFC 6750: `401` with
//! `WWW-Authenticate: Bearer realm="…"` (no `error=` when nothing was sent, `error="invalid_token"`
//! otherwise) and `403` `insufficient_scope` naming the scope.
//!
//! Checking a credential needs state (the key database, a JWKS fetched over the network), so it
//! happens before `decide`, for every request that carries one: the verified identity is also
//! what rate limits count per (API key before IP), and rate limiting runs before authorization.

use std::time::SystemTime;

use crate::code::Code;

/// How a credential proved who the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// An API key from the key store.
    ApiKey,
    /// A JWT from the named provider.
    Jwt {
        /// The `[[jwt_providers]]` name.
        provider: String,
    },
}

impl AuthMethod {
    /// `api_key` or `jwt:<provider>`, as routes name methods.
    pub fn spec(&self) -> String {
        match self {
            AuthMethod::ApiKey => "api_key".to_string(),
            AuthMethod::Jwt { provider } => format!("jwt:{provider}"),
        }
    }

    /// `api_key` or `jwt`, the value of `doorman.auth.method`.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthMethod::ApiKey => "api_key",
            AuthMethod::Jwt { .. } => "jwt",
        }
    }
}

/// A verified credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// How it was proven.
    pub method: AuthMethod,
    /// The API key's public id (`key_…`), for keys.
    pub key_id: Option<String>,
    /// The key's name, or the token's subject.
    pub name: String,
    /// The key's display form (`dmn_live_AbCd…wxyz`) or the token's subject: safe to show its
    /// owner, never enough to use.
    pub display: String,
    /// The key's owner or the token's `sub`.
    pub subject: Option<String>,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// When the credential stops working.
    pub expires_at: Option<SystemTime>,
    /// The key's own rate limit (`doorman keys create --rate-limit 100/1m`): requests per period.
    pub rate_limit: Option<(u32, std::time::Duration)>,
}

/// Why a presented credential was not accepted, already in words (the server maps the key
/// store's and the JWT verifier's reasons to these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// KEY_MALFORMED, TOKEN_EXPIRED, …
    pub code: Code,
    /// The `error_description` of `WWW-Authenticate`: one short line, ASCII.
    pub description: String,
    /// The receipt's reason: what is wrong, with the facts (when it expired, the server time).
    pub reason: String,
    /// What to do about it.
    pub remedy: String,
    /// Facts for the receipt (`key`, `expired at`, `server time`…).
    pub facts: Vec<(String, String)>,
}

/// No credential: for requests described without one (`doorman trace`, tests).
pub static NO_AUTH: AuthFacts = AuthFacts::None;

/// What the server found about the request's credential.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuthFacts {
    /// No credential in any place the gateway looks.
    #[default]
    None,
    /// A credential that checked out.
    Verified(Identity),
    /// A credential that did not.
    Rejected(AuthFailure),
}

impl AuthFacts {
    /// The identity, when verified.
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            AuthFacts::Verified(i) => Some(i),
            _ => None,
        }
    }
}

/// What a route requires of a request's credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAuth {
    /// Methods accepted (any of them).
    pub methods: Vec<AuthMethod>,
    /// Scopes required (all of them).
    pub scopes: Vec<String>,
    /// Pass the credential on to the upstream (by default it is stripped).
    pub keep_credentials: bool,
}

/// `WWW-Authenticate` for a 401/403 of `realm`: RFC 6750 §3.
pub fn www_authenticate(
    realm: &str,
    error: Option<&str>,
    description: Option<&str>,
    scope: Option<&str>,
) -> String {
    let mut v = format!("Bearer realm=\"{}\"", quote_safe(realm));
    if let Some(e) = error {
        v.push_str(&format!(", error=\"{e}\""));
    }
    if let Some(d) = description {
        v.push_str(&format!(", error_description=\"{}\"", quote_safe(d)));
    }
    if let Some(s) = scope {
        v.push_str(&format!(", scope=\"{}\"", quote_safe(s)));
    }
    v
}

/// RFC 6750 allows only %x20-21 / %x23-5B / %x5D-7E inside these quoted strings.
fn quote_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if (' '..='~').contains(&c) => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc_6750() {
        assert_eq!(
            www_authenticate("api", None, None, None),
            "Bearer realm=\"api\""
        );
        assert_eq!(
            www_authenticate(
                "api",
                Some("invalid_token"),
                Some("key \"x\" expired é"),
                None
            ),
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"key 'x' expired ?\""
        );
        assert_eq!(
            www_authenticate(
                "api",
                Some("insufficient_scope"),
                None,
                Some("plugins:weather")
            ),
            "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"plugins:weather\""
        );
    }
}
