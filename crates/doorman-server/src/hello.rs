//! Reading a TLS client's ClientHello before rustls does, for the JA4 and JA3 fingerprints that
//! rules see as `cf.bot_management.ja4` and `cf.bot_management.ja3_hash`. rustls parses the hello
//! but does not hand out its raw bytes, and the fingerprints need exactly those (order of ciphers
//! and extensions, GREASE values). So [`read_client_hello`] reads from the accepted socket (after
//! any PROXY protocol header) until `doorman_botcheck::parse_client_hello` is satisfied and
//! returns every byte it read; the listener replays them in front of the socket with
//! [`Rewind`](crate::proxy_protocol::Rewind), and rustls sees the connection from its first byte.
//!
//! The fingerprint is a nicety, never a gate. When the bytes are not a ClientHello (plain HTTP on
//! the TLS port, a malformed or oversized hello), when the client is slower than the timeout or
//! closes, the function returns what it read without a hello and rustls decides as it always
//! did. It reads only while the parser says a well-formed hello still lacks bytes, so it never
//! waits for bytes a real client would not send before the server's answer, and it buffers at
//! most [`MAX_HELLO_LEN`] bytes. The buffer is the only allocation of its own per connection;
//! [`Rewind`](crate::proxy_protocol::Rewind) lets go of it once rustls has read it.

use std::io;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use doorman_botcheck::{ClientHello, HelloError, MAX_HELLO_LEN, parse_client_hello};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The first read's room. rustls and curl send 250–600 bytes, Chromium and Firefox with their
/// post-quantum key shares about 1.8–2 KB: one read and no reallocation for nearly every client.
const FIRST_READ: usize = 2048;

/// What was read ahead of rustls.
pub struct Peeked {
    /// Every byte taken from the socket, the PROXY protocol remainder first: replay all of it.
    pub prefix: Bytes,
    /// The parsed ClientHello, or `None` when it could not be had (see the module docs).
    pub hello: Option<ClientHello>,
}

/// Reads the ClientHello from `io`, after the `already` bytes a PROXY protocol header read
/// brought with it, for at most `wait`. Fails only on an I/O error of the socket itself.
pub async fn read_client_hello<I: AsyncRead + Unpin>(
    io: &mut I,
    already: Bytes,
    wait: Duration,
) -> io::Result<Peeked> {
    let mut buf = BytesMut::with_capacity(FIRST_READ.max(already.len()));
    buf.extend_from_slice(&already);
    // `fill` only appends to `buf`, and `read_buf` is cancel-safe, so when the timeout drops the
    // future, `buf` still holds every byte read: nothing is lost for rustls.
    let hello = match tokio::time::timeout(wait, fill(io, &mut buf)).await {
        Ok(result) => result?,
        Err(_) => {
            tracing::debug!(
                "no complete ClientHello within {} ms ({} bytes); no TLS fingerprint",
                wait.as_millis(),
                buf.len()
            );
            None
        }
    };
    Ok(Peeked {
        prefix: buf.freeze(),
        hello,
    })
}

/// Reads into `buf` until it starts with a whole ClientHello, or until it is clear it will not.
async fn fill<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut BytesMut,
) -> io::Result<Option<ClientHello>> {
    // How long `buf` must be before parsing is worth trying again: the parser re-reads the whole
    // buffer each time, so a hello trickling in byte by byte is parsed once per `need`, not once
    // per read.
    let mut want = 0;
    loop {
        if buf.len() >= want {
            match parse_client_hello(buf) {
                Ok(hello) => return Ok(Some(hello)),
                Err(HelloError::Incomplete { need }) => want = buf.len() + need,
                Err(e) => {
                    tracing::debug!("no TLS fingerprint: {e}");
                    return Ok(None);
                }
            }
        }
        if want > MAX_HELLO_LEN {
            // The rest cannot be buffered; the parser would refuse it anyway.
            tracing::debug!("no TLS fingerprint: the ClientHello needs over {MAX_HELLO_LEN} bytes");
            return Ok(None);
        }
        buf.reserve(want - buf.len());
        let room = MAX_HELLO_LEN - buf.len();
        if io.read_buf(&mut (&mut *buf).limit(room)).await? == 0 {
            // Closed mid-hello: rustls gets the same bytes and the same end, and says so.
            return Ok(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    /// A minimal but complete TLS 1.2-style ClientHello record: one cipher, no extensions.
    fn tiny_hello() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend([0u8; 32]); // random
        body.push(0); // session id
        body.extend([0x00, 0x02, 0x13, 0x01]); // one cipher suite
        body.extend([0x01, 0x00]); // compression: null
        let mut msg = vec![1, 0, 0, body.len() as u8];
        msg.extend(body);
        let mut record = vec![22, 3, 1, 0, msg.len() as u8];
        record.extend(msg);
        record
    }

    #[tokio::test]
    async fn a_hello_behind_a_proxy_remainder_is_read_whole_and_kept() {
        let record = tiny_hello();
        let (already, rest) = record.split_at(3);
        let mut tail = rest.to_vec();
        tail.extend(b"early bytes after the hello");
        let mut io = &tail[..];
        let peeked = read_client_hello(&mut io, Bytes::copy_from_slice(already), WAIT)
            .await
            .unwrap();
        assert!(peeked.hello.is_some());
        assert_eq!(&peeked.prefix[..record.len()], &record[..]);
    }

    #[tokio::test]
    async fn plain_http_is_returned_unparsed() {
        let mut io = &b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"[..];
        let peeked = read_client_hello(&mut io, Bytes::new(), WAIT)
            .await
            .unwrap();
        assert!(peeked.hello.is_none());
        assert!(peeked.prefix.starts_with(b"GET / "));
    }

    #[tokio::test]
    async fn a_stalled_hello_keeps_its_bytes() {
        let record = tiny_hello();
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, &record[..10])
            .await
            .unwrap();
        let peeked = read_client_hello(&mut server, Bytes::new(), Duration::from_millis(50))
            .await
            .unwrap();
        assert!(peeked.hello.is_none());
        assert_eq!(&peeked.prefix[..], &record[..10]);
    }

    #[tokio::test]
    async fn a_hello_cut_short_by_close_is_returned_as_is() {
        let record = tiny_hello();
        let mut io = &record[..20];
        let peeked = read_client_hello(&mut io, Bytes::new(), WAIT)
            .await
            .unwrap();
        assert!(peeked.hello.is_none());
        assert_eq!(&peeked.prefix[..], &record[..20]);
    }

    /// A measurement, not a check: 1000 TLS handshakes over loopback with the peek (and the
    /// fingerprints computed as the listener does) against 1000 without, interleaved so both see
    /// the same load.
    #[tokio::test]
    #[ignore = "measurement: cargo test --release -p doorman-server --lib peek_cost -- --ignored --nocapture"]
    async fn peek_cost() {
        use std::hint::black_box;
        use std::sync::Arc;
        use std::time::Instant;

        use tokio::net::{TcpListener, TcpStream};
        use tokio_rustls::rustls;

        use crate::proxy_protocol::Rewind;

        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
        let acceptor = crate::tls::acceptor(&cert_path, &key_path).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.cert.der().clone()).unwrap();
        let client_config = || {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut c = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Arc::new(c)
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

        let rounds = 1000;
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut peek_only = Vec::new();
        let mut hello_bytes = Bytes::new();
        for i in 0..2 * rounds {
            let peek = i % 2 == 1;
            // A fresh config each time: full handshakes, no resumption.
            let connector = tokio_rustls::TlsConnector::from(client_config());
            let started = Instant::now();
            let client = async {
                let tcp = TcpStream::connect(addr).await.unwrap();
                tcp.set_nodelay(true).unwrap();
                connector.connect(name.clone(), tcp).await.unwrap()
            };
            let server = async {
                let (mut tcp, _) = listener.accept().await.unwrap();
                tcp.set_nodelay(true).unwrap();
                if peek {
                    let t = Instant::now();
                    let p = read_client_hello(&mut tcp, Bytes::new(), WAIT)
                        .await
                        .unwrap();
                    peek_only.push(t.elapsed());
                    hello_bytes = p.prefix.clone();
                    let tls = acceptor.accept(Rewind::new(p.prefix, tcp)).await.unwrap();
                    black_box(crate::tls::facts(tls.get_ref().1, p.hello.as_ref()));
                } else {
                    let tls = acceptor
                        .accept(Rewind::new(Bytes::new(), tcp))
                        .await
                        .unwrap();
                    black_box(crate::tls::facts(tls.get_ref().1, None));
                }
            };
            let (conn, ()) = tokio::join!(client, server);
            times[usize::from(peek)].push(started.elapsed());
            drop(conn);
        }
        let stats = |v: &mut Vec<Duration>| {
            v.sort();
            let mean = v.iter().sum::<Duration>().as_secs_f64() / v.len() as f64;
            (mean * 1e6, v[v.len() / 2].as_secs_f64() * 1e6)
        };
        let (base_mean, base_median) = stats(&mut times[0]);
        let (peek_mean, peek_median) = stats(&mut times[1]);
        let (po_mean, po_median) = stats(&mut peek_only);
        // The CPU part alone, on the last hello: parse, JA4, JA3.
        let t = Instant::now();
        for _ in 0..rounds {
            let h = parse_client_hello(black_box(&hello_bytes)).unwrap();
            black_box(h.ja4().to_string());
            black_box(h.ja3());
        }
        let cpu = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!(
            "{rounds} handshakes each, hello {} bytes\n\
             without peek: mean {base_mean:.1} µs, median {base_median:.1} µs\n\
             with peek:    mean {peek_mean:.1} µs, median {peek_median:.1} µs\n\
             read_client_hello alone (includes waiting for the client's bytes): mean {po_mean:.1} µs, median {po_median:.1} µs\n\
             parse + JA4 + JA3 of one hello: {cpu:.2} µs",
            hello_bytes.len()
        );
    }
}
