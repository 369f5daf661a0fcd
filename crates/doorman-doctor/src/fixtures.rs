//! Loopback servers that misbehave on purpose, for tests of the doctor (this crate's and the
//! `doorman` binary's): an HTTP/1.1 server answering from a closure, the same behind a
//! self-signed certificate, a DNS responder with a fixed answer, and a port nothing listens on;
//! and bodies in the shapes other products answer with, for a closure to serve: Cloudflare's
//! `/cdn-cgi/trace` and error pages. Behind the `test-support` feature; nothing here touches
//! anything but 127.0.0.1.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// A request as the fixture saw it.
#[derive(Debug, Clone)]
pub struct Asked {
    /// `GET`.
    pub method: String,
    /// The request target, e.g. `/.well-known/doorman/trace?path=/`.
    pub target: String,
    /// Header lines, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Asked {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the fixture answers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers (content-length and connection are added).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

impl Reply {
    /// A reply with a status, headers and body.
    pub fn new(status: u16, headers: &[(&str, &str)], body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.into(),
        }
    }
}

/// The handler type.
pub type Handler = Arc<dyn Fn(&Asked) -> Reply + Send + Sync>;

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, handler: &Handler) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return,
        };
        buf.extend_from_slice(&chunk[..n]);
        // Not a request line (a TLS ClientHello, say): answer 400 at once, as real servers do.
        if !buf[0].is_ascii_uppercase() {
            let _ = s
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            let _ = s.shutdown().await;
            return;
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let asked = Asked {
        method: first.next().unwrap_or("").to_owned(),
        target: first.next().unwrap_or("").to_owned(),
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect(),
    };
    let reply = handler(&asked);
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status,
        http::StatusCode::from_u16(reply.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Whatever"),
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let _ = s.write_all(out.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// A plain HTTP/1.1 server on 127.0.0.1 answering every request with `handler`.
pub async fn http_server(
    handler: impl Fn(&Asked) -> Reply + Send + Sync + 'static,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let handler: Handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move { serve_one(s, &handler).await });
        }
    });
    Ok(addr)
}

/// A certificate (and its key) for a server, in PEM and DER.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA's certificate (PEM): give it to `--ca-file`. For a self-signed certificate,
    /// the certificate itself.
    pub ca_pem: String,
    /// The server's certificate (PEM).
    pub cert_pem: String,
    /// The server's private key (PKCS#8 PEM).
    pub key_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn rcgen_error(e: rcgen::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl Pki {
    /// A self-signed certificate for `names` (DNS names or IP addresses), which no browser,
    /// and so no doctor, trusts.
    pub fn self_signed(names: &[&str]) -> std::io::Result<Pki> {
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let c = rcgen::generate_simple_self_signed(names).map_err(rcgen_error)?;
        Ok(Pki {
            ca_pem: c.cert.pem(),
            cert_pem: c.cert.pem(),
            key_pem: c.key_pair.serialize_pem(),
            cert_der: c.cert.der().to_vec(),
            key_der: c.key_pair.serialize_der(),
        })
    }

    /// A private CA and a certificate it issued for `names`: trusted with `--ca-file`.
    pub fn private_ca(names: &[&str]) -> std::io::Result<Pki> {
        let ca_key = rcgen::KeyPair::generate().map_err(rcgen_error)?;
        let mut ca_params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "doorman-doctor test CA");
        let ca = ca_params.self_signed(&ca_key).map_err(rcgen_error)?;
        let key = rcgen::KeyPair::generate().map_err(rcgen_error)?;
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).map_err(rcgen_error)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "doctor test server");
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(rcgen_error)?;
        Ok(Pki {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        })
    }
}

/// The same behind TLS with a fresh self-signed certificate for `names` (which no browser, and
/// so no doctor, trusts).
pub async fn https_server(
    names: &[&str],
    handler: impl Fn(&Asked) -> Reply + Send + Sync + 'static,
) -> std::io::Result<SocketAddr> {
    https_server_with(&Pki::self_signed(names)?, handler).await
}

/// The same behind TLS with a given certificate.
pub async fn https_server_with(
    pki: &Pki,
    handler: impl Fn(&Asked) -> Reply + Send + Sync + 'static,
) -> std::io::Result<SocketAddr> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let other = |e: String| std::io::Error::other(e);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| other(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(vec![CertificateDer::from(pki.cert_der.clone())], key)
    .map_err(|e| other(e.to_string()))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let handler: Handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let (handler, acceptor) = (handler.clone(), acceptor.clone());
            tokio::spawn(async move {
                if let Ok(Ok(tls)) =
                    tokio::time::timeout(Duration::from_secs(5), acceptor.accept(s)).await
                {
                    serve_one(tls, &handler).await;
                }
            });
        }
    });
    Ok(addr)
}

/// A DNS responder on 127.0.0.1 (UDP) that answers every A question for `name` with `ip` (and
/// AAAA questions with no records); other names get NXDOMAIN.
pub async fn dns_server(name: &str, ip: IpAddr) -> std::io::Result<SocketAddr> {
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    let addr = sock.local_addr()?;
    let mut name = Name::from_ascii(name.trim_end_matches('.'))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    name.set_fqdn(true);
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            if let Some(answer) = dns_answer(&buf[..n], &name, ip) {
                let _ = sock.send_to(&answer, from).await;
            }
        }
    });
    Ok(addr)
}

fn dns_answer(q: &[u8], name: &Name, ip: IpAddr) -> Option<Vec<u8>> {
    let query = Message::from_vec(q).ok()?;
    let question = query.queries.first()?.clone();
    let mut r = Message::response(query.metadata.id, query.metadata.op_code);
    r.metadata.recursion_desired = query.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    // RFC 6891: a query with OPT gets OPT back.
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        r.set_edns(edns);
    }
    if question.name() != name {
        r.metadata.response_code = ResponseCode::NXDomain;
    } else {
        let data = match (question.query_type(), ip) {
            (RecordType::A, IpAddr::V4(v4)) => Some(RData::A(A(v4))),
            (RecordType::AAAA, IpAddr::V6(v6)) => Some(RData::AAAA(AAAA(v6))),
            _ => None,
        };
        if let Some(data) = data {
            r.add_answer(Record::from_rdata(name.clone(), 30, data));
        }
    }
    r.add_query(question);
    r.to_vec().ok()
}

/// An HTTP `Date` header value `offset_s` seconds from now (negative: in the past), for a
/// server whose clock is off.
pub fn http_date(offset_s: i64) -> String {
    let now = std::time::SystemTime::now();
    let d = Duration::from_secs(offset_s.unsigned_abs());
    let t = if offset_s >= 0 { now + d } else { now - d };
    httpdate::fmt_http_date(t)
}

/// A loopback port that nothing listens on (bound, then released).
pub fn closed_port() -> std::io::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    l.local_addr()
}

/// An RFC 3339 time `offset_s` seconds from now (negative: in the past), as Statuspage writes
/// them: `2026-11-20T14:05:11.000Z`.
pub fn rfc3339_in(offset_s: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX / 2) + offset_s;
    doorman_common::when::rfc3339_ms(secs * 1000)
}

/// Seconds since the epoch, `offset_s` from now, with milliseconds: `1700000000.123`.
fn unix_with_fraction(offset_s: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX / 2) + offset_s * 1000;
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// A `/cdn-cgi/trace` body as Cloudflare serves it, for a client at `ip` in country `loc`
/// with WARP `warp` (`off`, `on` or `plus`); its `ts` is `ts_offset_s` seconds from now
/// (negative: Cloudflare's clock behind this machine's, as if this machine's were fast).
pub fn cloudflare_trace(ip: &str, loc: &str, warp: &str, ts_offset_s: i64) -> String {
    format!(
        "fl=29f123\nh=example.com\nip={ip}\nts={}\nvisit_scheme=https\nuag=doorman-doctor\ncolo=AMS\nsliver=none\nhttp=http/2\nloc={loc}\ntls=TLSv1.3\nsni=plaintext\nwarp={warp}\ngateway=off\nrbi=off\nkex=X25519\n",
        unix_with_fraction(ts_offset_s)
    )
}

/// A Cloudflare error page in the shape of Cloudflare's templates: for 1xxx codes the
/// `cf-error-code` span and the Ray ID in `<strong>`; for 520–530 the `Error code 522` label.
/// `title` is the page's words for the error ("Access denied").
pub fn cloudflare_error_page(code: u16, title: &str, ray: &str) -> String {
    if code >= 1000 {
        format!(
            r#"<!DOCTYPE html>
<html class="no-js" lang="en-US"><head><title>{title} | example.com | Cloudflare</title>
<meta charset="UTF-8" /><meta http-equiv="Content-Type" content="text/html; charset=UTF-8" /></head>
<body><div id="cf-wrapper"><div id="cf-error-details" class="cf-error-details-wrapper">
<div class="cf-wrapper cf-header cf-error-overview"><h1>
<span class="cf-error-type" data-translate="error">Error</span>
<span class="cf-error-code">{code}</span>
<small class="heading-ray-id">Ray ID: {ray} &bull; 2026-11-23 00:00:00 UTC</small></h1>
<h2 class="cf-subheadline" data-translate="error_desc">{title}</h2></div>
<div class="cf-section cf-wrapper"><h2 data-translate="what_happened">What happened?</h2>
<p>A fixture page: the site refused this request.</p></div>
<div class="cf-error-footer"><p><span>Cloudflare Ray ID: <strong class="font-semibold">{ray}</strong></span>
<span>Performance &amp; security by Cloudflare</span></p></div></div></div></body></html>
"#
        )
    } else {
        format!(
            r#"<!DOCTYPE html>
<html class="no-js" lang="en-US"><head><title>example.com | {code}: {title}</title></head>
<body><div id="cf-wrapper"><div id="cf-error-details" class="p-0"><header>
<h1><span class="inline-block">{title}</span><span class="code-label">Error code {code}</span></h1>
</header><div class="my-8 bg-gradient-gray"><p>A fixture page: the site's server did not serve this request.</p></div>
<div class="cf-error-footer"><p><span class="cf-footer-item"><span>Cloudflare Ray ID: </span><strong class="font-semibold">{ray}</strong></span></p></div>
</div></div></body></html>
"#
        )
    }
}
