//! JA4, FoxIO's TLS client fingerprint, computed from a parsed [`ClientHello`].
//!
//! `JA4 = a_b_c` (FoxIO, `technical_details/JA4.md`):
//!
//! - **a**, readable: transport (`t` TCP, `q` QUIC, `d` DTLS), the highest offered TLS version
//!   (`13`, `12`, …, `00` when unknown), `d` when an SNI extension is present else `i`, the
//!   number of cipher suites and of extensions as two digits (GREASE not counted, capped at 99;
//!   SNI and ALPN counted), and the first and last characters of the first ALPN protocol (`00`
//!   without ALPN; the first and last hex digits of its bytes when either end is not an ASCII
//!   letter or digit).
//! - **b**, the first 12 hex digits of SHA-256 over the cipher suites as 4-digit lowercase hex,
//!   sorted, comma-separated, GREASE dropped; `000000000000` when there are none.
//! - **c**, the same over the extension types sorted, GREASE, SNI (0000) and ALPN (0010) dropped,
//!   then `_` and the signature algorithms in the order sent (no `_` part when there are none);
//!   `000000000000` when the sorted extension list is empty.
//!
//! The raw forms (`ja4_r`: the strings before hashing; `ja4_o`/`ja4_ro`: original order, with SNI
//! and ALPN kept) are offered too: they are what an operator compares when two hashes differ.
//!
//! [`Ja4Summary`] reads the `a` part back from a fingerprint string, for checks that get the JA4
//! of a connection as text (the header-consistency checks do).

use std::fmt;

use sha2::{Digest, Sha256};

use crate::tls::{ClientHello, ext, is_grease};

/// What carried the ClientHello: the first letter of a JA4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TLS over TCP (`t`).
    Tcp,
    /// QUIC (`q`).
    Quic,
    /// DTLS (`d`).
    Dtls,
}

impl Transport {
    fn letter(self) -> char {
        match self {
            Transport::Tcp => 't',
            Transport::Quic => 'q',
            Transport::Dtls => 'd',
        }
    }
}

/// A JA4 fingerprint in its three parts; `Display` joins them with `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ja4 {
    /// The readable part, e.g. `t13d1516h2`.
    pub a: String,
    /// Truncated hash of the sorted cipher suites.
    pub b: String,
    /// Truncated hash of the sorted extensions and the signature algorithms.
    pub c: String,
}

impl fmt::Display for Ja4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}_{}", self.a, self.b, self.c)
    }
}

/// The value JA4 uses in place of a hash of an empty list.
const EMPTY_HASH: &str = "000000000000";

impl ClientHello {
    /// The JA4 fingerprint of this ClientHello read from a TCP stream.
    pub fn ja4(&self) -> Ja4 {
        self.ja4_for(Transport::Tcp)
    }

    /// The JA4 fingerprint for a ClientHello carried by `transport`.
    pub fn ja4_for(&self, transport: Transport) -> Ja4 {
        let parts = Parts::new(self, transport, Order::Sorted);
        Ja4 {
            b: hash12(&parts.ciphers),
            c: if parts.extensions.is_empty() {
                EMPTY_HASH.to_string()
            } else {
                hash12(&parts.extensions_and_sigs())
            },
            a: parts.a,
        }
    }

    /// `ja4_r`: the JA4 with the sorted lists in clear instead of hashed.
    pub fn ja4_r(&self) -> String {
        Parts::new(self, Transport::Tcp, Order::Sorted).raw()
    }

    /// `ja4_o`: like JA4 but hashing the lists in the order sent, SNI and ALPN included.
    pub fn ja4_o(&self) -> String {
        let parts = Parts::new(self, Transport::Tcp, Order::Original);
        // The empty marker follows the sorted list (SNI and ALPN left out), as FoxIO's tools do:
        // a hello whose only extension is SNI gets 000000000000 here too.
        let sorted_empty = Parts::new(self, Transport::Tcp, Order::Sorted)
            .extensions
            .is_empty();
        let c = if sorted_empty {
            EMPTY_HASH.to_string()
        } else {
            hash12(&parts.extensions_and_sigs())
        };
        format!("{}_{}_{}", parts.a, hash12(&parts.ciphers), c)
    }

    /// `ja4_ro`: the lists in the order sent, in clear, SNI and ALPN included.
    pub fn ja4_ro(&self) -> String {
        Parts::new(self, Transport::Tcp, Order::Original).raw()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Sorted,
    Original,
}

/// The strings JA4 hashes, before hashing.
struct Parts {
    a: String,
    ciphers: String,
    extensions: String,
    sigs: String,
}

impl Parts {
    fn new(hello: &ClientHello, transport: Transport, order: Order) -> Parts {
        let mut ciphers: Vec<u16> = without_grease(&hello.cipher_suites);
        let all_extensions: Vec<u16> = without_grease(&hello.extensions);
        let mut extensions: Vec<u16> = match order {
            // The sorted form leaves out SNI and ALPN: part a already says whether they are
            // there, and leaving them out keeps c the same for a client whether it connects to a
            // name or an address, with or without ALPN.
            Order::Sorted => all_extensions
                .iter()
                .copied()
                .filter(|e| *e != ext::SERVER_NAME && *e != ext::ALPN)
                .collect(),
            Order::Original => all_extensions.clone(),
        };
        if order == Order::Sorted {
            ciphers.sort_unstable();
            extensions.sort_unstable();
        }
        let a = format!(
            "{}{}{}{:02}{:02}{}",
            transport.letter(),
            version_code(hello.max_version()),
            if hello.has_extension(ext::SERVER_NAME) {
                'd'
            } else {
                'i'
            },
            hello
                .cipher_suites
                .iter()
                .filter(|c| !is_grease(**c))
                .count()
                .min(99),
            all_extensions.len().min(99),
            alpn_code(hello.first_alpn()),
        );
        Parts {
            a,
            ciphers: hex_list(&ciphers),
            extensions: hex_list(&extensions),
            sigs: hex_list(&without_grease(&hello.signature_algorithms)),
        }
    }

    fn extensions_and_sigs(&self) -> String {
        if self.sigs.is_empty() {
            self.extensions.clone()
        } else {
            format!("{}_{}", self.extensions, self.sigs)
        }
    }

    fn raw(&self) -> String {
        let mut out = format!("{}_{}_{}", self.a, self.ciphers, self.extensions);
        if !self.sigs.is_empty() {
            out.push('_');
            out.push_str(&self.sigs);
        }
        out
    }
}

fn without_grease(values: &[u16]) -> Vec<u16> {
    values.iter().copied().filter(|v| !is_grease(*v)).collect()
}

/// `0a0a,1301,…`: four lowercase hex digits each, comma-separated.
fn hex_list(values: &[u16]) -> String {
    let mut out = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{v:04x}"));
    }
    out
}

/// The first 12 lowercase hex digits of SHA-256, or the empty marker for an empty input.
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return EMPTY_HASH.to_string();
    }
    let digest = Sha256::digest(s.as_bytes());
    hex::encode(&digest[..6])
}

/// The two characters JA4 uses for a protocol version.
fn version_code(version: u16) -> &'static str {
    match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The two characters JA4 uses for the first ALPN protocol.
fn alpn_code(first: Option<&[u8]>) -> String {
    let Some(value) = first else {
        return "00".to_string();
    };
    let (Some(&head), Some(&tail)) = (value.first(), value.last()) else {
        return "00".to_string();
    };
    if head.is_ascii_alphanumeric() && tail.is_ascii_alphanumeric() {
        // A one-character protocol gives that character twice, as the spec says.
        return format!("{}{}", char::from(head), char::from(tail));
    }
    // Otherwise the first and last hex digits of the whole value.
    let hex = hex::encode(value);
    let mut chars = hex.chars();
    match (chars.next(), chars.next_back()) {
        (Some(f), Some(l)) => format!("{f}{l}"),
        _ => "00".to_string(),
    }
}

/// The readable `a` part of a JA4 string, read back from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ja4Summary<'a> {
    /// `t`, `q` or `d`.
    pub transport: char,
    /// The version code, e.g. `13`.
    pub version: &'a str,
    /// Whether the client sent SNI (`d`).
    pub sni: bool,
    /// Cipher suites offered (GREASE not counted, at most 99).
    pub ciphers: u8,
    /// Extensions sent (GREASE not counted, at most 99).
    pub extensions: u8,
    /// The two ALPN characters, `00` when there was no ALPN.
    pub alpn: &'a str,
    /// The `b` part (cipher hash).
    pub cipher_hash: &'a str,
}

impl<'a> Ja4Summary<'a> {
    /// Read a JA4 string such as `t13d1516h2_8daaf6152771_d8a2da3f94cd`; `None` when it does not
    /// have that shape.
    pub fn parse(ja4: &'a str) -> Option<Ja4Summary<'a>> {
        let mut parts = ja4.split('_');
        let a = parts.next()?;
        let b = parts.next()?;
        parts.next()?;
        if parts.next().is_some() || a.len() != 10 || !a.is_ascii() {
            return None;
        }
        let transport = char::from(a.as_bytes()[0]);
        if !matches!(transport, 't' | 'q' | 'd') {
            return None;
        }
        let sni = match a.as_bytes()[3] {
            b'd' => true,
            b'i' => false,
            _ => return None,
        };
        Some(Ja4Summary {
            transport,
            version: &a[1..3],
            sni,
            ciphers: a[4..6].parse().ok()?,
            extensions: a[6..8].parse().ok()?,
            alpn: &a[8..10],
            cipher_hash: b,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_characters_follow_the_spec_examples() {
        // The examples listed in FoxIO's JA4.md, section "ALPN Extension Value".
        let cases: &[(&[u8], &str)] = &[
            (b"h2", "h2"),
            (b"http/1.1", "h1"),
            (b"a", "aa"),
            (&[0xab], "ab"),
            (&[0x20], "20"),
            (&[0xab, 0xcd], "ad"),
            (&[0x20, 0x61], "21"),
            (&[0x30, 0xab], "3b"),
            (&[0x61, 0x20], "60"),
            (&[0x30, 0x31, 0xab, 0xcd], "3d"),
            (&[0x30, 0xab, 0xcd, 0x31], "01"),
            (b"", "00"),
        ];
        for (value, want) in cases {
            assert_eq!(alpn_code(Some(value)), *want, "{value:02x?}");
        }
        assert_eq!(alpn_code(None), "00");
    }

    #[test]
    fn hashes_match_the_spec_worked_example() {
        // FoxIO JA4.md, "Cipher hash" and "Extension hash".
        assert_eq!(
            hash12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        assert_eq!(
            hash12(
                "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_\
                 0403,0804,0401,0503,0805,0501,0806,0601"
            ),
            "e5627efa2ab1"
        );
        assert_eq!(
            hash12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"),
            "6d807ffa2a79"
        );
        assert_eq!(hash12(""), EMPTY_HASH);
    }

    #[test]
    fn summary_reads_the_a_part() {
        let s = Ja4Summary::parse("t13d1516h2_8daaf6152771_d8a2da3f94cd").unwrap();
        assert_eq!(
            (
                s.transport,
                s.version,
                s.sni,
                s.ciphers,
                s.extensions,
                s.alpn
            ),
            ('t', "13", true, 15, 16, "h2")
        );
        assert_eq!(s.cipher_hash, "8daaf6152771");
        for bad in [
            "",
            "t13d1516h2",
            "x13d1516h2_a_b",
            "t13x1516h2_a_b",
            "t13d15é6h2_a_b",
        ] {
            assert_eq!(Ja4Summary::parse(bad), None, "{bad}");
        }
    }
}
