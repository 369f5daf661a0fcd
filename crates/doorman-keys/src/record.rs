//! What the store knows about a key, apart from its hash: [`KeyRecord`], what a new key is asked
//! to be ([`NewKey`]), and where a key stands at a given moment ([`KeyStatus`]).
//!
//! A record holds nothing secret and nothing usable: the display form shows 8 of the 36 body
//! characters, and the hash is kept out of this type altogether so that no listing or JSON
//! output can leak it by accident.

use doorman_common::when;
use serde::Serialize;

/// The public id's prefix; ids are `key_` + 8 base62 characters.
pub const ID_PREFIX: &str = "key_";
/// Random characters in a public id.
pub const ID_RANDOM_LEN: usize = 8;
/// The longest name accepted.
pub const MAX_NAME_LEN: usize = 64;
/// The longest scope accepted.
pub const MAX_SCOPE_LEN: usize = 128;
/// The longest rate-limit text accepted.
pub const MAX_RATE_LIMIT_LEN: usize = 64;

/// One key as stored, without its hash. Times are Unix milliseconds, UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// Public id (`key_` + 8 base62 characters), used in logs, headers and the CLI.
    pub id: String,
    /// The operator's name for the key. Unique among current keys (neither revoked nor replaced
    /// by rotation); a rotated key keeps its name beside its successor's.
    pub name: String,
    /// The key's prefix, without `_`.
    pub prefix: String,
    /// `dmn_live_AbCd…WxYz`: recognisable, never usable.
    pub display: String,
    /// What the key may do, as the routes' `scopes` name it.
    pub scopes: Vec<String>,
    /// When it was created.
    pub created_at: i64,
    /// When it stops working, if ever. For a rotated key: the end of its grace period.
    pub expires_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// When the gateway last accepted it (recorded in batches, so up to a few seconds late).
    pub last_used_at: Option<i64>,
    /// A rate limit for the gateway to apply to this key (opaque here, e.g. `100/1m`).
    pub rate_limit: Option<String>,
    /// The id of the key this one replaced.
    pub rotated_from: Option<String>,
    /// The id of the key that replaced this one.
    pub rotated_to: Option<String>,
}

/// Where a key stands at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    /// It works.
    Active,
    /// It was rotated and still works until the end of its grace period.
    RotatedGrace {
        /// When it stops working.
        until: i64,
        /// The id of its successor.
        to: String,
    },
    /// It was rotated and its grace period is over.
    Rotated {
        /// When it stopped working.
        at: i64,
        /// The id of its successor.
        to: String,
    },
    /// It reached its expiry time.
    Expired {
        /// When.
        at: i64,
    },
    /// It was revoked.
    Revoked {
        /// When.
        at: i64,
    },
}

impl KeyStatus {
    /// One word for tables and JSON: `active`, `rotated`, `expired` or `revoked` (a rotated key
    /// in its grace period is `rotated` too; [`KeyStatus::works`] tells them apart).
    pub fn word(&self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::RotatedGrace { .. } | KeyStatus::Rotated { .. } => "rotated",
            KeyStatus::Expired { .. } => "expired",
            KeyStatus::Revoked { .. } => "revoked",
        }
    }

    /// Whether the gateway accepts the key.
    pub fn works(&self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::RotatedGrace { .. })
    }

    /// A short phrase for people: `active`, `rotated, works until … (in 23 hours)`, ….
    pub fn describe(&self, now: i64) -> String {
        match self {
            KeyStatus::Active => "active".to_owned(),
            KeyStatus::RotatedGrace { until, to } => format!(
                "rotated to {to}, still works until {}",
                when::rfc3339_and_relative(*until, now)
            ),
            KeyStatus::Rotated { at, to } => {
                format!(
                    "rotated to {to}, stopped working {}",
                    when::rfc3339_and_relative(*at, now)
                )
            }
            KeyStatus::Expired { at } => {
                format!("expired {}", when::rfc3339_and_relative(*at, now))
            }
            KeyStatus::Revoked { at } => {
                format!("revoked {}", when::rfc3339_and_relative(*at, now))
            }
        }
    }
}

impl KeyRecord {
    /// Where the key stands at `now`: revocation first, then expiry (a key is expired from its
    /// `expires_at` on), told apart by whether it was rotated.
    pub fn status(&self, now: i64) -> KeyStatus {
        if let Some(at) = self.revoked_at {
            return KeyStatus::Revoked { at };
        }
        match (self.expires_at, &self.rotated_to) {
            (Some(at), Some(to)) if now >= at => KeyStatus::Rotated { at, to: to.clone() },
            (Some(until), Some(to)) => KeyStatus::RotatedGrace {
                until,
                to: to.clone(),
            },
            (Some(at), None) if now >= at => KeyStatus::Expired { at },
            // Rotation always sets an end; a rotated key without one is treated as still working.
            _ => KeyStatus::Active,
        }
    }

    /// Whether the key is current: not revoked and not replaced. Names are unique among these.
    pub fn is_current(&self) -> bool {
        self.revoked_at.is_none() && self.rotated_to.is_none()
    }
}

/// What a new key should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewKey {
    /// Its name: 1 to 64 letters, digits and `-_.:@`, not shaped like a key id.
    pub name: String,
    /// Its scopes (OAuth scope tokens: printable ASCII without space, `"` or `\`). Repeats are
    /// dropped; order is kept.
    pub scopes: Vec<String>,
    /// When it stops working (Unix ms), if ever; must be after the creation time.
    pub expires_at: Option<i64>,
    /// A rate limit for the gateway (opaque here); printable, without control characters.
    pub rate_limit: Option<String>,
}

/// Whether `text` has the shape of a public id (so it is never accepted as a name).
pub fn looks_like_id(text: &str) -> bool {
    text.strip_prefix(ID_PREFIX).is_some_and(|rest| {
        rest.len() == ID_RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Why `name` cannot be a key's name, or `None`.
pub fn check_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a name is required".to_owned());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Some(format!("names are at most {MAX_NAME_LEN} characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:@".contains(*c)))
    {
        return Some(format!(
            "{c:?} is not allowed: use letters, digits and - _ . : @"
        ));
    }
    if looks_like_id(name) {
        return Some(format!(
            "names shaped like a key id ({ID_PREFIX} and 8 letters or digits) would be \
             ambiguous on the command line"
        ));
    }
    None
}

/// Why `scope` cannot be a scope, or `None`. Scope tokens follow RFC 6749 §3.3 so that they can
/// be listed, space-separated, in a `WWW-Authenticate: Bearer scope="…"` header.
pub fn check_scope(scope: &str) -> Option<String> {
    if scope.is_empty() {
        return Some("an empty scope (two commas in a row?)".to_owned());
    }
    if scope.len() > MAX_SCOPE_LEN {
        return Some(format!("scopes are at most {MAX_SCOPE_LEN} characters"));
    }
    if let Some(c) = scope
        .chars()
        .find(|c| !c.is_ascii_graphic() || *c == '"' || *c == '\\')
    {
        return Some(format!(
            "{c:?} is not allowed in a scope: use printable ASCII without spaces, quotes or \
             backslashes"
        ));
    }
    None
}

/// Why `text` cannot be a rate limit, or `None`.
pub fn check_rate_limit(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return Some("it is empty".to_owned());
    }
    if text.len() > MAX_RATE_LIMIT_LEN {
        return Some(format!("it is longer than {MAX_RATE_LIMIT_LEN} characters"));
    }
    if text.chars().any(char::is_control) {
        return Some("it contains control characters".to_owned());
    }
    parse_rate_limit(text).err()
}

/// A key's own rate limit, `<requests>/<period>`: `100/1m`, `10/30s`, `5000/1h`, `20000/d`
/// (units s, m, h, d; a bare unit means one of it). Requests 1–65535, period 1 s to 30 days:
/// what the gateway's limiter counts exactly.
pub fn parse_rate_limit(text: &str) -> Result<(u32, std::time::Duration), String> {
    let usage = "write <requests>/<period>, e.g. 100/1m, 10/30s, 5000/1h or 20000/d";
    let (n, period) = text
        .trim()
        .split_once('/')
        .ok_or_else(|| format!("`{text}` has no `/`; {usage}"))?;
    let requests: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|r| (1..=65_535).contains(r))
        .ok_or_else(|| format!("`{n}` is not a number of requests from 1 to 65535; {usage}"))?;
    let period = period.trim();
    let split = period
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(period.len());
    let (count, unit) = period.split_at(split);
    let count: u64 = if count.is_empty() {
        1
    } else {
        count
            .parse()
            .map_err(|_| format!("`{period}` is not a period; {usage}"))?
    };
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{period}` has no unit s, m, h or d; {usage}")),
    };
    let secs = count.saturating_mul(unit_secs);
    if secs == 0 || secs > 30 * 86_400 {
        return Err(format!(
            "the period `{period}` is not between 1 s and 30 days; {usage}"
        ));
    }
    Ok((requests, std::time::Duration::from_secs(secs)))
}
