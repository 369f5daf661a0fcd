//! What an operator configures for one JWT provider: plain structs the config crate fills.
//!
//! Nothing here reads a file or checks anything; [`crate::Provider::new`] does both, so every
//! problem surfaces at config load, with the file or URL named.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Default for [`ProviderConfig::leeway`]: 60 s, as Envoy's `clock_skew_seconds`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// Default for [`JwksUrl::cache_ttl`]: 10 minutes, as Envoy's `remote_jwks.cache_duration`.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(600);
/// Default for [`JwksUrl::min_refetch_interval`]: at most one JWKS fetch per minute per provider.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Default for [`JwksUrl::fetch_timeout`].
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`JwksUrl::max_response_bytes`]: 1 MiB, far above any real key set.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;

/// One JWT provider (an issuer and where its keys come from).
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The name routes refer to (`jwt:<name>`); also shown in logs.
    pub name: String,
    /// The exact `iss` value tokens must carry.
    pub issuer: String,
    /// Accepted `aud` values: a token passes if any of its audiences is listed. Empty means the
    /// audience is not checked (RFC 8725 advises checking it; `Provider::new` logs a warning).
    pub audiences: Vec<String>,
    /// Where the verification keys come from.
    pub keys: KeySource,
    /// The `alg` values accepted. `none` can never be listed. Symmetric (HS*) and asymmetric
    /// algorithms cannot be mixed in one provider: that mix is what algorithm-confusion attacks
    /// exploit.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (whole seconds are used).
    pub leeway: Duration,
    /// Claims that must be present (and not `null`) in every token. `exp` is always required.
    pub required_claims: Vec<String>,
}

impl ProviderConfig {
    /// A provider with the defaults: no audience check, leeway 60 s, no extra required claims,
    /// and the algorithms that fit the key source (every asymmetric one for a JWKS, HS256 for a
    /// shared secret).
    pub fn new(name: impl Into<String>, issuer: impl Into<String>, keys: KeySource) -> Self {
        let algorithms = match keys {
            KeySource::HmacSecretFile(_) => vec![Algorithm::Hs256],
            KeySource::JwksFile(_) | KeySource::JwksUrl(_) => Algorithm::ASYMMETRIC.to_vec(),
        };
        Self {
            name: name.into(),
            issuer: issuer.into(),
            audiences: Vec::new(),
            keys,
            algorithms,
            leeway: DEFAULT_LEEWAY,
            required_claims: Vec::new(),
        }
    }
}

/// Where a provider's verification keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS document on disk, read once when the provider is built (a config reload reads it
    /// again).
    JwksFile(PathBuf),
    /// A JWKS document fetched over HTTPS (plain HTTP only for loopback addresses), cached.
    JwksUrl(JwksUrl),
    /// A shared secret for HS256/384/512, the raw bytes of a file (one trailing newline is
    /// dropped). The secret is never logged and never Debug-printed; only the path is kept here.
    HmacSecretFile(PathBuf),
}

/// A JWKS URL and how it is cached and fetched.
#[derive(Debug, Clone)]
pub struct JwksUrl {
    /// `https://…`, or `http://…` for a loopback host (127.0.0.0/8, ::1, localhost).
    pub url: String,
    /// How long fetched keys are used before the next request fetches them again.
    pub cache_ttl: Duration,
    /// The least time between two fetches, whatever triggers them (expiry, an unknown `kid`, a
    /// failed fetch). This is what keeps a flood of tokens with random `kid`s from turning into a
    /// flood of requests to the identity provider. At least 1 s.
    pub min_refetch_interval: Duration,
    /// Time allowed for one fetch: connect, TLS, request and the whole body.
    pub fetch_timeout: Duration,
    /// A response body larger than this is refused.
    pub max_response_bytes: usize,
    /// PEM file of CA certificates to trust for this URL *instead of* the built-in Mozilla roots
    /// (for an identity provider behind an internal CA).
    pub ca_file: Option<PathBuf>,
}

impl JwksUrl {
    /// A URL with the default cache and fetch settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            cache_ttl: DEFAULT_CACHE_TTL,
            min_refetch_interval: DEFAULT_MIN_REFETCH_INTERVAL,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            ca_file: None,
        }
    }
}

/// A JWS signature algorithm Doorman can verify (RFC 7518 names; EdDSA means Ed25519).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
    /// HMAC with SHA-256 (shared secret).
    Hs256,
    /// HMAC with SHA-384 (shared secret).
    Hs384,
    /// HMAC with SHA-512 (shared secret).
    Hs512,
}

/// The key family an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// RS* and PS*.
    Rsa,
    /// ES256 (P-256) and ES384 (P-384).
    Ec,
    /// EdDSA (Ed25519).
    Ed,
    /// HS* (shared secret).
    Hmac,
}

impl Algorithm {
    /// Every algorithm, in the order docs list them.
    pub const ALL: [Algorithm; 12] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
        Self::EdDsa,
        Self::Hs256,
        Self::Hs384,
        Self::Hs512,
    ];
    /// The public-key algorithms: the default allowlist for a JWKS provider.
    pub const ASYMMETRIC: [Algorithm; 9] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
        Self::EdDsa,
    ];

    /// The name as it appears in a token header (`RS256`, `EdDSA`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }

    /// The key family this algorithm needs.
    pub fn family(self) -> Family {
        match self {
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                Family::Rsa
            }
            Self::Es256 | Self::Es384 => Family::Ec,
            Self::EdDsa => Family::Ed,
            Self::Hs256 | Self::Hs384 | Self::Hs512 => Family::Hmac,
        }
    }

    /// For HS*, the shortest key RFC 7518 §3.2 allows: as long as the hash output.
    pub(crate) fn min_hmac_key_len(self) -> usize {
        match self {
            Self::Hs384 => 48,
            Self::Hs512 => 64,
            _ => 32,
        }
    }

    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as J;
        match self {
            Self::Rs256 => J::RS256,
            Self::Rs384 => J::RS384,
            Self::Rs512 => J::RS512,
            Self::Ps256 => J::PS256,
            Self::Ps384 => J::PS384,
            Self::Ps512 => J::PS512,
            Self::Es256 => J::ES256,
            Self::Es384 => J::ES384,
            Self::EdDsa => J::EdDSA,
            Self::Hs256 => J::HS256,
            Self::Hs384 => J::HS384,
            Self::Hs512 => J::HS512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An algorithm name Doorman does not verify (or `none`, which it never accepts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_unknown_alg(.0))]
pub struct UnknownAlgorithm(pub String);

fn describe_unknown_alg(name: &str) -> String {
    if name.eq_ignore_ascii_case("none") {
        "`none` (unsigned tokens) can never be allowed".to_string()
    } else {
        let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        format!(
            "unknown algorithm `{name}`; known: {} (names are case-sensitive)",
            known.join(", ")
        )
    }
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Exact, case-sensitive names, as RFC 7518 spells them and as they appear in headers.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAlgorithm(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_refused() {
        for a in Algorithm::ALL {
            assert_eq!(a.as_str().parse::<Algorithm>(), Ok(a));
        }
        let none = "none".parse::<Algorithm>().unwrap_err();
        assert!(none.to_string().contains("never"), "{none}");
        let lower = "rs256".parse::<Algorithm>().unwrap_err();
        assert!(lower.to_string().contains("case-sensitive"), "{lower}");
    }

    #[test]
    fn defaults_fit_the_key_source() {
        let p = ProviderConfig::new("a", "https://i", KeySource::HmacSecretFile("s".into()));
        assert_eq!(p.algorithms, vec![Algorithm::Hs256]);
        let p = ProviderConfig::new(
            "a",
            "https://i",
            KeySource::JwksUrl(JwksUrl::new("https://x")),
        );
        assert!(p.algorithms.iter().all(|a| a.family() != Family::Hmac));
        assert_eq!(p.leeway, Duration::from_secs(60));
    }
}
