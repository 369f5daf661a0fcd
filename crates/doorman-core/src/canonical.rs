//! One canonical view of each request, made once before routing: the host the request is for
//! (one authority, checked) and its path normalized the way Cloudflare normalizes URLs (RFC 3986
//! §6 plus backslashes and merged slashes). Routing, rules, events, trace, whoami and forwarding
//! all read this view, so no request can be routed one way and understood another way further
//! down: `/x/%2e%2e/admin/`, `//admin/` and `/%61dmin/` are all `/admin/` here.
//!
//! A path that cannot be normalized without guessing how the origin would read it (an encoded
//! `/` or `\`, an encoded NUL, a malformed `%` escape, `..` climbing above the root) is reported
//! as a [`PathProblem`]; the policy decides whether that refuses the request or passes it raw.
//! docs/normalization.md describes the rules with examples.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, Uri, Version};

/// How request paths are normalized before routing and rules (`[normalization] type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NormalizationType {
    /// RFC 3986 normalization, plus `\` read as `/` and runs of `/` merged into one: what
    /// Cloudflare calls its own type, and the default.
    #[default]
    Cloudflare,
    /// RFC 3986 §6.2.2 only: unreserved characters decoded, escapes in upper case, other bytes
    /// escaped, dot segments removed.
    Rfc3986,
    /// Paths are used as received. Ambiguous paths are still detected.
    None,
}

/// Which path the origin receives (`[normalization] forward`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathForward {
    /// The normalized path, the one routing and rules saw (as nginx does).
    #[default]
    Normalized,
    /// The path exactly as the client sent it.
    Raw,
}

/// What happens to a path that cannot be normalized safely (`ambiguous_paths`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AmbiguousPaths {
    /// Answered with a `PATH_AMBIGUOUS` receipt.
    #[default]
    Refuse,
    /// Routed by the normalized form (escapes kept) and forwarded as received.
    PassRaw,
}

/// Path handling, from `[normalization]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathPolicy {
    pub normalization: NormalizationType,
    pub forward: PathForward,
    /// The default for routes that do not say.
    pub ambiguous: AmbiguousPaths,
}

/// Why a path cannot be normalized without guessing how the origin reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// `%2F`: some servers decode it into a separator, others keep it inside a segment.
    EncodedSlash,
    /// `%5C`: some servers (Windows, some frameworks) read it as a separator.
    EncodedBackslash,
    /// `%00`: some servers end the path there.
    EncodedNul,
    /// A `%` not followed by two hexadecimal digits.
    BadEscape,
    /// A `..` segment that would climb above the root.
    ClimbsAboveRoot,
}

impl PathProblem {
    /// What was found, in words a person reads ("an encoded slash (%2F)").
    pub fn words(self) -> &'static str {
        match self {
            PathProblem::EncodedSlash => "an encoded slash (%2F)",
            PathProblem::EncodedBackslash => "an encoded backslash (%5C)",
            PathProblem::EncodedNul => "an encoded NUL byte (%00)",
            PathProblem::BadEscape => "a % sign that is not followed by two hexadecimal digits",
            PathProblem::ClimbsAboveRoot => "a /../ segment that climbs above the site's root",
        }
    }

    /// A short stable name for events and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            PathProblem::EncodedSlash => "encoded_slash",
            PathProblem::EncodedBackslash => "encoded_backslash",
            PathProblem::EncodedNul => "encoded_nul",
            PathProblem::BadEscape => "bad_escape",
            PathProblem::ClimbsAboveRoot => "climbs_above_root",
        }
    }
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A normalized path and the first problem met on the way, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath<'a> {
    /// Borrowed when the path was already normal.
    pub path: Cow<'a, str>,
    pub problem: Option<PathProblem>,
}

// Byte classes of a path, as RFC 3986 sees them.
const KEEP: u8 = 0; // unreserved, or reserved other than '/': kept as it is
const SLASH: u8 = 1;
const DOT: u8 = 2;
const PERCENT: u8 = 3;
const BACKSLASH: u8 = 4;
const ESCAPE: u8 = 5; // anything else: escaped in the normal form

const fn build_classes() -> [u8; 256] {
    let mut t = [ESCAPE; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'~' => KEEP,
            // Reserved characters keep their meaning and are never encoded or decoded.
            b':' | b'@' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';'
            | b'=' | b'[' | b']' => KEEP,
            b'/' => SLASH,
            b'.' => DOT,
            b'%' => PERCENT,
            b'\\' => BACKSLASH,
            _ => ESCAPE,
        };
        i += 1;
    }
    t
}

static CLASSES: [u8; 256] = build_classes();

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Normalizes a request path (without its query). The common case, a path that is already
/// normal, costs one scan and allocates nothing.
pub fn normalize_path(raw: &str, kind: NormalizationType) -> NormalizedPath<'_> {
    // `*` (OPTIONS *) and the empty path of authority-form targets are not paths to normalize.
    if !raw.starts_with('/') {
        return NormalizedPath {
            path: Cow::Borrowed(raw),
            problem: None,
        };
    }
    let clean = match kind {
        // Nothing to rewrite; only escapes and dot segments can hide a problem.
        NormalizationType::None => !raw.contains('%') && !raw.contains(".."),
        _ => is_normal(raw.as_bytes(), kind),
    };
    if clean {
        return NormalizedPath {
            path: Cow::Borrowed(raw),
            problem: None,
        };
    }
    let (path, problem) = rewrite(raw.as_bytes(), kind);
    match kind {
        // Only problems are looked for: the path stays as received.
        NormalizationType::None => NormalizedPath {
            path: Cow::Borrowed(raw),
            problem,
        },
        _ => NormalizedPath {
            path: Cow::Owned(path),
            problem,
        },
    }
}

/// Whether normalizing `path` would leave it unchanged: only kept bytes, no `%`, no `\`, no
/// `.` or `..` segment, and (for the Cloudflare type) no empty segment but a trailing one.
fn is_normal(path: &[u8], kind: NormalizationType) -> bool {
    let merge = kind == NormalizationType::Cloudflare;
    // Length of the current segment so far, and how many of its bytes are dots.
    let mut seg_len = 0usize;
    let mut seg_dots = 0usize;
    // The leading '/' starts the first segment.
    for &b in &path[1..] {
        match CLASSES[b as usize] {
            KEEP => seg_len += 1,
            DOT => {
                seg_len += 1;
                seg_dots += 1;
            }
            SLASH => {
                if (merge && seg_len == 0) || (seg_len == seg_dots && (1..=2).contains(&seg_len)) {
                    return false;
                }
                seg_len = 0;
                seg_dots = 0;
            }
            _ => return false,
        }
    }
    !(seg_len == seg_dots && (1..=2).contains(&seg_len))
}

/// The slow path: decodes, re-encodes and removes dot segments, noting the first problem.
fn rewrite(path: &[u8], kind: NormalizationType) -> (String, Option<PathProblem>) {
    let merge = kind == NormalizationType::Cloudflare;
    let mut problem = None;
    let mut note = |p: PathProblem| {
        problem.get_or_insert(p);
    };
    // Each segment's normalized text; a separator is a literal '/' (and '\' for the
    // Cloudflare type). The last one is empty when the path ends with a separator.
    let mut segments: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut i = 1; // past the leading '/'
    while i < path.len() {
        let b = path[i];
        match CLASSES[b as usize] {
            SLASH => segments.push(std::mem::take(&mut current)),
            BACKSLASH if merge => segments.push(std::mem::take(&mut current)),
            KEEP | DOT => current.push(b as char),
            PERCENT => {
                let value = path
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match value {
                    Some(v) if is_unreserved(v) => current.push(v as char),
                    Some(v) => {
                        match v {
                            b'/' => note(PathProblem::EncodedSlash),
                            b'\\' => note(PathProblem::EncodedBackslash),
                            0 => note(PathProblem::EncodedNul),
                            _ => {}
                        }
                        push_escaped(&mut current, v);
                    }
                    None => {
                        note(PathProblem::BadEscape);
                        push_escaped(&mut current, b'%');
                        i += 1;
                        continue;
                    }
                }
                i += 3;
                continue;
            }
            // A literal byte outside the allowed set (a backslash for the RFC type, a quote,
            // a brace, a byte of UTF-8…) is percent-encoded.
            _ => push_escaped(&mut current, b),
        }
        i += 1;
    }
    segments.push(current);

    // RFC 3986 §5.2.4 over whole segments: a final `.` or `..` leaves a trailing '/'.
    let last = segments.len() - 1;
    let mut kept: Vec<&str> = Vec::with_capacity(segments.len());
    for (index, segment) in segments.iter().enumerate() {
        let is_last = index == last;
        match segment.as_str() {
            "." => {}
            ".." => {
                if kept.pop().is_none() {
                    note(PathProblem::ClimbsAboveRoot);
                }
            }
            "" if merge && !is_last => continue,
            s => {
                kept.push(s);
                continue;
            }
        }
        if is_last {
            kept.push("");
        }
    }
    let mut out = String::with_capacity(path.len() + 8);
    for segment in kept {
        out.push('/');
        out.push_str(segment);
    }
    (out, problem)
}

fn push_escaped(into: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    into.push('%');
    into.push(HEX[(b >> 4) as usize] as char);
    into.push(HEX[(b & 0xf) as usize] as char);
}

/// A protocol switch a request asks for (HTTP/1.1 `Upgrade` with `Connection: upgrade`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeRequest {
    /// `Upgrade: websocket`: tunnelled where the route allows it.
    WebSocket,
    /// Anything else (`h2c`, `TLS/1.0`…): never tunnelled; the `Upgrade` header is dropped and
    /// the request is served as plain HTTP/1.1, as RFC 9110 §7.8 lets a server do.
    Other,
}

/// The protocol switch this request asks for, if any. Only HTTP/1.1 has `Upgrade`.
pub fn upgrade_request(headers: &HeaderMap, version: Version) -> Option<UpgradeRequest> {
    if version != Version::HTTP_11 {
        return None;
    }
    let upgrade = headers.get(http::header::UPGRADE)?;
    let connection_upgrade = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return None;
    }
    let only_websocket = headers.get_all(http::header::UPGRADE).iter().count() == 1
        && upgrade
            .to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    Some(if only_websocket {
        UpgradeRequest::WebSocket
    } else {
        UpgradeRequest::Other
    })
}

/// The host a request is for, checked: lower case, without a trailing dot, with its port apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuthority<'a> {
    /// Lower case, no trailing dot, IPv6 without brackets. Empty for an HTTP/1.0 request
    /// without a Host header.
    pub host: Cow<'a, str>,
    pub port: Option<u16>,
    /// The value it was read from already is [`RequestAuthority::host_header`]'s spelling, so a
    /// Host header that carried it can be passed on as it is.
    pub canonical: bool,
}

impl RequestAuthority<'_> {
    /// `host[:port]` as the origin receives it in `Host`, with brackets around IPv6.
    pub fn host_header(&self) -> String {
        let host: &str = &self.host;
        let bracketed = host.contains(':');
        match (bracketed, self.port) {
            (true, Some(p)) => format!("[{host}]:{p}"),
            (true, None) => format!("[{host}]"),
            (false, Some(p)) => format!("{host}:{p}"),
            (false, None) => host.to_owned(),
        }
    }
}

/// Why the request's host cannot be trusted to mean one thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostProblem {
    /// HTTP/1.1 without a Host header (RFC 9112 §3.2).
    Missing,
    /// More than one Host header.
    Duplicate,
    /// A Host (or absolute-form / `:authority`) value that is not `host[:port]`.
    Invalid {
        /// The value as received (lossy for bytes that are not text).
        value: String,
        /// What is wrong with it, in words.
        why: &'static str,
    },
}

impl HostProblem {
    /// A short stable name for events and traces.
    pub fn as_str(&self) -> &'static str {
        match self {
            HostProblem::Missing => "missing",
            HostProblem::Duplicate => "duplicate",
            HostProblem::Invalid { .. } => "invalid",
        }
    }
}

/// The one authority of a request. The absolute-form target or HTTP/2 `:authority` wins over
/// the Host header (RFC 9112 §3.2.2), but a Host header must still be present once in HTTP/1.1
/// and valid whenever sent, so that no second meaning of the host survives to the origin.
pub fn request_authority<'a>(
    uri: &'a Uri,
    headers: &'a HeaderMap,
    version: Version,
) -> Result<RequestAuthority<'a>, HostProblem> {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let host_header = hosts.next();
    if hosts.next().is_some() {
        return Err(HostProblem::Duplicate);
    }
    let header_authority = match host_header {
        Some(v) => Some(parse_authority(v.as_bytes())?),
        None => None,
    };
    if let Some(authority) = uri.authority() {
        if authority.as_str().contains('@') {
            return Err(HostProblem::Invalid {
                value: authority.as_str().to_owned(),
                why: "it carries a user name (user@host), which a request's target must not",
            });
        }
        if version == Version::HTTP_11 && header_authority.is_none() {
            return Err(HostProblem::Missing);
        }
        let mut from_target = parse_authority(authority.as_str().as_bytes())?;
        // The Host header, if any, says something else or the same: either way it is not the
        // value the canonical host came from.
        from_target.canonical = from_target.canonical
            && header_authority.is_some_and(|h| {
                h.canonical && h.host == from_target.host && h.port == from_target.port
            });
        return Ok(from_target);
    }
    match header_authority {
        Some(a) => Ok(a),
        None if version == Version::HTTP_11 => Err(HostProblem::Missing),
        None => Ok(RequestAuthority {
            host: Cow::Borrowed(""),
            port: None,
            canonical: false,
        }),
    }
}

/// Parses `host[:port]`: a DNS name (letters, digits, `-`, `_`, `.`), an IPv4 address or a
/// bracketed IPv6 address, then an optional decimal port. A name is checked in one scan, which
/// also tells whether the value already is the canonical spelling.
fn parse_authority(raw: &[u8]) -> Result<RequestAuthority<'_>, HostProblem> {
    let invalid = |why: &'static str| HostProblem::Invalid {
        value: String::from_utf8_lossy(raw).into_owned(),
        why,
    };
    if raw.first() == Some(&b'[') {
        return parse_ipv6_authority(raw).map_err(invalid);
    }
    let mut upper = false;
    // A label starts after the beginning and after each dot; an empty one is an error.
    let mut label_empty = true;
    let mut host_end = raw.len();
    for (i, &b) in raw.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => label_empty = false,
            b'A'..=b'Z' => {
                upper = true;
                label_empty = false;
            }
            b'.' if label_empty => {
                return Err(invalid(if i == 0 {
                    "the host name starts with a dot"
                } else {
                    "it has an empty label (two dots in a row)"
                }));
            }
            b'.' => label_empty = true,
            b':' => {
                host_end = i;
                break;
            }
            b',' => return Err(invalid("it lists more than one host (a comma)")),
            b'@' => return Err(invalid("it carries a user name (user@host)")),
            b'/' | b'?' | b'#' => return Err(invalid("it contains a path, not only a host")),
            b' ' | b'\t' => return Err(invalid("it contains a space")),
            _ => {
                return Err(invalid(
                    "it contains a character that cannot appear in a host name",
                ));
            }
        }
    }
    let mut host = &raw[..host_end];
    // One trailing dot names the same host (the root of the DNS); it is dropped.
    let trailing_dot = host.last() == Some(&b'.');
    if trailing_dot {
        host = &host[..host.len() - 1];
    }
    if host.is_empty() {
        return Err(invalid(if raw.is_empty() {
            "it is empty"
        } else {
            "the host name is empty"
        }));
    }
    if host.len() > 253 {
        return Err(invalid("the host name is longer than 253 characters"));
    }
    let (port, port_canonical) = match raw.get(host_end + 1..) {
        None => (None, true),
        Some(digits) => {
            let port = parse_port(digits).ok_or_else(|| {
                invalid("the port is not a number from 1 to 65535 (is there a second colon?)")
            })?;
            (Some(port), digits[0] != b'0')
        }
    };
    // Only ASCII letters, digits and `-_.` are left, so this cannot fail.
    let text = std::str::from_utf8(host).map_err(|_| invalid("it is not plain text"))?;
    let host = if upper {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    };
    Ok(RequestAuthority {
        host,
        port,
        canonical: !upper && !trailing_dot && port_canonical,
    })
}

/// `[v6]` or `[v6]:port`; the error is the words of [`HostProblem::Invalid`].
fn parse_ipv6_authority(raw: &[u8]) -> Result<RequestAuthority<'_>, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "it is not plain text")?;
    let rest = &text[1..];
    let (inside, after) = rest
        .split_once(']')
        .ok_or("an IPv6 address is missing its closing ]")?;
    let address: std::net::Ipv6Addr = inside
        .parse()
        .map_err(|_| "the part in brackets is not an IPv6 address")?;
    let (port, port_canonical) = match after {
        "" => (None, true),
        p => {
            let digits = p
                .strip_prefix(':')
                .ok_or("something other than :port follows the IPv6 address")?;
            let port = parse_port(digits.as_bytes())
                .ok_or("the port is not a number from 1 to 65535 (is there a second colon?)")?;
            (Some(port), !digits.starts_with('0'))
        }
    };
    let canonical = port_canonical && address.to_string() == inside;
    Ok(RequestAuthority {
        host: if canonical {
            Cow::Borrowed(inside)
        } else {
            Cow::Owned(address.to_string())
        },
        port,
        canonical,
    })
}

fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    let mut n: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(d - b'0');
    }
    u16::try_from(n).ok().filter(|&p| p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cf(path: &str) -> (String, Option<PathProblem>) {
        let n = normalize_path(path, NormalizationType::Cloudflare);
        (n.path.into_owned(), n.problem)
    }

    fn rfc(path: &str) -> (String, Option<PathProblem>) {
        let n = normalize_path(path, NormalizationType::Rfc3986);
        (n.path.into_owned(), n.problem)
    }

    #[test]
    fn normal_paths_are_borrowed() {
        for p in [
            "/",
            "/admin/",
            "/plugins/weather",
            "/a.b/c..d/.e/f.",
            "/~user/x;y=1,z",
            "/v1/chat/completions",
            "*",
            "",
        ] {
            let n = normalize_path(p, NormalizationType::Cloudflare);
            assert!(matches!(n.path, Cow::Borrowed(_)), "{p} was rewritten");
            assert_eq!(n.path, p);
            assert_eq!(n.problem, None);
        }
    }

    #[test]
    fn the_attacks_of_the_hardening_issue_become_the_closed_path() {
        for p in [
            "/x/../admin/",
            "/x/%2e%2e/admin/",
            "/x/%2E%2E/admin/",
            "//admin/",
            "/%61dmin/",
            "/./admin/",
            "/admin/.",
            "///admin//",
            "/\\admin\\",
            "/x/.%2e/admin/",
        ] {
            assert_eq!(cf(p), ("/admin/".to_owned(), None), "{p}");
        }
    }

    #[test]
    fn cloudflare_documented_example() {
        // From Cloudflare's URL normalization examples.
        assert_eq!(cf("/%68ello//pa\\th").0, "/hello/pa/th");
        assert_eq!(rfc("/%68ello//pa\\th").0, "/hello//pa%5Cth");
    }

    #[test]
    fn escapes_are_upper_cased_and_other_bytes_encoded() {
        assert_eq!(cf("/a%3fb").0, "/a%3Fb");
        assert_eq!(cf("/caf\u{e9}").0, "/caf%C3%A9");
        assert_eq!(cf("/{x}").0, "/%7Bx%7D");
        assert_eq!(cf("/%7e").0, "/~");
        // Reserved characters keep their meaning, encoded or not.
        assert_eq!(cf("/a;b=c/%3B").0, "/a;b=c/%3B");
    }

    #[test]
    fn dot_segments_follow_rfc_3986() {
        assert_eq!(cf("/a/b/c/./../../g").0, "/a/g");
        assert_eq!(cf("/a/b/..").0, "/a/");
        assert_eq!(cf("/a/b/.").0, "/a/b/");
        assert_eq!(rfc("/a//../b").0, "/a/b");
        assert_eq!(rfc("//a").0, "//a");
        assert_eq!(cf("/.well-known/x").0, "/.well-known/x");
    }

    #[test]
    fn problems_are_named() {
        assert_eq!(
            cf("/admin%2f"),
            ("/admin%2F".into(), Some(PathProblem::EncodedSlash))
        );
        assert_eq!(cf("/a%5cb").1, Some(PathProblem::EncodedBackslash));
        assert_eq!(cf("/a%00.php").1, Some(PathProblem::EncodedNul));
        assert_eq!(cf("/100%").1, Some(PathProblem::BadEscape));
        assert_eq!(cf("/100%").0, "/100%25");
        assert_eq!(cf("/%zz").1, Some(PathProblem::BadEscape));
        assert_eq!(
            cf("/../admin"),
            ("/admin".into(), Some(PathProblem::ClimbsAboveRoot))
        );
        assert_eq!(cf("/a/../../admin").1, Some(PathProblem::ClimbsAboveRoot));
    }

    #[test]
    fn none_keeps_the_path_but_still_finds_problems() {
        let n = normalize_path("/x/../admin%2f", NormalizationType::None);
        assert_eq!(n.path, "/x/../admin%2f");
        assert_eq!(n.problem, Some(PathProblem::EncodedSlash));
        let n = normalize_path("//admin", NormalizationType::None);
        assert_eq!(n.problem, None);
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for p in [
            "/x/../admin/",
            "/%68ello//pa\\th",
            "/a%2fb/../c",
            "/caf\u{e9}/%7b",
            "/a/b/..",
            "/100%",
        ] {
            for kind in [NormalizationType::Cloudflare, NormalizationType::Rfc3986] {
                let once = normalize_path(p, kind).path.into_owned();
                let twice = normalize_path(&once, kind);
                assert_eq!(twice.path, once, "{p} {kind:?}");
            }
        }
    }

    fn authority(
        uri: &str,
        hosts: &[&str],
        version: Version,
    ) -> Result<(String, Option<u16>), HostProblem> {
        let uri: Uri = uri.parse().unwrap();
        let mut headers = HeaderMap::new();
        for h in hosts {
            headers.append(http::header::HOST, h.parse().unwrap());
        }
        request_authority(&uri, &headers, version).map(|a| (a.host.into_owned(), a.port))
    }

    #[test]
    fn the_absolute_form_wins_over_host() {
        assert_eq!(
            authority("http://Public.Test/abs", &["admin.test"], Version::HTTP_11),
            Ok(("public.test".into(), None))
        );
        assert_eq!(
            authority("http://public.test:8080/", &["admin.test"], Version::HTTP_2),
            Ok(("public.test".into(), Some(8080)))
        );
    }

    #[test]
    fn host_values_are_checked() {
        let v11 = Version::HTTP_11;
        assert_eq!(
            authority("/", &["Example.COM.:8080"], v11),
            Ok(("example.com".into(), Some(8080)))
        );
        assert_eq!(
            authority("/", &["[::1]:80"], v11),
            Ok(("::1".into(), Some(80)))
        );
        assert_eq!(
            authority("/", &["127.0.0.1"], v11),
            Ok(("127.0.0.1".into(), None))
        );
        for bad in [
            "public.test, admin.test",
            "admin.test:abc",
            "admin.test:80:80",
            "x@admin.test",
            "admin.test/x",
            "admin.test public.test",
            "admin.test:0",
            "admin.test:65536",
            "",
            "a..b",
            "[::1",
            "[zz]:80",
        ] {
            assert!(
                matches!(
                    authority("/", &[bad], v11),
                    Err(HostProblem::Invalid { .. })
                ),
                "{bad:?} passed"
            );
        }
        assert_eq!(authority("/", &[], v11), Err(HostProblem::Missing));
        assert_eq!(
            authority("/", &["a.test", "a.test"], v11),
            Err(HostProblem::Duplicate)
        );
        assert_eq!(
            authority("/", &[], Version::HTTP_10),
            Ok((String::new(), None))
        );
        assert_eq!(
            authority("http://a.test/", &[], v11),
            Err(HostProblem::Missing)
        );
        assert_eq!(
            authority("http://a.test/", &[], Version::HTTP_2),
            Ok(("a.test".into(), None))
        );
        assert!(matches!(
            authority("http://a.test/", &["bad host"], Version::HTTP_2),
            Err(HostProblem::Invalid { .. })
        ));
    }

    #[test]
    fn only_a_plain_websocket_upgrade_is_one() {
        let with = |pairs: &[(&str, &str)], version| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            upgrade_request(&h, version)
        };
        let ws = [("connection", "Upgrade"), ("upgrade", "WebSocket")];
        assert_eq!(with(&ws, Version::HTTP_11), Some(UpgradeRequest::WebSocket));
        assert_eq!(with(&ws, Version::HTTP_10), None);
        assert_eq!(with(&ws, Version::HTTP_2), None);
        let h2c = [
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c"),
        ];
        assert_eq!(with(&h2c, Version::HTTP_11), Some(UpgradeRequest::Other));
        let both = [("connection", "upgrade"), ("upgrade", "websocket, h2c")];
        assert_eq!(with(&both, Version::HTTP_11), Some(UpgradeRequest::Other));
        assert_eq!(with(&[("upgrade", "websocket")], Version::HTTP_11), None);
    }

    #[test]
    fn a_canonical_host_header_is_known_as_such() {
        let canonical = |host: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::HOST, host.parse().unwrap());
            let uri = Uri::from_static("/");
            let a = request_authority(&uri, &h, Version::HTTP_11).unwrap();
            assert_eq!(a.canonical, a.host_header() == host, "{host}");
            a.canonical
        };
        assert!(canonical("a.test"));
        assert!(canonical("a.test:8080"));
        assert!(canonical("[::1]:80"));
        assert!(!canonical("a.test:08080"));
        assert!(!canonical("A.test"));
        assert!(!canonical("a.test."));
        assert!(!canonical("[0::1]"));
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, "a.test".parse().unwrap());
        let same: Uri = "http://a.test/x".parse().unwrap();
        assert!(
            request_authority(&same, &h, Version::HTTP_11)
                .unwrap()
                .canonical
        );
        let other: Uri = "http://b.test/x".parse().unwrap();
        assert!(
            !request_authority(&other, &h, Version::HTTP_11)
                .unwrap()
                .canonical
        );
    }

    #[test]
    fn host_header_puts_brackets_back() {
        let a = RequestAuthority {
            host: "::1".into(),
            port: Some(8080),
            canonical: true,
        };
        assert_eq!(a.host_header(), "[::1]:8080");
        let a = RequestAuthority {
            host: "a.test".into(),
            port: None,
            canonical: true,
        };
        assert_eq!(a.host_header(), "a.test");
    }
}
