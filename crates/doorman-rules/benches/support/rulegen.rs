//! A deterministic 1,000-rule ruleset and a typical request, shared by the criterion bench in
//! this crate and by bench/rules-compare (which includes this file by path).
//!
//! The mix follows what a gateway policy looks like: about 30% IP sets, 25% host/path
//! comparisons, 20% header lookups, 5% regexes, 20% compound rules. Almost no rule matches
//! the request, so every rule is evaluated (the worst case for first-match evaluation).

#![allow(dead_code)]

/// One generated rule: its expression, and whether wirefilter-engine 0.6.1 can express it
/// (no functions, arrays or maps there).
pub struct GenRule {
    pub expr: String,
    pub wirefilter: bool,
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn octets(&mut self) -> [u64; 4] {
        // First octet 10, 100, 172 or 198: never the request's 203.0.113.77.
        let first = [10, 100, 172, 198][self.below(4) as usize];
        [first, self.below(256), self.below(256), self.below(256)]
    }
    fn ip4(&mut self) -> String {
        let [a, b, c, d] = self.octets();
        format!("{a}.{b}.{c}.{d}")
    }
    /// A CIDR with its host bits cleared (wirefilter 0.6.1 rejects set host bits).
    fn cidr4(&mut self, len: u32) -> String {
        let [a, b, c, _] = self.octets();
        if len == 24 {
            format!("{a}.{b}.{c}.0/24")
        } else {
            format!("{a}.{b}.0.0/16")
        }
    }
}

pub fn rules() -> Vec<GenRule> {
    let mut r = Lcg(42);
    let mut out = Vec::with_capacity(1000);
    for i in 0..1000u64 {
        let (expr, wirefilter) = match i % 20 {
            // 6/20 = 30%: IP sets.
            0..=5 => {
                let n = 1 + r.below(8);
                let mut elems = Vec::new();
                for _ in 0..n {
                    elems.push(match r.below(4) {
                        0 => r.ip4(),
                        1 => r.cidr4(24),
                        2 => r.cidr4(16),
                        _ => format!("2001:db8:{:x}::/48", r.below(65536)),
                    });
                }
                let neg = if i % 7 == 0 { "not " } else { "" };
                let extra = if neg.is_empty() {
                    String::new()
                } else {
                    " and ip.src in {0.0.0.0/0 ::/0} and http.host eq \"never.example\"".into()
                };
                (
                    format!("{neg}ip.src in {{{}}}{extra}", elems.join(" ")),
                    true,
                )
            }
            // 5/20 = 25%: host and path.
            6..=10 => match r.below(6) {
                0 => (format!("http.host eq \"host{i}.example.com\""), true),
                1 => (format!("http.request.uri.path eq \"/path/{i}\""), true),
                2 => (format!("http.request.uri.path contains \"/seg{i}/\""), true),
                3 => (
                    format!("http.host in {{\"a{i}.example\" \"b{i}.example\" \"c{i}.example\"}}"),
                    true,
                ),
                4 => (
                    format!("starts_with(http.request.uri.path, \"/prefix{i}/\")"),
                    false,
                ),
                _ => (
                    format!("lower(http.host) eq \"upper{i}.example.com\""),
                    false,
                ),
            },
            // 4/20 = 20%: header lookups.
            11..=14 => match r.below(4) {
                0 => (
                    format!("any(http.request.headers[\"x-header-{i}\"][*] eq \"v\")"),
                    false,
                ),
                1 => (
                    format!("http.request.headers[\"accept\"][0] contains \"type{i}\""),
                    false,
                ),
                2 => (
                    format!("any(http.request.headers[\"user-agent\"][*] contains \"bot{i}\")"),
                    false,
                ),
                _ => (
                    format!("len(http.request.headers[\"cookie\"]) gt {}", 5 + i % 3),
                    false,
                ),
            },
            // 1/20 = 5%: regexes.
            15 => match r.below(2) {
                0 => (
                    format!("http.request.uri.path matches \"^/api/v[0-9]+/item{i}/.*\\\\.php$\""),
                    true,
                ),
                _ => (format!("http.user_agent matches \"(?i)crawler{i}\""), true),
            },
            // 4/20 = 20%: compound rules.
            _ => match r.below(5) {
                0 => (
                    format!("http.request.method eq \"POST\" and http.host eq \"h{i}.example\""),
                    true,
                ),
                1 => (
                    format!(
                        "ip.src.country in {{\"KP\" \"SY\" \"C{}\"}} and cf.bot_management.score lt 30",
                        i % 10
                    ),
                    true,
                ),
                2 => (
                    format!("ip.src.asnum in {{{} {}}}", 64000 + i, 65000 + i),
                    true,
                ),
                3 => (
                    format!("not ssl and http.request.uri.path eq \"/login{i}\""),
                    true,
                ),
                _ => (
                    format!(
                        "http.cookie contains \"session={i}\" or (http.request.method eq \"DELETE\" and http.host eq \"x{i}\")"
                    ),
                    true,
                ),
            },
        };
        out.push(GenRule { expr, wirefilter });
    }
    out
}

/// The request every rule is evaluated against.
pub struct Request {
    pub method: String,
    pub host: String,
    pub path: String,
    pub query: String,
    pub user_agent: String,
    pub cookie: String,
    /// Lowercase names, as the gateway stores them.
    pub headers: Vec<(String, String)>,
    pub ip: std::net::IpAddr,
    pub country: String,
    pub asn: i64,
    pub bot_score: i64,
    pub ssl: bool,
}

pub fn request() -> Request {
    let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
    let cookie = "session=abcdef0123456789; theme=dark; consent=yes";
    let headers = [
        ("host", "www.example.com"),
        ("user-agent", ua),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-US,en;q=0.5"),
        ("accept-encoding", "gzip, deflate, br"),
        ("referer", "https://www.example.com/"),
        ("cookie", cookie),
        ("upgrade-insecure-requests", "1"),
        ("sec-fetch-dest", "document"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-site", "same-origin"),
        ("x-forwarded-proto", "https"),
    ];
    Request {
        method: "GET".into(),
        host: "www.example.com".into(),
        path: "/products/item42/details".into(),
        query: "color=red&size=m".into(),
        user_agent: ua.into(),
        cookie: cookie.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ip: "203.0.113.77".parse().unwrap(),
        country: "US".into(),
        asn: 64500,
        bot_score: 80,
        ssl: true,
    }
}
