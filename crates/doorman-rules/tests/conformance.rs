//! Conformance with Cloudflare's published Rules language documentation.
//!
//! Every row names its source: a file of the public `cloudflare/cloudflare-docs` repository
//! (under src/content/docs/ unless the path says otherwise) or, for behaviour the docs state
//! only in prose, the page and section. Rows marked "adapted" wrap a documented *value*
//! expression (for example `cidr(ip.src, 24, 24)` "will return 113.10.0.0") in the comparison
//! the docs state as its result, so that it is a filter expression.
//!
//! All rows go through one helper, `check(expr, fields, expect)`, which runs the same library
//! functions as `doorman rules eval` (a JSON object of field values; absent = missing).

use doorman_rules::cli::{CliError, check_command_with, eval_command_with};
use doorman_rules::{IpRangeSet, Lists};

const OPS: &str = "ruleset-engine/rules-language/operators.mdx";
const VALS: &str = "ruleset-engine/rules-language/values.mdx";
const FUNCS: &str = "ruleset-engine/rules-language/functions.mdx";
const EXPR: &str = "ruleset-engine/rules-language/expressions/index.mdx";
const HDR: &str = "ruleset-engine/rules-language/fields/http-request-header.mdx";
const URI: &str = "ruleset-engine/rules-language/fields/uri.mdx";
const BODY: &str = "ruleset-engine/rules-language/fields/http-request-body.mdx";
const FIELDS: &str = "src/content/fields/index.yaml";
const BOTS: &str = "waf/custom-rules/use-cases/challenge-bad-bots.mdx";
const CSRF: &str = "waf/custom-rules/use-cases/require-specific-headers.mdx";
const AUTODISC: &str = "waf/custom-rules/use-cases/block-ms-exchange-autodiscover.mdx";
const PARTNERS: &str = "waf/custom-rules/use-cases/update-rules-customers-partners.mdx";
const ADMIN: &str = "waf/custom-rules/use-cases/site-admin-only-known-ips.mdx";
const RUDY: &str = "waf/custom-rules/use-cases/stop-rudy-attacks.mdx";
const HOTLINK: &str = "waf/custom-rules/use-cases/exempt-partners-hotlink-protection.mdx";
const JWT: &str = "waf/custom-rules/use-cases/check-jwt-claim-to-protect-admin-user.mdx";
const TOKEN: &str = "waf/custom-rules/use-cases/configure-token-authentication.mdx";
const COOKIE: &str = "waf/custom-rules/use-cases/require-specific-cookie.mdx";
const COUNTRIES: &str = "waf/custom-rules/use-cases/block-traffic-from-specific-countries.mdx";
const PORTS: &str = "waf/custom-rules/use-cases/require-specific-http-ports.mdx";
const GEO: &str = "waf/custom-rules/use-cases/block-by-geographical-location.mdx";
const ALLOWLIST: &str = "waf/custom-rules/use-cases/allow-traffic-from-ips-in-allowlist.mdx";
const THREAT: &str = "waf/custom-rules/use-cases/block-ip-reputation.mdx";
const RL_UC: &str = "waf/rate-limiting-rules/use-cases.mdx";
const RL_BP: &str = "waf/rate-limiting-rules/best-practices.mdx";
const MF: &str = "https://developers.cloudflare.com/magic-firewall/how-to/form-expressions/ (`ip.src == 192.0.2.0/24 # bad`)";
const STD: &str = "ruleset-engine/rules-language/fields/standard-fields.mdx (CIDR only in sets, unlike Wireshark)";
const CHANGELOG: &str = "https://developers.cloudflare.com/changelog/ (2026-10-01 dynamic right-hand side; 2026-10-01 coalesce; 2026-01-22 sha256/encode_base64; 2026-10-02 hash_in_range; API examples use \"expression\": \"true\")";
const WF: &str =
    "shared/research/rules-language.md §1 (wirefilter, measured: the engine Cloudflare publishes)";
const MISSING: &str =
    "src/content/partials/ruleset-engine/rules-language-missing-value-behavior.mdx";
const LIMITS: &str = "src/content/partials/ruleset-engine/max-expression-length.mdx; EXPR 'Maximum regular expressions per rule'";

/// (expression, valid?, source)
const PARSE: &[(&str, bool, &str)] = &[
    // --- operators.mdx: the comparison table, English and C-like notation ---
    (r#"http.request.uri.path eq "/articles/2008/""#, true, OPS),
    (r#"http.request.uri.path == "/articles/2008/""#, true, OPS),
    ("ip.src ne 203.0.113.0", true, OPS),
    ("ip.src != 203.0.113.0", true, OPS),
    ("cf.threat_score lt 10", true, OPS),
    ("cf.threat_score < 10", true, OPS),
    ("cf.threat_score le 20", true, OPS),
    ("cf.threat_score <= 20", true, OPS),
    ("cf.threat_score gt 25", true, OPS),
    ("cf.threat_score > 25", true, OPS),
    ("cf.threat_score ge 60", true, OPS),
    ("cf.threat_score >= 60", true, OPS),
    (r#"http.request.uri.path contains "/articles/""#, true, OPS),
    (
        r#"http.request.uri.path matches "^/articles/200[7-8]/$""#,
        true,
        OPS,
    ),
    (
        r#"http.request.uri.path ~ "^/articles/200[7-8]/$""#,
        true,
        OPS,
    ),
    ("ip.src in { 203.0.113.0 203.0.113.1 }", true, OPS),
    (r#"ends_with(http.request.uri.path, ".html")"#, true, OPS),
    (r#"http.request.uri.path ends_with ".html""#, false, OPS),
    (
        r#"lower(http.request.uri.path) contains "/wp-login.php""#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "https://example.com/a/*""#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "*.example.com/*/page.html""#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "*.example.com/*" or http.request.full_uri wildcard "example.com/*""#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri strict wildcard "https://example.com/a/*""#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "https://example.com/**""#,
        false,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard r"https://example.com/a\*b""#,
        true,
        OPS,
    ),
    (
        r#"not ( http.host eq "www.cloudflare.com" and ip.src in {203.0.113.0/24} )"#,
        true,
        OPS,
    ),
    (
        r#"! ( http.host eq "www.cloudflare.com" && ip.src in {203.0.113.0/24} )"#,
        true,
        OPS,
    ),
    (
        r#"http.host eq "www.cloudflare.com" and ip.src in {203.0.113.0/24}"#,
        true,
        OPS,
    ),
    (
        r#"http.host eq "www.cloudflare.com" xor ip.src in {203.0.113.0/24}"#,
        true,
        OPS,
    ),
    (
        r#"http.host eq "www.cloudflare.com" ^^ ip.src in {203.0.113.0/24}"#,
        true,
        OPS,
    ),
    (
        r#"http.host eq "www.cloudflare.com" or ip.src in {203.0.113.0/24}"#,
        true,
        OPS,
    ),
    (
        r#"http.host eq "www.cloudflare.com" || ip.src in {203.0.113.0/24}"#,
        true,
        OPS,
    ),
    // The OPS table prints this without braces; every other page and the engine require them.
    (
        r#"http.host eq "www.cloudflare.com" or ip.src in 203.0.113.0/24"#,
        false,
        OPS,
    ),
    (
        "(\n (http.host eq \"api.example.com\" and http.request.uri.path eq \"/api/v2/auth\") or\n (http.host matches \"^(www|store|blog)\\.example\\.com\" and http.request.uri.path contains \"wp-login.php\") or\n ip.geoip.country in {\"CN\" \"TH\" \"US\" \"ID\" \"KR\" \"MY\" \"IT\" \"SG\" \"GB\"} or ip.geoip.asnum in {12345 54321 11111}\n) and not ip.src in {11.22.33.0/24}",
        true,
        OPS,
    ),
    (r#"http.host EQ "www.cloudflare.com""#, false, OPS),
    (r#"http.host eq "www.cloudflare.com" AND ssl"#, false, OPS),
    (r#"NOT ssl"#, false, OPS),
    (r#"http.host eq "a" Or ssl"#, false, OPS),
    ("ip.src contains \"203\"", false, OPS),
    ("cf.threat_score contains \"1\"", false, OPS),
    ("ip.src matches \"^203\"", false, OPS),
    ("cf.threat_score matches \"1\"", false, OPS),
    ("(http.host eq \"a\"", false, OPS),
    ("http.host eq \"a\")", false, OPS),
    // --- values.mdx ---
    (r#"http.request.uri.path matches "a\"b""#, true, VALS),
    (r##"http.request.uri.path matches "a\"#b""##, true, VALS),
    (r#"regex_replace(http.host, "a", "\\") eq "x""#, true, VALS),
    (
        r#"regex_replace(http.host, "\\\\", "a") eq "x""#,
        true,
        VALS,
    ),
    (r##"http.request.uri.path matches r#"a"b"#"##, true, VALS),
    (
        r###"http.request.uri.path matches r##"a"#b"##"###,
        true,
        VALS,
    ),
    (r#"regex_replace(http.host, r"\\", "a") eq "x""#, true, VALS),
    (
        r#"http.request.uri.path matches r"/api/login\.aspx$""#,
        true,
        VALS,
    ),
    (
        r#"http.request.uri.path matches r"/api/login\.aspx$"#,
        false,
        VALS,
    ),
    ("ssl", true, VALS),
    ("not ssl", true, VALS),
    (
        r#"http.request.headers.names[0] == "Content-Type""#,
        true,
        VALS,
    ),
    (
        r#"any(http.request.headers.names[*] == "Content-Type")"#,
        true,
        VALS,
    ),
    (
        r#"any(lower(http.request.headers.names[*])[*] == "content-type")"#,
        true,
        VALS,
    ),
    (
        r#"http.request.headers.names[*] == "Content-Type""#,
        false,
        VALS,
    ),
    (
        r#"any(http.request.headers["accept"][*] == "application/json")"#,
        true,
        VALS,
    ),
    (
        r#"any(http.request.headers["accept"][*] == "text/plain")"#,
        true,
        VALS,
    ),
    (
        r#"http.request.headers["accept"][0] == "application/json""#,
        true,
        VALS,
    ),
    (
        r#"http.request.headers["accept"] == "application/json""#,
        false,
        VALS,
    ),
    (
        r#"len(http.request.uri.args["filter"][1]) == 4"#,
        true,
        VALS,
    ),
    (
        r#"all(len(http.request.uri.args["filter"][*])[*] in {3 4})"#,
        true,
        VALS,
    ),
    (
        r#"all(not len(http.request.uri.args["filter"][*])[*] in {3 4})"#,
        true,
        VALS,
    ),
    (r#"len(http.request.uri.args["filter"]) >= 0"#, true, VALS),
    (
        r#"not len(http.request.uri.args["order"]) >= 0"#,
        true,
        VALS,
    ),
    ("(ip.src in $office_network)", true, VALS),
    ("not ip.src in $office_network", true, VALS),
    ("ip.src in $no_such_list", false, VALS),
    ("ip.src in $Office_Network", false, VALS),
    (r#"http.host in {"example.com" "example.net"}"#, true, VALS),
    (
        r#"http.host in {"example.com", "example.net"}"#,
        false,
        VALS,
    ),
    (
        "ip.src in {198.51.100.1 198.51.100.3..198.51.100.7 192.0.2.0/24 2001:0db8::/32}",
        true,
        VALS,
    ),
    ("ip.src in {198.51.100.7..198.51.100.3}", false, VALS),
    ("ip.src in {198.51.100.1..2001:db8::1}", false, VALS),
    ("ip.src in {192.0.2.0/33}", false, VALS),
    ("tcp.dstport in {8000..8009 8080..8089}", true, VALS),
    ("tcp.dstport in {8009..8000}", false, VALS),
    ("http.host in {}", true, VALS),
    // --- functions.mdx ---
    (r#"lower(http.host) == "www.cloudflare.com""#, true, FUNCS),
    (
        r#"any(url_decode(http.request.body.form.values[*])[*] contains "an xss attack")"#,
        true,
        FUNCS,
    ),
    (
        r#"all(http.request.headers["content-type"][*] == "application/json")"#,
        true,
        FUNCS,
    ),
    ("cidr(ip.src, 24, 24) == 113.10.0.0", true, FUNCS),
    ("cidr(ip.src, 33, 24) == 113.10.0.0", false, FUNCS),
    ("cidr(ip.src, 24, 129) == 113.10.0.0", false, FUNCS),
    ("cidr6(ip.src, 24) == 2001::", true, FUNCS),
    (
        r#"concat("String1", " ", "String", "2") == "String1 String2""#,
        true,
        FUNCS,
    ),
    (
        r#"(any(decode_base64(http.request.headers["client_id"][*])[*] eq "123abc"))"#,
        true,
        FUNCS,
    ),
    (
        r#"join(http.request.headers.names, ",") == "a,b""#,
        true,
        FUNCS,
    ),
    (
        r#"join(http.request.headers.names[*], ",") == "a,b""#,
        false,
        FUNCS,
    ),
    ("len(http.host) == 11", true, FUNCS),
    (
        r#"lookup_json_integer(http.request.body.raw, "version") == 2"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_integer(http.request.body.raw, "product", "id") == 356"#,
        true,
        FUNCS,
    ),
    (
        "lookup_json_integer(http.request.body.raw, 1) == -234",
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_integer(http.request.body.raw, "network_ids", 0) == 123"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_integer(http.request.body.raw, 1, "product_id") == 456"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, "company") == "cloudflare""#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, "network", "name") == "cloudflare""#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, 1) == "cloudflare""#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, "networks", 1) == "cloudflare""#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, 1, "network") == "cloudflare""#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw) == "cloudflare""#,
        false,
        FUNCS,
    ),
    (
        r#"regex_replace("/foo/bar", "/bar$", "/baz") == "/foo/baz""#,
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/x", "^/y$", "/mumble") == "/x""#,
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/foo", "^/FOO$", "/x") == "/foo""#,
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/a/a", "/a", "/b") == "/b/a""#,
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/b", "^/b$", "/b$$") == "/b$""#,
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/foo/a/path", "^/foo/([^/]*)/(.*)$", "/bar/${2}/${1}") == "/bar/path/a""#,
        true,
        FUNCS,
    ),
    (r#"regex_replace(http.host, "(", "x") == "y""#, false, FUNCS),
    (
        r#"remove_bytes(http.host, "\x2e\x77") == "cloudflarecom""#,
        true,
        FUNCS,
    ),
    (
        r#"split(http.request.headers["x-categories"][0], ",", 64)[0] == "groceries""#,
        true,
        FUNCS,
    ),
    (
        r#"split(http.request.headers["x-categories"][0], ",", 129)[0] == "groceries""#,
        false,
        FUNCS,
    ),
    (
        r#"split(http.request.headers["x-categories"][0], "", 3)[0] == "groceries""#,
        false,
        FUNCS,
    ),
    (
        r#"starts_with(http.request.uri.path, "/blog")"#,
        true,
        FUNCS,
    ),
    (
        r#"substring(http.request.body.raw, 2, 5) == "dfg""#,
        true,
        FUNCS,
    ),
    (
        r#"substring(http.request.body.raw, -2) == "jk""#,
        true,
        FUNCS,
    ),
    (r#"to_string(cf.bot_management.score) == "5""#, true, FUNCS),
    (r#"to_string(ssl) == "true""#, true, FUNCS),
    (r#"upper(http.host) == "WWW.CLOUDFLARE.COM""#, true, FUNCS),
    (r#"url_decode("John%20Doe") == "John Doe""#, true, FUNCS),
    (r#"url_decode("%2520", "r") == " ""#, true, FUNCS),
    (r#"url_decode("%2520", "x") == " ""#, false, FUNCS),
    (
        r#"url_decode(http.request.uri.path) matches "(?u)\p{Hangul}+""#,
        true,
        FUNCS,
    ),
    (r#"uuidv4(cf.random_seed) ne """#, true, FUNCS),
    (
        r#"wildcard_replace(http.request.full_uri, "https://*.example.com/*/*", "https://example.com/${1}/${2}/${3}") ne """#,
        true,
        FUNCS,
    ),
    (
        r#"wildcard_replace(http.request.uri.path, "/apps/*", "/${1}", "s") ne """#,
        true,
        FUNCS,
    ),
    (
        r#"wildcard_replace(http.request.uri.path, "/apps/**", "/${1}") ne """#,
        false,
        FUNCS,
    ),
    (
        "http.host == \"downloads.example.com\"\nand not is_timed_hmac_valid_v0(\"mysecretkey\", http.request.uri, 100000, http.request.timestamp.sec, 8)",
        true,
        FUNCS,
    ),
    (
        "is_timed_hmac_valid_v0(\n  \"mysecretkey\",\n  http.request.uri,\n  100000,\n  http.request.timestamp.sec,\n  8\n)",
        true,
        FUNCS,
    ),
    (
        "is_timed_hmac_valid_v0(\n  \"mysecretkey\",\n  concat(\n    http.request.uri,\n    http.request.headers[\"timestamp\"][0],\n    \"-\",\n    http.request.headers[\"mac\"][0]),\n  100000,\n  http.request.timestamp.sec,\n  0\n)",
        true,
        FUNCS,
    ),
    (
        "is_timed_hmac_valid_v0(http.host, http.request.uri, 100000, http.request.timestamp.sec, 8)",
        false,
        FUNCS,
    ),
    ("bit_slice(\"tcp\", 0, 8) == 1", false, FUNCS),
    ("lower(http.host, \"x\") == \"a\"", false, FUNCS),
    ("lowercase(http.host) == \"a\"", false, FUNCS),
    // --- expressions/index.mdx ---
    (
        r#"http.request.uri.path matches "/autodiscover\.(xml|src)$""#,
        true,
        EXPR,
    ),
    (
        r#"http.host eq "www.example.com" and not cf.edge.server_port in {80 443}"#,
        true,
        EXPR,
    ),
    // --- field reference pages ---
    (
        r#"any(http.request.headers["content-type"][*] == "application/json")"#,
        true,
        HDR,
    ),
    (
        r#"any(http.request.headers.names[*] == "content-type")"#,
        true,
        HDR,
    ),
    (
        r#"any(http.request.headers.values[*] == "application/json")"#,
        true,
        HDR,
    ),
    (
        "any(len(http.request.headers.values[*])[*] gt 10)",
        true,
        HDR,
    ),
    (
        r#"http.request.accepted_languages[0] == "fr-CH""#,
        true,
        HDR,
    ),
    (
        r#"concat("/", http.request.accepted_languages[0], http.request.uri.path) == "//my-path""#,
        true,
        HDR,
    ),
    (
        r#"any(http.request.uri.args["search"][*] == "red+apples")"#,
        true,
        URI,
    ),
    (
        r#"any(http.request.uri.args.names[*] == "search")"#,
        true,
        URI,
    ),
    (
        r#"any(http.request.uri.args.values[*] == "red+apples")"#,
        true,
        URI,
    ),
    (
        r#"any(raw.http.request.uri.args["search"][*] == "red+apples")"#,
        true,
        URI,
    ),
    (
        r#"any(http.request.body.form["username"][*] == "admin")"#,
        true,
        BODY,
    ),
    (
        r#"any(http.request.body.form.names[*] == "username")"#,
        true,
        BODY,
    ),
    (
        r#"any(http.request.body.form.values[*] == "admin")"#,
        true,
        BODY,
    ),
    (
        r#"any(http.request.body.multipart.names[*][0] == "picture")"#,
        true,
        BODY,
    ),
    (
        r#"any(http.request.body.multipart.content_types[*][0] == "application/octet-stream")"#,
        true,
        BODY,
    ),
    (
        r#"any(http.request.cookies["app"][*] == "test")"#,
        true,
        FIELDS,
    ),
    // --- WAF custom rule use cases ---
    ("(cf.bot_management.verified_bot)", true, BOTS),
    ("(cf.bot_management.score eq 1)", true, BOTS),
    (
        "(cf.bot_management.score gt 1 and cf.bot_management.score lt 30)",
        true,
        BOTS,
    ),
    (
        "(cf.bot_management.score lt 30 and not cf.bot_management.verified_bot)",
        true,
        BOTS,
    ),
    (
        r#"(cf.bot_management.score lt 30 and not cf.bot_management.verified_bot and not starts_with(http.request.uri.path, "/api"))"#,
        true,
        BOTS,
    ),
    (
        r#"(cf.bot_management.ja3_hash eq "df669e7ea913f1ac0c0cce9a201a2ec1")"#,
        true,
        BOTS,
    ),
    (
        "cf.bot_management.ja3_hash eq df669e7ea913f1ac0c0cce9a201a2ec1",
        false,
        BOTS,
    ),
    (
        r#"(cf.bot_management.score lt 2 and http.user_agent contains "App_Name 2.0")"#,
        true,
        BOTS,
    ),
    (
        r#"(cf.bot_management.score lt 30 and http.user_agent contains "App_Name 2.0")"#,
        true,
        BOTS,
    ),
    // cf.bot_management.static_resource is a Cloudflare-only signal: a clear error, not a silent miss.
    ("not (cf.bot_management.static_resource)", false, BOTS),
    (
        r#"not any(lower(http.request.headers.names[*])[*] eq "x-csrf-token") and (http.request.full_uri eq "https://www.example.com/somepath")"#,
        true,
        CSRF,
    ),
    (
        r#"(ends_with(http.request.uri.path, "/autodiscover.xml") or ends_with(http.request.uri.path, "/autodiscover.src"))"#,
        true,
        AUTODISC,
    ),
    (
        r#"(http.request.uri.path matches "/autodiscover.(xml|src)$")"#,
        true,
        AUTODISC,
    ),
    (
        "(ip.geoip.asnum eq 64496 and cf.bot_management.score gt 30)",
        true,
        PARTNERS,
    ),
    (
        "(ip.geoip.asnum eq 64496 and cf.threat_score lt 14)",
        true,
        PARTNERS,
    ),
    (
        r#"(ip.src eq 203.0.113.1 and http.host eq "example.com" and cf.bot_management.score gt 30)"#,
        true,
        PARTNERS,
    ),
    (
        r#"(ip.src eq 203.0.113.1 and http.host eq "example.com")"#,
        true,
        PARTNERS,
    ),
    (
        r#"(not ip.src in {10.20.30.40 192.168.1.0/24} and http.request.uri.path wildcard "/wp-admin/*")"#,
        true,
        ADMIN,
    ),
    (
        r#"http.request.uri.path matches "(comment|conversation|event|poll)/create""#,
        true,
        RUDY,
    ),
    (
        r#"not http.cookie matches "auth_session=[0-9a-zA-Z]{32}-[0-9]{10}-[0-9a-z]{6}""#,
        true,
        RUDY,
    ),
    (r#"http.request.method eq "POST""#, true, RUDY),
    (
        r#"(http.request.method eq "POST" and http.request.uri.path matches "(comment|conversation|event|poll)/create" and not http.cookie matches "auth_session=[0-9a-zA-Z]{32}-[0-9]{10}-[0-9a-z]{6}")"#,
        true,
        RUDY,
    ),
    (
        r#"not (http.referer contains "example.com" or http.referer eq "www.example.net" or http.referer eq "www.cloudflare.com")"#,
        true,
        HOTLINK,
    ),
    (
        r#"(lookup_json_string(http.request.jwt.claims["TOKEN_CONFIGURATION_ID"][0], "user") eq "admin")"#,
        true,
        JWT,
    ),
    // cf.waf.score (attack score) is Cloudflare's machine-learning signal; Doorman does not provide it.
    (
        r#"(lookup_json_string(http.request.jwt.claims["TOKEN_CONFIGURATION_ID"][0], "user") eq "admin" and cf.waf.score < 40)"#,
        false,
        JWT,
    ),
    (
        r#"(http.host eq "downloads.example.com" and not is_timed_hmac_valid_v0("mysecrettoken", http.request.uri, 10800, http.request.timestamp.sec, 8))"#,
        true,
        TOKEN,
    ),
    (
        r#"(http.host eq "downloads.example.com" and not is_timed_hmac_valid_v0("mysecrettoken", concat(substring(http.request.uri.path, 0, 45), "?", http.request.uri.query), 10800, http.request.timestamp.sec))"#,
        true,
        TOKEN,
    ),
    (
        r#"(http.cookie contains "devaccess=james" or http.cookie contains "devaccess=matt" or http.cookie contains "devaccess=michael") and http.host eq "dev.www.example.com""#,
        true,
        COOKIE,
    ),
    (r#"(http.host eq "dev.www.example.com")"#, true, COOKIE),
    (r#"(ip.src.country in {"KP" "SY"})"#, true, COUNTRIES),
    (r#"(ip.src.country in {"KP", "SY"})"#, false, COUNTRIES),
    (r#"(ip.src.country in {'KP' 'SY'})"#, false, COUNTRIES),
    (
        r#"(http.host eq "www.example.com" and not cf.edge.server_port in {80 443})"#,
        true,
        PORTS,
    ),
    (
        r#"(ip.src.asnum eq 131279) or (ip.src.continent eq "AS") or (ip.src.country eq "KP")"#,
        true,
        GEO,
    ),
    ("(ip.src in $allowed_ips)", true, ALLOWLIST),
    (
        r#"(ip.geoip.country in {"CN" "TW" "US" "GB"} and cf.threat_score gt 0)"#,
        true,
        THREAT,
    ),
    // --- rate limiting rules ---
    (
        r#"(http.request.uri.path eq "/login" and ip.src.country eq "US" and ip.src ne 192.0.0.1)"#,
        true,
        RL_UC,
    ),
    (
        r#"(http.request.uri.path contains "/product" and http.request.method eq "POST")"#,
        true,
        RL_UC,
    ),
    (
        r#"(http.request.uri.path eq "/store" or http.request.uri.path eq "/prices") and (http.host eq "mystore1.com" or http.host eq "mystore2.com") and not cf.client.bot"#,
        true,
        RL_UC,
    ),
    (
        r#"(http.request.uri.path wildcard "/graphql/*")"#,
        true,
        RL_UC,
    ),
    (r#"http.user_agent eq "MobileApp""#, true, RL_BP),
    (
        r#"http.request.uri.path eq "/status" and http.request.method eq "GET" and not ip.src in $partner_ips"#,
        true,
        RL_BP,
    ),
    (
        r#"http.host eq "example.com" and http.request.uri.path eq "/login" and http.request.method eq "POST""#,
        true,
        RL_BP,
    ),
    (
        r#"http.request.uri.path eq "/login" and http.request.method eq "POST" and http.response.code in {401 403}"#,
        true,
        RL_BP,
    ),
    (
        r#"http.request.uri.path eq "/merchant" and http.request.uri.query contains "action=lookup_price""#,
        true,
        RL_BP,
    ),
    (
        r#"http.request.uri.path eq "/merchant" and lookup_json_string(http.request.body.raw, "action") eq "lookup_price""#,
        true,
        RL_BP,
    ),
    ("http.response.code in {401 403}", true, RL_BP),
    (
        r#"cf.bot_management.score lt 30 and http.request.uri.query contains "action=delete""#,
        true,
        RL_BP,
    ),
    (
        r#"http.request.uri.path eq "/merchant" and cf.bot_management.score lt 10"#,
        true,
        RL_BP,
    ),
    (
        r#"http.host eq "api.example.com" and http.request.method eq "GET""#,
        true,
        RL_BP,
    ),
    (
        r#"http.request.uri.path eq "/graphql" and http.request.body.raw contains "createReview""#,
        true,
        RL_BP,
    ),
    // --- CIDRs only in sets ---
    ("ip.src == 192.0.2.0/24", false, MF),
    ("ip.src eq 192.0.2.0/24", false, STD),
    ("ip.src in {192.0.2.0/24}", true, STD),
    // --- 2026 additions ---
    (
        "http.request.uri.path ne raw.http.request.uri.path",
        true,
        CHANGELOG,
    ),
    ("http.request.uri.path eq ip.src", false, CHANGELOG),
    ("true", true, CHANGELOG),
    ("false or ssl", true, CHANGELOG),
    (
        r#"coalesce(http.request.headers["x-user"][0], http.cookie, "anonymous") eq "anonymous""#,
        true,
        CHANGELOG,
    ),
    ("coalesce(http.host, 1) eq 1", false, CHANGELOG),
    (
        r#"encode_base64(sha256(http.request.uri.path)) ne """#,
        true,
        CHANGELOG,
    ),
    (r#"encode_base64(http.host, "up") ne """#, true, CHANGELOG),
    (
        "hash_in_range(0, 100, cf.random_seed) < 10",
        true,
        CHANGELOG,
    ),
    (
        "hash_in_range(100, 0, cf.random_seed) < 10",
        false,
        CHANGELOG,
    ),
    // --- lexical rules measured on the published engine ---
    ("HTTP.host eq \"a\"", false, WF),
    (r#"http.host eq 'a'"#, false, WF),
    ("ip.src == 34", false, WF),
    ("http.host eq 0", false, WF),
    ("ssl in {0}", false, WF),
    ("http.request.headers.names in {0}", false, WF),
    ("concat(0, 0) == 0", false, WF),
    ("http.host contains 6F:72:67", true, WF),
    ("cf.edge.server_port eq 0x1BB", true, WF),
    ("cf.edge.server_port eq 0123", true, WF),
    ("cf.edge.server_port eq 089", false, WF),
    ("cf.edge.server_port & 1", true, WF),
    ("cf.edge.server_port bitwise_and 1", true, WF),
    ("cf.edge.server_port eq 99999999999999999999", false, WF),
    (r#"http.host eq "\x41\101""#, true, WF),
    (r#"http.host eq "a\q""#, false, WF),
    (r#"http.host eq "\x4""#, false, WF),
    (r#"http.host eq "\400""#, false, WF),
    (r#"http.host eq "unterminated"#, false, WF),
    ("http.host eq \"a\"\r\nand ssl", true, WF),
    ("ssl and", false, WF),
    ("", false, WF),
    ("any(ssl)", false, WF),
    (
        "any(http.request.headers.names[*] == \"a\") and http.request.headers.names[*] == \"a\"",
        false,
        WF,
    ),
    ("http.host[0] == \"a\"", false, WF),
    ("http.request.headers[0][0] == \"a\"", false, WF),
    ("http.request.headers.names[\"a\"] == \"a\"", false, WF),
    ("http.host", false, WF),
    // --- missing values ---
    (
        r#"http.request.cookies["session"][0] ne "x""#,
        true,
        MISSING,
    ),
    // --- limits ---
    (
        "(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((ssl))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))",
        false,
        LIMITS,
    ),
];

/// (expression, fields as JSON, expected, source)
const EVAL: &[(&str, &str, bool, &str)] = &[
    // operators.mdx, wildcard Example A
    (
        r#"http.request.full_uri wildcard "https://example.com/a/*""#,
        r#"{"http.request.full_uri":"https://example.com/a/"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "https://example.com/a/*""#,
        r#"{"http.request.full_uri":"https://example.com/a/page.html"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "https://example.com/a/*""#,
        r#"{"http.request.full_uri":"https://example.com/a/sub/folder/?name=value"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "https://example.com/a/*""#,
        r#"{"http.request.full_uri":"https://example.com/ab/"}"#,
        false,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "https://example.com/a/*""#,
        r#"{"http.request.full_uri":"https://example.com/b/page.html"}"#,
        false,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "https://example.com/a/*""#,
        r#"{"http.request.full_uri":"https://sub.example.com/a/"}"#,
        false,
        OPS,
    ),
    // Example B
    (
        r#"http.request.full_uri wildcard "*.example.com/*/page.html""#,
        r#"{"http.request.full_uri":"http://sub.example.com/folder/page.html"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "*.example.com/*/page.html""#,
        r#"{"http.request.full_uri":"https://admin.example.com/team/page.html"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "*.example.com/*/page.html""#,
        r#"{"http.request.full_uri":"https://admin.example.com/team/subteam/page.html"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "*.example.com/*/page.html""#,
        r#"{"http.request.full_uri":"https://example.com/ab/page.html"}"#,
        false,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "*.example.com/*/page.html""#,
        r#"{"http.request.full_uri":"https://sub.example.com/folder2/page.html?s=value"}"#,
        false,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "*.example.com/*/page.html""#,
        r#"{"http.request.full_uri":"https://sub.example.com/a/"}"#,
        false,
        OPS,
    ),
    // Example C (the two URIs consistent with whole-value semantics)
    (
        r#"http.request.full_uri wildcard "*.example.com/*" or http.request.full_uri wildcard "example.com/*""#,
        r#"{"http.request.full_uri":"https://admin.example.com/folder/team/app1/"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri wildcard "*.example.com/*" or http.request.full_uri wildcard "example.com/*""#,
        r#"{"http.request.full_uri":"https://admin.example.com/folder/team/app1/?s=foobar"}"#,
        true,
        OPS,
    ),
    // case rules: wildcard is case-insensitive, strict wildcard and eq are not
    (
        r#"http.request.full_uri wildcard "https://EXAMPLE.com/a/*""#,
        r#"{"http.request.full_uri":"https://example.com/a/x"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.full_uri strict wildcard "https://EXAMPLE.com/a/*""#,
        r#"{"http.request.full_uri":"https://example.com/a/x"}"#,
        false,
        OPS,
    ),
    (
        r#"http.request.uri.path eq "/Articles/""#,
        r#"{"http.request.uri.path":"/articles/"}"#,
        false,
        OPS,
    ),
    (
        r#"lower(http.request.uri.path) contains "/wp-login.php""#,
        r#"{"http.request.uri.path":"/blog/WP-Login.php"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.uri.path matches "^/articles/200[7-8]/$""#,
        r#"{"http.request.uri.path":"/articles/2008/"}"#,
        true,
        OPS,
    ),
    (
        r#"http.request.uri.path matches "^/articles/200[7-8]/$""#,
        r#"{"http.request.uri.path":"/articles/2009/"}"#,
        false,
        OPS,
    ),
    (
        "ip.src in { 203.0.113.0 203.0.113.1 }",
        r#"{"ip.src":"203.0.113.1"}"#,
        true,
        OPS,
    ),
    (
        "ip.src ne 203.0.113.0",
        r#"{"ip.src":"2001:db8::1"}"#,
        true,
        OPS,
    ),
    // precedence: and binds tighter than or
    (
        r#"http.host eq "a" and http.host eq "b" or ssl"#,
        r#"{"http.host":"x","ssl":true}"#,
        true,
        OPS,
    ),
    (
        r#"http.host eq "a" and (http.host eq "b" or ssl)"#,
        r#"{"http.host":"x","ssl":true}"#,
        false,
        OPS,
    ),
    (
        r#"not http.host eq "a" and ssl"#,
        r#"{"http.host":"b","ssl":true}"#,
        true,
        OPS,
    ),
    (
        r#"ssl xor http.host eq "a""#,
        r#"{"http.host":"a","ssl":true}"#,
        false,
        OPS,
    ),
    // values.mdx
    (
        r#"any(http.request.headers["accept"][*] == "application/json")"#,
        r#"{"http.request.headers":{"accept":["application/json"]}}"#,
        true,
        VALS,
    ),
    (
        r#"any(http.request.headers["accept"][*] == "text/plain")"#,
        r#"{"http.request.headers":{"accept":["application/json"]}}"#,
        false,
        VALS,
    ),
    (
        r#"len(http.request.uri.args["filter"][1]) == 4"#,
        r#"{"http.request.uri.args":{"filter":["waf","botm","cdn"]}}"#,
        true,
        VALS,
    ),
    (
        r#"all(len(http.request.uri.args["filter"][*])[*] in {3 4})"#,
        r#"{"http.request.uri.args":{"filter":["waf","botm","cdn"]}}"#,
        true,
        VALS,
    ),
    (
        r#"all(not len(http.request.uri.args["filter"][*])[*] in {3 4})"#,
        r#"{"http.request.uri.args":{"filter":["waf","botm","cdn"]}}"#,
        false,
        VALS,
    ),
    (
        r#"len(http.request.uri.args["filter"]) >= 0"#,
        r#"{"http.request.uri.args":{"filter":["waf","botm","cdn"]}}"#,
        true,
        VALS,
    ),
    (
        r#"not len(http.request.uri.args["order"]) >= 0"#,
        r#"{"http.request.uri.args":{"filter":["waf","botm","cdn"]}}"#,
        true,
        VALS,
    ),
    (
        r#"any(lower(http.request.headers.names[*])[*] == "content-type")"#,
        r#"{"http.request.headers.names":["Accept","Content-Type"]}"#,
        true,
        VALS,
    ),
    (
        r#"any(http.request.headers.names[*] == "content-type")"#,
        r#"{"http.request.headers.names":["Accept","Content-Type"]}"#,
        false,
        VALS,
    ),
    (
        r#"http.request.headers.names[0] == "Content-Type""#,
        r#"{"http.request.headers.names":["Accept","Content-Type"]}"#,
        false,
        VALS,
    ),
    (
        r##"http.request.uri.path matches r#"a"b"#"##,
        r#"{"http.request.uri.path":"/a\"b"}"#,
        true,
        VALS,
    ),
    (
        r#"http.request.uri.path matches "a\"b""#,
        r#"{"http.request.uri.path":"/a\"b"}"#,
        true,
        VALS,
    ),
    (
        r#"http.request.uri.path matches r"/api/login\.aspx$""#,
        r#"{"http.request.uri.path":"/api/loginXaspx"}"#,
        false,
        VALS,
    ),
    ("ssl", r#"{"ssl":true}"#, true, VALS),
    ("not ssl", r#"{"ssl":true}"#, false, VALS),
    (
        "ip.src in {198.51.100.1 198.51.100.3..198.51.100.7 192.0.2.0/24 2001:0db8::/32}",
        r#"{"ip.src":"198.51.100.5"}"#,
        true,
        VALS,
    ),
    (
        "ip.src in {198.51.100.1 198.51.100.3..198.51.100.7 192.0.2.0/24 2001:0db8::/32}",
        r#"{"ip.src":"198.51.100.2"}"#,
        false,
        VALS,
    ),
    (
        "ip.src in {198.51.100.1 198.51.100.3..198.51.100.7 192.0.2.0/24 2001:0db8::/32}",
        r#"{"ip.src":"2001:db8:1::9"}"#,
        true,
        VALS,
    ),
    (
        "tcp.dstport in {8000..8009 8080..8089}",
        r#"{"tcp.dstport":8085}"#,
        true,
        VALS,
    ),
    (
        "tcp.dstport in {8000..8009 8080..8089}",
        r#"{"tcp.dstport":8010}"#,
        false,
        VALS,
    ),
    (
        "(ip.src in $office_network)",
        r#"{"ip.src":"192.0.2.44"}"#,
        true,
        VALS,
    ),
    // missing-value behaviour
    (
        r#"http.request.cookies["session"][0] eq "x""#,
        "{}",
        false,
        MISSING,
    ),
    (
        r#"http.request.cookies["session"][0] ne "x""#,
        "{}",
        false,
        MISSING,
    ),
    (
        r#"not http.request.cookies["session"][0] eq "x""#,
        "{}",
        true,
        MISSING,
    ),
    (
        r#"http.request.headers.names[5] == "a""#,
        r#"{"http.request.headers.names":["a"]}"#,
        false,
        MISSING,
    ),
    // functions.mdx
    (
        r#"lower(http.host) == "www.cloudflare.com""#,
        r#"{"http.host":"WWW.cloudflare.com"}"#,
        true,
        FUNCS,
    ),
    (
        r#"upper(http.host) == "WWW.CLOUDFLARE.COM""#,
        r#"{"http.host":"www.cloudflare.com"}"#,
        true,
        FUNCS,
    ),
    (
        "cidr(ip.src, 24, 24) == 113.10.0.0",
        r#"{"ip.src":"113.10.0.2"}"#,
        true,
        FUNCS,
    ),
    (
        "cidr(ip.src, 24, 24) == 2001::",
        r#"{"ip.src":"2001:0000:130F:0000:0000:09C0:876A:130B"}"#,
        true,
        FUNCS,
    ),
    (
        "cidr6(ip.src, 24) == 2001::",
        r#"{"ip.src":"2001:0000:130F:0000:0000:09C0:876A:130B"}"#,
        true,
        FUNCS,
    ),
    (
        "cidr6(ip.src, 24) == 113.10.0.2",
        r#"{"ip.src":"113.10.0.2"}"#,
        true,
        FUNCS,
    ),
    (
        r#"(any(decode_base64(http.request.headers["client_id"][*])[*] eq "123abc"))"#,
        r#"{"http.request.headers":{"client_id":["MTIzYWJj"]}}"#,
        true,
        FUNCS,
    ),
    (
        r#"ends_with(http.request.uri.path, ".html")"#,
        r#"{"http.request.uri.path":"/welcome.html"}"#,
        true,
        FUNCS,
    ),
    (
        r#"starts_with(http.request.uri.path, "/blog")"#,
        r#"{"http.request.uri.path":"/blog/first-post"}"#,
        true,
        FUNCS,
    ),
    (
        r#"join(http.request.headers.names, ",") == "a,b""#,
        r#"{"http.request.headers.names":["a","b"]}"#,
        true,
        FUNCS,
    ),
    (
        "len(http.host) == 11",
        r#"{"http.host":"example.com"}"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_integer(http.request.body.raw, "version") == 2"#,
        r#"{"http.request.body.raw":"{ \"record_id\": \"aed53a\", \"version\": 2 }"}"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_integer(http.request.body.raw, "product", "id") == 356"#,
        r#"{"http.request.body.raw":"{ \"product\": { \"id\": 356 } }"}"#,
        true,
        FUNCS,
    ),
    (
        "lookup_json_integer(http.request.body.raw, 1) == -234",
        r#"{"http.request.body.raw":"[\"first_item\", -234]"}"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_integer(http.request.body.raw, "network_ids", 0) == 123"#,
        r#"{"http.request.body.raw":"{ \"network_ids\": [123, 456] }"}"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_integer(http.request.body.raw, 1, "product_id") == 456"#,
        r#"{"http.request.body.raw":"[{ \"product_id\": 123 }, { \"product_id\": 456 }]"}"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_integer(http.request.body.raw, "version") == 42"#,
        r#"{"http.request.body.raw":"{ \"version\": 42.0 }"}"#,
        false,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, "company") == "cloudflare""#,
        r#"{"http.request.body.raw":"{ \"company\": \"cloudflare\", \"product\": \"rulesets\" }"}"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, "network", "name") == "cloudflare""#,
        r#"{"http.request.body.raw":"{ \"network\": { \"name\": \"cloudflare\" } }"}"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, 1) == "cloudflare""#,
        r#"{"http.request.body.raw":"[\"other_company\", \"cloudflare\"]"}"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, "networks", 1) == "cloudflare""#,
        r#"{"http.request.body.raw":"{ \"networks\": [\"other_company\", \"cloudflare\"] }"}"#,
        true,
        FUNCS,
    ),
    (
        r#"lookup_json_string(http.request.body.raw, 1, "network") == "cloudflare""#,
        r#"{"http.request.body.raw":"[{ \"network\": \"other_company\" }, { \"network\": \"cloudflare\" }]"}"#,
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/foo/bar", "/bar$", "/baz") == "/foo/baz""#,
        "{}",
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/x", "^/y$", "/mumble") == "/x""#,
        "{}",
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/foo", "^/FOO$", "/x") == "/foo""#,
        "{}",
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/a/a", "/a", "/b") == "/b/a""#,
        "{}",
        true,
        FUNCS,
    ),
    (
        r#"regex_replace("/b", "^/b$", "/b$$") == "/b$""#,
        "{}",
        true,
        FUNCS,
    ),
    (
        r#"remove_bytes(http.host, "\x2e\x77") == "cloudflarecom""#,
        r#"{"http.host":"www.cloudflare.com"}"#,
        true,
        FUNCS,
    ),
    (
        r#"split(http.request.headers["x-categories"][0], ",", 64)[3] == "auto""#,
        r#"{"http.request.headers":{"x-categories":["groceries,electronics,diy,auto"]}}"#,
        true,
        FUNCS,
    ),
    (
        r#"split(http.request.headers["x-categories"][0], ",", 3)[2] == "diy,auto""#,
        r#"{"http.request.headers":{"x-categories":["groceries,electronics,diy,auto"]}}"#,
        true,
        FUNCS,
    ),
    (
        r#"split(http.request.headers["x-categories"][0], ",", 64)[1] == """#,
        r#"{"http.request.headers":{"x-categories":["groceries,,electronics"]}}"#,
        true,
        FUNCS,
    ),
    (
        r#"substring(http.request.body.raw, 2, 5) == "dfg""#,
        r#"{"http.request.body.raw":"asdfghjk"}"#,
        true,
        FUNCS,
    ),
    (
        r#"substring(http.request.body.raw, 2) == "dfghjk""#,
        r#"{"http.request.body.raw":"asdfghjk"}"#,
        true,
        FUNCS,
    ),
    (
        r#"substring(http.request.body.raw, -2) == "jk""#,
        r#"{"http.request.body.raw":"asdfghjk"}"#,
        true,
        FUNCS,
    ),
    (
        r#"substring(http.request.body.raw, 0, -2) == "asdfgh""#,
        r#"{"http.request.body.raw":"asdfghjk"}"#,
        true,
        FUNCS,
    ),
    (
        r#"to_string(cf.bot_management.score) == "5""#,
        r#"{"cf.bot_management.score":5}"#,
        true,
        FUNCS,
    ),
    (
        r#"to_string(ssl) == "true""#,
        r#"{"ssl":true}"#,
        true,
        FUNCS,
    ),
    (
        r#"url_decode("John%20Doe") == "John Doe""#,
        "{}",
        true,
        FUNCS,
    ),
    (r#"url_decode("John+Doe") == "John Doe""#, "{}", true, FUNCS),
    (r#"url_decode("%2520") == "%20""#, "{}", true, FUNCS),
    (r#"url_decode("%2520", "r") == " ""#, "{}", true, FUNCS),
    (
        r#"url_decode(http.request.uri.query, "u") == "☁""#,
        r#"{"http.request.uri.query":"%u2601"}"#,
        true,
        FUNCS,
    ),
    (
        r#"any(url_decode(http.request.body.form.values[*])[*] contains "an xss attack")"#,
        r#"{"http.request.body.form.values":["ok","an+xss+attack"]}"#,
        true,
        FUNCS,
    ),
    (
        r#"url_decode(http.request.uri.path) matches "(?u)\p{Hangul}+""#,
        r#"{"http.request.uri.path":"/%ED%95%9C"}"#,
        true,
        FUNCS,
    ),
    (
        r#"wildcard_replace(http.request.full_uri, "https://*.example.com/*/*", "https://example.com/${1}/${2}/${3}") == "https://example.com/apps/calendar/admin?expand=true""#,
        r#"{"http.request.full_uri":"https://apps.example.com/calendar/admin?expand=true"}"#,
        true,
        FUNCS,
    ),
    (
        r#"wildcard_replace(http.request.full_uri, "/applications/*", "/apps/${1}") == "https://example.com/applications/app1""#,
        r#"{"http.request.full_uri":"https://example.com/applications/app1"}"#,
        true,
        FUNCS,
    ),
    (
        r#"wildcard_replace(http.request.uri.path, "/*", "/apps/${1}") == "/apps/calendar""#,
        r#"{"http.request.uri.path":"/calendar"}"#,
        true,
        FUNCS,
    ),
    (
        r#"wildcard_replace(http.request.uri.path, "/apps/*", "/${1}") == "/calendar""#,
        r#"{"http.request.uri.path":"/Apps/calendar"}"#,
        true,
        FUNCS,
    ),
    (
        r#"wildcard_replace(http.request.uri.path, "/apps/*", "/${1}", "s") == "/Apps/calendar""#,
        r#"{"http.request.uri.path":"/Apps/calendar"}"#,
        true,
        FUNCS,
    ),
    (
        r#"wildcard_replace(http.request.uri.path, "/apps/*/login", "/${1}/login") == "/calendar/login""#,
        r#"{"http.request.uri.path":"/apps/calendar/login"}"#,
        true,
        FUNCS,
    ),
    // field reference pages
    (
        r#"http.request.accepted_languages[0] == "fr-CH""#,
        r#"{"http.request.accepted_languages":["fr-CH","en","fr","de"]}"#,
        true,
        HDR,
    ),
    (
        r#"concat("/", http.request.accepted_languages[0], http.request.uri.path) == "//my-path""#,
        r#"{"http.request.uri.path":"/my-path"}"#,
        true,
        HDR,
    ),
    (
        "any(len(http.request.headers.values[*])[*] gt 10)",
        r#"{"http.request.headers.values":["This header value is longer than 10 bytes"]}"#,
        true,
        HDR,
    ),
    (
        r#"any(http.request.uri.args["search"][*] == "red+apples")"#,
        r#"{"http.request.uri.args":{"search":["red+apples"]}}"#,
        true,
        URI,
    ),
    (
        r#"any(http.request.body.multipart.names[*][0] == "picture")"#,
        r#"{"http.request.body.multipart.names":[["username"],["picture"]]}"#,
        true,
        BODY,
    ),
    // WAF use cases
    (
        r#"(cf.bot_management.score lt 30 and not cf.bot_management.verified_bot and not starts_with(http.request.uri.path, "/api"))"#,
        r#"{"cf.bot_management.score":12,"cf.bot_management.verified_bot":false,"http.request.uri.path":"/shop"}"#,
        true,
        BOTS,
    ),
    (
        r#"(cf.bot_management.score lt 30 and not cf.bot_management.verified_bot and not starts_with(http.request.uri.path, "/api"))"#,
        r#"{"cf.bot_management.score":12,"cf.bot_management.verified_bot":false,"http.request.uri.path":"/api/v1"}"#,
        false,
        BOTS,
    ),
    (
        r#"not any(lower(http.request.headers.names[*])[*] eq "x-csrf-token") and (http.request.full_uri eq "https://www.example.com/somepath")"#,
        r#"{"http.request.headers.names":["Host"],"http.request.full_uri":"https://www.example.com/somepath"}"#,
        true,
        CSRF,
    ),
    (
        r#"not any(lower(http.request.headers.names[*])[*] eq "x-csrf-token") and (http.request.full_uri eq "https://www.example.com/somepath")"#,
        r#"{"http.request.headers.names":["X-CSRF-Token"],"http.request.full_uri":"https://www.example.com/somepath"}"#,
        false,
        CSRF,
    ),
    (
        r#"(http.request.uri.path matches "/autodiscover.(xml|src)$")"#,
        r#"{"http.request.uri.path":"/Autodiscover/autodiscover.xml"}"#,
        true,
        AUTODISC,
    ),
    (
        r#"(not ip.src in {10.20.30.40 192.168.1.0/24} and http.request.uri.path wildcard "/wp-admin/*")"#,
        r#"{"ip.src":"198.51.100.9","http.request.uri.path":"/wp-admin/options.php"}"#,
        true,
        ADMIN,
    ),
    (
        r#"(not ip.src in {10.20.30.40 192.168.1.0/24} and http.request.uri.path wildcard "/wp-admin/*")"#,
        r#"{"ip.src":"192.168.1.77","http.request.uri.path":"/wp-admin/options.php"}"#,
        false,
        ADMIN,
    ),
    (
        r#"(http.request.method eq "POST" and http.request.uri.path matches "(comment|conversation|event|poll)/create" and not http.cookie matches "auth_session=[0-9a-zA-Z]{32}-[0-9]{10}-[0-9a-z]{6}")"#,
        r#"{"http.request.method":"POST","http.request.uri.path":"/poll/create","http.cookie":"auth_session=bad"}"#,
        true,
        RUDY,
    ),
    (
        r#"(http.request.method eq "POST" and http.request.uri.path matches "(comment|conversation|event|poll)/create" and not http.cookie matches "auth_session=[0-9a-zA-Z]{32}-[0-9]{10}-[0-9a-z]{6}")"#,
        r#"{"http.request.method":"POST","http.request.uri.path":"/poll/create","http.cookie":"auth_session=0123456789abcdef0123456789ABCDEF-1484063787-abc123"}"#,
        false,
        RUDY,
    ),
    (
        r#"not (http.referer contains "example.com" or http.referer eq "www.example.net" or http.referer eq "www.cloudflare.com")"#,
        r#"{"http.referer":"https://evil.test/"}"#,
        true,
        HOTLINK,
    ),
    (
        r#"(lookup_json_string(http.request.jwt.claims["TOKEN_CONFIGURATION_ID"][0], "user") eq "admin")"#,
        r#"{"http.request.jwt.claims":{"TOKEN_CONFIGURATION_ID":["{\"user\":\"admin\"}"]}}"#,
        true,
        JWT,
    ),
    // The page's MAC for /images/cat.jpg is illustrative (it is not the HMAC of that message);
    // the valid token here was computed with the page's own Python 3.8 generator, and the page's
    // sample MAC is expected to fail validation.
    (
        r#"(http.host eq "downloads.example.com" and not is_timed_hmac_valid_v0("mysecrettoken", http.request.uri, 10800, http.request.timestamp.sec, 8))"#,
        r#"{"http.host":"downloads.example.com","http.request.uri":"/images/cat.jpg?verify=1484063787-XsZ5NmtNBxOd4f4fBOtqVmpWRnDRNkHKVZieqDPKu3U%3D","http.request.timestamp.sec":1484071925}"#,
        false,
        TOKEN,
    ),
    (
        r#"(http.host eq "downloads.example.com" and not is_timed_hmac_valid_v0("mysecrettoken", http.request.uri, 10800, http.request.timestamp.sec, 8))"#,
        r#"{"http.host":"downloads.example.com","http.request.uri":"/images/cat.jpg?verify=1484063787-XsZ5NmtNBxOd4f4fBOtqVmpWRnDRNkHKVZieqDPKu3U%3D","http.request.timestamp.sec":1484074588}"#,
        true,
        TOKEN,
    ),
    (
        r#"(http.host eq "downloads.example.com" and not is_timed_hmac_valid_v0("mysecrettoken", http.request.uri, 10800, http.request.timestamp.sec, 8))"#,
        r#"{"http.host":"downloads.example.com","http.request.uri":"/images/cat.jpg?verify=1484063787-9JQB8vP1z0yc5DEBnH6JGWM3mBmvIeMrnnxFi3WtJLE%3D","http.request.timestamp.sec":1484071925}"#,
        true,
        TOKEN,
    ),
    (
        r#"(http.cookie contains "devaccess=james" or http.cookie contains "devaccess=matt" or http.cookie contains "devaccess=michael") and http.host eq "dev.www.example.com""#,
        r#"{"http.cookie":"theme=dark; devaccess=matt","http.host":"dev.www.example.com"}"#,
        true,
        COOKIE,
    ),
    (
        r#"(ip.src.country in {"KP" "SY"})"#,
        r#"{"ip.src.country":"SY"}"#,
        true,
        COUNTRIES,
    ),
    (
        r#"(ip.src.country in {"KP" "SY"})"#,
        r#"{"ip.src.country":"sy"}"#,
        false,
        COUNTRIES,
    ),
    (
        r#"(http.host eq "www.example.com" and not cf.edge.server_port in {80 443})"#,
        r#"{"http.host":"www.example.com","cf.edge.server_port":8443}"#,
        true,
        PORTS,
    ),
    (
        r#"(ip.src.asnum eq 131279) or (ip.src.continent eq "AS") or (ip.src.country eq "KP")"#,
        r#"{"ip.geoip.asnum":131279}"#,
        true,
        GEO,
    ),
    (
        "(ip.src in $allowed_ips)",
        r#"{"ip.src":"2001:db8::5"}"#,
        true,
        ALLOWLIST,
    ),
    (
        r#"(ip.geoip.country in {"CN" "TW" "US" "GB"} and cf.threat_score gt 0)"#,
        r#"{"ip.src.country":"GB","doorman.reputation.score":3}"#,
        true,
        THREAT,
    ),
    (
        r#"(http.request.uri.path eq "/login" and ip.src.country eq "US" and ip.src ne 192.0.0.1)"#,
        r#"{"http.request.uri.path":"/login","ip.src.country":"US","ip.src":"192.0.0.1"}"#,
        false,
        RL_UC,
    ),
    (
        r#"(http.request.uri.path eq "/store" or http.request.uri.path eq "/prices") and (http.host eq "mystore1.com" or http.host eq "mystore2.com") and not cf.client.bot"#,
        r#"{"http.request.uri.path":"/prices","http.host":"mystore2.com","cf.client.bot":false}"#,
        true,
        RL_UC,
    ),
    (
        r#"http.request.uri.path eq "/status" and http.request.method eq "GET" and not ip.src in $partner_ips"#,
        r#"{"http.request.uri.path":"/status","http.request.method":"GET","ip.src":"203.0.113.50"}"#,
        false,
        RL_BP,
    ),
    (
        r#"http.request.uri.path eq "/login" and http.request.method eq "POST" and http.response.code in {401 403}"#,
        r#"{"http.request.uri.path":"/login","http.request.method":"POST","http.response.code":403}"#,
        true,
        RL_BP,
    ),
    (
        r#"http.request.uri.path eq "/merchant" and lookup_json_string(http.request.body.raw, "action") eq "lookup_price""#,
        r#"{"http.request.uri.path":"/merchant","http.request.body.raw":"{\"action\": \"lookup_price\", \"product_id\": 215}"}"#,
        true,
        RL_BP,
    ),
    // 2026 additions
    (
        "http.request.uri.path ne raw.http.request.uri.path",
        r#"{"http.request.uri.path":"/a","raw.http.request.uri.path":"/a"}"#,
        false,
        CHANGELOG,
    ),
    (
        "http.request.uri.path ne raw.http.request.uri.path",
        r#"{"http.request.uri.path":"/b","raw.http.request.uri.path":"/a"}"#,
        true,
        CHANGELOG,
    ),
    ("true", "{}", true, CHANGELOG),
    (
        r#"coalesce(http.request.headers["x-user"][0], "anonymous") eq "anonymous""#,
        "{}",
        true,
        CHANGELOG,
    ),
    (
        r#"coalesce(http.request.headers["x-user"][0], "anonymous") eq "bob""#,
        r#"{"http.request.headers":{"x-user":["bob"]}}"#,
        true,
        CHANGELOG,
    ),
    (
        r#"encode_base64(sha256("abc")) eq "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0""#,
        "{}",
        true,
        CHANGELOG,
    ),
    (
        "hash_in_range(0, 100, cf.random_seed) le 100",
        r#"{"cf.random_seed":"0123456789abcdef"}"#,
        true,
        CHANGELOG,
    ),
];

fn lists() -> Lists {
    let mut l = Lists::new();
    l.insert_ip(
        "office_network",
        IpRangeSet::parse(["192.0.2.0/24"]).unwrap(),
    );
    l.insert_ip(
        "allowed_ips",
        IpRangeSet::parse(["203.0.113.7", "2001:db8::/64"]).unwrap(),
    );
    l.insert_ip(
        "partner_ips",
        IpRangeSet::parse(["203.0.113.0/24"]).unwrap(),
    );
    l
}

/// The one helper every evaluation row goes through.
fn check(expr: &str, fields: &str, expect: bool) -> Result<(), String> {
    match eval_command_with(expr, fields, &lists()) {
        Ok(got) if got == expect => Ok(()),
        Ok(got) => Err(format!("got {got}, expected {expect}")),
        Err(e) => Err(format!("error: {e}")),
    }
}

#[test]
fn parse_table_matches_the_docs() {
    assert!(PARSE.len() >= 150, "only {} parse rows", PARSE.len());
    let mut failures = Vec::new();
    for (expr, valid, src) in PARSE {
        let got = check_command_with(expr, &lists());
        match (got, valid) {
            (Ok(norm), true) => {
                // The normalized form is itself valid and a fixed point.
                match check_command_with(&norm, &lists()) {
                    Ok(again) if again == norm => {}
                    other => failures.push(format!(
                        "{expr}\n  normalized {norm:?} re-checks as {other:?}"
                    )),
                }
            }
            (Err(e), false) => {
                assert_eq!(e.exit_code(), 1);
                let CliError::Invalid(err) = &e else {
                    panic!("unexpected error kind for {expr}")
                };
                assert!(!err.message.is_empty());
            }
            (Ok(norm), false) => failures.push(format!(
                "{expr}\n  accepted as {norm:?}, expected an error ({src})"
            )),
            (Err(e), true) => failures.push(format!("{expr}\n  rejected ({src}):\n{e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn eval_table_matches_the_docs() {
    assert!(EVAL.len() >= 60, "only {} eval rows", EVAL.len());
    let mut failures = Vec::new();
    for (expr, fields, expect, src) in EVAL {
        if let Err(e) = check(expr, fields, *expect) {
            failures.push(format!("{expr}\n  with {fields}\n  {e} ({src})"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
