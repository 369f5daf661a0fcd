//! TLS termination: loads the certificate chain and key named in a listener's config and builds a
//! rustls acceptor that offers HTTP/2 and HTTP/1.1 by ALPN.

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
    use rustls::pki_types::pem::{self, PemObject};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let unreadable = |path: &Path, e: pem::Error| match e {
        pem::Error::Io(io) => tls_err(path, io.to_string()),
        other => tls_err(path, format!("not PEM: {other}")),
    };
    let certs = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| unreadable(cert_file, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(cert_file, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(cert_file, "no CERTIFICATE block found".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| match e {
        pem::Error::NoItemsFound => tls_err(key_file, "no PRIVATE KEY block found".into()),
        other => unreadable(key_file, other),
    })?;
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
