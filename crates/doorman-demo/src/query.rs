//! Query-string reading for the demo endpoints: `application/x-www-form-urlencoded` decoding, small enough to keep
//! the crate free of a URL library for a handful of parameters.

/// The decoded value of the first `name` parameter in `query`, if any. `+` means space and `%XX` an escaped byte;
/// a malformed escape is kept literally, as browsers do.
pub(crate) fn param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(value))
    })
}

fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::param;

    #[test]
    fn decodes_plus_and_percent_escapes() {
        let q = Some("city=S%C3%A3o+Paulo&x=1");
        assert_eq!(param(q, "city").as_deref(), Some("São Paulo"));
        assert_eq!(param(q, "x").as_deref(), Some("1"));
    }

    #[test]
    fn first_match_wins_and_missing_is_none() {
        assert_eq!(param(Some("a=1&a=2"), "a").as_deref(), Some("1"));
        assert_eq!(param(Some("a=1"), "b"), None);
        assert_eq!(param(None, "a"), None);
        assert_eq!(param(Some("flag"), "flag").as_deref(), Some(""));
    }

    #[test]
    fn malformed_escapes_stay_literal() {
        assert_eq!(param(Some("a=%zz%4"), "a").as_deref(), Some("%zz%4"));
        assert_eq!(param(Some("a=100%"), "a").as_deref(), Some("100%"));
    }
}
