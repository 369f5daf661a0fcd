//! One HTTP GET for a JWKS document, over the hyper + rustls (ring) stack the workspace already
//! uses.
//!
//! Deliberately small: a fresh connection per fetch (fetches happen minutes apart, so a pool
//! would only hold idle sockets), HTTP/1.1, no redirects (a JWKS URL that moves is a
//! configuration to fix, and following redirects would let whoever answers choose where keys
//! come from), a hard timeout over the whole exchange and a cap on the body.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::JwksUrl;

/// Everything needed to fetch one URL, checked once at provider build time.
pub(crate) struct Fetcher {
    url: String,
    uri: Uri,
    /// Host without IPv6 brackets, for connecting and for SNI.
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    max_bytes: usize,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("url", &self.url)
            .field("tls", &self.tls.is_some())
            .field("timeout", &self.timeout)
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

/// Why a fetcher cannot be built: a bad URL or a bad CA file.
pub(crate) enum BuildError {
    Url(String),
    CaFile(String),
}

impl Fetcher {
    pub fn new(cfg: &JwksUrl) -> Result<Self, BuildError> {
        let uri: Uri = cfg
            .url
            .parse()
            .map_err(|e| BuildError::Url(format!("not a valid URL: {e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => {
                return Err(BuildError::Url(format!(
                    "scheme `{other}` is not supported; use https://"
                )));
            }
            None => {
                return Err(BuildError::Url(
                    "it has no scheme; write it in full, https://…".to_string(),
                ));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| BuildError::Url("it has no host".to_string()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if !https && !is_loopback(&host) {
            return Err(BuildError::Url(
                "plain http:// is allowed only for loopback hosts (127.0.0.1, ::1, localhost): \
                 anyone on the path could replace the keys; use https://"
                    .to_string(),
            ));
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            Some(Arc::new(client_config(cfg.ca_file.as_deref())?))
        } else {
            if cfg.ca_file.is_some() {
                return Err(BuildError::CaFile(
                    "set for a plain http:// URL, where it would do nothing".to_string(),
                ));
            }
            None
        };
        Ok(Self {
            url: cfg.url.clone(),
            uri,
            host,
            port,
            tls,
            timeout: cfg.fetch_timeout,
            max_bytes: cfg.max_response_bytes,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The body of a 200 answer, or why there is none (a sentence for logs and for
    /// `KeysUnavailable`).
    pub async fn get(&self) -> Result<Bytes, String> {
        match tokio::time::timeout(self.timeout, self.get_inner()).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no complete answer from {} within {} ms",
                self.url,
                self.timeout.as_millis()
            )),
        }
    }

    async fn get_inner(&self) -> Result<Bytes, String> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", self.host, self.port))?;
        // Fetches are rare and small; Nagle would only add latency.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => self.exchange(tcp).await,
            Some(config) => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| format!("`{}` is not a valid TLS server name: {e}", self.host))?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with {}:{} failed: {e}", self.host, self.port))?;
                self.exchange(tls).await
            }
        }
    }

    async fn exchange<S>(&self, stream: S) -> Result<Bytes, String>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {} failed: {e}", self.url))?;
        // The connection is driven here, beside the exchange, not in a spawned task: when the
        // exchange ends (or the timeout drops this future) the socket is closed with it, so an
        // identity provider that hangs cannot pile up half-open connections.
        let exchange = self.request(&mut sender);
        tokio::pin!(exchange);
        tokio::pin!(conn);
        tokio::select! {
            result = &mut exchange => result,
            ended = &mut conn => match ended {
                // Closed cleanly: the exchange has what it needs, or fails on its own.
                Ok(()) => exchange.await,
                Err(e) => Err(format!("connection to {} failed: {e}", self.url)),
            },
        }
    }

    async fn request(
        &self,
        sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    ) -> Result<Bytes, String> {
        let path = self
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let authority = self
            .uri
            .authority()
            .map_or(self.host.clone(), |a| a.to_string());
        let request = Request::get(path)
            .header(header::HOST, authority)
            .header(header::ACCEPT, "application/jwk-set+json, application/json")
            .header(header::USER_AGENT, "doorman-jwt")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request to {} failed: {e}", self.url))?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            return Err(format!(
                "{} answered {status} redirecting to {to}; redirects are not followed, set the URL to the final address",
                self.url
            ));
        }
        if status != StatusCode::OK {
            return Err(format!("{} answered {status}", self.url));
        }
        let max = self.max_bytes;
        let body = Limited::new(response.into_body(), max)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    format!("the answer from {} is larger than {max} bytes", self.url)
                } else {
                    format!("reading the answer from {} failed: {e}", self.url)
                }
            })?;
        Ok(body.to_bytes())
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// rustls with the ring provider (as the rest of the workspace), trusting either the CA file's
/// certificates or, without one, Mozilla's roots.
fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, BuildError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| BuildError::CaFile(e.to_string()))?;
            let mut added = 0usize;
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| BuildError::CaFile(format!("bad PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| BuildError::CaFile(format!("unusable certificate: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(BuildError::CaFile(
                    "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_string(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BuildError::Url(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
