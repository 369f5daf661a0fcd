//! Edge hardening, as an attacker tries it: one table of hand-written requests sent over raw
//! sockets (and hand-built HTTP/2 requests) to a gateway with a closed `/admin` route, a closed
//! `admin.test` host and a `/secret` rule, in front of an origin that records every byte it
//! receives. For each case the table says what the client gets and what the origin may see; the
//! origin must never see a closed route, a second meaning of Host, a protocol switch it was not
//! meant to see, or a broken frame, and every answer the gateway makes itself must carry the Ray
//! ID header and a `doorman-code`, and be recorded as an event.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use doorman_test_support::gateway::Env;
use doorman_test_support::{gateway, origin};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request as the origin received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The body arrived whole (per Content-Length or chunked framing).
    complete: bool,
}

impl Seen {
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Default)]
struct Recorded {
    requests: Vec<Seen>,
    /// Every byte every connection sent, in arrival order per read.
    raw: Vec<u8>,
    /// Bytes that arrived after the origin switched protocols.
    tunnelled: Vec<u8>,
}

type Recording = Arc<Mutex<Recorded>>;

/// An origin that records exactly what it receives. It answers `200 ok`, except on `/switch`,
/// where it answers `101` whatever was asked (a misbehaving origin) and records what follows.
async fn recording_origin() -> (SocketAddr, Recording) {
    let recording: Recording = Arc::default();
    let rec = recording.clone();
    let addr = origin::accept_each(move |stream| origin_connection(stream, rec.clone())).await;
    (addr, recording)
}

async fn origin_connection(mut stream: TcpStream, rec: Recording) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if !read_more(&mut stream, &mut buf, &rec).await {
                return;
            }
        };
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if req.parse(&buf[..head_end]).is_err() {
            return;
        }
        let method = req.method.unwrap_or("").to_owned();
        let target = req.path.unwrap_or("").to_owned();
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        buf.drain(..head_end);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let (body, complete) = if header("transfer-encoding").is_some() {
            read_chunked(&mut stream, &mut buf, &rec).await
        } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            while buf.len() < len {
                if !read_more(&mut stream, &mut buf, &rec).await {
                    break;
                }
            }
            let n = len.min(buf.len());
            (buf.drain(..n).collect(), n == len)
        } else {
            (Vec::new(), true)
        };
        rec.lock().unwrap().requests.push(Seen {
            method,
            target: target.clone(),
            headers,
            body,
            complete,
        });
        if !complete {
            return;
        }
        if target.starts_with("/switch") {
            let _ = stream
                .write_all(b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n")
                .await;
            let mut rest = [0u8; 4096];
            while let Ok(n) = stream.read(&mut rest).await {
                if n == 0 {
                    return;
                }
                rec.lock().unwrap().tunnelled.extend_from_slice(&rest[..n]);
            }
            return;
        }
        if stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, rec: &Recording) -> bool {
    let mut chunk = [0u8; 4096];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            rec.lock().unwrap().raw.extend_from_slice(&chunk[..n]);
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

/// Decodes a chunked body strictly; `false` when it broke off or was malformed.
async fn read_chunked(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    rec: &Recording,
) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            if !read_more(stream, buf, rec).await {
                return (body, false);
            }
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let Ok(size) = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
        else {
            return (body, false);
        };
        buf.drain(..line_end + 2);
        while buf.len() < size + 2 {
            if !read_more(stream, buf, rec).await {
                return (body, false);
            }
        }
        if &buf[size..size + 2] != b"\r\n" {
            return (body, false);
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
        if size == 0 {
            return (body, true);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A response read off a raw socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (head, then a Content-Length body) from `stream`.
async fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    resp.parse(&buf[..head_end]).ok()?;
    let status = resp.code?;
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let end = (head_end + len).min(buf.len());
    Some(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&buf[head_end..end]).into_owned(),
    })
}

/// What the origin may see of one case.
enum Origin {
    /// Nothing at all.
    Nothing,
    /// Exactly one request, with this target and this single Host.
    Gets {
        target: &'static str,
        host: &'static str,
    },
    /// Perhaps the head of a request, never a complete one, and never these bytes.
    NoCompleteRequest { never: &'static [u8] },
}

struct Case {
    name: &'static str,
    /// The bytes sent; `{PAUSE}` splits them into parts sent 1.5 s apart.
    send: &'static str,
    status: u16,
    /// `None`: proxied (the origin's own answer).
    code: Option<&'static str>,
    /// Words the receipt must contain.
    words: &'static str,
    origin: Origin,
}

fn case(
    name: &'static str,
    send: &'static str,
    status: u16,
    code: Option<&'static str>,
    words: &'static str,
    origin: Origin,
) -> Case {
    Case {
        name,
        send,
        status,
        code,
        words,
        origin,
    }
}

const CLOSED: Option<&str> = Some("ROUTE_CLOSED");
const AMBIGUOUS: Option<&str> = Some("PATH_AMBIGUOUS");
const BAD_HOST: Option<&str> = Some("BAD_HOST");

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Origin::*;
    const R1020: Option<&str> = Some("1020");
    const BAD: Option<&str> = Some("BAD_REQUEST");
    const WS: &str = "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let ws = |path: &str| -> &'static str { Box::leak(format!("GET {path} HTTP/1.1\r\nHost: public.test{WS}").into_boxed_str()) };
    vec![
        // 1. Paths are matched in their canonical form.
        case("dot-dot", "GET /x/../admin/ HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, CLOSED, "", Nothing),
        case("encoded dot-dot", "GET /x/%2e%2e/admin/ HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, CLOSED, "", Nothing),
        case("double slash", "GET //admin/ HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, CLOSED, "", Nothing),
        case("encoded letter", "GET /%61dmin/ HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, CLOSED, "", Nothing),
        case("dot segment", "GET /./admin/ HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, CLOSED, "", Nothing),
        case("parameter", "GET /admin;x=1/ HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, CLOSED, "", Nothing),
        case("upper case", "GET /ADMIN/ HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, CLOSED, "", Nothing),
        case("backslash", "GET /x\\..\\admin\\ HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, CLOSED, "", Nothing),
        case("encoded slash", "GET /admin%2fusers HTTP/1.1\r\nHost: public.test\r\n\r\n", 400, AMBIGUOUS, "an encoded slash (%2F)", Nothing),
        case("encoded slash climb", "GET /public/..%2f..%2fadmin HTTP/1.1\r\nHost: public.test\r\n\r\n", 400, AMBIGUOUS, "encoded slash", Nothing),
        case("encoded backslash", "GET /public%5c..%5cadmin HTTP/1.1\r\nHost: public.test\r\n\r\n", 400, AMBIGUOUS, "encoded backslash", Nothing),
        case("encoded NUL", "GET /public/a%00.php HTTP/1.1\r\nHost: public.test\r\n\r\n", 400, AMBIGUOUS, "NUL", Nothing),
        case("bad escape", "GET /public/100% HTTP/1.1\r\nHost: public.test\r\n\r\n", 400, AMBIGUOUS, "not followed by two hexadecimal digits", Nothing),
        case("climb above root", "GET /../public/x HTTP/1.1\r\nHost: public.test\r\n\r\n", 400, AMBIGUOUS, "climbs above", Nothing),
        case("rule on a path", "GET /secret/x HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, R1020, "", Nothing),
        case("rule, dot-dot", "GET /public/../secret/x HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, R1020, "", Nothing),
        case("rule, encoded", "GET /%73ecret/x HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, R1020, "", Nothing),
        case("rule, double slash", "GET //secret HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, R1020, "", Nothing),
        case("normalized on", "GET /x/../%70ublic//a/./b?q=%2e&r=..%2f HTTP/1.1\r\nHost: public.test\r\n\r\n", 200, None, "", Gets { target: "/public/a/b?q=%2e&r=..%2f", host: "public.test" }),
        case("passed raw where the route says so", "GET /rawapi/group%2Fproject HTTP/1.1\r\nHost: public.test\r\n\r\n", 200, None, "", Gets { target: "/rawapi/group%2Fproject", host: "public.test" }),
        // 2. One authority.
        case("absolute form wins", "GET http://public.test/abs HTTP/1.1\r\nHost: admin.test\r\n\r\n", 200, None, "", Gets { target: "/abs", host: "public.test" }),
        case("absolute form to the closed host", "GET http://admin.test/abs HTTP/1.1\r\nHost: public.test\r\n\r\n", 403, CLOSED, "", Nothing),
        case("host case and trailing dot", "GET /x HTTP/1.1\r\nHost: ADMIN.Test.\r\n\r\n", 403, CLOSED, "", Nothing),
        case("host normalized for the origin", "GET /x HTTP/1.1\r\nHost: Public.TEST.:8080\r\n\r\n", 200, None, "", Gets { target: "/x", host: "public.test:8080" }),
        case("host list", "GET /x HTTP/1.1\r\nHost: public.test, admin.test\r\n\r\n", 400, BAD_HOST, "more than one host", Nothing),
        case("host bad port", "GET /x HTTP/1.1\r\nHost: admin.test:abc\r\n\r\n", 400, BAD_HOST, "port", Nothing),
        case("host two ports", "GET /x HTTP/1.1\r\nHost: admin.test:80:80\r\n\r\n", 400, BAD_HOST, "port", Nothing),
        case("host with user", "GET /x HTTP/1.1\r\nHost: x@admin.test\r\n\r\n", 400, BAD_HOST, "user name", Nothing),
        case("host with path", "GET /x HTTP/1.1\r\nHost: admin.test/x\r\n\r\n", 400, BAD_HOST, "path", Nothing),
        case("host with space", "GET /x HTTP/1.1\r\nHost: admin.test public.test\r\n\r\n", 400, BAD_HOST, "space", Nothing),
        case("no host", "GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, BAD_HOST, "no Host header", Nothing),
        case("two hosts", "GET /x HTTP/1.1\r\nHost: public.test\r\nHost: admin.test\r\n\r\n", 400, BAD_HOST, "more than one Host header", Nothing),
        case("user in the target", "GET http://x@admin.test/ HTTP/1.1\r\nHost: admin.test\r\n\r\n", 400, BAD_HOST, "user name", Nothing),
        // 3. Tunnels.
        case("h2c upgrade is dropped", "GET /public HTTP/1.1\r\nHost: public.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", 200, None, "", Gets { target: "/public", host: "public.test" }),
        case("an unasked 101 is refused", "GET /switch HTTP/1.1\r\nHost: public.test\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 502, Some("UPSTREAM_ERROR"), "", Gets { target: "/switch", host: "public.test" }),
        case("websocket where the route refuses it", ws("/nows"), 403, Some("UPGRADE_NOT_ALLOWED"), "WebSocket", Nothing),
        case("websocket to the closed route", ws("/admin/"), 403, CLOSED, "", Nothing),
        case("CONNECT", "CONNECT admin.test:443 HTTP/1.1\r\nHost: admin.test:443\r\n\r\n", 405, Some("METHOD_NOT_ALLOWED"), "not a proxy", Nothing),
        // 5. Heads the HTTP parser refuses get receipts that name the problem; sizes.
        case("bad method byte", "G(T / HTTP/1.1\r\nHost: public.test\r\n\r\n", 400, BAD, "The request method `G(T` contains `(`", Nothing),
        case("space in the target", "GET /a b HTTP/1.1\r\nHost: public.test\r\n\r\n", 400, BAD, "The request target `/a b` contains a space", Nothing),
        case("unknown version", "GET / HTTP/9.9\r\nHost: public.test\r\n\r\n", 400, BAD, "HTTP version `HTTP/9.9` is not one this site speaks", Nothing),
        case("space in a header name", "GET / HTTP/1.1\r\nHost: public.test\r\nBad Name: x\r\n\r\n", 400, BAD, "The header name `Bad Name` contains a space", Nothing),
        case("NUL in a header value", "GET / HTTP/1.1\r\nHost: public.test\r\nx-note: a\0b\r\n\r\n", 400, BAD, "The `x-note` header's value contains a NUL byte (0x00)", Nothing),
        case("obsolete line folding", "GET / HTTP/1.1\r\nHost: public.test\r\nx-long: a\r\n b\r\n\r\n", 400, BAD, "obsolete line folding", Nothing),
        case("Content-Length not a number", "POST / HTTP/1.1\r\nHost: public.test\r\nContent-Length: abc\r\n\r\n", 400, BAD, "The request's `Content-Length` header is not a number", Nothing),
        case("two Content-Lengths", "POST / HTTP/1.1\r\nHost: public.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, BAD, "two `Content-Length` headers that disagree: `5` and `6`", Nothing),
        case("Content-Length beyond any body", "POST / HTTP/1.1\r\nHost: public.test\r\nContent-Length: 18446744073709551615\r\n\r\n", 400, BAD, "`Content-Length` header, `18446744073709551615`, is too large for any body", Nothing),
        case("Transfer-Encoding not ending in chunked", "POST / HTTP/1.1\r\nHost: public.test\r\nTransfer-Encoding: gzip\r\n\r\n", 400, BAD, "`Transfer-Encoding` header, `gzip`, does not end with `chunked`", Nothing),
        case("Transfer-Encoding on HTTP/1.0", "POST / HTTP/1.0\r\nHost: public.test\r\nTransfer-Encoding: chunked\r\n\r\n", 400, BAD, "HTTP/1.0 but has a `Transfer-Encoding` header", Nothing),
        case("a head far over the limit", big_cookie(), 431, Some("HEADERS_TOO_LARGE"), "The largest is `cookie`", Nothing),
        case("request line over max_header_bytes", long_line(), 431, Some("HEADERS_TOO_LARGE"), "the address itself", Nothing),
        // 6. The client's framing faults are the client's.
        case("bad chunk-size line", "POST /public HTTP/1.1\r\nHost: public.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400, BAD, "chunk-size line is not hexadecimal", NoCompleteRequest { never: b"zz" }),
        case("chunk longer than declared", "POST /public HTTP/1.1\r\nHost: public.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloEXTRA\r\n0\r\n\r\n", 400, BAD, "longer than the size", NoCompleteRequest { never: b"EXTRA" }),
        case("bare LF chunk lines", "POST /public HTTP/1.1\r\nHost: public.test\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", 400, BAD, "chunk", NoCompleteRequest { never: b"hello" }),
        case("trickled body", "POST /public HTTP/1.1\r\nHost: public.test\r\nContent-Length: 10\r\n\r\nab{PAUSE}cd", 408, Some("BODY_TIMEOUT"), "stopped arriving", NoCompleteRequest { never: b"cd" }),
        case("gzip, chunked", "POST /public HTTP/1.1\r\nHost: public.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501, Some("UNSUPPORTED_TRANSFER_CODING"), "gzip, chunked", Nothing),
        case("chunked twice", "POST /public HTTP/1.1\r\nHost: public.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501, Some("UNSUPPORTED_TRANSFER_CODING"), "chunked, chunked", Nothing),
    ]
}

/// A 64 KiB cookie: past the HTTP parser's own buffer, so hyper refuses the head.
fn big_cookie() -> &'static str {
    let head = format!(
        "GET /page HTTP/1.1\r\nHost: public.test\r\nx-small: 1\r\ncookie: {}\r\n\r\n",
        "c".repeat(64 * 1024)
    );
    Box::leak(head.into_boxed_str())
}

/// A request line of 5,000 bytes against `max_header_bytes = 4096`.
fn long_line() -> &'static str {
    let line = format!(
        "GET /public/{} HTTP/1.1\r\nHost: public.test\r\n\r\n",
        "a".repeat(5000)
    );
    Box::leak(line.into_boxed_str())
}

async fn start_edge() -> (Env, Recording) {
    let (origin, recording) = recording_origin().await;
    let env = gateway::start_with(move |data, _demo| {
        format!(
            r#"
[server]
node_name = "test"
data_dir = "{data}"

[[listeners]]
addr = "127.0.0.1:0"
h2c = true

[admin]
addr = "127.0.0.1:0"

[limits]
max_header_bytes = 4096
body_read_timeout_ms = 500

[[upstreams]]
name = "origin"
targets = ["{origin}"]
response_timeout_ms = 5000

[[routes]]
name = "admin-host"
hosts = ["admin.test"]
upstream = "origin"
access = "closed"
reason = "The admin host is internal."

[[routes]]
name = "admin"
path_prefix = "/admin"
upstream = "origin"
access = "closed"
reason = "The admin console is internal."

[[routes]]
name = "no-websocket"
path_prefix = "/nows"
upstream = "origin"
upgrades = []

[[routes]]
name = "raw-api"
path_prefix = "/rawapi"
upstream = "origin"
ambiguous_paths = "pass"

[[routes]]
name = "public"
upstream = "origin"

[[rules]]
id = "secret"
title = "Secret pages"
expression = 'starts_with(http.request.uri.path, "/secret")'
action = "block"
"#,
            data = data.display()
        )
    })
    .await;
    (env, recording)
}

/// Checks what the origin saw of one case, given how many requests it had seen before.
fn check_origin(name: &str, expect: &Origin, rec: &Recorded, before: usize) {
    let new = &rec.requests[before..];
    match expect {
        Origin::Nothing => assert!(
            new.is_empty(),
            "{name}: the origin must see nothing, saw {new:#?}"
        ),
        Origin::Gets { target, host } => {
            assert_eq!(new.len(), 1, "{name}: one request expected, saw {new:#?}");
            let seen = &new[0];
            assert_eq!(seen.method, "GET", "{name}: method");
            assert_eq!(seen.target, *target, "{name}: target");
            assert_eq!(
                seen.all("host"),
                [*host],
                "{name}: one Host, the canonical one"
            );
            assert!(seen.all("upgrade").is_empty(), "{name}: {seen:?}");
            assert!(seen.all("http2-settings").is_empty(), "{name}: {seen:?}");
            assert!(
                seen.all("x-forwarded-host").iter().all(|h| h == host),
                "{name}: X-Forwarded-Host agrees with Host: {seen:?}"
            );
            assert!(seen.complete, "{name}");
        }
        Origin::NoCompleteRequest { never } => {
            assert!(
                new.iter().all(|s| !s.complete),
                "{name}: the origin must never get the request whole: {new:#?}"
            );
            assert!(
                !new.iter().any(|s| find(&s.body, never).is_some()),
                "{name}: the origin saw the broken bytes"
            );
        }
    }
}

#[tokio::test]
async fn every_way_around_a_closed_route_is_closed() {
    let (env, recording) = start_edge().await;
    let mut failures = Vec::new();
    for case in cases() {
        let before = recording.lock().unwrap().requests.len();
        let mut stream = TcpStream::connect(env.addr).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            for (i, part) in case.send.split("{PAUSE}").enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                }
                if stream.write_all(part.as_bytes()).await.is_err() {
                    break;
                }
            }
            read_answer(&mut stream).await
        })
        .await
        .unwrap_or_else(|_| panic!("{}: no answer within 10 s", case.name))
        .unwrap_or_else(|| panic!("{}: the connection closed without an answer", case.name));

        let ray = answer.header("doorman-ray").map(str::to_owned);
        let code = answer.header("doorman-code");
        let mut problems = Vec::new();
        if answer.status != case.status {
            problems.push(format!("status {} (want {})", answer.status, case.status));
        }
        if code != case.code {
            problems.push(format!("code {code:?} (want {:?})", case.code));
        }
        if ray
            .as_deref()
            .and_then(doorman_core::RayId::parse)
            .is_none()
        {
            problems.push("no Ray ID header".into());
        }
        if !answer.body.contains(case.words) {
            problems.push(format!("the receipt does not say {:?}", case.words));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n{answer:#?}",
                case.name,
                problems.join("; ")
            ));
            continue;
        }
        if let (Some(code), Some(ray)) = (case.code, &ray) {
            assert_eq!(env.event(ray).await.code, code, "{}: recorded", case.name);
        }
        // The gateway answered, so whatever it forwarded has arrived.
        tokio::time::sleep(Duration::from_millis(50)).await;
        check_origin(case.name, &case.origin, &recording.lock().unwrap(), before);

        if case.name == "an unasked 101 is refused" {
            // The connection is still plain HTTP: what follows is a request, checked like any.
            stream
                .write_all(b"GET /admin/ HTTP/1.1\r\nHost: admin.test\r\n\r\n")
                .await
                .unwrap();
            let next = read_answer(&mut stream).await.expect("an answer");
            assert_eq!(next.header("doorman-code"), Some("ROUTE_CLOSED"));
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(
                recording.lock().unwrap().tunnelled.is_empty(),
                "nothing may reach the origin through a tunnel it opened on its own"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let raw = String::from_utf8_lossy(&recording.lock().unwrap().raw).into_owned();
    for never in ["admin", "ADMIN", "%61dmin", "secret", "zz\r\n", "EXTRA"] {
        assert!(
            !raw.contains(never),
            "the origin received `{never}` somewhere:\n{raw}"
        );
    }
    env.stop().await;
}

/// An HTTP/2 request over a fresh h2c connection, built by hand so that it can carry both
/// `:authority` and a `host` header that disagree.
async fn h2_request(addr: SocketAddr, req: http::Request<Empty<Bytes>>) -> http::Response<Bytes> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    http::Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn over_http2_authority_wins_and_connect_is_refused() {
    let (env, recording) = start_edge().await;

    let before = recording.lock().unwrap().requests.len();
    let req = http::Request::get("http://public.test/h2")
        .header("host", "admin.test")
        .body(Empty::new())
        .unwrap();
    let resp = h2_request(env.addr, req).await;
    assert_eq!(resp.status(), 200, "{resp:?}");
    check_origin(
        "h2 authority wins",
        &Origin::Gets {
            target: "/h2",
            host: "public.test",
        },
        &recording.lock().unwrap(),
        before,
    );

    let req = http::Request::get("http://admin.test/h2")
        .header("host", "public.test")
        .body(Empty::new())
        .unwrap();
    let resp = h2_request(env.addr, req).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["doorman-code"], "ROUTE_CLOSED");

    let req = http::Request::get("http://public.test/x/%2e%2e/admin/")
        .body(Empty::new())
        .unwrap();
    let resp = h2_request(env.addr, req).await;
    assert_eq!(resp.headers()["doorman-code"], "ROUTE_CLOSED");

    let before = recording.lock().unwrap().requests.len();
    let req = http::Request::connect("admin.test:443")
        .body(Empty::new())
        .unwrap();
    let resp = h2_request(env.addr, req).await;
    assert_eq!(resp.status(), 405, "{resp:?}");
    assert_eq!(resp.headers()["doorman-code"], "METHOD_NOT_ALLOWED");
    assert!(resp.headers().contains_key("doorman-ray"));
    assert!(resp.headers()["allow"].to_str().unwrap().contains("GET"));
    check_origin(
        "h2 CONNECT",
        &Origin::Nothing,
        &recording.lock().unwrap(),
        before,
    );
    env.stop().await;
}
