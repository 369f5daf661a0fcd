//! The integrity check on real and realistic header sets: real browsers raise nothing, and each
//! signal fires on the inconsistency it names, with words a person can act on.
//!
//! Header sets live in tests/fixtures/headers (sources in each file's comment lines and in
//! tests/fixtures/README.md).

use doorman_botcheck::{Assessment, BrowserFamily, Engine, RequestView, SignalId, Verdict, assess};
use http::Version;

/// A request read from a fixture: `METHOD PATH VERSION`, then `Name: value` lines; `#` lines
/// are comments.
struct Req {
    method: String,
    path: String,
    version: Version,
    headers: Vec<(String, String)>,
}

fn load(name: &str) -> Req {
    let path = format!(
        "{}/tests/fixtures/headers/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty());
    let start: Vec<&str> = lines.next().unwrap().split(' ').collect();
    let version = match start[2] {
        "HTTP/1.1" => Version::HTTP_11,
        "HTTP/2" => Version::HTTP_2,
        other => panic!("{other}"),
    };
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_string(), v.to_string())
        })
        .collect();
    Req {
        method: start[0].to_string(),
        path: start[1].to_string(),
        version,
        headers,
    }
}

impl Req {
    fn without(mut self, names: &[&str]) -> Req {
        self.headers
            .retain(|(n, _)| !names.iter().any(|x| n.eq_ignore_ascii_case(x)));
        self
    }

    fn set(mut self, name: &str, value: &str) -> Req {
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value.to_string(),
            None => self.headers.push((name.to_string(), value.to_string())),
        }
        self
    }

    /// Assess as received directly over TLS with the order known.
    fn assess(&self, ja4: Option<&str>) -> Assessment {
        self.assess_with(ja4, true, true)
    }

    fn assess_with(&self, ja4: Option<&str>, secure: bool, order_preserved: bool) -> Assessment {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut view = RequestView::new(&self.method, &self.path, self.version, &headers);
        view.secure = secure;
        view.order_preserved = order_preserved;
        view.ja4 = ja4;
        assess(&view)
    }
}

// JA4s of the same clients (tests/fingerprints.rs, and published values for the h2 browsers).
const CHROMIUM_JA4: &str = "t13d1516h2_8daaf6152771_d8a2da3f94cd";
const FIREFOX_JA4: &str = "t13d1617h2_86a278354501_3cbfd9057e0d";
/// browserleaks' JA4 for Safari 18.3 on iOS, quoted in lexiforest/curl_cffi issue #530.
const SAFARI_JA4: &str = "t13d2014h2_a09f3c656075_e42f34c56612";
const CURL_JA4: &str = "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6";
const PYTHON_JA4: &str = "t13d1812h1_85036bcba153_b26ce05bbdd6";
const WGET_JA4: &str = "t13i291200_723694b0fccc_899037bd0b8c";

const CHROME_131_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn ids(a: &Assessment) -> Vec<&'static str> {
    a.signals.iter().map(|s| s.id.as_str()).collect()
}

/// Exactly this one signal, with its catalogue weight, a remedy and an explanation containing
/// `words`.
fn only(a: &Assessment, id: SignalId, words: &str) {
    assert_eq!(ids(a), vec![id.as_str()], "{a:#?}");
    let s = &a.signals[0];
    assert_eq!(s.weight, id.weight());
    assert_eq!(s.remedy, id.remedy());
    assert!(
        s.explanation.contains(words),
        "{:?} lacks {words:?}",
        s.explanation
    );
    assert_eq!(a.score, id.weight());
}

#[test]
fn real_browsers_raise_no_signal() {
    let cases = [
        (
            "chromium-148-navigate.txt",
            CHROMIUM_JA4,
            BrowserFamily::Chrome,
            148,
        ),
        (
            "chromium-148-fetch.txt",
            CHROMIUM_JA4,
            BrowserFamily::Chrome,
            148,
        ),
        (
            "chromium-148-image.txt",
            CHROMIUM_JA4,
            BrowserFamily::Chrome,
            148,
        ),
        (
            "firefox-esr-153-navigate.txt",
            FIREFOX_JA4,
            BrowserFamily::Firefox,
            153,
        ),
        (
            "firefox-esr-153-fetch.txt",
            FIREFOX_JA4,
            BrowserFamily::Firefox,
            153,
        ),
        (
            "chrome-142-macos-h2.txt",
            CHROMIUM_JA4,
            BrowserFamily::Chrome,
            142,
        ),
        (
            "edge-131-windows-h2.txt",
            CHROMIUM_JA4,
            BrowserFamily::Edge,
            131,
        ),
        (
            "safari-26.0.1-macos-h2.txt",
            SAFARI_JA4,
            BrowserFamily::Safari,
            26,
        ),
        (
            "safari-18.4-ios-h2.txt",
            SAFARI_JA4,
            BrowserFamily::Safari,
            18,
        ),
    ];
    for (file, ja4, family, major) in cases {
        let req = load(file);
        for (ja4, secure, order) in [
            (Some(ja4), true, true),
            (None, true, true),
            (None, false, false),
            (Some(ja4), false, true),
        ] {
            let a = req.assess_with(ja4, secure, order);
            assert!(a.signals.is_empty(), "{file}: {a:#?}");
            assert_eq!(a.score, 0);
            assert_eq!(a.cloudflare_score(), 99);
            assert_eq!(a.verdict(), Verdict::Human);
            let claimed = a.claimed.unwrap();
            assert_eq!(
                (claimed.family, claimed.major_version),
                (family, major),
                "{file}"
            );
        }
    }
}

#[test]
fn browser_requests_with_fewer_headers_by_design_raise_nothing() {
    // A Chrome WebSocket handshake has no Accept and no client hints by design.
    let ws = load("chromium-148-navigate.txt")
        .without(&[
            "accept",
            "sec-ch-ua",
            "sec-ch-ua-mobile",
            "sec-ch-ua-platform",
        ])
        .set("Upgrade", "websocket")
        .set("Sec-WebSocket-Version", "13");
    assert!(ws.assess(Some(CHROMIUM_JA4)).signals.is_empty());
    // Chrome on a plain-HTTP origin sends neither client hints nor Sec-Fetch-*.
    let plain = load("chromium-148-navigate.txt").without(&[
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-user",
        "sec-fetch-dest",
    ]);
    assert!(plain.assess_with(None, false, true).signals.is_empty());
    // Chrome over a QUIC connection has its own, smaller cipher list: not judged.
    let quic = load("chromium-148-navigate.txt");
    assert!(
        quic.assess(Some("q13d0312h3_55b375c5d22e_06cda9e17597"))
            .signals
            .is_empty()
    );
}

#[test]
fn ua_missing() {
    let a = load("chromium-148-navigate.txt")
        .without(&["user-agent"])
        .assess(None);
    only(&a, SignalId::UaMissing, "no User-Agent header");
    assert_eq!(a.verdict(), Verdict::Automated);
    assert_eq!(a.cloudflare_score(), 25);
}

#[test]
fn ua_empty() {
    let a = load("curl-7.88.1.txt").set("User-Agent", "  ").assess(None);
    only(&a, SignalId::UaEmpty, "User-Agent header is empty");
}

#[test]
fn ua_scripted_for_each_captured_tool() {
    for (file, ja4, tool) in [
        ("curl-7.88.1.txt", CURL_JA4, "curl"),
        ("python-requests-2.34.2.txt", PYTHON_JA4, "python-requests"),
        ("wget-1.21.3.txt", WGET_JA4, "Wget"),
    ] {
        let a = load(file).assess(Some(ja4));
        only(&a, SignalId::UaScripted, tool);
        assert_eq!(a.claimed, None);
        assert_eq!(a.verdict(), Verdict::Automated);
    }
}

#[test]
fn ua_headless() {
    let a = load("chromium-148-headless-navigate.txt").assess(Some(CHROMIUM_JA4));
    only(&a, SignalId::UaHeadless, "HeadlessChrome");
    assert_eq!(a.claimed.unwrap().engine, Engine::Blink);
    // A stealth setup that fixes the UA but not the brand list.
    let a = load("chromium-148-navigate.txt")
        .set(
            "sec-ch-ua",
            r#""Not/A)Brand";v="99", "HeadlessChrome";v="148""#,
        )
        .assess(Some(CHROMIUM_JA4));
    only(
        &a,
        SignalId::UaHeadless,
        "Sec-CH-UA header names HeadlessChrome",
    );
}

#[test]
fn ua_declared_bot() {
    let a = load("curl-7.88.1.txt")
        .set(
            "User-Agent",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        )
        .assess(None);
    only(&a, SignalId::UaDeclaredBot, "crawler or bot");
}

#[test]
fn ua_truncated() {
    let a = load("curl-7.88.1.txt")
        .set("User-Agent", "Mozilla/5.0")
        .assess(None);
    only(&a, SignalId::UaTruncated, "lacks the platform");
}

#[test]
fn ua_not_browser() {
    let a = load("curl-7.88.1.txt")
        .set("User-Agent", "AcmeSync/4.2 (+support@acme.test)")
        .assess(None);
    // "+" followed by an address is not "+http": not a declared crawler, just not a browser.
    only(&a, SignalId::UaNotBrowser, "not a web browser's");
    assert_eq!(a.verdict(), Verdict::Suspicious);
}

#[test]
fn automation_header() {
    let a = load("chromium-148-navigate.txt")
        .set("X-DevTools-Emulate-Network-Conditions-Client-Id", "5F2A")
        .assess(Some(CHROMIUM_JA4));
    only(
        &a,
        SignalId::AutomationHeader,
        "X-DevTools-Emulate-Network-Conditions-Client-Id",
    );
}

#[test]
fn chrome_without_client_hints() {
    let a = load("chromium-148-navigate.txt")
        .without(&["sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform"])
        .assess(Some(CHROMIUM_JA4));
    only(
        &a,
        SignalId::ChromeWithoutClientHints,
        "Your browser says Chrome 148 but did not send Sec-CH-UA",
    );
    assert_eq!(a.verdict(), Verdict::Suspicious);
    // Edge is held to the same rule, under its own name.
    let a = load("edge-131-windows-h2.txt")
        .without(&["sec-ch-ua"])
        .assess(None);
    only(&a, SignalId::ChromeWithoutClientHints, "Edge 131");
}

#[test]
fn client_hints_mismatch() {
    let a = load("chromium-148-navigate.txt")
        .set("User-Agent", CHROME_131_UA)
        .assess(Some(CHROMIUM_JA4));
    only(
        &a,
        SignalId::ClientHintsMismatch,
        "Chrome 131 (Chromium 131) but its Sec-CH-UA header says version 148",
    );
}

#[test]
fn firefox_with_client_hints() {
    let a = load("firefox-esr-153-navigate.txt")
        .set("sec-ch-ua", r#""Not/A)Brand";v="99", "Chromium";v="148""#)
        .assess(Some(FIREFOX_JA4));
    only(&a, SignalId::FirefoxWithClientHints, "Firefox 153");
}

#[test]
fn safari_with_client_hints() {
    let a = load("safari-26.0.1-macos-h2.txt")
        .set("sec-ch-ua", r#""Not/A)Brand";v="99", "Chromium";v="148""#)
        .assess(Some(SAFARI_JA4));
    only(&a, SignalId::SafariWithClientHints, "Safari 26");
}

#[test]
fn navigation_without_sec_fetch() {
    let a = load("chromium-148-navigate.txt")
        .without(&[
            "sec-fetch-site",
            "sec-fetch-mode",
            "sec-fetch-user",
            "sec-fetch-dest",
        ])
        .assess(Some(CHROMIUM_JA4));
    only(&a, SignalId::NavigationWithoutSecFetch, "Sec-Fetch-Site");
    // The same for Firefox.
    let a = load("firefox-esr-153-navigate.txt")
        .without(&["sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"])
        .assess(Some(FIREFOX_JA4));
    only(&a, SignalId::NavigationWithoutSecFetch, "Firefox 153");
    // A fetch() is not a page load: Sec-Fetch-* is not required there by this check.
    let a = load("chromium-148-fetch.txt")
        .without(&["sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"])
        .assess(Some(CHROMIUM_JA4));
    assert!(a.signals.is_empty(), "{a:#?}");
}

#[test]
fn browser_without_accept_language() {
    let a = load("firefox-esr-153-fetch.txt")
        .without(&["accept-language"])
        .assess(Some(FIREFOX_JA4));
    only(
        &a,
        SignalId::BrowserWithoutAcceptLanguage,
        "Accept-Language",
    );
}

#[test]
fn browser_without_accept() {
    let a = load("chromium-148-fetch.txt")
        .without(&["accept"])
        .assess(Some(CHROMIUM_JA4));
    only(&a, SignalId::BrowserWithoutAccept, "Accept header");
}

#[test]
fn header_order_mismatch() {
    // Firefox's Accept-Language and Accept-Encoding swapped.
    let mut req = load("firefox-esr-153-navigate.txt");
    let lang = req
        .headers
        .iter()
        .position(|(n, _)| n == "Accept-Language")
        .unwrap();
    req.headers.swap(lang, lang + 1);
    let a = req.assess(Some(FIREFOX_JA4));
    only(
        &a,
        SignalId::HeaderOrderMismatch,
        "sent Accept-Encoding before Accept-Language",
    );
    // Order is judged only when known and only over HTTP/1.1.
    assert!(
        req.assess_with(Some(FIREFOX_JA4), true, false)
            .signals
            .is_empty()
    );
    // Host must come first for Chromium.
    let mut req = load("chromium-148-navigate.txt");
    req.headers.rotate_left(1);
    let a = req.assess(Some(CHROMIUM_JA4));
    only(&a, SignalId::HeaderOrderMismatch, "before Host");
}

#[test]
fn ua_tls_mismatch() {
    let a = load("chromium-148-navigate.txt").assess(Some(CURL_JA4));
    only(
        &a,
        SignalId::UaTlsMismatch,
        "says Chrome 148, but the encrypted connection was opened by OpenSSL's default settings",
    );
    let a = load("firefox-esr-153-navigate.txt").assess(Some(PYTHON_JA4));
    only(&a, SignalId::UaTlsMismatch, "Python's ssl module");
    let a = load("safari-18.4-ios-h2.txt").assess(Some(WGET_JA4));
    only(&a, SignalId::UaTlsMismatch, "GnuTLS");
    // An unknown stack is described by what its JA4 shows.
    let a = load("chromium-148-navigate.txt").assess(Some("t12d4605h2_85626a9a5f7f_aaf95bb78ec9"));
    only(&a, SignalId::UaTlsMismatch, "TLS 12, 46 cipher suites");
    // Chrome's and Firefox's handshakes are not mixed up with each other's: both are browsers.
    assert!(
        load("chromium-148-navigate.txt")
            .assess(Some(FIREFOX_JA4))
            .signals
            .is_empty()
    );
}

#[test]
fn tools_posing_as_chrome_are_automated() {
    // curl -A "<Chrome UA>", as captured, over curl's handshake.
    let a = load("curl-7.88.1.txt")
        .set("User-Agent", CHROME_131_UA)
        .assess(Some(CURL_JA4));
    assert_eq!(
        ids(&a),
        vec![
            "chrome_without_client_hints",
            "ua_tls_mismatch",
            "browser_without_accept_language"
        ]
    );
    assert_eq!(a.score, 84);
    assert_eq!(a.verdict(), Verdict::Automated);
    assert_eq!(a.primary().unwrap().id, SignalId::ChromeWithoutClientHints);
    // python-requests with a Chrome UA: its own header order gives it away too.
    let a = load("python-requests-2.34.2.txt")
        .set("User-Agent", CHROME_131_UA)
        .assess(Some(PYTHON_JA4));
    assert_eq!(
        ids(&a),
        vec![
            "chrome_without_client_hints",
            "ua_tls_mismatch",
            "browser_without_accept_language",
            "header_order_mismatch"
        ]
    );
    assert!(a.has(SignalId::HeaderOrderMismatch));
    assert_eq!(a.verdict(), Verdict::Automated);
    assert!(a.cloudflare_score() < 30);
}

#[test]
fn every_signal_is_exercised_here() {
    // Keep this file in step with the catalogue: each id must appear in a test above.
    let source = include_str!("signals.rs");
    for id in SignalId::ALL {
        let variant = format!("SignalId::{id:?}");
        assert!(source.contains(&variant), "no test names {variant}");
    }
}
