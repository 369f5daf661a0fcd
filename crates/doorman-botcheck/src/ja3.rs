//! JA3, Salesforce's older TLS client fingerprint, computed from a parsed [`ClientHello`].
//!
//! `JA3 string = SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`: the
//! ClientHello's `legacy_version` in decimal, then four lists of decimal values joined with `-`,
//! in the order sent, GREASE values dropped (supported groups are the "elliptic curves"); an
//! absent list is an empty field. The JA3 hash is the MD5 of that string in lowercase hex.
//!
//! Chromium has shuffled its extension order per connection since 2023, so a Chrome JA3 changes
//! from one connection to the next; JA4 sorts the extensions for that reason. JA3 is still what
//! `cf.bot_management.ja3_hash` carries, so it is computed for compatibility.

use std::fmt::Write as _;

use md5::{Digest, Md5};

use crate::tls::{ClientHello, is_grease};

/// A JA3 fingerprint: the string and its MD5 hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ja3 {
    /// E.g. `771,4865-4866-…,0-11-10-…,29-23-…,0-1-2`.
    pub string: String,
    /// MD5 of `string`, 32 lowercase hex digits.
    pub hash: String,
}

impl ClientHello {
    /// The JA3 fingerprint of this ClientHello.
    pub fn ja3(&self) -> Ja3 {
        let mut string = self.legacy_version.to_string();
        string.push(',');
        dash_list(&mut string, &self.cipher_suites);
        string.push(',');
        dash_list(&mut string, &self.extensions);
        string.push(',');
        dash_list(&mut string, &self.supported_groups);
        string.push(',');
        // Point formats are single bytes: no GREASE values exist for them.
        for (i, v) in self.ec_point_formats.iter().enumerate() {
            if i > 0 {
                string.push('-');
            }
            let _ = write!(string, "{v}");
        }
        let hash = hex::encode(Md5::digest(string.as_bytes()));
        Ja3 { string, hash }
    }
}

/// Append the non-GREASE values in decimal, joined with `-`.
fn dash_list(out: &mut String, values: &[u16]) {
    let mut first = true;
    for &v in values {
        if is_grease(v) {
            continue;
        }
        if !first {
            out.push('-');
        }
        first = false;
        let _ = write!(out, "{v}");
    }
}
