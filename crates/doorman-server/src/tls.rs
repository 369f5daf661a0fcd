//! TLS termination: loads the certificate chain and key named in a listener's config and builds a
//! rustls acceptor that offers HTTP/2 and HTTP/1.1 by ALPN.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use doorman_botcheck::ClientHello;
use doorman_core::TlsFacts;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

use crate::ServerError;

/// Builds an acceptor from PEM files.
pub fn acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, ServerError> {
    let tls_err = |path: &Path, message: String| ServerError::Tls {
        path: path.to_path_buf(),
        message,
    };
    let certs = rustls_pemfile::certs(&mut BufReader::new(
        File::open(cert_file).map_err(|e| tls_err(cert_file, e.to_string()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| tls_err(cert_file, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(cert_file, "no CERTIFICATE block found".into()));
    }
    let key = rustls_pemfile::private_key(&mut BufReader::new(
        File::open(key_file).map_err(|e| tls_err(key_file, e.to_string()))?,
    ))
    .map_err(|e| tls_err(key_file, format!("not a PEM private key: {e}")))?
    .ok_or_else(|| tls_err(key_file, "no PRIVATE KEY block found".into()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(cert_file, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            tls_err(
                key_file,
                format!("certificate and key do not fit together: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Facts of a finished handshake. `hello` is the ClientHello read before rustls (see
/// [`crate::hello`]); without it the fingerprints stay `None`.
pub fn facts(conn: &rustls::ServerConnection, hello: Option<&ClientHello>) -> TlsFacts {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    };
    // Computed only now, after the handshake succeeded: a connection that fails TLS does not pay
    // for hashing.
    let (ja3, ja3_hash) = hello
        .map(|h| {
            let ja3 = h.ja3();
            (ja3.string, ja3.hash)
        })
        .unzip();
    TlsFacts {
        version,
        sni: conn.server_name().map(str::to_owned),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        ja4: hello.map(|h| h.ja4().to_string()),
        ja3,
        ja3_hash,
    }
}
