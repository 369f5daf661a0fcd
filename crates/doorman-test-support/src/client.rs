//! Clients for tests: a hyper HTTP/1.1 client that collects the body, h2c and TLS connections,
//! raw-socket reads and writes (no client library between the test and the bytes on the wire),
//! and loopback addresses where nothing listens.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A loopback address nothing listens on right now (bound, then released).
pub fn closed_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local address")
}

/// The port of [`closed_addr`].
pub fn free_port() -> u16 {
    closed_addr().port()
}

pub fn http1_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// A GET with the given headers, body collected.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> (Response<()>, Bytes) {
    let mut b = Request::get(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(b.body(Full::new(Bytes::new())).unwrap()).await
}

/// Sends `req` on a fresh client and collects the body.
pub async fn send(req: Request<Full<Bytes>>) -> (Response<()>, Bytes) {
    let resp = http1_client().request(req).await.expect("request failed");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (Response::from_parts(parts, ()), bytes)
}

/// A header that must be there, as text.
pub fn header<'a>(resp: &'a Response<()>, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {:?}", resp.headers()))
        .to_str()
        .unwrap()
}

/// An h2 (prior knowledge) request over a fresh plain TCP connection.
pub async fn h2c_get(addr: SocketAddr, path: &str) -> (Response<()>, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get(format!("http://{addr}{path}"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        Response::from_parts(parts, ()),
        body.collect().await.unwrap().to_bytes(),
    )
}

/// A self-signed certificate for `localhost`, written as PEM files (`cert.pem`, `key.pem`) into
/// `dir`; returns their paths and the certificate for a client to trust.
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf, rustls::pki_types::CertificateDer<'static>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    (cert_path, key_path, cert.cert.der().clone())
}

/// A TLS connection to `addr` for `localhost`, trusting only `ca`, offering `alpn`.
pub async fn tls_connect(
    addr: SocketAddr,
    ca: rustls::pki_types::CertificateDer<'static>,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    connector
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap()
}

/// Reads from a raw socket until the peer closes or `limit` passes; returns what arrived.
pub async fn read_all(stream: &mut tokio::net::TcpStream, limit: Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// A raw, blocking HTTP/1.1 GET with `connection: close`; returns the whole answer (status line,
/// headers, body).
pub fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// A header of a raw answer (from [`http_get`]) that must be there, case-insensitive name.
pub fn header_value(answer: &str, name: &str) -> String {
    answer
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} in {answer}"))
}
