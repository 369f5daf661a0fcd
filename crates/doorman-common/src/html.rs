//! Escaping text for HTML and XML, the one escaper behind every page Doorman writes itself:
//! receipts, the challenge page, the status page, its Atom feed and SVG badge.
//!
//! [`escape`] is safe where the text lands:
//! - in element content (`<p>HERE</p>`), HTML or XML;
//! - in an attribute value in double or single quotes (`title="HERE"`, `title='HERE'`).
//!
//! It is **not** enough, and the caller must do something else, for: unquoted attribute values;
//! the inside of `<script>`, `<style>` or comments; URLs in `href`/`src` (a `javascript:` URL
//! needs no special character: check the scheme); JavaScript or CSS strings; names of elements
//! or attributes.

use std::borrow::Cow;

/// Escapes `& < > " '` (as `&amp; &lt; &gt; &quot; &#39;`), and turns control characters other
/// than tab, line feed and carriage return into U+FFFD, for the contexts listed in the module
/// documentation.
///
/// The control characters go because XML 1.0 forbids them (a feed reader rejects the whole
/// document) and HTML calls them parse errors; nobody means them in text. `&#39;` rather than
/// `&apos;`, which HTML 4 did not know. Borrows when there is nothing to change, which is the
/// common case for hosts, paths and codes.
pub fn escape(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(needs_escape) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_unwanted_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'') || is_unwanted_control(c)
}

fn is_unwanted_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_special_characters() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        // Already-escaped text is escaped again: the input is text, not markup.
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn borrows_plain_text_and_keeps_unicode() {
        assert!(matches!(escape("example.com/ä/日本"), Cow::Borrowed(_)));
        assert_eq!(escape("ä<日本>"), "ä&lt;日本&gt;");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn replaces_control_characters_but_whitespace() {
        assert_eq!(
            escape("a\u{0}b\u{1b}c\u{7f}"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}"
        );
        assert_eq!(escape("a\tb\nc\r"), "a\tb\nc\r");
    }
}
