//! The demo origin against real clients on loopback: every endpoint, streaming pace, WebSocket, h2c, reset and stop.

use std::convert::Infallible;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use doorman_demo::{DemoHandle, DemoOptions, serve, spawn, spawn_with};
use futures_util::{SinkExt, StreamExt};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

type Body = UnsyncBoxBody<Bytes, Infallible>;

const TOKEN_INTERVAL: Duration = Duration::from_millis(40);

async fn start() -> (SocketAddr, DemoHandle) {
    let options = DemoOptions {
        token_interval: TOKEN_INTERVAL,
        name: "origin-a".to_owned(),
    };
    spawn_with("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap()
}

fn client() -> Client<HttpConnector, Body> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn empty() -> Body {
    Empty::new().boxed_unsync()
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed_unsync()
}

async fn send(addr: SocketAddr, method: Method, path: &str, body: Body) -> Response<Incoming> {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap();
    client().request(req).await.unwrap()
}

async fn get(addr: SocketAddr, path: &str) -> Response<Incoming> {
    send(addr, Method::GET, path, empty()).await
}

async fn body_bytes(resp: Response<Incoming>) -> Bytes {
    resp.into_body().collect().await.unwrap().to_bytes()
}

async fn body_json(resp: Response<Incoming>) -> Value {
    serde_json::from_slice(&body_bytes(resp).await).unwrap()
}

/// Every data frame of a body with the time it arrived.
async fn timed_frames(resp: Response<Incoming>) -> Vec<(Instant, Bytes)> {
    let mut body = resp.into_body();
    let mut frames = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            frames.push((Instant::now(), data));
        }
    }
    frames
}

fn chat_request(content: &str, stream: bool) -> Body {
    full(
        json!({
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer"},
                {"role": "user", "content": content},
            ],
            "stream": stream,
        })
        .to_string(),
    )
}

#[tokio::test]
async fn healthz_says_ok_and_names_the_origin() {
    let (addr, _handle) = start().await;
    let resp = get(addr, "/healthz").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-demo-origin"], "origin-a");
    assert_eq!(body_bytes(resp).await, "ok");
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let (addr, _handle) = start().await;
    let resp = get(addr, "/nope").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(body_json(resp).await["error"]["type"], "not_found");
}

#[tokio::test]
async fn chat_page_is_self_contained_and_works_without_script() {
    let (addr, _handle) = start().await;
    let resp = get(addr, "/").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    let page = String::from_utf8(body_bytes(resp).await.to_vec()).unwrap();
    assert!(page.contains("<noscript>"));
    assert!(page.contains(r#"<label for="msg">"#));
    assert!(page.contains(r#"name="viewport""#));
    assert!(page.contains("/v1/chat/completions"));
    assert!(page.contains("stream: true"));
    assert!(page.contains("getReader()"));
    // Nothing is loaded from elsewhere: no external scripts, styles, fonts or images.
    for needle in ["src=", "<link", "@import", "url("] {
        assert!(!page.contains(needle), "page contains {needle}");
    }
}

#[tokio::test]
async fn chat_completion_answers_in_openai_shape() {
    let (addr, _handle) = start().await;
    let resp = send(
        addr,
        Method::POST,
        "/v1/chat/completions",
        chat_request("Is the gate open?", false),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
    let v = body_json(resp).await;
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "test-model");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let choice = &v["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["finish_reason"], "stop");
    let content = choice["message"]["content"].as_str().unwrap();
    assert!(content.contains("\"Is the gate open?\""), "{content}");
    let usage = &v["usage"];
    let completion_tokens = usage["completion_tokens"].as_u64().unwrap();
    assert!(
        (15..=30).contains(&completion_tokens),
        "{completion_tokens}"
    );
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + completion_tokens
    );

    // Deterministic: the same question gets the same words.
    let again = send(
        addr,
        Method::POST,
        "/v1/chat/completions",
        chat_request("Is the gate open?", false),
    )
    .await;
    assert_eq!(
        body_json(again).await["choices"][0]["message"]["content"],
        content
    );
}

#[tokio::test]
async fn chat_stream_sends_one_spaced_event_per_token() {
    let (addr, _handle) = start().await;
    let plain = send(
        addr,
        Method::POST,
        "/v1/chat/completions",
        chat_request("stream me", false),
    )
    .await;
    let expected = body_json(plain).await["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();

    let resp = send(
        addr,
        Method::POST,
        "/v1/chat/completions",
        chat_request("stream me", true),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let frames = timed_frames(resp).await;

    // Reassemble events whatever the framing, remembering when each one was complete.
    let mut buffer = String::new();
    let mut events: Vec<(Instant, String)> = Vec::new();
    for (at, data) in &frames {
        buffer.push_str(std::str::from_utf8(data).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let event = buffer[..end].to_owned();
            buffer.drain(..end + 2);
            events.push((*at, event));
        }
    }
    assert!(buffer.is_empty(), "trailing partial event: {buffer:?}");
    assert_eq!(events.last().unwrap().1, "data: [DONE]");

    let mut tokens = Vec::new();
    for (at, event) in &events[..events.len() - 1] {
        let data = event
            .strip_prefix("data: ")
            .expect("every event is a data line");
        let chunk: Value = serde_json::from_str(data).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if let Some(token) = chunk["choices"][0]["delta"]["content"].as_str() {
            tokens.push((*at, token.to_owned()));
        }
    }
    let text: String = tokens.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(text, expected);
    assert!(tokens.len() >= 15);

    let spread = tokens.last().unwrap().0 - tokens[0].0;
    let paced = TOKEN_INTERVAL * (tokens.len() as u32 - 1);
    assert!(
        spread >= paced / 2,
        "tokens arrived within {spread:?}, expected about {paced:?}"
    );
}

#[tokio::test]
async fn chat_rejects_bad_requests_with_openai_errors() {
    let (addr, _handle) = start().await;
    let resp = send(
        addr,
        Method::POST,
        "/v1/chat/completions",
        full("{not json"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v = body_json(resp).await;
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a valid")
    );

    let resp = send(
        addr,
        Method::POST,
        "/v1/chat/completions",
        full(r#"{"messages": []}"#),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"]["param"], "messages");

    let resp = get(addr, "/v1/chat/completions").await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()[header::ALLOW], "POST");
}

#[tokio::test]
async fn weather_plugin_is_deterministic_per_city() {
    let (addr, _handle) = start().await;
    let lisbon = body_json(get(addr, "/plugins/weather?city=Lisbon").await).await;
    assert_eq!(lisbon["city"], "Lisbon");
    assert_eq!(lisbon["source"], "doorman-demo");
    let t = lisbon["temperature_c"].as_f64().unwrap();
    assert!((-10.0..=35.0).contains(&t));
    assert!(lisbon["conditions"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(
        body_json(get(addr, "/plugins/weather?city=Lisbon").await).await,
        lisbon
    );

    let sao_paulo = body_json(get(addr, "/plugins/weather?city=S%C3%A3o+Paulo").await).await;
    assert_eq!(sao_paulo["city"], "São Paulo");

    let resp = get(addr, "/plugins/weather").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v = body_json(resp).await;
    assert_eq!(v["error"]["param"], "city");
    assert!(v["error"]["message"].as_str().unwrap().contains("city"));
}

#[tokio::test]
async fn websocket_echoes_text_and_binary() {
    let (addr, _handle) = start().await;
    let (mut ws, resp) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/echo"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);

    ws.send(Message::text("hello gateway")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("hello gateway")
    );
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    ws.close(None).await.unwrap();
    // The server acknowledges the close and the stream ends.
    while let Some(message) = ws.next().await {
        assert!(matches!(message, Ok(Message::Close(_))), "{message:?}");
    }
}

#[tokio::test]
async fn websocket_endpoint_refuses_plain_http() {
    let (addr, _handle) = start().await;
    let resp = get(addr, "/ws/echo").await;
    assert_eq!(resp.status(), StatusCode::UPGRADE_REQUIRED);
}

#[tokio::test]
async fn debug_echo_reports_a_streamed_upload() {
    let (addr, _handle) = start().await;
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = 40;
    let upload = futures_util::stream::iter(0..chunks).then(move |_| {
        let chunk = chunk.clone();
        async move {
            tokio::task::yield_now().await;
            Ok::<_, Infallible>(Frame::data(chunk))
        }
    });
    let req = Request::builder()
        .method(Method::PUT)
        .uri(format!("http://{addr}/debug/echo?a=1&b=two"))
        .header("x-multi", "first")
        .header("x-multi", "second")
        .header("x-single", "only")
        .body(StreamBody::new(upload).boxed_unsync())
        .unwrap();
    let resp = client().request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v = body_json(resp).await;
    assert_eq!(v["origin"], "origin-a");
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["uri"], "/debug/echo?a=1&b=two");
    assert_eq!(v["path"], "/debug/echo");
    assert_eq!(v["query"], "a=1&b=two");
    assert_eq!(v["version"], "HTTP/1.1");
    assert_eq!(v["body_bytes"], 40 * 64 * 1024);
    assert_eq!(v["headers"]["x-multi"], json!(["first", "second"]));
    assert_eq!(v["headers"]["x-single"], json!(["only"]));
    // A body of unknown length travels chunked: the origin really received it as a stream.
    assert_eq!(v["headers"]["transfer-encoding"], json!(["chunked"]));
    assert!(v["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
}

#[tokio::test]
async fn debug_echo_over_h2c() {
    let (addr, _handle) = start().await;
    let h2: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}/debug/echo"))
        .body(full("twelve bytes"))
        .unwrap();
    let resp = h2.request(req).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let v = body_json(resp).await;
    assert_eq!(v["version"], "HTTP/2.0");
    assert_eq!(v["authority"], addr.to_string());
    assert_eq!(v["body_bytes"], 12);
}

#[tokio::test]
async fn debug_sleep_delays_the_response_head() {
    let (addr, _handle) = start().await;
    let started = Instant::now();
    let resp = get(addr, "/debug/sleep?ms=150").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await["slept_ms"], 150);

    let resp = get(addr, "/debug/sleep?ms=soon").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"]["param"], "ms");
}

#[tokio::test]
async fn debug_status_answers_the_asked_status() {
    let (addr, _handle) = start().await;
    for code in [200u16, 404, 418, 500, 502, 503, 599] {
        let resp = get(addr, &format!("/debug/status?code={code}")).await;
        assert_eq!(resp.status().as_u16(), code);
    }
    let resp = get(addr, "/debug/status?code=204").await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(body_bytes(resp).await.is_empty());
    for bad in ["99", "101", "600", "x", ""] {
        let resp = get(addr, &format!("/debug/status?code={bad}")).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "code={bad}");
    }
}

#[tokio::test]
async fn debug_drip_sends_spaced_chunks() {
    let (addr, _handle) = start().await;
    let resp = get(addr, "/debug/drip?chunks=4&interval_ms=100").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let frames = timed_frames(resp).await;
    let text: String = frames
        .iter()
        .map(|(_, data)| std::str::from_utf8(data).unwrap())
        .collect();
    assert_eq!(
        text,
        "chunk 1 of 4\nchunk 2 of 4\nchunk 3 of 4\nchunk 4 of 4\n"
    );
    let spread = frames.last().unwrap().0 - frames[0].0;
    assert!(
        spread >= Duration::from_millis(150),
        "chunks arrived within {spread:?}"
    );
}

/// Sends a raw HTTP/1.1 request and reads until the server closes, returning what was read and how it ended.
async fn raw_exchange(stream: &mut TcpStream, path: &str) -> (Vec<u8>, std::io::Result<usize>) {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: demo\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return (received, Ok(0)),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(err) => return (received, Err(err)),
        }
    }
}

#[tokio::test]
async fn debug_reset_resets_the_connection_without_answering() {
    let (addr, _handle) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (received, end) = raw_exchange(&mut stream, "/debug/reset").await;
    assert!(
        received.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&received)
    );
    assert_eq!(end.unwrap_err().kind(), ErrorKind::ConnectionReset);

    // Only that connection is affected.
    assert_eq!(get(addr, "/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn stop_closes_the_listener_and_live_connections() {
    let (addr, handle) = start().await;
    assert_eq!(handle.addr(), addr);

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/echo"))
        .await
        .unwrap();
    ws.send(Message::text("ping")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("ping"));

    let mut waiting = TcpStream::connect(addr).await.unwrap();
    let pending =
        tokio::spawn(async move { raw_exchange(&mut waiting, "/debug/sleep?ms=600000").await });
    // Let the request reach its handler before stopping.
    tokio::time::sleep(Duration::from_millis(100)).await;

    handle.stop().await.unwrap();

    assert_eq!(
        TcpStream::connect(addr).await.unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    let (received, _) = pending.await.unwrap();
    assert!(
        received.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&received)
    );
    // The WebSocket ends too, without an echo.
    assert!(!matches!(ws.next().await, Some(Ok(Message::Text(_)))));
}

#[tokio::test]
async fn dropping_the_serve_future_stops_the_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve(listener, DemoOptions::default()));
    assert_eq!(get(addr, "/healthz").await.status(), StatusCode::OK);

    let mut waiting = TcpStream::connect(addr).await.unwrap();
    let pending =
        tokio::spawn(async move { raw_exchange(&mut waiting, "/debug/sleep?ms=600000").await });
    tokio::time::sleep(Duration::from_millis(100)).await;

    server.abort();
    assert!(server.await.unwrap_err().is_cancelled());
    assert_eq!(
        TcpStream::connect(addr).await.unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    let (received, _) = pending.await.unwrap();
    assert!(received.is_empty());
}

#[tokio::test]
async fn spawn_uses_default_options() {
    let (addr, handle) = spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let resp = get(addr, "/debug/echo").await;
    assert_eq!(resp.headers()["x-demo-origin"], "doorman-demo");
    assert_eq!(body_json(resp).await["origin"], "doorman-demo");
    handle.stop().await.unwrap();
}
