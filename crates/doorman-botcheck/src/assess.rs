//! The browser integrity check: one request's headers (and its connection's JA4) in, named
//! signals and a bot score out.
//!
//! Every check compares a claim with behaviour: "says Chrome 131" against the headers Chrome 131
//! always sends, in the order it sends them, over the handshake it makes. A check runs only when
//! the claim is one it knows precisely (see [`crate::ua`]) and when the browser would really
//! behave that way for this request: client hints and `Sec-Fetch-*` only exist on secure
//! origins, WebSocket upgrades and CORS preflights carry fewer headers, HTTP/2 has no header
//! order to speak of. Each such guard is there to keep a real person from being blocked.
//!
//! The score combines the weights of the signals seen as independent evidence ("noisy OR"):
//! `score = 100 × (1 − Π (1 − wᵢ/100))`, rounded. One weak signal stays weak; several agree into
//! a high score. 0 means nothing looked automated, 100 certainly automated. Cloudflare's
//! `cf.bot_management.score` runs the other way (1 = bot, 99 = human):
//! [`Assessment::cloudflare_score`] gives `100 − score`, kept within 1..=99.

use http::Version;

use crate::ja4::Ja4Summary;
use crate::signals::{Signal, SignalId};
use crate::ua::{self, BrowserFamily, ClaimedBrowser, Engine};

/// What the integrity check needs to know about one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The request method, e.g. `GET`.
    pub method: &'a str,
    /// The request path (informational; no check depends on it today).
    pub path: &'a str,
    /// The HTTP version the request came with.
    pub version: Version,
    /// Headers as received: names in any case, values as text (a value that is not valid text
    /// may be passed as empty).
    pub headers: &'a [(&'a str, &'a str)],
    /// Whether `headers` is in the order the client sent it. Only then is header order checked;
    /// a `http::HeaderMap` does not promise its order, so [`RequestView::new`] starts with
    /// `false`.
    pub order_preserved: bool,
    /// Whether the browser sees the origin as potentially trustworthy: HTTPS, or a loopback
    /// host. Browsers send client hints and `Sec-Fetch-*` only there, so the checks for them
    /// run only when this is true. `false` by default: a wrong `true` would flag every Chrome on
    /// plain HTTP.
    pub secure: bool,
    /// The JA4 of the connection the request came over, when Doorman terminated its TLS.
    pub ja4: Option<&'a str>,
}

impl<'a> RequestView<'a> {
    /// A view with the header order unknown, the origin not known to be secure and no JA4; set
    /// those fields when known.
    pub fn new(
        method: &'a str,
        path: &'a str,
        version: Version,
        headers: &'a [(&'a str, &'a str)],
    ) -> Self {
        RequestView {
            method,
            path,
            version,
            headers,
            order_preserved: false,
            secure: false,
            ja4: None,
        }
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    fn has(&self, name: &str) -> bool {
        self.position(name).is_some()
    }
}

/// How to read a score, on Cloudflare's scale of likely human (30–99) and likely automated
/// (1–29), with an in-between band of Doorman's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Score 0–29: nothing, or only faint evidence.
    Human,
    /// Score 30–70: something is off, often an extension or a proxy.
    Suspicious,
    /// Score 71–100 (Cloudflare score 1–29): automated.
    Automated,
}

/// The result of the integrity check for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// 0 = nothing looked automated … 100 = certainly automated.
    pub score: u8,
    /// The signals seen, strongest first.
    pub signals: Vec<Signal>,
    /// The browser the User-Agent claims to be, when it has a recognised shape.
    pub claimed: Option<ClaimedBrowser>,
}

impl Assessment {
    /// The score on Cloudflare's scale (`cf.bot_management.score`): 1 = automated … 99 = human.
    pub fn cloudflare_score(&self) -> u8 {
        (100 - self.score.min(100)).clamp(1, 99)
    }

    /// Which band the score falls in.
    pub fn verdict(&self) -> Verdict {
        match self.score {
            0..=29 => Verdict::Human,
            30..=70 => Verdict::Suspicious,
            _ => Verdict::Automated,
        }
    }

    /// Whether a signal was seen.
    pub fn has(&self, id: SignalId) -> bool {
        self.signals.iter().any(|s| s.id == id)
    }

    /// The strongest signal: the one a block page names first.
    pub fn primary(&self) -> Option<&Signal> {
        self.signals.first()
    }
}

/// Combine signal weights as independent evidence into a 0–100 score.
fn combine(signals: &[Signal]) -> u8 {
    let human = signals.iter().fold(1.0_f64, |p, s| {
        p * (1.0 - f64::from(s.weight.min(100)) / 100.0)
    });
    // The product stays in [0, 1], so the rounded value fits a u8.
    ((1.0 - human) * 100.0).round().clamp(0.0, 100.0) as u8
}

/// Run the integrity check on one request.
pub fn assess(request: &RequestView<'_>) -> Assessment {
    let mut signals = Vec::new();
    let claimed = identity_checks(request, &mut signals);
    automation_headers(request, &mut signals);
    if let Some(claim) = claimed {
        browser_checks(request, claim, &mut signals);
    }
    // Strongest first; the sort is stable, so equal weights keep the catalogue's check order.
    signals.sort_by_key(|s| std::cmp::Reverse(s.weight));
    Assessment {
        score: combine(&signals),
        signals,
        claimed,
    }
}

/// Show at most this much of a User-Agent in an explanation: they can be long, and the page
/// should stay readable.
fn shown(ua: &str) -> String {
    const MAX: usize = 120;
    match ua.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &ua[..cut]),
        None => ua.to_string(),
    }
}

/// The User-Agent checks. Returns the browser claim when the UA is a plain browser's, so that
/// the behaviour checks can hold it to that claim.
fn identity_checks(req: &RequestView<'_>, out: &mut Vec<Signal>) -> Option<ClaimedBrowser> {
    let Some(ua) = req.header("user-agent") else {
        out.push(Signal::new(
            SignalId::UaMissing,
            "Your request has no User-Agent header. Every web browser sends one, so the request \
             looks like it comes from a script."
                .to_string(),
        ));
        return None;
    };
    if ua.trim().is_empty() {
        out.push(Signal::new(
            SignalId::UaEmpty,
            "Your request's User-Agent header is empty. Every web browser fills it in, so the \
             request looks like it comes from a script."
                .to_string(),
        ));
        return None;
    }
    if let Some(tool) = ua::scripted_tool(ua) {
        out.push(Signal::new(
            SignalId::UaScripted,
            format!(
                "Your client identifies itself as {tool} (User-Agent \"{}\"), a command-line \
                 tool or programming library, not a web browser.",
                shown(ua)
            ),
        ));
        return None;
    }
    if let Some(marker) = ua::headless_marker(ua) {
        out.push(Signal::new(
            SignalId::UaHeadless,
            format!(
                "Your browser identifies itself as {marker}, a headless browser driven by \
                 automation software."
            ),
        ));
        // Headless Chrome otherwise behaves like Chrome, so the claim is kept: the behaviour
        // checks still apply and the event log records what it said it was.
        return ua::claimed_browser(ua);
    }
    if ua::declared_bot(ua) {
        out.push(Signal::new(
            SignalId::UaDeclaredBot,
            format!(
                "Your client declares itself a crawler or bot (User-Agent \"{}\").",
                shown(ua)
            ),
        ));
        return None;
    }
    let claim = ua::claimed_browser(ua);
    if claim.is_none() {
        if ua.trim_start().starts_with("Mozilla/") {
            if !ua.contains('(') {
                out.push(Signal::new(
                    SignalId::UaTruncated,
                    format!(
                        "Your User-Agent \"{}\" starts like a browser's but lacks the platform \
                         and version details every browser sends; something shortened or \
                         replaced it.",
                        shown(ua)
                    ),
                ));
            }
        } else {
            out.push(Signal::new(
                SignalId::UaNotBrowser,
                format!("Your User-Agent \"{}\" is not a web browser's.", shown(ua)),
            ));
        }
    }
    claim
}

/// Headers that only automation tooling adds; no browser sends them on its own.
fn automation_headers(req: &RequestView<'_>, out: &mut Vec<Signal>) {
    for (name, _) in req.headers {
        let automation = name
            .get(..11)
            .is_some_and(|p| p.eq_ignore_ascii_case("x-devtools-"))
            || ["webdriver", "selenium", "puppeteer", "playwright"]
                .iter()
                .any(|m| contains_ignore_case(name, m));
        if automation {
            out.push(Signal::new(
                SignalId::AutomationHeader,
                format!(
                    "Your request carries the header {name}, which only browser-automation \
                     tools (WebDriver, Selenium, Puppeteer, Playwright, DevTools) add."
                ),
            ));
            return;
        }
    }
    // Puppeteer and Playwright's headless Chromium can hide the UA marker but still name
    // themselves in the client-hint brand list.
    if let Some(brands) = req.header("sec-ch-ua")
        && brands.contains("HeadlessChrome")
        && !req
            .header("user-agent")
            .is_some_and(|ua| ua.contains("HeadlessChrome"))
    {
        out.push(Signal::new(
            SignalId::UaHeadless,
            "Your browser's Sec-CH-UA header names HeadlessChrome, a headless browser driven \
             by automation software."
                .to_string(),
        ));
    }
}

/// Whether `haystack` contains `needle` (ASCII lowercase), ignoring ASCII case, without
/// allocating: this runs on every header of every request.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The checks that hold a browser claim to that browser's known behaviour.
fn browser_checks(req: &RequestView<'_>, claim: ClaimedBrowser, out: &mut Vec<Signal>) {
    let ua = req.header("user-agent").unwrap_or("");
    let websocket = req
        .header("upgrade")
        .is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"));
    // Preflights and WebSocket handshakes are built by the browser with a reduced header set.
    let full_header_set = !websocket && !req.method.eq_ignore_ascii_case("OPTIONS");
    let navigation = req.method.eq_ignore_ascii_case("GET")
        && req
            .header("accept")
            .is_some_and(|a| a.contains("text/html"));
    let blink = claim.engine == Engine::Blink;
    let gecko = claim.engine == Engine::Gecko;
    // The Chromium version under the brand: Opera numbers itself differently.
    let chromium = if blink {
        ua::product_major(ua, "Chrome").or_else(|| ua::product_major(ua, "HeadlessChrome"))
    } else {
        None
    };
    let client_hints = req.header("sec-ch-ua");

    // Client hints: Chromium sends Sec-CH-UA to secure origins on every request since 89/90.
    if blink && req.secure && full_header_set && chromium.is_some_and(|v| v >= 90) {
        match client_hints {
            None => out.push(Signal::new(
                SignalId::ChromeWithoutClientHints,
                format!(
                    "Your browser says {claim} but did not send Sec-CH-UA, which {} always \
                     sends to secure sites; an extension or privacy tool may be rewriting \
                     headers.",
                    claim.family.name()
                ),
            )),
            Some(brands) => {
                if let Some(v) = chromium
                    && let Some(hinted) = brand_versions_disagree(brands, v)
                {
                    out.push(Signal::new(
                        SignalId::ClientHintsMismatch,
                        format!(
                            "Your browser says {claim} (Chromium {v}) but its Sec-CH-UA header \
                             says version {hinted}; a User-Agent switcher extension usually \
                             causes this."
                        ),
                    ));
                }
            }
        }
    }
    if !blink && client_hints.is_some() {
        let (id, who) = if gecko {
            (SignalId::FirefoxWithClientHints, "Firefox")
        } else {
            (
                SignalId::SafariWithClientHints,
                "Safari and other iOS browsers",
            )
        };
        out.push(Signal::new(
            id,
            format!(
                "Your browser says {claim}, but sent Sec-CH-UA client hints, which only \
                 Chromium-based browsers (Chrome, Edge, Opera) send and {who} never do; a \
                 User-Agent switcher may be making a Chromium browser pose as {}.",
                claim.family.name()
            ),
        ));
    }

    // Fetch metadata: Chromium since 80 (Opera 67), Firefox since 90, on every page load to a
    // secure origin. Safari is left out: its support came late and varies by version.
    let sends_sec_fetch = match claim.family {
        BrowserFamily::Chrome | BrowserFamily::Edge => blink && claim.major_version >= 80,
        BrowserFamily::Opera => blink && claim.major_version >= 67,
        BrowserFamily::Firefox => gecko && claim.major_version >= 90,
        BrowserFamily::Safari => false,
    };
    if sends_sec_fetch
        && req.secure
        && navigation
        && !req.has("sec-fetch-mode")
        && !req.has("sec-fetch-site")
        && !req.has("sec-fetch-dest")
    {
        out.push(Signal::new(
            SignalId::NavigationWithoutSecFetch,
            format!(
                "Your browser says {claim}, but this page load came without the Sec-Fetch-Site \
                 and Sec-Fetch-Mode headers {} sends on every page load.",
                claim.family.name()
            ),
        ));
    }

    // Accept-Language: Chromium and Firefox send it on every request (captured); Safari at
    // least on page loads.
    let expects_language = blink || gecko || navigation;
    if full_header_set && expects_language && !req.has("accept-language") {
        out.push(Signal::new(
            SignalId::BrowserWithoutAcceptLanguage,
            format!(
                "Your browser says {claim} but did not send Accept-Language; browsers always \
                 send the languages you prefer."
            ),
        ));
    }
    if full_header_set && !req.has("accept") {
        out.push(Signal::new(
            SignalId::BrowserWithoutAccept,
            format!("Your browser says {claim} but did not send an Accept header; browsers always send one."),
        ));
    }

    if req.version == Version::HTTP_11
        && req.order_preserved
        && let Some((first, second)) = order_violation(req, claim)
    {
        out.push(Signal::new(
            SignalId::HeaderOrderMismatch,
            format!(
                "Your browser says {claim}, but sent {first} before {second}; {} always sends \
                 them the other way round, so something rebuilt the request.",
                claim.family.name()
            ),
        ));
    }

    if let Some(ja4) = req.ja4
        && let Some(stack) = tls_mismatch(ja4, claim)
    {
        out.push(Signal::new(
            SignalId::UaTlsMismatch,
            format!(
                "Your browser says {claim}, but the encrypted connection was opened by {stack}, \
                 not by {}.",
                claim.family.name()
            ),
        ));
    }
}

/// When the real (non-GREASE) brands of a `Sec-CH-UA` value all carry a version other than the
/// User-Agent's Chromium major, that version; `None` when they agree or cannot be read.
fn brand_versions_disagree(sec_ch_ua: &str, chromium: u32) -> Option<u32> {
    let mut versions = Vec::new();
    for item in sec_ch_ua.split(',') {
        let Some((brand, params)) = item.trim().split_once(';') else {
            continue;
        };
        let brand = brand.trim().trim_matches('"');
        // GREASE brands ("Not/A)Brand", "Not_A Brand", …) carry arbitrary versions.
        if brand.starts_with("Not") && brand.contains("Brand") {
            continue;
        }
        let Some(v) = params.trim().strip_prefix("v=") else {
            continue;
        };
        if let Ok(v) = v.trim_matches('"').parse::<u32>() {
            versions.push(v);
        }
    }
    if versions.is_empty() || versions.contains(&chromium) {
        None
    } else {
        versions.first().copied()
    }
}

/// Pairs of headers each browser engine always sends in this order over HTTP/1.1: (first,
/// second). Deliberately few, and only ones that held in every request captured from that
/// browser (page loads, fetch(), images; see tests/fixtures/headers).
const CHROMIUM_ORDER: &[(&str, &str)] = &[
    ("user-agent", "accept"),
    ("accept", "accept-encoding"),
    ("accept-encoding", "accept-language"),
];
const FIREFOX_ORDER: &[(&str, &str)] = &[
    ("user-agent", "accept"),
    ("accept", "accept-language"),
    ("accept-language", "accept-encoding"),
];

/// The first pair of headers out of the claimed browser's order, as the names were sent.
fn order_violation(req: &RequestView<'_>, claim: ClaimedBrowser) -> Option<(String, String)> {
    let rules = match claim.engine {
        Engine::Blink => CHROMIUM_ORDER,
        Engine::Gecko => FIREFOX_ORDER,
        Engine::WebKit => return None,
    };
    let name_at = |i: usize| req.headers[i].0.to_string();
    // Both browsers put Host first on HTTP/1.1.
    if let Some(host) = req.position("host")
        && host != 0
    {
        return Some((name_at(0), name_at(host)));
    }
    for (a, b) in rules {
        if let (Some(ia), Some(ib)) = (req.position(a), req.position(b))
            && ia > ib
        {
            return Some((name_at(ib), name_at(ia)));
        }
    }
    None
}

/// Cipher-suite hashes (JA4 part b) of TLS stacks verified in this crate's fixtures, to name
/// the stack in an explanation.
const KNOWN_STACKS: &[(&str, &str)] = &[
    (
        "e8f1e7e78f70",
        "OpenSSL's default settings (as used by curl and many scripts)",
    ),
    (
        "85036bcba153",
        "Python's ssl module (as used by requests, urllib3 and aiohttp)",
    ),
    ("723694b0fccc", "GnuTLS (as used by wget on Debian)"),
];

/// The range of cipher-suite counts (GREASE excluded) each engine's TLS stack sends. Chromium:
/// 15 (BoringSSL, stable for years); Firefox: 16–17 (NSS); WebKit: 20 (Apple's stack, Safari and
/// every iOS browser). Bands are wider than observed so version drift does not flag people.
fn cipher_band(engine: Engine) -> std::ops::RangeInclusive<u8> {
    match engine {
        Engine::Blink => 14..=18,
        Engine::Gecko => 14..=19,
        Engine::WebKit => 17..=24,
    }
}

/// Whether a JA4 cannot come from the claimed browser, and if so who it looks like.
///
/// Heuristic: every browser family claimed here offers TLS 1.3 and ALPN and sends a cipher
/// count within its engine's band (the readable part `a`), and no browser uses the default
/// cipher list of a library in [`KNOWN_STACKS`] (part `b`: Python's 18 suites fall inside the
/// browsers' count bands, its list does not). Old versions (before TLS 1.3 shipped in them) are
/// not judged. QUIC and DTLS hellos have other counts and are not judged.
fn tls_mismatch(ja4: &str, claim: ClaimedBrowser) -> Option<String> {
    let s = Ja4Summary::parse(ja4)?;
    if s.transport != 't' {
        return None;
    }
    let modern = match (claim.family, claim.engine) {
        (_, Engine::WebKit) => claim.family != BrowserFamily::Safari || claim.major_version >= 15,
        (BrowserFamily::Opera, _) => claim.major_version >= 57,
        (BrowserFamily::Firefox, _) => claim.major_version >= 63,
        _ => claim.major_version >= 70,
    };
    if !modern {
        return None;
    }
    let known = KNOWN_STACKS
        .iter()
        .find(|(hash, _)| *hash == s.cipher_hash)
        .map(|(_, name)| (*name).to_string());
    let fits = s.version == "13"
        && s.alpn != "00"
        && cipher_band(claim.engine).contains(&s.ciphers)
        && known.is_none();
    if fits {
        return None;
    }
    Some(known.unwrap_or_else(|| {
        format!(
            "a different TLS library (JA4 {ja4}: TLS {}, {} cipher suites, ALPN {})",
            s.version, s.ciphers, s.alpn
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_combine_as_independent_evidence() {
        let sig = |id| Signal::new(id, String::new());
        assert_eq!(combine(&[]), 0);
        assert_eq!(combine(&[sig(SignalId::ChromeWithoutClientHints)]), 50);
        assert_eq!(
            combine(&[
                sig(SignalId::ChromeWithoutClientHints),
                sig(SignalId::UaTlsMismatch)
            ]),
            75
        );
    }

    #[test]
    fn cloudflare_scale_runs_the_other_way() {
        let a = |score| Assessment {
            score,
            signals: Vec::new(),
            claimed: None,
        };
        assert_eq!(a(0).cloudflare_score(), 99);
        assert_eq!(a(100).cloudflare_score(), 1);
        assert_eq!(a(75).cloudflare_score(), 25);
        assert_eq!(a(29).verdict(), Verdict::Human);
        assert_eq!(a(70).verdict(), Verdict::Suspicious);
        assert_eq!(a(71).verdict(), Verdict::Automated);
    }

    #[test]
    fn grease_brands_are_ignored_in_version_comparison() {
        let brands = r#""Not/A)Brand";v="99", "Chromium";v="148""#;
        assert_eq!(brand_versions_disagree(brands, 148), None);
        assert_eq!(brand_versions_disagree(brands, 131), Some(148));
        assert_eq!(brand_versions_disagree(r#""Not_A Brand";v="8""#, 131), None);
        assert_eq!(brand_versions_disagree("garbage", 131), None);
    }
}
