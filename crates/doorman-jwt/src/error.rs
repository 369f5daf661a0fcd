//! The two ways things go wrong: a provider that cannot be built ([`ConfigError`], at config
//! load, for the operator) and a token that is refused ([`TokenRejection`], per request, for the
//! client and the operator alike).
//!
//! A rejection carries the facts (times, names, key ids) rather than a finished sentence, so the
//! gateway can put them into a receipt's fields and the event log; `code()`, `reason()` and
//! `remedy()` turn them into the stable code and plain words. Values that come from the token
//! are clipped (see [`clip`]) so a hostile token cannot make an answer or a log line huge.

use std::path::PathBuf;
use std::time::Duration;

use doorman_common::when::{self, UnitNames};

use crate::config::Algorithm;

/// Why a provider (or a set of providers) could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The provider's name is empty.
    #[error("a JWT provider has an empty name; give it one (routes refer to it as `jwt:<name>`)")]
    EmptyName,
    /// The issuer is empty.
    #[error(
        "JWT provider `{provider}`: `issuer` is empty; set it to the exact `iss` value its tokens carry"
    )]
    EmptyIssuer {
        /// Provider name.
        provider: String,
    },
    /// The algorithm allowlist is empty.
    #[error("JWT provider `{provider}`: no algorithm is allowed; list at least one, e.g. RS256")]
    NoAlgorithms {
        /// Provider name.
        provider: String,
    },
    /// Shared-secret and public-key algorithms in one provider.
    #[error(
        "JWT provider `{provider}`: `algorithms` mixes shared-secret ({hmac}) and public-key ({public}) algorithms; \
         split them into two providers (one provider accepting both is what algorithm-confusion attacks exploit)"
    )]
    MixedAlgorithms {
        /// Provider name.
        provider: String,
        /// The HS* algorithms listed.
        hmac: String,
        /// The others.
        public: String,
    },
    /// The algorithms do not fit the key source.
    #[error("JWT provider `{provider}`: {why}")]
    KeySourceMismatch {
        /// Provider name.
        provider: String,
        /// What does not fit and what to do.
        why: String,
    },
    /// A setting has an impossible value.
    #[error("JWT provider `{provider}`: `{field}` {why}")]
    BadSetting {
        /// Provider name.
        provider: String,
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The JWKS file cannot be read or holds no usable key.
    #[error("JWT provider `{provider}`: JWKS file {}: {why}", .path.display())]
    JwksFile {
        /// Provider name.
        provider: String,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The HMAC secret file cannot be read or is too short. Never contains the secret.
    #[error("JWT provider `{provider}`: secret file {}: {why}", .path.display())]
    SecretFile {
        /// Provider name.
        provider: String,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The JWKS URL is unusable.
    #[error("JWT provider `{provider}`: JWKS URL `{url}`: {why}")]
    JwksUrl {
        /// Provider name.
        provider: String,
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The CA file for the JWKS URL cannot be used.
    #[error("JWT provider `{provider}`: CA file {}: {why}", .path.display())]
    CaFile {
        /// Provider name.
        provider: String,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Two providers share a name.
    #[error("two JWT providers are named `{name}`; names must be unique")]
    DuplicateProvider {
        /// The name.
        name: String,
    },
    /// A name that no provider has.
    #[error("no JWT provider is named `{name}`; configured: {known}")]
    UnknownProvider {
        /// The name asked for.
        name: String,
        /// The configured names, comma-separated.
        known: String,
    },
}

/// Why a token was refused. Each variant has a stable [`code`](Self::code), a plain-words
/// [`reason`](Self::reason) built from the facts it carries, and a [`remedy`](Self::remedy).
///
/// All times are Unix seconds; `leeway` is in seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", self.code(), self.reason())]
pub enum TokenRejection {
    /// Not a compact JWS: wrong number of parts, bad base64url, bad JSON, a claim of the wrong
    /// type. `why` names the part.
    Malformed {
        /// What is wrong, naming the part or claim.
        why: String,
    },
    /// `now >= exp + leeway`.
    Expired {
        /// The token's `exp`.
        exp: u64,
        /// Server time.
        now: u64,
        /// Leeway applied.
        leeway: u64,
    },
    /// `nbf > now + leeway`.
    NotYetValid {
        /// The token's `nbf`.
        nbf: u64,
        /// Server time.
        now: u64,
        /// Leeway applied.
        leeway: u64,
    },
    /// `iat > now + leeway`.
    IssuedInFuture {
        /// The token's `iat`.
        iat: u64,
        /// Server time.
        now: u64,
        /// Leeway applied.
        leeway: u64,
    },
    /// The signature does not verify with the key the token names (or with any fitting key when
    /// it names none), or the named key cannot check this algorithm.
    BadSignature {
        /// The token's algorithm.
        alg: Algorithm,
        /// The token's `kid`, if any.
        kid: Option<String>,
        /// Set when the key itself does not fit (e.g. an EC key named by an RS256 token).
        key_problem: Option<String>,
    },
    /// `iss` is not a configured issuer.
    UnknownIssuer {
        /// The token's `iss`.
        iss: String,
        /// The configured issuers.
        expected: Vec<String>,
    },
    /// No audience of the token is accepted (or it has none).
    WrongAudience {
        /// The token's audiences (empty: no `aud` claim).
        aud: Vec<String>,
        /// The accepted audiences.
        expected: Vec<String>,
    },
    /// The header's `alg` is not on the provider's allowlist (`none` never is).
    AlgorithmNotAllowed {
        /// The `alg` as the token gave it.
        alg: String,
        /// The allowlist.
        allowed: Vec<Algorithm>,
    },
    /// The token names a key the issuer does not publish, even after a re-fetch (or names none
    /// and no key fits its algorithm).
    UnknownKeyId {
        /// The token's `kid` (`None`: it has none).
        kid: Option<String>,
        /// The token's algorithm.
        alg: Algorithm,
    },
    /// A required claim is absent or `null`.
    MissingClaim {
        /// The claim's name.
        name: String,
    },
    /// The issuer's keys could not be loaded and none are cached: the gateway's problem.
    KeysUnavailable {
        /// Why the last fetch failed.
        why: String,
    },
}

impl TokenRejection {
    /// Every code [`code`](Self::code) can return (docs/jwt.md lists each).
    pub const CODES: [&'static str; 10] = [
        "TOKEN_MALFORMED",
        "TOKEN_EXPIRED",
        "TOKEN_NOT_YET_VALID",
        "TOKEN_BAD_SIGNATURE",
        "TOKEN_UNKNOWN_ISSUER",
        "TOKEN_WRONG_AUDIENCE",
        "TOKEN_ALGORITHM_NOT_ALLOWED",
        "TOKEN_UNKNOWN_KEY",
        "TOKEN_MISSING_CLAIM",
        "TOKEN_KEYS_UNAVAILABLE",
    ];

    /// The stable code. `IssuedInFuture` shares `TOKEN_NOT_YET_VALID` with `NotYetValid`: both
    /// mean "this token is from the future by our clock", and both have the same fix (clocks).
    /// `AlgorithmNotAllowed` has its own code rather than `TOKEN_BAD_SIGNATURE`: its fix is a
    /// configuration change (issuer or provider), not a new token.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "TOKEN_MALFORMED",
            Self::Expired { .. } => "TOKEN_EXPIRED",
            Self::NotYetValid { .. } | Self::IssuedInFuture { .. } => "TOKEN_NOT_YET_VALID",
            Self::BadSignature { .. } => "TOKEN_BAD_SIGNATURE",
            Self::UnknownIssuer { .. } => "TOKEN_UNKNOWN_ISSUER",
            Self::WrongAudience { .. } => "TOKEN_WRONG_AUDIENCE",
            Self::AlgorithmNotAllowed { .. } => "TOKEN_ALGORITHM_NOT_ALLOWED",
            Self::UnknownKeyId { .. } => "TOKEN_UNKNOWN_KEY",
            Self::MissingClaim { .. } => "TOKEN_MISSING_CLAIM",
            Self::KeysUnavailable { .. } => "TOKEN_KEYS_UNAVAILABLE",
        }
    }

    /// True when the fault is the gateway's (the keys could not be loaded), not the client's.
    pub fn is_gateway_fault(&self) -> bool {
        matches!(self, Self::KeysUnavailable { .. })
    }

    /// The HTTP status that fits: 401 (RFC 6750 `invalid_token`) for every fault of the token,
    /// 503 when the gateway could not load the keys.
    pub fn http_status(&self) -> u16 {
        if self.is_gateway_fault() { 503 } else { 401 }
    }

    /// What happened, in plain words, with the facts that matter.
    pub fn reason(&self) -> String {
        match self {
            Self::Malformed { why } => format!("the bearer token is not a well-formed JWT: {why}"),
            Self::Expired { exp, now, leeway } => format!(
                "the token expired {} ago, at {} (its `exp`); server time is {}; leeway {leeway} s",
                when::duration_words(
                    Duration::from_secs(now.saturating_sub(*exp)),
                    UnitNames::Short
                ),
                when::rfc3339_secs(*exp),
                when::rfc3339_secs(*now),
            ),
            Self::NotYetValid { nbf, now, leeway } => {
                let ahead = when::duration_words(
                    Duration::from_secs(nbf.saturating_sub(*now)),
                    UnitNames::Short,
                );
                format!(
                    "the token is not valid before {} (its `nbf`), {ahead} from now; server time is {}; \
                     leeway {leeway} s. The issuer's clock, or the client's, may be ahead of this server's by about {ahead}",
                    when::rfc3339_secs(*nbf),
                    when::rfc3339_secs(*now),
                )
            }
            Self::IssuedInFuture { iat, now, leeway } => {
                let ahead = when::duration_words(
                    Duration::from_secs(iat.saturating_sub(*now)),
                    UnitNames::Short,
                );
                format!(
                    "the token says it was issued at {} (its `iat`), {ahead} after this server's time {}; \
                     leeway {leeway} s. The issuer's clock, or the client's, may be ahead of this server's by about {ahead}",
                    when::rfc3339_secs(*iat),
                    when::rfc3339_secs(*now),
                )
            }
            Self::BadSignature {
                alg,
                kid,
                key_problem,
            } => match (key_problem, kid) {
                (Some(problem), _) => {
                    format!("the token's {alg} signature cannot be checked: {problem}")
                }
                (None, Some(kid)) => format!(
                    "the token's {alg} signature does not match the issuer's key `{kid}`: the token was altered, or signed by someone else"
                ),
                (None, None) => format!(
                    "the token's {alg} signature matches none of the issuer's keys: the token was altered, or signed by someone else"
                ),
            },
            Self::UnknownIssuer { iss, expected } => format!(
                "the token was issued by `{iss}`, which is not trusted here; trusted issuers: {}",
                list(expected)
            ),
            Self::WrongAudience { aud, expected } if aud.is_empty() => format!(
                "the token names no audience (no `aud` claim); this service accepts {}",
                list(expected)
            ),
            Self::WrongAudience { aud, expected } => format!(
                "the token is meant for {}, not for this service, which accepts {}",
                list(aud),
                list(expected)
            ),
            Self::AlgorithmNotAllowed { alg, .. } if alg.eq_ignore_ascii_case("none") => {
                "the token is unsigned (`alg: none`); unsigned tokens are never accepted"
                    .to_string()
            }
            Self::AlgorithmNotAllowed { alg, allowed } => format!(
                "the token is signed with `{alg}`, which this issuer's tokens may not use here; allowed: {}",
                algs(allowed)
            ),
            Self::UnknownKeyId { kid: Some(kid), .. } => format!(
                "the token names signing key `{kid}`, which the issuer does not publish (its key set was checked)"
            ),
            Self::UnknownKeyId { kid: None, alg } => format!(
                "the token names no signing key (no `kid`), and none of the issuer's keys can check {alg}"
            ),
            Self::MissingClaim { name } => {
                format!("the token has no `{name}` claim, which this service requires")
            }
            Self::KeysUnavailable { why } => format!(
                "the gateway could not load the issuer's signing keys ({why}); this is a problem on the gateway's side, not with the token"
            ),
        }
    }

    /// What to do about it.
    pub fn remedy(&self) -> String {
        match self {
            Self::Malformed { .. } => "send the token exactly as the issuer gave it, as `Authorization: Bearer <token>`; \
                 check that it was not cut short or wrapped in quotes or spaces"
                .to_string(),
            Self::Expired { .. } => {
                "get a new token from the issuer (use your refresh token, or sign in again)".to_string()
            }
            Self::NotYetValid { .. } | Self::IssuedInFuture { .. } => {
                "check the clocks: sync the issuer's and the client's clocks with NTP, or wait until the token becomes valid"
                    .to_string()
            }
            Self::BadSignature { .. } => "get a new token from the issuer; if this keeps happening, the token does not come from the \
                 issuer this service trusts, or it was changed on the way"
                .to_string(),
            Self::UnknownIssuer { expected, .. } => format!(
                "use a token from a trusted issuer ({}), or ask the operator to add this issuer as a JWT provider",
                list(expected)
            ),
            Self::WrongAudience { expected, .. } => format!(
                "request a token for audience {} (the `audience` or `resource` parameter of the token request)",
                list(expected)
            ),
            Self::AlgorithmNotAllowed { alg, .. } if alg.eq_ignore_ascii_case("none") => {
                "send a signed token from the issuer".to_string()
            }
            Self::AlgorithmNotAllowed { allowed, .. } => format!(
                "have the issuer sign with one of {}, or ask the operator to allow this algorithm for the provider",
                algs(allowed)
            ),
            Self::UnknownKeyId { .. } => "if the issuer rotated its keys just now, retry in a minute; otherwise the token was not signed \
                 by this issuer's published keys: get a new token from it"
                .to_string(),
            Self::MissingClaim { name } => format!(
                "get a token that carries `{name}` (ask the issuer's administrator to add it, e.g. with a claim mapper or scope)"
            ),
            Self::KeysUnavailable { .. } => "retry later; operators: check that the gateway can reach the provider's JWKS URL (see the \
                 gateway's log)"
                .to_string(),
        }
    }
}

/// `a`, `b`, `c` — values in backticks, or "none" for an empty list.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "none configured".to_string();
    }
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn algs(items: &[Algorithm]) -> String {
    items
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The longest token-supplied value echoed in a rejection.
const CLIP: usize = 128;

/// A token-supplied string cut to [`CLIP`] characters (on a char boundary), with `…` when cut,
/// so a hostile token cannot make an answer or a log line huge.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(CLIP) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_reason_reads_like_the_issue() {
        let r = TokenRejection::Expired {
            exp: 1_772_373_731,
            now: 1_772_373_911,
            leeway: 60,
        };
        assert_eq!(r.code(), "TOKEN_EXPIRED");
        assert_eq!(
            r.reason(),
            "the token expired 3 min ago, at 2026-03-01T14:02:11Z (its `exp`); server time is \
             2026-03-01T14:05:11Z; leeway 60 s"
        );
        assert!(r.to_string().starts_with("TOKEN_EXPIRED: "));
    }

    #[test]
    fn clip_cuts_on_char_boundaries() {
        let long = "é".repeat(300);
        let c = clip(&long);
        assert_eq!(c.chars().count(), CLIP + 1);
        assert_eq!(clip("short"), "short");
    }
}
