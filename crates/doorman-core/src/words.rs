//! What a receipt says it saw, in words a person reads. A rule matches on fields
//! (`http.request.uri.path`, `ip.src.asnum`); the person denied should read "Path: /plugins/weather"
//! and "Network: AS9009 (M247 Europe SRL)". The fields and their raw values stay in the receipt's
//! private facts, for `doorman explain`.
//!
//! Only fields with a plain meaning are put into words; the rest stay private (the reason and the
//! rule's title already say what happened). Nothing secret is repeated: a cookie is named, never
//! its value; the client's IP is on every receipt already.

use crate::facts::RequestFacts;
use crate::fields::ClientIpFacts;
use crate::firewall::IpClass;

/// The longest value a fact shows; longer ones end in "…".
const MAX_VALUE: usize = 120;

/// A matched condition's field and value (as the rules language wrote it), in words: `None` for
/// fields that say nothing a person can act on.
pub fn seen_in_words(
    subject: &str,
    seen: &str,
    facts: &RequestFacts<'_>,
    ip: &ClientIpFacts<'_>,
) -> Option<(String, String)> {
    let subject = subject.trim();
    let label_value = |label: &str, value: &str| Some((label.to_owned(), shorten(value)));
    match subject {
        "http.request.uri.path" => label_value("Path", facts.path()),
        "raw.http.request.uri.path" => label_value("Path as sent", facts.uri.path()),
        "http.request.uri" | "http.request.full_uri" => {
            label_value("Address", &facts.path_and_query())
        }
        "raw.http.request.uri" | "raw.http.request.full_uri" => label_value(
            "Address as sent",
            facts.uri.path_and_query().map_or("/", |p| p.as_str()),
        ),
        "http.request.uri.query" | "raw.http.request.uri.query" => {
            label_value("Query", facts.uri.query().unwrap_or(""))
        }
        "http.request.uri.path.extension" | "raw.http.request.uri.path.extension" => {
            label_value("File type", &unquote(seen))
        }
        "http.host" => label_value("Site", &facts.host),
        "http.request.method" => label_value("Method", facts.method.as_str()),
        "http.user_agent" => label_value("Browser (User-Agent)", facts.user_agent()),
        "http.referer" => label_value("Came from", facts.header("referer").unwrap_or("")),
        "http.request.version" => label_value("HTTP version", &unquote(seen)),
        "ip.src.asnum" | "ip.geoip.asnum" => {
            network_words(ip).and_then(|n| label_value("Network", &n))
        }
        "ip.src.country" | "ip.geoip.country" => {
            country_words(ip).and_then(|c| label_value("Country", &c))
        }
        "ip.src.continent" | "ip.geoip.continent" => label_value("Continent", &unquote(seen)),
        "cf.bot_management.score" | "doorman.bot.score" | "cf.bot_score" => {
            label_value("Bot score (1 = automated, 99 = a person)", seen)
        }
        "doorman.tls.ja4" | "cf.bot_management.ja4" | "cf.bot_management.ja3_hash" => {
            label_value("TLS fingerprint", &unquote(seen))
        }
        _ => {
            if let Some(name) = header_name(subject) {
                if name.eq_ignore_ascii_case("cookie") || name.eq_ignore_ascii_case("authorization")
                {
                    return Some(("Header".into(), name.to_ascii_lowercase()));
                }
                return label_value(
                    &format!("Header {}", name.to_ascii_lowercase()),
                    &unquote(seen),
                );
            }
            if let Some(name) = cookie_name(subject) {
                return Some(("Cookie".into(), name.to_owned()));
            }
            None
        }
    }
}

/// A condition that is a field standing alone (`doorman.ip.vpn`), in words.
pub fn flag_in_words(condition: &str, ip: &ClientIpFacts<'_>) -> Option<(String, String)> {
    let class = match condition.trim() {
        "doorman.ip.vpn" => IpClass::Vpn,
        "doorman.ip.tor" => IpClass::Tor,
        "doorman.ip.proxy" => IpClass::Proxy,
        "doorman.ip.hosting" => IpClass::Hosting,
        _ => return None,
    };
    let mut value = class.described().to_owned();
    if let Some(net) = network_words(ip) {
        value = format!("{value}, {net}");
    }
    Some(("Network type".into(), value))
}

/// "AS9009 (M247 Europe SRL)", or "AS9009", or None.
pub fn network_words(ip: &ClientIpFacts<'_>) -> Option<String> {
    let info = ip.info();
    info.asn.map(|asn| match &info.as_org {
        Some(org) => format!("AS{asn} ({org})"),
        None => format!("AS{asn}"),
    })
}

/// "Germany (DE)", "DE", "the Tor network" or None.
pub fn country_words(ip: &ClientIpFacts<'_>) -> Option<String> {
    let info = ip.info();
    let code = info.country.as_deref()?;
    Some(match (code, &info.country_name) {
        ("T1", _) => "the Tor network".to_owned(),
        ("XX", _) => "unknown".to_owned(),
        (_, Some(name)) => format!("{name} ({code})"),
        (_, None) => code.to_owned(),
    })
}

/// `http.request.headers["x-foo"]…` → `x-foo`.
fn header_name(subject: &str) -> Option<&str> {
    let rest = subject
        .strip_prefix("http.request.headers[\"")
        .or_else(|| subject.strip_prefix("raw.http.request.headers[\""))
        .or_else(|| {
            // `any(http.request.headers["x"][*] …)` and other functions around the field.
            subject
                .find("http.request.headers[\"")
                .map(|i| &subject[i + "http.request.headers[\"".len()..])
        })?;
    rest.split('"').next().filter(|n| !n.is_empty())
}

/// `http.request.cookies["session"]…` → `session`.
fn cookie_name(subject: &str) -> Option<&str> {
    let i = subject.find("http.request.cookies[\"")?;
    subject[i + "http.request.cookies[\"".len()..]
        .split('"')
        .next()
        .filter(|n| !n.is_empty())
}

/// A string as the rules language writes it (`"a \"b\""`) back into its text; other values as
/// they are.
pub fn unquote(seen: &str) -> String {
    let Some(inner) = seen.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return seen.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn shorten(value: &str) -> String {
    if value.chars().count() <= MAX_VALUE {
        return value.to_owned();
    }
    let mut out: String = value.chars().take(MAX_VALUE).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings_lose_their_quotes() {
        assert_eq!(unquote("\"/plugins/weather\""), "/plugins/weather");
        assert_eq!(unquote("\"say \\\"hi\\\"\""), "say \"hi\"");
        assert_eq!(unquote("42"), "42");
    }

    #[test]
    fn header_and_cookie_names_are_found() {
        assert_eq!(
            header_name("http.request.headers[\"X-Api\"][0]"),
            Some("X-Api")
        );
        assert_eq!(
            header_name("any(http.request.headers[\"accept\"][*] contains \"x\")"),
            Some("accept")
        );
        assert_eq!(
            cookie_name("http.request.cookies[\"session\"][0]"),
            Some("session")
        );
        assert_eq!(header_name("http.host"), None);
    }

    #[test]
    fn long_values_are_cut() {
        let long = "a".repeat(500);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), MAX_VALUE + 1);
        assert!(short.ends_with('…'));
    }
}
