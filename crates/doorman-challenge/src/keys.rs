//! The signing keys: a current key that signs, and retired keys that still verify until a
//! given time, so that a rotation never logs everyone out at once.
//!
//! A key is 32 random bytes used for HMAC-SHA256 (the `hmac` crate; the tests keep RFC 4231's
//! vectors). Every key has a short public id,
//! the `kid`, which each signed value names so that verification picks the right key and can
//! say "signed by a key this site retired" instead of "tampered".
//!
//! The key file is plain text, one key a line (docs/challenge.md, "Keys and rotation"):
//!
//! ```text
//! # comments and blank lines are ignored
//! current  k3f9a01c2 <64 hex digits>
//! previous k0a1b2c3d <64 hex digits> 1767225600
//! ```
//!
//! where the last field of a `previous` line is the Unix time (seconds) until which values it
//! signed are still accepted. [`Keyring::load_or_create`] is the crate's only I/O.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Longest accepted key id.
pub const MAX_KID_LEN: usize = 32;

/// A secret HMAC key. Its `Debug` shows nothing of the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::fill(&mut bytes[..]);
        Key(bytes)
    }

    /// A key from known bytes (tests, or a key given in the configuration).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Key(bytes)
    }

    /// HMAC-SHA256 of `parts` concatenated (RFC 2104). Parts rather than one slice so that
    /// callers can prefix a purpose label without allocating.
    fn hmac(&self, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// The MAC of `parts`, to sign with.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.hmac(parts).finalize().into_bytes().into()
    }

    /// Whether `tag` is the MAC of `parts`, compared in constant time so that timing does not
    /// reveal how many leading bytes of a forged tag were right.
    pub(crate) fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.hmac(parts).verify_slice(tag).is_ok()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

/// Whether `kid` is a usable key id: 1 to 32 of `A-Z a-z 0-9 _ -`, so that it never needs
/// escaping in a cookie, a header or the key file.
pub fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A key no longer used to sign, still accepted until `valid_until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetiredKey {
    /// Its id.
    pub kid: String,
    /// The secret.
    pub key: Key,
    /// Unix seconds; values it signed are refused from this time on.
    pub valid_until: u64,
}

/// How a key found by id may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyStatus {
    /// The current key.
    Current,
    /// A retired key, accepted until this time.
    Retired { valid_until: u64 },
}

/// The current key and the retired ones still accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    current_kid: String,
    current: Key,
    previous: Vec<RetiredKey>,
}

impl Keyring {
    /// A keyring with one key. Fails when `kid` is not a [`valid_kid`].
    pub fn new(kid: &str, key: Key) -> Result<Self, KeyFileError> {
        if !valid_kid(kid) {
            return Err(KeyFileError::BadKid(kid.to_owned()));
        }
        Ok(Keyring {
            current_kid: kid.to_owned(),
            current: key,
            previous: Vec::new(),
        })
    }

    /// A keyring with a fresh random key and a fresh random id (`k` + 8 hex digits).
    pub fn generate() -> Self {
        Keyring {
            current_kid: new_kid(),
            current: Key::generate(),
            previous: Vec::new(),
        }
    }

    /// Adds a retired key, accepted until `valid_until`. Fails on a bad or duplicate id.
    pub fn with_previous(
        mut self,
        kid: &str,
        key: Key,
        valid_until: u64,
    ) -> Result<Self, KeyFileError> {
        if !valid_kid(kid) {
            return Err(KeyFileError::BadKid(kid.to_owned()));
        }
        if self.find(kid).is_some() {
            return Err(KeyFileError::DuplicateKid(kid.to_owned()));
        }
        self.previous.push(RetiredKey {
            kid: kid.to_owned(),
            key,
            valid_until,
        });
        Ok(self)
    }

    /// The id of the key that signs.
    pub fn current_kid(&self) -> &str {
        &self.current_kid
    }

    /// The retired keys.
    pub fn previous(&self) -> &[RetiredKey] {
        &self.previous
    }

    /// The keyring after a rotation at `now`: a fresh current key; the old current key retired
    /// but accepted for `overlap_s` more seconds (make it at least the clearance lifetime, so
    /// no clearance is cut short); retired keys already past their time dropped.
    pub fn rotated(&self, now: u64, overlap_s: u64) -> Keyring {
        let mut previous: Vec<RetiredKey> = self
            .previous
            .iter()
            .filter(|k| k.valid_until > now)
            .cloned()
            .collect();
        previous.insert(
            0,
            RetiredKey {
                kid: self.current_kid.clone(),
                key: self.current.clone(),
                valid_until: now.saturating_add(overlap_s),
            },
        );
        let mut kid = new_kid();
        while kid == self.current_kid || previous.iter().any(|k| k.kid == kid) {
            kid = new_kid();
        }
        Keyring {
            current_kid: kid,
            current: Key::generate(),
            previous,
        }
    }

    /// The key with this id, current or retired.
    pub(crate) fn find(&self, kid: &str) -> Option<(&Key, KeyStatus)> {
        if kid == self.current_kid {
            return Some((&self.current, KeyStatus::Current));
        }
        self.previous.iter().find(|k| k.kid == kid).map(|k| {
            (
                &k.key,
                KeyStatus::Retired {
                    valid_until: k.valid_until,
                },
            )
        })
    }

    /// The current key and its id, for signing.
    pub(crate) fn signer(&self) -> (&str, &Key) {
        (&self.current_kid, &self.current)
    }

    /// Reads the key file format (module docs). Errors name the line.
    pub fn parse(text: &str) -> Result<Self, KeyFileError> {
        let mut current: Option<(String, Key)> = None;
        let mut previous: Vec<(usize, String, Key, u64)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| KeyFileError::Syntax {
                line: line_no,
                why: why.to_owned(),
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (kind, kid, hex_key) = match fields.as_slice() {
                [kind, kid, key, ..] => (*kind, *kid, *key),
                _ => {
                    return Err(bad(
                        "expected `current <kid> <key>` or `previous <kid> <key> <valid-until>`",
                    ));
                }
            };
            if !valid_kid(kid) {
                return Err(bad(
                    "the key id must be 1 to 32 of A-Z a-z 0-9 _ - (e.g. k3f9a01c2)",
                ));
            }
            let key = parse_key(hex_key)
                .ok_or_else(|| bad("the key must be 64 hex digits (32 bytes)"))?;
            match (kind, fields.len()) {
                ("current", 3) => {
                    if current.is_some() {
                        return Err(bad(
                            "a second `current` key; retire the old one with `previous <kid> <key> <valid-until>`",
                        ));
                    }
                    current = Some((kid.to_owned(), key));
                }
                ("previous", 4) => {
                    let until = fields[3].parse::<u64>().map_err(|_| {
                        bad("the last field of a `previous` line is a Unix time in seconds")
                    })?;
                    previous.push((line_no, kid.to_owned(), key, until));
                }
                ("current", _) => return Err(bad("`current` takes exactly a key id and a key")),
                ("previous", _) => {
                    return Err(bad(
                        "`previous` takes a key id, a key and the Unix time until which it is accepted",
                    ));
                }
                _ => return Err(bad("each line starts with `current` or `previous`")),
            }
        }
        let (kid, key) = current.ok_or(KeyFileError::NoCurrent)?;
        let mut ring = Keyring::new(&kid, key)?;
        for (line, kid, key, until) in previous {
            ring = ring.with_previous(&kid, key, until).map_err(|e| match e {
                KeyFileError::DuplicateKid(kid) => KeyFileError::Syntax {
                    line,
                    why: format!("key id `{kid}` appears twice"),
                },
                other => other,
            })?;
        }
        Ok(ring)
    }

    /// The key file's text for this keyring (what [`Keyring::parse`] reads back).
    pub fn to_file_string(&self) -> String {
        let mut out = String::from(
            "# Doorman challenge signing keys (docs/challenge.md). Keep this file secret: whoever\n\
             # reads it can mint clearance cookies. Mode 0600.\n\
             # current <kid> <key: 64 hex digits>\n\
             # previous <kid> <key> <Unix seconds until which values it signed are accepted>\n",
        );
        out.push_str(&format!(
            "current {} {}\n",
            self.current_kid,
            hex::encode(self.current.0)
        ));
        for k in &self.previous {
            out.push_str(&format!(
                "# retired; accepted until {}\nprevious {} {} {}\n",
                doorman_common::when::rfc3339_secs(k.valid_until),
                k.kid,
                hex::encode(k.key.0),
                k.valid_until
            ));
        }
        out
    }

    /// Reads the key file at `path`; when there is none, creates it with one fresh key (mode
    /// 0600 on Unix, created exclusively so two gateways starting together cannot overwrite
    /// each other's key: the loser reads the winner's file). An existing file that does not
    /// parse is an error and is never overwritten: replacing keys silently would log everyone
    /// out and hide the mistake.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source: std::io::Error| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return Keyring::parse(&text).map_err(|e| e.in_file(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let ring = Keyring::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(ring.to_file_string().as_bytes())
                    .map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(ring)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(io)?;
                Keyring::parse(&text).map_err(|e| e.in_file(path))
            }
            Err(e) => Err(io(e)),
        }
    }
}

fn new_kid() -> String {
    let mut b = [0u8; 4];
    rand::fill(&mut b[..]);
    format!("k{}", hex::encode(b))
}

fn parse_key(s: &str) -> Option<Key> {
    let mut bytes = [0u8; KEY_LEN];
    hex::decode_to_slice(s, &mut bytes).ok()?;
    Some(Key(bytes))
}

/// A key file or keyring that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or creating the file failed.
    #[error("challenge key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is wrong.
    #[error("line {line}: {why}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// A line is wrong, in a named file.
    #[error("{path}:{line}: {why}")]
    FileSyntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// No `current` line.
    #[error(
        "the challenge key file has no `current <kid> <key>` line; delete it to have a new key generated"
    )]
    NoCurrent,
    /// A key id outside the allowed characters.
    #[error("key id `{0}` must be 1 to 32 of A-Z a-z 0-9 _ -")]
    BadKid(String),
    /// Two keys with one id.
    #[error("key id `{0}` appears twice")]
    DuplicateKid(String),
}

impl KeyFileError {
    fn in_file(self, path: &Path) -> Self {
        match self {
            KeyFileError::Syntax { line, why } => KeyFileError::FileSyntax {
                path: path.to_path_buf(),
                line,
                why,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac_with(key: &[u8], data: &[u8]) -> String {
        // RFC 4231 keys are not all 32 bytes; this crate only ever uses 32-byte keys, so the
        // vectors with 20- and 4-byte keys are zero-padded here, which is what HMAC does too.
        let mut k = [0u8; KEY_LEN];
        k[..key.len()].copy_from_slice(key);
        hex::encode(Key(k).mac(&[data]))
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 1.
        assert_eq!(
            hmac_with(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2.
        assert_eq!(
            hmac_with(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 3, split into parts: the parts are simply concatenated.
        let data = [0xddu8; 50];
        let whole = hex::encode(Key([0xaa; 32]).mac(&[&data]));
        let split = hex::encode(Key([0xaa; 32]).mac(&[&data[..7], &data[7..]]));
        assert_eq!(whole, split);
    }

    #[test]
    fn verify_wants_the_whole_tag() {
        let key = Key([7; 32]);
        let tag = key.mac(&[b"label", b"value"]);
        assert!(key.verify(&[b"labelvalue"], &tag));
        assert!(!key.verify(&[b"labelvalue"], &tag[..31]));
        let mut forged = tag;
        forged[31] ^= 1;
        assert!(!key.verify(&[b"labelvalue"], &forged));
        assert!(!Key([8; 32]).verify(&[b"labelvalue"], &tag));
    }

    #[test]
    fn keys_never_show_in_debug() {
        let ring = Keyring::new("k1", Key([0xab; 32]))
            .unwrap()
            .with_previous("k0", Key([0xcd; 32]), 10)
            .unwrap();
        let shown = format!("{ring:?}");
        assert!(!shown.contains("ab, ab") && !shown.contains("171") && !shown.contains("abab"));
        assert!(shown.contains("<secret>"));
    }

    #[test]
    fn file_round_trip_and_errors() {
        let ring = Keyring::generate().rotated(1_000, 86_400);
        let text = ring.to_file_string();
        assert_eq!(Keyring::parse(&text).unwrap(), ring);
        assert!(matches!(
            Keyring::parse("# nothing\n"),
            Err(KeyFileError::NoCurrent)
        ));
        let e = Keyring::parse("current k1 00\n").unwrap_err();
        assert!(e.to_string().starts_with("line 1:"), "{e}");
        let key = "00".repeat(32);
        let e = Keyring::parse(&format!("current k1 {key}\ncurrent k2 {key}\n")).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = Keyring::parse(&format!("current k1 {key}\nprevious k1 {key} 5\n")).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        let e = Keyring::parse(&format!("current k1 {key}\nprevious k2 {key} soon\n")).unwrap_err();
        assert!(e.to_string().contains("Unix time"), "{e}");
        let e = Keyring::parse(&format!("current k/1 {key}\n")).unwrap_err();
        assert!(e.to_string().contains("key id"), "{e}");
    }

    #[test]
    fn rotation_retires_the_current_key_and_drops_expired_ones() {
        let one = Keyring::generate();
        let two = one.rotated(100, 50);
        assert_ne!(two.current_kid(), one.current_kid());
        assert_eq!(two.previous()[0].kid, one.current_kid());
        assert_eq!(two.previous()[0].valid_until, 150);
        let three = two.rotated(200, 50);
        // The first key's time ran out at 150: gone.
        assert_eq!(three.previous().len(), 1);
        assert_eq!(three.previous()[0].kid, two.current_kid());
    }
}
