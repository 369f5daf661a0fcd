//! The clearance cookie: proof that this browser passed a check, for a while, from a network.
//!
//! Minting back-dates the issue time by the allowed clock skew; verifying checks, in order:
//! the format, the key id, the signature, the times (not yet valid, expired), whether the key
//! was retired, and the binding (network, browser). The first failure is the answer, so a
//! person is told the most basic thing that is wrong, and each [`ClearanceRejection`] carries
//! the facts for a plain-words reason and a remedy.
//!
//! The body (version 1) is 19 bytes plus the binding: version `1`, level, issued-at and
//! expires-at (Unix seconds, big-endian u64), then the binding (see [`Binding`]).

use std::time::Duration;

use doorman_common::when::{self, Scale};

use crate::binding::{Binding, Mismatch, Prefix, Reader};
use crate::keys::{KeyStatus, Keyring};
use crate::settings::{RequestContext, Settings};
use crate::signed::{OpenError, Purpose, open, seal};

/// How strong a check the holder passed. Ordered: `Interactive` satisfies a need for `Pow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Solved a proof of work.
    Pow = 1,
    /// Passed an interactive check (reserved for a check a person answers).
    Interactive = 2,
}

impl Level {
    fn from_u8(b: u8) -> Option<Level> {
        match b {
            1 => Some(Level::Pow),
            2 => Some(Level::Interactive),
            _ => None,
        }
    }

    /// `pow` or `interactive`, for logs and rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pow => "pow",
            Level::Interactive => "interactive",
        }
    }
}

/// What a clearance cookie says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clearance {
    /// Unix seconds, already back-dated by the allowed skew.
    pub issued_at: u64,
    /// Unix seconds; refused from this second on.
    pub expires_at: u64,
    /// The check passed.
    pub level: Level,
    /// The client it is bound to.
    pub binding: Binding,
}

impl Clearance {
    /// The clearance a client earns now: issued `clock_skew_s` ago (so that a gateway whose
    /// clock is slightly behind still accepts it), expiring `clearance_lifetime_s` from now,
    /// bound as the settings say.
    pub fn grant(level: Level, ctx: &RequestContext<'_>, settings: &Settings) -> Clearance {
        Clearance {
            issued_at: ctx.now.saturating_sub(settings.clock_skew_s),
            expires_at: ctx.now.saturating_add(settings.clearance_lifetime_s),
            level,
            binding: settings.binding.bind(ctx.client_ip, ctx.user_agent),
        }
    }

    /// Seconds left at `now` (the cookie's `Max-Age`).
    pub fn remaining_s(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        out.push(1);
        out.push(self.level as u8);
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        self.binding.encode(&mut out);
        out
    }

    fn decode(body: &[u8]) -> Option<Clearance> {
        let mut r = Reader::new(body);
        if r.u8()? != 1 {
            return None;
        }
        let level = Level::from_u8(r.u8()?)?;
        let issued_at = r.u64()?;
        let expires_at = r.u64()?;
        let binding = Binding::decode(&mut r)?;
        r.is_empty().then_some(Clearance {
            issued_at,
            expires_at,
            level,
            binding,
        })
    }
}

/// The cookie value for `clearance`, signed with the keyring's current key.
pub fn mint(keyring: &Keyring, clearance: &Clearance) -> String {
    seal(keyring, Purpose::Clearance, &clearance.encode())
}

/// Checks a clearance cookie's value for this request. See the module docs for the order.
pub fn verify(
    keyring: &Keyring,
    cookie_value: &str,
    ctx: &RequestContext<'_>,
    settings: &Settings,
) -> Result<Clearance, ClearanceRejection> {
    let opened = open(keyring, Purpose::Clearance, cookie_value).map_err(|e| match e {
        OpenError::Malformed(why) => ClearanceRejection::Malformed { why },
        OpenError::UnknownKey { kid } => ClearanceRejection::UnknownKey { kid },
        OpenError::Tampered { kid } => ClearanceRejection::Tampered { kid },
    })?;
    let c = Clearance::decode(&opened.body).ok_or(ClearanceRejection::Malformed {
        why: "its data is not a version-1 clearance",
    })?;
    let now = ctx.now;
    if c.issued_at > now {
        return Err(ClearanceRejection::NotYetValid {
            issued_at: c.issued_at,
            now,
        });
    }
    if now >= c.expires_at {
        return Err(ClearanceRejection::Expired {
            at: c.expires_at,
            now,
        });
    }
    if let KeyStatus::Retired { valid_until } = opened.status
        && now >= valid_until
    {
        return Err(ClearanceRejection::OldKey {
            kid: opened.kid,
            retired_at: valid_until,
            now,
        });
    }
    match settings
        .binding
        .check(&c.binding, ctx.client_ip, ctx.user_agent)
    {
        Ok(()) => Ok(c),
        Err(Mismatch::Network { issued_for, now }) => Err(ClearanceRejection::OtherNetwork {
            issued_for_prefix: issued_for,
            now_prefix: now,
        }),
        Err(Mismatch::Browser) => Err(ClearanceRejection::OtherBrowser),
    }
}

/// Reads a clearance without checking its signature, times or binding: for tooling that
/// explains a cookie someone pasted. Never use the answer to let a request through.
pub fn inspect(cookie_value: &str) -> Option<(String, Clearance)> {
    use base64::Engine;
    if cookie_value.len() > crate::signed::MAX_LEN {
        return None;
    }
    let mut parts = cookie_value.split('.');
    let (Some("v1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .ok()?;
    Some((kid.to_owned(), Clearance::decode(&body)?))
}

/// A `Set-Cookie` header value: `HttpOnly` (scripts never need the clearance), `SameSite=Lax`
/// (sent when following a link to the site, not on cross-site subrequests), `Secure` when the
/// site is served over HTTPS, and `Max-Age` rather than `Expires`: `Max-Age` counts from when
/// the browser receives it, so a client whose clock is wrong still keeps the cookie for the
/// right time (an `Expires` date in the past by the client's clock deletes the cookie at once,
/// a known source of challenge loops).
///
/// `name` and `path` come from the configuration; characters that would end the attribute
/// (`;`, control characters, spaces) are dropped rather than written.
pub fn set_cookie_header(
    name: &str,
    value: &str,
    max_age_s: u64,
    secure: bool,
    path: &str,
) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_graphic() && !matches!(c, ';' | ',' | '"' | '\\'))
            .collect()
    };
    let path = clean(path);
    let path = if path.starts_with('/') {
        path
    } else {
        "/".to_owned()
    };
    let mut out = format!(
        "{}={}; Max-Age={max_age_s}; Path={path}; HttpOnly; SameSite=Lax",
        clean(name).replace('=', ""),
        clean(value),
    );
    if secure {
        out.push_str("; Secure");
    }
    out
}

/// Why a clearance cookie was refused. Each has a stable [`code`](Self::code), a plain-words
/// [`reason`](Self::reason) for the person and a [`remedy`](Self::remedy). Times are Unix
/// seconds, server time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", self.code(), self.reason())]
pub enum ClearanceRejection {
    /// Not a clearance in this site's format.
    Malformed {
        /// What is wrong, in words.
        why: &'static str,
    },
    /// The signature does not match the contents.
    Tampered {
        /// The key id the cookie names.
        kid: String,
    },
    /// Signed by a key id this site does not have.
    UnknownKey {
        /// The key id the cookie names.
        kid: String,
    },
    /// Signed by a key this site retired, after its overlap ended.
    OldKey {
        /// The key id.
        kid: String,
        /// When the key stopped being accepted.
        retired_at: u64,
        /// Server time.
        now: u64,
    },
    /// Past its expiry.
    Expired {
        /// When it expired.
        at: u64,
        /// Server time.
        now: u64,
    },
    /// Issued after "now": this server's clock is behind the one that issued it, by more
    /// than the back-dating covers.
    NotYetValid {
        /// The (back-dated) issue time.
        issued_at: u64,
        /// Server time.
        now: u64,
    },
    /// Bound to another network.
    OtherNetwork {
        /// The network it was issued to.
        issued_for_prefix: Prefix,
        /// The client's network now, at the same prefix length.
        now_prefix: Prefix,
    },
    /// Bound to another User-Agent.
    OtherBrowser,
}

impl ClearanceRejection {
    /// Every code [`code`](Self::code) returns (docs/challenge.md describes each).
    pub const CODES: [&'static str; 8] = [
        "CLEARANCE_MALFORMED",
        "CLEARANCE_TAMPERED",
        "CLEARANCE_UNKNOWN_KEY",
        "CLEARANCE_OLD_KEY",
        "CLEARANCE_EXPIRED",
        "CLEARANCE_NOT_YET_VALID",
        "CLEARANCE_OTHER_NETWORK",
        "CLEARANCE_OTHER_BROWSER",
    ];

    /// The stable code, for logs, rules and the event log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "CLEARANCE_MALFORMED",
            Self::Tampered { .. } => "CLEARANCE_TAMPERED",
            Self::UnknownKey { .. } => "CLEARANCE_UNKNOWN_KEY",
            Self::OldKey { .. } => "CLEARANCE_OLD_KEY",
            Self::Expired { .. } => "CLEARANCE_EXPIRED",
            Self::NotYetValid { .. } => "CLEARANCE_NOT_YET_VALID",
            Self::OtherNetwork { .. } => "CLEARANCE_OTHER_NETWORK",
            Self::OtherBrowser => "CLEARANCE_OTHER_BROWSER",
        }
    }

    /// True when the cause is on the site's side (its keys or clocks), not the visitor's.
    pub fn is_site_side(&self) -> bool {
        matches!(
            self,
            Self::UnknownKey { .. } | Self::OldKey { .. } | Self::NotYetValid { .. }
        )
    }

    /// What happened, in plain words, with the facts that matter.
    pub fn reason(&self) -> String {
        match self {
            Self::Malformed { why } => format!(
                "your browser sent a clearance cookie that is not in this site's format ({why}): it was cut short or \
                 changed on the way, for example by an extension or a proxy"
            ),
            Self::Tampered { .. } => "your clearance cookie's signature does not match its contents: it was changed after \
                 this site issued it, or it was issued by another site"
                .to_owned(),
            Self::UnknownKey { kid } => format!(
                "your clearance was signed with key `{kid}`, which this site does not have (any more): the site replaced \
                 its keys. This is not a problem with your browser"
            ),
            Self::OldKey {
                kid,
                retired_at,
                now,
            } => format!(
                "your clearance was signed with key `{kid}`, which this site retired {} ago ({}). This is not a problem \
                 with your browser",
                when::span_words(Duration::from_secs(now.saturating_sub(*retired_at)), Scale::CHALLENGE),
                when::rfc3339_secs(*retired_at)
            ),
            Self::Expired { at, now } => format!(
                "your clearance expired {} ago ({})",
                when::span_words(Duration::from_secs(now.saturating_sub(*at)), Scale::CHALLENGE),
                when::rfc3339_secs(*at)
            ),
            Self::NotYetValid { issued_at, now } => format!(
                "your clearance was issued at {}, {} after this server's current time {}: this site's servers disagree \
                 about the time. Your own clock plays no part in this",
                when::rfc3339_secs(*issued_at),
                when::span_words(Duration::from_secs(issued_at.saturating_sub(*now)), Scale::CHALLENGE),
                when::rfc3339_secs(*now)
            ),
            Self::OtherNetwork {
                issued_for_prefix,
                now_prefix,
            } => {
                let switched = if issued_for_prefix.addr().is_ipv4() != now_prefix.addr().is_ipv4() {
                    "; your connection also switched between IPv4 and IPv6, which dual-stack networks do"
                } else {
                    ""
                };
                format!(
                    "your clearance was issued to a different network ({issued_for_prefix}); you now come from \
                     {now_prefix}{switched}. VPN or mobile network changes do this"
                )
            }
            Self::OtherBrowser => "your clearance was issued to another browser, or your browser updated since (its \
                 User-Agent changed)"
                .to_owned(),
        }
    }

    /// What to do about it.
    pub fn remedy(&self) -> String {
        match self {
            Self::Malformed { .. } | Self::Tampered { .. } => "pass the check again. If this keeps happening, clear this \
                 site's cookies (site settings → clear data) and turn off extensions that edit cookies"
                .to_owned(),
            Self::UnknownKey { .. } | Self::OldKey { .. } => {
                "pass the check again; it takes a few seconds".to_owned()
            }
            Self::Expired { .. } => "pass the check again; it takes a few seconds".to_owned(),
            Self::NotYetValid { .. } => "pass the check again. Operators: keep the gateways' clocks in sync (NTP), or \
                 raise the allowed clock skew"
                .to_owned(),
            Self::OtherNetwork { .. } => "pass the check again. If it happens on every page, your VPN or privacy relay \
                 changes address often: pick one fixed server or location, or ask the site to relax its network binding"
                .to_owned(),
            Self::OtherBrowser => "pass the check again. If it happens on every page, an extension changes your \
                 User-Agent on each request (a User-Agent switcher or randomizer): turn it off for this site"
                .to_owned(),
        }
    }
}
