//! A verify-only `jsonwebtoken` [`CryptoProvider`] on `ring` (already in the tree through
//! rustls), so that the gateway ships no `rsa` crate: its RSA decryption has a timing side
//! channel with no fix (RUSTSEC-2023-0071), and Doorman only ever verifies. It checks RS*, PS*,
//! ES256/ES384, EdDSA and HS*; it never signs, and the JWK helpers Doorman does not use fail
//! with an error that says so.
//!
//! The crate calls [`verify`] and [`check_key`] here directly rather than through the process
//! default, so which provider another part of the process installed cannot change what Doorman
//! accepts. [`install`] still makes this provider the process default once, so that any other
//! `jsonwebtoken` call in the process finds a provider instead of panicking.

use std::sync::Once;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::ThumbprintHash;
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature::{self as sig, UnparsedPublicKey};
use ring::{agreement, digest, hmac, rand};

use crate::jwks::bit_length;

/// ring's RSA verification algorithms take keys of 2048 to 8192 bits (RFC 7518 §3.3 also
/// requires at least 2048).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;
/// ring's limit on the public exponent: odd, at least 3, below 2^33.
const RSA_MAX_E: u64 = (1 << 33) - 1;

/// The provider. Doorman's own code reaches it through [`verify`] and [`check_key`].
pub(crate) static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: no_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(unsupported("reading RSA private keys")),
        rsa_pub_components_from_public_key: |_| Err(unsupported("reading RSA DER keys for JWKs")),
        ec_pub_components_from_private_key: |_, _| Err(unsupported("reading EC private keys")),
        ed_pub_components_from_private_key: |_, _| Err(unsupported("reading Ed25519 private keys")),
        // Free with ring, and it keeps `Jwk::thumbprint` working for anyone in the process.
        compute_digest,
    },
};

/// Makes [`PROVIDER`] the process default, once. Another provider installed first is left in
/// place: Doorman's verification does not go through the default.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if PROVIDER.install_default().is_err() {
            tracing::debug!(
                "another jsonwebtoken CryptoProvider is already the process default; \
                 doorman-jwt verifies with its own ring provider regardless"
            );
        }
    });
}

/// Whether `signature_b64` (the token's third part) is `key`'s signature of `message` under
/// `alg`. `Err` means the key cannot check this algorithm or the signature is not base64url.
pub(crate) fn verify(
    signature_b64: &str,
    message: &[u8],
    key: &DecodingKey,
    alg: Algorithm,
) -> Result<bool, Error> {
    install();
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| Error::from(ErrorKind::InvalidSignature))?;
    let verifier = new_verifier(&alg, key)?;
    Ok(signature::Verifier::verify(&*verifier, message, &signature).is_ok())
}

/// Checks, once at load time, that `key` can check `alg` signatures: what ring would only find
/// out while verifying, and then report as a bad signature on every request.
pub(crate) fn check_key(key: &DecodingKey, alg: Algorithm) -> Result<(), String> {
    install();
    match prepare(alg, key)? {
        Check::Ecdsa { ecdh, point, .. } => {
            // ring parses an ECDSA key only inside `verify`, where a point off the curve and a
            // wrong signature give the same error. Key agreement validates the peer's point and
            // says so; one ephemeral key per loaded key is cheap.
            let rng = rand::SystemRandom::new();
            let Ok(mine) = agreement::EphemeralPrivateKey::generate(ecdh, &rng) else {
                // No randomness: nothing was learnt about the key, so do not refuse it.
                return Ok(());
            };
            agreement::agree_ephemeral(
                mine,
                &agreement::UnparsedPublicKey::new(ecdh, point),
                |_| {},
            )
            .map_err(|_| "the EC point is not on the curve".to_string())
        }
        Check::Rsa { .. } | Check::Ed25519 { .. } | Check::Hmac(_) => Ok(()),
    }
}

/// A key made ready for one algorithm. Only cheap structural checks are done to build it,
/// since it is built for every signature checked.
enum Check {
    Rsa {
        params: &'static sig::RsaParameters,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ecdsa {
        params: &'static sig::EcdsaVerificationAlgorithm,
        ecdh: &'static agreement::Algorithm,
        point: Vec<u8>,
    },
    /// The raw 32-byte key.
    Ed25519 {
        params: &'static sig::EdDSAParameters,
        key: Vec<u8>,
    },
    Hmac(hmac::Key),
}

struct RingVerifier {
    alg: Algorithm,
    check: Check,
}

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let outcome = match &self.check {
            Check::Rsa { params, n, e } => {
                sig::RsaPublicKeyComponents { n, e }.verify(params, msg, signature)
            }
            Check::Ecdsa { params, point, .. } => {
                UnparsedPublicKey::new(*params, point).verify(msg, signature)
            }
            Check::Ed25519 { params, key } => {
                UnparsedPublicKey::new(*params, key).verify(msg, signature)
            }
            // Constant time: ring compares the tags without an early exit.
            Check::Hmac(key) => hmac::verify(key, msg, signature),
        };
        outcome.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let check = prepare(*alg, key).map_err(|why| match key.family() {
        AlgorithmFamily::Rsa => ErrorKind::InvalidRsaKey(why),
        _ => ErrorKind::Provider(why),
    })?;
    Ok(Box::new(RingVerifier { alg: *alg, check }))
}

fn prepare(alg: Algorithm, key: &DecodingKey) -> Result<Check, String> {
    use Algorithm as A;
    let family = match alg {
        A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512 => AlgorithmFamily::Rsa,
        A::ES256 | A::ES384 => AlgorithmFamily::Ec,
        A::EdDSA => AlgorithmFamily::Ed,
        A::HS256 | A::HS384 | A::HS512 => AlgorithmFamily::Hmac,
        // `Algorithm` is non-exhaustive: whatever a later version adds, we do not check.
        other => {
            return Err(format!(
                "{other:?} is not supported by Doorman's ring provider"
            ));
        }
    };
    if key.family() != family {
        let what = match key.family() {
            AlgorithmFamily::Rsa => "an RSA key",
            AlgorithmFamily::Ec => "an EC key",
            AlgorithmFamily::Ed => "an Ed25519 key",
            AlgorithmFamily::Hmac => "a shared secret",
        };
        return Err(format!("{what} cannot check a {alg:?} signature"));
    }
    let rsa = |params: &'static sig::RsaParameters| -> Result<Check, String> {
        let (n, e) = match key.kind() {
            DecodingKeyKind::RsaModulusExponent { n, e } => (n.as_slice(), e.as_slice()),
            DecodingKeyKind::SecretOrDer(der) => rsa_public_key_der(der)
                .ok_or("not a DER RSAPublicKey (PKCS#1: a SEQUENCE of two INTEGERs)")?,
        };
        let (n, e) = rsa_components(n, e)?;
        Ok(Check::Rsa { params, n, e })
    };
    let ecdsa = |params: &'static sig::EcdsaVerificationAlgorithm,
                 ecdh: &'static agreement::Algorithm,
                 curve: &str,
                 len: usize|
     -> Result<Check, String> {
        let point = key.try_get_as_bytes().map_err(|e| e.to_string())?;
        if point.len() != 1 + 2 * len || point[0] != 0x04 {
            return Err(format!(
                "not an uncompressed {curve} point (0x04, then x and y of {len} bytes each)"
            ));
        }
        Ok(Check::Ecdsa {
            params,
            ecdh,
            point: point.to_vec(),
        })
    };
    let secret = || key.try_get_as_bytes().map_err(|e| e.to_string());
    match alg {
        A::RS256 => rsa(&sig::RSA_PKCS1_2048_8192_SHA256),
        A::RS384 => rsa(&sig::RSA_PKCS1_2048_8192_SHA384),
        A::RS512 => rsa(&sig::RSA_PKCS1_2048_8192_SHA512),
        A::PS256 => rsa(&sig::RSA_PSS_2048_8192_SHA256),
        A::PS384 => rsa(&sig::RSA_PSS_2048_8192_SHA384),
        A::PS512 => rsa(&sig::RSA_PSS_2048_8192_SHA512),
        A::ES256 => ecdsa(
            &sig::ECDSA_P256_SHA256_FIXED,
            &agreement::ECDH_P256,
            "P-256",
            32,
        ),
        A::ES384 => ecdsa(
            &sig::ECDSA_P384_SHA384_FIXED,
            &agreement::ECDH_P384,
            "P-384",
            48,
        ),
        A::EdDSA => {
            let raw = key.try_get_as_bytes().map_err(|e| e.to_string())?;
            if raw.len() != 32 {
                return Err(format!("an Ed25519 key is 32 bytes, not {}", raw.len()));
            }
            Ok(Check::Ed25519 {
                params: &sig::ED25519,
                key: raw.to_vec(),
            })
        }
        A::HS256 => Ok(Check::Hmac(hmac::Key::new(hmac::HMAC_SHA256, secret()?))),
        A::HS384 => Ok(Check::Hmac(hmac::Key::new(hmac::HMAC_SHA384, secret()?))),
        A::HS512 => Ok(Check::Hmac(hmac::Key::new(hmac::HMAC_SHA512, secret()?))),
        _ => unreachable!("refused above"),
    }
}

/// `n` and `e` without leading zero bytes (ring refuses them, and some JWKS publish them), after
/// ring's own limits, checked here so that each refusal names its cause.
fn rsa_components(n: &[u8], e: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let strip = |b: &[u8]| -> Vec<u8> {
        let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        b[first..].to_vec()
    };
    let (n, e) = (strip(n), strip(e));
    let bits = bit_length(&n);
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(format!(
            "the RSA modulus is {bits} bits; keys of {RSA_MIN_BITS} to {RSA_MAX_BITS} bits are \
             verified (RFC 7518 §3.3 requires at least {RSA_MIN_BITS})"
        ));
    }
    let exponent = (e.len() <= 5).then(|| e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)));
    match exponent {
        Some(v) if (3..=RSA_MAX_E).contains(&v) && v % 2 == 1 => Ok((n, e)),
        _ => Err(
            "the RSA public exponent must be odd, at least 3 and below 2^33 (65537 is usual)"
                .to_string(),
        ),
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017 A.1.1), the
/// form `DecodingKey::from_rsa_der` and `from_rsa_pem` hold. Lenient about the integers' own
/// encoding: ring checks the values.
fn rsa_public_key_der(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (body, rest) = der_take(der, 0x30)?;
    let (n, body) = der_take(body, 0x02)?;
    let (e, body) = der_take(body, 0x02)?;
    (rest.is_empty() && body.is_empty()).then_some((n, e))
}

/// One DER element with tag `tag`: its content and what follows it.
fn der_take(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if t != tag {
        return None;
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (len, rest) = rest.split_at(count);
        (
            len.iter().fold(0, |acc, &b| (acc << 8) | usize::from(b)),
            rest,
        )
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

fn no_signer(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    Err(unsupported("signing (the gateway only verifies tokens)"))
}

fn unsupported(what: &str) -> Error {
    ErrorKind::Provider(format!("Doorman's ring provider does not support {what}")).into()
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    let alg = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return Err(unsupported("this thumbprint hash")),
    };
    Ok(digest::digest(alg, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_limits_are_named() {
        let short = [0xff_u8; 128];
        let err = rsa_components(&short, &[1, 0, 1]).unwrap_err();
        assert!(err.contains("1024 bits"), "{err}");
        let mut n = vec![0_u8; 2];
        n.extend([0xc1_u8; 256]);
        let (stripped, e) = rsa_components(&n, &[0, 1, 0, 1]).expect("leading zeros dropped");
        assert_eq!((stripped.len(), e), (256, vec![1, 0, 1]));
        for bad_e in [&[2_u8][..], &[1], &[1, 0, 0, 0, 0, 0]] {
            assert!(rsa_components(&n, bad_e).unwrap_err().contains("exponent"));
        }
    }

    #[test]
    fn der_rsa_public_key() {
        let der = [0x30, 0x08, 0x02, 0x02, 0x00, 0xc1, 0x02, 0x02, 0x01, 0x01];
        assert_eq!(
            rsa_public_key_der(&der),
            Some((&[0x00, 0xc1][..], &[0x01, 0x01][..]))
        );
        assert_eq!(rsa_public_key_der(&der[..9]), None);
        assert_eq!(rsa_public_key_der(&[0x31, 0x00]), None);
    }

    #[test]
    fn it_never_signs_and_mixes_no_families() {
        let key = EncodingKey::from_secret(&[7; 32]).expect("key");
        let err = (PROVIDER.signer_factory)(&Algorithm::HS256, &key)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("signing"), "{err}");

        let secret = DecodingKey::from_secret(&[7; 32]).expect("key");
        let err = check_key(&secret, Algorithm::RS256).unwrap_err();
        assert!(err.contains("cannot check"), "{err}");
        check_key(&secret, Algorithm::HS512).expect("an HMAC key checks HS512");
    }

    #[test]
    fn ec_points_off_the_curve_are_refused_at_load() {
        let mut point = vec![0x04];
        point.extend([1_u8; 64]);
        let err = check_key(&DecodingKey::from_ec_der(&point), Algorithm::ES256).unwrap_err();
        assert!(err.contains("not on the curve"), "{err}");
        // A P-256-sized point offered for ES384.
        let err = check_key(&DecodingKey::from_ec_der(&point), Algorithm::ES384).unwrap_err();
        assert!(err.contains("P-384"), "{err}");
    }

    #[test]
    fn hmac_verifies_in_both_directions() {
        let secret = [9_u8; 48];
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA384, &secret), b"a.b");
        let key = DecodingKey::from_secret(&secret).expect("key");
        let b64 = URL_SAFE_NO_PAD.encode(tag.as_ref());
        assert_eq!(verify(&b64, b"a.b", &key, Algorithm::HS384), Ok(true));
        assert_eq!(verify(&b64, b"a.c", &key, Algorithm::HS384), Ok(false));
        assert_eq!(verify(&b64, b"a.b", &key, Algorithm::HS256), Ok(false));
        assert!(verify("*", b"a.b", &key, Algorithm::HS384).is_err());
    }
}
