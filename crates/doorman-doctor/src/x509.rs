//! Just enough DER to describe a server certificate to a person: subject, issuer, the names it
//! covers (subjectAltName) and its validity dates.
//!
//! rustls tells *whether* a certificate is acceptable; a person also needs to know *what* it
//! says ("issued by CN=R11, O=Let's Encrypt, for example.com, until 2027-01-01"). This walks the
//! few fields of RFC 5280's `TBSCertificate` it needs, checks every length against the buffer and
//! gives up (returns `None` or skips the field) on anything unexpected: the bytes come from the
//! network and must never cause a panic.

use std::net::IpAddr;

/// What a certificate says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject as `CN=…, O=…` (the attributes a person recognises).
    pub subject: String,
    /// The issuer in the same form.
    pub issuer: String,
    /// Subject and issuer are the same name: a self-signed certificate (or a root).
    pub self_issued: bool,
    /// Start of validity, seconds since the epoch.
    pub not_before: Option<i64>,
    /// End of validity, seconds since the epoch.
    pub not_after: Option<i64>,
    /// DNS names from subjectAltName.
    pub dns_names: Vec<String>,
    /// IP addresses from subjectAltName.
    pub ip_addrs: Vec<IpAddr>,
}

impl CertInfo {
    /// The names the certificate covers, for a sentence.
    pub fn names(&self) -> String {
        let mut all: Vec<String> = self.dns_names.clone();
        all.extend(self.ip_addrs.iter().map(IpAddr::to_string));
        if all.is_empty() {
            "no names (no subjectAltName)".to_owned()
        } else {
            all.join(", ")
        }
    }

    /// Whether `host` (a DNS name or an IP address) is covered, with RFC 6125 wildcards (one
    /// whole left-most label). The common name is ignored, as browsers and rustls do.
    pub fn covers(&self, host: &str) -> bool {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.ip_addrs.contains(&ip);
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.dns_names.iter().any(|n| {
            let n = n.trim_end_matches('.').to_ascii_lowercase();
            match n.strip_prefix("*.") {
                Some(suffix) => host
                    .split_once('.')
                    .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
                None => n == host,
            }
        })
    }
}

/// One DER element: tag, contents, and what follows it.
fn tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        // Long form: 1–4 length bytes; 0x80 (indefinite) is not DER.
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Expects an element with `tag`; returns its contents and the rest.
fn expect(buf: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = tlv(buf)?;
    (t == tag).then_some((content, rest))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
const OID_OU: &[u8] = &[0x55, 0x04, 0x0b];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// Parses a DER certificate; `None` when it is not one.
pub fn parse(der: &[u8]) -> Option<CertInfo> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional.
    if let Some((0xa0, _, r)) = tlv(rest) {
        rest = r;
    }
    let (_serial, r) = expect(rest, 0x02)?;
    let (_sig_alg, r) = expect(r, SEQUENCE)?;
    let (issuer, r) = expect(r, SEQUENCE)?;
    let (validity, r) = expect(r, SEQUENCE)?;
    let (subject, r) = expect(r, SEQUENCE)?;
    let (_spki, mut r) = expect(r, SEQUENCE)?;

    let mut info = CertInfo {
        subject: name(subject),
        issuer: name(issuer),
        self_issued: subject == issuer,
        ..CertInfo::default()
    };
    if let Some((t1, v1, after)) = tlv(validity) {
        info.not_before = time(t1, v1);
        if let Some((t2, v2, _)) = tlv(after) {
            info.not_after = time(t2, v2);
        }
    }
    // Optional unique ids [1], [2], then extensions [3] EXPLICIT.
    while let Some((tag, content, next)) = tlv(r) {
        if tag == 0xa3
            && let Some((exts, _)) = expect(content, SEQUENCE)
        {
            extensions(exts, &mut info);
        }
        r = next;
    }
    Some(info)
}

fn extensions(mut exts: &[u8], info: &mut CertInfo) {
    while let Some((ext, next)) = expect(exts, SEQUENCE) {
        exts = next;
        let Some((oid, mut r)) = expect(ext, OID) else {
            continue;
        };
        if oid != OID_SAN {
            continue;
        }
        // critical BOOLEAN DEFAULT FALSE
        if let Some((0x01, _, after)) = tlv(r) {
            r = after;
        }
        let Some((value, _)) = expect(r, OCTET_STRING) else {
            continue;
        };
        let Some((mut names, _)) = expect(value, SEQUENCE) else {
            continue;
        };
        while let Some((tag, content, next)) = tlv(names) {
            names = next;
            match tag {
                // dNSName [2] IMPLICIT IA5String
                0x82 => info
                    .dns_names
                    .push(String::from_utf8_lossy(content).into_owned()),
                // iPAddress [7] IMPLICIT OCTET STRING
                0x87 => {
                    if let Ok(b) = <[u8; 4]>::try_from(content) {
                        info.ip_addrs.push(IpAddr::from(b));
                    } else if let Ok(b) = <[u8; 16]>::try_from(content) {
                        info.ip_addrs.push(IpAddr::from(b));
                    }
                }
                _ => {}
            }
        }
    }
}

/// A distinguished name as `CN=…, O=…, OU=…` (other attributes left out).
fn name(mut rdns: &[u8]) -> String {
    let mut parts: Vec<(usize, String)> = Vec::new();
    while let Some((set, next)) = expect(rdns, SET) {
        rdns = next;
        let mut atvs = set;
        while let Some((atv, next)) = expect(atvs, SEQUENCE) {
            atvs = next;
            let Some((oid, r)) = expect(atv, OID) else {
                continue;
            };
            let Some((tag, value, _)) = tlv(r) else {
                continue;
            };
            let (order, label) = match oid {
                OID_CN => (0, "CN"),
                OID_O => (1, "O"),
                OID_OU => (2, "OU"),
                _ => continue,
            };
            parts.push((order, format!("{label}={}", string(tag, value))));
        }
    }
    parts.sort_by_key(|(order, _)| *order);
    if parts.is_empty() {
        "(empty name)".to_owned()
    } else {
        parts
            .into_iter()
            .map(|(_, p)| p)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The directory string types, decoded for display.
fn string(tag: u8, value: &[u8]) -> String {
    match tag {
        // BMPString: UTF-16BE.
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        // UTF8String, PrintableString, IA5String, TeletexString and anything else.
        _ => String::from_utf8_lossy(value).into_owned(),
    }
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) to seconds since the epoch.
fn time(tag: u8, value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy: i64 = digits[..2].parse().ok()?;
            // RFC 5280 4.1.2.5.1: 50–99 are 19xx, 00–49 are 20xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (0x18, 14) => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let field = |i: usize| rest[i..i + 2].parse::<u32>().ok();
    doorman_common::when::unix_secs_from_utc(
        year,
        field(0)?,
        field(2)?,
        field(4)?,
        field(6)?,
        field(8)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(names: &[&str]) -> Vec<u8> {
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let cert = rcgen::generate_simple_self_signed(names).unwrap();
        cert.cert.der().to_vec()
    }

    #[test]
    fn reads_an_rcgen_certificate() {
        let info = parse(&self_signed(&["localhost", "*.example.test", "127.0.0.1"])).unwrap();
        assert_eq!(info.dns_names, ["localhost", "*.example.test"]);
        assert_eq!(info.ip_addrs, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert!(info.self_issued);
        assert_eq!(info.subject, "CN=rcgen self signed cert");
        assert!(info.not_before.is_some() && info.not_after > info.not_before);
        assert!(info.covers("localhost"));
        assert!(info.covers("a.example.test"));
        assert!(!info.covers("a.b.example.test"));
        assert!(!info.covers("example.test"));
        assert!(info.covers("127.0.0.1"));
        assert!(!info.covers("127.0.0.2"));
    }

    #[test]
    fn never_panics_on_garbage() {
        let good = self_signed(&["localhost"]);
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        let mut flipped = good.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = parse(&flipped);
            flipped[i] ^= 0xff;
        }
        assert!(parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse(&[]).is_none());
    }

    #[test]
    fn times() {
        assert_eq!(time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(time(0x18, b"20000229000000Z"), Some(951_782_400));
        assert_eq!(time(0x18, b"2000022900000Z"), None);
        assert_eq!(time(0x17, b"70010100000+Z"), None);
    }
}
