//! Why an HTTP/1 request head was refused, in words for the person who sent it.
//!
//! hyper answers a head it cannot parse with a bare `400`, `414` or `431` and says nothing more.
//! The connection wrapper (`head_timeout.rs`) swallows that answer and keeps a bounded copy
//! of the head's bytes; [`diagnose`] reads the copy again, with the same rules hyper and httparse
//! apply (RFC 9112), to name the first thing wrong with it: which byte of the method, target,
//! version or which header, and what to do about it. hyper's status says which family of
//! problem it met (a syntax error, a size, the request line's length); the diagnosis keeps to it,
//! except for a `Content-Length` too large for any body, which hyper calls a size problem (431)
//! but is a malformed header (400).
//!
//! A pure function over untrusted bytes: it never panics, whatever the input (a fuzz target calls
//! it), and quotes at most [`QUOTE_MAX`] characters of the client's bytes.

use doorman_core::Code;

/// The most characters of the client's bytes quoted in a reason.
pub const QUOTE_MAX: usize = 80;

/// The most headers httparse is given room for when judging a head again.
const MAX_PARSED_HEADERS: usize = 4096;

/// The limits the person is told about (the configured ones; hyper's buffer is larger, so that
/// heads just over them reach the handler's own 431).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// `limits.max_header_bytes`.
    pub max_header_bytes: usize,
    /// `limits.max_headers`.
    pub max_headers: usize,
}

impl From<&doorman_config::Limits> for HeadLimits {
    fn from(l: &doorman_config::Limits) -> Self {
        HeadLimits {
            max_header_bytes: l.max_header_bytes,
            max_headers: l.max_headers,
        }
    }
}

/// What is wrong with a head: the receipt's code, status, reason, remedies and facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// `BAD_REQUEST` or `HEADERS_TOO_LARGE`.
    pub code: Code,
    /// The code's status: 400 or 431.
    pub status: u16,
    /// The problem, to the person, quoting the offending bytes (escaped).
    pub reason: String,
    /// What the person (or the client's author) can do, most useful first.
    pub remedies: Vec<String>,
    /// `problem` (a short stable name of the problem) and what was quoted.
    pub facts: Vec<(String, String)>,
}

impl Malformed {
    fn bad(reason: String, fix: impl Into<String>) -> Self {
        Malformed {
            code: Code::BadRequest,
            status: 400,
            reason,
            remedies: vec![fix.into(), CLIENT_REMEDY.to_string()],
            facts: Vec::new(),
        }
    }

    fn too_large(reason: String, fix: impl Into<String>) -> Self {
        Malformed {
            code: Code::HeadersTooLarge,
            status: 431,
            reason,
            remedies: vec![fix.into()],
            facts: Vec::new(),
        }
    }

    fn fact(mut self, name: &str, value: impl Into<String>) -> Self {
        self.facts.push((name.to_string(), value.into()));
        self
    }
}

const CLIENT_REMEDY: &str = "If an app, a browser extension or a proxy sent this request, update or disable it: well-behaved clients do not send this.";

/// Names the first problem with `head` (the bytes of a request head as far as they arrived),
/// given the status hyper chose for it.
pub fn diagnose(head: &[u8], hyper_status: u16, limits: &HeadLimits) -> Malformed {
    let scan = Scan::of(head);
    match hyper_status {
        414 => request_line_too_long(&scan, limits),
        431 => too_large(&scan, limits),
        _ => syntax_problem(head, &scan)
            .or_else(|| target_problem(&scan))
            .or_else(|| semantic_problem(&scan))
            .unwrap_or_else(|| fallback(hyper_status)),
    }
    .fact("head bytes received", head.len().to_string())
}

/// The scan's syntax problem, if httparse (the parser hyper uses) agrees there is one: the scan
/// only locates and names what httparse refuses.
fn syntax_problem(head: &[u8], scan: &Scan<'_>) -> Option<Malformed> {
    // Enough room for every header of any head hyper refuses for its syntax (hyper's own limit is
    // far lower); past it, the scan alone decides.
    let lines = memchr::memchr_iter(b'\n', head).count() + 1;
    let mut headers = vec![httparse::EMPTY_HEADER; lines.min(MAX_PARSED_HEADERS)];
    let refused = match httparse::Request::new(&mut headers).parse(head) {
        Ok(_) => false,
        Err(httparse::Error::TooManyHeaders) => scan.problem.is_some(),
        Err(_) => true,
    };
    if !refused {
        return None;
    }
    Some(scan.problem.clone().unwrap_or_else(|| {
        Malformed::bad(
            "The request's head is not valid HTTP/1.1.".to_string(),
            "Check that the client speaks HTTP/1.1 to this address, and that nothing between you and the site alters requests.",
        )
        .fact("problem", "invalid head")
    }))
}

/// What the event log can say about a refused request: its method, target, host, user agent
/// and `Accept`, as far as they can be read (lossy, and each cut to a sane length).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Empty when none could be read.
    pub method: String,
    /// The request target as sent (a path, or an absolute URL); empty when none could be read.
    pub target: String,
    /// The first `Host` header; empty when there is none.
    pub host: String,
    pub user_agent: Option<String>,
    pub accept: Option<String>,
}

/// Reads what it can of `head`; never fails.
pub fn summary(head: &[u8]) -> Summary {
    let scan = Scan::of(head);
    let text = |b: &[u8]| {
        let cut = &b[..b.len().min(512)];
        String::from_utf8_lossy(cut).into_owned()
    };
    let mut s = Summary {
        method: text(scan.method),
        target: text(scan.target),
        ..Summary::default()
    };
    for h in &scan.headers {
        if h.name.eq_ignore_ascii_case(b"host") && s.host.is_empty() {
            s.host = text(h.value);
        } else if h.name.eq_ignore_ascii_case(b"user-agent") && s.user_agent.is_none() {
            s.user_agent = Some(text(h.value));
        } else if h.name.eq_ignore_ascii_case(b"accept") && s.accept.is_none() {
            s.accept = Some(text(h.value));
        }
    }
    s
}

/// One header line, as far as it arrived.
#[derive(Debug, Clone, Copy)]
struct HeaderLine<'a> {
    name: &'a [u8],
    /// Without the whitespace around it.
    value: &'a [u8],
    /// The whole line, name to end of value.
    len: usize,
}

/// A head, read line by line with httparse's rules, up to its first syntax problem.
struct Scan<'a> {
    /// The request line (without its line end), as far as it arrived.
    request_line: &'a [u8],
    request_line_complete: bool,
    method: &'a [u8],
    target: &'a [u8],
    /// `Some(0)` for HTTP/1.0, `Some(1)` for HTTP/1.1.
    version: Option<u8>,
    headers: Vec<HeaderLine<'a>>,
    /// The blank line that ends the head arrived.
    complete: bool,
    /// The first syntax problem, in byte order.
    problem: Option<Malformed>,
}

/// The byte classes of RFC 9110/9112, as httparse applies them.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_target_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) || b >= 0x80
}

fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80
}

/// The client's bytes, shown safely: printable ASCII as is, anything else (and the backtick,
/// which would end a code span on the page, and the backslash, which starts an escape) escaped,
/// cut at [`QUOTE_MAX`] bytes.
fn quote(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len().min(QUOTE_MAX) + 3);
    for (i, &b) in bytes.iter().enumerate() {
        if i == QUOTE_MAX {
            out.push('…');
            break;
        }
        match b {
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'`' => out.push_str("\\x60"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
    out
}

/// A byte named for a person.
fn byte_name(b: u8) -> String {
    match b {
        0x00 => "a NUL byte (0x00)".to_string(),
        b' ' => "a space".to_string(),
        b'\t' => "a tab".to_string(),
        b'\r' => "a carriage return (0x0D) that is not followed by a line feed".to_string(),
        b'\n' => "a line feed".to_string(),
        0x7f => "the control character DEL (0x7F)".to_string(),
        0x01..=0x1f => format!("the control character 0x{b:02X}"),
        0x80.. => format!("the non-ASCII byte 0x{b:02X}"),
        b'`' => "a backtick".to_string(),
        _ => format!("`{}`", b as char),
    }
}

/// Splits off one line: its bytes without the line end, whether the line end arrived, and the
/// rest. A line ends with CRLF or a bare LF (httparse accepts both). A line still arriving keeps
/// a carriage return at its very end: whether that may be the first half of a CRLF depends on
/// where in the line it stands.
fn split_line(bytes: &[u8]) -> (&[u8], bool, &[u8]) {
    match memchr::memchr(b'\n', bytes) {
        Some(i) => {
            let line = &bytes[..i];
            (
                line.strip_suffix(b"\r").unwrap_or(line),
                true,
                &bytes[i + 1..],
            )
        }
        None => (bytes, false, &[][..]),
    }
}

const SHAPE: &str = "A request line looks like `GET /path HTTP/1.1`: a method, a space, the target, a space, the version.";

impl<'a> Scan<'a> {
    fn of(head: &'a [u8]) -> Scan<'a> {
        let mut scan = Scan {
            request_line: &[],
            request_line_complete: false,
            method: &[],
            target: &[],
            version: None,
            headers: Vec::new(),
            complete: false,
            problem: None,
        };
        let mut rest = head;
        // Empty lines before the request line are allowed and skipped.
        while let [b'\r' | b'\n', ..] = rest {
            if rest == b"\r" {
                return scan;
            }
            let (line, ended, after) = split_line(rest);
            if !line.is_empty() || !ended {
                break;
            }
            rest = after;
        }
        let (mut line, ended, after) = split_line(rest);
        if !ended && let Some(before_cr) = line.strip_suffix(b"\r") {
            // Right after a complete version, a carriage return may be the start of the line end.
            if scan.parts_problem(before_cr, false).is_none()
                && scan.version.is_some()
                && memchr::memchr(b'\r', before_cr).is_none()
            {
                line = before_cr;
            }
        }
        scan.request_line = line;
        scan.request_line_complete = ended;
        scan.problem = scan.request_line_problem(line, ended);
        if scan.problem.is_some() || !ended {
            return scan;
        }
        scan.scan_headers(after);
        scan
    }

    fn request_line_problem(&mut self, line: &'a [u8], ended: bool) -> Option<Malformed> {
        if let Some(cr) = memchr::memchr(b'\r', line) {
            // A carriage return the line end did not take: reported where it stands, unless
            // something before it is already wrong.
            return self.parts_problem(&line[..cr], false).or_else(|| {
                Some(
                    Malformed::bad(
                        format!(
                            "The request line `{}` contains {}.",
                            quote(line),
                            byte_name(b'\r')
                        ),
                        "End lines with CR LF (`\\r\\n`), and send no carriage return inside a line.",
                    )
                    .fact("problem", "bare carriage return in the request line"),
                )
            });
        }
        self.parts_problem(line, ended)
    }

    /// Checks the request line's parts in order, as far as they arrived. At the end of a
    /// complete line (`ended`), a missing part is a problem; otherwise it may still come.
    fn parts_problem(&mut self, line: &'a [u8], ended: bool) -> Option<Malformed> {
        let missing = |what: &str| {
            Malformed::bad(
                format!("The request line `{}` {what}.", quote(line)),
                format!("{SHAPE} For example `GET / HTTP/1.1`."),
            )
            .fact("problem", "incomplete request line")
        };
        // Method: a token, ended by one space.
        let Some(method_end) = line.iter().position(|&b| !is_token(b)) else {
            self.method = line;
            return ended.then(|| {
                if line.is_empty() {
                    missing("is empty")
                } else {
                    missing("has no target and no HTTP version")
                }
            });
        };
        let bad = line[method_end];
        if method_end == 0 {
            if bad == b' ' {
                return Some(
                    Malformed::bad(
                        format!(
                            "The request line `{}` starts with a space instead of a method.",
                            quote(line)
                        ),
                        format!("{SHAPE} Remove the leading space."),
                    )
                    .fact("problem", "request line starts with a space"),
                );
            }
            return Some(
                Malformed::bad(
                    format!(
                        "The request starts with {} where a method such as GET or POST belongs, so it is not HTTP/1.1 (was TLS or another protocol sent to a plain-HTTP port?).",
                        byte_name(bad)
                    ),
                    "Check the address: use `https://` for a TLS port and `http://` for a plain one, and speak HTTP to it.",
                )
                .fact("problem", "invalid method")
                .fact("request line", quote(line)),
            );
        }
        self.method = &line[..method_end];
        if bad != b' ' {
            let word_end = line[method_end..]
                .iter()
                .position(|&b| b == b' ')
                .map_or(line.len(), |i| method_end + i);
            return Some(
                Malformed::bad(
                    format!(
                        "The request method `{}` contains {}, which a method cannot contain.",
                        quote(&line[..word_end]),
                        byte_name(bad)
                    ),
                    "Send a method made of letters, such as GET, POST or PUT.",
                )
                .fact("problem", "invalid method")
                .fact("method", quote(&line[..word_end])),
            );
        }
        // Target: at least one byte, ended by one space.
        let rest = &line[method_end + 1..];
        if rest.first() == Some(&b' ') {
            return Some(
                Malformed::bad(
                    format!(
                        "The request line `{}` has more than one space between the method and the target.",
                        quote(line)
                    ),
                    format!("{SHAPE} Separate the parts with single spaces."),
                )
                .fact("problem", "extra space in the request line"),
            );
        }
        let Some(target_end) = rest.iter().position(|&b| !is_target_byte(b)) else {
            self.target = rest;
            return ended.then(|| {
                if rest.is_empty() {
                    missing("has no target and no HTTP version")
                } else {
                    missing("has no HTTP version (requests without one are HTTP/0.9, which this site does not speak)")
                }
            });
        };
        self.target = &rest[..target_end];
        let bad = rest[target_end];
        if bad != b' ' {
            return Some(
                Malformed::bad(
                    format!(
                        "The request target `{}` contains {}.",
                        quote(&rest[..=target_end]),
                        byte_name(bad)
                    ),
                    format!(
                        "Percent-encode the byte in the URL (`%{bad:02X}`); a URL carries no spaces or control characters."
                    ),
                )
                .fact("problem", "invalid request target")
                .fact("target", quote(self.target)),
            );
        }
        if let Err(e) = std::str::from_utf8(self.target) {
            let b = self.target[e.valid_up_to()];
            return Some(
                Malformed::bad(
                    format!(
                        "The request target `{}` contains {}, which is not UTF-8 and must be percent-encoded.",
                        quote(self.target),
                        byte_name(b)
                    ),
                    format!("Percent-encode it as `%{b:02X}` (URL libraries do this for you)."),
                )
                .fact("problem", "invalid request target")
                .fact("target", quote(self.target)),
            );
        }
        // Version: exactly HTTP/1.0 or HTTP/1.1, then the line end.
        let version = &rest[target_end + 1..];
        if !could_be_http1_version(version) {
            return Some(self.version_problem(line, version));
        }
        match version.get(..8) {
            Some(b"HTTP/1.0") => self.version = Some(0),
            Some(b"HTTP/1.1") => self.version = Some(1),
            // A prefix of a valid version: the line is still arriving, or ends too soon.
            _ if ended => return Some(missing("has no complete HTTP version")),
            _ => return None,
        }
        if version.len() > 8 {
            return Some(
                Malformed::bad(
                    format!(
                        "The request line `{}` has `{}` after the HTTP version.",
                        quote(line),
                        quote(&version[8..])
                    ),
                    format!("{SHAPE} Nothing may follow the version."),
                )
                .fact("problem", "text after the HTTP version"),
            );
        }
        None
    }

    fn version_problem(&self, line: &[u8], version: &[u8]) -> Malformed {
        let last_word = version.rsplit(|&b| b == b' ').next().unwrap_or(version);
        if version.contains(&b' ') && is_http1_version(last_word) {
            let whole_target = &line[self.method.len() + 1..line.len() - last_word.len() - 1];
            return Malformed::bad(
                format!(
                    "The request target `{}` contains a space.",
                    quote(whole_target)
                ),
                "Percent-encode spaces in the URL as `%20` (or `+` in a query string).",
            )
            .fact("problem", "space in the request target")
            .fact("target", quote(whole_target));
        }
        let word = version.split(|&b| b == b' ').next().unwrap_or(version);
        let hint = if word.eq_ignore_ascii_case(b"HTTP/1.1")
            || word.eq_ignore_ascii_case(b"HTTP/1.0")
        {
            "Write the version in capitals: `HTTP/1.1`."
        } else if word.starts_with(b"HTTP/2") || word.starts_with(b"HTTP/3") {
            "HTTP/2 and HTTP/3 are not spoken as text: let the client negotiate them (TLS with ALPN), or send `HTTP/1.1`."
        } else {
            "Send `HTTP/1.1` (or `HTTP/1.0`) as the version."
        };
        Malformed::bad(
            format!(
                "The request's HTTP version `{}` is not one this site speaks (HTTP/1.0, HTTP/1.1, or HTTP/2 when negotiated).",
                quote(word)
            ),
            hint,
        )
        .fact("problem", "unsupported HTTP version")
        .fact("version", quote(word))
    }

    fn scan_headers(&mut self, mut rest: &'a [u8]) {
        loop {
            if rest.is_empty() {
                return;
            }
            let (line, ended, after) = split_line(rest);
            if line.is_empty() && ended {
                self.complete = true;
                return;
            }
            if line == b"\r" && !ended {
                // The start of the blank line that ends the head.
                return;
            }
            if let Some(problem) = self.header_problem(line, ended) {
                self.problem = Some(problem);
                return;
            }
            if !ended {
                return;
            }
            rest = after;
        }
    }

    /// Checks one header line and records it.
    fn header_problem(&mut self, mut line: &'a [u8], ended: bool) -> Option<Malformed> {
        if !ended && let Some(before_cr) = line.strip_suffix(b"\r") {
            // In a value (after the colon) a carriage return may be the start of the line end;
            // in a name it is an invalid byte.
            let colon = memchr::memchr(b':', before_cr);
            let name_ok = colon.is_some_and(|c| before_cr[..c].iter().all(|&b| is_token(b)));
            if name_ok && memchr::memchr(b'\r', before_cr).is_none() {
                line = before_cr;
            }
        }
        if let [b' ' | b'\t', ..] = line {
            let (reason, what) = match self.headers.last() {
                Some(prev) => (
                    format!(
                        "A header line starts with whitespace, continuing the `{}` header on a new line (obsolete line folding), which requests may not do.",
                        quote(prev.name)
                    ),
                    "obsolete line folding",
                ),
                None => (
                    "The first header line starts with whitespace.".to_string(),
                    "whitespace before the first header",
                ),
            };
            return Some(
                Malformed::bad(reason, "Put each header on one line: `Name: value`, with no line break inside the value.")
                    .fact("problem", what)
                    .fact("line", quote(line)),
            );
        }
        let name_end = line.iter().position(|&b| !is_token(b));
        let Some(name_end) = name_end else {
            return ended.then(|| {
                Malformed::bad(
                    format!("The header line `{}` has no colon.", quote(line)),
                    "Write each header as `Name: value`.",
                )
                .fact("problem", "header line without a colon")
            });
        };
        let name = &line[..name_end];
        let bad = line[name_end];
        if bad != b':' || name.is_empty() {
            let colon = memchr::memchr(b':', line);
            let (reason, what) = match colon {
                _ if name.is_empty() && bad == b':' => (
                    "A header line starts with a colon: the header has no name.".to_string(),
                    "header without a name",
                ),
                Some(c) if line[name_end..c].iter().all(|&b| b == b' ' || b == b'\t') => (
                    format!(
                        "The header name `{}` is followed by whitespace before its colon, which HTTP/1.1 forbids.",
                        quote(name)
                    ),
                    "whitespace before a header's colon",
                ),
                Some(c) => (
                    format!(
                        "The header name `{}` contains {}.",
                        quote(&line[..c]),
                        byte_name(bad)
                    ),
                    "invalid header name",
                ),
                None if ended => (
                    format!("The header line `{}` has no colon.", quote(line)),
                    "header line without a colon",
                ),
                // Still arriving, but that byte can never belong to a name.
                None => (
                    format!(
                        "The header name `{}` contains {}.",
                        quote(line),
                        byte_name(bad)
                    ),
                    "invalid header name",
                ),
            };
            return Some(
                Malformed::bad(
                    reason,
                    "Header names are letters, digits and `-`, like `Content-Type`, followed directly by a colon.",
                )
                .fact("problem", what)
                .fact("line", quote(line)),
            );
        }
        let raw_value = &line[name_end + 1..];
        if let Some(i) = raw_value.iter().position(|&b| !is_value_byte(b)) {
            return Some(
                Malformed::bad(
                    format!(
                        "The `{}` header's value contains {}.",
                        quote(name),
                        byte_name(raw_value[i])
                    ),
                    "Header values may not contain control characters; encode binary data (base64, percent-encoding) before sending it in a header.",
                )
                .fact("problem", "invalid header value")
                .fact("header", quote(name)),
            );
        }
        // A line still arriving counts for sizes; its value may be cut, and only the semantic
        // checks of a complete head read values.
        self.headers.push(HeaderLine {
            name,
            value: trim(raw_value),
            len: line.len(),
        });
        None
    }
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Whether `version` is, or begins like, `HTTP/1.0` or `HTTP/1.1` (httparse decides on a
/// partial version only once it differs).
fn could_be_http1_version(version: &[u8]) -> bool {
    let n = version.len().min(8);
    [&b"HTTP/1.0"[..], &b"HTTP/1.1"[..]]
        .iter()
        .any(|v| version[..n] == v[..n])
}

fn is_http1_version(word: &[u8]) -> bool {
    word == b"HTTP/1.1" || word == b"HTTP/1.0"
}

/// A target httparse took but the URI parser refuses (non-ASCII bytes, or characters a URI
/// may not carry unencoded).
fn target_problem(scan: &Scan<'_>) -> Option<Malformed> {
    if scan.target.is_empty() || !scan.request_line_complete {
        return None;
    }
    if http::Uri::try_from(scan.target).is_ok() {
        return None;
    }
    // The first byte the URI parser refuses on its own, to name it.
    let culprit = scan
        .target
        .iter()
        .copied()
        .find(|&b| b < 0x80 && http::Uri::try_from([b'/', b].as_slice()).is_err());
    let reason = match culprit {
        Some(b) => format!(
            "The request target `{}` contains {}, which a URL must percent-encode.",
            quote(scan.target),
            byte_name(b)
        ),
        None => format!(
            "The request target `{}` is not a valid URL.",
            quote(scan.target)
        ),
    };
    let fix = match culprit {
        Some(b) => format!("Percent-encode it as `%{b:02X}` (URL libraries do this for you)."),
        None => {
            "Send a path such as `/search?q=x`, or an absolute URL such as `http://example.com/`."
                .to_string()
        }
    };
    Some(
        Malformed::bad(reason, fix)
            .fact("problem", "invalid request target")
            .fact("target", quote(scan.target)),
    )
}

/// The checks hyper makes on a well-formed head, in its order: `Transfer-Encoding` and
/// `Content-Length` (RFC 9112 §6).
fn semantic_problem(scan: &Scan<'_>) -> Option<Malformed> {
    if !scan.complete {
        return None;
    }
    let mut te: Option<&[u8]> = None;
    let mut length: Option<(u64, &[u8])> = None;
    for h in &scan.headers {
        if h.name.eq_ignore_ascii_case(b"transfer-encoding") {
            if scan.version == Some(0) {
                return Some(
                    Malformed::bad(
                        "The request is HTTP/1.0 but has a `Transfer-Encoding` header, which only HTTP/1.1 knows.".to_string(),
                        "Send the request as HTTP/1.1, or send the body with a `Content-Length` instead.",
                    )
                    .fact("problem", "transfer-encoding on HTTP/1.0")
                    .fact("transfer-encoding", quote(h.value)),
                );
            }
            te = Some(h.value);
            length = None;
        } else if h.name.eq_ignore_ascii_case(b"content-length") {
            if te.is_some() {
                continue;
            }
            let parsed = content_length(h.value);
            let n = match parsed {
                Length::Number(n) => n,
                Length::NotANumber => {
                    return Some(
                        Malformed::bad(
                            format!(
                                "The request's `Content-Length` header is not a number: `{}`.",
                                quote(h.value)
                            ),
                            "Send `Content-Length` as the body's size in bytes, digits only, such as `Content-Length: 42`.",
                        )
                        .fact("problem", "content-length is not a number")
                        .fact("content-length", quote(h.value)),
                    );
                }
                Length::TooLarge => {
                    return Some(
                        Malformed::bad(
                            format!(
                                "The request's `Content-Length` header, `{}`, is too large for any body to have.",
                                quote(h.value)
                            ),
                            "Send the body's real size in bytes; for a body of unknown size use `Transfer-Encoding: chunked`.",
                        )
                        .fact("problem", "content-length too large")
                        .fact("content-length", quote(h.value)),
                    );
                }
            };
            match length {
                Some((first, first_raw)) if first != n => {
                    return Some(
                        Malformed::bad(
                            format!(
                                "The request has two `Content-Length` headers that disagree: `{}` and `{}`.",
                                quote(first_raw),
                                quote(h.value)
                            ),
                            "Send one `Content-Length` header with the body's size.",
                        )
                        .fact("problem", "conflicting content-length headers"),
                    );
                }
                Some(_) => {}
                None => length = Some((n, h.value)),
            }
        }
    }
    if let Some(te) = te {
        let last = te.rsplit(|&b| b == b',').next().map(trim).unwrap_or(te);
        if !last.eq_ignore_ascii_case(b"chunked") {
            return Some(
                Malformed::bad(
                    format!(
                        "The request's `Transfer-Encoding` header, `{}`, does not end with `chunked`, so the end of its body cannot be found.",
                        quote(te)
                    ),
                    "List `chunked` last (`Transfer-Encoding: gzip, chunked`), or drop the header and send a `Content-Length`.",
                )
                .fact("problem", "transfer-encoding does not end with chunked")
                .fact("transfer-encoding", quote(te)),
            );
        }
    }
    None
}

enum Length {
    Number(u64),
    NotANumber,
    TooLarge,
}

/// hyper's reading of `Content-Length`: digits only (no sign, no list); it needs two values
/// above the largest for itself, so those count as too large too.
fn content_length(v: &[u8]) -> Length {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Length::NotANumber;
    }
    let mut n: u64 = 0;
    for &d in v {
        match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
        {
            Some(next) => n = next,
            None => return Length::TooLarge,
        }
    }
    if n > u64::MAX - 2 {
        Length::TooLarge
    } else {
        Length::Number(n)
    }
}

fn request_line_too_long(scan: &Scan<'_>, limits: &HeadLimits) -> Malformed {
    let len = scan.request_line.len();
    let more = if scan.request_line_complete {
        ""
    } else {
        " at least"
    };
    Malformed::too_large(
        format!(
            "The request line (method, URL and version) is{more} {len} bytes long, more than this site accepts (its whole head may have {} bytes). The URL is what is long, usually its query string.",
            limits.max_header_bytes
        ),
        "Send long data in a request body (POST) instead of the URL, or shorten the URL.",
    )
    .fact("problem", "request line too long")
    .fact("request line bytes", len.to_string())
}

/// hyper's 431: too many headers, a head larger than its buffer, or a `Content-Length` it
/// cannot represent (which is a malformed header, not a size problem).
fn too_large(scan: &Scan<'_>, limits: &HeadLimits) -> Malformed {
    if !scan.request_line_complete && scan.problem.is_none() {
        return request_line_too_long(scan, limits);
    }
    if let Some(p) = semantic_problem(scan).filter(|p| {
        p.facts
            .iter()
            .any(|(k, v)| k == "problem" && v == "content-length too large")
    }) {
        return p;
    }
    let count = scan.headers.len();
    if count > limits.max_headers {
        let more = if scan.complete { "" } else { " at least" };
        return Malformed::too_large(
            format!(
                "The request carried{more} {count} headers; this site accepts at most {}.",
                limits.max_headers
            ),
            "Send fewer headers; if a browser extension adds them, try a private window without extensions.",
        )
        .fact("problem", "too many headers")
        .fact("header count", count.to_string());
    }
    let size: usize =
        scan.request_line.len() + scan.headers.iter().map(|h| h.len + 2).sum::<usize>();
    let more = if scan.complete { "" } else { "at least " };
    let largest = scan.headers.iter().max_by_key(|h| h.len);
    match largest {
        Some(h) if h.len >= scan.request_line.len() => {
            let name = String::from_utf8_lossy(h.name).to_ascii_lowercase();
            let fix = if name == "cookie" {
                "Clear this site's cookies (your browser's site settings → clear data), then reload.".to_string()
            } else {
                format!(
                    "Send a smaller `{}` header, or fewer headers.",
                    quote(h.name)
                )
            };
            Malformed::too_large(
                format!(
                    "The request's headers add up to {more}{size} bytes; this site accepts at most {} bytes. The largest is `{}` ({} bytes).",
                    limits.max_header_bytes,
                    quote(h.name),
                    h.len
                ),
                fix,
            )
            .fact("problem", "headers too large")
            .fact("header bytes", size.to_string())
            .fact("largest header", format!("{} ({} bytes)", quote(h.name), h.len))
        }
        _ if !scan.request_line.is_empty() => request_line_too_long(scan, limits),
        _ => Malformed::too_large(
            format!(
                "The request's headers are larger than this site accepts (at most {} bytes).",
                limits.max_header_bytes
            ),
            "Clear this site's cookies, which are the usual cause of oversized headers.",
        )
        .fact("problem", "headers too large"),
    }
}

/// When the bytes at hand show nothing wrong (they may be only part of the head, for example
/// when requests were pipelined), hyper's status is all there is to say.
fn fallback(hyper_status: u16) -> Malformed {
    Malformed::bad(
        format!(
            "The request could not be read as HTTP/1.1 (the gateway's HTTP parser refused it with status {hyper_status})."
        ),
        "Check that the client speaks HTTP/1.1 to this address, and that nothing between you and the site alters requests.",
    )
    .fact("problem", "unparseable request")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_header_bytes: 16 * 1024,
        max_headers: 100,
    };

    fn d(head: &[u8]) -> Malformed {
        diagnose(head, 400, &LIMITS)
    }

    fn problem(m: &Malformed) -> &str {
        m.facts
            .iter()
            .find(|(k, _)| k == "problem")
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    #[test]
    fn each_malformed_head_is_named() {
        let cases: &[(&[u8], u16, &str, u16, &str)] = &[
            (
                b"G(T / HTTP/1.1\r\n\r\n",
                400,
                "invalid method",
                400,
                "`G(T` contains `(`",
            ),
            (
                b"\x16\x03\x01\x02\x00\x01",
                400,
                "invalid method",
                400,
                "TLS",
            ),
            (
                b" GET / HTTP/1.1\r\n\r\n",
                400,
                "request line starts with a space",
                400,
                "starts with a space",
            ),
            (
                b"GET  / HTTP/1.1\r\n\r\n",
                400,
                "extra space in the request line",
                400,
                "more than one space",
            ),
            (
                b"GET /a b HTTP/1.1\r\nhost: x\r\n\r\n",
                400,
                "space in the request target",
                400,
                "`/a b` contains a space",
            ),
            (
                b"GET /\x01 HTTP/1.1\r\n\r\n",
                400,
                "invalid request target",
                400,
                "control character 0x01",
            ),
            (
                b"GET /caf\xe9 HTTP/1.1\r\n\r\n",
                400,
                "invalid request target",
                400,
                "non-ASCII byte 0xE9, which is not UTF-8",
            ),
            (
                b"GET /a<b HTTP/1.1\r\n\r\n",
                400,
                "invalid request target",
                400,
                "contains `<`, which a URL must percent-encode",
            ),
            (
                b"GET / HTTP/9.9\r\n\r\n",
                400,
                "unsupported HTTP version",
                400,
                "`HTTP/9.9`",
            ),
            (
                b"GET / http/1.1\r\n\r\n",
                400,
                "unsupported HTTP version",
                400,
                "`http/1.1`",
            ),
            (
                b"GET / HTTP/1.1 extra\r\n\r\n",
                400,
                "text after the HTTP version",
                400,
                "after the HTTP version",
            ),
            (
                b"GET /\r\n\r\n",
                400,
                "incomplete request line",
                400,
                "HTTP/0.9",
            ),
            (
                b"GET / HTTP/1.1\rX\n\r\n",
                400,
                "bare carriage return in the request line",
                400,
                "carriage return",
            ),
            (
                b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
                400,
                "invalid header name",
                400,
                "`Bad Name` contains a space",
            ),
            (
                b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
                400,
                "whitespace before a header's colon",
                400,
                "`Host` is followed by whitespace",
            ),
            (
                b"GET / HTTP/1.1\r\n: x\r\n\r\n",
                400,
                "header without a name",
                400,
                "no name",
            ),
            (
                b"GET / HTTP/1.1\r\nnocolon\r\n\r\n",
                400,
                "header line without a colon",
                400,
                "`nocolon` has no colon",
            ),
            (
                b"GET / HTTP/1.1\r\nx-a: a\x00b\r\n\r\n",
                400,
                "invalid header value",
                400,
                "NUL byte (0x00)",
            ),
            (
                b"GET / HTTP/1.1\r\nx-a: a\rb\r\n\r\n",
                400,
                "invalid header value",
                400,
                "carriage return",
            ),
            (
                b"GET / HTTP/1.1\r\nx-a: a\r\n b\r\n\r\n",
                400,
                "obsolete line folding",
                400,
                "`x-a`",
            ),
            (
                b"GET / HTTP/1.1\r\n x: a\r\n\r\n",
                400,
                "whitespace before the first header",
                400,
                "first header",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                400,
                "content-length is not a number",
                400,
                "`Content-Length` header is not a number",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                400,
                "content-length is not a number",
                400,
                "`-1`",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
                "conflicting content-length headers",
                400,
                "`1` and `2`",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
                431,
                "content-length too large",
                400,
                "too large",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                400,
                "content-length too large",
                400,
                "too large",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                400,
                "transfer-encoding does not end with chunked",
                400,
                "`gzip`",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                400,
                "transfer-encoding does not end with chunked",
                400,
                "`chunked, gzip`",
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
                "transfer-encoding on HTTP/1.0",
                400,
                "HTTP/1.0",
            ),
        ];
        for (head, hyper, want_problem, want_status, words) in cases {
            let m = diagnose(head, *hyper, &LIMITS);
            assert_eq!(problem(&m), *want_problem, "{}: {m:?}", head.escape_ascii());
            assert_eq!(m.status, *want_status, "{}", head.escape_ascii());
            assert_eq!(m.code.default_status(), m.status);
            assert!(
                m.reason.contains(words),
                "{}: {}",
                head.escape_ascii(),
                m.reason
            );
            assert!(!m.remedies.is_empty());
        }
    }

    #[test]
    fn content_length_after_chunked_is_ignored_as_hyper_does() {
        let m = d(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: abc\r\n\r\n");
        assert_eq!(problem(&m), "unparseable request");
        let m = d(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(
            problem(&m),
            "unparseable request",
            "equal duplicates are fine"
        );
    }

    #[test]
    fn a_head_too_large_names_its_largest_header() {
        let mut head = b"GET / HTTP/1.1\r\nhost: x\r\ncookie: ".to_vec();
        head.extend(std::iter::repeat_n(b'c', 40_000));
        let m = diagnose(&head, 431, &LIMITS);
        assert_eq!((m.code, m.status), (Code::HeadersTooLarge, 431));
        assert!(m.reason.contains("The largest is `cookie`"), "{}", m.reason);
        assert!(
            m.reason.contains("at least"),
            "the head was cut: {}",
            m.reason
        );
        assert!(m.remedies[0].contains("cookies"));
    }

    #[test]
    fn too_many_headers_and_a_long_request_line() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..300 {
            head.extend(format!("x-{i}: v\r\n").bytes());
        }
        let m = diagnose(&head, 431, &LIMITS);
        assert_eq!(problem(&m), "too many headers");
        assert!(m.reason.contains("at most 100"), "{}", m.reason);

        let mut long = b"GET /?q=".to_vec();
        long.extend(std::iter::repeat_n(b'a', 50_000));
        for status in [431, 414] {
            let m = diagnose(&long, status, &LIMITS);
            assert_eq!(problem(&m), "request line too long", "{status}");
            assert_eq!((m.code, m.status), (Code::HeadersTooLarge, 431));
        }
    }

    #[test]
    fn quotes_are_escaped_and_bounded() {
        let mut head = b"GET / HTTP/1.1\r\nx-a: ".to_vec();
        head.extend(std::iter::repeat_n(b'`', 500));
        head.extend(b"\x07\r\n\r\n");
        let m = d(&head);
        assert!(!m.reason.contains('`') || m.reason.matches('`').count().is_multiple_of(2));
        let m = d(b"GET /\x1b[31m HTTP/1.1\r\n\r\n");
        assert!(m.reason.contains("\\x1B"), "{}", m.reason);
        assert!(quote(&[b'a'; 500]).chars().count() <= QUOTE_MAX + 1);
    }

    #[test]
    fn nothing_to_say_falls_back_to_hyper_s_status() {
        for head in [&b""[..], b"\r\n", b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"] {
            let m = d(head);
            assert_eq!((m.code, m.status), (Code::BadRequest, 400));
            assert_eq!(problem(&m), "unparseable request");
        }
    }

    #[test]
    fn every_head_httparse_refuses_is_named() {
        // Random heads built from pieces that go wrong in many ways: the scan must find a
        // problem exactly when httparse (as hyper calls it) refuses the bytes, and whatever the
        // bytes and hyper's status, the diagnosis never panics and names something.
        let pieces: &[&[u8]] = &[
            b"GET",
            b"POST",
            b" ",
            b"  ",
            b"/",
            b"/a",
            b"?q=1",
            b"<",
            b"HTTP/1.1",
            b"HTTP/1.0",
            b"HTTP/2",
            b"HTTP/1.",
            b"\r\n",
            b"\n",
            b"\r",
            b"host",
            b":",
            b" x",
            b"\x00",
            b"\t",
            b"\x7f",
            b"\xff",
            b"\xc3\xa9",
            b"(",
            b"Content-Length",
            b"Transfer-Encoding",
            b"chunked",
            b"18446744073709551615",
            b"a b",
            b"\r\n\r\n",
            b"\r\n ",
            b"PRI * HTTP/2.0",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..60_000 {
            let mut head = Vec::new();
            if round % 4 == 0 {
                for _ in 0..(next() % 64) {
                    head.push(next() as u8);
                }
            } else {
                for _ in 0..(next() % 14) {
                    head.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
                }
            }
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            let refused = req.parse(&head).is_err();
            let scan = Scan::of(&head);
            assert_eq!(
                scan.problem.is_some(),
                refused,
                "the scan and httparse disagree on {}: {:?}",
                head.escape_ascii(),
                scan.problem
            );
            let m = diagnose(&head, 400, &LIMITS);
            if refused {
                assert!(
                    !["unparseable request", "invalid head"].contains(&problem(&m)),
                    "{}",
                    head.escape_ascii()
                );
            }
            for status in [414, 431, 405] {
                let m = diagnose(&head, status, &LIMITS);
                assert!(!m.reason.is_empty() && !m.remedies.is_empty());
                assert_eq!(m.code.default_status(), m.status);
            }
            let _ = summary(&head);
        }
    }

    #[test]
    fn summary_reads_what_it_can() {
        let s = summary(b"POST /x?y HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nAccept: application/json\r\nContent-Length: abc\r\n\r\n");
        assert_eq!(
            s,
            Summary {
                method: "POST".into(),
                target: "/x?y".into(),
                host: "example.com".into(),
                user_agent: Some("curl/8".into()),
                accept: Some("application/json".into()),
            }
        );
        assert_eq!(summary(b"\xff\xfe"), Summary::default());
    }
}
