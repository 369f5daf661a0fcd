//! Challenge clearance as the core sees it: whether the request carries a valid clearance
//! cookie, and if not, why (filled by the server, which holds the signing keys).
//!
//! A rule or limit whose action is `challenge` lets a request with a valid clearance through
//! and challenges the others; their receipt says what was wrong with the cookie they did send,
//! or that they passed a moment ago and the cookie did not come back (blocked cookies), so
//! nobody is challenged in a loop without being told why.

use std::time::SystemTime;

/// What the server found about the request's clearance cookie.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClearanceFacts {
    /// No clearance cookie.
    #[default]
    None,
    /// A valid clearance.
    Valid {
        /// When it expires.
        expires_at: SystemTime,
    },
    /// A clearance cookie that was refused.
    Refused {
        /// Stable code (`CLEARANCE_EXPIRED`, `CLEARANCE_OTHER_NETWORK`, …).
        code: String,
        /// What is wrong with it, in words.
        reason: String,
        /// What to do.
        remedy: String,
    },
    /// The client passed the challenge moments ago, yet sent no clearance back.
    CookieLost {
        /// Seconds since it passed.
        seconds_ago: u64,
    },
}

/// No clearance: for requests described without one.
pub static NO_CLEARANCE: ClearanceFacts = ClearanceFacts::None;

impl ClearanceFacts {
    /// Whether a challenge is already passed.
    pub fn is_valid(&self) -> bool {
        matches!(self, ClearanceFacts::Valid { .. })
    }

    /// The value of `doorman.clearance`: none, valid, or the refusal's kind.
    pub fn state(&self) -> &str {
        match self {
            ClearanceFacts::None => "none",
            ClearanceFacts::Valid { .. } => "valid",
            ClearanceFacts::CookieLost { .. } => "lost",
            ClearanceFacts::Refused { code, .. } => match code.as_str() {
                "CLEARANCE_EXPIRED" => "expired",
                "CLEARANCE_OTHER_NETWORK" => "wrong_ip",
                _ => "invalid",
            },
        }
    }
}
