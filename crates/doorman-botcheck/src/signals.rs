//! The catalogue of signals: stable ids, weights, meanings and remedies.
//!
//! Ids are part of Doorman's interface (rules name them, events record them, docs/botcheck.md
//! lists them): never rename one; add new ones instead. The weight is the signal's evidence that
//! the request is automated, 0 to 100; [`crate::assess()`] combines weights into a score.
//!
//! Explanations are written to the person who is blocked: what their browser or client did, in
//! plain words, and what to try. They never accuse; most mismatches come from extensions, privacy
//! tools or proxies rather than from bots pretending.

use std::fmt;

/// A signal's stable identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignalId {
    /// No User-Agent header.
    UaMissing,
    /// A User-Agent header that is empty or only spaces.
    UaEmpty,
    /// A User-Agent naming a command-line tool or HTTP library (curl, python-requests, …).
    UaScripted,
    /// A headless-browser marker (`HeadlessChrome`, PhantomJS, …) in the UA or client hints.
    UaHeadless,
    /// A User-Agent declaring a crawler or bot.
    UaDeclaredBot,
    /// A User-Agent that starts like a browser's (`Mozilla/`) but has no platform details.
    UaTruncated,
    /// A User-Agent of some other program, not a browser's.
    UaNotBrowser,
    /// A header that only browser-automation tooling adds (WebDriver, Selenium, DevTools, …).
    AutomationHeader,
    /// A Chromium-based browser (Chrome, Edge, Opera ≥ 90) that sent no `Sec-CH-UA`.
    ChromeWithoutClientHints,
    /// `Sec-CH-UA` versions that disagree with the User-Agent's.
    ClientHintsMismatch,
    /// A Firefox User-Agent with Chromium's client hints.
    FirefoxWithClientHints,
    /// A Safari (or any iOS browser) User-Agent with Chromium's client hints.
    SafariWithClientHints,
    /// A page load from Chrome/Edge/Opera ≥ 80 or Firefox ≥ 90 without `Sec-Fetch-*` headers.
    NavigationWithoutSecFetch,
    /// A browser request without `Accept-Language`.
    BrowserWithoutAcceptLanguage,
    /// A browser request without `Accept`.
    BrowserWithoutAccept,
    /// HTTP/1.1 headers in an order the claimed browser never uses.
    HeaderOrderMismatch,
    /// A TLS handshake (JA4) that does not look like the claimed browser's.
    UaTlsMismatch,
}

impl SignalId {
    /// Every signal, in the order of this catalogue.
    pub const ALL: [SignalId; 17] = [
        SignalId::UaMissing,
        SignalId::UaEmpty,
        SignalId::UaScripted,
        SignalId::UaHeadless,
        SignalId::UaDeclaredBot,
        SignalId::UaTruncated,
        SignalId::UaNotBrowser,
        SignalId::AutomationHeader,
        SignalId::ChromeWithoutClientHints,
        SignalId::ClientHintsMismatch,
        SignalId::FirefoxWithClientHints,
        SignalId::SafariWithClientHints,
        SignalId::NavigationWithoutSecFetch,
        SignalId::BrowserWithoutAcceptLanguage,
        SignalId::BrowserWithoutAccept,
        SignalId::HeaderOrderMismatch,
        SignalId::UaTlsMismatch,
    ];

    /// The stable id, as rules and events spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalId::UaMissing => "ua_missing",
            SignalId::UaEmpty => "ua_empty",
            SignalId::UaScripted => "ua_scripted",
            SignalId::UaHeadless => "ua_headless",
            SignalId::UaDeclaredBot => "ua_declared_bot",
            SignalId::UaTruncated => "ua_truncated",
            SignalId::UaNotBrowser => "ua_not_browser",
            SignalId::AutomationHeader => "automation_header",
            SignalId::ChromeWithoutClientHints => "chrome_without_client_hints",
            SignalId::ClientHintsMismatch => "client_hints_mismatch",
            SignalId::FirefoxWithClientHints => "firefox_with_client_hints",
            SignalId::SafariWithClientHints => "safari_with_client_hints",
            SignalId::NavigationWithoutSecFetch => "navigation_without_sec_fetch",
            SignalId::BrowserWithoutAcceptLanguage => "browser_without_accept_language",
            SignalId::BrowserWithoutAccept => "browser_without_accept",
            SignalId::HeaderOrderMismatch => "header_order_mismatch",
            SignalId::UaTlsMismatch => "ua_tls_mismatch",
        }
    }

    /// The signal with this id, for configuration and rules.
    pub fn parse(id: &str) -> Option<SignalId> {
        SignalId::ALL.into_iter().find(|s| s.as_str() == id)
    }

    /// Evidence of automation, 0–100. Identity signals (the client says it is a tool) weigh
    /// most; a single missing or odd header weighs under half, because extensions and privacy
    /// tools cause those for real people.
    pub fn weight(self) -> u8 {
        match self {
            SignalId::UaHeadless => 95,
            SignalId::UaScripted | SignalId::AutomationHeader => 90,
            SignalId::UaDeclaredBot => 85,
            SignalId::UaMissing | SignalId::UaEmpty => 75,
            SignalId::UaTruncated
            | SignalId::FirefoxWithClientHints
            | SignalId::SafariWithClientHints => 60,
            SignalId::ChromeWithoutClientHints | SignalId::UaTlsMismatch => 50,
            SignalId::ClientHintsMismatch => 45,
            SignalId::UaNotBrowser | SignalId::NavigationWithoutSecFetch => 40,
            SignalId::BrowserWithoutAcceptLanguage | SignalId::HeaderOrderMismatch => 35,
            SignalId::BrowserWithoutAccept => 30,
        }
    }

    /// What the person blocked can do about it.
    pub fn remedy(self) -> &'static str {
        match self {
            SignalId::UaMissing | SignalId::UaEmpty => {
                "Open the page in a regular web browser. If you are running a script or an API \
                 client, give it a User-Agent that names it and ask the site owner for API access."
            }
            SignalId::UaScripted | SignalId::UaNotBrowser => {
                "This page is meant for web browsers. For automated access, ask the site owner for \
                 API access (for example an API key) rather than copying a browser's User-Agent."
            }
            SignalId::UaHeadless | SignalId::AutomationHeader => {
                "Open the page in a normal browser window with no automation or remote-control \
                 tooling attached. If you run automation legitimately, ask the site owner to allow it."
            }
            SignalId::UaDeclaredBot => {
                "Crawlers are not allowed here. If you operate this crawler, ask the site owner \
                 to allow it."
            }
            SignalId::UaTruncated
            | SignalId::ChromeWithoutClientHints
            | SignalId::ClientHintsMismatch
            | SignalId::FirefoxWithClientHints
            | SignalId::SafariWithClientHints => {
                "An extension or privacy tool may be rewriting your browser's headers (User-Agent \
                 switchers often do). Try a private window without extensions, or turn that \
                 extension off for this site."
            }
            SignalId::NavigationWithoutSecFetch
            | SignalId::BrowserWithoutAcceptLanguage
            | SignalId::BrowserWithoutAccept => {
                "Something between your browser and this site removed headers browsers always \
                 send: an extension, a privacy tool or a proxy. Try a private window without \
                 extensions, or another network."
            }
            SignalId::HeaderOrderMismatch => {
                "A proxy or security tool may be rebuilding your requests; try without it. If you \
                 are using a program that copies a browser's User-Agent, use the browser itself."
            }
            SignalId::UaTlsMismatch => {
                "If a company proxy or antivirus inspects your HTTPS traffic, it opens connections \
                 on your browser's behalf: ask whoever runs it to exempt this site. Otherwise use \
                 the browser itself rather than a program that copies its User-Agent."
            }
        }
    }
}

impl fmt::Display for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One observed signal, with the words for the person it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// Which signal.
    pub id: SignalId,
    /// Its weight (the catalogue's, copied so events keep it).
    pub weight: u8,
    /// What was observed, in plain words addressed to the person ("your browser says …").
    pub explanation: String,
    /// What they can try.
    pub remedy: &'static str,
}

impl Signal {
    pub(crate) fn new(id: SignalId, explanation: String) -> Signal {
        Signal {
            id,
            weight: id.weight(),
            explanation,
            remedy: id.remedy(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_parse_back() {
        for (i, a) in SignalId::ALL.iter().enumerate() {
            assert_eq!(SignalId::parse(a.as_str()), Some(*a));
            for b in &SignalId::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
            assert!(a.weight() > 0 && a.weight() < 100);
        }
        assert_eq!(SignalId::parse("nope"), None);
    }
}
