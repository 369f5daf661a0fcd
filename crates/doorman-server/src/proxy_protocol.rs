//! The receiving side of the PROXY protocol (HAProxy's spec, versions 1 and 2): a load balancer in front of Doorman
//! announces the real client and server addresses at the very start of each TCP connection. [`read_header`] reads
//! and checks that header; [`Rewind`] then hands the rest of the stream to TLS/HTTP as if the header had never been
//! there. This module does not decide *whether* a connection must carry the header (the listener's configuration
//! does, and the spec forbids guessing), nor whether the sender is trusted; it never sends the protocol, and it
//! accepts only TCP over IPv4/IPv6 (plus the address-less `LOCAL`/`UNKNOWN`/`UNSPEC` forms).
//!
//! Version 2 headers are read exactly, byte count by byte count, so nothing past them is consumed. A version 1
//! header ends at a CRLF whose position is not known in advance; it is read in chunks of up to its 107-byte maximum
//! and whatever arrived after the CRLF is returned for [`Rewind`] to replay.
//!
//! Version 2 headers are limited to [`MAX_V2_HEADER_LEN`] bytes in all (the spec allows 16 + 65535): real senders
//! add a few TLVs of tens to a few hundred bytes (AWS, GCP and Azure endpoint ids, TLS facts), so 4 KiB is ample
//! headroom while a bogus length cannot make us read 64 KiB of junk. TLVs are skipped unread.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The longest version 1 header the spec allows, CRLF included.
pub const V1_MAX_LEN: usize = 107;

/// The longest version 2 header we accept: the 16-byte fixed part, the addresses and any TLVs.
pub const MAX_V2_HEADER_LEN: usize = 4096;

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V2_FIXED_LEN: usize = 16;

/// Enough to tell v1 from v2 from anything else, and shorter than the shortest header of either version
/// (`PROXY UNKNOWN\r\n` is 15 bytes), so this first read never goes past a header.
const SNIFF_LEN: usize = 8;

/// The addresses a PROXY protocol header announced. Both are `None` for v2 `LOCAL` (the load balancer's own
/// connections, such as health checks) and for v1 `UNKNOWN` or v2 `UNSPEC` (addresses the sender could not express):
/// then the connection's own endpoints are the ones to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    pub source: Option<SocketAddr>,
    pub destination: Option<SocketAddr>,
}

impl ProxyHeader {
    const NO_ADDRESSES: ProxyHeader = ProxyHeader {
        source: None,
        destination: None,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyProtocolError {
    #[error(
        "expected a PROXY protocol header (v1 'PROXY ' or the v2 signature) but the connection started with \
         '{started_with}'"
    )]
    NotProxyProtocol { started_with: String },
    #[error("no complete PROXY protocol header arrived within {0:?}")]
    Timeout(Duration),
    #[error(
        "the connection closed after {received} bytes, before its PROXY protocol header was complete"
    )]
    Truncated { received: usize },
    #[error("PROXY protocol v1 header has no CRLF within the {V1_MAX_LEN} bytes the spec allows")]
    V1TooLong,
    #[error(
        "PROXY protocol v2 header announces {declared} bytes of addresses and TLVs; at most {} are accepted",
        MAX_V2_HEADER_LEN - V2_FIXED_LEN
    )]
    V2TooLong { declared: usize },
    #[error("malformed PROXY protocol v1 header '{line}': {reason}")]
    MalformedV1 { line: String, reason: String },
    #[error("malformed PROXY protocol v2 header: {0}")]
    MalformedV2(String),
    #[error("bad address in PROXY protocol header: {0}")]
    BadAddress(String),
    #[error("PROXY protocol header carries {0} addresses; only TCP over IPv4 or IPv6 is supported")]
    UnsupportedFamily(&'static str),
    #[error("reading the PROXY protocol header: {0}")]
    Io(#[from] io::Error),
}

/// Reads a PROXY protocol header (v1 or v2) from the start of `io`, giving up after `timeout`. Returns the announced
/// addresses and the bytes read past the header (often empty), which must be replayed in front of `io`, e.g. with
/// [`Rewind`].
pub async fn read_header<I: AsyncRead + Unpin>(
    io: &mut I,
    timeout: Duration,
) -> Result<(ProxyHeader, Bytes), ProxyProtocolError> {
    match tokio::time::timeout(timeout, read_header_untimed(io)).await {
        Ok(result) => result,
        Err(_) => Err(ProxyProtocolError::Timeout(timeout)),
    }
}

async fn read_header_untimed<I: AsyncRead + Unpin>(
    io: &mut I,
) -> Result<(ProxyHeader, Bytes), ProxyProtocolError> {
    let mut start = [0u8; SNIFF_LEN];
    let received = fill(io, &mut start).await?;
    let start = &start[..received];
    if start.starts_with(b"PROXY ") {
        return read_v1(io, start).await;
    }
    if received == SNIFF_LEN && V2_SIGNATURE.starts_with(start) {
        return Ok((read_v2(io, start).await?, Bytes::new()));
    }
    if b"PROXY ".starts_with(start) || V2_SIGNATURE.starts_with(start) {
        return Err(ProxyProtocolError::Truncated { received });
    }
    Err(ProxyProtocolError::NotProxyProtocol {
        started_with: start.escape_ascii().to_string(),
    })
}

/// Reads until `buf` is full or the stream ends; returns how much was read.
async fn fill<I: AsyncRead + Unpin>(io: &mut I, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match io.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

async fn read_v1<I: AsyncRead + Unpin>(
    io: &mut I,
    start: &[u8],
) -> Result<(ProxyHeader, Bytes), ProxyProtocolError> {
    let mut buf = [0u8; V1_MAX_LEN];
    buf[..start.len()].copy_from_slice(start);
    let mut received = start.len();
    let mut checked = 0;
    let line_end = loop {
        // Check each new byte once: everything before the CR must be printable, and the CR must be followed by LF.
        while checked < received {
            match buf[checked] {
                b'\r' if checked + 1 == received => break,
                b'\r' if buf[checked + 1] == b'\n' => break,
                b' '..=b'~' => checked += 1,
                _ => {
                    return Err(malformed_v1(
                        &buf[..=checked],
                        "only printable ASCII may come before the CRLF",
                    ));
                }
            }
        }
        if checked + 1 < received {
            break checked;
        }
        if received == V1_MAX_LEN {
            return Err(ProxyProtocolError::V1TooLong);
        }
        match io.read(&mut buf[received..]).await? {
            0 => return Err(ProxyProtocolError::Truncated { received }),
            n => received += n,
        }
    };
    let header = parse_v1(&buf[..line_end])?;
    let surplus = &buf[line_end + 2..received];
    let surplus = if surplus.is_empty() {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(surplus)
    };
    Ok((header, surplus))
}

fn malformed_v1(line: &[u8], reason: impl fmt::Display) -> ProxyProtocolError {
    ProxyProtocolError::MalformedV1 {
        line: line.escape_ascii().to_string(),
        reason: reason.to_string(),
    }
}

/// Parses `PROXY TCP4|TCP6 src dst sport dport` or `PROXY UNKNOWN …` (the line without its CRLF, printable ASCII).
fn parse_v1(line: &[u8]) -> Result<ProxyHeader, ProxyProtocolError> {
    let text = std::str::from_utf8(line).map_err(|_| malformed_v1(line, "not ASCII"))?;
    let rest = text
        .strip_prefix("PROXY ")
        .ok_or_else(|| malformed_v1(line, "does not start with 'PROXY '"))?;
    let mut fields = rest.split(' ');
    let v6 = match fields.next() {
        // The spec says whatever follows UNKNOWN is to be ignored.
        Some("UNKNOWN") => return Ok(ProxyHeader::NO_ADDRESSES),
        Some("TCP4") => false,
        Some("TCP6") => true,
        other => {
            let other = other.unwrap_or_default();
            return Err(malformed_v1(
                line,
                format!("unknown protocol '{other}' (expected TCP4, TCP6 or UNKNOWN)"),
            ));
        }
    };
    if fields.clone().any(str::is_empty) {
        return Err(malformed_v1(
            line,
            "fields must be separated by exactly one space",
        ));
    }
    let mut next = |what: &str| {
        fields
            .next()
            .ok_or_else(|| malformed_v1(line, format!("the {what} is missing")))
    };
    let (src, dst, sport, dport) = (
        next("source address")?,
        next("destination address")?,
        next("source port")?,
        next("destination port")?,
    );
    if fields.next().is_some() {
        return Err(malformed_v1(line, "more than six fields"));
    }
    let ip = |text: &str, role: &str| -> Result<IpAddr, ProxyProtocolError> {
        let parsed = if v6 {
            text.parse::<Ipv6Addr>().map(IpAddr::V6).ok()
        } else {
            text.parse::<Ipv4Addr>().map(IpAddr::V4).ok()
        };
        parsed.ok_or_else(|| {
            let family = if v6 {
                "an IPv6 address (TCP6)"
            } else {
                "an IPv4 address (TCP4)"
            };
            ProxyProtocolError::BadAddress(format!("{role} '{text}' is not {family}"))
        })
    };
    let source = SocketAddr::new(ip(src, "source")?, parse_v1_port(sport, "source")?);
    let destination = SocketAddr::new(
        ip(dst, "destination")?,
        parse_v1_port(dport, "destination")?,
    );
    Ok(ProxyHeader {
        source: Some(source),
        destination: Some(destination),
    })
}

/// Decimal, 0 to 65535, no sign and no leading zeros: the spec's strict form.
fn parse_v1_port(text: &str, role: &str) -> Result<u16, ProxyProtocolError> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
        && text.len() <= 5;
    canonical
        .then(|| text.parse::<u16>().ok())
        .flatten()
        .ok_or_else(|| {
            ProxyProtocolError::BadAddress(format!("{role} port '{text}' is not a port number"))
        })
}

async fn read_v2<I: AsyncRead + Unpin>(
    io: &mut I,
    start: &[u8],
) -> Result<ProxyHeader, ProxyProtocolError> {
    let mut fixed = [0u8; V2_FIXED_LEN];
    fixed[..start.len()].copy_from_slice(start);
    let received = start.len() + fill(io, &mut fixed[start.len()..]).await?;
    let signature_part = &fixed[..received.min(V2_SIGNATURE.len())];
    if !V2_SIGNATURE.starts_with(signature_part) {
        // Only the first bytes matched: this is not the signature after all.
        return Err(ProxyProtocolError::NotProxyProtocol {
            started_with: signature_part.escape_ascii().to_string(),
        });
    }
    if received < V2_FIXED_LEN {
        return Err(ProxyProtocolError::Truncated { received });
    }
    let (version, command) = (fixed[12] >> 4, fixed[12] & 0x0f);
    if version != 2 {
        return Err(ProxyProtocolError::MalformedV2(format!(
            "version {version} (expected 2)"
        )));
    }
    let declared = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if declared > MAX_V2_HEADER_LEN - V2_FIXED_LEN {
        return Err(ProxyProtocolError::V2TooLong { declared });
    }
    let mut body = Body {
        io,
        left: declared,
        received,
    };
    match command {
        // LOCAL: the load balancer speaking for itself; the spec says to ignore the family and the addresses.
        0x0 => {
            body.skip_rest().await?;
            Ok(ProxyHeader::NO_ADDRESSES)
        }
        0x1 => {
            let header = match fixed[13] {
                0x00 => ProxyHeader::NO_ADDRESSES,
                0x11 => {
                    let mut a = [0u8; 12];
                    body.read_exact(&mut a, "TCP over IPv4").await?;
                    let ip =
                        |o: usize| IpAddr::V4(Ipv4Addr::new(a[o], a[o + 1], a[o + 2], a[o + 3]));
                    ProxyHeader {
                        source: Some(SocketAddr::new(ip(0), u16::from_be_bytes([a[8], a[9]]))),
                        destination: Some(SocketAddr::new(
                            ip(4),
                            u16::from_be_bytes([a[10], a[11]]),
                        )),
                    }
                }
                0x21 => {
                    let mut a = [0u8; 36];
                    body.read_exact(&mut a, "TCP over IPv6").await?;
                    let ip = |o: usize| {
                        let mut octets = [0u8; 16];
                        octets.copy_from_slice(&a[o..o + 16]);
                        IpAddr::V6(Ipv6Addr::from(octets))
                    };
                    ProxyHeader {
                        source: Some(SocketAddr::new(ip(0), u16::from_be_bytes([a[32], a[33]]))),
                        destination: Some(SocketAddr::new(
                            ip(16),
                            u16::from_be_bytes([a[34], a[35]]),
                        )),
                    }
                }
                0x12 => return Err(ProxyProtocolError::UnsupportedFamily("UDP over IPv4")),
                0x22 => return Err(ProxyProtocolError::UnsupportedFamily("UDP over IPv6")),
                0x31 | 0x32 => return Err(ProxyProtocolError::UnsupportedFamily("UNIX socket")),
                other => {
                    return Err(ProxyProtocolError::MalformedV2(format!(
                        "unknown address family/protocol 0x{other:02x}"
                    )));
                }
            };
            body.skip_rest().await?;
            Ok(header)
        }
        other => Err(ProxyProtocolError::MalformedV2(format!(
            "unknown command 0x{other:x} (expected LOCAL or PROXY)"
        ))),
    }
}

/// The announced length of a v2 header after its fixed part, consumed exactly.
struct Body<'a, I> {
    io: &'a mut I,
    left: usize,
    received: usize,
}

impl<I: AsyncRead + Unpin> Body<'_, I> {
    async fn read_exact(&mut self, buf: &mut [u8], family: &str) -> Result<(), ProxyProtocolError> {
        if buf.len() > self.left {
            return Err(ProxyProtocolError::MalformedV2(format!(
                "{} bytes announced, too few for {family} addresses ({} bytes)",
                self.left,
                buf.len()
            )));
        }
        self.take(buf).await
    }

    async fn take(&mut self, buf: &mut [u8]) -> Result<(), ProxyProtocolError> {
        let n = fill(self.io, buf).await?;
        self.received += n;
        self.left -= n;
        if n < buf.len() {
            return Err(ProxyProtocolError::Truncated {
                received: self.received,
            });
        }
        Ok(())
    }

    /// Skips the TLVs: nothing in them changes how Doorman treats the connection.
    async fn skip_rest(&mut self) -> Result<(), ProxyProtocolError> {
        let mut scratch = [0u8; 256];
        while self.left > 0 {
            let n = self.left.min(scratch.len());
            self.take(&mut scratch[..n]).await?;
        }
        Ok(())
    }
}

/// A stream that first yields `prefix` (the bytes [`read_header`] read past the header), then reads from the inner
/// stream; writes go straight through.
#[derive(Debug)]
pub struct Rewind<I> {
    prefix: Bytes,
    io: I,
}

impl<I> Rewind<I> {
    pub fn new(prefix: Bytes, io: I) -> Self {
        Rewind { prefix, io }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Rewind<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.is_empty() || buf.remaining() == 0 {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        if this.prefix.is_empty() {
            // Let go of the buffer the prefix was cut from rather than keep it for the connection's lifetime.
            this.prefix = Bytes::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewind<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    const WAIT: Duration = Duration::from_secs(5);

    async fn read_all(bytes: &[u8]) -> (Result<(ProxyHeader, Bytes), ProxyProtocolError>, Vec<u8>) {
        let mut io = bytes;
        let result = read_header(&mut io, WAIT).await;
        (result, io.to_vec())
    }

    fn addresses(source: &str, destination: &str) -> ProxyHeader {
        ProxyHeader {
            source: Some(source.parse().unwrap()),
            destination: Some(destination.parse().unwrap()),
        }
    }

    /// Yields one byte per read, as a slow network might.
    struct Trickle<'a>(&'a [u8]);

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Some((first, rest)) = self.0.split_first() {
                buf.put_slice(&[*first]);
                self.0 = rest;
            }
            Poll::Ready(Ok(()))
        }
    }

    fn v2(command: u8, family: u8, payload: &[u8]) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.push(0x20 | command);
        header.push(family);
        header.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
        header.extend_from_slice(payload);
        header
    }

    fn v4_payload() -> Vec<u8> {
        let mut payload = vec![203, 0, 113, 7, 192, 0, 2, 1];
        payload.extend_from_slice(&51234u16.to_be_bytes());
        payload.extend_from_slice(&443u16.to_be_bytes());
        payload
    }

    #[tokio::test]
    async fn v1_tcp4_with_the_bytes_after_it_returned_for_replay() {
        let (result, rest) =
            read_all(b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\nGET / HTTP/1.1\r\n\r\n").await;
        let (header, surplus) = result.unwrap();
        assert_eq!(header, addresses("203.0.113.7:51234", "192.0.2.1:443"));

        let mut replayed = Vec::new();
        Rewind::new(surplus, rest.as_slice())
            .read_to_end(&mut replayed)
            .await
            .unwrap();
        assert_eq!(replayed, b"GET / HTTP/1.1\r\n\r\n");
    }

    #[tokio::test]
    async fn v1_tcp6() {
        let (result, rest) = read_all(b"PROXY TCP6 2001:db8::7 ::1 0 65535\r\n").await;
        let (header, surplus) = result.unwrap();
        assert_eq!(header, addresses("[2001:db8::7]:0", "[::1]:65535"));
        assert!(surplus.is_empty() && rest.is_empty());
    }

    #[tokio::test]
    async fn v1_unknown_ignores_the_rest_of_the_line() {
        for line in [
            &b"PROXY UNKNOWN\r\nrest"[..],
            b"PROXY UNKNOWN whatever the sender put here\r\nrest",
        ] {
            let (result, rest) = read_all(line).await;
            let (header, surplus) = result.unwrap();
            assert_eq!(
                header,
                ProxyHeader {
                    source: None,
                    destination: None
                }
            );
            assert_eq!([&surplus[..], &rest].concat(), b"rest");
        }
    }

    #[tokio::test]
    async fn v1_arriving_a_byte_at_a_time_is_not_read_past() {
        let mut io = Trickle(b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\nbody");
        let (header, surplus) = read_header(&mut io, WAIT).await.unwrap();
        assert_eq!(header, addresses("10.0.0.1:1", "10.0.0.2:2"));
        assert!(surplus.is_empty());
        assert_eq!(io.0, b"body");
    }

    #[tokio::test]
    async fn v1_is_parsed_strictly() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443 \r\n",
                "exactly one space",
            ),
            (
                b"PROXY TCP4  203.0.113.7 192.0.2.1 51234 443\r\n",
                "exactly one space",
            ),
            (
                b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443 1\r\n",
                "more than six fields",
            ),
            (b"PROXY \r\n", "unknown protocol ''"),
            (
                b"PROXY TCP4 203.0.113.7 192.0.2.1 51234\r\n",
                "the destination port is missing",
            ),
            (
                b"PROXY TCP4 ::1 192.0.2.1 51234 443\r\n",
                "source '::1' is not an IPv4 address (TCP4)",
            ),
            (
                b"PROXY TCP6 ::1 192.0.2.1 51234 443\r\n",
                "destination '192.0.2.1' is not an IPv6 address (TCP6)",
            ),
            (
                b"PROXY TCP4 203.0.113.07 192.0.2.1 1 2\r\n",
                "source '203.0.113.07' is not an IPv4",
            ),
            (
                b"PROXY TCP4 203.0.113.7 192.0.2.1 051234 443\r\n",
                "source port '051234' is not a port",
            ),
            (
                b"PROXY TCP4 203.0.113.7 192.0.2.1 1 65536\r\n",
                "destination port '65536' is not a port",
            ),
            (
                b"PROXY TCP4 203.0.113.7 192.0.2.1 +1 2\r\n",
                "source port '+1' is not a port",
            ),
            (
                b"PROXY UDP4 203.0.113.7 192.0.2.1 1 2\r\n",
                "unknown protocol 'UDP4'",
            ),
            (
                b"PROXY TCP4 203.0.113.7 192.0.2.1 1 2\n",
                "only printable ASCII",
            ),
            (
                b"PROXY TCP4 203.0.113.7\r192.0.2.1 1 2\r\n",
                "only printable ASCII",
            ),
        ];
        for (input, expected) in cases {
            let (result, _) = read_all(input).await;
            let error = result
                .expect_err(&input.escape_ascii().to_string())
                .to_string();
            assert!(
                error.contains(expected),
                "{}: {error}",
                input.escape_ascii()
            );
        }
    }

    #[tokio::test]
    async fn v1_without_crlf_within_107_bytes_is_too_long() {
        let mut line = b"PROXY TCP6 ".to_vec();
        line.resize(V1_MAX_LEN + 20, b'a');
        let (result, _) = read_all(&line).await;
        assert!(
            matches!(result, Err(ProxyProtocolError::V1TooLong)),
            "{result:?}"
        );

        // The spec's worst case is exactly 107 bytes and is accepted.
        let worst = format!(
            "PROXY UNKNOWN {f} {f} 65535 65535\r\n",
            f = ["ffff"; 8].join(":")
        );
        assert_eq!(worst.len(), V1_MAX_LEN);
        let (result, _) = read_all(worst.as_bytes()).await;
        assert_eq!(
            result.unwrap().0,
            ProxyHeader {
                source: None,
                destination: None
            }
        );
    }

    #[tokio::test]
    async fn v2_proxy_over_ipv4_reads_exactly_the_header() {
        let mut input = v2(1, 0x11, &v4_payload());
        input.extend_from_slice(b"\x16\x03\x01 client hello");
        let (result, rest) = read_all(&input).await;
        let (header, surplus) = result.unwrap();
        assert_eq!(header, addresses("203.0.113.7:51234", "192.0.2.1:443"));
        assert!(surplus.is_empty());
        assert_eq!(rest, b"\x16\x03\x01 client hello");
    }

    #[tokio::test]
    async fn v2_proxy_over_ipv6() {
        let mut payload = "2001:db8::7".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        payload.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        payload.extend_from_slice(&[0xc8, 0x22, 0x01, 0xbb]);
        let mut io = Trickle(&v2(1, 0x21, &payload));
        let (header, _) = read_header(&mut io, WAIT).await.unwrap();
        assert_eq!(
            header,
            addresses("[2001:db8::7]:51234", "[2001:db8::1]:443")
        );
    }

    #[tokio::test]
    async fn v2_local_and_unspec_carry_no_addresses() {
        // LOCAL ignores whatever family and addresses follow, as the spec says.
        for input in [
            v2(0, 0x00, b""),
            v2(0, 0x11, &v4_payload()),
            v2(1, 0x00, b"\x01\x00\x01x"),
        ] {
            let (result, rest) = read_all(&[&input[..], b"after"].concat()).await;
            assert_eq!(
                result.unwrap().0,
                ProxyHeader {
                    source: None,
                    destination: None
                }
            );
            assert_eq!(rest, b"after");
        }
    }

    #[tokio::test]
    async fn v2_tlvs_are_skipped() {
        let mut payload = v4_payload();
        payload.extend_from_slice(b"\x01\x00\x02h2"); // ALPN
        payload.extend_from_slice(&[0xea, 0x01, 0x2c]); // AWS: a 300-byte VPC endpoint TLV
        payload.extend_from_slice(&[b'v'; 300]);
        let input = [&v2(1, 0x11, &payload)[..], b"GET"].concat();
        let (result, rest) = read_all(&input).await;
        assert_eq!(
            result.unwrap().0,
            addresses("203.0.113.7:51234", "192.0.2.1:443")
        );
        assert_eq!(rest, b"GET");
    }

    #[tokio::test]
    async fn v2_rejects_what_it_cannot_use() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (v2(1, 0x31, &[0; 216]), "carries UNIX socket addresses"),
            (
                v2(1, 0x12, &v4_payload()),
                "carries UDP over IPv4 addresses",
            ),
            (
                v2(1, 0x41, &v4_payload()),
                "unknown address family/protocol 0x41",
            ),
            (v2(2, 0x11, &v4_payload()), "unknown command 0x2"),
            (
                v2(1, 0x11, &v4_payload()[..8]),
                "8 bytes announced, too few for TCP over IPv4",
            ),
            (
                v2(1, 0x21, &v4_payload()),
                "12 bytes announced, too few for TCP over IPv6",
            ),
        ];
        for (input, expected) in cases {
            let (result, _) = read_all(&input).await;
            let error = result.unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
        let mut version_1 = v2(1, 0x11, &v4_payload());
        version_1[12] = 0x11;
        let (result, _) = read_all(&version_1).await;
        assert!(
            result
                .unwrap_err()
                .to_string()
                .contains("version 1 (expected 2)")
        );
    }

    #[tokio::test]
    async fn v2_longer_than_the_limit_is_refused_before_reading_it() {
        let declared = MAX_V2_HEADER_LEN - V2_FIXED_LEN + 1;
        let mut input = v2(1, 0x11, b"");
        input[14..16].copy_from_slice(&u16::try_from(declared).unwrap().to_be_bytes());
        input.extend_from_slice(b"not read");
        let (result, rest) = read_all(&input).await;
        assert!(
            matches!(result, Err(ProxyProtocolError::V2TooLong { declared: d }) if d == declared),
            "{result:?}"
        );
        assert_eq!(rest, b"not read");

        // Exactly at the limit is fine.
        let mut payload = v4_payload();
        payload.resize(MAX_V2_HEADER_LEN - V2_FIXED_LEN, 0);
        let (result, _) = read_all(&v2(1, 0x11, &payload)).await;
        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn garbage_is_named_in_the_error() {
        let (result, _) = read_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert_eq!(
            result.unwrap_err().to_string(),
            "expected a PROXY protocol header (v1 'PROXY ' or the v2 signature) but the connection started with \
             'GET / HT'"
        );
        let (result, _) = read_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc").await;
        assert!(
            result
                .unwrap_err()
                .to_string()
                .ends_with(r"started with '\x16\x03\x01\x02\x00\x01\x00\x01'")
        );
        // The first 8 bytes of the v2 signature, then something else.
        let (result, _) = read_all(b"\r\n\r\n\0\r\nQxxxxxxxxxxxx").await;
        assert!(
            matches!(result, Err(ProxyProtocolError::NotProxyProtocol { .. })),
            "{result:?}"
        );
        let (result, _) = read_all(b"PROX").await;
        assert!(
            matches!(result, Err(ProxyProtocolError::Truncated { received: 4 })),
            "{result:?}"
        );
        let (result, _) = read_all(b"HELO").await;
        assert!(
            matches!(result, Err(ProxyProtocolError::NotProxyProtocol { .. })),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn truncated_headers_say_how_far_they_got() {
        let full_v2 = v2(1, 0x11, &v4_payload());
        let cases: [&[u8]; 6] = [
            b"",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 5",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r",
            &full_v2[..10],
            &full_v2[..13],
            &full_v2[..full_v2.len() - 1],
        ];
        for input in cases {
            let (result, _) = read_all(input).await;
            match result {
                Err(ProxyProtocolError::Truncated { received }) => {
                    assert_eq!(received, input.len())
                }
                other => panic!("{}: {other:?}", input.escape_ascii()),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_sender_that_stalls_times_out() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(b"PROXY TCP4 203.0.113.7").await.unwrap();
        let started = tokio::time::Instant::now();
        let result = read_header(&mut server, WAIT).await;
        assert!(
            matches!(result, Err(ProxyProtocolError::Timeout(t)) if t == WAIT),
            "{result:?}"
        );
        assert_eq!(started.elapsed(), WAIT);
        drop(client);
    }

    #[tokio::test]
    async fn rewind_replays_the_prefix_in_small_reads_and_passes_writes_through() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut io = Rewind::new(Bytes::from_static(b"abc"), server);
        client.write_all(b"def").await.unwrap();
        let mut two = [0u8; 2];
        io.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        let mut rest = [0u8; 4];
        io.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"cdef");

        io.write_all(b"reply").await.unwrap();
        let mut reply = [0u8; 5];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"reply");
    }
}
