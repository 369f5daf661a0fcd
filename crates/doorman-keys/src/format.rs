//! The key format: `<prefix>_<30 random base62 characters><6 base62 characters of CRC32>`, e.g.
//! `dmn_live_` followed by 36 letters and digits. Minting ([`generate`]), reading a presented key
//! ([`parse`]), the short form shown in logs and receipts ([`display_form`]), and [`Secret`], the
//! only type that holds a whole key.
//!
//! Why this shape (the same one GitHub uses for its tokens):
//! - The **prefix** says whose key it is, so a key pasted into the wrong service (or another
//!   service's key pasted here) is recognised at once, and secret scanners can find leaked keys.
//! - **30 base62 characters** carry 178 bits from the OS random generator: far above the 128 the
//!   design asks for, so that even with the display form public (4 random characters) the rest
//!   cannot be guessed, and a plain SHA-256 of the key is safe to store (see `docs/keys.md`).
//! - The **CRC32 checksum** over `prefix_random` lets the gateway tell a mistyped or truncated
//!   key from an unknown one without a database lookup. CRC32 detects every error burst of up to
//!   32 bits, so any single changed character is always caught. It is not a security measure:
//!   anyone can compute it.
//! - Letters and digits only, so a double-click selects the whole body and no URL or header
//!   escaping is ever needed.

use std::fmt;

use rand::TryRng;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

/// The prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "dmn_live";
/// Random characters in a key's body.
pub const RANDOM_LEN: usize = 30;
/// Checksum characters at the end of a key's body (62^6 > 2^32, so a CRC32 always fits).
pub const CHECKSUM_LEN: usize = 6;
/// Characters after `<prefix>_`.
pub const BODY_LEN: usize = RANDOM_LEN + CHECKSUM_LEN;
/// The longest prefix accepted; long enough for `company_env_kind`, short enough for a header.
pub const MAX_PREFIX_LEN: usize = 32;

/// Base62 digits in ascending order; the checksum is a base62 number written with them.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters a person may have copied along with the key.
const QUOTES: &[char] = &[
    '"', '\'', '`', '\u{201C}', '\u{201D}', '\u{2018}', '\u{2019}', '<', '>',
];

/// The OS random generator failed (it practically never does; there is no safe fallback).
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(#[from] rand::rngs::SysError);

/// A whole key, as minted. It is shown to the operator once and then only its hash is kept.
///
/// No `Debug`, `Display` or `Serialize` prints it: `Debug` shows the display form. The text is
/// wiped from memory when the value is dropped.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The key itself. Call this only to show it to the operator once, or in tests.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The short form for logs (`dmn_live_AbCd…WxYz`).
    pub fn display(&self) -> String {
        let prefix_len = self.0.len() - BODY_LEN - 1;
        display_form(&self.0[..prefix_len], &self.0[prefix_len + 1..])
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Secret").field(&self.display()).finish()
    }
}

/// Mints a new key with `prefix` (which must have passed [`check_prefix`]).
pub fn generate(prefix: &str) -> Result<Secret, RandomError> {
    // Sized up front so that the string never reallocates and leaves a copy behind.
    let mut key = Zeroizing::new(String::with_capacity(prefix.len() + 1 + BODY_LEN));
    key.push_str(prefix);
    key.push('_');
    for c in random_base62(RANDOM_LEN)?.iter() {
        key.push(char::from(*c));
    }
    let sum = crc32(key.as_bytes());
    key.push_str(&encode_checksum(sum));
    Ok(Secret(key))
}

/// `n` characters drawn uniformly from the base62 alphabet, from the OS generator.
pub(crate) fn random_base62(n: usize) -> Result<Zeroizing<Vec<u8>>, RandomError> {
    let mut out = Zeroizing::new(Vec::with_capacity(n));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < n {
        SysRng.try_fill_bytes(&mut buf[..])?;
        // Rejection sampling: 248 = 4 × 62, so bytes below it map onto the alphabet evenly.
        for &b in buf.iter().filter(|&&b| b < 248) {
            if out.len() == n {
                break;
            }
            out.push(ALPHABET[usize::from(b % 62)]);
        }
    }
    Ok(out)
}

/// Why a prefix cannot be used, or `None` when it can: 1 to 32 ASCII letters, digits and `_`,
/// starting with a letter and not ending with `_` (the separator is added).
pub fn check_prefix(prefix: &str) -> Option<&'static str> {
    if prefix.is_empty() {
        return Some("it is empty");
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Some("it is longer than 32 characters");
    }
    if !prefix.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("it must start with a letter");
    }
    if prefix.ends_with('_') {
        return Some("it must not end with '_' (the separator is added)");
    }
    if !prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Some("only letters, digits and '_' are allowed");
    }
    None
}

/// The short form of a key for logs, receipts and listings: the prefix, the first and last four
/// characters of the body. Never enough to use or to guess the rest.
pub fn display_form(prefix: &str, body: &str) -> String {
    let head: String = body.chars().take(4).collect();
    let count = body.chars().count();
    let tail: String = body.chars().skip(count.saturating_sub(4)).collect();
    format!("{prefix}_{head}\u{2026}{tail}")
}

/// A presented key that has the right shape and checksum. It borrows the presented text and
/// does not print it: `Debug` shows the display form.
#[derive(Clone, Copy)]
pub struct ParsedKey<'a> {
    key: &'a str,
    prefix_len: usize,
}

impl<'a> ParsedKey<'a> {
    /// The prefix, without the `_`.
    pub fn prefix(&self) -> &'a str {
        &self.key[..self.prefix_len]
    }

    /// The short form for logs and receipts.
    pub fn display(&self) -> String {
        display_form(self.prefix(), &self.key[self.prefix_len + 1..])
    }

    /// SHA-256 of the whole key, what the store keeps.
    pub fn hash(&self) -> [u8; 32] {
        hash_key(self.key)
    }
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ParsedKey").field(&self.display()).finish()
    }
}

/// SHA-256 of a key's full text.
pub(crate) fn hash_key(key: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes()).into()
}

/// What is wrong with a presented key, in words meant for the person who sent it. Nothing here
/// repeats the key: at most a foreign prefix (`sk-`) or one bad character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Nothing was sent where the key should be.
    Empty,
    /// The key arrived wrapped in quotes, brackets or whitespace, or after a second `Bearer`.
    Surrounded {
        /// What came with it, e.g. `"quotes around it"`.
        what: &'static str,
    },
    /// A JSON Web Token where an API key was expected.
    LooksLikeJwt,
    /// The key does not start with this site's prefix.
    WrongPrefix {
        /// The prefixes this site's keys use (without `_`).
        expected: Vec<String>,
        /// How the presented key starts, when it has a recognisable prefix (`sk-`, `ghp_`);
        /// only ever up to 12 characters ending with `_` or `-`.
        found: Option<String>,
    },
    /// A character that no key contains.
    BadCharacter {
        /// The character.
        ch: char,
        /// Its 1-based position in the presented key.
        position: usize,
    },
    /// Fewer characters than a key has.
    TooShort {
        /// The length of a key with this prefix.
        expected: usize,
        /// The presented length.
        found: usize,
    },
    /// More characters than a key has.
    TooLong {
        /// The length of a key with this prefix.
        expected: usize,
        /// The presented length.
        found: usize,
    },
    /// The shape is right but the checksum does not match: a changed character.
    Checksum,
}

fn join_prefixes(prefixes: &[String]) -> String {
    let quoted: Vec<String> = prefixes.iter().map(|p| format!("{p}_")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Empty => f.write_str("no key was sent, only an empty value"),
            Malformed::Surrounded { what } => write!(
                f,
                "the key arrived with {what}, a common copy-and-paste slip; the key must be \
                 sent alone"
            ),
            Malformed::LooksLikeJwt => f.write_str(
                "this is a JSON Web Token (it starts with eyJ and has three dot-separated \
                 parts), not an API key of this site",
            ),
            Malformed::WrongPrefix { expected, found } => {
                let expected = join_prefixes(expected);
                match found {
                    Some(found) if found.eq_ignore_ascii_case(&expected) => write!(
                        f,
                        "keys for this site start with {expected}; this one starts with \
                         {found}: letter case matters in keys"
                    ),
                    Some(found) => write!(
                        f,
                        "keys for this site start with {expected}; this one starts with \
                         {found}\u{2026}: it may be a key for another service"
                    ),
                    None => write!(
                        f,
                        "keys for this site start with {expected}; this one has no prefix: \
                         was the start cut off when it was copied, or is it a key for another \
                         service?"
                    ),
                }
            }
            Malformed::BadCharacter { ch, position } => {
                let what = describe_char(*ch);
                write!(
                    f,
                    "character {position} is {what}, which no key contains: keys have only \
                     letters and digits after the prefix"
                )
            }
            Malformed::TooShort { expected, found } => write!(
                f,
                "the key is {found} characters long but keys are {expected}: {} missing \
                 (cut off when copied?)",
                plural(expected - found, "character is", "characters are")
            ),
            Malformed::TooLong { expected, found } => write!(
                f,
                "the key is {found} characters long but keys are {expected}: {} too many \
                 (was something pasted after it, or two keys together?)",
                plural(found - expected, "character", "characters")
            ),
            Malformed::Checksum => f.write_str(
                "the key's checksum does not match: a character was mistyped or changed",
            ),
        }
    }
}

impl Malformed {
    /// What the sender can do about it.
    pub fn remedy(&self) -> String {
        match self {
            Malformed::Empty => "Send the API key itself as the credential.".to_owned(),
            Malformed::Surrounded { .. } => {
                "Remove what came with the key (quotes, brackets, whitespace or a repeated \
                 \"Bearer \") and send the key alone."
                    .to_owned()
            }
            Malformed::LooksLikeJwt => {
                "Send an API key issued by this site instead of a token, or use an endpoint \
                 that accepts tokens."
                    .to_owned()
            }
            Malformed::WrongPrefix { expected, .. } => format!(
                "Use a key issued by this site (it starts with {}); if you have none, ask the \
                 site's operator for one.",
                join_prefixes(expected)
            ),
            Malformed::BadCharacter { .. }
            | Malformed::TooShort { .. }
            | Malformed::TooLong { .. } => {
                "Copy the whole key again from where it was stored, in one piece, and send it \
                 unchanged."
                    .to_owned()
            }
            Malformed::Checksum => {
                "Copy the key again rather than typing it; if it was typed, check look-alike \
                 characters such as 0 and O, 1, l and I."
                    .to_owned()
            }
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Names a character so that invisible ones can be seen.
fn describe_char(ch: char) -> String {
    match ch {
        ' ' => "a space".to_owned(),
        '\t' => "a tab".to_owned(),
        '\n' | '\r' => "a line break".to_owned(),
        '\u{00A0}' => "a non-breaking space".to_owned(),
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' => {
            format!("an invisible character (U+{:04X})", u32::from(ch))
        }
        c if c.is_control() || c.is_whitespace() => {
            format!("an invisible character (U+{:04X})", u32::from(c))
        }
        c if c.is_ascii() => format!("'{c}'"),
        c => format!("'{c}' (U+{:04X})", u32::from(c)),
    }
}

/// Reads a presented key, checking it against one expected prefix.
pub fn parse<'a>(presented: &'a str, expected_prefix: &str) -> Result<ParsedKey<'a>, Malformed> {
    parse_any(presented, &[expected_prefix.to_owned()])
}

/// Reads a presented key that may carry any of `prefixes` (the longest matching one wins, so
/// `dmn` and `dmn_live` can live side by side). Checks run in the order a person would want to
/// hear about the problems: wrapping, foreign format, prefix, characters, length, checksum.
pub fn parse_any<'a>(presented: &'a str, prefixes: &[String]) -> Result<ParsedKey<'a>, Malformed> {
    if presented.is_empty() {
        return Err(Malformed::Empty);
    }
    let trimmed = presented.trim_matches(|c: char| c.is_whitespace() || QUOTES.contains(&c));
    if trimmed.is_empty() {
        return Err(Malformed::Empty);
    }
    if trimmed.len() != presented.len() {
        let stripped = presented.replacen(trimmed, "", 1);
        let what = if stripped.contains(['<', '>']) {
            "angle brackets around it"
        } else if stripped.contains(QUOTES) {
            "quotes around it"
        } else {
            "spaces or line breaks around it"
        };
        return Err(Malformed::Surrounded { what });
    }
    // `Authorization: Bearer Bearer <key>`: the scheme pasted in twice.
    if presented
        .get(..7)
        .is_some_and(|head| head.eq_ignore_ascii_case("bearer "))
    {
        return Err(Malformed::Surrounded {
            what: "a second \"Bearer \" in front of it",
        });
    }
    if presented.starts_with("eyJ") && presented.matches('.').count() == 2 {
        return Err(Malformed::LooksLikeJwt);
    }
    let prefix_len = prefixes
        .iter()
        .filter(|p| {
            presented.len() > p.len()
                && presented.starts_with(p.as_str())
                && presented.as_bytes()[p.len()] == b'_'
        })
        .map(String::len)
        .max();
    let Some(prefix_len) = prefix_len else {
        return Err(Malformed::WrongPrefix {
            expected: prefixes.to_vec(),
            found: foreign_prefix(presented),
        });
    };
    let body = &presented[prefix_len + 1..];
    let expected = prefix_len + 1 + BODY_LEN;
    if let Some((i, ch)) = body
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_alphanumeric())
    {
        return Err(Malformed::BadCharacter {
            ch,
            position: prefix_len + 1 + i + 1,
        });
    }
    // Only ASCII from here on, so bytes are characters.
    if presented.len() < expected {
        return Err(Malformed::TooShort {
            expected,
            found: presented.len(),
        });
    }
    if presented.len() > expected {
        return Err(Malformed::TooLong {
            expected,
            found: presented.len(),
        });
    }
    let (signed, checksum) = presented.split_at(expected - CHECKSUM_LEN);
    if decode_checksum(checksum) != Some(crc32(signed.as_bytes())) {
        return Err(Malformed::Checksum);
    }
    Ok(ParsedKey {
        key: presented,
        prefix_len,
    })
}

/// How a key from elsewhere starts (`sk-`, `sk-proj-`, `ghp_`), to name it in the message: the
/// text up to the last `_` or `-` within the first 12 characters, so that no more than a
/// conventional prefix of someone's secret is ever repeated back.
fn foreign_prefix(presented: &str) -> Option<String> {
    let window: String = presented
        .chars()
        .take(12)
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let end = window.rfind(['_', '-'])?;
    Some(window[..=end].to_owned())
}

/// A checksum as exactly six base62 digits, most significant first.
fn encode_checksum(mut sum: u32) -> String {
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(sum % 62) as usize];
        sum /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

/// The inverse of [`encode_checksum`]; `None` when the value does not fit 32 bits.
fn decode_checksum(text: &str) -> Option<u32> {
    let mut value: u64 = 0;
    for b in text.bytes() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => return None,
        };
        value = value * 62 + u64::from(digit);
    }
    u32::try_from(value).ok()
}

/// CRC-32 (IEEE 802.3, the zlib/PNG one), table-driven. Written here because it is 20 lines
/// and the one thing this crate needs from a checksum library.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn checksums_round_trip_at_the_edges() {
        for sum in [0, 1, 61, 62, u32::MAX / 2, u32::MAX] {
            let text = encode_checksum(sum);
            assert_eq!(text.len(), CHECKSUM_LEN);
            assert_eq!(decode_checksum(&text), Some(sum));
        }
        assert_eq!(decode_checksum("zzzzzz"), None, "62^6 - 1 > u32::MAX");
    }

    #[test]
    fn foreign_prefixes_stop_at_a_separator_within_twelve_characters() {
        assert_eq!(foreign_prefix("sk-abcdef").as_deref(), Some("sk-"));
        assert_eq!(
            foreign_prefix("sk-proj-abcdef").as_deref(),
            Some("sk-proj-")
        );
        assert_eq!(foreign_prefix("ghp_abc").as_deref(), Some("ghp_"));
        assert_eq!(foreign_prefix("abcdefghijklmnop_x"), None);
        assert_eq!(foreign_prefix("abcdef"), None);
    }
}
