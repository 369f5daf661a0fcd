//! Keys from a JWKS URL, served by a real HTTP(S) server on 127.0.0.1 that counts requests:
//! fetch on first use, TTL, single flight, bounded re-fetch on unknown `kid`s, rotation, stale
//! keys when the server is down, and the failures that leave nothing cached.
//!
//! Time for the cache is the `now` passed to `verify`, so these tests move it by hand; no test
//! sleeps to make a TTL or an interval pass.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use doorman_jwt::{JwksUrl, KeySource, Provider};

fn url_provider(url: &str, tweak: impl FnOnce(&mut JwksUrl)) -> Provider {
    let mut u = JwksUrl::new(url);
    tweak(&mut u);
    Provider::new(config(KeySource::JwksUrl(u))).expect("provider builds")
}

#[tokio::test]
async fn first_use_fetches_once_and_the_ttl_holds() {
    let key = TestKey::es256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let provider = url_provider(&server.url(), |_| {});
    assert_eq!(server.hits(), 0, "nothing is fetched before first use");

    let token = key.sign(&claims(NOW));
    provider.verify(&token, NOW).await.expect("valid");
    assert_eq!(server.hits(), 1);
    // Within the 10 min TTL: no fetch.
    provider.verify(&token, NOW + 599).await.expect("valid");
    assert_eq!(server.hits(), 1);
    // At the TTL: fetched again.
    provider.verify(&token, NOW + 600).await.expect("valid");
    assert_eq!(server.hits(), 2);

    let status = provider.key_status();
    assert_eq!(status.keys, 1);
    assert_eq!(status.key_ids, vec!["k1"]);
    assert_eq!(status.fetched_at, Some(NOW + 600));
    assert_eq!((status.fetch_attempts, status.fetch_failures), (2, 0));
}

#[tokio::test]
async fn prefetch_loads_keys_before_the_first_token() {
    let key = TestKey::es256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let provider = url_provider(&server.url(), |_| {});
    provider.prefetch(NOW).await.expect("prefetch");
    assert_eq!(server.hits(), 1);
    provider
        .verify(&key.sign(&claims(NOW)), NOW)
        .await
        .expect("valid");
    assert_eq!(server.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifies_share_one_fetch() {
    let key = TestKey::es256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    // Slow answers, so every verify below starts while the first fetch is still running.
    server.set_delay(Duration::from_millis(300));
    let provider = url_provider(&server.url(), |_| {});
    let token = key.sign(&claims(NOW));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (p, t) = (provider.clone(), token.clone());
        tasks.spawn(async move { p.verify(&t, NOW).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("task").expect("valid");
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn unknown_kid_flood_refetches_at_most_once_per_interval() {
    let key = TestKey::es256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let provider = url_provider(&server.url(), |u| {
        u.min_refetch_interval = Duration::from_secs(60);
    });
    provider
        .verify(&key.sign(&claims(NOW)), NOW)
        .await
        .expect("valid");
    assert_eq!(server.hits(), 1);

    // Right after a fetch, random kids cause no fetch at all.
    for i in 0..20 {
        let r = expect_rejection(
            provider
                .verify(&key.sign_as_kid(&format!("random-{i}"), &claims(NOW)), NOW)
                .await,
        );
        assert_rejection(&r, "TOKEN_UNKNOWN_KEY", &[&format!("`random-{i}`")]);
    }
    assert_eq!(server.hits(), 1);

    // Once the interval has passed: one re-fetch for the whole flood.
    let later = NOW + 60;
    for i in 0..50 {
        let _ = provider
            .verify(
                &key.sign_as_kid(&format!("flood-{i}"), &claims(later)),
                later,
            )
            .await;
    }
    assert_eq!(server.hits(), 2);
    // Still inside the next interval: nothing more.
    let _ = provider
        .verify(&key.sign_as_kid("again", &claims(later)), later + 59)
        .await;
    assert_eq!(server.hits(), 2);
    // The next interval: one more.
    let _ = provider
        .verify(&key.sign_as_kid("again", &claims(later)), later + 60)
        .await;
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_clock_stepping_back_neither_floods_nor_freezes() {
    let key = TestKey::es256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let provider = url_provider(&server.url(), |_| {});
    provider
        .verify(&key.sign(&claims(NOW)), NOW)
        .await
        .expect("valid");
    // A request that read the time a second before the fetch: still recent, still fresh.
    let _ = provider
        .verify(&key.sign_as_kid("other", &claims(NOW)), NOW - 1)
        .await;
    assert_eq!(server.hits(), 1);
    // The clock stepped back an hour: refresh once, then the new time is the reference.
    let back = NOW - 3600;
    provider
        .verify(&key.sign(&claims(back)), back)
        .await
        .expect("valid");
    assert_eq!(server.hits(), 2);
    provider
        .verify(&key.sign(&claims(back)), back + 10)
        .await
        .expect("valid");
    assert_eq!(server.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_unknown_kid_flood_is_one_fetch() {
    let key = TestKey::es256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let provider = url_provider(&server.url(), |_| {});
    provider.prefetch(NOW).await.expect("prefetch");
    server.set_delay(Duration::from_millis(200));
    let later = NOW + 120;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let p = provider.clone();
        let t = key.sign_as_kid(&format!("r{i}"), &claims(later));
        tasks.spawn(async move { p.verify(&t, later).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(
            result.expect("task").unwrap_err().code(),
            "TOKEN_UNKNOWN_KEY"
        );
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn rotation_is_picked_up_on_an_unknown_kid() {
    let old = TestKey::es256("2026-02");
    let new = TestKey::ed25519("2026-03");
    let server = JwksServer::start(jwks(&[&old])).await;
    let provider = url_provider(&server.url(), |_| {});
    provider
        .verify(&old.sign(&claims(NOW)), NOW)
        .await
        .expect("old key");

    // The identity provider rotates; the TTL has not run out, but the new kid triggers a fetch
    // (once the interval since the last fetch has passed).
    server.set_body(jwks(&[&new]));
    let t = NOW + 90;
    let v = provider
        .verify(&new.sign(&claims(t)), t)
        .await
        .expect("new key");
    assert_eq!(v.key_id.as_deref(), Some("2026-03"));
    assert_eq!(server.hits(), 2);
    // The old key is gone from the set now.
    let r = expect_rejection(provider.verify(&old.sign(&claims(t)), t).await);
    assert_eq!(r.code(), "TOKEN_UNKNOWN_KEY");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_reused_kid_with_a_new_key_is_picked_up() {
    let old = TestKey::es256("main");
    let new = TestKey::es256("main");
    let server = JwksServer::start(jwks(&[&old])).await;
    let provider = url_provider(&server.url(), |_| {});
    provider
        .verify(&old.sign(&claims(NOW)), NOW)
        .await
        .expect("old key");
    server.set_body(jwks(&[&new]));
    // Inside the interval the signature simply fails …
    let r = expect_rejection(provider.verify(&new.sign(&claims(NOW)), NOW + 30).await);
    assert_eq!(r.code(), "TOKEN_BAD_SIGNATURE");
    assert_eq!(server.hits(), 1);
    // … after it, the failed signature triggers one re-fetch and the new key verifies.
    provider
        .verify(&new.sign(&claims(NOW)), NOW + 60)
        .await
        .expect("new key under the old kid");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn stale_keys_keep_working_while_the_server_is_down() {
    let key = TestKey::es256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let provider = url_provider(&server.url(), |_| {});
    provider
        .verify(&key.sign(&claims(NOW)), NOW)
        .await
        .expect("valid");
    server.stop().await;

    // Past the TTL: the fetch fails, the stale keys still verify.
    let t = NOW + 3600;
    provider
        .verify(&key.sign(&claims(t)), t)
        .await
        .expect("stale keys verify");
    let status = provider.key_status();
    assert_eq!((status.fetch_attempts, status.fetch_failures), (2, 1));
    assert_eq!(status.fetched_at, Some(NOW));
    let err = status.last_error.expect("last error");
    assert!(err.contains("cannot connect"), "{err}");
    // Inside the interval after the failure, no new attempt is made.
    provider
        .verify(&key.sign(&claims(t)), t + 30)
        .await
        .expect("stale keys verify");
    assert_eq!(provider.key_status().fetch_attempts, 2);
}

#[tokio::test]
async fn nothing_cached_and_unreachable_is_keys_unavailable() {
    let addr = doorman_test_support::client::closed_addr();
    let provider = url_provider(&format!("http://{addr}/jwks"), |_| {});
    let key = TestKey::es256("k1");
    let r = expect_rejection(provider.verify(&key.sign(&claims(NOW)), NOW).await);
    assert_rejection(
        &r,
        "TOKEN_KEYS_UNAVAILABLE",
        &[
            "cannot connect",
            &addr.to_string(),
            "gateway's side, not with the token",
        ],
    );
    assert!(r.is_gateway_fault());
    assert_eq!(r.http_status(), 503);
    // The next attempt waits for the interval, and the answer says when.
    let r = expect_rejection(provider.verify(&key.sign(&claims(NOW)), NOW + 1).await);
    assert_rejection(
        &r,
        "TOKEN_KEYS_UNAVAILABLE",
        &["next attempt after 2026-03-01T14:06:11Z"],
    );
    assert_eq!(provider.key_status().fetch_attempts, 1);
}

#[tokio::test]
async fn bad_answers_are_reported_and_recovered_from() {
    let key = TestKey::es256("k1");
    let server = JwksServer::start("not json".to_string()).await;
    let provider = url_provider(&server.url(), |u| u.max_response_bytes = 4096);
    let token = key.sign(&claims(NOW));

    let r = expect_rejection(provider.verify(&token, NOW).await);
    assert_rejection(
        &r,
        "TOKEN_KEYS_UNAVAILABLE",
        &["unusable", "not valid JSON"],
    );

    server.set_status(500);
    let r = expect_rejection(provider.verify(&token, NOW + 60).await);
    assert_rejection(&r, "TOKEN_KEYS_UNAVAILABLE", &["500"]);

    server.set_status(200);
    server.set_body(format!(
        "{{\"keys\": [], \"pad\": \"{}\"}}",
        "x".repeat(5000)
    ));
    let r = expect_rejection(provider.verify(&token, NOW + 120).await);
    assert_rejection(&r, "TOKEN_KEYS_UNAVAILABLE", &["larger than 4096 bytes"]);

    server.set_body(jwks(&[&key]));
    provider.verify(&token, NOW + 180).await.expect("recovered");
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = JwksServer::start(String::new()).await;
    server.set_status(302);
    let provider = url_provider(&server.url(), |_| {});
    let r = provider.prefetch(NOW).await.unwrap_err();
    assert_rejection(
        &r,
        "TOKEN_KEYS_UNAVAILABLE",
        &["302", "redirects are not followed"],
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let addr = doorman_test_support::origin::silent().await;
    let provider = url_provider(&format!("http://{addr}/jwks"), |u| {
        u.fetch_timeout = Duration::from_millis(300);
    });
    let r = expect_rejection(
        provider
            .verify(&TestKey::es256("k").sign(&claims(NOW)), NOW)
            .await,
    );
    assert_rejection(&r, "TOKEN_KEYS_UNAVAILABLE", &["within 300 ms"]);
}

#[tokio::test]
async fn https_with_the_operators_ca() {
    // A CA and a server certificate for 127.0.0.1, made for this test.
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "doorman-jwt test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA cert");
    let server_key = rcgen::KeyPair::generate().expect("server key");
    let server_cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&server_key, &ca, &ca_key)
        .expect("server cert");

    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![server_cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
    )
    .expect("server TLS config");

    let key = TestKey::es256("k1");
    let server = JwksServer::start_with(jwks(&[&key]), Some(Arc::new(tls))).await;
    let url = format!("https://127.0.0.1:{}/jwks", server.addr.port());

    let dir = tempfile::tempdir().expect("tempdir");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write CA");
    let provider = url_provider(&url, |u| u.ca_file = Some(ca_path.clone()));
    provider
        .verify(&key.sign(&claims(NOW)), NOW)
        .await
        .expect("verified over https");
    assert_eq!(server.hits(), 1);

    // Without the CA (Mozilla roots only) the certificate is refused.
    let untrusting = url_provider(&url, |_| {});
    let r = expect_rejection(untrusting.verify(&key.sign(&claims(NOW)), NOW).await);
    assert_rejection(&r, "TOKEN_KEYS_UNAVAILABLE", &["TLS"]);
    assert_eq!(server.hits(), 1);
}
