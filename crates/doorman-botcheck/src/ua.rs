//! What a User-Agent string claims to be.
//!
//! The checks compare what a request *says* it is with what it *does*, so they need the claim in
//! a usable form: a browser family, its major version and its engine. Only the standard shapes
//! of the mainstream browsers' User-Agents are recognised as claims, deliberately: a
//! Chromium-based browser that adds its own token (Samsung Internet, Yandex, an Android WebView)
//! is not a "Chrome" claim, so none of the Chrome-specific expectations are held against it.
//! False negatives here are cheap; false positives block people.
//!
//! The same module recognises the User-Agents of scripting tools, headless browsers and
//! self-declared crawlers.

use std::fmt;

/// A browser family a User-Agent can claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BrowserFamily {
    /// Google Chrome or Chromium (including Brave and others that send Chrome's exact UA).
    Chrome,
    /// Microsoft Edge (`Edg/`, `EdgA/`, `EdgiOS/`).
    Edge,
    /// Opera (`OPR/`, `OPiOS/`).
    Opera,
    /// Mozilla Firefox (`Firefox/`, `FxiOS/`).
    Firefox,
    /// Apple Safari.
    Safari,
}

impl BrowserFamily {
    /// The family's name as people know it.
    pub fn name(self) -> &'static str {
        match self {
            BrowserFamily::Chrome => "Chrome",
            BrowserFamily::Edge => "Edge",
            BrowserFamily::Opera => "Opera",
            BrowserFamily::Firefox => "Firefox",
            BrowserFamily::Safari => "Safari",
        }
    }
}

/// The rendering engine behind a claim; on iOS every browser uses WebKit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// Chromium's engine: sends client hints (`Sec-CH-UA`).
    Blink,
    /// Firefox's engine.
    Gecko,
    /// Safari's engine, and every browser's on iOS.
    WebKit,
}

/// The browser a User-Agent claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimedBrowser {
    /// Which browser.
    pub family: BrowserFamily,
    /// Its major version as the UA states it (Opera's own numbering for Opera).
    pub major_version: u32,
    /// The engine that produces the requests.
    pub engine: Engine,
    /// Whether the UA is a phone or tablet one.
    pub mobile: bool,
}

impl fmt::Display for ClaimedBrowser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.family.name(), self.major_version)
    }
}

/// A User-Agent split into product tokens (`Name/version`, or a bare word such as `Mobile`) and
/// parenthesised comments.
struct Parsed<'a> {
    products: Vec<(&'a str, &'a str)>,
    comments: Vec<&'a str>,
}

fn split(ua: &str) -> Parsed<'_> {
    let mut products = Vec::new();
    let mut comments = Vec::new();
    let mut rest = ua.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('(') {
            let end = after.find(')').unwrap_or(after.len());
            comments.push(&after[..end]);
            rest = after.get(end + 1..).unwrap_or("").trim_start();
        } else {
            let end = rest.find([' ', '(']).unwrap_or(rest.len());
            let token = &rest[..end];
            let (name, version) = token.split_once('/').unwrap_or((token, ""));
            products.push((name, version));
            rest = rest[end..].trim_start();
        }
    }
    Parsed { products, comments }
}

/// The leading decimal number of a version such as `131.0.6778.86`.
fn major(version: &str) -> Option<u32> {
    let digits = version.split(['.', '_']).next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The major version of a product token, e.g. `product_major(ua, "Chrome")`.
pub(crate) fn product_major(ua: &str, product: &str) -> Option<u32> {
    split(ua)
        .products
        .iter()
        .find(|(name, _)| *name == product)
        .and_then(|(_, v)| major(v))
}

/// The browser a User-Agent claims to be, when it has the standard shape of a mainstream
/// browser's User-Agent; `None` otherwise (tools, crawlers, webviews, less common browsers).
pub fn claimed_browser(ua: &str) -> Option<ClaimedBrowser> {
    let p = split(ua);
    let (&(first, first_version), rest) = p.products.split_first()?;
    if first != "Mozilla" || first_version != "5.0" {
        return None;
    }
    let platform = *p.comments.first()?;
    let names: Vec<&str> = rest.iter().map(|(n, _)| *n).collect();
    let version_of = |name: &str| {
        rest.iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| major(v))
    };
    let ios = ["iPhone", "iPad", "iPod"]
        .iter()
        .any(|d| platform.contains(d));
    let mobile = ios || platform.contains("Android") || names.contains(&"Mobile");
    let claim = |family, major_version: Option<u32>, engine| {
        major_version.map(|major_version| ClaimedBrowser {
            family,
            major_version,
            engine,
            mobile,
        })
    };

    if ios {
        // Every iOS browser is WebKit with its own token in place of Version/.
        let known: &[(&str, BrowserFamily)] = &[
            ("CriOS", BrowserFamily::Chrome),
            ("FxiOS", BrowserFamily::Firefox),
            ("EdgiOS", BrowserFamily::Edge),
            ("OPiOS", BrowserFamily::Opera),
        ];
        for (token, family) in known {
            if names.first() == Some(&"AppleWebKit") && names.contains(token) {
                return claim(*family, version_of(token), Engine::WebKit);
            }
        }
        if names == ["AppleWebKit", "Version", "Mobile", "Safari"] {
            return claim(BrowserFamily::Safari, version_of("Version"), Engine::WebKit);
        }
        return None;
    }

    // Chromium's fixed shape; the platform comment must not mark an Android WebView.
    let chromium_core = |tail: &[&str]| {
        let mut expected: Vec<&str> = vec!["AppleWebKit", "Chrome"];
        if names.contains(&"Mobile") {
            expected.push("Mobile");
        }
        expected.push("Safari");
        expected.extend_from_slice(tail);
        let mut actual = names.clone();
        if let Some(slot) = actual.iter_mut().find(|n| **n == "HeadlessChrome") {
            *slot = "Chrome";
        }
        actual == expected && p.comments.len() == 2 && !platform.contains("; wv")
    };
    let chrome_version = version_of("Chrome").or_else(|| version_of("HeadlessChrome"));
    if chromium_core(&[]) {
        return claim(BrowserFamily::Chrome, chrome_version, Engine::Blink);
    }
    for edge in ["Edg", "EdgA"] {
        if chromium_core(&[edge]) {
            return claim(BrowserFamily::Edge, version_of(edge), Engine::Blink);
        }
    }
    if chromium_core(&["OPR"]) {
        return claim(BrowserFamily::Opera, version_of("OPR"), Engine::Blink);
    }
    if names == ["Gecko", "Firefox"] && platform.contains("rv:") {
        return claim(BrowserFamily::Firefox, version_of("Firefox"), Engine::Gecko);
    }
    if names == ["AppleWebKit", "Version", "Safari"] && platform.starts_with("Macintosh") {
        return claim(BrowserFamily::Safari, version_of("Version"), Engine::WebKit);
    }
    None
}

/// Command-line tools and HTTP libraries, by the start of their User-Agent (lowercase), with
/// the name shown to the person blocked.
const TOOLS: &[(&str, &str)] = &[
    ("curl/", "curl"),
    ("wget/", "Wget"),
    ("python-requests/", "python-requests"),
    ("python-urllib/", "Python urllib"),
    ("python-httpx/", "HTTPX (Python)"),
    ("python/", "Python"),
    ("aiohttp/", "aiohttp (Python)"),
    ("go-http-client/", "Go's net/http"),
    ("okhttp/", "OkHttp"),
    ("java/", "Java"),
    ("apache-httpclient/", "Apache HttpClient"),
    ("libwww-perl/", "libwww-perl"),
    ("lwp::simple/", "libwww-perl"),
    ("node-fetch", "node-fetch"),
    ("node", "Node.js"),
    ("undici", "Node.js (undici)"),
    ("axios/", "axios"),
    ("postmanruntime/", "Postman"),
    ("insomnia/", "Insomnia"),
    ("httpie/", "HTTPie"),
    ("scrapy/", "Scrapy"),
    ("ruby", "Ruby"),
    ("faraday", "Faraday (Ruby)"),
    ("dart/", "Dart"),
    ("reqwest/", "reqwest (Rust)"),
    ("guzzlehttp/", "Guzzle (PHP)"),
    ("php/", "PHP"),
    ("powershell/", "PowerShell"),
    ("winhttp", "WinHTTP"),
    ("libcurl", "libcurl"),
];

/// The tool a User-Agent names, if it is one of the well-known scripting tools or libraries.
pub(crate) fn scripted_tool(ua: &str) -> Option<&'static str> {
    let lower = ua.trim().to_ascii_lowercase();
    if lower.contains("windowspowershell/") {
        // PowerShell's Invoke-WebRequest wraps its token in a Mozilla-style UA.
        return Some("PowerShell");
    }
    TOOLS
        .iter()
        .find(|(prefix, _)| lower.starts_with(prefix))
        .map(|(_, name)| *name)
}

/// The headless-browser marker in a User-Agent, if any.
pub(crate) fn headless_marker(ua: &str) -> Option<&'static str> {
    const MARKERS: &[&str] = &["HeadlessChrome", "PhantomJS", "SlimerJS", "HtmlUnit"];
    MARKERS.iter().copied().find(|m| ua.contains(m))
}

/// Whether a User-Agent declares itself a crawler or bot (they usually say so and link to a
/// page about themselves).
pub(crate) fn declared_bot(ua: &str) -> bool {
    let lower = ua.to_ascii_lowercase();
    // "bot/" and "bot;" rather than "bot": phone models such as "CUBOT" contain the letters.
    [
        "bot/", "bot;", "bot)", "crawler", "spider", "+http", "slurp",
    ]
    .iter()
    .any(|m| lower.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(ua: &str) -> Option<(BrowserFamily, u32, Engine)> {
        claimed_browser(ua).map(|c| (c.family, c.major_version, c.engine))
    }

    #[test]
    fn mainstream_user_agents_are_claims() {
        use BrowserFamily::*;
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                (Chrome, 131, Engine::Blink),
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                (Chrome, 131, Engine::Blink),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                (Edge, 131, Engine::Blink),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
                (Opera, 115, Engine::Blink),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0",
                (Firefox, 153, Engine::Gecko),
            ),
            (
                "Mozilla/5.0 (Android 14; Mobile; rv:131.0) Gecko/131.0 Firefox/131.0",
                (Firefox, 131, Engine::Gecko),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0.1 Safari/605.1.15",
                (Safari, 26, Engine::WebKit),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Mobile/15E148 Safari/604.1",
                (Safari, 18, Engine::WebKit),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
                (Chrome, 120, Engine::WebKit),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/148.0.0.0 Safari/537.36",
                (Chrome, 148, Engine::Blink),
            ),
        ];
        for (ua, want) in cases {
            assert_eq!(claim(ua), Some(want), "{ua}");
        }
    }

    #[test]
    fn other_shapes_claim_nothing() {
        for ua in [
            "",
            "curl/7.88.1",
            "Mozilla/5.0",
            // Android WebView, Samsung Internet, Googlebot: Chromium inside, but not a Chrome claim.
            "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36",
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/131.0.6778.204 Safari/537.36",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/abc Safari/537.36",
        ] {
            assert_eq!(claim(ua), None, "{ua}");
        }
    }

    #[test]
    fn tools_headless_and_bots() {
        assert_eq!(scripted_tool("curl/8.5.0"), Some("curl"));
        assert_eq!(
            scripted_tool("python-requests/2.34.2"),
            Some("python-requests")
        );
        assert_eq!(scripted_tool("Go-http-client/2.0"), Some("Go's net/http"));
        assert_eq!(
            scripted_tool(
                "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506"
            ),
            Some("PowerShell")
        );
        assert_eq!(
            scripted_tool("Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"),
            None
        );
        assert_eq!(
            headless_marker(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/148.0.0.0 Safari/537.36"
            ),
            Some("HeadlessChrome")
        );
        assert!(declared_bot(
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
        ));
        assert!(!declared_bot(
            "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
        ));
    }
}
