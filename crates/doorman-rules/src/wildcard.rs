//! Wildcard patterns for `wildcard`, `strict wildcard` and `wildcard_replace()`.
//!
//! A pattern matches the whole value; `*` stands for zero or more bytes; `\*` and `\\` are a
//! literal star and backslash; any other escape and `**` are errors, as in Cloudflare's docs.
//! Matching is ASCII case-insensitive unless strict. No regex is built: the pattern is a list of
//! literal pieces matched left to right, which is exact for `*`-only globs.

/// A compiled wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Wildcard {
    /// Literal pieces between stars; `pieces.len() == stars + 1`. Lowercased when insensitive.
    pieces: Vec<Vec<u8>>,
    strict: bool,
}

/// Why a pattern is invalid (the byte offset inside the pattern, and a message).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct WildcardError {
    pub offset: usize,
    pub message: &'static str,
}

impl Wildcard {
    pub(crate) fn new(pattern: &[u8], strict: bool) -> Result<Wildcard, WildcardError> {
        let mut pieces = vec![Vec::new()];
        let mut i = 0;
        let mut prev_star = false;
        while let Some(&b) = pattern.get(i) {
            match b {
                b'*' => {
                    if prev_star {
                        return Err(WildcardError {
                            offset: i,
                            message: "`**` is not allowed in a wildcard pattern",
                        });
                    }
                    pieces.push(Vec::new());
                    prev_star = true;
                    i += 1;
                    continue;
                }
                b'\\' => match pattern.get(i + 1) {
                    Some(&e @ (b'*' | b'\\')) => {
                        push(&mut pieces, e, strict);
                        i += 2;
                    }
                    _ => {
                        return Err(WildcardError {
                            offset: i,
                            message: "only \\* and \\\\ may be escaped in a wildcard pattern",
                        });
                    }
                },
                _ => {
                    push(&mut pieces, b, strict);
                    i += 1;
                }
            }
            prev_star = false;
        }
        Ok(Wildcard { pieces, strict })
    }

    /// Whole-value match.
    pub(crate) fn is_match(&self, value: &[u8]) -> bool {
        self.captures(value, |_| {}).is_some()
    }

    /// Matches lazily (each `*` takes the shortest span that still lets the rest match) and
    /// reports the span of every star through `on_capture`. Returns `None` when it does not match.
    ///
    /// Lazy-leftmost placement of the middle pieces is also the only placement we need to try:
    /// if any placement matches, placing each piece at its leftmost position after the previous
    /// one matches too, because the last piece is anchored at the end.
    pub(crate) fn captures<'v>(
        &self,
        value: &'v [u8],
        mut on_capture: impl FnMut(&'v [u8]),
    ) -> Option<()> {
        let (first, rest) = self.pieces.split_first()?;
        let Some((last, middle)) = rest.split_last() else {
            return self.eq(value, first).then_some(());
        };
        if value.len() < first.len() + last.len() || !self.eq(&value[..first.len()], first) {
            return None;
        }
        let tail_start = value.len() - last.len();
        if !self.eq(&value[tail_start..], last) {
            return None;
        }
        let mut pos = first.len();
        for piece in middle {
            let found = self.find(&value[pos..tail_start], piece)?;
            on_capture(&value[pos..pos + found]);
            pos += found + piece.len();
        }
        on_capture(&value[pos..tail_start]);
        Some(())
    }

    /// Number of `*` in the pattern.
    pub(crate) fn stars(&self) -> usize {
        self.pieces.len() - 1
    }

    fn eq(&self, a: &[u8], b: &[u8]) -> bool {
        if self.strict {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    }

    fn find(&self, hay: &[u8], needle: &[u8]) -> Option<usize> {
        if needle.is_empty() {
            return Some(0);
        }
        if hay.len() < needle.len() {
            return None;
        }
        (0..=hay.len() - needle.len()).find(|&i| self.eq(&hay[i..i + needle.len()], needle))
    }
}

fn push(pieces: &mut [Vec<u8>], b: u8, strict: bool) {
    if let Some(p) = pieces.last_mut() {
        p.push(if strict { b } else { b.to_ascii_lowercase() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, v: &str) -> bool {
        Wildcard::new(p.as_bytes(), false)
            .unwrap()
            .is_match(v.as_bytes())
    }

    #[test]
    fn cloudflare_examples() {
        // OPS "Wildcard matching", Example A and B.
        let a = "https://example.com/a/*";
        assert!(m(a, "https://example.com/a/"));
        assert!(m(a, "https://example.com/a/page.html"));
        assert!(m(a, "https://example.com/a/sub/folder/?name=value"));
        assert!(!m(a, "https://example.com/ab/"));
        assert!(!m(a, "https://sub.example.com/a/"));
        let b = "*.example.com/*/page.html";
        assert!(m(b, "http://sub.example.com/folder/page.html"));
        assert!(m(b, "https://admin.example.com/team/subteam/page.html"));
        assert!(!m(b, "https://example.com/ab/page.html"));
        assert!(!m(b, "https://sub.example.com/folder2/page.html?s=value"));
    }

    #[test]
    fn case_and_escapes() {
        assert!(m("*.EXAMPLE.com", "www.example.COM"));
        assert!(
            !Wildcard::new(b"*.EXAMPLE.com", true)
                .unwrap()
                .is_match(b"www.example.com")
        );
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\b", r"a\b"));
        assert!(Wildcard::new(b"a**b", false).is_err());
        assert!(Wildcard::new(br"a\b", false).is_err());
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("*", ""));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
    }

    #[test]
    fn lazy_captures() {
        let w = Wildcard::new(b"/apps/*/login", false).unwrap();
        let mut caps = Vec::new();
        assert!(
            w.captures(b"/apps/calendar/login", |c| caps.push(c))
                .is_some()
        );
        assert_eq!(caps, vec![&b"calendar"[..]]);
        let w = Wildcard::new(b"*/*", false).unwrap();
        let mut caps = Vec::new();
        w.captures(b"a/b/c", |c| caps.push(c));
        assert_eq!(caps, vec![&b"a"[..], &b"b/c"[..]]);
    }
}
