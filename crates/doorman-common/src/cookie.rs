//! Reading the `Cookie` request header, one way for the rules language's
//! `http.request.cookies` and the challenge's clearance and loop-marker cookies, so a rule and
//! the challenge never disagree about what a request carried.
//!
//! A user agent sends `name=value; name2=value2` (RFC 6265 §5.4), possibly in several `Cookie`
//! headers over HTTP/2. Parsing is lenient the way servers are: pairs are split on `;`, spaces
//! and tabs around a pair, its name and its value are dropped, empty pairs are skipped, and a
//! value is kept as sent (neither unquoted nor percent-decoded), since what it means is up to
//! whoever set it. This module takes header values as `&str`, so it needs no HTTP crate; a
//! header that is not visible ASCII never reaches it.

/// The `(name, value)` pairs of one `Cookie` header value, in order. A pair without `=` is a
/// name with an empty value. Repeated names are all returned.
pub fn pairs(header_value: &str) -> impl Iterator<Item = (&str, &str)> {
    header_value
        .split(';')
        .map(trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (trim(name), trim(value)),
            None => (pair, ""),
        })
}

/// Every value of cookie `name` in `header_values` (all the request's `Cookie` headers), in
/// order. Names compare case-sensitively, as user agents send them.
pub fn values<'h>(
    header_values: impl IntoIterator<Item = &'h str>,
    name: &str,
) -> impl Iterator<Item = &'h str> {
    header_values
        .into_iter()
        .flat_map(pairs)
        .filter(move |(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// A value without the double quotes RFC 6265 allows around it (`cookie-value = DQUOTE
/// *cookie-octet DQUOTE`), for cookies whose setter never quotes, so a quoting proxy changes
/// nothing.
pub fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_pairs_and_trims_spaces() {
        let got: Vec<_> = pairs(" a=1;b=2 ;  c = 3 ;;d;e=").collect();
        assert_eq!(
            got,
            [("a", "1"), ("b", "2"), ("c", "3"), ("d", ""), ("e", "")]
        );
        assert_eq!(pairs("").count(), 0);
        assert_eq!(pairs(" ; ").count(), 0);
    }

    #[test]
    fn values_are_kept_as_sent() {
        let got: Vec<_> = pairs(r#"q="x y"; p=a%20b; eq=a=b"#).collect();
        assert_eq!(got, [("q", "\"x y\""), ("p", "a%20b"), ("eq", "a=b")]);
    }

    #[test]
    fn values_of_a_name_across_headers() {
        let headers = ["sid=1; other=x", "SID=no", "sid=2"];
        let got: Vec<_> = values(headers, "sid").collect();
        assert_eq!(got, ["1", "2"]);
        assert_eq!(values(headers, "none").count(), 0);
    }

    #[test]
    fn unquote_strips_one_pair_of_quotes() {
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("abc"), "abc");
        assert_eq!(unquote("\"abc"), "\"abc");
        assert_eq!(unquote("\""), "\"");
    }
}
