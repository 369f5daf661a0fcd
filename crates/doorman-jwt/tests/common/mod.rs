//! Shared test parts: signing keys made at test time (EC, Ed25519 with rcgen; RSA from a
//! fixture, since generating one per run is slow in debug builds), token minting with ring,
//! JWKS documents, and a real JWKS server on 127.0.0.1 that counts its requests.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use doorman_jwt::{Algorithm, KeySource, Provider, ProviderConfig, TokenRejection};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// 2026-03-01T14:05:11Z.
pub const NOW: u64 = 1_772_373_911;
pub const ISSUER: &str = "https://id.example.test";
pub const AUDIENCE: &str = "plugins-api";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A token header, as `jsonwebtoken::Header` serializes one (`typ`, `alg`, `kid` when set).
#[derive(Debug, Clone)]
pub struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

impl Header {
    pub fn new(alg: Algorithm) -> Self {
        Self { alg, kid: None }
    }

    fn to_json(&self) -> String {
        let mut h = json!({"typ": "JWT", "alg": self.alg.as_str()});
        if let Some(kid) = &self.kid {
            h["kid"] = json!(kid);
        }
        h.to_string()
    }
}

/// A signing key. Tests sign with ring (as the crate verifies with it), so that no other crypto
/// backend, above all the `rsa` crate, is needed even as a dev-dependency.
enum Signer {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A signing key and the public JWK that verifies it.
pub struct TestKey {
    pub alg: Algorithm,
    pub kid: String,
    signer: Signer,
    pub jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload.signature`, the signature made by `sign` over `header.payload`.
fn compact(header: &Header, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_json().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// An HS* token signed with `secret` (the algorithm is the header's).
pub fn sign_hmac(header: &Header, claims: &Value, secret: &[u8]) -> String {
    let alg = match header.alg {
        Algorithm::Hs256 => hmac::HMAC_SHA256,
        Algorithm::Hs384 => hmac::HMAC_SHA384,
        Algorithm::Hs512 => hmac::HMAC_SHA512,
        other => panic!("{other} is not an HMAC algorithm"),
    };
    compact(header, claims, |input| {
        hmac::sign(&hmac::Key::new(alg, secret), input)
            .as_ref()
            .to_vec()
    })
}

impl TestKey {
    fn ec(kid: &str, alg: Algorithm) -> Self {
        let (rc_alg, ring_alg, crv, len) = match alg {
            Algorithm::Es256 => (
                &rcgen::PKCS_ECDSA_P256_SHA256,
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                "P-256",
                32,
            ),
            _ => (
                &rcgen::PKCS_ECDSA_P384_SHA384,
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                "P-384",
                48,
            ),
        };
        let kp = rcgen::KeyPair::generate_for(rc_alg).expect("generate EC key");
        let point = kp.public_key_raw();
        assert_eq!(point.len(), 1 + 2 * len);
        let signer = EcdsaKeyPair::from_pkcs8(ring_alg, &kp.serialize_der(), &SystemRandom::new())
            .expect("EC PKCS#8");
        Self {
            alg,
            kid: kid.to_string(),
            signer: Signer::Ecdsa(signer),
            jwk: json!({
                "kty": "EC", "crv": crv, "use": "sig", "kid": kid,
                "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..]),
            }),
        }
    }

    pub fn es256(kid: &str) -> Self {
        Self::ec(kid, Algorithm::Es256)
    }

    pub fn es384(kid: &str) -> Self {
        Self::ec(kid, Algorithm::Es384)
    }

    pub fn ed25519(kid: &str) -> Self {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("generate Ed25519");
        let signer = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&kp.serialize_der())
            .expect("Ed25519 PKCS#8");
        Self {
            alg: Algorithm::EdDsa,
            kid: kid.to_string(),
            signer: Signer::Ed25519(signer),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": kid,
                "x": b64(kp.public_key_raw()),
            }),
        }
    }

    /// The fixture RSA key (2048 bits, test only, PKCS#1 PEM), for RS* or PS*.
    pub fn rsa(kid: &str, alg: Algorithm) -> Self {
        let pem = std::fs::read_to_string(fixture("rsa2048-test-only.pem")).expect("RSA fixture");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body).expect("RSA fixture is base64");
        let signer = RsaKeyPair::from_der(&der).expect("RSA fixture parses");
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(signer.public());
        // The fixture serves RS256 and PS256 tests alike: the JWK names no `alg`.
        let jwk = json!({
            "kty": "RSA", "use": "sig", "kid": kid,
            "n": b64(&public.n), "e": b64(&public.e),
        });
        Self {
            alg,
            kid: kid.to_string(),
            signer: Signer::Rsa(signer),
            jwk,
        }
    }

    pub fn header(&self) -> Header {
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.clone());
        h
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(self.header(), claims)
    }

    /// Signs with the header's algorithm, which must suit the key (as `jsonwebtoken::encode`).
    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        let rng = SystemRandom::new();
        compact(&header, claims, |input| match &self.signer {
            Signer::Ecdsa(kp) => {
                assert_eq!(
                    header.alg, self.alg,
                    "an EC key signs its own algorithm only"
                );
                kp.sign(&rng, input).expect("ECDSA sign").as_ref().to_vec()
            }
            Signer::Ed25519(kp) => {
                assert_eq!(header.alg, Algorithm::EdDsa);
                kp.sign(input).as_ref().to_vec()
            }
            Signer::Rsa(kp) => {
                let padding: &'static dyn signature::RsaEncoding = match header.alg {
                    Algorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::Rs384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::Rs512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::Ps256 => &signature::RSA_PSS_SHA256,
                    Algorithm::Ps384 => &signature::RSA_PSS_SHA384,
                    Algorithm::Ps512 => &signature::RSA_PSS_SHA512,
                    other => panic!("an RSA key cannot sign {other}"),
                };
                let mut out = vec![0; kp.public().modulus_len()];
                kp.sign(padding, &rng, input, &mut out).expect("RSA sign");
                out
            }
        })
    }

    /// A token naming `kid` but signed by this key.
    pub fn sign_as_kid(&self, kid: &str, claims: &Value) -> String {
        let mut h = self.header();
        h.kid = Some(kid.to_string());
        self.sign_with(h, claims)
    }
}

pub fn jwks(keys: &[&TestKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }).to_string()
}

/// Claims that pass the default test provider at `now`.
pub fn claims(now: u64) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": now - 10,
        "exp": now + 3600,
        "scope": "plugins:weather chat:read",
    })
}

/// `claims(now)` with some fields replaced (a `null` value removes the claim).
pub fn claims_with(now: u64, changes: Value) -> Value {
    let mut c = claims(now);
    let obj = c.as_object_mut().expect("object");
    for (k, v) in changes.as_object().expect("object") {
        if v.is_null() {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
    c
}

/// A token from raw JSON parts and a raw signature string (for tokens no library would make).
pub fn raw_token(header: &str, payload: &str, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.as_bytes()),
        b64(payload.as_bytes())
    )
}

/// The default test provider's config around `keys`.
pub fn config(keys: KeySource) -> ProviderConfig {
    let mut c = ProviderConfig::new("main", ISSUER, keys);
    c.audiences = vec![AUDIENCE.to_string()];
    c
}

/// A provider reading `jwks_json` from a file (written to a temp dir, read eagerly).
pub fn file_provider(jwks_json: &str, tweak: impl FnOnce(&mut ProviderConfig)) -> Provider {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks_json).expect("write jwks");
    let mut c = config(KeySource::JwksFile(path));
    tweak(&mut c);
    Provider::new(c).expect("provider builds")
}

pub fn expect_rejection(
    result: Result<doorman_jwt::VerifiedToken, TokenRejection>,
) -> TokenRejection {
    match result {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => e,
    }
}

/// Asserts the code, that the reason mentions every fact, and that a remedy exists.
pub fn assert_rejection(r: &TokenRejection, code: &str, facts: &[&str]) {
    assert_eq!(r.code(), code, "{r}");
    let reason = r.reason();
    for f in facts {
        assert!(reason.contains(f), "reason lacks {f:?}: {reason}");
    }
    assert!(!r.remedy().is_empty());
}

/// What the test JWKS server answers.
struct Answer {
    status: StatusCode,
    body: String,
    delay: Duration,
}

/// A real HTTP(S) server on 127.0.0.1 serving one JWKS document on every path, counting
/// requests. Each answer closes the connection (as the client's fetches do not reuse them).
pub struct JwksServer {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    answer: Arc<Mutex<Answer>>,
    task: JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(body: String) -> Self {
        Self::start_with(body, None).await
    }

    /// With TLS: `tls` is the server config (certificate from the test's own CA).
    pub async fn start_with(body: String, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(Mutex::new(Answer {
            status: StatusCode::OK,
            body,
            delay: Duration::ZERO,
        }));
        let (h, a) = (hits.clone(), answer.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (h, a, tls) = (h.clone(), a.clone(), tls.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                        let (h, a) = (h.clone(), a.clone());
                        async move {
                            h.fetch_add(1, Ordering::SeqCst);
                            let (status, body, delay) = {
                                let a = a.lock().expect("answer lock");
                                (a.status, a.body.clone(), a.delay)
                            };
                            tokio::time::sleep(delay).await;
                            Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .header("connection", "close")
                                    .body(Full::new(Bytes::from(body)))
                                    .expect("response"),
                            )
                        }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                        }
                        Some(cfg) => {
                            if let Ok(stream) =
                                tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await
                            {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    }
                });
            }
        });
        Self {
            addr,
            hits,
            answer,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn set_body(&self, body: String) {
        self.answer.lock().expect("lock").body = body;
    }

    pub fn set_status(&self, status: u16) {
        self.answer.lock().expect("lock").status = StatusCode::from_u16(status).expect("status");
    }

    pub fn set_delay(&self, delay: Duration) {
        self.answer.lock().expect("lock").delay = delay;
    }

    /// Stops accepting: the listener closes, so connections are refused from now on.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
