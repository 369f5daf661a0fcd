//! Credentials, checked before the core decides: finding the API key or bearer token in a
//! request, verifying it against the key store's in-memory snapshot or the JWT providers, and
//! turning each rejection into the core's words ([`AuthFacts`]).
//!
//! The key store is a SQLite file the `doorman keys` command writes; a task polls its
//! `data_version` every 250 ms and swaps in a new snapshot when another process committed, so a
//! revocation or rotation applies within a second without a restart. Verifying a key on the
//! request path is a hash and a map lookup in that snapshot: no I/O. "Last used" times go through
//! a bounded channel to a task that writes them in batches; when the channel is full the update
//! is dropped and counted, never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use doorman_config::AuthServer;
use doorman_core::Code;
use doorman_core::auth::{AuthFacts, AuthFailure, AuthMethod, Identity};
use doorman_jwt::{Provider, Providers, TokenRejection};
use doorman_keys::{KeyRejection, KeySnapshot, KeyStore};
use http::{HeaderMap, Uri, header};
use tokio::sync::mpsc;

/// Last-used updates waiting to be written; beyond this they are dropped (and counted).
const LAST_USED_QUEUE: usize = 4096;

/// The API key store as the request path sees it.
pub struct Keys {
    store: Arc<KeyStore>,
    snapshot: ArcSwap<KeySnapshot>,
    last_used: mpsc::Sender<(String, i64)>,
    /// Last-used updates dropped because the queue was full.
    pub last_used_dropped: AtomicU64,
    /// Snapshots loaded since start (the first included).
    pub reloads: AtomicU64,
}

impl Keys {
    /// Opens (creating it if needed) the key store in `data_dir` and starts its two tasks: the
    /// change poll and the last-used writer. Must run inside a tokio runtime.
    pub fn open(data_dir: &std::path::Path) -> Result<Arc<Keys>, String> {
        let path = doorman_keys::keys_path(data_dir);
        let store = KeyStore::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (version, snapshot) = match store.snapshot_if_changed(None) {
            Ok(Some(v)) => v,
            Ok(None) => return Err("the key store gave no first snapshot".into()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let (tx, rx) = mpsc::channel(LAST_USED_QUEUE);
        let keys = Arc::new(Keys {
            store: Arc::new(store),
            snapshot: ArcSwap::from_pointee(snapshot),
            last_used: tx,
            last_used_dropped: AtomicU64::new(0),
            reloads: AtomicU64::new(1),
        });
        tokio::spawn(poll_changes(Arc::downgrade(&keys), version));
        tokio::spawn(write_last_used(keys.store.clone(), rx));
        Ok(keys)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<KeySnapshot> {
        self.snapshot.load_full()
    }

    fn note_used(&self, id: &str, now_ms: i64) {
        if self.last_used.try_send((id.to_owned(), now_ms)).is_err() {
            self.last_used_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn poll_changes(keys: std::sync::Weak<Keys>, mut version: doorman_keys::DataVersion) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let Some(k) = keys.upgrade() else { return };
        let store = k.store.clone();
        let seen = version;
        let changed =
            tokio::task::spawn_blocking(move || store.snapshot_if_changed(Some(seen))).await;
        match changed {
            Ok(Ok(Some((v, snapshot)))) => {
                version = v;
                let count = snapshot.len();
                k.snapshot.store(Arc::new(snapshot));
                k.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: "doorman::keys", keys = count, "API keys reloaded");
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(target: "doorman::keys", "cannot read the key store; the keys loaded before stay in force: {e}")
            }
            Err(e) => tracing::warn!(target: "doorman::keys", "key store poll failed: {e}"),
        }
    }
}

async fn write_last_used(store: Arc<KeyStore>, mut rx: mpsc::Receiver<(String, i64)>) {
    let mut batch: Vec<(String, i64)> = Vec::new();
    loop {
        let Some(first) = rx.recv().await else { return };
        batch.push(first);
        // Gather for a while: one write per few seconds, however busy the keys are.
        tokio::time::sleep(Duration::from_secs(2)).await;
        while let Ok(next) = rx.try_recv() {
            batch.push(next);
        }
        // Only the latest use of each key matters.
        batch.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        batch.dedup_by(|a, b| a.0 == b.0);
        let store = store.clone();
        let uses = std::mem::take(&mut batch);
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.record_last_used(&uses)).await
        {
            tracing::warn!(target: "doorman::keys", "could not record when keys were last used: {e}");
        }
    }
}

/// Builds the JWT providers of a config, keeping those of `previous` whose configuration did
/// not change (and with them their cached keys).
pub fn providers(
    settings: &AuthServer,
    previous: Option<(&AuthServer, &Providers)>,
) -> Option<Providers> {
    if settings.jwt_providers.is_empty() {
        return None;
    }
    let list: Vec<Provider> = settings
        .jwt_providers
        .iter()
        .filter_map(|config| {
            let same = previous.and_then(|(old_settings, old)| {
                let unchanged = old_settings
                    .jwt_providers
                    .iter()
                    .any(|c| c.name == config.name && format!("{c:?}") == format!("{config:?}"));
                old.get(&config.name).filter(|_| unchanged)
            });
            match same {
                Some(p) => Some(p.clone()),
                // The config crate built each provider once already; a failure now means a
                // file changed in between. The provider is left out and logged.
                None => match Provider::new(config.clone()) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::error!(target: "doorman::auth", "JWT provider `{}` left out: {e}", config.name);
                        None
                    }
                },
            }
        })
        .collect();
    Providers::new(list).ok()
}

/// Where a credential was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// `Authorization: Bearer …`.
    Bearer,
    /// The configured key header.
    KeyHeader,
    /// The configured query parameter.
    Query,
}

/// The credential a request carries, if any: the bearer value, else the key header, else the
/// query parameter.
pub fn find<'r>(
    headers: &'r HeaderMap,
    uri: &'r Uri,
    settings: &AuthServer,
) -> Option<(String, Found)> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if let Some((scheme, rest)) = v.split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
        {
            return Some((rest.trim().to_owned(), Found::Bearer));
        }
    }
    if let Some(name) = &settings.key_header
        && let Some(v) = headers.get(name).and_then(|v| v.to_str().ok())
    {
        return Some((v.to_owned(), Found::KeyHeader));
    }
    if let Some(param) = &settings.key_query_param {
        let value = uri.query().unwrap_or("").split('&').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k == param).then(|| v.to_owned())
        });
        if let Some(v) = value {
            return Some((v, Found::Query));
        }
    }
    None
}

/// A JWT is three base64url parts; what else is presented is read as an API key.
fn looks_like_jwt(value: &str) -> bool {
    value.starts_with("eyJ") && value.matches('.').count() == 2
}

/// Checks the request's credential.
pub async fn check(
    presented: Option<(String, Found)>,
    keys: Option<&Keys>,
    jwt: Option<&Providers>,
    now: SystemTime,
) -> AuthFacts {
    let Some((value, _found)) = presented else {
        return AuthFacts::None;
    };
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    if looks_like_jwt(&value) {
        let Some(providers) = jwt else {
            return AuthFacts::Rejected(AuthFailure {
                code: Code::TokenUnknownIssuer,
                description: "this site accepts no JWTs".into(),
                reason: "The request carried a JWT, but this site trusts no token issuer; it accepts API keys.".into(),
                remedy: "Send an API key instead of a token.".into(),
                facts: vec![],
            });
        };
        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        return match providers.verify_any(&value, now_s).await {
            Ok(token) => AuthFacts::Verified(Identity {
                method: AuthMethod::Jwt {
                    provider: token.provider.clone(),
                },
                key_id: None,
                name: token
                    .subject
                    .clone()
                    .unwrap_or_else(|| "(no subject)".into()),
                display: token
                    .subject
                    .clone()
                    .map(|s| format!("token for {s}"))
                    .unwrap_or_else(|| format!("token from {}", token.provider)),
                subject: token.subject.clone(),
                scopes: token.scopes.clone(),
                expires_at: Some(UNIX_EPOCH + Duration::from_secs(token.expires_at)),
                rate_limit: None,
            }),
            Err(rejection) => AuthFacts::Rejected(token_failure(&rejection)),
        };
    }
    let Some(keys) = keys else {
        return AuthFacts::None;
    };
    match keys.snapshot().verify(&value, now_ms) {
        Ok(record) => {
            keys.note_used(&record.id, now_ms);
            AuthFacts::Verified(Identity {
                method: AuthMethod::ApiKey,
                key_id: Some(record.id.clone()),
                name: record.name.clone(),
                display: record.display.clone(),
                subject: None,
                scopes: record.scopes.clone(),
                expires_at: record
                    .expires_at
                    .map(|ms| UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)),
                // Checked when the key was created; a text that no longer parses limits nothing
                // rather than refusing a valid key.
                rate_limit: record
                    .rate_limit
                    .as_deref()
                    .and_then(|t| doorman_keys::parse_rate_limit(t).ok()),
            })
        }
        Err(rejection) => AuthFacts::Rejected(key_failure(&rejection)),
    }
}

fn key_failure(r: &KeyRejection) -> AuthFailure {
    let mut facts = Vec::new();
    if let Some(key) = r.key() {
        facts.push(("key".to_string(), key.display.clone()));
        facts.push(("key id".to_string(), key.id.clone()));
    }
    AuthFailure {
        code: Code::parse(r.code()).unwrap_or(Code::KeyMalformed),
        description: r.title().to_string(),
        reason: r.reason(),
        remedy: r.remedy(),
        facts,
    }
}

fn token_failure(r: &TokenRejection) -> AuthFailure {
    AuthFailure {
        code: Code::parse(r.code()).unwrap_or(Code::TokenMalformed),
        description: first_sentence(&r.reason()),
        reason: r.reason(),
        remedy: r.remedy(),
        facts: vec![],
    }
}

/// `error_description` is one short line.
fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    text[..end].chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwts_are_told_from_keys_by_shape() {
        assert!(looks_like_jwt("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(!looks_like_jwt(
            "dmn_live_0123456789abcdefghijklmnopqrstuvwxyzAB"
        ));
        assert!(!looks_like_jwt("eyJ.only-one-dot"));
    }

    #[test]
    fn descriptions_are_one_sentence() {
        assert_eq!(
            first_sentence("The token expired 3 minutes ago. Server time is 12:00."),
            "The token expired 3 minutes ago."
        );
    }
}
