//! What a challenged client is shown: the HTML page for browsers and a problem+json answer
//! for everyone else.
//!
//! The page is one self-contained document (inline style and script, both carrying the
//! response's CSP nonce; no external files, no third party). Its script solves the proof of
//! work in Web Workers made from a Blob URL (on the page itself when workers are unavailable),
//! shows progress, posts the answer to the submit path, checks that the browser kept the
//! cookies the site set, and goes back to where the person was going. It also compares the
//! device's clock with the server's and explains a wrong one. Without JavaScript a `<noscript>`
//! block explains what is needed. After a [`LoopHint`] it says that the person already passed
//! and why it did not stick, and waits for a click instead of looping.
//!
//! The server must send the page with [`csp`]`(nonce)` as `Content-Security-Policy`, the same
//! nonce as in [`PageInput::nonce`], and `Cache-Control: no-store` (the page holds a
//! single-use challenge and the server's time).

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorman_common::html::escape;
use doorman_common::when::{self, Scale};
use serde_json::{Value, json};

use crate::clearance::ClearanceRejection;
use crate::marker::LoopHint;
use crate::pow::expected_attempts;

const SCRIPT: &str = include_str!("page.js");
/// The receipts' look (doorman-core's render.rs), plus the warning box. Its colour pairs meet
/// WCAG AA light and dark (checked from this text by crates/doorman-server/tests/pages.rs).
const STYLE: &str = include_str!("page.css");

/// Everything the page (and [`api_answer`]) shows.
#[derive(Clone, Debug)]
pub struct PageInput<'a> {
    /// This response's CSP nonce ([`new_nonce`]); the same goes into [`csp`].
    pub nonce: &'a str,
    /// The challenge token ([`crate::issue`]).
    pub token: &'a str,
    /// The token's difficulty (shown, and used by the script).
    pub difficulty: u8,
    /// Where the answer is POSTed: a path on this site (anything else becomes `/`).
    pub submit_path: &'a str,
    /// Where to go once cleared: a path on this site, with its query (anything else becomes `/`).
    pub return_to: &'a str,
    /// The site's name as people know it (its host name, usually).
    pub site_name: &'a str,
    /// The request's Ray ID.
    pub ray_id: &'a str,
    /// Server time when rendering, Unix milliseconds (for the client clock check).
    pub server_time_ms: u64,
    /// A client clock off by more than this is pointed out.
    pub clock_skew_allowed_s: u64,
    /// Name of the loop-marker cookie the script looks for after submitting.
    pub marker_cookie_name: &'a str,
    /// Set when this client passed moments ago ([`crate::assess`]).
    pub previous_attempt: Option<LoopHint>,
    /// Why the clearance the client sent was refused, if it sent one.
    pub clearance_problem: Option<&'a ClearanceRejection>,
}

/// A fresh CSP nonce: 16 random bytes, base64url.
pub fn new_nonce() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b[..]);
    URL_SAFE_NO_PAD.encode(b)
}

/// The `Content-Security-Policy` to send with the page. Nothing is allowed by default; the
/// inline style and script only with this response's nonce; workers only from `blob:` (the
/// solver); connections only to this site (the answer's POST); no framing, no `<base>`, and
/// forms only to this site.
pub fn csp(nonce: &str) -> String {
    let nonce = nonce_chars(nonce);
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; worker-src blob:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Keeps only the characters a CSP nonce may have, so a bad nonce cannot inject directives.
fn nonce_chars(nonce: &str) -> String {
    nonce
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_'))
        .collect()
}

/// `p` if it is a path on this site (starts with one `/`, no backslash, no control characters
/// or spaces, at most 2048 bytes), else `/`. Keeps `return_to` from sending people to another
/// site (`//evil.example`, `/\evil.example`, `https://…`).
pub fn safe_path(p: &str) -> &str {
    let ok = p.len() <= 2048
        && p.starts_with('/')
        && !p.starts_with("//")
        && !p.contains('\\')
        && p.bytes().all(|b| b.is_ascii_graphic());
    if ok { p } else { "/" }
}

/// 65536 → `65,536`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The loop message, or `None` without a hint.
fn loop_message(input: &PageInput<'_>) -> Option<String> {
    let hint = input.previous_attempt?;
    let ago = when::span_words(Duration::from_secs(hint.seconds_ago()), Scale::CHALLENGE);
    let site = input.site_name;
    Some(match input.clearance_problem {
        None => format!(
            "You passed the check {ago} ago, but your browser did not send the clearance cookie back: cookies are \
             blocked for this site, or an extension removes them. Allow cookies for {site} (in the site settings \
             behind the icon next to the address), or turn the extension off for {site}, then check again."
        ),
        Some(p) => format!(
            "You passed the check {ago} ago, but the clearance your browser sent back is refused: {}. What to do: {}.",
            p.reason(),
            p.remedy()
        ),
    })
}

/// The challenge page (module docs). Every interpolated value is escaped.
pub fn page(input: &PageInput<'_>) -> String {
    let nonce = nonce_chars(input.nonce);
    let nonce = escape(&nonce);
    let site = escape(input.site_name);
    let return_to = escape(safe_path(input.return_to));
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\">\
<title>One moment… · {site}</title><style nonce=\"{nonce}\">\n{STYLE}</style></head>\n\
<body><main id=\"doorman\" data-token=\"{token}\" data-difficulty=\"{difficulty}\" data-submit=\"{submit}\" \
data-return-to=\"{return_to}\" data-server-ms=\"{server_ms}\" data-skew-s=\"{skew}\" data-marker=\"{marker}\" \
data-site=\"{site}\"{wait}>\n\
<p class=\"code\">Challenge · {site}</p><h1>One moment: checking that you are a person</h1>\n",
        token = escape(input.token),
        difficulty = input.difficulty,
        submit = escape(safe_path(input.submit_path)),
        server_ms = input.server_time_ms,
        skew = input.clock_skew_allowed_s,
        marker = escape(input.marker_cookie_name),
        wait = if input.previous_attempt.is_some() {
            " data-wait=\"1\""
        } else {
            ""
        },
    );
    if let Some(msg) = loop_message(input) {
        let _ = writeln!(
            out,
            "<section class=\"warn\" id=\"loop\"><h2>You already passed this check</h2><p>{}</p></section>",
            escape(&msg)
        );
    } else if let Some(p) = input.clearance_problem {
        let _ = writeln!(
            out,
            "<p id=\"why\">Checking again: {}.</p>",
            escape(&p.reason())
        );
    }
    let _ = write!(
        out,
        "<noscript><section class=\"warn\"><h2>This check needs JavaScript</h2><p>Before {site} lets your browser \
in, it has to solve a small puzzle (a proof of work) that takes a few seconds of computing, and that needs \
JavaScript. Turn JavaScript on for {site} and reload this page. Programs and text-mode browsers that cannot run \
it: use the site's API with an API key, or send the Ray ID below to the site's support.</p></section></noscript>\n\
<p id=\"status\" role=\"status\" aria-live=\"polite\"></p>\n<p id=\"clock\" class=\"warn\" hidden></p>\n\
<p><button id=\"start\" type=\"button\" hidden>Check again</button> \
<button id=\"reload\" type=\"button\" hidden>Reload and try again</button> \
<a id=\"continue\" href=\"{return_to}\" hidden>Continue anyway</a></p>\n\
<h2>What is this?</h2><p>{site} asks browsers to solve a small puzzle before it passes their requests on: a few \
seconds of computing for one visit, but costly for bots that fetch thousands of pages. Nothing is installed and \
no third party is involved. Once it is solved, your browser keeps a cookie so that you are not asked again for a \
while.</p>\n\
<footer><dl><dt>Ray ID</dt><dd><code>{ray}</code></dd><dt>Puzzle</dt><dd>{bits} zero bits, about {attempts} \
attempts</dd></dl></footer>\n</main>\n<script nonce=\"{nonce}\">\n{SCRIPT}</script>\n</body></html>\n",
        ray = escape(input.ray_id),
        bits = input.difficulty,
        attempts = grouped(expected_attempts(input.difficulty)),
    );
    out
}

/// The `challenge` member of a JSON answer: what a program needs to solve the proof of work and
/// where to send the answer.
pub fn challenge_member(token: &str, difficulty: u8, submit_path: &str) -> Value {
    json!({
        "algorithm": "sha256-leading-zero-bits",
        "token": token,
        "difficulty": difficulty,
        "input": "<token>:<counter>",
        "expected_attempts": expected_attempts(difficulty),
        "submit": {
            "method": "POST",
            "path": safe_path(submit_path),
            "content_type": "application/x-www-form-urlencoded",
            "fields": ["token", "counter"],
        },
    })
}

/// The answer for clients that are not browsers (JSON or `*/*` accept, API routes): an RFC 9457
/// problem document with code `CHALLENGE`, which says what to do instead (use an API key) and
/// how to solve the challenge without a browser. Send it with status 403 and
/// `doorman-mitigated: challenge`.
pub fn api_answer(input: &PageInput<'_>) -> Value {
    let submit = safe_path(input.submit_path);
    let mut detail = String::from(
        "This site checks that requests come from a person's browser before passing them on, and this request \
         carried no valid clearance cookie",
    );
    match (input.previous_attempt, input.clearance_problem) {
        (Some(hint), None) => {
            let _ = write!(
                detail,
                ": the challenge was passed {} ago, but the clearance cookie was not sent back (does the client keep \
                 cookies?)",
                when::span_words(Duration::from_secs(hint.seconds_ago()), Scale::CHALLENGE)
            );
        }
        (_, Some(p)) => {
            let _ = write!(detail, " ({})", p.reason());
        }
        (None, None) => {}
    }
    detail.push('.');
    let mut doc = json!({
        "type": "urn:doorman:error:CHALLENGE",
        "title": "Please confirm you are a person",
        "status": 403,
        "code": "CHALLENGE",
        "detail": detail,
        "instance": format!("urn:doorman:ray:{}", input.ray_id),
        "ray_id": input.ray_id,
        "remedies": [
            "Programs and API clients: call the site's API routes with an API key or token; challenges are meant for \
             browsers, and API routes do not challenge authenticated requests.",
            format!(
                "Or solve the challenge: find a decimal counter such that SHA-256(token + \":\" + counter) starts \
                 with {} zero bits (about {} attempts), POST token=…&counter=… as \
                 application/x-www-form-urlencoded to {submit}, keep the cookies the answer sets, and send them \
                 with later requests.",
                input.difficulty,
                grouped(expected_attempts(input.difficulty))
            ),
            "Or open the address in a browser with JavaScript and cookies enabled.",
        ],
        "challenge": challenge_member(input.token, input.difficulty, input.submit_path),
    });
    if let Some(p) = input.clearance_problem {
        doc["clearance"] = json!({ "code": p.code(), "reason": p.reason(), "remedy": p.remedy() });
    }
    if let Some(hint) = input.previous_attempt {
        doc["passed_at"] = json!(hint.passed_at);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_on_the_site() {
        assert_eq!(safe_path("/a/b?c=d"), "/a/b?c=d");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "",
            "a",
            "/a b",
            "/a\nb",
        ] {
            assert_eq!(safe_path(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(65_536), "65,536");
        assert_eq!(grouped(1_048_576), "1,048,576");
    }

    #[test]
    fn a_screen_reader_hears_the_progress_and_no_deadline() {
        let html = page(&PageInput {
            nonce: "n",
            token: "t",
            difficulty: 16,
            submit_path: "/s",
            return_to: "/",
            site_name: "chat.example",
            ray_id: "r",
            server_time_ms: 0,
            clock_skew_allowed_s: 120,
            marker_cookie_name: "m",
            previous_attempt: None,
            clearance_problem: None,
        });
        // The live region is in the page from the start (not `hidden`), so that assistive
        // technology is already watching it when the script first writes to it.
        assert!(
            html.contains("<p id=\"status\" role=\"status\" aria-live=\"polite\"></p>"),
            "{html}"
        );
        assert!(html.contains("<main") && html.contains("<h1>"));
        assert!(html.contains("<noscript>"));
        let words = format!("{html}{SCRIPT}").to_lowercase();
        for pressure in [
            "hurry",
            "quickly",
            "time limit",
            "time left",
            "seconds left",
            "expires in",
            "before it expires",
            "countdown",
        ] {
            assert!(!words.contains(pressure), "time pressure: {pressure:?}");
        }
    }

    #[test]
    fn csp_keeps_only_nonce_characters() {
        assert_eq!(
            csp("ab; script-src *"),
            "default-src 'none'; script-src 'nonce-abscript-src'; style-src 'nonce-abscript-src'; \
             worker-src blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        );
        assert_eq!(new_nonce().len(), 22);
    }
}
