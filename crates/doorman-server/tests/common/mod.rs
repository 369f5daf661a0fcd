//! Test harness: a real demo origin and a real gateway on ephemeral loopback ports, configured
//! from TOML text exactly as an operator would, and small clients for HTTP/1.1, h2c and TLS.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tempfile::TempDir;

pub struct Env {
    pub dir: TempDir,
    pub config_path: PathBuf,
    pub gateway: doorman_server::Started,
    pub addr: SocketAddr,
    pub origin_addr: SocketAddr,
    pub origin: Option<doorman_demo::DemoHandle>,
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub async fn stop(self) {
        self.gateway.shutdown();
        self.gateway.wait().await;
        if let Some(o) = self.origin {
            let _ = o.stop().await;
        }
    }
}

/// A free loopback port with nothing listening on it.
pub fn closed_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// The base config: one listener on an ephemeral port, admin on another, the demo origin as
/// upstream `chat` with a catch-all route. `extra` is appended (more upstreams/routes/sections).
pub fn base_config(
    data_dir: &std::path::Path,
    origin: SocketAddr,
    server_extra: &str,
    extra: &str,
) -> String {
    format!(
        r#"
[server]
node_name = "test"
data_dir = "{data}"
shutdown_grace_secs = 5
{server_extra}

[[listeners]]
addr = "127.0.0.1:0"

[admin]
addr = "127.0.0.1:0"

[[upstreams]]
name = "chat"
targets = ["{origin}"]
connect_timeout_ms = 1000
response_timeout_ms = 5000

[[routes]]
name = "chat"
path_prefix = "/"
upstream = "chat"

{extra}
"#,
        data = data_dir.display(),
    )
}

/// Starts an origin and a gateway. `make_config(data_dir, origin)` returns the whole TOML.
pub async fn start_with(make_config: impl FnOnce(&std::path::Path, SocketAddr) -> String) -> Env {
    // Server logs appear with a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("doorman_server=debug,doorman=debug")
        .try_init();
    let (origin_addr, origin) = doorman_demo::spawn_with(
        "127.0.0.1:0".parse().unwrap(),
        doorman_demo::DemoOptions {
            token_interval: Duration::from_millis(100),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let text = make_config(&data, origin_addr);
    let config_path = dir.path().join("doorman.toml");
    std::fs::write(&config_path, &text).unwrap();
    let loaded = doorman_config::load(&config_path)
        .unwrap_or_else(|d| panic!("test config does not compile:\n{d}\n{text}"));
    let gateway = doorman_server::start(loaded, Some(config_path.clone()))
        .await
        .unwrap();
    let addr = gateway.listen_addrs[0];
    Env {
        dir,
        config_path,
        gateway,
        addr,
        origin_addr,
        origin: Some(origin),
    }
}

pub async fn start(extra: &str) -> Env {
    start_with(|data, origin| base_config(data, origin, "", extra)).await
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

pub async fn send(req: Request<Full<Bytes>>) -> (Response<()>, Bytes) {
    let resp = http1_client().request(req).await.expect("request failed");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (Response::from_parts(parts, ()), bytes)
}

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

/// A self-signed certificate for `localhost`, written as PEM files into `dir`.
pub fn self_signed(
    dir: &std::path::Path,
) -> (PathBuf, PathBuf, rustls::pki_types::CertificateDer<'static>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    (cert_path, key_path, cert.cert.der().clone())
}

/// A TLS connection to `addr` trusting `ca`, offering `alpn`.
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
