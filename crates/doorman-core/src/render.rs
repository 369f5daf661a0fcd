//! Turns a [`Receipt`] into a response body, chosen by the request's `Accept` header (never by
//! guessing from the path): a browser gets an HTML page, `application/json` gets RFC 9457
//! `application/problem+json`, everything else (curl's `*/*` included) gets plain text.
//!
//! This is the one place that applies a receipt's [`Disclosure`]: `Public` shows the operator's
//! reason, remedies and the facts that matched; `Hint` only the code's category; `Private` only
//! generic words and the Ray ID. The event log keeps everything either way.

use std::fmt::Write as _;

use doorman_common::html::escape;
use doorman_common::when::{self, UnitNames};
use serde_json::{Map, Value, json};

use crate::code::Code;
use crate::receipt::{Disclosure, Receipt};

/// The body formats a receipt can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/html`.
    Html,
    /// `application/problem+json` (RFC 9457).
    Json,
    /// `text/plain`.
    Text,
}

impl Format {
    /// The Content-Type header value for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/problem+json",
            Format::Text => "text/plain; charset=utf-8",
        }
    }
}

/// Picks the format from an `Accept` header value. Only explicit media types count (a bare `*/*`
/// says nothing about preference, so it gets text); among explicit ones the highest q wins, and
/// HTML wins ties because a browser lists it first.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut best = (Format::Text, 0.0f32, false);
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for param in pieces {
            if let Some(v) = param.trim().strip_prefix("q=") {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        let format = match media.as_str() {
            "text/html" | "application/xhtml+xml" => Format::Html,
            "application/json" | "application/problem+json" | "application/*" => Format::Json,
            m if m.ends_with("+json") => Format::Json,
            "text/plain" | "text/*" => Format::Text,
            _ => continue,
        };
        if q > 0.0 && (!best.2 || q > best.1) {
            best = (format, q, true);
        }
    }
    best.0
}

/// A rendered receipt.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The format chosen.
    pub format: Format,
    /// The body.
    pub body: String,
}

/// Renders a receipt in the format the `Accept` header asks for.
pub fn render(receipt: &Receipt, accept: Option<&str>) -> Rendered {
    let format = negotiate(accept);
    let body = match format {
        Format::Html => html(receipt),
        Format::Json => json(receipt),
        Format::Text => text(receipt),
    };
    Rendered { format, body }
}

/// What a receipt shows after its disclosure is applied.
struct Shown<'a> {
    title: &'a str,
    reason: String,
    remedies: Vec<&'a str>,
    facts: &'a [(String, String)],
}

/// The reason a receipt shows its reader, after its disclosure is applied.
pub fn public_reason(r: &Receipt) -> String {
    shown(r).reason
}

fn shown(r: &Receipt) -> Shown<'_> {
    match r.disclosure {
        Disclosure::Public => Shown {
            title: r.shown_title(),
            reason: if r.reason.is_empty() {
                generic_reason(r.code).to_string()
            } else {
                r.reason.clone()
            },
            remedies: r.remedies.iter().map(String::as_str).collect(),
            facts: &r.facts,
        },
        Disclosure::Hint => Shown {
            title: r.code.title(),
            reason: generic_reason(r.code).to_string(),
            remedies: generic_remedies(r.code).to_vec(),
            facts: &[],
        },
        Disclosure::Private => Shown {
            title: "Request not allowed",
            reason: "This request was not allowed. The site's operator can look up the exact reason with the Ray ID below.".to_string(),
            remedies: vec!["Send the Ray ID below to the site's support; it identifies this request and nothing else about you."],
            facts: &[],
        },
    }
}

/// The category-level sentence for a code, used when a rule discloses only a hint.
pub fn generic_reason(code: Code) -> &'static str {
    match code {
        Code::AsnBlocked => {
            "Requests from your network (autonomous system) are blocked by this site."
        }
        Code::IpBlocked => "Requests from your IP address are blocked by this site.",
        Code::CountryBlocked => "Requests from your country or region are blocked by this site.",
        Code::BrowserSignature => {
            "Your browser's request headers did not look like those of a real browser."
        }
        Code::TemporaryBan => {
            "You are temporarily banned after too many failed or suspicious requests."
        }
        Code::RateLimited => "You sent more requests than this site allows in a short time.",
        Code::FirewallRule => "A firewall rule of this site blocked the request.",
        Code::LimiterUnavailable => {
            "This site's rate limiter is unreachable and the site refuses uncounted requests; the fault is on the site's side."
        }
        Code::Challenge => {
            "This site needs to check that the request comes from a person before passing it on."
        }
        Code::RouteClosed => "This part of the site is closed.",
        Code::KeyMissing => "The route needs an API key or token and the request carried none.",
        Code::KeyMalformed => {
            "The API key is not in this site's format: mistyped, cut off, or a key for another service."
        }
        Code::KeyUnknown => "The API key is well-formed but this site does not know it.",
        Code::KeyRevoked => "The API key was revoked by the site's operator.",
        Code::KeyExpired => "The API key has expired.",
        Code::TokenMalformed => "The bearer token is not a well-formed JWT.",
        Code::TokenExpired => "The token has expired.",
        Code::TokenNotYetValid => "The token is not valid yet; a clock may be ahead.",
        Code::TokenBadSignature => "The token's signature does not verify with the issuer's keys.",
        Code::TokenUnknownIssuer => "The token was issued by an issuer this site does not trust.",
        Code::TokenWrongAudience => "The token was issued for another audience.",
        Code::TokenAlgorithmNotAllowed => {
            "The token is signed with an algorithm this site does not accept."
        }
        Code::TokenUnknownKey => "The token names a signing key its issuer does not publish.",
        Code::TokenMissingClaim => "The token lacks a claim this site requires.",
        Code::CredentialNotAccepted => {
            "The credential is valid but this part of the site accepts another kind."
        }
        Code::InsufficientScope => {
            "The credential is valid but lacks a permission (scope) this part of the site needs."
        }
        Code::TokenKeysUnavailable => {
            "The gateway cannot fetch the token issuer's keys right now; the fault is on the site's side."
        }
        Code::NetworkNotAllowed => "This part of the site only admits certain networks.",
        Code::NoRoute => "This gateway does not serve that host and path.",
        Code::HeadersTooLarge => "The request's headers are larger than this site accepts.",
        Code::BodyTooLarge => "The request's body is larger than this site accepts.",
        Code::RequestTimeout => "The request's headers did not arrive in time.",
        Code::BadRequest => "The request could not be understood.",
        Code::PathAmbiguous => {
            "The address's path is written in a way that servers read differently, so it was not passed on."
        }
        Code::BadHost => "The request does not say clearly which site it is for.",
        Code::MethodNotAllowed => {
            "This site does not accept requests of this method through its gateway."
        }
        Code::UpgradeNotAllowed => {
            "This address does not accept a switch to another protocol (such as WebSocket)."
        }
        Code::BodyTimeout => "The request's body stopped arriving before it was complete.",
        Code::UnsupportedTransferCoding => {
            "The request's body is sent in a transfer coding this site does not support."
        }
        Code::UpstreamRefused => "The service behind this gateway refused the connection.",
        Code::UpstreamReset => "The service behind this gateway dropped the connection.",
        Code::UpstreamTimeout => "The service behind this gateway did not answer in time.",
        Code::UpstreamError => "The service behind this gateway sent an invalid answer.",
        Code::UpstreamDown => {
            "The service behind this gateway is down: none of its servers pass their health checks."
        }
    }
}

fn generic_remedies(code: Code) -> &'static [&'static str] {
    match code {
        Code::RateLimited | Code::TemporaryBan => {
            &["Wait until the time given by the Retry-After header, then try again more slowly."]
        }
        Code::LimiterUnavailable => &["Try again in a few seconds."],
        Code::UpstreamRefused
        | Code::UpstreamReset
        | Code::UpstreamTimeout
        | Code::UpstreamError
        | Code::UpstreamDown => {
            &["Try again in a minute; the problem is on the site's side, not yours."]
        }
        Code::HeadersTooLarge => {
            &["Clear this site's cookies, which are the usual cause of oversized headers."]
        }
        _ => &["If you think this is a mistake, send the Ray ID below to the site's support."],
    }
}

/// Renders `code` spans written with backticks in operator text as <code>; text with an odd
/// number of backticks is left as written.
fn inline(s: &str) -> String {
    let escaped = escape(s);
    let parts: Vec<&str> = escaped.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return escaped.into_owned();
    }
    let mut out = String::with_capacity(escaped.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn support_html(s: &str) -> String {
    if s.starts_with("https://") || s.starts_with("http://") || s.starts_with("mailto:") {
        format!("<a href=\"{0}\">{0}</a>", escape(s))
    } else if s.contains('@') && !s.contains(' ') {
        format!("<a href=\"mailto:{0}\">{0}</a>", escape(s))
    } else {
        inline(s)
    }
}

// The page's look, shared by receipts and the errors page. Words wrap only between words:
// `main` breaks a word only when it is wider than the whole card, and `overflow-wrap:anywhere`
// is kept for the tokens that have no spaces (Ray IDs in <code>, URLs in links), so that they
// can also shrink the grid column they sit in. The facts' label column takes at most 40% so a
// long label wraps instead of squeezing the values to a few letters. Below 32rem (phones) the
// card keeps a margin from the screen's edges. Every colour pair meets WCAG AA (4.5:1), light
// and dark: crates/doorman-server/tests/pages.rs checks them from this text.
const STYLE: &str = "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;padding:0 1rem;background:#f6f7f9;color:#1b1f24}\
main{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #d8dde3;border-radius:8px;overflow-wrap:break-word}\
h1{font-size:1.5rem;margin:.2rem 0 1rem}.code{color:#5a6472;font-size:.9rem;margin:0}\
h2{font-size:1.05rem;margin:1.5rem 0 .4rem}ol{padding-left:1.4rem}\
dl{display:grid;grid-template-columns:fit-content(40%) minmax(0,1fr);gap:.2rem 1rem;font-size:.92rem;margin:0}dt{color:#5a6472}dd{margin:0}\
code,a{overflow-wrap:anywhere}a{color:#0550ae}\
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;background:#eef1f4;padding:0 .25em;border-radius:3px;-webkit-box-decoration-break:clone;box-decoration-break:clone}\
footer{margin-top:1.5rem;font-size:.9rem;color:#3d4550}\
@media (max-width:32rem){body{padding:0 .75rem}main{margin:.75rem auto;padding:1.25rem}h1{font-size:1.35rem}}\
@media (prefers-color-scheme:dark){body{background:#14171b;color:#e6e9ed}main{background:#1d2127;border-color:#333a43}dt,.code{color:#a3adb9}code{background:#2a3038}footer{color:#c2c9d1}a{color:#8ab4ff}}";

/// The HTML page: what happened, what to do, the Ray ID, UTC time, the IP as seen, support.
pub fn html(r: &Receipt) -> String {
    let s = shown(r);
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\">\
<title>{status} · {title}{site_title}</title><style>{STYLE}</style></head>\n<body><main>\
<p class=\"code\">Error {code} · HTTP {status}</p><h1>{title}</h1>{site_line}\
<h2>What happened</h2><p>{reason}</p>",
        status = r.status,
        code = escape(r.code.as_str()),
        title = escape(s.title),
        site_title = r
            .site
            .as_deref()
            .map(|site| format!(" · {}", escape(site)))
            .unwrap_or_default(),
        site_line = site_sentence(r)
            .map(|line| format!("<p class=\"site\">{}</p>", escape(&line)))
            .unwrap_or_default(),
        reason = inline(&s.reason),
    );
    if !s.facts.is_empty() {
        out.push_str("<h2>What we saw</h2><dl>");
        for (k, v) in s.facts {
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
        }
        out.push_str("</dl>");
    }
    if !s.remedies.is_empty() {
        out.push_str("<h2>What you can do</h2><ol>");
        for remedy in &s.remedies {
            let _ = write!(out, "<li>{}</li>", inline(remedy));
        }
        out.push_str("</ol>");
    }
    if let Some(secs) = retry_line(r) {
        let _ = write!(out, "<p>You can try again in {}.</p>", retry_words(secs));
    }
    if !r.links.is_empty() {
        out.push_str("<p>");
        for (label, url) in &r.links {
            let _ = write!(out, "<a href=\"{}\">{}</a> ", escape(url), escape(label));
        }
        out.push_str("</p>");
    }
    out.push_str("<footer><dl>");
    let _ = write!(
        out,
        "<dt>Ray ID</dt><dd><code>{}</code></dd><dt>Time</dt><dd>{}</dd><dt>Your IP</dt><dd>{}</dd>",
        escape(&r.ray_id.to_string()),
        when::human_utc(when::unix_ms(r.time)),
        r.client_ip
    );
    if let Some(support) = &r.support {
        let _ = write!(out, "<dt>Support</dt><dd>{}</dd>", support_html(support));
    }
    out.push_str("</dl><p>Quote the Ray ID when you contact support: it lets the operator see exactly what happened.</p></footer></main></body></html>\n");
    out
}

/// The RFC 9457 problem document, with Doorman's fields as extension members.
pub fn json(r: &Receipt) -> String {
    let s = shown(r);
    let mut doc = Map::new();
    // RFC 9457: one `type` per code, a URL that explains it, and the same `title` for every
    // problem of that type; a rule's own title is an extension member.
    let base = r.errors_url.as_deref().unwrap_or(DEFAULT_ERRORS_URL);
    doc.insert("type".into(), json!(format!("{base}{}", r.code.as_str())));
    doc.insert("title".into(), json!(r.code.title()));
    if s.title != r.code.title() {
        doc.insert("rule_title".into(), json!(s.title));
    }
    doc.insert("status".into(), json!(r.status));
    doc.insert("detail".into(), json!(s.reason));
    doc.insert(
        "instance".into(),
        json!(format!("urn:doorman:ray:{}", r.ray_id)),
    );
    doc.insert("code".into(), json!(r.code.as_str()));
    doc.insert("ray_id".into(), json!(r.ray_id.to_string()));
    doc.insert("time".into(), json!(when::rfc3339(when::unix_ms(r.time))));
    doc.insert("client_ip".into(), json!(r.client_ip.to_string()));
    doc.insert("remedies".into(), json!(s.remedies));
    if let Some(secs) = r.retry_after_s {
        doc.insert("retry_after".into(), json!(secs));
    }
    if !s.facts.is_empty() {
        // Plain values: numbers as numbers, everything else as the text it is.
        let facts: Map<String, Value> = s
            .facts
            .iter()
            .map(|(k, v)| {
                let value = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| n.to_string() == *v)
                    .map_or_else(|| json!(v), |n| json!(n));
                (k.clone(), value)
            })
            .collect();
        doc.insert("facts".into(), Value::Object(facts));
    }
    if let Some(support) = &r.support {
        doc.insert("support".into(), json!(support));
    }
    if let Some(site) = &r.site {
        doc.insert("site".into(), json!(site));
    }
    if !r.links.is_empty() {
        let links: Map<String, Value> =
            r.links.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        doc.insert("links".into(), Value::Object(links));
    }
    let mut body = Value::Object(doc).to_string();
    body.push('\n');
    body
}

/// Plain text for curl and scripts.
pub fn text(r: &Receipt) -> String {
    let s = shown(r);
    let mut out = String::with_capacity(1024);
    let _ = writeln!(out, "{} {} (error {})", r.status, s.title, r.code.as_str());
    if let Some(line) = site_sentence(r) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\n{}", s.reason);
    if !s.facts.is_empty() {
        out.push_str("\nWhat we saw:\n");
        for (k, v) in s.facts {
            let _ = writeln!(out, "  {k}: {v}");
        }
    }
    if !s.remedies.is_empty() {
        out.push_str("\nWhat you can do:\n");
        for (i, remedy) in s.remedies.iter().enumerate() {
            let _ = writeln!(out, "  {}. {}", i + 1, remedy);
        }
    }
    if let Some(secs) = retry_line(r) {
        let _ = writeln!(out, "\nTry again in {}.", retry_words(secs));
    }
    for (label, url) in &r.links {
        let _ = writeln!(out, "{label}: {url}");
    }
    let _ = writeln!(out, "\nRay ID:  {}", r.ray_id);
    let _ = writeln!(out, "Time:    {}", when::human_utc(when::unix_ms(r.time)));
    let _ = writeln!(out, "Your IP: {}", r.client_ip);
    if let Some(support) = &r.support {
        let _ = writeln!(out, "Support: {support}");
    }
    out
}

/// Where a JSON receipt's `type` points when the site names no documentation of its own: the
/// page of codes every gateway serves ([`errors_page`]).
pub const DEFAULT_ERRORS_URL: &str = "/.well-known/doorman/errors#";

/// "You are unable to access Example Chat (chat.example.com)." for a refusal; for the site's own
/// failures, that the site cannot answer.
fn site_sentence(r: &Receipt) -> Option<String> {
    let site = r.site.as_deref()?;
    Some(
        if r.code.is_upstream() || r.code == Code::LimiterUnavailable {
            format!("{site} cannot answer right now.")
        } else {
            format!("You are unable to access {site}.")
        },
    )
}

/// The seconds a "try again in" line names, unless the reason already says when: a rate limit's
/// public reason gives the time itself.
/// "1 minute 30 seconds": how long until the client may try again.
fn retry_words(secs: u64) -> String {
    when::duration_words(std::time::Duration::from_secs(secs), UnitNames::Long)
}

fn retry_line(r: &Receipt) -> Option<u64> {
    let said = r.disclosure == Disclosure::Public
        && matches!(r.code, Code::RateLimited | Code::TemporaryBan);
    r.retry_after_s.filter(|_| !said)
}

/// The page every gateway serves at `/.well-known/doorman/errors`: each code with its status,
/// title and what it means, an anchor per code, so that a JSON receipt's `type` leads somewhere.
pub fn errors_page(site_name: &str) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>Error codes · {site}</title><style>{STYLE}</style></head>\n<body><main>\
<h1>Error codes</h1><p>What each code on a page from {site} means. Every such page also shows a Ray ID: quote it when you contact the site's support.</p>",
        site = escape(site_name)
    );
    for code in Code::ALL {
        let _ = write!(
            out,
            "<h2 id=\"{id}\">{shown} · HTTP&nbsp;{status}: {title}</h2><p>{reason}</p><ul>",
            id = escape(code.as_str()),
            // A phone's line is narrower than TOKEN_ALGORITHM_NOT_ALLOWED: let it break after
            // an underscore rather than inside a word (and "HTTP 401" stay on one line).
            shown = escape(code.as_str()).replace('_', "_<wbr>"),
            status = code.default_status(),
            title = escape(code.title()),
            reason = escape(generic_reason(*code)),
        );
        for remedy in generic_remedies(*code) {
            let _ = write!(out, "<li>{}</li>", escape(remedy));
        }
        out.push_str("</ul>");
    }
    out.push_str("</main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::decision::PhaseName;
    use crate::ray::RayId;

    fn receipt(disclosure: Disclosure) -> Receipt {
        let mut r = Receipt::new(
            RayId::new(0xabc, Arc::from("edge")),
            UNIX_EPOCH + Duration::from_secs(1_795_383_851),
            "203.0.113.7".parse().unwrap(),
            Code::RouteClosed,
            PhaseName::RouteAccess,
        )
        .reason("The `admin` area <is> internal.")
        .remedy("Use the staff VPN.")
        .fact("Path", "/admin")
        .fact("Bot score (1 = automated, 99 = a person)", "12")
        .rule("route:admin");
        r.private_facts
            .push(("doorman.route".into(), "admin".into()));
        r.title = Some("Admin is internal".into());
        r.site = Some("Example Chat (chat.example)".into());
        r.disclosure = disclosure;
        r.support = Some("help@example.com".into());
        r
    }

    #[test]
    fn browsers_get_html_json_clients_get_problem_json_curl_gets_text() {
        let browser =
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        assert_eq!(negotiate(Some(browser)), Format::Html);
        assert_eq!(negotiate(Some("application/json")), Format::Json);
        assert_eq!(
            negotiate(Some("application/json, text/plain, */*")),
            Format::Json
        );
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(
            negotiate(Some("text/html;q=0.2, application/json")),
            Format::Json
        );
        assert_eq!(negotiate(Some("application/json;q=0")), Format::Text);
    }

    #[test]
    fn public_receipts_show_everything_escaped() {
        let page = html(&receipt(Disclosure::Public));
        assert!(page.contains("Admin is internal"));
        assert!(page.contains("The <code>admin</code> area &lt;is&gt; internal."));
        assert!(page.contains("0000000000000abc-edge"));
        assert!(page.contains("2026-11-22 21:44:11 UTC"));
        assert!(page.contains("203.0.113.7"));
        assert!(page.contains("mailto:help@example.com"));
        assert!(page.contains("You are unable to access Example Chat (chat.example)."));
        assert!(page.contains("<dt>Path</dt><dd>/admin</dd>"), "{page}");
        // Internal ids and rule fields are for `doorman explain`, not the page.
        assert!(!page.contains("route:admin"));
        assert!(!page.contains("doorman.route"));
        assert!(!page.contains("<script"));
    }

    #[test]
    fn hint_and_private_hide_the_operators_reason() {
        for d in [Disclosure::Hint, Disclosure::Private] {
            let r = receipt(d);
            for body in [html(&r), json(&r), text(&r)] {
                assert!(
                    !body.contains("internal."),
                    "{d:?} leaked the reason: {body}"
                );
                assert!(!body.contains("route:admin"), "{d:?} leaked the rule");
                assert!(
                    body.contains("0000000000000abc-edge"),
                    "{d:?} lost the ray id"
                );
            }
        }
    }

    #[test]
    fn json_is_rfc9457_with_extensions() {
        let v: Value = serde_json::from_str(&json(&receipt(Disclosure::Public))).unwrap();
        assert_eq!(v["type"], "/.well-known/doorman/errors#ROUTE_CLOSED");
        assert_eq!(v["status"], 403);
        // One title per type; the rule's own title is an extension member.
        assert_eq!(v["title"], "This part of the site is closed");
        assert_eq!(v["rule_title"], "Admin is internal");
        assert_eq!(v["code"], "ROUTE_CLOSED");
        assert_eq!(v["ray_id"], "0000000000000abc-edge");
        assert_eq!(v["time"], "2026-11-22T21:44:11Z");
        assert_eq!(v["facts"]["Path"], "/admin");
        assert_eq!(v["facts"]["Bot score (1 = automated, 99 = a person)"], 12);
        assert_eq!(v["remedies"][0], "Use the staff VPN.");
        assert_eq!(v["site"], "Example Chat (chat.example)");
        assert!(v.get("rule").is_none());
        let mut r = receipt(Disclosure::Public);
        r.errors_url = Some("https://docs.example.com/errors#".into());
        let v: Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(v["type"], "https://docs.example.com/errors#ROUTE_CLOSED");
    }

    #[test]
    fn every_code_has_its_anchor_on_the_errors_page() {
        let page = errors_page("Example Chat");
        for code in Code::ALL {
            assert!(
                page.contains(&format!("id=\"{}\"", code.as_str())),
                "no anchor for {code}"
            );
        }
        assert!(page.contains("Example Chat"));
    }

    #[test]
    fn text_names_code_ray_and_remedies() {
        let t = text(&receipt(Disclosure::Public));
        assert!(t.starts_with("403 Admin is internal (error ROUTE_CLOSED)"));
        assert!(t.contains("  1. Use the staff VPN."));
        assert!(t.contains("Ray ID:  0000000000000abc-edge"));
    }
}
