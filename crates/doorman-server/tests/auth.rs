//! Authorization through the real server: every KEY_* and TOKEN_* answer with its status,
//! `WWW-Authenticate` and problem+json body; scopes; what the upstream sees; key revocation and
//! rotation reaching a running server within a second; whoami; and no secret in the key store,
//! the event log or the logs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorman_keys::{KeyStore, NewKey};
use doorman_test_support::client::{get, header};
use doorman_test_support::gateway;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};

const ISSUER: &str = "https://auth.test/";

/// An ES256 key made for this test run, with its public JWK.
struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
    jwk: Value,
}

fn es256(kid: &str) -> SigningKey {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = kp.public_key_raw().to_vec();
    SigningKey {
        kid: kid.to_owned(),
        pair: EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &kp.serialize_der(),
            &SystemRandom::new(),
        )
        .unwrap(),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "kid": kid, "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        }),
    }
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A compact ES256 JWS, signed with ring (the gateway verifies with ring too).
fn token(key: &SigningKey, claims: Value) -> String {
    let header = json!({ "typ": "JWT", "alg": "ES256", "kid": key.kid });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key
        .pair
        .sign(&SystemRandom::new(), input.as_bytes())
        .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn claims(scope: &str) -> Value {
    let now = now_s();
    json!({ "iss": ISSUER, "aud": "plugins", "sub": "ann@example.com", "scope": scope,
            "iat": now, "exp": now + 600 })
}

struct Fixture {
    env: gateway::Env,
    key: SigningKey,
    store: KeyStore,
}

async fn fixture() -> Fixture {
    let key = es256("k1");
    let jwks = json!({ "keys": [key.jwk.clone()] });
    let jwks_dir = tempfile::tempdir().unwrap().keep();
    let jwks_file = jwks_dir.join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();
    let extra = format!(
        r#"
[[routes]]
name = "plugins"
path_prefix = "/debug"
upstream = "chat"
auth = {{ methods = ["api_key", "jwt:main"], scopes = ["plugins:weather"] }}

[[routes]]
name = "keys-only"
path_prefix = "/plugins"
upstream = "chat"
auth = {{ methods = ["api_key"] }}

[auth]
key_header = "x-api-key"

[[jwt_providers]]
name = "main"
display_name = "Example Accounts"
issuer = "{ISSUER}"
audiences = ["plugins"]
jwks_file = "{}"
algorithms = ["ES256"]
"#,
        jwks_file.display()
    );
    let env = gateway::start(&extra).await;
    let store = KeyStore::open(doorman_keys::keys_path(&env.data_dir())).unwrap();
    Fixture { env, key, store }
}

fn new_key(store: &KeyStore, name: &str, scopes: &[&str]) -> String {
    let (secret, _) = store
        .create(
            NewKey {
                name: name.into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                expires_at: None,
                rate_limit: None,
            },
            "dmn_live",
            now_s() * 1000,
        )
        .unwrap();
    secret.expose().to_owned()
}

/// A GET with a JSON Accept; status, WWW-Authenticate (if any) and the body.
async fn call(
    env: &gateway::Env,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let mut all = vec![("accept", "application/json")];
    all.extend_from_slice(headers);
    let (resp, body) = get(&env.url(path), &all).await;
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (resp.status().as_u16(), www, json)
}

/// Waits (up to 2 s) until the server has seen a change to the key store.
async fn until(
    env: &gateway::Env,
    path: &str,
    headers: &[(&str, &str)],
    status: u16,
) -> (u16, Option<String>, Value) {
    let start = std::time::Instant::now();
    loop {
        let answer = call(env, path, headers).await;
        if answer.0 == status || start.elapsed() > Duration::from_secs(2) {
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "the change took {:?} to apply",
                start.elapsed()
            );
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn bearer(v: &str) -> String {
    format!("Bearer {v}")
}

#[tokio::test]
async fn api_keys_missing_malformed_unknown_scoped_and_passed_with_identity_headers() {
    let f = fixture().await;
    let env = &f.env;

    let (status, www, body) = call(env, "/debug/echo", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(
        www.as_deref(),
        Some("Bearer realm=\"doorman\""),
        "no error= without credentials"
    );
    assert_eq!(body["code"], "KEY_MISSING");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("an API key or a sign-in token from Example Accounts"),
        "{body}"
    );
    // The provider's internal name and the operator's commands are for `doorman explain`.
    let shown = body.to_string();
    assert!(
        !shown.contains("`main`") && !shown.contains("doorman keys"),
        "{shown}"
    );

    let good = new_key(&f.store, "weather-bot", &["plugins:weather"]);
    let unscoped = new_key(&f.store, "reader", &["chat"]);

    // A typo is caught by the checksum, offline.
    let mut typo = good.clone().into_bytes();
    let last = typo.len() - 8;
    typo[last] = if typo[last] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let (status, www, body) = until(
        env,
        "/debug/echo",
        &[("authorization", &bearer(&good))],
        200,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(www.is_none());
    // What the upstream saw: identity headers, no credential, no client-sent identity.
    let (_, _, echo) = call(
        env,
        "/debug/echo",
        &[
            ("authorization", &bearer(&good)),
            ("doorman-key-id", "key_forged"),
        ],
    )
    .await;
    let h = &echo["headers"];
    assert!(h.get("authorization").is_none(), "credential stripped: {h}");
    assert_ne!(h["doorman-key-id"][0], "key_forged");
    assert!(
        h["doorman-key-id"][0].as_str().unwrap().starts_with("key_"),
        "{h}"
    );
    assert_eq!(h["doorman-subject"][0], "weather-bot");
    assert_eq!(h["doorman-scopes"][0], "plugins:weather");
    assert_eq!(h["doorman-auth-method"][0], "api_key");

    let (status, www, body) = call(env, "/debug/echo", &[("authorization", &bearer(&typo))]).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "KEY_MALFORMED");
    let www = www.unwrap();
    assert!(
        www.starts_with("Bearer realm=\"doorman\", error=\"invalid_token\", error_description=\""),
        "{www}"
    );

    let (status, _, body) = call(env, "/debug/echo", &[("x-api-key", "sk-proj-abcdef")]).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "KEY_MALFORMED");
    assert!(
        body["detail"].as_str().unwrap().contains("dmn_live"),
        "{body}"
    );

    // Well-formed, right checksum, from another store.
    let other_dir = tempfile::tempdir().unwrap();
    let other = KeyStore::open(other_dir.path().join("keys.sqlite")).unwrap();
    let foreign = new_key(&other, "elsewhere", &["plugins:weather"]);
    let (status, _, body) = call(env, "/debug/echo", &[("authorization", &bearer(&foreign))]).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "KEY_UNKNOWN");

    // Created just after `good`: a snapshot may have been taken between the two.
    let (status, www, body) = until(env, "/debug/echo", &[("x-api-key", &unscoped)], 403).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "INSUFFICIENT_SCOPE");
    let www = www.unwrap();
    assert!(www.contains("error=\"insufficient_scope\""), "{www}");
    assert!(www.contains("scope=\"plugins:weather\""), "{www}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("plugins:weather"), "{detail}");

    // Revocation reaches the running server within a second.
    f.store.revoke("weather-bot", now_s() * 1000).unwrap();
    let (status, www, body) = until(
        env,
        "/debug/echo",
        &[("authorization", &bearer(&good))],
        401,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "KEY_REVOKED");
    assert!(www.unwrap().contains("invalid_token"));

    // Rotation without grace: the old key stops, the new one works, both within a second.
    let old = new_key(&f.store, "rotating", &["plugins:weather"]);
    until(env, "/debug/echo", &[("authorization", &bearer(&old))], 200).await;
    let rotation = f
        .store
        .rotate("rotating", Duration::ZERO, now_s() * 1000)
        .unwrap();
    let (status, _, body) =
        until(env, "/debug/echo", &[("authorization", &bearer(&old))], 401).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "KEY_EXPIRED");
    let (status, _, _) = until(
        env,
        "/debug/echo",
        &[("authorization", &bearer(rotation.secret.expose()))],
        200,
    )
    .await;
    assert_eq!(status, 200);

    // whoami: what the gateway sees, without the secret.
    let fresh = new_key(&f.store, "whoami-check", &["plugins:weather"]);
    until(
        env,
        "/debug/echo",
        &[("authorization", &bearer(&fresh))],
        200,
    )
    .await;
    let (status, _, me) = call(
        env,
        "/.well-known/doorman/whoami?path=%2Fdebug%2Fecho",
        &[("authorization", &bearer(&fresh))],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["credential"]["valid"], true);
    assert_eq!(me["credential"]["name"], "whoami-check");
    assert_eq!(me["credential"]["scopes"][0], "plugins:weather");
    assert_eq!(me["route"]["name"], "plugins");
    assert_eq!(me["decision"]["allowed"], true);
    assert!(!me.to_string().contains(&fresh), "whoami echoes no secret");

    // No secret in the key store, the event log or what was logged.
    let store_bytes = std::fs::read(doorman_keys::keys_path(&env.data_dir())).unwrap();
    for secret in [&good, &unscoped, &fresh, &old] {
        let body = &secret["dmn_live_".len()..];
        assert!(
            !contains(&store_bytes, body.as_bytes()),
            "a usable key is in the key store"
        );
    }
    let path = env.data_dir().join("doorman.db");
    // Stop the gateway (flushing the event log) but keep its directory to read.
    let gateway::Env { dir, gateway, .. } = f.env;
    gateway.shutdown();
    gateway.wait().await;
    let mut events = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
        events.extend(wal);
    }
    for secret in [&good, &unscoped, &typo] {
        assert!(
            !contains(&events, secret.as_bytes()),
            "a key is in the event log"
        );
    }
    assert!(
        contains(&events, b"KEY_REVOKED"),
        "the event log did record the denials"
    );
    drop(dir);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn tokens_pass_and_fail_with_their_codes() {
    let f = fixture().await;
    let env = &f.env;
    let path = "/debug/echo";
    let ask = |t: String| async move { call(env, path, &[("authorization", &bearer(&t))]).await };

    let good = token(&f.key, claims("plugins:weather chat"));
    let (status, _, body) = ask(good.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (_, _, echo) = ask(good.clone()).await;
    assert_eq!(echo["headers"]["doorman-subject"][0], "ann@example.com");
    assert_eq!(echo["headers"]["doorman-auth-method"][0], "jwt:main");

    let now = now_s();
    let expect = |(status, www, body): (u16, Option<String>, Value), code: &str, http: u16| {
        assert_eq!(status, http, "{code}: {body}");
        assert_eq!(body["code"], code, "{body}");
        if http == 401 {
            let www = www.unwrap_or_default();
            assert!(www.contains("error=\"invalid_token\""), "{code}: {www}");
        }
        body["detail"].as_str().unwrap_or_default().to_owned()
    };

    // exp is 61 s ago: past the 60 s leeway. 58 s ago: within it.
    let mut c = claims("plugins:weather");
    c["exp"] = json!(now - 61);
    let detail = expect(ask(token(&f.key, c)).await, "TOKEN_EXPIRED", 401);
    assert!(
        detail.contains("leeway") || detail.contains("60"),
        "{detail}"
    );
    let mut c = claims("plugins:weather");
    c["exp"] = json!(now - 58);
    assert_eq!(ask(token(&f.key, c)).await.0, 200, "within the leeway");

    let mut c = claims("plugins:weather");
    c["nbf"] = json!(now + 300);
    let detail = expect(ask(token(&f.key, c)).await, "TOKEN_NOT_YET_VALID", 401);
    assert!(detail.to_lowercase().contains("clock"), "{detail}");

    let stranger = es256("k1");
    expect(
        ask(token(&stranger, claims("plugins:weather"))).await,
        "TOKEN_BAD_SIGNATURE",
        401,
    );

    let mut c = claims("plugins:weather");
    c["iss"] = json!("https://evil.test/");
    expect(ask(token(&f.key, c)).await, "TOKEN_UNKNOWN_ISSUER", 401);

    let mut c = claims("plugins:weather");
    c["aud"] = json!("billing");
    expect(ask(token(&f.key, c)).await, "TOKEN_WRONG_AUDIENCE", 401);

    expect(
        ask("eyJhbGciOiJFUzI1NiJ9.not-json.sig".into()).await,
        "TOKEN_MALFORMED",
        401,
    );

    let (status, www, body) = ask(token(&f.key, claims("chat"))).await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "INSUFFICIENT_SCOPE");
    assert!(www.unwrap().contains("scope=\"plugins:weather\""));

    // A valid token on a route that only takes API keys.
    let (status, _, body) = call(
        env,
        "/plugins/weather?city=Oslo",
        &[("authorization", &bearer(&good))],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "CREDENTIAL_NOT_ACCEPTED");

    f.env.stop().await;
}

#[tokio::test]
async fn open_routes_ignore_bad_credentials_and_rate_limits_count_per_key() {
    let extra = r#"
[[rate_limits]]
id = "per-identity"
expression = 'http.request.uri.path eq "/healthz"'
requests_per_period = 2
period_secs = 60
"#;
    let env = gateway::start(extra).await;
    let store = KeyStore::open(doorman_keys::keys_path(&env.data_dir())).unwrap();
    let a = new_key(&store, "a", &[]);
    let b = new_key(&store, "b", &[]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Each key has its own budget, apart from the shared IP's.
    for key in [&a, &b] {
        for _ in 0..2 {
            let (resp, _) = get(&env.url("/healthz"), &[("authorization", &bearer(key))]).await;
            assert_eq!(resp.status(), 200);
        }
        let (resp, body) = get(
            &env.url("/healthz"),
            &[("authorization", &bearer(key)), ("accept", "text/plain")],
        )
        .await;
        assert_eq!(resp.status(), 429);
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("your API key dmn_live_"), "{text}");
        assert!(
            !text.contains(key.as_str()),
            "the receipt shows only the display form"
        );
    }
    // Without a key: the IP's own budget, untouched so far.
    assert_eq!(get(&env.url("/healthz"), &[]).await.0.status(), 200);
    // A broken key on an open route is not an error: the request is anonymous.
    let (resp, _) = get(
        &env.url("/"),
        &[("authorization", "Bearer dmn_live_nonsense")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "content-type").split(';').next(),
        Some("text/html")
    );
    env.stop().await;
}

#[tokio::test]
async fn a_key_with_its_own_rate_limit_is_held_to_it() {
    let env = gateway::start("").await;
    let store = KeyStore::open(doorman_keys::keys_path(&env.data_dir())).unwrap();
    let (secret, _) = store
        .create(
            NewKey {
                name: "metered".into(),
                scopes: vec![],
                expires_at: None,
                rate_limit: Some("2/1m".into()),
            },
            "dmn_live",
            now_s() * 1000,
        )
        .unwrap();
    let key = secret.expose().to_owned();
    let auth = bearer(&key);
    // The route is open, so an unknown key passes too: wait until the gateway knows this one.
    let start = std::time::Instant::now();
    loop {
        let (_, _, me) = call(
            &env,
            "/.well-known/doorman/whoami",
            &[("authorization", &auth)],
        )
        .await;
        if me["credential"]["valid"] == true {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the key never loaded: {me}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        get(&env.url("/healthz"), &[("authorization", &auth)])
            .await
            .0
            .status(),
        200
    );
    let (resp, _) = get(&env.url("/healthz"), &[("authorization", &auth)]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "ratelimit-policy"), "\"api-key\";q=2;w=60");
    let (status, _, body) = call(&env, "/healthz", &[("authorization", &auth)]).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "1015");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("your API key dmn_live_") && detail.contains("2 requests per 1 minute"),
        "{detail}"
    );
    // Without the key: the client's IP has no limit here.
    assert_eq!(get(&env.url("/healthz"), &[]).await.0.status(), 200);
    env.stop().await;
}
