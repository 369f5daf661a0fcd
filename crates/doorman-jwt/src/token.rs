//! Taking a compact JWS apart, and reading claims of the right type.
//!
//! We parse ourselves instead of letting `jsonwebtoken` do it so that every failure can say which
//! part is wrong (a truncated copy-paste and a JWE look very different to the person fixing
//! them), and so that `alg: none` or an unknown `alg` is reported as such rather than as a
//! generic JSON error. Nothing here trusts the content: the signature is checked afterwards.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::{TokenRejection, clip};

/// Tokens longer than this are refused before any decoding (real ones are a few KiB; identity
/// providers that put group lists in tokens reach ~8 KiB).
pub(crate) const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// A token split and decoded, not yet verified.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The third part, still base64url (already checked to decode).
    pub signature: &'a str,
}

fn malformed(why: impl Into<String>) -> TokenRejection {
    TokenRejection::Malformed { why: why.into() }
}

/// Splits and decodes a compact JWS. Checks structure only: signature and claims come later.
pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, TokenRejection> {
    if token.is_empty() {
        return Err(malformed("the token is empty"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed(format!(
            "the token is {} bytes long; the limit is {MAX_TOKEN_BYTES}",
            token.len()
        )));
    }
    if let Some(rest) = token.get(..7)
        && rest.eq_ignore_ascii_case("bearer ")
    {
        return Err(malformed(
            "the token starts with `Bearer `; send `Authorization: Bearer <token>` with the word only once",
        ));
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => {
            return Err(malformed(
                "it has five dot-separated parts, so it is an encrypted token (JWE); only signed tokens (JWS, three parts) are accepted",
            ));
        }
        n => {
            return Err(malformed(format!(
                "a JWT has three dot-separated parts (header.payload.signature); this one has {n}"
            )));
        }
    }
    let (header_b64, payload_b64, signature) = (parts[0], parts[1], parts[2]);

    let header = decode_json_object(header_b64, "part 1 (the header)")?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.clone(),
        Some(other) => {
            return Err(malformed(format!(
                "the header's `alg` is {}, not a string",
                kind(other)
            )));
        }
        None => return Err(malformed("the header has no `alg`")),
    };
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(other) => {
            return Err(malformed(format!(
                "the header's `kid` is {}, not a string",
                kind(other)
            )));
        }
    };
    // RFC 7515 §4.1.11: a verifier that does not understand a listed critical extension must
    // reject the token. We implement none.
    if let Some(crit) = header.get("crit") {
        return Err(malformed(format!(
            "the header lists critical extensions (`crit`: {}) that are not supported",
            clip(&crit.to_string())
        )));
    }

    let claims = decode_json_object(payload_b64, "part 2 (the payload)")?;
    if let Err(e) = URL_SAFE_NO_PAD.decode(signature) {
        return Err(malformed(format!(
            "part 3 (the signature) is not base64url: {e}"
        )));
    }
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Parsed {
        alg,
        kid,
        claims,
        signing_input,
        signature,
    })
}

fn decode_json_object(b64: &str, what: &str) -> Result<Map<String, Value>, TokenRejection> {
    if b64.is_empty() {
        return Err(malformed(format!("{what} is empty")));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|e| malformed(format!("{what} is not base64url: {e}")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(malformed(format!(
            "{what} is JSON {}, not an object",
            kind(&other)
        ))),
        Err(e) => Err(malformed(format!("{what} is not valid JSON: {e}"))),
    }
}

/// "a number", "an array", … for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A NumericDate claim (RFC 7519 §2: seconds since the epoch, possibly fractional) as whole
/// seconds, rounded down. Absent or `null` is `None`; any other type, or a negative value, is
/// malformed.
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<u64>, TokenRejection> {
    let v = match claims.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let bad = |what: &str| {
        malformed(format!(
            "claim `{name}` is {what}; it must be a date as seconds since 1970 (a NumericDate)"
        ))
    };
    let Value::Number(n) = v else {
        return Err(bad(kind(v)));
    };
    if let Some(u) = n.as_u64() {
        return Ok(Some(u));
    }
    match n.as_f64() {
        // `as` saturates at u64::MAX for huge values, which then reads as "far future".
        Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f.floor() as u64)),
        _ => Err(bad("negative")),
    }
}

/// An optional string claim; other types are malformed.
pub(crate) fn string_claim(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, TokenRejection> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(malformed(format!(
            "claim `{name}` is {}, not a string",
            kind(other)
        ))),
    }
}

/// A claim that may be one string or an array of strings (`aud`, `scp`). `split_spaces` splits
/// a single string on whitespace (for scope lists).
pub(crate) fn string_or_array(
    claims: &Map<String, Value>,
    name: &str,
    split_spaces: bool,
) -> Result<Vec<String>, TokenRejection> {
    let wrong = |what: &str| {
        malformed(format!(
            "claim `{name}` is {what}; it must be a string or an array of strings"
        ))
    };
    match claims.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if split_spaces => {
            Ok(s.split_whitespace().map(str::to_string).collect())
        }
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong(&format!("an array holding {}", kind(other)))),
            })
            .collect(),
        Some(other) => Err(wrong(kind(other))),
    }
}

/// The scopes a token grants: `scope` (RFC 8693/9068: one space-separated string) and `scp`
/// (Azure AD, Okta: a string or an array), merged, duplicates dropped, order kept.
pub(crate) fn scopes(claims: &Map<String, Value>) -> Result<Vec<String>, TokenRejection> {
    let mut out: Vec<String> = Vec::new();
    for name in ["scope", "scp"] {
        for s in string_or_array(claims, name, true)? {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn names_the_broken_part() {
        let h = b64(r#"{"alg":"ES256"}"#);
        let p = b64(r#"{"sub":"a"}"#);
        let why = |t: &str| match parse(t) {
            Err(TokenRejection::Malformed { why }) => why,
            other => panic!("{other:?}"),
        };
        assert!(why("abc").contains("this one has 1"));
        assert!(why("a.b.c.d.e").contains("JWE"));
        assert!(why(&format!("!!.{p}.")).contains("part 1 (the header) is not base64url"));
        assert!(
            why(&format!("{}.{p}.", b64("[1]"))).contains("part 1 (the header) is JSON an array")
        );
        assert!(
            why(&format!("{h}.{}.", b64("{"))).contains("part 2 (the payload) is not valid JSON")
        );
        assert!(why(&format!("{h}.{p}.*")).contains("part 3 (the signature)"));
        assert!(why(&format!("Bearer {h}.{p}.")).contains("Bearer"));
        let crit = b64(r#"{"alg":"ES256","crit":["exp"]}"#);
        assert!(why(&format!("{crit}.{p}.")).contains("crit"));
    }

    #[test]
    fn reads_claims_of_the_right_type() {
        let claims: Map<String, Value> = serde_json::from_str(
            r#"{"exp": 10.9, "nbf": "soon", "iat": -1, "scope": "a b  a", "scp": ["c", "b"], "aud": 3}"#,
        )
        .unwrap();
        assert_eq!(numeric_date(&claims, "exp").unwrap(), Some(10));
        assert!(numeric_date(&claims, "nbf").is_err());
        assert!(numeric_date(&claims, "iat").is_err());
        assert_eq!(numeric_date(&claims, "missing").unwrap(), None);
        assert_eq!(scopes(&claims).unwrap(), vec!["a", "b", "c"]);
        assert!(string_or_array(&claims, "aud", false).is_err());
    }
}
