//! The one envelope every value this crate hands out travels in:
//!
//! ```text
//! v1.<kid>.<body: base64url of a binary body>.<tag: base64url of HMAC-SHA256>
//! ```
//!
//! The tag covers a purpose label (`doorman-clearance`, `doorman-pow`, `doorman-marker`) and the
//! text `v1.<kid>.<body>`: the label keeps one kind of value from passing for another (a
//! challenge token is not a clearance), and signing the text rather than the decoded body means
//! nothing is decoded before it is authenticated. Only base64url letters and `.` appear, so a
//! value is a valid cookie value and form field as it is.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keys::{KeyStatus, Keyring, valid_kid};

/// No value this crate mints comes near this; longer input is refused before any work.
pub(crate) const MAX_LEN: usize = 512;

/// What a signed value is for; part of the MAC input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Clearance,
    Pow,
    Marker,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Clearance => b"doorman-clearance\0",
            Purpose::Pow => b"doorman-pow\0",
            Purpose::Marker => b"doorman-marker\0",
        }
    }
}

/// Signs `body` with the keyring's current key.
pub(crate) fn seal(keyring: &Keyring, purpose: Purpose, body: &[u8]) -> String {
    let (kid, key) = keyring.signer();
    let mut out = format!("v1.{kid}.{}", URL_SAFE_NO_PAD.encode(body));
    let tag = key.mac(&[purpose.label(), out.as_bytes()]);
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(tag));
    out
}

/// Why an envelope was refused, before its body is looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    Malformed(&'static str),
    UnknownKey { kid: String },
    Tampered { kid: String },
}

/// A value whose tag verified.
#[derive(Debug)]
pub(crate) struct Opened {
    pub kid: String,
    pub body: Vec<u8>,
    pub status: KeyStatus,
}

/// Checks the envelope and the tag; the caller decodes the body and decides what a retired
/// key means at its time.
pub(crate) fn open(keyring: &Keyring, purpose: Purpose, value: &str) -> Result<Opened, OpenError> {
    if value.len() > MAX_LEN {
        return Err(OpenError::Malformed(
            "it is longer than any value this site issues",
        ));
    }
    let mut parts = value.split('.');
    let (Some(version), Some(kid), Some(body), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(OpenError::Malformed(
            "it does not have the four parts v1.<key>.<data>.<signature>",
        ));
    };
    if version != "v1" {
        return Err(OpenError::Malformed("it is not in version 1 of the format"));
    }
    if !valid_kid(kid) {
        return Err(OpenError::Malformed(
            "its key id has characters no key id has",
        ));
    }
    let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
        return Err(OpenError::Malformed("its signature is not base64url"));
    };
    let Some((key, status)) = keyring.find(kid) else {
        return Err(OpenError::UnknownKey {
            kid: kid.to_owned(),
        });
    };
    let signed = &value[..value.len() - tag_text_len(value)];
    if !key.verify(&[purpose.label(), signed.as_bytes()], &tag) {
        return Err(OpenError::Tampered {
            kid: kid.to_owned(),
        });
    }
    let Ok(body) = URL_SAFE_NO_PAD.decode(body) else {
        // Unreachable for values we signed; kept as an answer rather than a panic.
        return Err(OpenError::Malformed("its data is not base64url"));
    };
    Ok(Opened {
        kid: kid.to_owned(),
        body,
        status,
    })
}

/// Length of the final `.<tag>` part, dot included.
fn tag_text_len(value: &str) -> usize {
    value.rfind('.').map_or(0, |i| value.len() - i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;

    #[test]
    fn seal_open_and_purpose_separation() {
        let ring = Keyring::new("k1", Key::from_bytes([7; 32])).unwrap();
        let v = seal(&ring, Purpose::Clearance, b"hello");
        assert!(v.starts_with("v1.k1."));
        let o = open(&ring, Purpose::Clearance, &v).unwrap();
        assert_eq!(o.body, b"hello");
        assert_eq!(o.kid, "k1");
        assert!(matches!(
            open(&ring, Purpose::Pow, &v),
            Err(OpenError::Tampered { .. })
        ));
        assert!(matches!(
            open(&ring, Purpose::Clearance, "v2.k1.aGk.aGk"),
            Err(OpenError::Malformed(_))
        ));
        assert!(matches!(
            open(&ring, Purpose::Clearance, &v.replace("k1", "k9")),
            Err(OpenError::UnknownKey { .. })
        ));
        assert!(matches!(
            open(&ring, Purpose::Clearance, &"a".repeat(MAX_LEN + 1)),
            Err(OpenError::Malformed(_))
        ));
    }
}
