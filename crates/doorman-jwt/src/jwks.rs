//! JWKS documents into usable verification keys, and choosing the key for a token.
//!
//! Each key is read on its own, from JSON values rather than through `jsonwebtoken::jwk`, so one
//! key we cannot use (an encryption key, P-521, a 1024-bit RSA key) is skipped with a reason
//! instead of failing the whole set, and so that every key is checked once here rather than on
//! every request. Keys are bound to algorithms by family (and by the key's own `alg` when it has
//! one): an RSA key never checks an HS256 signature, which is what rules out algorithm confusion.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};

use crate::config::{Algorithm, Family};
use crate::ring_provider;
use crate::token::kind;

/// RFC 7518 §3.3: RSA keys of 2048 bits or more MUST be used.
const MIN_RSA_BITS: usize = 2048;
/// Keys kept from one document; more is not a key set but an attack on our memory and CPU.
const MAX_KEYS: usize = 100;
/// Keys tried for a token that names no `kid`: each try is a signature check, so a document with
/// many keys must not turn one token into many checks.
pub(crate) const MAX_KEYS_TRIED_WITHOUT_KID: usize = 8;

/// What a key is, for matching and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa {
        bits: usize,
    },
    EcP256,
    EcP384,
    Ed25519,
    /// A shared secret; `len` in bytes.
    Oct {
        len: usize,
    },
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "an RSA key ({bits} bits)"),
            Self::EcP256 => f.write_str("an EC P-256 key"),
            Self::EcP384 => f.write_str("an EC P-384 key"),
            Self::Ed25519 => f.write_str("an Ed25519 key"),
            Self::Oct { .. } => f.write_str("a shared-secret (oct) key"),
        }
    }
}

impl KeyKind {
    /// Whether this kind of key can check `alg` at all.
    fn fits(self, alg: Algorithm) -> bool {
        match (self, alg) {
            (Self::Rsa { .. }, a) => a.family() == Family::Rsa,
            (Self::EcP256, a) => a == Algorithm::Es256,
            (Self::EcP384, a) => a == Algorithm::Es384,
            (Self::Ed25519, a) => a == Algorithm::EdDsa,
            (Self::Oct { len }, a) => a.family() == Family::Hmac && len >= a.min_hmac_key_len(),
        }
    }

    /// An algorithm used to check that the key material loads.
    fn probe_alg(self) -> Algorithm {
        match self {
            Self::Rsa { .. } => Algorithm::Rs256,
            Self::EcP256 => Algorithm::Es256,
            Self::EcP384 => Algorithm::Es384,
            Self::Ed25519 => Algorithm::EdDsa,
            Self::Oct { .. } => Algorithm::Hs256,
        }
    }
}

/// One usable key. Debug shows no key material (it may be a shared secret).
pub(crate) struct KeyEntry {
    pub kid: Option<String>,
    pub kind: KeyKind,
    /// The key's own `alg`, when the document gives one: then it checks only that algorithm.
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    fn fits(&self, alg: Algorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }

    fn describe(&self) -> String {
        let name = match &self.kid {
            Some(k) => format!("key `{k}`"),
            None => "the key".to_string(),
        };
        match self.alg {
            Some(a) => format!("{name} is {} for {a}", self.kind),
            None => format!("{name} is {}", self.kind),
        }
    }
}

/// A key the document holds but we do not use, and why (logged at debug level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub index: usize,
    pub kid: Option<String>,
    pub why: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kid {
            Some(k) => write!(f, "key #{} (kid `{k}`): {}", self.index, self.why),
            None => write!(f, "key #{}: {}", self.index, self.why),
        }
    }
}

/// The usable keys of one document.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    pub keys: Vec<KeyEntry>,
    pub skipped: Vec<Skipped>,
}

/// What choosing keys for a token found.
pub(crate) enum Choice<'a> {
    /// Keys to try, in order.
    Try(Vec<&'a KeyEntry>),
    /// The token's `kid` (or, with no `kid`, its algorithm) matches no key.
    Unknown,
    /// The `kid` names keys, but none can check this algorithm.
    Mismatch(String),
}

impl KeySet {
    /// A set holding one shared secret (an HMAC provider's key); it answers to any `kid`.
    /// Fails only for an empty secret.
    pub fn from_secret(secret: &[u8]) -> Result<Self, String> {
        Ok(Self {
            keys: vec![KeyEntry {
                kid: None,
                kind: KeyKind::Oct { len: secret.len() },
                alg: None,
                key: DecodingKey::from_secret(secret).map_err(|e| e.to_string())?,
            }],
            skipped: Vec::new(),
        })
    }

    /// The keys that may check a token with this `kid` and `alg`. A key without a `kid` answers
    /// to any `kid` when no key has the token's exact `kid` (documents with a single, unnamed
    /// key are common).
    pub fn choose(&self, kid: Option<&str>, alg: Algorithm) -> Choice<'_> {
        let named: Vec<&KeyEntry> = match kid {
            Some(kid) => {
                let exact: Vec<&KeyEntry> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if exact.is_empty() {
                    self.keys.iter().filter(|k| k.kid.is_none()).collect()
                } else {
                    exact
                }
            }
            None => self.keys.iter().collect(),
        };
        let fitting: Vec<&KeyEntry> = named.iter().copied().filter(|k| k.fits(alg)).collect();
        if !fitting.is_empty() {
            let cap = if kid.is_none() {
                MAX_KEYS_TRIED_WITHOUT_KID
            } else {
                fitting.len()
            };
            return Choice::Try(fitting.into_iter().take(cap).collect());
        }
        match (kid, named.first()) {
            (Some(_), Some(first)) if named.iter().all(|k| k.kid.is_some()) => Choice::Mismatch(
                format!("{}, which cannot check a {alg} signature", first.describe()),
            ),
            _ => Choice::Unknown,
        }
    }
}

/// Reads a JWKS document (`{"keys": [...]}`, or a single JWK object) and keeps the keys usable
/// with `allowed`. Fails when the document is not JSON of that shape or no key is usable; the
/// message lists why each key was skipped.
pub(crate) fn parse_jwks(bytes: &[u8], allowed: &[Algorithm]) -> Result<KeySet, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(obj) = doc else {
        return Err(format!(
            "the document is {}, not a JSON object with a `keys` array",
            kind(&doc)
        ));
    };
    let items: Vec<Value> = match obj.get("keys") {
        Some(Value::Array(keys)) => keys.clone(),
        Some(other) => return Err(format!("`keys` is {}, not an array", kind(other))),
        None if obj.contains_key("kty") => vec![Value::Object(obj)],
        None => return Err("the document has no `keys` array".to_string()),
    };
    let mut set = KeySet::default();
    for (index, item) in items.iter().enumerate() {
        let kid = item.get("kid").and_then(Value::as_str).map(str::to_string);
        if set.keys.len() >= MAX_KEYS {
            set.skipped.push(Skipped {
                index,
                kid,
                why: format!("only the first {MAX_KEYS} usable keys are kept"),
            });
            continue;
        }
        match parse_key(item, allowed) {
            Ok(entry) => set.keys.push(entry),
            Err(why) => set.skipped.push(Skipped { index, kid, why }),
        }
    }
    if set.keys.is_empty() {
        if set.skipped.is_empty() {
            return Err("the `keys` array is empty".to_string());
        }
        let reasons: Vec<String> = set.skipped.iter().map(Skipped::to_string).collect();
        return Err(format!("no usable key: {}", reasons.join("; ")));
    }
    Ok(set)
}

fn parse_key(item: &Value, allowed: &[Algorithm]) -> Result<KeyEntry, String> {
    let Value::Object(k) = item else {
        return Err(format!("is {}, not an object", kind(item)));
    };
    let text = |name: &str| -> Result<Option<&str>, String> {
        match k.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!("`{name}` is {}, not a string", kind(other))),
        }
    };
    let kid = text("kid")?.map(str::to_string);
    if let Some(usage) = text("use")?
        && usage != "sig"
    {
        return Err(format!(
            "`use` is \"{usage}\", not \"sig\" (not a signing key)"
        ));
    }
    if let Some(ops) = k.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
        if !verifies {
            return Err("`key_ops` does not include \"verify\"".to_string());
        }
    }
    let alg = match text("alg")? {
        None => None,
        Some(name) => match name.parse::<Algorithm>() {
            Ok(a) if allowed.contains(&a) => Some(a),
            Ok(a) => return Err(format!("its `alg` {a} is not allowed for this provider")),
            Err(_) => return Err(format!("its `alg` \"{name}\" is not supported")),
        },
    };
    let kty = text("kty")?.ok_or("it has no `kty`")?;
    let (kind, key) = match kty {
        "RSA" => {
            let n = b64_field(k, "n")?;
            let e = b64_field(k, "e")?;
            let bits = bit_length(&n);
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "RSA modulus is {bits} bits; at least {MIN_RSA_BITS} are required (RFC 7518 §3.3)"
                ));
            }
            (
                KeyKind::Rsa { bits },
                DecodingKey::from_rsa_raw_components(&n, &e),
            )
        }
        "EC" => {
            let (kind, len) = match text("crv")? {
                Some("P-256") => (KeyKind::EcP256, 32),
                Some("P-384") => (KeyKind::EcP384, 48),
                Some(other) => return Err(format!("EC curve \"{other}\" is not supported")),
                None => return Err("EC key has no `crv`".to_string()),
            };
            let x = b64_field(k, "x")?;
            let y = b64_field(k, "y")?;
            if x.len() != len || y.len() != len {
                return Err(format!(
                    "EC coordinates are {} and {} bytes; {len} expected",
                    x.len(),
                    y.len()
                ));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (kind, DecodingKey::from_ec_der(&point))
        }
        "OKP" => {
            match text("crv")? {
                Some("Ed25519") => {}
                Some(other) => return Err(format!("OKP curve \"{other}\" is not supported")),
                None => return Err("OKP key has no `crv`".to_string()),
            }
            let x = b64_field(k, "x")?;
            if x.len() != 32 {
                return Err(format!("Ed25519 key is {} bytes; 32 expected", x.len()));
            }
            (KeyKind::Ed25519, DecodingKey::from_ed_der(&x))
        }
        "oct" => {
            if !allowed.iter().any(|a| a.family() == Family::Hmac) {
                return Err(
                    "a shared-secret (oct) key, but this provider allows no HS* algorithm"
                        .to_string(),
                );
            }
            // Never put the secret, or anything derived from it, in a message.
            let secret = b64_field(k, "k")?;
            if secret.len() < 32 {
                return Err(format!(
                    "the shared secret is {} bytes; at least 32 are required (RFC 7518 §3.2)",
                    secret.len()
                ));
            }
            let key = DecodingKey::from_secret(&secret).map_err(|e| e.to_string())?;
            (KeyKind::Oct { len: secret.len() }, key)
        }
        other => return Err(format!("key type \"{other}\" is not supported")),
    };
    if let Some(a) = alg
        && !kind.fits(a)
    {
        return Err(format!(
            "it is {kind}, which cannot check its own `alg` {a}"
        ));
    }
    if !allowed.iter().any(|a| kind.fits(*a)) {
        let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
        return Err(format!(
            "it is {kind}, and none of this provider's algorithms ({}) uses such a key",
            names.join(", ")
        ));
    }
    // Checked once now so that a broken key is reported at load time with its index, not as a
    // bad signature on every request.
    if let Err(e) = ring_provider::check_key(&key, kind.probe_alg().to_jwt()) {
        return Err(format!("the key material cannot be used: {e}"));
    }
    Ok(KeyEntry {
        kid,
        kind,
        alg,
        key,
    })
}

fn b64_field(k: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    match k.get(name) {
        Some(Value::String(s)) => URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|e| format!("`{name}` is not base64url: {e}")),
        Some(other) => Err(format!("`{name}` is {}, not a string", kind(other))),
        None => Err(format!("it has no `{name}`")),
    }
}

pub(crate) fn bit_length(be: &[u8]) -> usize {
    match be.iter().position(|&b| b != 0) {
        Some(i) => (be.len() - i - 1) * 8 + (8 - be[i].leading_zeros() as usize),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_PUBLIC: &[Algorithm] = &Algorithm::ASYMMETRIC;

    #[test]
    fn skips_what_it_cannot_use_and_says_why() {
        let doc = br#"{"keys": [
            {"kty": "EC", "crv": "P-256", "use": "enc", "kid": "e", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-521", "kid": "big", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "s", "k": "c2VjcmV0"},
            {"kty": "XYZ"},
            "nonsense"
        ]}"#;
        let err = parse_jwks(doc, ALL_PUBLIC).unwrap_err();
        for needle in [
            "kid `e`): `use` is \"enc\"",
            "P-521",
            "17 bits",
            "allows no HS*",
            "\"XYZ\" is not supported",
            "key #5: is a string",
        ] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
        // The secret itself never appears.
        assert!(!err.contains("c2VjcmV0"));
    }

    #[test]
    fn keys_ring_cannot_use_are_skipped_at_load() {
        // x = y = 1: the right length, but not a point of P-256.
        let one = URL_SAFE_NO_PAD.encode([1_u8; 32]);
        let doc = format!(
            r#"{{"keys": [{{"kty": "EC", "crv": "P-256", "kid": "off", "x": "{one}", "y": "{one}"}}]}}"#
        );
        let err = parse_jwks(doc.as_bytes(), ALL_PUBLIC).unwrap_err();
        assert!(
            err.contains("kid `off`): the key material cannot be used"),
            "{err}"
        );
        assert!(err.contains("not on the curve"), "{err}");
        // Even exponents are refused by name, not as a bad signature later.
        let n = URL_SAFE_NO_PAD.encode([0xc1_u8; 256]);
        let doc = format!(r#"{{"kty": "RSA", "kid": "r", "n": "{n}", "e": "AQAA"}}"#);
        let err = parse_jwks(doc.as_bytes(), ALL_PUBLIC).unwrap_err();
        assert!(err.contains("exponent must be odd"), "{err}");
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[0, 0, 1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(&[]), 0);
    }

    #[test]
    fn not_a_key_set() {
        assert!(
            parse_jwks(b"[]", ALL_PUBLIC)
                .unwrap_err()
                .contains("an array")
        );
        assert!(
            parse_jwks(b"{}", ALL_PUBLIC)
                .unwrap_err()
                .contains("no `keys`")
        );
        assert!(
            parse_jwks(br#"{"keys":[]}"#, ALL_PUBLIC)
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            parse_jwks(b"{", ALL_PUBLIC)
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
