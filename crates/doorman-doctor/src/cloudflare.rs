//! Sites behind Cloudflare, which the doctor serves as well as Doorman's own: how to tell that
//! a site answers through Cloudflare (`server: cloudflare`, a `cf-ray` header), what its
//! `/cdn-cgi/trace` says about this client (`key=value` lines: the IP and country Cloudflare
//! sees, the data centre, HTTP and TLS versions, WARP, and `ts`, its clock), and what its error
//! pages mean for the person reading them. A Cloudflare error is a number (1020, 1015, 522…) in
//! an HTML page, or in `error code: 1020` plain text for clients that are not browsers; the
//! number decides whose move it is — the visitor's, the site owner's rules, or the site's broken
//! server — so each one gets its meaning and fix in words, with the Ray ID to quote.
//!
//! The page is read by words, not by markup: Cloudflare's templates change, and sites customise
//! them, so a number is taken after `error` (and an optional `code`) anywhere in the body, and a
//! Ray ID is the first 16-hex-digit word after `Ray ID`.

use doorman_common::when;

use crate::Step;
use crate::clock::Sample;
use crate::http::Fetched;

/// Cloudflare serves it on every proxied host.
pub(crate) const TRACE_PATH: &str = "/cdn-cgi/trace";

/// Where a person can read about every code.
const ERRORS_DOC: &str =
    "https://developers.cloudflare.com/support/troubleshooting/http-status-codes/";

/// The answer came through Cloudflare.
pub(crate) fn detected(f: &Fetched) -> bool {
    f.header("cf-ray").is_some()
        || f.header("server")
            .is_some_and(|s| s.to_ascii_lowercase().contains("cloudflare"))
}

/// `/cdn-cgi/trace`, parsed.
#[derive(Debug, Clone, Default)]
pub(crate) struct CfTrace {
    pairs: Vec<(String, String)>,
}

impl CfTrace {
    /// The `key=value` lines of a trace body; `None` when the body is not a trace (an HTML page
    /// served at that path has `=` signs too, but not the trace's own keys).
    pub(crate) fn parse(body: &[u8]) -> Option<CfTrace> {
        let text = std::str::from_utf8(body).ok()?;
        let pairs: Vec<(String, String)> = text
            .lines()
            .filter_map(|line| {
                let (k, v) = line.trim().split_once('=')?;
                let k = k.trim();
                let plain =
                    !k.is_empty() && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
                plain.then(|| (k.to_ascii_lowercase(), v.trim().to_owned()))
            })
            .collect();
        let is_trace = pairs
            .iter()
            .any(|(k, _)| matches!(k.as_str(), "fl" | "ip" | "ts" | "colo" | "visit_scheme"));
        is_trace.then_some(CfTrace { pairs })
    }

    /// A key's value, when present and not empty.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// `ts` (Unix seconds with a fraction, `1700000000.123`) in milliseconds.
    pub(crate) fn ts_ms(&self) -> Option<i64> {
        let ts = self.get("ts")?;
        let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
        let secs: i64 = secs.parse().ok()?;
        if !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        // Milliseconds: the first three digits of the fraction, padded.
        let ms = format!("{:0<3}", &frac[..frac.len().min(3)])
            .parse::<i64>()
            .ok()?;
        secs.checked_mul(1000)?.checked_add(ms)
    }

    /// The client reaches Cloudflare through WARP, Cloudflare's VPN (`warp=on` or `plus`).
    pub(crate) fn on_vpn(&self) -> bool {
        matches!(self.get("warp"), Some("on" | "plus"))
    }
}

/// The trace step from Cloudflare's trace (used when the site has no Doorman trace), and the
/// clock reading its `ts` gives.
pub(crate) fn trace_step(f: &Fetched, tr: &CfTrace) -> (Step, Option<Sample>) {
    let mut step = Step::new("trace");
    step.fact(
        "source",
        format!("Cloudflare's {TRACE_PATH} (the site answers through Cloudflare)"),
    );
    if let Some(ip) = tr.get("ip") {
        step.fact("your IP as seen", ip);
    }
    for (key, label) in [
        ("loc", "country"),
        ("colo", "Cloudflare data centre"),
        ("http", "HTTP"),
        ("tls", "TLS"),
        ("sni", "SNI"),
    ] {
        if let Some(v) = tr.get(key) {
            step.fact(label, v);
        }
    }
    match tr.get("warp") {
        Some("on") => step.fact(
            "WARP",
            "on (you reach the site through Cloudflare WARP, a VPN)",
        ),
        Some("plus") => step.fact("WARP", "plus (you reach the site through WARP+, a VPN)"),
        Some(other) => step.fact("WARP", other),
        None => {}
    }
    if tr.get("gateway") == Some("on") {
        step.fact(
            "Zero Trust gateway",
            "on (your organisation's Cloudflare gateway filters your traffic)",
        );
    }
    if tr.on_vpn() {
        // A fact, not a warning: the VPN works; it only matters if the site refuses you, and
        // then the HTTP step's fix says so.
        step.fact(
            "note",
            "some sites challenge or block VPN traffic: if this one refuses you, try once without WARP",
        );
    }
    let server_ms = tr.ts_ms();
    if let Some(ms) = server_ms {
        step.fact("server time", when::rfc3339_ms(ms));
    }
    let sample = server_ms.map(|ms| {
        let half = i64::try_from(f.rtt.as_millis() / 2).unwrap_or(i64::MAX / 4);
        Sample {
            source: format!("ts of GET {TRACE_PATH} (half the round trip corrected)"),
            server_ms: ms,
            local_ms: f.sent_ms + half,
            uncertainty_ms: half.max(1),
        }
    });
    (step, sample)
}

/// What a Cloudflare error answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CfKind {
    /// A numbered error: 1xxx, or 520–530.
    Code(u16),
    /// A challenge page (`cf-mitigated: challenge`): a browser check a tool cannot pass.
    Challenge,
    /// "Sorry, you have been blocked": a security rule, without a number.
    Blocked,
}

/// A Cloudflare error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CfError {
    pub kind: CfKind,
    /// The Ray ID the page shows, else the `cf-ray` header's.
    pub ray: Option<String>,
}

/// Lower-case ASCII words of a body (everything else separates them): markup, JSON and prose
/// all read the same way.
fn words(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn is_cf_code(n: u16) -> bool {
    (1000..=1999).contains(&n) || (520..=530).contains(&n)
}

/// The number after `error` (or `error code`): `Error 1020`, `error code: 1015`,
/// `<span class="cf-error-code">1020</span>`, `Error code 522`, `"error_code":1020`.
fn code_in(words: &[String]) -> Option<u16> {
    words.iter().enumerate().find_map(|(i, w)| {
        if w != "error" {
            return None;
        }
        let mut j = i + 1;
        if words.get(j).is_some_and(|w| w == "code") {
            j += 1;
        }
        words.get(j)?.parse::<u16>().ok().filter(|n| is_cf_code(*n))
    })
}

/// The first 16-hex-digit word shortly after `Ray ID` (markup may sit in between).
fn ray_in(words: &[String]) -> Option<String> {
    words.windows(2).enumerate().find_map(|(i, pair)| {
        if pair[0] != "ray" || pair[1] != "id" {
            return None;
        }
        words
            .iter()
            .skip(i + 2)
            .take(8)
            .find(|w| w.len() == 16 && w.bytes().all(|c| c.is_ascii_hexdigit()))
            .cloned()
    })
}

/// The Cloudflare error in an answer, when it is one.
pub(crate) fn error_page(f: &Fetched) -> Option<CfError> {
    let status = f.status.as_u16();
    if !detected(f) || status < 400 {
        return None;
    }
    // A Doorman gateway behind Cloudflare answered itself: its receipt uses the same numbers
    // (1020, 1015…) but is Doorman's, and the HTTP step reads it as such.
    if f.header("doorman-ray").is_some() || crate::http::receipt(f).is_some() {
        return None;
    }
    let words = words(&f.body);
    let kind = if let Some(code) = code_in(&words) {
        CfKind::Code(code)
    } else if f
        .header("cf-mitigated")
        .is_some_and(|v| v.eq_ignore_ascii_case("challenge"))
    {
        CfKind::Challenge
    } else if (520..=530).contains(&status) {
        CfKind::Code(status)
    } else if status == 403
        && words
            .windows(4)
            .any(|w| w == ["you", "have", "been", "blocked"])
    {
        CfKind::Blocked
    } else {
        return None;
    };
    let ray = ray_in(&words).or_else(|| f.header("cf-ray").map(str::to_owned));
    Some(CfError { kind, ray })
}

/// Whose move it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Something the person can change.
    Client,
    /// A deliberate rule of the site's owner.
    Owner,
    /// The site is broken or misconfigured.
    Site,
    /// Something between the person and the site.
    Between,
}

impl Side {
    fn words(self) -> &'static str {
        match self {
            Side::Client => "The fix is on your side.",
            Side::Owner => {
                "This is a rule of the site's owner, not a fault of your connection: only they can lift it."
            }
            Side::Site => "The fault is on the site's side: nothing on your side will fix it.",
            Side::Between => {
                "Something between you and the site (a proxy, VPN or security software) is the likely cause."
            }
        }
    }
}

/// What the doctor knows about this client, for the words of a fix.
#[derive(Debug, Default)]
pub(crate) struct Context<'a> {
    pub trace: Option<&'a CfTrace>,
    /// The `Retry-After` header, in seconds.
    pub retry_after: Option<&'a str>,
    /// The URL names an IP address.
    pub host_is_ip: bool,
    /// A status page to follow, when one is known.
    pub status_page: Option<&'a str>,
    /// The requests carried the doctor's own headers, not a browser's.
    pub own_headers: bool,
}

impl Context<'_> {
    fn ip(&self) -> Option<&str> {
        self.trace.and_then(|t| t.get("ip"))
    }

    fn your_ip(&self) -> String {
        self.ip()
            .map_or_else(|| "your IP".to_owned(), |ip| format!("your IP {ip}"))
    }

    fn vpn(&self) -> Option<&str> {
        self.trace
            .filter(|t| t.on_vpn())
            .and_then(|t| t.get("warp"))
    }

    fn try_later(&self) -> String {
        match self.status_page {
            Some(url) => format!("Try again later, and follow the site's status page ({url})."),
            None => "Try again later; if the site has a status page, check it.".to_owned(),
        }
    }
}

/// A code's short name, its meaning for this client, what to do, and whose move it is.
fn explain(code: u16, cx: &Context) -> (&'static str, String, String, Side) {
    let tell_owner = "Tell the site's owner (send them the Ray ID).".to_owned();
    match code {
        1000 | 1002 => (
            "DNS points to a prohibited IP",
            "the site's DNS record points back at Cloudflare itself (or at an address Cloudflare refuses), so Cloudflare cannot reach the site's server".to_owned(),
            tell_owner,
            Side::Site,
        ),
        1001 => (
            "DNS resolution error",
            "Cloudflare has no working configuration for this host name (it is not set up on Cloudflare, or its CNAME target does not resolve)".to_owned(),
            "Check the host name's spelling; if it is right, tell the site's owner.".to_owned(),
            Side::Site,
        ),
        1003 => (
            "direct IP access not allowed",
            if cx.host_is_ip {
                "you asked a Cloudflare IP address directly; Cloudflare serves sites only by name".to_owned()
            } else {
                "the request named a Cloudflare IP address instead of the site's name".to_owned()
            },
            "Use the site's domain name in the URL, not an IP address.".to_owned(),
            Side::Client,
        ),
        1004 => (
            "host not configured to serve web traffic",
            "Cloudflare is not (yet) set up to serve this host: a recent DNS change, or the site was disabled".to_owned(),
            "Wait a few minutes and try again; if it persists, tell the site's owner.".to_owned(),
            Side::Site,
        ),
        1005 => (
            "network (ASN) banned",
            format!(
                "the site's owner blocks the whole network your IP belongs to{} (often a hosting, VPN or mobile network)",
                cx.ip().map_or_else(String::new, |ip| format!(" ({ip})"))
            ),
            "Try from another network (without a VPN or proxy), or ask the site's owner to allow yours.".to_owned(),
            Side::Owner,
        ),
        1006..=1008 | 1106 => (
            "your IP address is banned",
            format!("the site's owner has banned {}", cx.your_ip()),
            "Ask the site's owner to allow your IP (send them the Ray ID); another network gives you another IP.".to_owned(),
            Side::Owner,
        ),
        1009 => (
            "country or region banned",
            format!(
                "the site's owner does not accept visitors from {}",
                cx.trace
                    .and_then(|t| t.get("loc"))
                    .map_or_else(|| "your country or region".to_owned(), |loc| format!("your country or region ({loc}, as Cloudflare sees it)"))
            ),
            "Nothing on your connection is broken: ask the site's owner if you think you should have access.".to_owned(),
            Side::Owner,
        ),
        1010 if cx.own_headers => (
            "browser signature banned",
            "the site's bot check (Browser Integrity Check, or Cloudflare's rules against known tools) judged this client's signature — here the doctor's own request (User-Agent doorman-doctor), not your browser, so your browser may pass".to_owned(),
            "To check what your browser gets, run the doctor again with --browser (or --headers-from FILE with your browser's request headers). If your browser gets 1010 too: use a current, normal browser and disable extensions that change the User-Agent or headers.".to_owned(),
            Side::Client,
        ),
        1010 => (
            "browser signature banned",
            "the site's bot check (Browser Integrity Check, or Cloudflare's rules against known tools) judged this client's signature — the browser headers the doctor sent, but over the doctor's own encrypted connection (TLS), which Cloudflare judges too and which is not your browser's".to_owned(),
            "Open the page in your browser: if it gets 1010 too, use a current, normal browser and disable extensions that change the User-Agent or headers.".to_owned(),
            Side::Client,
        ),
        1011 => (
            "hotlinking denied",
            "this resource may only be loaded from the site's own pages".to_owned(),
            "Open it from the site's page rather than directly or embedded elsewhere.".to_owned(),
            Side::Owner,
        ),
        1012 => (
            "access denied",
            format!(
                "the site's owner denies {} because of activity seen from it (a ban after too many requests, or traffic that looks like malware)",
                cx.your_ip()
            ),
            "Stop any automated requests, wait, and scan your device for malware; if it persists, ask the site's owner (send them the Ray ID).".to_owned(),
            Side::Owner,
        ),
        1013 => (
            "HTTP host and TLS SNI mismatch",
            "the name in the TLS handshake differs from the Host header: something rewrote the request".to_owned(),
            "Try without a proxy, VPN or TLS-inspecting security software.".to_owned(),
            Side::Between,
        ),
        1014 => (
            "CNAME cross-user banned",
            "the site's DNS points to a host in another Cloudflare account, which Cloudflare refuses".to_owned(),
            tell_owner,
            Side::Site,
        ),
        1015 => (
            "you are being rate limited",
            format!(
                "the site's rate limit counts too many requests from {}{}",
                cx.your_ip(),
                if cx.vpn().is_some() {
                    " — a VPN address is shared, so others' requests count too"
                } else {
                    " (a shared address — office, VPN, mobile network — counts others' requests too)"
                }
            ),
            match cx.retry_after {
                Some(s) => format!("Wait {s} s before trying again, then slow down."),
                None => "Wait a minute or two before trying again, then slow down.".to_owned(),
            },
            Side::Client,
        ),
        1016 => (
            "origin DNS error",
            "Cloudflare cannot resolve the address of the site's own server".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        1018 | 1023 => (
            "could not find host",
            "Cloudflare has not (yet) got this site's configuration (recently added, or its hosting provider's setup failed)".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        1019 | 1101 | 1102 => (
            match code {
                1019 => "compute server error",
                1101 => "Worker threw an exception",
                _ => "Worker exceeded its resource limits",
            },
            "the site's code running on Cloudflare (a Worker) failed on this request".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        1020 => (
            "access denied by a firewall rule",
            match (cx.vpn(), cx.ip()) {
                (Some(warp), Some(ip)) => format!(
                    "a firewall rule of the site blocked you; your IP {ip} is on a VPN (warp={warp}), which such rules often target"
                ),
                (Some(warp), None) => format!(
                    "a firewall rule of the site blocked you; you are on a VPN (warp={warp}), which such rules often target"
                ),
                (None, Some(ip)) => format!("a firewall rule of the site blocked you (your IP as seen: {ip})"),
                (None, None) => "a firewall rule of the site blocked you".to_owned(),
            },
            if cx.vpn().is_some() {
                "Try again without the VPN; if it still fails, send the site's owner the Ray ID so they can find the rule.".to_owned()
            } else {
                "If you use a VPN or proxy, try without it; otherwise send the site's owner the Ray ID so they can find the rule that matched.".to_owned()
            },
            Side::Owner,
        ),
        1025 => (
            "please check back later",
            "the site has used up its Cloudflare Workers plan for now".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        1033 => (
            "tunnel error",
            "the site's server connects to Cloudflare through a tunnel that is down".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        1034..=1041 => (
            "invalid request rewrite or edge configuration",
            "one of the site's Cloudflare rules (a rewrite, a header change, an edge address) is broken".to_owned(),
            tell_owner,
            Side::Site,
        ),
        1200 => (
            "cache connection limit",
            "too many requests are queued at Cloudflare waiting for the site's server: it is overloaded".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        520 => (
            "web server returned an unknown error",
            "the site's server answered Cloudflare with something empty or invalid".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        521 => (
            "web server is down",
            "the site's server refused Cloudflare's connection: it is down or not accepting connections".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        522 => (
            "connection timed out",
            "Cloudflare could not connect to the site's server in time: it is down, overloaded or unreachable".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        523 => (
            "origin is unreachable",
            "Cloudflare has no route to the site's server".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        524 => (
            "a timeout occurred",
            "the site's server accepted the connection but did not answer within Cloudflare's time limit".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        525 => (
            "SSL handshake failed",
            "Cloudflare could not make a TLS handshake with the site's server".to_owned(),
            tell_owner,
            Side::Site,
        ),
        526 => (
            "invalid SSL certificate",
            "the site's server presented Cloudflare a certificate it cannot accept (expired, self-signed or for another name)".to_owned(),
            tell_owner,
            Side::Site,
        ),
        527 => (
            "Railgun error",
            "the connection between Cloudflare and the site's server (Railgun) failed".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        530 => (
            "origin error",
            "Cloudflare could not reach the site's server".to_owned(),
            cx.try_later(),
            Side::Site,
        ),
        _ => (
            "Cloudflare error",
            format!("Cloudflare refused or could not complete the request (see {ERRORS_DOC})"),
            tell_owner,
            if code >= 1000 { Side::Owner } else { Side::Site },
        ),
    }
}

/// The error as one fact: `1020 (access denied by a firewall rule)`.
pub(crate) fn describe(e: &CfError) -> String {
    match e.kind {
        CfKind::Code(code) => format!("{code} ({})", explain(code, &Context::default()).0),
        CfKind::Challenge => "challenge (a browser check)".to_owned(),
        CfKind::Blocked => "blocked by a security rule (no error number)".to_owned(),
    }
}

/// The HTTP step's fix for a Cloudflare error: the code, what it means for this client, whose
/// side the fault is on, and the Ray ID to quote.
pub(crate) fn fix(e: &CfError, cx: &Context) -> String {
    let mut out = match e.kind {
        CfKind::Code(code) => {
            let (name, meaning, todo, side) = explain(code, cx);
            format!(
                "Cloudflare error {code} ({name}): {meaning}. {todo} {}",
                side.words()
            )
        }
        CfKind::Challenge => format!(
            "Cloudflare asks for a browser check (a challenge) that a command-line tool cannot pass: open the URL in a browser{}. If the check loops in your browser, allow cookies and JavaScript for the site. {}",
            if cx.vpn().is_some() {
                "; being on a VPN (WARP) makes challenges more likely"
            } else {
                ""
            },
            Side::Owner.words()
        ),
        CfKind::Blocked => format!(
            "a security rule of the site (Cloudflare's firewall) blocked {}: if you use a VPN or proxy, try without it; otherwise send the site's owner the Ray ID. {}",
            cx.your_ip(),
            Side::Owner.words()
        ),
    };
    if let Some(ray) = &e.ray {
        out.push_str(&format!(
            " Quote Ray ID {ray} to the site's owner or support."
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_parse_and_give_the_time() {
        let tr = CfTrace::parse(
            b"fl=29f1\nh=example.com\nip=203.0.113.7\nts=1700000000.12\nvisit_scheme=https\nloc=NL\nwarp=on\n",
        )
        .unwrap();
        assert_eq!(tr.get("ip"), Some("203.0.113.7"));
        assert_eq!(tr.ts_ms(), Some(1_700_000_000_120));
        assert!(tr.on_vpn());
        assert!(CfTrace::parse(b"<html><meta charset=utf-8></html>").is_none());
        assert_eq!(
            CfTrace::parse(b"ts=1700000000\nip=x").unwrap().ts_ms(),
            Some(1_700_000_000_000)
        );
    }

    #[test]
    fn codes_and_rays_are_read_from_any_markup() {
        let w = |s: &str| words(s.as_bytes());
        assert_eq!(
            code_in(&w(
                r#"<span class="cf-error-type">Error</span> <span class="cf-error-code">1020</span>"#
            )),
            Some(1020)
        );
        assert_eq!(code_in(&w("error code: 1015")), Some(1015));
        assert_eq!(
            code_in(&w(r#"<span class="code-label">Error code 522</span>"#)),
            Some(522)
        );
        assert_eq!(code_in(&w(r#"{"error_code":1010}"#)), Some(1010));
        assert_eq!(code_in(&w("Error 404: not found")), None);
        assert_eq!(
            ray_in(&w(
                r#"Cloudflare Ray ID: <strong class="font-semibold">8a1b2c3d4e5f6789</strong>"#
            )),
            Some("8a1b2c3d4e5f6789".to_owned())
        );
        assert_eq!(
            ray_in(&w(
                "<small class=\"heading-ray-id\">Ray ID: 8A1B2C3D4E5F6789 &bull; 2026</small>"
            )),
            Some("8a1b2c3d4e5f6789".to_owned())
        );
        assert_eq!(ray_in(&w("Ray ID: unknown")), None);
    }

    #[test]
    fn a_1020_on_a_vpn_says_so() {
        let tr = CfTrace::parse(b"ip=203.0.113.7\nwarp=on\n").unwrap();
        let cx = Context {
            trace: Some(&tr),
            ..Context::default()
        };
        let e = CfError {
            kind: CfKind::Code(1020),
            ray: Some("8a1b2c3d4e5f6789".to_owned()),
        };
        let fix = fix(&e, &cx);
        assert!(
            fix.starts_with("Cloudflare error 1020 (access denied by a firewall rule): a firewall rule of the site blocked you; your IP 203.0.113.7 is on a VPN (warp=on)"),
            "{fix}"
        );
        assert!(fix.contains("without the VPN"), "{fix}");
        assert!(fix.ends_with("Quote Ray ID 8a1b2c3d4e5f6789 to the site's owner or support."));
    }
}
