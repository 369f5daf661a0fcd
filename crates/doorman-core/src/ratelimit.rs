//! Rate limiting rules as the core sees them: which requests a rule counts, which counter
//! (key) a request belongs to, and what a denial says.
//!
//! The core holds no counters and reads no clock. [`decide`](crate::pipeline::decide) lists the
//! [`LimitCheck`]s a request needs (rule, key hash, how to name the key to a person); the server
//! asks its limiter (in-process or Redis) and hands the [`LimitOutcome`]s back to
//! [`finish_limits`](crate::pipeline::finish_limits), which turns the first enforced excess into
//! a 429 receipt and computes the `RateLimit` headers for allowed responses. Splitting the phase
//! this way keeps the core pure (the shared limiter is an async network call) and lets
//! `doorman trace` show which limits a request would be counted against.
//!
//! Keys are the first 64 bits of SHA-256 over the rule id and the characteristic values: stable
//! across processes and versions (instances sharing one Redis must agree on them), and not
//! steerable: a client cannot craft a header value that lands on someone else's counter.

use std::borrow::Cow;
use std::time::Duration;

use doorman_rules::{CompiledExpr, EvalContext, Field, FieldProvider, Map, Value};
use sha2::{Digest, Sha256};

use crate::auth::AuthFacts;
use crate::facts::RequestFacts;
use crate::fields::{ClientIpFacts, RequestFields};
use crate::policy::Policy;
use crate::receipt::Disclosure;

/// What a rate limiting rule does once its key is over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitAction {
    /// Answer 429 with a receipt.
    Block,
    /// Ask for a challenge (until the challenge phase exists: a challenge receipt).
    Challenge,
    /// Record what would have happened; let the request through.
    Log,
}

impl LimitAction {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitAction::Block => "block",
            LimitAction::Challenge => "challenge",
            LimitAction::Log => "log",
        }
    }
}

/// One part of what identifies a counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Characteristic {
    /// The strongest identity the request proves: its API key or token subject when it has one,
    /// otherwise the client IP. Users behind one NAT who are signed in are not one bucket.
    Identity,
    /// A scalar field (`ip.src`, `http.host`, `ip.src.asnum`, `doorman.tls.ja4`, …).
    Field(Field),
    /// One entry of a map field: a header, cookie or query argument by name.
    Entry {
        /// `http.request.headers`, `http.request.cookies` or `http.request.uri.args`.
        field: Field,
        /// The entry's name (lower-case for headers).
        name: String,
    },
}

impl Characteristic {
    /// How the config file writes it.
    pub fn written(&self) -> String {
        match self {
            Characteristic::Identity => "doorman.identity".to_string(),
            Characteristic::Field(f) => f.name().to_string(),
            Characteristic::Entry { field, name } => format!("{}[\"{name}\"]", field.name()),
        }
    }

    /// "IP address", "header X-Api-Key", …: what a person is told a counter is kept per.
    fn noun(&self) -> String {
        match self {
            Characteristic::Identity => "identity".to_string(),
            Characteristic::Field(f) => field_noun(*f).to_string(),
            Characteristic::Entry { field, name } => match field {
                Field::HttpRequestHeaders => format!("header {name}"),
                Field::HttpRequestCookies => format!("cookie {name}"),
                _ => format!("query argument {name}"),
            },
        }
    }
}

fn field_noun(f: Field) -> &'static str {
    match f {
        Field::IpSrc => "IP address",
        Field::IpSrcAsnum => "network (AS number)",
        Field::IpSrcCountry => "country",
        Field::HttpHost => "host name",
        Field::HttpRequestUriPath => "path",
        Field::DoormanAuthKeyId => "API key",
        Field::DoormanAuthSubject => "account",
        _ => f.name(),
    }
}

/// A rate limiting rule, compiled. The expression that selects the requests it applies to is
/// kept beside it in the policy's ruleset.
#[derive(Debug, Clone)]
pub struct RateLimitRule {
    /// The rule's id, unique in the file; names the limit in headers and receipts.
    pub id: String,
    /// What the operator wrote it for.
    pub description: Option<String>,
    /// What one counter is kept per; empty means per [`Characteristic::Identity`].
    pub characteristics: Vec<Characteristic>,
    /// Requests (units) allowed per period.
    pub requests_per_period: u32,
    /// The period.
    pub period: Duration,
    /// How long a key stays blocked once over; zero throttles only.
    pub mitigation_timeout: Duration,
    /// What happens when over.
    pub action: LimitAction,
    /// When set, only responses matching this count (e.g. `http.response.code eq 401`); the
    /// request-time check then only asks whether the key is already over.
    pub counting: Option<CompiledExpr>,
    /// What a denial may show.
    pub disclosure: Disclosure,
    /// An extra remedy line written by the operator.
    pub note: Option<String>,
    /// Whether allowed responses carry `RateLimit-Policy` / `RateLimit` for this rule.
    pub response_headers: bool,
}

impl RateLimitRule {
    /// "10 requests per 1 minute".
    pub fn quota_words(&self) -> String {
        let unit = if self.requests_per_period == 1 {
            "request"
        } else {
            "requests"
        };
        format!(
            "{} {unit} per {}",
            self.requests_per_period,
            doorman_common::when::duration_words(
                self.period,
                doorman_common::when::UnitNames::Long
            )
        )
    }
}

/// The key of one request under one rule, and how to name it to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitKey {
    /// The counter's id: 64 bits of SHA-256 over the rule id and the values.
    pub hash: u64,
    /// "IP address", "API key", "header x-tenant"…
    pub kind: String,
    /// The value as it may be shown to the client it belongs to: "203.0.113.7",
    /// "dmn_live_AbCd…wxyz". Headers and cookies are shortened.
    pub shown: String,
    /// True when the identity default fell back to the IP (shared by everyone behind one NAT).
    pub ip_fallback: bool,
}

/// The id of the limit an API key carries itself (`doorman keys create --rate-limit`).
pub const KEY_LIMIT_ID: &str = "api-key";

/// [`LimitCheck::rule`] of a key's own limit: it is no rule of the policy.
pub const KEY_LIMIT: usize = usize::MAX;

/// One counter a request must be checked against.
#[derive(Debug, Clone)]
pub struct LimitCheck {
    /// Index of the rule in the policy's rate limit ruleset, or [`KEY_LIMIT`] for the limit the
    /// request's API key carries (see [`rule_for`]).
    pub rule: usize,
    /// The rule's id.
    pub rule_id: String,
    /// The key.
    pub key: LimitKey,
    /// Spend one unit now (`true`), or only look whether the key is already over (rules with a
    /// counting expression, which spend after the response).
    pub spend: bool,
}

/// What the limiter said about one [`LimitCheck`], in the order the checks were listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitOutcome {
    /// The limiter answered.
    Checked {
        /// Within the limit.
        allowed: bool,
        /// Units left now.
        remaining: u32,
        /// Milliseconds until the full quota is back.
        reset_after_ms: u64,
        /// When denied: milliseconds until the same request would pass (None: never).
        retry_after_ms: Option<u64>,
        /// The key is serving a mitigation timeout (a temporary ban).
        blocked: bool,
    },
    /// The shared limiter is unreachable and the fail mode is `closed`.
    Unavailable,
}

/// The rule a check is counted under: the policy's, or for a key's own limit one made from the
/// key's quota (per API key, block, no mitigation).
pub fn rule_for<'p>(
    policy: &'p Policy,
    check: &LimitCheck,
    auth: &AuthFacts,
) -> Option<std::borrow::Cow<'p, RateLimitRule>> {
    if check.rule != KEY_LIMIT {
        return policy
            .rate_limits
            .get(check.rule)
            .map(std::borrow::Cow::Borrowed);
    }
    let (requests, period) = auth.identity()?.rate_limit?;
    Some(std::borrow::Cow::Owned(key_limit_rule(requests, period)))
}

/// The rule of an API key's own limit.
pub(crate) fn key_limit_rule(requests: u32, period: Duration) -> RateLimitRule {
    RateLimitRule {
        id: KEY_LIMIT_ID.to_string(),
        description: Some("Your API key's own limit".to_string()),
        characteristics: vec![Characteristic::Identity],
        requests_per_period: requests,
        period,
        mitigation_timeout: Duration::ZERO,
        action: LimitAction::Block,
        counting: None,
        disclosure: Disclosure::Public,
        note: Some(
            "This limit belongs to your API key; ask the site's operator if you need a higher one."
                .to_string(),
        ),
        response_headers: true,
    }
}

/// Computes the key of this request under `rule`.
pub(crate) fn key_for(
    rule: &RateLimitRule,
    ctx: &EvalContext<'_>,
    ip: &ClientIpFacts<'_>,
    auth: &AuthFacts,
) -> LimitKey {
    let mut hasher = Sha256::new();
    hasher.update((rule.id.len() as u32).to_le_bytes());
    hasher.update(rule.id.as_bytes());
    let identity_only = [Characteristic::Identity];
    let characteristics: &[Characteristic] = if rule.characteristics.is_empty() {
        &identity_only
    } else {
        &rule.characteristics
    };
    let mut kinds = Vec::with_capacity(characteristics.len());
    let mut shown = Vec::with_capacity(characteristics.len());
    let mut ip_fallback = false;
    for c in characteristics {
        let (kind, bytes, display) = match c {
            Characteristic::Identity => {
                let identity = auth.identity();
                if let Some(i) = identity.filter(|i| i.key_id.is_some()) {
                    let id = i.key_id.as_deref().unwrap_or_default();
                    (
                        "API key".to_string(),
                        prefixed(b'k', id.as_bytes()),
                        i.display.clone(),
                    )
                } else if let Some(i) = identity {
                    let who = i.subject.as_deref().unwrap_or(&i.name);
                    (
                        "account".to_string(),
                        prefixed(b's', who.as_bytes()),
                        who.to_string(),
                    )
                } else {
                    ip_fallback = true;
                    let addr = ip.ip().to_string();
                    (
                        "IP address".to_string(),
                        prefixed(b'i', addr.as_bytes()),
                        addr,
                    )
                }
            }
            Characteristic::Field(f) => {
                let v = ctx.get(*f);
                let (bytes, display) = value_bytes(v);
                (c.noun(), bytes, display)
            }
            Characteristic::Entry { field, name } => {
                let v = ctx.get(*field);
                let entry = match v {
                    Value::Map(m) => m.get(name.as_bytes()).cloned().unwrap_or_default(),
                    _ => Value::Missing,
                };
                let first = match entry {
                    Value::Array(items) => items.into_iter().next().unwrap_or_default(),
                    other => other,
                };
                let (bytes, display) = value_bytes(&first);
                (c.noun(), bytes, shorten(&display))
            }
        };
        hasher.update((bytes.len() as u32).to_le_bytes());
        hasher.update(&bytes);
        kinds.push(kind);
        shown.push(display);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    LimitKey {
        hash: u64::from_le_bytes(first),
        kind: kinds.join(" + "),
        shown: shown.join(" + "),
        ip_fallback,
    }
}

/// The key this client has under `rule` whatever its request's method, path and headers, for
/// rules whose counters are kept only per who the client is: its identity (API key, token
/// subject, else IP), its IP and what follows from the IP (network, country, lists), its key or
/// subject. A diagnostic request (the trace endpoint) then finds the bans that requests of
/// another kind started, such as failed `POST /login`s. `None` for a rule kept per anything a
/// request chooses (a path, a header, a cookie, the host): the value another request had cannot
/// be known from this one, so such bans are not matched here.
pub fn client_key(
    rule: &RateLimitRule,
    facts: &RequestFacts<'_>,
    policy: &Policy,
) -> Option<LimitKey> {
    let per_client = rule.characteristics.iter().all(|c| match c {
        Characteristic::Identity => true,
        Characteristic::Field(f) => {
            let name = f.name();
            name == "ip.src"
                || name.starts_with("ip.src.")
                || name.starts_with("doorman.ip.")
                || matches!(f, Field::DoormanAuthKeyId | Field::DoormanAuthSubject)
        }
        Characteristic::Entry { .. } => false,
    });
    if !per_client {
        return None;
    }
    let ip = ClientIpFacts::new(facts.client_ip, &policy.firewall);
    let fields = RequestFields::new(facts, &ip, None);
    let ctx = EvalContext::new(&fields);
    Some(key_for(rule, &ctx, &ip, facts.auth))
}

/// The code a denial under `rule` carries: a challenge for `challenge` rules, 1012 (a temporary
/// ban) for rules that count responses, 1015 (rate limited) otherwise.
pub fn denial_code(rule: &RateLimitRule) -> crate::Code {
    match (rule.action, rule.counting.is_some()) {
        (LimitAction::Challenge, _) => crate::Code::Challenge,
        (_, true) => crate::Code::TemporaryBan,
        _ => crate::Code::RateLimited,
    }
}

fn prefixed(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.push(tag);
    v.extend_from_slice(bytes);
    v
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The bytes a value is counted under, and how it reads. A missing value is a key of its own
/// ("(none)"): every request without the header shares one counter, which is what an operator
/// who limits per header means for clients that do not send it.
fn value_bytes(v: &Value<'_>) -> (Vec<u8>, String) {
    match v {
        Value::Missing => (b"\0missing".to_vec(), "(none)".to_string()),
        Value::Bool(b) => (vec![u8::from(*b)], b.to_string()),
        Value::Int(i) => (i.to_le_bytes().to_vec(), i.to_string()),
        Value::Ip(ip) => {
            let s = ip.to_string();
            (s.clone().into_bytes(), s)
        }
        Value::Bytes(b) => (b.to_vec(), text(b)),
        other => {
            let s = format!("{other:?}");
            (s.clone().into_bytes(), s)
        }
    }
}

/// Header and cookie values can be secrets (session ids): show only the ends.
fn shorten(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 12 {
        return s.to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// `RateLimit-Policy` and `RateLimit` values (draft-ietf-httpapi-ratelimit-headers) for one rule.
pub(crate) fn header_values(
    rule: &RateLimitRule,
    remaining: u32,
    reset_after_ms: u64,
) -> [(String, String); 2] {
    let window_s = rule.period.as_millis().div_ceil(1000);
    let reset_s = reset_after_ms.div_ceil(1000);
    [
        (
            "ratelimit-policy".to_string(),
            format!(
                "\"{}\";q={};w={window_s}",
                rule.id, rule.requests_per_period
            ),
        ),
        (
            "ratelimit".to_string(),
            format!("\"{}\";r={remaining};t={reset_s}", rule.id),
        ),
    ]
}

/// What the origin answered, for counting expressions.
pub struct ResponseFacts<'a> {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: &'a http::HeaderMap,
}

/// The request's fields plus the response's, for counting expressions.
struct WithResponse<'a, 'b> {
    request: &'b dyn FieldProvider,
    response: &'b ResponseFacts<'a>,
}

impl FieldProvider for WithResponse<'_, '_> {
    fn field(&self, field: Field) -> Value<'_> {
        let h = self.response.headers;
        match field {
            Field::HttpResponseCode => Value::Int(i64::from(self.response.status)),
            Field::HttpResponseHeaders | Field::RawHttpResponseHeaders => {
                let entries = h.keys().map(|name| {
                    let values = h
                        .get_all(name)
                        .iter()
                        .map(|v| Value::bytes(v.as_bytes()))
                        .collect();
                    (Cow::Borrowed(name.as_str()), Value::Array(values))
                });
                Value::Map(Map::new(entries))
            }
            Field::HttpResponseHeadersNames | Field::RawHttpResponseHeadersNames => {
                Value::strs(h.keys().map(|n| n.as_str()))
            }
            Field::HttpResponseHeadersValues | Field::RawHttpResponseHeadersValues => {
                Value::Array(h.values().map(|v| Value::bytes(v.as_bytes())).collect())
            }
            Field::HttpResponseContentTypeMediaType => h
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map_or(Value::Missing, |ct| {
                    let media = ct.split(';').next().unwrap_or("").trim();
                    Value::string(media.to_ascii_lowercase())
                }),
            other => self.request.field(other),
        }
    }
}

/// Which of `checks` (those that only looked at request time) count this origin response: the
/// ones whose rule's counting expression matches it. Only origin responses come here; the
/// gateway's own answers (401, 403, 429 and the rest) never reach a counting expression, so a
/// client is not banned for requests the gateway itself refused.
pub fn counted_by_response(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    route: Option<&str>,
    checks: &[LimitCheck],
    response: &ResponseFacts<'_>,
) -> Vec<usize> {
    let ip = ClientIpFacts::new(facts.client_ip, &policy.firewall);
    let request = RequestFields::new(facts, &ip, route);
    let fields = WithResponse {
        request: &request,
        response,
    };
    let ctx = EvalContext::new(&fields);
    checks
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.spend)
        .filter(|(_, c)| {
            policy
                .rate_limits
                .get(c.rule)
                .and_then(|r| r.counting.as_ref())
                .is_some_and(|e| e.matches(&ctx))
        })
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shortened_to_their_ends() {
        assert_eq!(shorten("abc"), "abc");
        assert_eq!(shorten("0123456789abcdef"), "0123…cdef");
    }

    #[test]
    fn headers_round_up_to_whole_seconds() {
        let rule = RateLimitRule {
            id: "api".into(),
            description: None,
            characteristics: vec![],
            requests_per_period: 10,
            period: Duration::from_millis(1500),
            mitigation_timeout: Duration::ZERO,
            action: LimitAction::Block,
            counting: None,
            disclosure: Disclosure::Public,
            note: None,
            response_headers: true,
        };
        let [policy, state] = header_values(&rule, 3, 1001);
        assert_eq!(policy.1, "\"api\";q=10;w=2");
        assert_eq!(state.1, "\"api\";r=3;t=2");
    }
}
