//! The request path: an immutable [`KeySnapshot`] of every key, and [`KeySnapshot::verify`],
//! which turns a presented key into its record or a [`KeyRejection`] that says exactly why not.
//!
//! Verification does no I/O and takes no lock: parse (shape and checksum, so typos never reach
//! the map), one SHA-256, one hash-map lookup. The gateway holds the snapshot in an `ArcSwap`
//! and replaces it when [`crate::KeyStore::data_version`] changes.
//!
//! Looking a key up by its hash leaks nothing through timing: the map is keyed by SHA-256
//! output, which an attacker cannot steer towards a stored hash without already knowing a key.
//! The stored hash is still compared with [`subtle::ConstantTimeEq`] after the lookup, so that
//! no byte-by-byte comparison of secret-derived data ever happens, whatever the map does.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use doorman_common::when;
use subtle::ConstantTimeEq;

use crate::format::{self, DEFAULT_PREFIX, Malformed};
use crate::record::KeyRecord;

/// Every stored key, by hash and by id, frozen at one moment. Cheap to share (`Arc`) and never
/// changed: a request keeps the snapshot it started with.
#[derive(Clone, Default)]
pub struct KeySnapshot {
    by_hash: HashMap<[u8; 32], Arc<KeyRecord>>,
    by_id: HashMap<String, Arc<KeyRecord>>,
    /// The prefixes of the stored keys, sorted; `dmn_live` when there are none, so that the
    /// first request's "wrong prefix" message still names what a key looks like.
    prefixes: Vec<String>,
}

impl fmt::Debug for KeySnapshot {
    // No hashes: they are not secrets, but nothing prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySnapshot")
            .field("keys", &self.by_id.len())
            .field("prefixes", &self.prefixes)
            .finish()
    }
}

impl KeySnapshot {
    pub(crate) fn from_entries(entries: Vec<([u8; 32], KeyRecord)>) -> KeySnapshot {
        let mut by_hash = HashMap::with_capacity(entries.len());
        let mut by_id = HashMap::with_capacity(entries.len());
        let mut prefixes: Vec<String> = Vec::new();
        for (hash, record) in entries {
            if !prefixes.contains(&record.prefix) {
                prefixes.push(record.prefix.clone());
            }
            let record = Arc::new(record);
            by_id.insert(record.id.clone(), Arc::clone(&record));
            by_hash.insert(hash, record);
        }
        if prefixes.is_empty() {
            prefixes.push(DEFAULT_PREFIX.to_owned());
        }
        prefixes.sort();
        KeySnapshot {
            by_hash,
            by_id,
            prefixes,
        }
    }

    /// An empty snapshot (every key is unknown), for a gateway before its first load.
    pub fn empty() -> KeySnapshot {
        KeySnapshot::from_entries(Vec::new())
    }

    /// How many keys it holds, in any state.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The prefixes a presented key may carry (those of the stored keys).
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// A key's record by public id (for a whoami answer or the successor named in a
    /// rejection).
    pub fn get(&self, id: &str) -> Option<&Arc<KeyRecord>> {
        self.by_id.get(id)
    }

    /// Checks a presented key at `now_ms` (Unix ms): the key's record if it may be used, or
    /// why not. Revocation is checked before expiry: "revoked" is the more useful news.
    pub fn verify(&self, presented: &str, now_ms: i64) -> Result<Arc<KeyRecord>, KeyRejection> {
        let parsed =
            format::parse_any(presented, &self.prefixes).map_err(KeyRejection::Malformed)?;
        let hash = parsed.hash();
        let found = self
            .by_hash
            .get_key_value(&hash)
            .filter(|(stored, _)| bool::from(stored.ct_eq(&hash)));
        let Some((_, record)) = found else {
            return Err(KeyRejection::Unknown {
                display: parsed.display(),
            });
        };
        if let Some(at) = record.revoked_at {
            return Err(KeyRejection::Revoked {
                key: Arc::clone(record),
                at,
                now: now_ms,
            });
        }
        if let Some(at) = record.expires_at
            && now_ms >= at
        {
            let rotated_to = record
                .rotated_to
                .as_deref()
                .and_then(|id| self.by_id.get(id))
                .cloned();
            return Err(KeyRejection::Expired {
                key: Arc::clone(record),
                at,
                rotated_to,
                now: now_ms,
            });
        }
        Ok(Arc::clone(record))
    }
}

/// Why a presented key was refused. Each has a stable [`code`](KeyRejection::code), a
/// [`reason`](KeyRejection::reason) in plain words and a [`remedy`](KeyRejection::remedy),
/// written for the person holding the key (who may see them in a receipt): they never repeat
/// the key, only its display form, id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRejection {
    /// Not a key of this site's format, or mistyped (`KEY_MALFORMED`).
    Malformed(Malformed),
    /// Well-formed, right checksum, but not in the store (`KEY_UNKNOWN`).
    Unknown {
        /// The presented key's display form.
        display: String,
    },
    /// Revoked (`KEY_REVOKED`).
    Revoked {
        /// The key.
        key: Arc<KeyRecord>,
        /// When it was revoked (Unix ms).
        at: i64,
        /// When it was presented (Unix ms).
        now: i64,
    },
    /// Past its expiry, or past its grace period after rotation (`KEY_EXPIRED`).
    Expired {
        /// The key.
        key: Arc<KeyRecord>,
        /// When it stopped working (Unix ms).
        at: i64,
        /// The key that replaced it, if it was rotated.
        rotated_to: Option<Arc<KeyRecord>>,
        /// When it was presented (Unix ms).
        now: i64,
    },
}

impl KeyRejection {
    /// Every code, for documentation tests and metrics labels.
    pub const CODES: [&'static str; 4] =
        ["KEY_MALFORMED", "KEY_UNKNOWN", "KEY_REVOKED", "KEY_EXPIRED"];

    /// The stable code: `KEY_MALFORMED`, `KEY_UNKNOWN`, `KEY_REVOKED` or `KEY_EXPIRED`.
    pub fn code(&self) -> &'static str {
        match self {
            KeyRejection::Malformed(_) => "KEY_MALFORMED",
            KeyRejection::Unknown { .. } => "KEY_UNKNOWN",
            KeyRejection::Revoked { .. } => "KEY_REVOKED",
            KeyRejection::Expired { .. } => "KEY_EXPIRED",
        }
    }

    /// A short title for a page or problem document.
    pub fn title(&self) -> &'static str {
        match self {
            KeyRejection::Malformed(_) => "The API key is malformed",
            KeyRejection::Unknown { .. } => "The API key is not known here",
            KeyRejection::Revoked { .. } => "The API key was revoked",
            KeyRejection::Expired { .. } => "The API key has expired",
        }
    }

    /// The key's record, when the key was found.
    pub fn key(&self) -> Option<&Arc<KeyRecord>> {
        match self {
            KeyRejection::Revoked { key, .. } | KeyRejection::Expired { key, .. } => Some(key),
            _ => None,
        }
    }

    /// When the key stopped working (revoked or expired), in Unix ms.
    pub fn at(&self) -> Option<i64> {
        match self {
            KeyRejection::Revoked { at, .. } | KeyRejection::Expired { at, .. } => Some(*at),
            _ => None,
        }
    }

    /// What happened, in plain words, with the facts that matter (times as RFC 3339 and
    /// relative to when the key was presented).
    pub fn reason(&self) -> String {
        match self {
            KeyRejection::Malformed(m) => format!("The API key is malformed: {m}."),
            KeyRejection::Unknown { display } => format!(
                "The API key {display} is well-formed but not (or no longer) known to this \
                 site: was it created on another Doorman, or deleted?"
            ),
            KeyRejection::Revoked { key, at, now } => format!(
                "The API key {} ({}, `{}`) was revoked at {}.",
                key.display,
                key.id,
                key.name,
                when::rfc3339_and_relative(*at, *now)
            ),
            KeyRejection::Expired {
                key,
                at,
                rotated_to: Some(new),
                now,
            } => format!(
                "The API key {} ({}, `{}`) was replaced by {} ({}) when it was rotated; its \
                 grace period ended at {}.",
                key.display,
                key.id,
                key.name,
                new.id,
                new.display,
                when::rfc3339_and_relative(*at, *now)
            ),
            KeyRejection::Expired {
                key,
                at,
                rotated_to: None,
                now,
            } => {
                let rotated = if key.rotated_to.is_some() {
                    " (it was rotated; its successor is no longer on record)"
                } else {
                    ""
                };
                format!(
                    "The API key {} ({}, `{}`) expired at {}{rotated}.",
                    key.display,
                    key.id,
                    key.name,
                    when::rfc3339_and_relative(*at, *now)
                )
            }
        }
    }

    /// What the holder of the key can do about it.
    pub fn remedy(&self) -> String {
        match self {
            KeyRejection::Malformed(m) => m.remedy(),
            KeyRejection::Unknown { .. } => {
                "Check that this is the key issued for this site; if it is, ask the site's \
                 operator whether it still exists (`doorman keys list`) or for a new one."
                    .to_owned()
            }
            KeyRejection::Revoked { key, .. } => format!(
                "A revoked key never works again: ask the site's operator for a new key \
                 (`doorman keys create --name {}`).",
                key.name
            ),
            KeyRejection::Expired {
                rotated_to: Some(new),
                ..
            } => format!(
                "Use the key that replaced it, {} ({}); if you do not have it, ask the site's \
                 operator.",
                new.id, new.display
            ),
            KeyRejection::Expired { key, .. } => format!(
                "Ask the site's operator for a new key (`doorman keys rotate {}`).",
                key.id
            ),
        }
    }
}

impl fmt::Display for KeyRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for KeyRejection {}
