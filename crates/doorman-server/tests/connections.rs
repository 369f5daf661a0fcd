//! The connection layer against a real gateway and origin, with raw sockets: receipts for the
//! request heads hyper refuses, HTTP/2 preface, stalled header blocks and idle connections,
//! connection lifetimes, and idle connections making room when `max_connections` is reached.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use doorman_test_support::client::get;
use doorman_test_support::gateway::{Env, base_config, start_with};
use doorman_test_support::{client, gateway};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const HEADERS: u8 = 0x1;
const ACK: u8 = 0x1;

async fn start_limits(limits: &str) -> Env {
    let limits = limits.to_string();
    start_with(move |data, origin| base_config(data, origin, "", &format!("[limits]\n{limits}")))
        .await
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    payload: Vec<u8>,
}

/// The next frame; `None` when the server closed (or reset) the connection.
async fn read_frame(r: &mut (impl AsyncRead + Unpin)) -> Option<Frame> {
    let mut head = [0u8; 9];
    r.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await.ok()?;
    Some(Frame {
        kind: head[3],
        flags: head[4],
        payload,
    })
}

/// GOAWAY's last-stream-id and error code.
fn goaway(f: &Frame) -> (u32, u32) {
    let p = &f.payload;
    (
        u32::from_be_bytes([p[0] & 0x7f, p[1], p[2], p[3]]),
        u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
    )
}

/// What an idle HTTP/2 client saw of its connection.
#[derive(Debug, Default)]
struct Seen {
    goaways: Vec<(u32, u32)>,
    closed_at: Option<Instant>,
}

/// An h2c connection that sends its preface and SETTINGS, then nothing but the answers a polite
/// client owes (SETTINGS and PING acknowledgements). `ready` fires when the server's SETTINGS
/// arrive, i.e. once hyper serves the connection.
async fn idle_h2c(addr: SocketAddr) -> (oneshot::Receiver<()>, tokio::task::JoinHandle<Seen>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    stream.write_all(&hello).await.unwrap();
    let (ready_tx, ready) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut ready_tx = Some(ready_tx);
        let mut seen = Seen::default();
        while let Some(f) = read_frame(&mut stream).await {
            match f.kind {
                SETTINGS if f.flags & ACK == 0 => {
                    let _ = stream.write_all(&frame(SETTINGS, ACK, 0, &[])).await;
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
                PING if f.flags & ACK == 0 => {
                    let _ = stream.write_all(&frame(PING, ACK, 0, &f.payload)).await;
                }
                GOAWAY => seen.goaways.push(goaway(&f)),
                _ => {}
            }
        }
        seen.closed_at = Some(Instant::now());
        seen
    });
    (ready, task)
}

// ---------------------------------------------------------------------------------------------
// Receipts for the heads hyper refuses.

struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl RawResponse {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }
}

/// Sends `head` on a fresh connection and reads the answer to the end.
async fn send_raw(addr: SocketAddr, head: &[u8]) -> RawResponse {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = s.split();
    // Written while reading: the gateway may answer (and stop reading) before a big head is in.
    let write = async {
        let _ = w.write_all(head).await;
    };
    let read = async {
        let mut out = Vec::new();
        let _ = timeout(Duration::from_secs(10), r.read_to_end(&mut out)).await;
        out
    };
    let ((), out) = tokio::join!(write, read);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_string(),
    }
}

/// The table of refused heads is in tests/edge.rs; here, what the receipt and event of one of
/// them carry beyond the words.
#[tokio::test]
async fn a_refused_head_is_answered_by_accept_and_recorded_with_what_could_be_read() {
    let env = start_limits("").await;
    // What could be read of the head is in the event.
    let r = send_raw(
        env.addr,
        b"POST /upload?x=1 HTTP/1.1\r\nhost: files.example\r\nuser-agent: test-agent\r\naccept: application/json\r\ncontent-length: x\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), "application/problem+json");
    let problem: serde_json::Value = serde_json::from_str(&r.body).expect("problem+json");
    assert_eq!(problem["code"], "BAD_REQUEST");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("`Content-Length` header is not a number"),
        "{problem}"
    );
    let rec = env.event(r.header("doorman-ray")).await;
    assert_eq!(
        (rec.method.as_str(), rec.host.as_str(), rec.path.as_str()),
        ("POST", "files.example", "/upload?x=1")
    );
    assert_eq!(rec.user_agent.as_deref(), Some("test-agent"));
    let decisions = env
        .gateway
        .gateway
        .metrics
        .decisions
        .get_or_create(&doorman_server::metrics::CodeLabels {
            code: "BAD_REQUEST",
        })
        .get();
    assert_eq!(decisions, 1);
    assert_eq!(r.header("connection"), "close");
    env.stop().await;
}

#[tokio::test]
async fn a_keep_alive_connection_gets_the_receipt_for_its_second_head() {
    let env = start_limits("").await;
    let mut s = TcpStream::connect(env.addr).await.unwrap();
    s.write_all(b"GET /debug/status?code=204 HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    s.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 204");
    // Let the first response finish before the next head.
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.write_all(b"GET / HTTP/1.1\r\nhost: t\r\ncontent-length: 1x\r\n\r\n")
        .await
        .unwrap();
    let rest = client::read_all(&mut s, Duration::from_secs(5)).await;
    let second = &rest[rest.find("HTTP/1.1 400").expect(&rest)..];
    assert!(second.contains("doorman-code: BAD_REQUEST"), "{second}");
    assert!(
        second.contains("`Content-Length` header is not a number: `1x`"),
        "{second}"
    );
    env.stop().await;
}

// ---------------------------------------------------------------------------------------------
// HTTP/2.

#[tokio::test]
async fn an_invalid_http2_preface_gets_goaway_protocol_error() {
    let env = start_limits("").await;
    // A broken preface, and h2spec 3.5/2's bytes, which are not HTTP/1 either.
    for sent in [
        &b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"[..],
        b"INVALID CONNECTION PREFACE\r\n\r\n",
    ] {
        let shown = String::from_utf8_lossy(sent).into_owned();
        let mut s = TcpStream::connect(env.addr).await.unwrap();
        s.write_all(sent).await.unwrap();
        let first = timeout(Duration::from_secs(5), read_frame(&mut s))
            .await
            .unwrap()
            .expect("a frame");
        assert_eq!(
            first.kind, SETTINGS,
            "{shown}: the server's preface comes first"
        );
        let second = timeout(Duration::from_secs(5), read_frame(&mut s))
            .await
            .unwrap()
            .expect("a GOAWAY");
        assert_eq!(second.kind, GOAWAY, "{shown}");
        assert_eq!(
            goaway(&second),
            (0, 1),
            "{shown}: last stream 0, PROTOCOL_ERROR"
        );
        assert!(
            timeout(Duration::from_secs(5), read_frame(&mut s))
                .await
                .unwrap()
                .is_none(),
            "{shown}: then the connection closes"
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn an_http2_connection_without_streams_gets_goaway_after_the_idle_timeout() {
    let env = start_limits("idle_timeout_ms = 400").await;
    let started = Instant::now();
    let (ready, client) = idle_h2c(env.addr).await;
    ready.await.unwrap();
    let seen = timeout(Duration::from_secs(10), client)
        .await
        .expect("closed")
        .unwrap();
    let closed = seen.closed_at.unwrap() - started;
    assert!(closed >= Duration::from_millis(400), "{closed:?}");
    assert!(
        seen.goaways.iter().any(|&(_, code)| code == 0),
        "a graceful GOAWAY (NO_ERROR): {seen:?}"
    );

    // A stream that lasts longer than the idle timeout is not cut: only open requests count.
    let (resp, body) = client::h2c_get(env.addr, "/debug/sleep?ms=1200").await;
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(&body));
    env.stop().await;
}

#[tokio::test]
async fn a_partial_http2_header_block_is_closed_after_the_head_timeout() {
    let env = start_limits("header_read_timeout_ms = 400").await;
    let mut s = TcpStream::connect(env.addr).await.unwrap();
    let mut sent = PREFACE.to_vec();
    sent.extend(frame(SETTINGS, 0, 0, &[]));
    // HEADERS for stream 1 (`:method GET`, HPACK index 2) without END_HEADERS: the header block
    // stays open, and the client goes silent.
    sent.extend(frame(HEADERS, 0x1, 1, &[0x82]));
    s.write_all(&sent).await.unwrap();
    let started = Instant::now();
    let mut goaways = Vec::new();
    let ended = timeout(Duration::from_secs(10), async {
        while let Some(f) = read_frame(&mut s).await {
            if f.kind == GOAWAY {
                goaways.push(goaway(&f));
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection was closed");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(
        goaways.is_empty(),
        "closed, not shut down gracefully: {goaways:?}"
    );
    env.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Lifetimes.

#[tokio::test]
async fn max_requests_per_connection_closes_after_the_third_response() {
    let env = start_limits("max_requests_per_connection = 3").await;
    let empty = || Empty::<Bytes>::new();

    // HTTP/1.1: the third response says `connection: close`, and the connection ends.
    let stream = TcpStream::connect(env.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    for n in 1..=3 {
        let req = http::Request::get("/debug/status?code=200")
            .header("host", "t")
            .body(empty())
            .unwrap();
        sender.ready().await.unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let close = resp
            .headers()
            .get("connection")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            close.as_deref() == Some("close"),
            n == 3,
            "request {n}: {close:?}"
        );
        resp.into_body().collect().await.unwrap();
    }
    timeout(Duration::from_secs(5), conn)
        .await
        .expect("the connection ended")
        .unwrap()
        .unwrap();

    // HTTP/2: GOAWAY after the third stream; the connection ends.
    let stream = TcpStream::connect(env.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    for _ in 1..=3 {
        let req = http::Request::get(format!("http://{}/debug/status?code=200", env.addr))
            .body(empty())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.into_body().collect().await.unwrap();
    }
    timeout(Duration::from_secs(5), conn)
        .await
        .expect("the connection ended")
        .unwrap()
        .unwrap();
    let req = http::Request::get(format!("http://{}/", env.addr))
        .body(empty())
        .unwrap();
    assert!(sender.send_request(req).await.is_err(), "no fourth request");
    env.stop().await;
}

#[tokio::test]
async fn connections_older_than_max_connection_age_are_closed_gracefully() {
    let env = start_limits("max_connection_age_secs = 1").await;
    let started = Instant::now();
    // An HTTP/2 connection is sent GOAWAY; a request in flight at that moment still finishes.
    let stream = TcpStream::connect(env.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get(format!("http://{}/debug/sleep?ms=1500", env.addr))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap();
    timeout(Duration::from_secs(5), conn)
        .await
        .expect("the connection ended")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));

    // An idle HTTP/1.1 keep-alive connection is simply closed.
    let mut s = TcpStream::connect(env.addr).await.unwrap();
    let opened = Instant::now();
    let mut buf = [0u8; 1];
    let n = timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(opened.elapsed() >= Duration::from_secs(1));
    env.stop().await;
}

// ---------------------------------------------------------------------------------------------
// max_connections.

#[tokio::test]
async fn idle_http2_connections_make_room_for_a_new_client() {
    let env = start_limits("max_connections = 100").await;
    let mut clients = Vec::new();
    for n in 0..100 {
        let (ready, task) = idle_h2c(env.addr).await;
        timeout(Duration::from_secs(10), ready)
            .await
            .expect("served")
            .unwrap();
        clients.push(task);
        if n == 0 {
            // The first is idle for clearly longest (idle times are kept in milliseconds).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Every slot is taken by a connection that answers PINGs and sends nothing else.
    let (resp, body) = timeout(
        Duration::from_secs(10),
        get(&gateway::Env::url(&env, "/debug/status?code=200"), &[]),
    )
    .await
    .expect("the new client was served");
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(&body));
    let evicted = env.gateway.gateway.metrics.connections_evicted.get();
    assert!(evicted >= 1, "{evicted}");
    // The longest idle, the first, was told to go away gracefully.
    let first = timeout(Duration::from_secs(10), clients.remove(0))
        .await
        .expect("the first connection was closed")
        .unwrap();
    assert!(
        first.goaways.iter().any(|&(_, code)| code == 0),
        "{first:?}"
    );
    for c in clients {
        c.abort();
    }
    env.stop().await;
}
