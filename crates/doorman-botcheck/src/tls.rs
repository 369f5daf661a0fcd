//! Reading a TLS client's first flight: the records, then the ClientHello inside them.
//!
//! The gateway peeks at the bytes a client sends before handing the stream to rustls, so this
//! parser must work on a prefix of the stream: it says [`HelloError::Incomplete`] with a lower
//! bound of the bytes still missing, and the caller reads more (with a timeout) and asks again.
//! It never consumes anything: the caller replays the same bytes into the TLS stack afterwards.
//!
//! Only what fingerprints and bot checks need is kept; the random, session id and key shares are
//! skipped. Lengths are checked everywhere, and a ClientHello larger than [`MAX_HELLO_LEN`] is
//! refused, so a caller that buffers until the parser is satisfied buffers a bounded amount.

use std::fmt;

/// The largest ClientHello (handshake message body) the parser accepts.
///
/// Real ones are under 2 KiB; post-quantum key shares and large PSK identities can push them to a
/// few KiB. 64 KiB leaves room for anything legitimate while bounding what a caller must buffer.
pub const MAX_HELLO_LEN: usize = 64 * 1024;

/// The TLS limit on a record's plaintext fragment (RFC 8446 §5.1).
const MAX_RECORD_LEN: usize = 16 * 1024;

/// Record content type for handshake messages.
const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake message type of a ClientHello.
const HANDSHAKE_CLIENT_HELLO: u8 = 1;

/// Extension code points the parser reads the contents of.
pub mod ext {
    /// server_name (RFC 6066).
    pub const SERVER_NAME: u16 = 0x0000;
    /// supported_groups, formerly elliptic_curves (RFC 8422, RFC 8446).
    pub const SUPPORTED_GROUPS: u16 = 0x000a;
    /// ec_point_formats (RFC 8422).
    pub const EC_POINT_FORMATS: u16 = 0x000b;
    /// signature_algorithms (RFC 8446).
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    /// application_layer_protocol_negotiation (RFC 7301).
    pub const ALPN: u16 = 0x0010;
    /// supported_versions (RFC 8446).
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
}

/// Why bytes could not be read as a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// The bytes are a valid beginning but stop early: read more and parse the whole buffer
    /// again. `need` is never zero and never more than a well-formed ClientHello still needs,
    /// so waiting for exactly `need` bytes cannot hang on a legitimate client.
    #[error("incomplete ClientHello: at least {need} more bytes needed")]
    Incomplete {
        /// The least number of further bytes with which the ClientHello could be complete.
        need: usize,
    },
    /// The first record is not a handshake record. A plain-HTTP request on a TLS port shows up
    /// here with the first letter of the method (`G` = 0x47 for `GET`).
    #[error("not a TLS handshake record (content type 0x{content_type:02x})")]
    NotHandshake {
        /// The record's content type byte.
        content_type: u8,
    },
    /// The record header's protocol version is not 3.x (SSL 3.0 to TLS 1.3 all use major 3).
    #[error("unsupported TLS record version 0x{version:04x}")]
    RecordVersion {
        /// The record header's version field.
        version: u16,
    },
    /// A record claims more than the 16 KiB TLS allows.
    #[error("TLS record of {len} bytes exceeds the 16384-byte limit")]
    RecordTooLong {
        /// The record header's length field.
        len: usize,
    },
    /// The first handshake message is not a ClientHello.
    #[error("first handshake message has type {msg_type}, not ClientHello (1)")]
    NotClientHello {
        /// The handshake message type byte.
        msg_type: u8,
    },
    /// The ClientHello is larger than [`MAX_HELLO_LEN`].
    #[error("ClientHello of {len} bytes exceeds the {max}-byte limit", max = MAX_HELLO_LEN)]
    TooLarge {
        /// The length the handshake header claims.
        len: usize,
    },
    /// The message is complete but its inner lengths do not add up.
    #[error("malformed ClientHello: {what}")]
    Malformed {
        /// Which part failed to parse, in a few words.
        what: &'static str,
    },
}

/// Whether a 16-bit value is a GREASE value (RFC 8701): `0x?a?a` with both bytes equal.
///
/// Clients send these at random in cipher, extension, group and version lists so servers stay
/// tolerant of unknown values; fingerprints must ignore them or every connection would differ.
pub fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

/// The parts of a ClientHello that fingerprints and bot checks look at.
///
/// Lists keep the order and the GREASE values the client sent; the fingerprint functions drop
/// GREASE themselves. When an extension appears twice (which TLS forbids), the contents of the
/// first one are kept and both appear in [`extensions`](Self::extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` of the ClientHello body (0x0303 for TLS 1.2 and 1.3 clients).
    pub legacy_version: u16,
    /// The `supported_versions` extension's list; empty when the extension is absent.
    pub supported_versions: Vec<u16>,
    /// Cipher suites in the order sent.
    pub cipher_suites: Vec<u16>,
    /// Extension types in the order sent.
    pub extensions: Vec<u16>,
    /// The first `host_name` of the server_name extension.
    pub server_name: Option<String>,
    /// ALPN protocol names in the order sent (raw bytes: they need not be ASCII).
    pub alpn: Vec<Vec<u8>>,
    /// The `signature_algorithms` extension's list, in the order sent.
    pub signature_algorithms: Vec<u16>,
    /// The `supported_groups` extension's list, in the order sent.
    pub supported_groups: Vec<u16>,
    /// The `ec_point_formats` extension's list, in the order sent.
    pub ec_point_formats: Vec<u8>,
    /// How many bytes of the input the records holding this ClientHello take. The caller hands
    /// at least these bytes (and everything read after them) to the TLS stack.
    pub wire_len: usize,
}

impl ClientHello {
    /// The highest TLS version the client offers: the largest non-GREASE entry of
    /// `supported_versions`, or `legacy_version` when that extension is absent.
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.legacy_version)
    }

    /// Whether the client sent an extension of this type.
    pub fn has_extension(&self, kind: u16) -> bool {
        self.extensions.contains(&kind)
    }

    /// The first ALPN protocol, the one the client prefers.
    pub fn first_alpn(&self) -> Option<&[u8]> {
        self.alpn.first().map(Vec::as_slice)
    }
}

impl fmt::Display for ClientHello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ClientHello(version 0x{:04x}, {} ciphers, {} extensions, sni {:?})",
            self.max_version(),
            self.cipher_suites.len(),
            self.extensions.len(),
            self.server_name.as_deref().unwrap_or("-"),
        )
    }
}

/// Parse the ClientHello at the start of `bytes`, the raw bytes a TLS client sent first.
///
/// The ClientHello may be split over several handshake records; bytes after the records that
/// hold it are ignored. See [`HelloError`] for the answers other than success, in particular
/// [`HelloError::Incomplete`] to read more. Never panics, whatever the input.
pub fn parse_client_hello(bytes: &[u8]) -> Result<ClientHello, HelloError> {
    let (body, wire_len) = gather_handshake(bytes)?;
    let mut hello = parse_body(&body)?;
    hello.wire_len = wire_len;
    Ok(hello)
}

/// Walk the records and concatenate their fragments until the first handshake message is
/// whole; return its body and the number of input bytes the records took.
fn gather_handshake(bytes: &[u8]) -> Result<(Vec<u8>, usize), HelloError> {
    let mut pos = 0;
    let mut message: Vec<u8> = Vec::new();
    loop {
        let available = bytes.len() - pos;
        if available < 5 {
            // The next record's header, plus what it must at least carry: the rest of the
            // message, or of the message header while its length is unknown.
            let still = remaining_in_message(&message).max(1);
            return Err(HelloError::Incomplete {
                need: 5 - available + still,
            });
        }
        let header = &bytes[pos..pos + 5];
        if header[0] != CONTENT_HANDSHAKE {
            return Err(HelloError::NotHandshake {
                content_type: header[0],
            });
        }
        let version = u16::from_be_bytes([header[1], header[2]]);
        if header[1] != 3 {
            return Err(HelloError::RecordVersion { version });
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len > MAX_RECORD_LEN {
            return Err(HelloError::RecordTooLong { len });
        }
        if len == 0 {
            // RFC 8446 §5.1 forbids empty handshake fragments; a client sending them is not one
            // a fingerprint should describe.
            return Err(HelloError::Malformed {
                what: "empty handshake record",
            });
        }
        if available < 5 + len {
            return Err(HelloError::Incomplete {
                need: 5 + len - available,
            });
        }
        message.extend_from_slice(&bytes[pos + 5..pos + 5 + len]);
        pos += 5 + len;

        if let Some(&msg_type) = message.first()
            && msg_type != HANDSHAKE_CLIENT_HELLO
        {
            return Err(HelloError::NotClientHello { msg_type });
        }
        if message.len() >= 4 {
            let body_len = u24(&message[1..4]);
            if body_len > MAX_HELLO_LEN {
                return Err(HelloError::TooLarge { len: body_len });
            }
            if message.len() >= 4 + body_len {
                message.truncate(4 + body_len);
                message.drain(..4);
                return Ok((message, pos));
            }
        }
    }
}

/// Bytes known to be missing from a handshake message: the rest of its 4-byte header while
/// that is incomplete, else the rest of its body.
fn remaining_in_message(message: &[u8]) -> usize {
    if message.len() < 4 {
        return 4 - message.len();
    }
    let total = 4 + u24(&message[1..4]);
    total.saturating_sub(message.len())
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// A cursor over a byte slice whose reads fail with [`HelloError::Malformed`] instead of
/// panicking when the slice is too short.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], HelloError> {
        if self.buf.len() < n {
            return Err(HelloError::Malformed { what });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, HelloError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, HelloError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a one-byte length prefix.
    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let n = usize::from(self.u8(what)?);
        self.take(n, what)
    }

    /// A vector with a two-byte length prefix.
    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let n = usize::from(self.u16(what)?);
        self.take(n, what)
    }

    /// The whole of the data must have been read: trailing bytes mean a length lied.
    fn finish(&self, what: &'static str) -> Result<(), HelloError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(HelloError::Malformed { what })
        }
    }
}

/// Big-endian u16 values of a list whose byte length must be even.
fn u16_list(bytes: &[u8], what: &'static str) -> Result<Vec<u16>, HelloError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(HelloError::Malformed { what });
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect())
}

/// Parse a ClientHello body (RFC 8446 §4.1.2; the TLS 1.2 layout is the same).
fn parse_body(body: &[u8]) -> Result<ClientHello, HelloError> {
    let mut r = Reader::new(body);
    let legacy_version = r.u16("legacy_version")?;
    r.take(32, "random")?;
    let session_id = r.vec8("session id")?;
    if session_id.len() > 32 {
        return Err(HelloError::Malformed {
            what: "session id longer than 32 bytes",
        });
    }
    let cipher_suites = u16_list(r.vec16("cipher suites")?, "cipher suites")?;
    r.vec8("compression methods")?;

    let mut hello = ClientHello {
        legacy_version,
        supported_versions: Vec::new(),
        cipher_suites,
        extensions: Vec::new(),
        server_name: None,
        alpn: Vec::new(),
        signature_algorithms: Vec::new(),
        supported_groups: Vec::new(),
        ec_point_formats: Vec::new(),
        wire_len: 0,
    };
    // SSL 3.0 and some TLS 1.0 clients end the hello here: extensions are optional.
    if r.is_empty() {
        return Ok(hello);
    }
    let mut exts = Reader::new(r.vec16("extensions")?);
    r.finish("bytes after the extensions")?;

    let mut seen = SeenOnce::default();
    while !exts.is_empty() {
        let kind = exts.u16("extension type")?;
        let data = exts.vec16("extension data")?;
        hello.extensions.push(kind);
        if !seen.first(kind) {
            continue;
        }
        match kind {
            ext::SERVER_NAME => hello.server_name = parse_server_name(data)?,
            ext::ALPN => hello.alpn = parse_alpn(data)?,
            ext::SIGNATURE_ALGORITHMS => {
                hello.signature_algorithms = parse_list16(data, "signature_algorithms")?;
            }
            ext::SUPPORTED_GROUPS => {
                hello.supported_groups = parse_list16(data, "supported_groups")?;
            }
            ext::EC_POINT_FORMATS => {
                let mut d = Reader::new(data);
                hello.ec_point_formats = d.vec8("ec_point_formats")?.to_vec();
                d.finish("ec_point_formats")?;
            }
            ext::SUPPORTED_VERSIONS => {
                let mut d = Reader::new(data);
                hello.supported_versions =
                    u16_list(d.vec8("supported_versions")?, "supported_versions")?;
                d.finish("supported_versions")?;
            }
            _ => {}
        }
    }
    Ok(hello)
}

/// Remembers which of the parsed extension types were already seen, so a duplicate does not
/// overwrite the first one's contents.
#[derive(Default)]
struct SeenOnce(Vec<u16>);

impl SeenOnce {
    fn first(&mut self, kind: u16) -> bool {
        if self.0.contains(&kind) {
            false
        } else {
            self.0.push(kind);
            true
        }
    }
}

/// A list with a two-byte length prefix of u16 values, filling the extension exactly.
fn parse_list16(data: &[u8], what: &'static str) -> Result<Vec<u16>, HelloError> {
    let mut d = Reader::new(data);
    let list = u16_list(d.vec16(what)?, what)?;
    d.finish(what)?;
    Ok(list)
}

/// The first `host_name` entry of a server_name extension (RFC 6066 §3).
fn parse_server_name(data: &[u8]) -> Result<Option<String>, HelloError> {
    let mut d = Reader::new(data);
    let mut list = Reader::new(d.vec16("server_name list")?);
    d.finish("server_name")?;
    let mut name = None;
    while !list.is_empty() {
        let kind = list.u8("server_name type")?;
        let value = list.vec16("server_name value")?;
        if kind == 0 && name.is_none() {
            // Host names are ASCII; anything else is kept visibly rather than refused.
            name = Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    Ok(name)
}

/// The protocol names of an ALPN extension (RFC 7301 §3.1).
fn parse_alpn(data: &[u8]) -> Result<Vec<Vec<u8>>, HelloError> {
    let mut d = Reader::new(data);
    let mut list = Reader::new(d.vec16("ALPN list")?);
    d.finish("ALPN")?;
    let mut names = Vec::new();
    while !list.is_empty() {
        names.push(list.vec8("ALPN protocol name")?.to_vec());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values_are_the_sixteen_of_rfc_8701() {
        let grease: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        assert_eq!(grease.len(), 16);
        assert_eq!(grease[0], 0x0a0a);
        assert_eq!(grease[15], 0xfafa);
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
    }

    #[test]
    fn plain_http_is_not_a_handshake() {
        assert_eq!(
            parse_client_hello(b"GET / HTTP/1.1\r\n"),
            Err(HelloError::NotHandshake { content_type: b'G' })
        );
    }

    #[test]
    fn an_empty_input_needs_a_record_and_a_message_header() {
        assert_eq!(
            parse_client_hello(b""),
            Err(HelloError::Incomplete { need: 9 })
        );
        assert_eq!(
            parse_client_hello(&[22, 3, 1]),
            Err(HelloError::Incomplete { need: 6 })
        );
    }

    #[test]
    fn oversized_records_and_messages_are_refused() {
        assert_eq!(
            parse_client_hello(&[22, 3, 1, 0x40, 0x01]),
            Err(HelloError::RecordTooLong { len: 0x4001 })
        );
        assert_eq!(
            parse_client_hello(&[22, 3, 1, 0, 4, 1, 0x10, 0, 0]),
            Err(HelloError::TooLarge { len: 0x100000 })
        );
        assert_eq!(
            parse_client_hello(&[22, 2, 0, 0, 4]),
            Err(HelloError::RecordVersion { version: 0x0200 })
        );
        assert_eq!(
            parse_client_hello(&[22, 3, 1, 0, 4, 2, 0, 0, 0]),
            Err(HelloError::NotClientHello { msg_type: 2 })
        );
    }
}
