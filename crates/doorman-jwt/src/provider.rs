//! A provider (one issuer, its keys and rules) verifying tokens, and a set of providers chosen
//! by a token's `iss`.
//!
//! Order of checks in [`Provider::verify`], and why:
//! 1. structure and `alg` (cheap, and `alg: none` must never reach key lookup);
//! 2. `iss` (unverified yet, but a token for another issuer must not make us fetch keys);
//! 3. key lookup and signature (nothing the token says is trusted before this);
//! 4. `exp`, `nbf`, `iat` with leeway, then `aud`, then required claims.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::cache::RemoteKeys;
use crate::config::{Algorithm, Family, KeySource, ProviderConfig};
use crate::error::{ConfigError, TokenRejection, clip};
use crate::fetch::{BuildError, Fetcher};
use crate::jwks::{Choice, KeySet, parse_jwks};
use crate::ring_provider;
use crate::token::{self, Parsed};

/// What a verified token says, for the gateway's identity headers, scope checks and `whoami`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerifiedToken {
    /// The name of the provider that verified it.
    pub provider: String,
    /// `sub`, if present.
    pub subject: Option<String>,
    /// `iss` (equal to the provider's issuer).
    pub issuer: String,
    /// `aud`, as a list (empty when absent).
    pub audience: Vec<String>,
    /// Scopes from `scope` (space-separated) and `scp` (string or array), merged in that order,
    /// duplicates dropped.
    pub scopes: Vec<String>,
    /// `exp`, Unix seconds (always present: tokens without `exp` are refused).
    pub expires_at: u64,
    /// `iat`, Unix seconds, if present.
    pub issued_at: Option<u64>,
    /// The header's `kid`, if present.
    pub key_id: Option<String>,
    /// The algorithm that verified it.
    pub algorithm: Algorithm,
    /// Every claim of the payload, as sent.
    pub claims: Value,
}

impl VerifiedToken {
    /// Whether the token grants `scope` (exact, case-sensitive match).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Where a provider's keys stand, for status pages and the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    /// `JWKS file <path>`, `JWKS URL <url>` or `HMAC secret file <path>`.
    pub source: String,
    /// Usable keys now held (0 before the first fetch of a URL).
    pub keys: usize,
    /// Their `kid`s (unnamed keys are left out).
    pub key_ids: Vec<String>,
    /// For a URL: when the keys in use were fetched (Unix seconds).
    pub fetched_at: Option<u64>,
    /// For a URL: fetches attempted so far.
    pub fetch_attempts: u64,
    /// For a URL: fetches that failed.
    pub fetch_failures: u64,
    /// For a URL: why the last fetch failed, when it did.
    pub last_error: Option<String>,
}

enum Keys {
    /// A JWKS file or a shared secret, loaded when the provider was built.
    Static {
        source: String,
        set: Arc<KeySet>,
    },
    Remote(Arc<RemoteKeys>),
}

struct Inner {
    name: String,
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway_s: u64,
    required_claims: Vec<String>,
    keys: Keys,
}

/// A built provider. Cheap to clone; clones share the JWKS cache.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

impl fmt::Debug for Provider {
    // Written by hand so that no key material, above all an HMAC secret, can be printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let source = match &i.keys {
            Keys::Static { source, .. } => source.clone(),
            Keys::Remote(r) => format!("JWKS URL {}", r.url()),
        };
        f.debug_struct("Provider")
            .field("name", &i.name)
            .field("issuer", &i.issuer)
            .field("audiences", &i.audiences)
            .field("algorithms", &i.algorithms)
            .field("leeway_s", &i.leeway_s)
            .field("required_claims", &i.required_claims)
            .field("keys", &source)
            .finish()
    }
}

impl Provider {
    /// Checks the configuration and loads what can be loaded now: a JWKS file or a secret file
    /// is read here (errors name the file and what is wrong with it); a JWKS URL is only checked
    /// (scheme, host, CA file) and fetched on first use, or by [`prefetch`](Self::prefetch).
    pub fn new(config: ProviderConfig) -> Result<Self, ConfigError> {
        let ProviderConfig {
            name,
            issuer,
            audiences,
            keys,
            algorithms,
            leeway,
            required_claims,
        } = config;
        if name.trim().is_empty() {
            return Err(ConfigError::EmptyName);
        }
        let provider = name.clone();
        if issuer.is_empty() {
            return Err(ConfigError::EmptyIssuer { provider });
        }
        let mut algs: Vec<Algorithm> = Vec::new();
        for a in algorithms {
            if !algs.contains(&a) {
                algs.push(a);
            }
        }
        if algs.is_empty() {
            return Err(ConfigError::NoAlgorithms { provider });
        }
        let (hmac, public): (Vec<Algorithm>, Vec<Algorithm>) =
            algs.iter().partition(|a| a.family() == Family::Hmac);
        if !hmac.is_empty() && !public.is_empty() {
            return Err(ConfigError::MixedAlgorithms {
                provider,
                hmac: names(&hmac),
                public: names(&public),
            });
        }
        if let Some(empty) = required_claims.iter().find(|c| c.is_empty()) {
            return Err(ConfigError::BadSetting {
                provider,
                field: "required_claims",
                why: format!("holds an empty name ({empty:?})"),
            });
        }
        if audiences.is_empty() {
            tracing::warn!(
                provider = %name,
                "JWT provider has no audiences: tokens are accepted whatever their `aud` (RFC 8725 advises checking it)"
            );
        }

        let keys = match keys {
            KeySource::JwksFile(path) => {
                let bytes = std::fs::read(&path).map_err(|e| ConfigError::JwksFile {
                    provider: provider.clone(),
                    path: path.clone(),
                    why: format!("cannot be read: {e}"),
                })?;
                let set = parse_jwks(&bytes, &algs).map_err(|why| ConfigError::JwksFile {
                    provider: provider.clone(),
                    path: path.clone(),
                    why,
                })?;
                for s in &set.skipped {
                    tracing::debug!(provider = %name, file = %path.display(), "JWKS {s}; skipped");
                }
                Keys::Static {
                    source: format!("JWKS file {}", path.display()),
                    set: Arc::new(set),
                }
            }
            KeySource::HmacSecretFile(path) => {
                if !public.is_empty() {
                    return Err(ConfigError::KeySourceMismatch {
                        provider,
                        why: format!(
                            "a shared secret can only check HS256/HS384/HS512, but `algorithms` lists {}; \
                             use a JWKS for public-key algorithms",
                            names(&public)
                        ),
                    });
                }
                let set = read_secret(&path, &hmac)
                    .and_then(|secret| KeySet::from_secret(&secret))
                    .map_err(|why| ConfigError::SecretFile {
                        provider: provider.clone(),
                        path: path.clone(),
                        why,
                    })?;
                Keys::Static {
                    source: format!("HMAC secret file {}", path.display()),
                    set: Arc::new(set),
                }
            }
            KeySource::JwksUrl(url) => {
                if !hmac.is_empty() {
                    return Err(ConfigError::KeySourceMismatch {
                        provider,
                        why: format!(
                            "`algorithms` lists {}, but shared secrets must not be fetched from a URL; \
                             use an HMAC secret file (or a JWKS file) in a separate provider",
                            names(&hmac)
                        ),
                    });
                }
                let bad = |field: &'static str, why: &str| ConfigError::BadSetting {
                    provider: provider.clone(),
                    field,
                    why: why.to_string(),
                };
                if url.min_refetch_interval.as_secs() < 1 {
                    return Err(bad(
                        "min_refetch_interval",
                        "must be at least 1 s: it is what keeps a flood of unknown key ids from flooding the identity provider",
                    ));
                }
                if url.fetch_timeout.is_zero() {
                    return Err(bad("fetch_timeout", "must be more than 0"));
                }
                if url.max_response_bytes == 0 {
                    return Err(bad("max_response_bytes", "must be more than 0"));
                }
                let fetcher = Fetcher::new(&url).map_err(|e| match e {
                    BuildError::Url(why) => ConfigError::JwksUrl {
                        provider: provider.clone(),
                        url: url.url.clone(),
                        why,
                    },
                    BuildError::CaFile(why) => ConfigError::CaFile {
                        provider: provider.clone(),
                        path: url.ca_file.clone().unwrap_or_default(),
                        why,
                    },
                })?;
                Keys::Remote(Arc::new(RemoteKeys::new(
                    name.clone(),
                    fetcher,
                    algs.clone(),
                    url.cache_ttl.as_secs(),
                    url.min_refetch_interval.as_secs(),
                )))
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                issuer,
                audiences,
                algorithms: algs,
                leeway_s: leeway.as_secs(),
                required_claims,
                keys,
            }),
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The issuer its tokens must name.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The accepted audiences (empty: not checked).
    pub fn audiences(&self) -> &[String] {
        &self.inner.audiences
    }

    /// The algorithm allowlist.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.algorithms
    }

    /// For a JWKS URL, fetch the keys now instead of on the first token (e.g. at startup, so
    /// the first request does not wait, and a wrong URL shows in the log at once). Same rules
    /// as any fetch: it counts against `min_refetch_interval`. A no-op for files and secrets.
    pub async fn prefetch(&self, now_unix_s: u64) -> Result<(), TokenRejection> {
        match &self.inner.keys {
            Keys::Static { .. } => Ok(()),
            Keys::Remote(remote) => remote.current(now_unix_s).await.map(|_| ()),
        }
    }

    /// Where this provider's keys stand.
    pub fn key_status(&self) -> KeyStatus {
        let describe = |set: Option<&KeySet>| {
            set.map_or((0, Vec::new()), |s| {
                (
                    s.keys.len(),
                    s.keys.iter().filter_map(|k| k.kid.clone()).collect(),
                )
            })
        };
        match &self.inner.keys {
            Keys::Static { source, set } => {
                let (keys, key_ids) = describe(Some(set));
                KeyStatus {
                    source: source.clone(),
                    keys,
                    key_ids,
                    fetched_at: None,
                    fetch_attempts: 0,
                    fetch_failures: 0,
                    last_error: None,
                }
            }
            Keys::Remote(remote) => {
                let (set, st) = remote.status();
                let (keys, key_ids) = describe(set.as_deref());
                KeyStatus {
                    source: format!("JWKS URL {}", remote.url()),
                    keys,
                    key_ids,
                    fetched_at: st.fetched_at,
                    fetch_attempts: st.attempts,
                    fetch_failures: st.failures,
                    last_error: st.last_error,
                }
            }
        }
    }

    /// Verifies a compact JWS (the token alone, without `Bearer `) at time `now_unix_s`.
    ///
    /// Time is an input: `exp`, `nbf` and `iat` are checked against it (never the system clock),
    /// and so are the JWKS cache's TTL and re-fetch interval.
    pub async fn verify(
        &self,
        token: &str,
        now_unix_s: u64,
    ) -> Result<VerifiedToken, TokenRejection> {
        let parsed = token::parse(token)?;
        self.verify_parsed(&parsed, now_unix_s).await
    }

    async fn verify_parsed(
        &self,
        p: &Parsed<'_>,
        now: u64,
    ) -> Result<VerifiedToken, TokenRejection> {
        let i = &self.inner;
        let alg = match p.alg.parse::<Algorithm>() {
            Ok(a) if i.algorithms.contains(&a) => a,
            _ => {
                return Err(TokenRejection::AlgorithmNotAllowed {
                    alg: clip(&p.alg),
                    allowed: i.algorithms.clone(),
                });
            }
        };
        let iss = token::string_claim(&p.claims, "iss")?.ok_or_else(|| missing("iss"))?;
        if iss != i.issuer {
            return Err(TokenRejection::UnknownIssuer {
                iss: clip(&iss),
                expected: vec![i.issuer.clone()],
            });
        }

        self.check_signature(p, alg, now).await?;

        let leeway = i.leeway_s;
        let exp = token::numeric_date(&p.claims, "exp")?.ok_or_else(|| missing("exp"))?;
        // RFC 7519 §4.1.4: not accepted "on or after" exp; the leeway moves that instant.
        if now >= exp.saturating_add(leeway) {
            return Err(TokenRejection::Expired { exp, now, leeway });
        }
        // §4.1.5: not accepted before nbf; the leeway moves that instant earlier.
        if let Some(nbf) = token::numeric_date(&p.claims, "nbf")?
            && nbf > now.saturating_add(leeway)
        {
            return Err(TokenRejection::NotYetValid { nbf, now, leeway });
        }
        let iat = token::numeric_date(&p.claims, "iat")?;
        if let Some(iat) = iat
            && iat > now.saturating_add(leeway)
        {
            return Err(TokenRejection::IssuedInFuture { iat, now, leeway });
        }
        let audience = token::string_or_array(&p.claims, "aud", false)?;
        if !i.audiences.is_empty() && !audience.iter().any(|a| i.audiences.contains(a)) {
            return Err(TokenRejection::WrongAudience {
                aud: audience.iter().take(10).map(|a| clip(a)).collect(),
                expected: i.audiences.clone(),
            });
        }
        if let Some(name) = i
            .required_claims
            .iter()
            .find(|c| matches!(p.claims.get(c.as_str()), None | Some(Value::Null)))
        {
            return Err(missing(name));
        }
        Ok(VerifiedToken {
            provider: i.name.clone(),
            subject: token::string_claim(&p.claims, "sub")?,
            issuer: iss,
            audience,
            scopes: token::scopes(&p.claims)?,
            expires_at: exp,
            issued_at: iat,
            key_id: p.kid.clone(),
            algorithm: alg,
            claims: Value::Object(p.claims.clone()),
        })
    }

    async fn check_signature(
        &self,
        p: &Parsed<'_>,
        alg: Algorithm,
        now: u64,
    ) -> Result<(), TokenRejection> {
        match &self.inner.keys {
            Keys::Static { set, .. } => verify_in(set, p, alg),
            Keys::Remote(remote) => {
                let snapshot = remote.current(now).await?;
                let first = match verify_in(&snapshot.keys, p, alg) {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                };
                // The issuer may have rotated: a new key we do not know yet, or a `kid` reused
                // for a new key. One re-fetch, if the interval allows, then the verdict.
                match remote.refetch_after_miss(now, &snapshot).await {
                    Some(newer) => verify_in(&newer.keys, p, alg),
                    None => Err(first),
                }
            }
        }
    }
}

/// Tries the keys a token may be signed with.
fn verify_in(set: &KeySet, p: &Parsed<'_>, alg: Algorithm) -> Result<(), TokenRejection> {
    let kid = p.kid.as_deref().map(clip);
    match set.choose(p.kid.as_deref(), alg) {
        Choice::Unknown => Err(TokenRejection::UnknownKeyId { kid, alg }),
        Choice::Mismatch(problem) => Err(TokenRejection::BadSignature {
            alg,
            kid,
            key_problem: Some(problem),
        }),
        Choice::Try(keys) => {
            let message = p.signing_input.as_bytes();
            // An Err from `verify` means this key cannot check this signature (e.g. a signature
            // of the wrong length): for the token, that is a mismatch like any other.
            if keys.iter().any(|k| {
                ring_provider::verify(p.signature, message, &k.key, alg.to_jwt()).unwrap_or(false)
            }) {
                Ok(())
            } else {
                Err(TokenRejection::BadSignature {
                    alg,
                    kid,
                    key_problem: None,
                })
            }
        }
    }
}

fn missing(name: &str) -> TokenRejection {
    TokenRejection::MissingClaim {
        name: name.to_string(),
    }
}

fn names(algs: &[Algorithm]) -> String {
    algs.iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The secret's bytes: the whole file but one trailing newline (`echo secret > file` adds one).
/// Messages say lengths, never content.
fn read_secret(path: &std::path::Path, hmac: &[Algorithm]) -> Result<Vec<u8>, String> {
    let mut bytes = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.ends_with(b"\r\n") {
        bytes.truncate(bytes.len() - 2);
    } else if bytes.ends_with(b"\n") {
        bytes.truncate(bytes.len() - 1);
    }
    if bytes.is_empty() {
        return Err("is empty".to_string());
    }
    if let Some(strictest) = hmac.iter().max_by_key(|a| a.min_hmac_key_len())
        && bytes.len() < strictest.min_hmac_key_len()
    {
        return Err(format!(
            "the secret is {} bytes; {strictest} needs at least {} (RFC 7518 §3.2); generate one with \
             `head -c 64 /dev/urandom | base64 > FILE`",
            bytes.len(),
            strictest.min_hmac_key_len()
        ));
    }
    Ok(bytes)
}

/// Several providers, by name; tokens are routed to a provider by their `iss`.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    list: Vec<Provider>,
}

impl Providers {
    /// A set of built providers; names must be unique. Several providers may share an issuer
    /// (e.g. different audiences for different routes): see [`verify_any`](Self::verify_any).
    pub fn new(list: Vec<Provider>) -> Result<Self, ConfigError> {
        for (n, p) in list.iter().enumerate() {
            if list[..n].iter().any(|q| q.name() == p.name()) {
                return Err(ConfigError::DuplicateProvider {
                    name: p.name().to_string(),
                });
            }
        }
        Ok(Self { list })
    }

    /// Builds every provider, stopping at the first error.
    pub fn from_configs(configs: Vec<ProviderConfig>) -> Result<Self, ConfigError> {
        let list = configs
            .into_iter()
            .map(Provider::new)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(list)
    }

    /// The provider with this name.
    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.list.iter().find(|p| p.name() == name)
    }

    /// The named providers only (sharing their caches), e.g. for a route that accepts
    /// `jwt:a` and `jwt:b`. An unknown name is a configuration error.
    pub fn subset(&self, names: &[&str]) -> Result<Providers, ConfigError> {
        let mut list = Vec::new();
        for name in names {
            let p = self.get(name).ok_or_else(|| ConfigError::UnknownProvider {
                name: (*name).to_string(),
                known: self
                    .list
                    .iter()
                    .map(|p| format!("`{}`", p.name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            list.push(p.clone());
        }
        Self::new(list)
    }

    /// The providers, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Provider> {
        self.list.iter()
    }

    /// How many providers there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The distinct configured issuers, in configuration order.
    pub fn issuers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.list {
            if !out.iter().any(|i| i == p.issuer()) {
                out.push(p.issuer().to_string());
            }
        }
        out
    }

    /// Verifies with the provider whose issuer is the token's `iss` (read before verification
    /// only to choose). An unknown `iss` is `UnknownIssuer` listing the configured issuers. When
    /// several providers share the issuer, they are tried in order: the first success wins,
    /// else the first provider's rejection is returned.
    pub async fn verify_any(
        &self,
        token: &str,
        now_unix_s: u64,
    ) -> Result<VerifiedToken, TokenRejection> {
        let parsed = token::parse(token)?;
        let iss = token::string_claim(&parsed.claims, "iss")?.ok_or_else(|| missing("iss"))?;
        let mut first_rejection = None;
        for p in self.list.iter().filter(|p| p.issuer() == iss) {
            match p.verify_parsed(&parsed, now_unix_s).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    first_rejection.get_or_insert(e);
                }
            }
        }
        Err(
            first_rejection.unwrap_or_else(|| TokenRejection::UnknownIssuer {
                iss: clip(&iss),
                expected: self.issuers(),
            }),
        )
    }
}
