//! The TLS handshake, with rustls (ring) and Mozilla's roots, as a browser without a private CA
//! would make it; and, when it fails, the exact reason in words.
//!
//! The verifier is webpki's, wrapped so that it *records* the certificate chain and its verdict
//! before returning that verdict unchanged: the handshake fails exactly when webpki says so, but
//! the doctor can still say who issued the rejected certificate, for which names and until when.
//! Nothing is ever accepted that webpki rejects.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error,
    ProtocolVersion, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use doorman_common::when::{self, Scale};

use crate::http::{Io, boxed};
use crate::target::Target;
use crate::x509::{self, CertInfo};
use crate::{Step, clock};

/// What later connections need to make the same handshake.
#[derive(Clone)]
pub(crate) struct Params {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    recorder: Arc<Recorder>,
}

/// The chain the server sent and webpki's verdict on it.
#[derive(Debug, Clone)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    verdict: Result<(), Error>,
}

/// webpki's verifier, remembering what it saw.
#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    skew_ms: i64,
    seen: Mutex<Option<Seen>>,
}

impl Recorder {
    fn take(&self) -> Option<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        // --clock-skew moves the time certificates are judged at too.
        let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let judged = secs.saturating_add(self.skew_ms / 1000).max(0);
        let now = UnixTime::since_unix_epoch(Duration::from_secs(judged.unsigned_abs()));
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Seen {
            chain,
            verdict: verdict.as_ref().map(|_| ()).map_err(Clone::clone),
        });
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn params(t: &Target, extra_roots: &[Vec<u8>], skew_ms: i64) -> Result<Params, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in extra_roots {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| format!("a --ca-file certificate cannot be a root: {e}"))?;
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("could not set up certificate checks: {e}"))?;
    let recorder = Arc::new(Recorder {
        inner,
        skew_ms,
        seen: Mutex::new(None),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("could not set up TLS: {e}"))?
        // "dangerous" only because the verifier is ours: it is webpki's, unchanged in verdict.
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from(t.host.clone())
        .map_err(|_| format!("`{}` is not a valid name for TLS", t.host))?;
    Ok(Params {
        config: Arc::new(config),
        name,
        recorder,
    })
}

/// A handshake for a later request; `true` when HTTP/2 was negotiated.
pub(crate) async fn connect(
    stream: TcpStream,
    p: &Params,
    timeout: Duration,
) -> Result<(TlsStream<TcpStream>, bool), String> {
    let connector = tokio_rustls::TlsConnector::from(p.config.clone());
    match tokio::time::timeout(timeout, connector.connect(p.name.clone(), stream)).await {
        Ok(Ok(s)) => {
            let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
            Ok((s, h2))
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// The TLS step: handshake on the TCP step's connection.
pub(crate) async fn step(
    stream: TcpStream,
    t: &Target,
    extra_roots: &[Vec<u8>],
    skew_ms: i64,
    timeout: Duration,
) -> (Step, Option<(Box<dyn Io>, Params, bool)>) {
    let mut step = Step::new("tls");
    let p = match params(t, extra_roots, skew_ms) {
        Ok(p) => p,
        Err(e) => {
            step.fact("error", e);
            step.fail("use the host's DNS name or IP address in the URL, and a valid --ca-file");
            return (step, None);
        }
    };
    let start = Instant::now();
    let connector = tokio_rustls::TlsConnector::from(p.config.clone());
    let outcome = tokio::time::timeout(timeout, connector.connect(p.name.clone(), stream)).await;
    let took = start.elapsed();
    let seen = p.recorder.take();
    let now_s = clock::now_ms(skew_ms).div_euclid(1000);
    let leaf = seen
        .as_ref()
        .and_then(|s| s.chain.first())
        .and_then(|c| x509::parse(c));
    let chain_len = seen.as_ref().map_or(0, |s| s.chain.len());

    match outcome {
        Ok(Ok(tls)) => {
            let conn = tls.get_ref().1;
            let version = match conn.protocol_version() {
                Some(ProtocolVersion::TLSv1_3) => "TLS 1.3".to_owned(),
                Some(ProtocolVersion::TLSv1_2) => "TLS 1.2".to_owned(),
                Some(other) => format!("{other:?}"),
                None => "unknown".to_owned(),
            };
            let alpn = conn
                .alpn_protocol()
                .map(|a| String::from_utf8_lossy(a).into_owned());
            let h2 = alpn.as_deref() == Some("h2");
            step.fact("version", version);
            step.fact(
                "ALPN",
                alpn.unwrap_or_else(|| "none (HTTP/1.1 assumed)".to_owned()),
            );
            if let Some(suite) = conn.negotiated_cipher_suite() {
                step.fact("cipher suite", format!("{:?}", suite.suite()));
            }
            step.fact("handshake", clock::elapsed(took));
            if let Some(info) = &leaf {
                cert_facts(&mut step, info, t, chain_len, now_s);
                if let Some(end) = info.not_after {
                    let left = end - now_s;
                    if left < 7 * 86_400 {
                        step.warn(Some(format!(
                            "the certificate expires in {}: the site's operator must renew it soon",
                            when::span_words(
                                Duration::from_secs(left.max(0).unsigned_abs()),
                                Scale::TWO_OF_THE_NEXT
                            )
                        )));
                    }
                }
            }
            (step, Some((boxed(tls), p, h2)))
        }
        Ok(Err(e)) => {
            if let Some(info) = &leaf {
                cert_facts(&mut step, info, t, chain_len, now_s);
            }
            let verdict = seen.and_then(|s| s.verdict.err());
            let rustls_error = verdict.or_else(|| {
                e.get_ref()
                    .and_then(|inner| inner.downcast_ref::<Error>())
                    .cloned()
            });
            let (what, fix) = match rustls_error {
                Some(err) => explain(&err, leaf.as_ref(), t, now_s),
                None => explain_io(&e, t),
            };
            step.fact("error", what);
            step.fail(fix);
            (step, None)
        }
        Err(_) => {
            step.fact(
                "error",
                format!("no TLS answer within {:.0} s", timeout.as_secs_f64()),
            );
            step.fail(format!(
                "the server accepted the connection but did not complete a TLS handshake: check that port {} serves https (try http://), or that nothing on your network holds the connection",
                t.port
            ));
            (step, None)
        }
    }
}

fn cert_facts(step: &mut Step, info: &CertInfo, t: &Target, chain_len: usize, now_s: i64) {
    step.fact("certificate", info.subject.clone());
    step.fact("names", info.names());
    step.fact(
        format!("covers {}", t.host),
        if info.covers(&t.host) { "yes" } else { "no" },
    );
    step.fact(
        "issuer",
        if info.self_issued {
            format!("{} (self-signed)", info.issuer)
        } else {
            info.issuer.clone()
        },
    );
    if let Some(start) = info.not_before {
        step.fact("valid from", when::rfc3339((start).saturating_mul(1000)));
    }
    if let Some(end) = info.not_after {
        let left = end - now_s;
        step.fact(
            "valid until",
            if left >= 0 {
                format!(
                    "{} ({} left)",
                    when::rfc3339((end).saturating_mul(1000)),
                    when::span_words(
                        Duration::from_secs(left.unsigned_abs()),
                        Scale::TWO_OF_THE_NEXT
                    )
                )
            } else {
                format!(
                    "{} (ended {} ago)",
                    when::rfc3339((end).saturating_mul(1000)),
                    when::span_words(
                        Duration::from_secs(left.unsigned_abs()),
                        Scale::TWO_OF_THE_NEXT
                    )
                )
            },
        );
    }
    step.fact(
        "chain",
        format!(
            "{chain_len} certificate{} sent",
            if chain_len == 1 { "" } else { "s" }
        ),
    );
}

/// A rustls error in words, and its fix.
fn explain(err: &Error, leaf: Option<&CertInfo>, t: &Target, now_s: i64) -> (String, String) {
    let clock_note = format!(
        "by this device's clock, which reads {}",
        when::rfc3339((now_s).saturating_mul(1000))
    );
    let clock_fix = "If your clock is right, the site's operator must renew the certificate; if it is wrong, turn on automatic time in your system's date settings (a wrong clock makes good certificates look expired or not yet valid).";
    match err {
        Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                let what = match leaf {
                    Some(l) if l.self_issued => format!(
                        "unknown issuer: the certificate is self-signed ({}), so no browser trusts it",
                        l.issuer
                    ),
                    Some(l) => format!(
                        "unknown issuer: {} is not an authority browsers trust (or the server does not send the intermediate certificate)",
                        l.issuer
                    ),
                    None => "unknown issuer: the certificate's issuer is not an authority browsers trust".to_owned(),
                };
                (
                    what,
                    "If you run this site: serve a certificate from a public authority (e.g. Let's Encrypt) with its full chain (or, for a private CA, give its certificate with --ca-file). If you don't: something between you and the site (a company proxy, antivirus, a captive portal) may be replacing the certificate: try another network.".to_owned(),
                )
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
                format!(
                    "name mismatch: the certificate is for {}, not for {}",
                    leaf.map_or_else(|| "other names".to_owned(), CertInfo::names),
                    t.host
                ),
                format!(
                    "use a name the certificate covers, or the site's operator must add {} to its certificate",
                    t.host
                ),
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                format!(
                    "expired: the certificate ended on {} {clock_note}",
                    leaf.and_then(|l| l.not_after)
                        .map_or_else(|| "an earlier date".to_owned(), |s| when::rfc3339(s.saturating_mul(1000)))
                ),
                clock_fix.to_owned(),
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                format!(
                    "not yet valid: the certificate starts on {} {clock_note}",
                    leaf.and_then(|l| l.not_before)
                        .map_or_else(|| "a later date".to_owned(), |s| when::rfc3339(s.saturating_mul(1000)))
                ),
                clock_fix.to_owned(),
            ),
            CertificateError::Revoked => (
                "revoked: the certificate's issuer has withdrawn it".to_owned(),
                "the site's operator must replace the certificate".to_owned(),
            ),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => (
                "the certificate is not meant for web servers (wrong key usage)".to_owned(),
                "the site's operator must use a server certificate".to_owned(),
            ),
            CertificateError::BadSignature => (
                "the certificate's signature does not verify".to_owned(),
                "the site's operator must reissue the certificate; if other sites fail the same way, something on your network is tampering with TLS".to_owned(),
            ),
            other => (
                format!("certificate rejected: {other:?}"),
                "the site's operator must fix its certificate".to_owned(),
            ),
        },
        Error::AlertReceived(AlertDescription::UnrecognisedName) => (
            format!("the server does not serve {} (it rejected the name in the handshake, SNI)", t.host),
            "check the host name; if it is right, the site's operator has not configured TLS for it".to_owned(),
        ),
        Error::AlertReceived(
            AlertDescription::HandshakeFailure
            | AlertDescription::ProtocolVersion
            | AlertDescription::InsufficientSecurity,
        )
        | Error::PeerIncompatible(_) => (
            format!("the server and the doctor share no TLS version or cipher ({err})"),
            "the server may speak only obsolete TLS (1.0/1.1) or unusual ciphers; its operator must enable TLS 1.2 or 1.3".to_owned(),
        ),
        Error::InvalidMessage(_) => (
            format!("the answer is not TLS ({err})"),
            format!(
                "this port seems to speak plain HTTP: use {}",
                t.url_of(&t.path).replacen("https://", "http://", 1)
            ),
        ),
        other => (
            format!("the handshake failed: {other}"),
            "try again; if it persists, try another network (something may be interfering with TLS)".to_owned(),
        ),
    }
}

fn explain_io(e: &std::io::Error, t: &Target) -> (String, String) {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => (
            format!("the server closed the connection during the handshake ({e})"),
            format!(
                "port {} may not speak TLS (try {}), or a filter on the way cut the connection",
                t.port,
                t.url_of(&t.path).replacen("https://", "http://", 1)
            ),
        ),
        _ => (
            format!("the handshake failed: {e}"),
            "try again; if it persists, try another network".to_owned(),
        ),
    }
}
