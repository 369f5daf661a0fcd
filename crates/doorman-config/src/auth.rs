//! Stage two for `[auth]`, `[[jwt_providers]]` and the routes' `auth = {…}`: where credentials
//! come from, which issuers are trusted, and what each route requires.
//!
//! JWT providers are built once here with [`doorman_jwt::Provider::new`], which reads a JWKS
//! or secret file and checks the algorithm allowlist, so a bad key file is a located error at
//! load time rather than a 401 for everyone at the first request. The server builds its own
//! providers from the same [`ProviderConfig`]s (keeping the JWKS cache of unchanged ones across
//! reloads).

use std::collections::HashMap;
use std::time::Duration;

use doorman_core::auth::{AuthMethod, RouteAuth};
use doorman_core::policy::AuthSettings;
use doorman_jwt::{Algorithm, JwksUrl, KeySource, ProviderConfig};
use http::HeaderName;

use crate::compile::Compiler;
use crate::raw::{RawAuth, RawJwtProvider, RawRouteAuth};
use crate::settings::AuthServer;
use crate::suggest;
use crate::values::Invalid;

impl Compiler<'_, '_> {
    /// `[auth]`: the core's words and the server's places to look for credentials.
    pub(crate) fn auth(&mut self, raw: &RawAuth) -> (AuthSettings, AuthServer) {
        let key_header = raw.key_header.as_ref().and_then(|h| {
            let lower = h.trim().to_ascii_lowercase();
            match HeaderName::from_bytes(lower.as_bytes()) {
                Ok(name) if name != http::header::AUTHORIZATION && name != http::header::COOKIE => Some(name),
                Ok(_) => {
                    self.invalid("auth.key_header", Invalid {
                        detail: format!("`{h}` is already read (Authorization) or never holds a key (Cookie)"),
                        hint: Some("name a header of its own, e.g. key_header = \"x-api-key\"".into()),
                    });
                    None
                }
                Err(_) => {
                    self.invalid("auth.key_header", Invalid {
                        detail: format!("`{h}` is not a header name"),
                        hint: Some("letters, digits and `-`, e.g. \"x-api-key\"".into()),
                    });
                    None
                }
            }
        });
        if let Some(param) = &raw.key_query_param {
            self.warn(
                self.index.value("auth.key_query_param"),
                format!("API keys in the query string (`?{param}=…`) end up in access logs, browser history and Referer headers"),
                Some("prefer Authorization: Bearer or key_header; keep this only for clients that cannot send headers".into()),
            );
        }
        let mut prefixes = Vec::new();
        for (i, p) in raw.key_prefixes.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                self.invalid(
                    &format!("auth.key_prefixes.{i}"),
                    Invalid {
                        detail: format!("`{p}` is not a key prefix"),
                        hint: Some("letters, digits and `_`, e.g. \"dmn_live\"".into()),
                    },
                );
            } else {
                prefixes.push(p.clone());
            }
        }
        if raw.key_prefixes.is_empty() {
            self.invalid(
                "auth.key_prefixes",
                Invalid {
                    detail: "an empty list".into(),
                    hint: Some("keys need a prefix; the default is [\"dmn_live\"]".into()),
                },
            );
        }
        let whoami_path = self.endpoint_path("auth.whoami_path", &raw.whoami_path);
        let realm = if raw.realm.trim().is_empty() {
            "doorman".to_owned()
        } else {
            raw.realm.clone()
        };
        (
            AuthSettings {
                realm,
                key_header: key_header.as_ref().map(|h| h.as_str().to_owned()),
                identity_headers: Default::default(),
                provider_names: Vec::new(),
            },
            AuthServer {
                key_header,
                key_query_param: raw.key_query_param.clone(),
                key_prefixes: prefixes,
                whoami_path,
                jwt_providers: Vec::new(),
            },
        )
    }

    /// `[[jwt_providers]]`, each checked by building it.
    pub(crate) fn jwt_providers(&mut self, raw: &[RawJwtProvider]) -> Vec<ProviderConfig> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let path = format!("jwt_providers.{i}");
            let name = self.unique_key(
                &path,
                "name",
                "[[jwt_providers]]",
                r.name.as_deref(),
                &mut seen,
                "routes accept a provider as \"jwt:<name>\", e.g. name = \"main\"",
                Some("names are up to 64 letters, digits, `-`, `_` and `.`"),
            );
            let Some(issuer) = r.issuer.clone() else {
                self.missing(&path, "issuer", "[[jwt_providers]]", "the exact `iss` value of the provider's tokens, e.g. issuer = \"https://auth.example.com/\"".into());
                continue;
            };
            let sources = [
                r.jwks_file.is_some(),
                r.jwks_url.is_some(),
                r.hmac_secret_file.is_some(),
            ];
            let keys = match sources.iter().filter(|s| **s).count() {
                0 => {
                    self.missing(&path, "jwks_file", "[[jwt_providers]]", "say where the verification keys are: jwks_file, jwks_url or hmac_secret_file".into());
                    continue;
                }
                1 => {
                    if let Some(f) = &r.jwks_file {
                        KeySource::JwksFile(self.resolve(&self.config_dir.clone(), f))
                    } else if let Some(f) = &r.hmac_secret_file {
                        KeySource::HmacSecretFile(self.resolve(&self.config_dir.clone(), f))
                    } else {
                        let mut url = JwksUrl::new(r.jwks_url.clone().unwrap_or_default());
                        if let Some(t) = r.cache_ttl_secs {
                            url.cache_ttl = Duration::from_secs(t);
                        }
                        if let Some(t) = r.min_refetch_interval_secs {
                            url.min_refetch_interval = Duration::from_secs(t.max(1));
                        }
                        url.ca_file = r
                            .ca_file
                            .as_ref()
                            .map(|f| self.resolve(&self.config_dir.clone(), f));
                        KeySource::JwksUrl(url)
                    }
                }
                _ => {
                    self.error(
                        self.index.value(&path),
                        "a JWT provider takes one of jwks_file, jwks_url and hmac_secret_file",
                        Some("keep the one its tokens are signed for".into()),
                    );
                    continue;
                }
            };
            let mut config = ProviderConfig::new(name.clone().unwrap_or_default(), issuer, keys);
            config.audiences = r.audiences.clone();
            config.leeway = Duration::from_secs(r.leeway_secs);
            config.required_claims = r.required_claims.clone();
            if let Some(algs) = &r.algorithms {
                let mut parsed = Vec::new();
                for (j, a) in algs.iter().enumerate() {
                    match a.parse::<Algorithm>() {
                        Ok(alg) => parsed.push(alg),
                        Err(e) => self.invalid(
                            &format!("{path}.algorithms.{j}"),
                            Invalid {
                                detail: e.to_string(),
                                hint: None,
                            },
                        ),
                    }
                }
                config.algorithms = parsed;
            }
            if r.audiences.is_empty() {
                self.warn(
                    self.index.value(&path),
                    format!("JWT provider `{}` checks no audience: any token its issuer signs, for any service, is accepted", name.as_deref().unwrap_or("")),
                    Some("list the audiences meant for this site: audiences = [\"plugins\"]".into()),
                );
            }
            if name.is_none() {
                continue;
            }
            match doorman_jwt::Provider::new(config.clone()) {
                Ok(_) => out.push(config),
                Err(e) => {
                    // At the key that is wrong, when the error names one.
                    use doorman_jwt::ConfigError as E;
                    let key = match &e {
                        E::JwksUrl { .. } => Some("jwks_url"),
                        E::JwksFile { .. } => Some("jwks_file"),
                        E::SecretFile { .. } => Some("hmac_secret_file"),
                        E::CaFile { .. } => Some("ca_file"),
                        E::NoAlgorithms { .. } | E::MixedAlgorithms { .. } => Some("algorithms"),
                        _ => None,
                    };
                    let span = match key {
                        Some(k) if self.index.has(&format!("{path}.{k}")) => {
                            self.index.value(&format!("{path}.{k}"))
                        }
                        _ => self.index.value(&path),
                    };
                    self.error(span, e.to_string(), None);
                    // Routes naming it would only repeat this error in other words.
                    if let Some(n) = &name {
                        self.broken_providers.insert(n.clone());
                    }
                }
            }
        }
        out
    }

    /// A route's `auth = {…}`, against the providers' names.
    pub(crate) fn route_auth(
        &mut self,
        path: &str,
        raw: Option<&RawRouteAuth>,
        providers: &[ProviderConfig],
        key_store: bool,
    ) -> Option<RouteAuth> {
        let raw = raw?;
        let path = format!("{path}.auth");
        let Some(written) = &raw.methods else {
            self.missing(&path, "methods", "auth", "say which credentials the route accepts: methods = [\"api_key\"] or [\"jwt:<provider>\"]".into());
            return None;
        };
        if written.is_empty() {
            self.invalid(
                &format!("{path}.methods"),
                Invalid {
                    detail: "an empty list".into(),
                    hint: Some("methods = [\"api_key\"], [\"jwt:<provider>\"] or both".into()),
                },
            );
            return None;
        }
        let mut methods = Vec::new();
        for (j, m) in written.iter().enumerate() {
            let key = format!("{path}.methods.{j}");
            if m == "api_key" {
                let _ = key_store;
                methods.push(AuthMethod::ApiKey);
            } else if let Some(p) = m.strip_prefix("jwt:") {
                if providers.iter().any(|c| c.name == p) {
                    methods.push(AuthMethod::Jwt {
                        provider: p.to_owned(),
                    });
                } else if self.broken_providers.contains(p) {
                    // The provider's own error, reported where it is defined, is the cause.
                } else {
                    let names: Vec<&str> = providers.iter().map(|c| c.name.as_str()).collect();
                    let hint = match suggest::nearest(p, names.iter().copied()) {
                        Some(n) => format!("did you mean \"jwt:{n}\"?"),
                        None if names.is_empty() => {
                            "add a [[jwt_providers]] entry with that name".to_string()
                        }
                        None => format!("providers: {}", names.join(", ")),
                    };
                    self.error(
                        self.index.value(&key),
                        format!("no JWT provider is named `{p}`"),
                        Some(hint),
                    );
                }
            } else {
                self.error(
                    self.index.value(&key),
                    format!("`{m}` is not a credential kind"),
                    Some("write \"api_key\" or \"jwt:<provider name>\"".into()),
                );
            }
        }
        for (j, s) in raw.scopes.iter().enumerate() {
            if s.is_empty() || s.contains(char::is_whitespace) {
                self.invalid(
                    &format!("{path}.scopes.{j}"),
                    Invalid {
                        detail: "a scope is one word without spaces".into(),
                        hint: Some("e.g. \"plugins:weather\"".into()),
                    },
                );
            }
        }
        Some(RouteAuth {
            methods,
            scopes: raw.scopes.clone(),
            keep_credentials: raw.keep_credentials,
        })
    }
}
