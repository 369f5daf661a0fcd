//! The proxy through real sockets: protocols, streaming, upgrades, header rules, limits, origin
//! failures and receipts. Tests that only send requests to the plain configuration share one
//! gateway; every other test starts its own origin and gateway on ephemeral ports.

use std::time::{Duration, Instant};

use bytes::Bytes;
use doorman_test_support::client::*;
use doorman_test_support::gateway::*;
use http::Request;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// The base configuration with nothing added, shared by the tests that only read answers.
static PLAIN: Shared = Shared::new("");

fn echo_headers(body: &Bytes) -> Value {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("echo body is not JSON ({e}): {body:?}"));
    v["headers"].clone()
}

#[tokio::test]
async fn http1_request_passes_with_a_ray_id() {
    let env = PLAIN.get();
    let (resp, body) = get(&env.url("/plugins/weather?city=Lisbon"), &[]).await;
    assert_eq!(resp.status(), 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["city"], "Lisbon");
    let ray = header(&resp, "doorman-ray");
    assert!(doorman_core::RayId::parse(ray).is_some(), "bad ray {ray}");
    assert!(ray.ends_with("-test"));
}

#[tokio::test]
async fn upstream_receives_the_ray_id_and_not_a_client_sent_one() {
    let env = PLAIN.get();
    let (resp, body) = get(&env.url("/debug/echo"), &[("doorman-ray", "forged")]).await;
    let seen = echo_headers(&body);
    assert_eq!(seen["doorman-ray"][0], header(&resp, "doorman-ray"));
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let env = PLAIN.get();
    let (resp, body) = h2c_get(env.addr, "/plugins/weather?city=Oslo").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert!(String::from_utf8_lossy(&body).contains("Oslo"));
    assert!(resp.headers().contains_key("doorman-ray"));
    // The origin still gets HTTP/1.1 with the host the client asked for.
    let (_, body) = h2c_get(env.addr, "/debug/echo").await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["headers"]["host"][0], env.addr.to_string());
}

#[tokio::test]
async fn tls_with_h2_and_http11_by_alpn() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, ca) = self_signed(certs.path());
    let env = start_with(|data, origin| {
        base_config(data, origin, "", "").replace(
            "[[listeners]]\naddr = \"127.0.0.1:0\"",
            &format!(
                "[[listeners]]\naddr = \"127.0.0.1:0\"\ntls = {{ cert_file = \"{}\", key_file = \"{}\" }}",
                cert.display(),
                key.display()
            ),
        )
    })
    .await;

    // h2 by ALPN.
    let tls = tls_connect(env.addr, ca.clone(), &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let resp = sender
        .send_request(
            Request::get("https://localhost/debug/echo")
                .body(http_body_util::Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let seen = echo_headers(&body);
    assert_eq!(seen["x-forwarded-proto"][0], "https");

    // HTTP/1.1 when the client offers only that.
    let tls = tls_connect(env.addr, ca, &[b"http/1.1"]).await;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let resp = sender
        .send_request(
            Request::get("/plugins/weather?city=Rome")
                .header("host", "localhost")
                .body(http_body_util::Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_11);
    env.stop().await;
}

#[tokio::test]
async fn sse_events_arrive_as_the_origin_sends_them() {
    let env = PLAIN.get();
    let req = Request::post(env.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            r#"{"model":"demo","messages":[{"role":"user","content":"hello there"}],"stream":true}"#,
        )))
        .unwrap();
    let resp = http1_client().request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = resp.into_body();
    let start = Instant::now();
    let mut arrivals = Vec::new();
    let mut text = String::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        if let Some(data) = frame.data_ref() {
            let chunk = String::from_utf8_lossy(data);
            for _ in chunk.matches("data: ") {
                arrivals.push(start.elapsed());
            }
            text.push_str(&chunk);
        }
    }
    assert!(text.contains("[DONE]"), "stream did not finish: {text}");
    assert!(arrivals.len() >= 5, "too few events: {}", arrivals.len());
    // Tokens are 100 ms apart at the origin: if the gateway buffered the response, they would all
    // arrive together at the end.
    let spread = *arrivals.last().unwrap() - arrivals[0];
    let expected = Duration::from_millis(100) * (arrivals.len() as u32 - 2);
    assert!(
        spread >= expected / 2,
        "events arrived within {spread:?}; expected them spread over ~{expected:?}"
    );
}

#[tokio::test]
async fn websocket_upgrade_passes_through() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let env = PLAIN.get();
    let (mut ws, resp) = tokio_tungstenite::connect_async(format!("ws://{}/ws/echo", env.addr))
        .await
        .expect("websocket handshake through the gateway");
    assert!(resp.headers().contains_key("doorman-ray"));
    ws.send(Message::text("ping through doorman"))
        .await
        .unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    assert_eq!(reply.into_text().unwrap().as_str(), "ping through doorman");
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    assert_eq!(reply.into_data().as_ref(), &[1u8, 2, 3]);
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed() {
    let env = PLAIN.get();
    let (_, body) = get(
        &env.url("/debug/echo"),
        &[
            ("connection", "keep-alive, x-hop-secret"),
            ("x-hop-secret", "must not reach the origin"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic Zm9vOmJhcg=="),
            ("te", "trailers"),
            ("x-end-to-end", "kept"),
        ],
    )
    .await;
    let seen = echo_headers(&body);
    for gone in ["x-hop-secret", "keep-alive", "proxy-authorization", "te"] {
        assert!(
            seen.get(gone).is_none(),
            "{gone} reached the origin: {seen}"
        );
    }
    assert_eq!(seen["x-end-to-end"][0], "kept");
}

#[tokio::test]
async fn forwarding_headers_from_untrusted_peers_are_replaced() {
    // No trusted proxies: our 127.0.0.1 peer is a plain client.
    let env = PLAIN.get();
    let (_, body) = get(
        &env.url("/debug/echo"),
        &[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-host", "evil.example"),
            ("host", "chat.example"),
        ],
    )
    .await;
    let seen = echo_headers(&body);
    assert_eq!(seen["x-forwarded-for"][0], "127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"][0], "http");
    assert_eq!(seen["x-forwarded-host"][0], "chat.example");
    assert_eq!(seen["host"][0], "chat.example");
}

#[tokio::test]
async fn xff_from_a_trusted_proxy_names_the_client_for_policy() {
    let env = start(
        r#"
[client_ip]
trusted_proxies = ["127.0.0.1/32"]
source = "x-forwarded-for"

[[routes]]
name = "office"
path_prefix = "/office"
upstream = "chat"
allow_networks = ["10.0.0.0/8"]
reason = "Office network only."
"#,
    )
    .await;
    // The client is 10.1.2.3 according to our trusted proxy (127.0.0.1): admitted.
    let (resp, _) = get(&env.url("/office/x"), &[("x-forwarded-for", "10.1.2.3")]).await;
    assert_ne!(resp.status(), 403);
    // A spoofed leftmost entry does not help: the rightmost untrusted hop is 198.51.100.9.
    let (resp, body) = get(
        &env.url("/office/x"),
        &[
            ("x-forwarded-for", "10.1.2.3, 198.51.100.9"),
            ("accept", "application/json"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["code"], "NETWORK_NOT_ALLOWED");
    assert_eq!(v["client_ip"], "198.51.100.9");
    // The upstream sees the chain extended with our peer.
    let (_, body) = get(
        &env.url("/debug/echo"),
        &[("x-forwarded-for", "198.51.100.9")],
    )
    .await;
    assert_eq!(
        echo_headers(&body)["x-forwarded-for"][0],
        "198.51.100.9, 127.0.0.1"
    );
    env.stop().await;
}

#[tokio::test]
async fn too_many_or_too_large_headers_get_431_receipts() {
    let env = start("[limits]\nmax_headers = 20\nmax_header_bytes = 4096\n").await;
    let many: Vec<(String, String)> = (0..30)
        .map(|i| (format!("x-h{i}"), "v".to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (resp, body) = get(&env.url("/"), &refs).await;
    assert_eq!(resp.status(), 431);
    assert_eq!(header(&resp, "doorman-code"), "HEADERS_TOO_LARGE");
    assert!(String::from_utf8_lossy(&body).contains("at most 20"));

    let cookie = "a".repeat(5000);
    let (resp, body) = get(&env.url("/"), &[("cookie", cookie.as_str())]).await;
    assert_eq!(resp.status(), 431);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("`cookie`"), "{text}");
    assert!(text.contains("Clear this site's cookies"), "{text}");
    env.stop().await;
}

#[tokio::test]
async fn oversized_bodies_get_413_declared_or_streamed() {
    let env = start_with(|data, origin| {
        base_config(data, origin, "", "[limits]\nmax_body_bytes = 1000\n")
    })
    .await;
    let req = Request::post(env.url("/debug/echo"))
        .body(Full::new(Bytes::from(vec![b'x'; 5000])))
        .unwrap();
    let (resp, body) = send(req).await;
    assert_eq!(resp.status(), 413);
    assert!(String::from_utf8_lossy(&body).contains("5000 bytes"));

    // Chunked (no Content-Length): found while streaming to the origin.
    let mut s = tokio::net::TcpStream::connect(env.addr).await.unwrap();
    let chunk = "x".repeat(800);
    let req = format!(
        "POST /debug/echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let answer = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("BODY_TOO_LARGE"));

    // Within the limit: passes, and the origin got every byte.
    let req = Request::post(env.url("/debug/echo"))
        .body(Full::new(Bytes::from(vec![b'x'; 999])))
        .unwrap();
    let (resp, body) = send(req).await;
    assert_eq!(resp.status(), 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["body_bytes"], 999);
    env.stop().await;
}

#[tokio::test]
async fn a_slow_request_head_gets_a_408_receipt() {
    let env = start_with(|data, origin| {
        base_config(data, origin, "", "[limits]\nheader_read_timeout_ms = 300\n")
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(env.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: t\r\nx-slow: ")
        .await
        .unwrap();
    let answer = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"));
    assert!(answer.contains("300 ms"));
    env.stop().await;
}

#[tokio::test]
async fn refused_origin_gets_a_502_naming_it() {
    let closed = closed_addr();
    let env = start(&format!(
        r#"
[[upstreams]]
name = "billing"
targets = ["{closed}"]

[[routes]]
name = "billing"
path_prefix = "/billing"
upstream = "billing"
"#
    ))
    .await;
    let (resp, body) = get(&env.url("/billing/x"), &[("accept", "application/json")]).await;
    assert_eq!(resp.status(), 502);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["code"], "UPSTREAM_REFUSED");
    assert!(v["detail"].as_str().unwrap().contains("`billing`"));
    assert!(v["detail"].as_str().unwrap().contains("refused"));
    // The address is for the operator only.
    assert!(!String::from_utf8_lossy(&body).contains(&closed.to_string()));
    env.stop().await;
}

#[tokio::test]
async fn stopped_origin_gets_a_502_and_slow_origin_a_504() {
    let mut env = start_with(|data, origin| {
        base_config(data, origin, "", "")
            .replace("response_timeout_ms = 5000", "response_timeout_ms = 400")
    })
    .await;
    let started = Instant::now();
    let (resp, body) = get(&env.url("/debug/sleep?ms=3000"), &[]).await;
    assert_eq!(resp.status(), 504);
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(String::from_utf8_lossy(&body).contains("did not answer in time"));

    env.origin.take().unwrap().stop().await.unwrap();
    let (resp, body) = get(&env.url("/plugins/weather?city=x"), &[]).await;
    assert_eq!(resp.status(), 502, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&resp, "doorman-code"), "UPSTREAM_REFUSED");
    env.stop().await;
}

#[tokio::test]
async fn a_denial_is_html_json_or_text_by_accept_and_is_explainable() {
    let env = start(
        r#"
[site]
support = "mailto:help@example.com"

[[routes]]
name = "admin"
path_prefix = "/admin"
upstream = "chat"
access = "closed"
title = "Admin is internal"
reason = "The admin console is only reachable from the office."
remedies = ["Use the staff VPN."]
"#,
    )
    .await;
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let (resp, body) = get(&env.url("/admin/users"), &[("accept", browser)]).await;
    assert_eq!(resp.status(), 403);
    assert!(header(&resp, "content-type").starts_with("text/html"));
    let html = String::from_utf8_lossy(&body);
    let ray_html = header(&resp, "doorman-ray").to_string();
    assert!(
        html.contains(&ray_html)
            && html.contains("Admin is internal")
            && html.contains("Use the staff VPN.")
    );
    assert!(html.contains("help@example.com"));

    let (resp, body) = get(&env.url("/admin/users"), &[("accept", "application/json")]).await;
    assert_eq!(header(&resp, "content-type"), "application/problem+json");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["code"], "ROUTE_CLOSED");
    assert_eq!(v["ray_id"], header(&resp, "doorman-ray"));

    let (resp, body) = get(&env.url("/admin/users"), &[("accept", "*/*")]).await;
    assert!(header(&resp, "content-type").starts_with("text/plain"));
    let text = String::from_utf8_lossy(&body);
    let ray_text = header(&resp, "doorman-ray").to_string();
    assert!(text.contains(&format!("Ray ID:  {ray_text}")));

    // The event log has the record (the writer batches; give it a moment).
    let db = env.data_dir();
    let mut found = None;
    for _ in 0..50 {
        if let Ok(q) = doorman_store::EventQuery::open(&db)
            && let Ok(Some(rec)) = q.get(&ray_html)
        {
            found = Some(rec);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rec = found.expect("the denial was recorded");
    assert_eq!(rec.code, "ROUTE_CLOSED");
    assert_eq!(rec.path, "/admin/users");
    assert_eq!(rec.route.as_deref(), Some("admin"));
    env.stop().await;
}

#[tokio::test]
async fn unknown_host_and_path_is_a_404_receipt() {
    let env = start_with(|data, origin| {
        base_config(data, origin, "", "").replace(
            "path_prefix = \"/\"\nupstream = \"chat\"",
            "path_prefix = \"/app\"\nupstream = \"chat\"",
        )
    })
    .await;
    let (resp, body) = get(&env.url("/elsewhere"), &[]).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(header(&resp, "doorman-code"), "NO_ROUTE");
    assert!(String::from_utf8_lossy(&body).contains("/elsewhere"));
    env.stop().await;
}
