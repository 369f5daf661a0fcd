//! Ids built from names (group ids, HTML anchors). Text and attribute values are escaped by
//! [`doorman_common::html::escape`], which is also right for the Atom feed and the SVG badge
//! (XML).

/// Lower-case ASCII letters and digits, other runs turned into one `-`: `"Core API"` →
/// `"core-api"`. Used for group ids and HTML anchors.
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("  Core API (EU)!"), "core-api-eu");
    }
}
