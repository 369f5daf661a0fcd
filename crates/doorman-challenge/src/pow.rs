//! The proof of work: a stateless challenge the browser pays for with a few seconds of
//! computing, which costs a crawler hitting many pages far more than a person opening one.
//!
//! The gateway [`issue`]s a token: a random nonce, the issue time, the difficulty and the
//! client's binding, signed like a clearance, so the gateway keeps no state. The client looks
//! for a `counter` (decimal, no leading zeros) such that
//!
//! ```text
//! SHA-256( token ":" counter )      (bytes of the ASCII text)
//! ```
//!
//! starts with `difficulty` zero bits. Each attempt succeeds with probability 2^-difficulty,
//! so a solution takes 2^difficulty attempts on average (65 536 at 16), while checking it takes
//! one hash. [`check_solution`] verifies the token (format, key, signature, age, binding) and
//! the work.
//!
//! Being stateless, a solved token can be redeemed more than once within its lifetime, from the
//! same network and browser: one solution buys at most one clearance per redemption for five
//! minutes. A gateway that wants exactly-once can remember [`Challenge::nonce`]s until they
//! expire.

use std::fmt::Write as _;
use std::time::Duration;

use doorman_common::when::{self, Scale};
use sha2::{Digest, Sha256};

use crate::binding::{Binding, Mismatch, Prefix, Reader};
use crate::keys::{KeyStatus, Keyring};
use crate::settings::{RequestContext, Settings};
use crate::signed::{OpenError, Purpose, open, seal};

/// The largest difficulty [`issue`] accepts; higher values are lowered to it. 2^24 attempts
/// already take a browser tens of seconds to minutes.
pub const MAX_DIFFICULTY: u8 = 24;

/// A challenge token, as sent to the client (a string of base64url letters and dots).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeToken(pub String);

impl ChallengeToken {
    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ChallengeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a challenge token says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// 16 random bytes: makes every token, and so every solution, different.
    pub nonce: [u8; 16],
    /// Server time of issue, Unix seconds.
    pub issued_at: u64,
    /// Leading zero bits required.
    pub difficulty: u8,
    /// The client it was issued to.
    pub binding: Binding,
}

impl Challenge {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        out.push(1);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        out.push(self.difficulty);
        self.binding.encode(&mut out);
        out
    }

    fn decode(body: &[u8]) -> Option<Challenge> {
        let mut r = Reader::new(body);
        if r.u8()? != 1 {
            return None;
        }
        let nonce = r.take(16)?.try_into().ok()?;
        let issued_at = r.u64()?;
        let difficulty = r.u8()?;
        let binding = Binding::decode(&mut r)?;
        (r.is_empty() && difficulty <= MAX_DIFFICULTY).then_some(Challenge {
            nonce,
            issued_at,
            difficulty,
            binding,
        })
    }
}

/// A fresh challenge for this client. The binding follows `settings.binding`, like the
/// clearance it leads to, so a token solved on one network cannot be redeemed from another.
pub fn issue(
    keyring: &Keyring,
    ctx: &RequestContext<'_>,
    difficulty: u8,
    settings: &Settings,
) -> ChallengeToken {
    let mut nonce = [0u8; 16];
    rand::fill(&mut nonce[..]);
    issue_with_nonce(keyring, ctx, difficulty, nonce, settings)
}

/// [`issue`] with a given nonce (tests, reproducible examples).
pub fn issue_with_nonce(
    keyring: &Keyring,
    ctx: &RequestContext<'_>,
    difficulty: u8,
    nonce: [u8; 16],
    settings: &Settings,
) -> ChallengeToken {
    let c = Challenge {
        nonce,
        issued_at: ctx.now,
        difficulty: difficulty.min(MAX_DIFFICULTY),
        binding: settings.binding.bind(ctx.client_ip, ctx.user_agent),
    };
    ChallengeToken(seal(keyring, Purpose::Pow, &c.encode()))
}

/// SHA-256 of `token ":" counter`, the hash the client computes.
pub fn work_hash(token: &str, counter: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(token.as_bytes());
    h.update(b":");
    let mut digits = String::with_capacity(20);
    let _ = write!(digits, "{counter}");
    h.update(digits.as_bytes());
    h.finalize().into()
}

/// Leading zero bits of a hash.
pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut n = 0;
    for b in hash {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// Average number of attempts a solution takes: 2^difficulty.
pub fn expected_attempts(difficulty: u8) -> u64 {
    1u64 << difficulty.min(63)
}

/// Finds the smallest counter that solves `token` at `difficulty`: for tests and API tooling
/// (a client that cannot run the page). Loops until found; at difficulty ≤ 24 that is at most
/// a few seconds natively.
pub fn solve(token: &str, difficulty: u8) -> u64 {
    // Hash the token's prefix once and clone the state per attempt: tokens are ~100 bytes,
    // counters a few, so this halves the work.
    let mut prefix = Sha256::new();
    prefix.update(token.as_bytes());
    prefix.update(b":");
    let mut digits = String::with_capacity(20);
    for counter in 0u64.. {
        digits.clear();
        let _ = write!(digits, "{counter}");
        let mut h = prefix.clone();
        h.update(digits.as_bytes());
        if leading_zero_bits(&h.finalize()) >= u32::from(difficulty) {
            return counter;
        }
    }
    unreachable!("2^64 attempts")
}

/// Checks a solution: the token (format, key, signature, age, binding), then the work.
/// Returns the challenge so the caller can log it, or remember its nonce.
pub fn check_solution(
    keyring: &Keyring,
    token: &str,
    counter: u64,
    ctx: &RequestContext<'_>,
    settings: &Settings,
) -> Result<Challenge, PowRejection> {
    let opened = open(keyring, Purpose::Pow, token).map_err(|e| match e {
        OpenError::Malformed(why) => PowRejection::Malformed { why },
        OpenError::UnknownKey { kid } => PowRejection::UnknownKey { kid },
        OpenError::Tampered { .. } => PowRejection::Tampered,
    })?;
    let c = Challenge::decode(&opened.body).ok_or(PowRejection::Malformed {
        why: "its data is not a version-1 challenge",
    })?;
    let now = ctx.now;
    // The challenge is issued and checked by the gateways: allow their clocks the skew.
    if c.issued_at > now.saturating_add(settings.clock_skew_s) {
        return Err(PowRejection::NotYetValid {
            issued_at: c.issued_at,
            now,
        });
    }
    let expires = c.issued_at.saturating_add(settings.challenge_lifetime_s);
    if now >= expires {
        return Err(PowRejection::Expired { at: expires, now });
    }
    if let KeyStatus::Retired { valid_until } = opened.status
        && now >= valid_until
    {
        return Err(PowRejection::UnknownKey { kid: opened.kid });
    }
    match settings
        .binding
        .check(&c.binding, ctx.client_ip, ctx.user_agent)
    {
        Ok(()) => {}
        Err(Mismatch::Network { issued_for, now }) => {
            return Err(PowRejection::OtherNetwork {
                issued_for_prefix: issued_for,
                now_prefix: now,
            });
        }
        Err(Mismatch::Browser) => return Err(PowRejection::OtherBrowser),
    }
    let got = leading_zero_bits(&work_hash(token, counter));
    if got < u32::from(c.difficulty) {
        return Err(PowRejection::InsufficientWork {
            needed: c.difficulty,
            got,
        });
    }
    Ok(c)
}

/// Why a solution was refused. Codes, reasons and remedies as for clearances.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", self.code(), self.reason())]
pub enum PowRejection {
    /// Not a challenge token of this site's format (or a counter that is not a number).
    Malformed {
        /// What is wrong.
        why: &'static str,
    },
    /// The token's signature does not match: changed, or not issued by this site.
    Tampered,
    /// Signed by a key this site no longer has (or no longer accepts).
    UnknownKey {
        /// The key id the token names.
        kid: String,
    },
    /// Solved too late.
    Expired {
        /// When the challenge expired.
        at: u64,
        /// Server time.
        now: u64,
    },
    /// Issued in the future by this server's clock (clocks of the gateways disagree).
    NotYetValid {
        /// Issue time.
        issued_at: u64,
        /// Server time.
        now: u64,
    },
    /// Issued to another network.
    OtherNetwork {
        /// The network it was issued to.
        issued_for_prefix: Prefix,
        /// The client's network now.
        now_prefix: Prefix,
    },
    /// Issued to another User-Agent.
    OtherBrowser,
    /// The counter does not give enough zero bits.
    InsufficientWork {
        /// Bits required.
        needed: u8,
        /// Bits the counter gives.
        got: u32,
    },
}

impl PowRejection {
    /// Every code [`code`](Self::code) returns.
    pub const CODES: [&'static str; 8] = [
        "CHALLENGE_MALFORMED",
        "CHALLENGE_TAMPERED",
        "CHALLENGE_UNKNOWN_KEY",
        "CHALLENGE_EXPIRED",
        "CHALLENGE_NOT_YET_VALID",
        "CHALLENGE_OTHER_NETWORK",
        "CHALLENGE_OTHER_BROWSER",
        "CHALLENGE_INSUFFICIENT_WORK",
    ];

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "CHALLENGE_MALFORMED",
            Self::Tampered => "CHALLENGE_TAMPERED",
            Self::UnknownKey { .. } => "CHALLENGE_UNKNOWN_KEY",
            Self::Expired { .. } => "CHALLENGE_EXPIRED",
            Self::NotYetValid { .. } => "CHALLENGE_NOT_YET_VALID",
            Self::OtherNetwork { .. } => "CHALLENGE_OTHER_NETWORK",
            Self::OtherBrowser => "CHALLENGE_OTHER_BROWSER",
            Self::InsufficientWork { .. } => "CHALLENGE_INSUFFICIENT_WORK",
        }
    }

    /// What happened, in plain words.
    pub fn reason(&self) -> String {
        match self {
            Self::Malformed { why } => {
                format!("the challenge answer is not in this site's format ({why})")
            }
            Self::Tampered => "the challenge token was changed after this site issued it, or was issued by another site"
                .to_owned(),
            Self::UnknownKey { kid } => format!(
                "the challenge was signed with key `{kid}`, which this site no longer accepts: it replaced its keys \
                 while you were solving"
            ),
            Self::Expired { at, now } => format!(
                "the challenge expired {} ago ({}) before its answer arrived",
                when::span_words(Duration::from_secs(now.saturating_sub(*at)), Scale::CHALLENGE),
                when::rfc3339_secs(*at)
            ),
            Self::NotYetValid { issued_at, now } => format!(
                "the challenge was issued at {}, {} after this server's current time: this site's servers disagree \
                 about the time",
                when::rfc3339_secs(*issued_at),
                when::span_words(Duration::from_secs(issued_at.saturating_sub(*now)), Scale::CHALLENGE)
            ),
            Self::OtherNetwork {
                issued_for_prefix,
                now_prefix,
            } => format!(
                "the challenge was issued to a different network ({issued_for_prefix}); the answer comes from \
                 {now_prefix}. VPN or mobile network changes do this"
            ),
            Self::OtherBrowser => {
                "the challenge was issued to another browser (the User-Agent changed)".to_owned()
            }
            Self::InsufficientWork { needed, got } => format!(
                "the answer does not solve the challenge: it gives {got} leading zero bits, {needed} are needed"
            ),
        }
    }

    /// What to do about it.
    pub fn remedy(&self) -> String {
        match self {
            Self::OtherNetwork { .. } => {
                "reload the page and solve the check again without changing network; if your \
                 VPN changes address on every request, pick one fixed server"
                    .to_owned()
            }
            Self::OtherBrowser => {
                "reload the page and solve the check again; turn off extensions that change your \
                 User-Agent on every request"
                    .to_owned()
            }
            Self::NotYetValid { .. } => {
                "reload the page and solve the check again. Operators: keep the gateways' clocks \
                 in sync (NTP)"
                    .to_owned()
            }
            _ => "reload the page to get a new challenge and solve it again".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bits_are_counted_across_bytes() {
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0x00, 0x01]), 15);
        assert_eq!(leading_zero_bits(&[0x00, 0x00, 0x10]), 19);
        assert_eq!(leading_zero_bits(&[0; 32]), 256);
        assert_eq!(expected_attempts(16), 65_536);
    }

    #[test]
    fn work_hash_is_sha256_of_token_colon_decimal_counter() {
        let expect: [u8; 32] = Sha256::digest(b"abc:1234").into();
        assert_eq!(work_hash("abc", 1234), expect);
    }
}
