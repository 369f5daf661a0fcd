//! Verification against keys loaded at build time (JWKS file, HMAC secret file): every
//! rejection produced by a real token, leeway boundaries, algorithm attacks, config errors.

mod common;

use std::time::Duration;

use common::*;
use doorman_jwt::{
    Algorithm as Alg, ConfigError, KeySource, Provider, ProviderConfig, Providers, TokenRejection,
};
use serde_json::json;

#[tokio::test]
async fn valid_tokens_of_every_key_type_verify() {
    let keys = [
        TestKey::es256("ec256"),
        TestKey::es384("ec384"),
        TestKey::ed25519("ed"),
        TestKey::rsa("rsa-rs", Alg::Rs256),
        TestKey::rsa("rsa-ps", Alg::Ps256),
    ];
    let refs: Vec<&TestKey> = keys.iter().collect();
    let provider = file_provider(&jwks(&refs), |_| {});
    for key in &keys {
        let v = provider
            .verify(&key.sign(&claims(NOW)), NOW)
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", key.alg));
        assert_eq!(v.provider, "main");
        assert_eq!(v.subject.as_deref(), Some("user-42"));
        assert_eq!(v.issuer, ISSUER);
        assert_eq!(v.audience, vec![AUDIENCE]);
        assert_eq!(v.expires_at, NOW + 3600);
        assert_eq!(v.issued_at, Some(NOW - 10));
        assert_eq!(v.key_id.as_deref(), Some(key.kid.as_str()));
        assert_eq!(v.claims["sub"], "user-42");
        assert!(v.has_scope("plugins:weather"));
    }
}

#[tokio::test]
async fn scopes_come_from_scope_and_scp() {
    let key = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |_| {});
    let token = key.sign(&claims_with(
        NOW,
        json!({"scope": "a b", "scp": ["b", "c"], "aud": ["other", AUDIENCE]}),
    ));
    let v = provider.verify(&token, NOW).await.expect("valid");
    assert_eq!(v.scopes, vec!["a", "b", "c"]);
    assert_eq!(v.audience, vec!["other", AUDIENCE]);
    let token = key.sign(&claims_with(NOW, json!({"scope": null, "scp": "x y"})));
    let v = provider.verify(&token, NOW).await.expect("valid");
    assert_eq!(v.scopes, vec!["x", "y"]);
}

#[tokio::test]
async fn expiry_leeway_boundary_is_exact() {
    let key = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |_| {});
    // Documented: expired when now >= exp + leeway. So exp = now - leeway fails …
    let at_boundary = key.sign(&claims_with(NOW, json!({"exp": NOW - 60})));
    let r = expect_rejection(provider.verify(&at_boundary, NOW).await);
    assert_eq!(
        r,
        TokenRejection::Expired {
            exp: NOW - 60,
            now: NOW,
            leeway: 60
        }
    );
    // … and one second later passes.
    let inside = key.sign(&claims_with(NOW, json!({"exp": NOW - 59})));
    provider.verify(&inside, NOW).await.expect("within leeway");

    let three_min = key.sign(&claims_with(NOW, json!({"exp": NOW - 180})));
    let r = expect_rejection(provider.verify(&three_min, NOW).await);
    assert_rejection(
        &r,
        "TOKEN_EXPIRED",
        &[
            "expired 3 min ago",
            "2026-03-01T14:02:11Z",
            "server time is 2026-03-01T14:05:11Z",
            "leeway 60 s",
        ],
    );
    assert!(r.remedy().contains("new token"));
}

#[tokio::test]
async fn not_before_leeway_boundary_is_exact() {
    let key = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |_| {});
    // Accepted while nbf <= now + leeway.
    let edge = key.sign(&claims_with(NOW, json!({"nbf": NOW + 60})));
    provider.verify(&edge, NOW).await.expect("nbf at the edge");
    let beyond = key.sign(&claims_with(NOW, json!({"nbf": NOW + 61})));
    let r = expect_rejection(provider.verify(&beyond, NOW).await);
    assert_eq!(
        r,
        TokenRejection::NotYetValid {
            nbf: NOW + 61,
            now: NOW,
            leeway: 60
        }
    );
    let five_min = key.sign(&claims_with(NOW, json!({"nbf": NOW + 300})));
    let r = expect_rejection(provider.verify(&five_min, NOW).await);
    assert_rejection(
        &r,
        "TOKEN_NOT_YET_VALID",
        &[
            "2026-03-01T14:10:11Z",
            "5 min from now",
            "clock",
            "ahead of this server's by about 5 min",
        ],
    );
}

#[tokio::test]
async fn issued_in_the_future_boundary_is_exact() {
    let key = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |_| {});
    let edge = key.sign(&claims_with(NOW, json!({"iat": NOW + 60})));
    provider.verify(&edge, NOW).await.expect("iat at the edge");
    let beyond = key.sign(&claims_with(NOW, json!({"iat": NOW + 120})));
    let r = expect_rejection(provider.verify(&beyond, NOW).await);
    assert!(matches!(r, TokenRejection::IssuedInFuture { iat, .. } if iat == NOW + 120));
    assert_rejection(
        &r,
        "TOKEN_NOT_YET_VALID",
        &["2026-03-01T14:07:11Z", "2 min after", "clock"],
    );
}

#[tokio::test]
async fn leeway_is_configurable_and_zero_means_exact() {
    let key = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |c| c.leeway = Duration::ZERO);
    let at_exp = key.sign(&claims_with(NOW, json!({"exp": NOW})));
    assert_eq!(
        expect_rejection(provider.verify(&at_exp, NOW).await).code(),
        "TOKEN_EXPIRED"
    );
    let just_before = key.sign(&claims_with(NOW, json!({"exp": NOW + 1})));
    provider.verify(&just_before, NOW).await.expect("valid");
}

#[tokio::test]
async fn bad_signatures_are_rejected() {
    let key = TestKey::es256("k");
    let impostor = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |_| {});

    let forged = impostor.sign(&claims(NOW));
    let r = expect_rejection(provider.verify(&forged, NOW).await);
    assert_rejection(&r, "TOKEN_BAD_SIGNATURE", &["ES256", "`k`"]);

    // A valid token whose payload was changed after signing.
    let good = key.sign(&claims(NOW));
    let parts: Vec<&str> = good.split('.').collect();
    let other_payload = raw_token(
        "{}",
        &claims_with(NOW, json!({"sub": "admin"})).to_string(),
        "",
    );
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        other_payload.split('.').nth(1).expect("payload"),
        parts[2]
    );
    let r = expect_rejection(provider.verify(&tampered, NOW).await);
    assert_eq!(r.code(), "TOKEN_BAD_SIGNATURE");

    // An RS256 token naming an EC key: the key cannot check it.
    let rsa = TestKey::rsa("k", Alg::Rs256);
    let r = expect_rejection(provider.verify(&rsa.sign(&claims(NOW)), NOW).await);
    assert_rejection(
        &r,
        "TOKEN_BAD_SIGNATURE",
        &[
            "key `k` is an EC P-256 key",
            "cannot check a RS256 signature",
        ],
    );
}

#[tokio::test]
async fn issuer_audience_and_claims_are_checked() {
    let key = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |c| {
        c.required_claims = vec!["email".to_string()];
    });
    let with_email = |changes: serde_json::Value| {
        let mut c = claims_with(NOW, changes);
        c["email"] = json!("a@example.test");
        c
    };
    provider
        .verify(&key.sign(&with_email(json!({}))), NOW)
        .await
        .expect("valid");

    let r = expect_rejection(
        provider
            .verify(
                &key.sign(&with_email(json!({"iss": "https://evil.test"}))),
                NOW,
            )
            .await,
    );
    assert_rejection(&r, "TOKEN_UNKNOWN_ISSUER", &["`https://evil.test`", ISSUER]);

    let r = expect_rejection(
        provider
            .verify(
                &key.sign(&with_email(json!({"aud": ["billing", "admin"]}))),
                NOW,
            )
            .await,
    );
    assert_rejection(
        &r,
        "TOKEN_WRONG_AUDIENCE",
        &["`billing`, `admin`", AUDIENCE],
    );
    let r = expect_rejection(
        provider
            .verify(&key.sign(&with_email(json!({"aud": null}))), NOW)
            .await,
    );
    assert_rejection(&r, "TOKEN_WRONG_AUDIENCE", &["no `aud`", AUDIENCE]);

    let r = expect_rejection(provider.verify(&key.sign(&claims(NOW)), NOW).await);
    assert_rejection(&r, "TOKEN_MISSING_CLAIM", &["`email`"]);
    let r = expect_rejection(
        provider
            .verify(&key.sign(&with_email(json!({"exp": null}))), NOW)
            .await,
    );
    assert_rejection(&r, "TOKEN_MISSING_CLAIM", &["`exp`"]);
    let r = expect_rejection(
        provider
            .verify(&key.sign(&with_email(json!({"iss": null}))), NOW)
            .await,
    );
    assert_rejection(&r, "TOKEN_MISSING_CLAIM", &["`iss`"]);
}

#[tokio::test]
async fn unknown_key_ids_are_named() {
    let key = TestKey::es256("k1");
    let provider = file_provider(&jwks(&[&key]), |_| {});
    let r = expect_rejection(
        provider
            .verify(&key.sign_as_kid("k9", &claims(NOW)), NOW)
            .await,
    );
    assert_rejection(&r, "TOKEN_UNKNOWN_KEY", &["`k9`"]);

    // No kid at all, and no key fits EdDSA.
    let ed = TestKey::ed25519("x");
    let mut h = Header::new(Alg::EdDsa);
    h.kid = None;
    let r = expect_rejection(provider.verify(&ed.sign_with(h, &claims(NOW)), NOW).await);
    assert_rejection(&r, "TOKEN_UNKNOWN_KEY", &["no `kid`", "EdDSA"]);

    // No kid, but a fitting key: it is tried.
    let mut h = Header::new(Alg::Es256);
    h.kid = None;
    provider
        .verify(&key.sign_with(h, &claims(NOW)), NOW)
        .await
        .expect("kid-less token, one fitting key");
}

#[tokio::test]
async fn alg_none_is_always_rejected() {
    let key = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |_| {});
    let payload = claims(NOW).to_string();
    for alg in ["none", "None", "NONE"] {
        for sig in ["", "c2ln"] {
            let token = raw_token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), &payload, sig);
            let r = expect_rejection(provider.verify(&token, NOW).await);
            assert_rejection(&r, "TOKEN_ALGORITHM_NOT_ALLOWED", &["unsigned"]);
        }
    }
}

#[tokio::test]
async fn algorithms_outside_the_allowlist_are_rejected() {
    let key = TestKey::es384("k");
    let provider = file_provider(&jwks(&[&key, &TestKey::es256("k2")]), |c| {
        c.algorithms = vec![Alg::Es256];
    });
    let r = expect_rejection(provider.verify(&key.sign(&claims(NOW)), NOW).await);
    assert_rejection(
        &r,
        "TOKEN_ALGORITHM_NOT_ALLOWED",
        &["`ES384`", "allowed: ES256"],
    );
    let token = raw_token(r#"{"alg":"XS999"}"#, &claims(NOW).to_string(), "");
    let r = expect_rejection(provider.verify(&token, NOW).await);
    assert_rejection(&r, "TOKEN_ALGORITHM_NOT_ALLOWED", &["`XS999`"]);
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    // The classic algorithm confusion: the attacker uses the (public) RSA key as an HMAC secret.
    let rsa = TestKey::rsa("rsa", Alg::Rs256);
    let public_pem = std::fs::read(fixture("rsa2048-test-only.pub.pem")).expect("pub pem");
    let mut h = Header::new(Alg::Hs256);
    h.kid = Some("rsa".to_string());
    let token = sign_hmac(&h, &claims(NOW), &public_pem);

    let provider = file_provider(&jwks(&[&rsa]), |c| c.algorithms = vec![Alg::Rs256]);
    let r = expect_rejection(provider.verify(&token, NOW).await);
    assert_rejection(&r, "TOKEN_ALGORITHM_NOT_ALLOWED", &["`HS256`", "RS256"]);
    provider
        .verify(&rsa.sign(&claims(NOW)), NOW)
        .await
        .expect("the genuine RS256 token passes");

    // And a provider cannot be configured to accept both families at once.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[&rsa])).expect("write");
    let mut c = config(KeySource::JwksFile(path));
    c.algorithms = vec![Alg::Rs256, Alg::Hs256];
    let err = Provider::new(c).unwrap_err();
    assert!(matches!(err, ConfigError::MixedAlgorithms { .. }), "{err}");
    assert!(err.to_string().contains("algorithm-confusion"), "{err}");
}

#[tokio::test]
async fn malformed_tokens_say_which_part() {
    let key = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |_| {});
    let good = key.sign(&claims(NOW));
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        (String::new(), "empty"),
        (format!("{}.{}", parts[0], parts[1]), "this one has 2"),
        ("a.b.c.d.e".to_string(), "JWE"),
        (
            format!("%%%.{}.{}", parts[1], parts[2]),
            "part 1 (the header) is not base64url",
        ),
        (
            raw_token("not json", &claims(NOW).to_string(), parts[2]),
            "part 1 (the header) is not valid JSON",
        ),
        (
            raw_token(r#"{"alg":"ES256"}"#, "[1,2]", parts[2]),
            "part 2 (the payload) is JSON an array",
        ),
        (
            format!("{}.{}.%%%", parts[0], parts[1]),
            "part 3 (the signature)",
        ),
        (raw_token(r#"{"kid":"k"}"#, "{}", ""), "no `alg`"),
        (format!("Bearer {good}"), "Bearer"),
    ];
    for (token, fact) in cases {
        let r = expect_rejection(provider.verify(&token, NOW).await);
        assert_rejection(&r, "TOKEN_MALFORMED", &[fact]);
    }
    // A claim of the wrong type, in an otherwise valid, signed token.
    let r = expect_rejection(
        provider
            .verify(
                &key.sign(&claims_with(NOW, json!({"exp": "tomorrow"}))),
                NOW,
            )
            .await,
    );
    assert_rejection(
        &r,
        "TOKEN_MALFORMED",
        &["claim `exp` is a string", "NumericDate"],
    );
    let r = expect_rejection(
        provider
            .verify(&key.sign(&claims_with(NOW, json!({"scp": 7}))), NOW)
            .await,
    );
    assert_rejection(&r, "TOKEN_MALFORMED", &["claim `scp` is a number"]);
    let huge = "a".repeat(70_000);
    let r = expect_rejection(provider.verify(&huge, NOW).await);
    assert_rejection(&r, "TOKEN_MALFORMED", &["70000 bytes"]);
}

#[tokio::test]
async fn token_values_echoed_in_reasons_are_clipped() {
    let key = TestKey::es256("k");
    let provider = file_provider(&jwks(&[&key]), |_| {});
    let long_iss = format!("https://{}", "x".repeat(5000));
    let r = expect_rejection(
        provider
            .verify(&key.sign(&claims_with(NOW, json!({"iss": long_iss}))), NOW)
            .await,
    );
    assert_eq!(r.code(), "TOKEN_UNKNOWN_ISSUER");
    assert!(r.reason().len() < 600, "{}", r.reason().len());
}

fn secret_provider(secret: &[u8], algs: Vec<Alg>) -> Result<Provider, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secret");
    std::fs::write(&path, secret).expect("write");
    let mut c = config(KeySource::HmacSecretFile(path));
    c.algorithms = algs;
    Provider::new(c)
}

#[tokio::test]
async fn hmac_secret_providers_verify_and_never_show_the_secret() {
    let secret = b"0123456789abcdef0123456789abcdef-and-some-more";
    let mut file = secret.to_vec();
    file.push(b'\n'); // as `echo … > file` writes it
    let provider = secret_provider(&file, vec![Alg::Hs256]).expect("builds");
    let token = sign_hmac(&Header::new(Alg::Hs256), &claims(NOW), secret);
    let v = provider.verify(&token, NOW).await.expect("valid");
    assert_eq!(v.subject.as_deref(), Some("user-42"));

    let wrong = sign_hmac(
        &Header::new(Alg::Hs256),
        &claims(NOW),
        b"another secret that is long enough....",
    );
    let r = expect_rejection(provider.verify(&wrong, NOW).await);
    assert_eq!(r.code(), "TOKEN_BAD_SIGNATURE");

    let debug = format!("{provider:?} {:?}", provider.key_status());
    assert!(!debug.contains("0123456789abcdef"), "{debug}");

    // Too short for the strictest allowed algorithm; the message says lengths, not content.
    let err = secret_provider(
        b"short-secret-0123456789abcdef-40bytes!!!",
        vec![Alg::Hs256, Alg::Hs512],
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("40 bytes") && msg.contains("HS512 needs at least 64"),
        "{msg}"
    );
    assert!(!msg.contains("short-secret"), "{msg}");
    // A secret cannot check RS256.
    let err = secret_provider(secret, vec![Alg::Rs256]).unwrap_err();
    assert!(
        matches!(err, ConfigError::KeySourceMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn jwks_files_are_checked_at_build_time() {
    let missing = std::env::temp_dir().join("doorman-jwt-no-such-dir/jwks.json");
    let err = Provider::new(config(KeySource::JwksFile(missing.clone()))).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&missing.display().to_string()) && msg.contains("cannot be read"),
        "{msg}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, "{\"keys\": [").expect("write");
    let msg = Provider::new(config(KeySource::JwksFile(path.clone())))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("jwks.json") && msg.contains("not valid JSON"),
        "{msg}"
    );

    let enc = json!({"keys": [{"kty": "EC", "crv": "P-256", "use": "enc", "kid": "e", "x": "AA", "y": "AA"}]});
    std::fs::write(&path, enc.to_string()).expect("write");
    let msg = Provider::new(config(KeySource::JwksFile(path.clone())))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("no usable key") && msg.contains("\"enc\""),
        "{msg}"
    );

    // One unusable key among good ones is skipped, not fatal.
    let key = TestKey::es256("good");
    let mut doc: serde_json::Value = serde_json::from_str(&jwks(&[&key])).expect("json");
    doc["keys"]
        .as_array_mut()
        .expect("keys")
        .push(json!({"kty": "EC", "crv": "P-521", "kid": "odd", "x": "AA", "y": "AA"}));
    std::fs::write(&path, doc.to_string()).expect("write");
    let provider = Provider::new(config(KeySource::JwksFile(path))).expect("builds");
    assert_eq!(provider.key_status().key_ids, vec!["good"]);
    provider
        .verify(&key.sign(&claims(NOW)), NOW)
        .await
        .expect("valid");
}

#[test]
fn provider_settings_are_validated() {
    let url = |u: &str| KeySource::JwksUrl(doorman_jwt::JwksUrl::new(u));
    let err = |c: ProviderConfig| Provider::new(c).unwrap_err().to_string();

    assert!(err(config(url("http://idp.example.test/jwks"))).contains("only for loopback"));
    assert!(err(config(url("ftp://idp/jwks"))).contains("scheme `ftp`"));
    let e = err(config(url("idp/jwks")));
    assert!(
        e.contains("no scheme") || e.contains("not a valid URL"),
        "{e}"
    );
    assert!(err(config(url("/jwks"))).contains("no scheme"));
    let mut c = config(url("https://idp.example.test/jwks"));
    c.algorithms = vec![Alg::Hs256];
    assert!(err(c).contains("must not be fetched from a URL"));
    let mut c = config(url("https://idp.example.test/jwks"));
    if let KeySource::JwksUrl(u) = &mut c.keys {
        u.min_refetch_interval = Duration::from_millis(10);
    }
    assert!(err(c).contains("min_refetch_interval"));
    let mut c = config(url("https://idp.example.test/jwks"));
    c.algorithms.clear();
    assert!(err(c).contains("no algorithm"));
    let mut c = config(url("https://idp.example.test/jwks"));
    c.issuer.clear();
    assert!(err(c).contains("`issuer` is empty"));
    let mut c = config(url("https://idp.example.test/jwks"));
    if let KeySource::JwksUrl(u) = &mut c.keys {
        u.ca_file = Some("/nonexistent/ca.pem".into());
    }
    assert!(err(c).contains("/nonexistent/ca.pem"));
    // Loopback over plain http is fine (tests, sidecars).
    Provider::new(config(url("http://127.0.0.1:9/jwks"))).expect("loopback http");
    Provider::new(config(url("http://[::1]:9/jwks"))).expect("loopback v6");
}

#[tokio::test]
async fn providers_route_by_issuer() {
    let a = TestKey::es256("a");
    let b = TestKey::ed25519("b");
    let pa = file_provider(&jwks(&[&a]), |c| c.name = "alpha".into());
    let pb = file_provider(&jwks(&[&b]), |c| {
        c.name = "beta".into();
        c.issuer = "https://other.example.test".into();
    });
    let set = Providers::new(vec![pa.clone(), pb]).expect("set");
    let v = set
        .verify_any(&a.sign(&claims(NOW)), NOW)
        .await
        .expect("alpha");
    assert_eq!(v.provider, "alpha");
    let tb = b.sign(&claims_with(
        NOW,
        json!({"iss": "https://other.example.test"}),
    ));
    assert_eq!(
        set.verify_any(&tb, NOW).await.expect("beta").provider,
        "beta"
    );

    let r = expect_rejection(
        set.verify_any(
            &a.sign(&claims_with(NOW, json!({"iss": "https://nobody.test"}))),
            NOW,
        )
        .await,
    );
    assert_rejection(
        &r,
        "TOKEN_UNKNOWN_ISSUER",
        &[
            "`https://nobody.test`",
            ISSUER,
            "https://other.example.test",
        ],
    );
    let r = expect_rejection(
        set.verify_any(&a.sign(&claims_with(NOW, json!({"iss": null}))), NOW)
            .await,
    );
    assert_eq!(r.code(), "TOKEN_MISSING_CLAIM");

    // Subsets by name; unknown names and duplicate names are configuration errors.
    let only_beta = set.subset(&["beta"]).expect("subset");
    assert_eq!(
        expect_rejection(only_beta.verify_any(&a.sign(&claims(NOW)), NOW).await).code(),
        "TOKEN_UNKNOWN_ISSUER"
    );
    assert!(
        set.subset(&["gamma"])
            .unwrap_err()
            .to_string()
            .contains("`alpha`, `beta`")
    );
    assert!(matches!(
        Providers::new(vec![pa.clone(), pa]),
        Err(ConfigError::DuplicateProvider { .. })
    ));
}

#[tokio::test]
async fn providers_sharing_an_issuer_are_tried_in_order() {
    let key = TestKey::es256("k");
    let first = file_provider(&jwks(&[&key]), |c| {
        c.name = "first".into();
        c.audiences = vec!["other-api".into()];
    });
    let second = file_provider(&jwks(&[&key]), |c| c.name = "second".into());
    let set = Providers::new(vec![first, second]).expect("set");
    let v = set
        .verify_any(&key.sign(&claims(NOW)), NOW)
        .await
        .expect("second");
    assert_eq!(v.provider, "second");
    let r = expect_rejection(
        set.verify_any(&key.sign(&claims_with(NOW, json!({"aud": "nobody"}))), NOW)
            .await,
    );
    // The first provider's rejection, naming its audiences.
    assert_rejection(&r, "TOKEN_WRONG_AUDIENCE", &["other-api"]);
}

#[test]
fn every_code_has_words() {
    let samples = [
        TokenRejection::Malformed { why: "x".into() },
        TokenRejection::Expired {
            exp: 1,
            now: 100,
            leeway: 60,
        },
        TokenRejection::NotYetValid {
            nbf: 100,
            now: 1,
            leeway: 60,
        },
        TokenRejection::IssuedInFuture {
            iat: 100,
            now: 1,
            leeway: 60,
        },
        TokenRejection::BadSignature {
            alg: Alg::Rs256,
            kid: None,
            key_problem: None,
        },
        TokenRejection::UnknownIssuer {
            iss: "i".into(),
            expected: vec![],
        },
        TokenRejection::WrongAudience {
            aud: vec![],
            expected: vec!["a".into()],
        },
        TokenRejection::AlgorithmNotAllowed {
            alg: "HS256".into(),
            allowed: vec![Alg::Rs256],
        },
        TokenRejection::UnknownKeyId {
            kid: Some("k".into()),
            alg: Alg::Rs256,
        },
        TokenRejection::MissingClaim { name: "sub".into() },
        TokenRejection::KeysUnavailable { why: "down".into() },
    ];
    let mut seen = std::collections::BTreeSet::new();
    for r in &samples {
        assert!(TokenRejection::CODES.contains(&r.code()), "{}", r.code());
        assert!(!r.reason().is_empty() && !r.remedy().is_empty());
        seen.insert(r.code());
        let expected_status = if r.code() == "TOKEN_KEYS_UNAVAILABLE" {
            503
        } else {
            401
        };
        assert_eq!(r.http_status(), expected_status);
    }
    assert_eq!(seen.len(), TokenRejection::CODES.len());
    // docs/jwt.md documents every code.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/jwt.md"))
        .expect("docs/jwt.md");
    for code in TokenRejection::CODES {
        assert!(doc.contains(code), "docs/jwt.md lacks {code}");
    }
}

#[tokio::test]
async fn every_rsa_and_hmac_variant_verifies() {
    for alg in [
        Alg::Rs256,
        Alg::Rs384,
        Alg::Rs512,
        Alg::Ps256,
        Alg::Ps384,
        Alg::Ps512,
    ] {
        let key = TestKey::rsa("r", alg);
        let provider = file_provider(&jwks(&[&key]), |c| c.algorithms = vec![alg]);
        let v = provider
            .verify(&key.sign(&claims(NOW)), NOW)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(v.algorithm, alg);
    }
    for (alg, len) in [(Alg::Hs256, 32), (Alg::Hs384, 48), (Alg::Hs512, 64)] {
        let secret = vec![b'k'; len];
        let provider = secret_provider(&secret, vec![alg]).expect("builds");
        let token = sign_hmac(&Header::new(alg), &claims(NOW), &secret);
        let v = provider
            .verify(&token, NOW)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(v.algorithm, alg);
        // One byte of the secret changed: the tag no longer matches.
        let mut other = secret.clone();
        other[0] ^= 1;
        let forged = sign_hmac(&Header::new(alg), &claims(NOW), &other);
        let r = expect_rejection(provider.verify(&forged, NOW).await);
        assert_eq!(r.code(), "TOKEN_BAD_SIGNATURE");
    }
}
