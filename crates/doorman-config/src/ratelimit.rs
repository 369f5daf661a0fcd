//! Stage two for `[rate_limit]` and `[[rate_limits]]`: where counters live, and the rules,
//! compiled into the core's [`RateLimitRule`]s.
//!
//! Rules use the same lists as the firewall (their expressions are compiled against the same
//! registry), so they are compiled from the firewall pass. The checks follow what goes wrong in
//! practice: a characteristic that names no field (typos get the nearest name), a counting
//! expression that never looks at the response (then it counts every request and is almost
//! certainly not what was meant), a period or limit the limiter cannot honour.

use std::collections::HashMap;
use std::time::Duration;

use doorman_core::ratelimit::{Characteristic, LimitAction, RateLimitRule};
use doorman_rules::{Field, Ruleset, Scheme};

use crate::compile::Compiler;
use crate::firewall::{ExpressionLists, disclosure};
use crate::raw::{
    RawFailMode, RawLimitAction, RawLimitBackend, RawRateLimit, RawRateLimitSettings,
};
use crate::settings::{RateLimitSettings, RedisSettings};
use crate::suggest;
use crate::values::Invalid;

/// The largest `requests_per_period` the limiter counts exactly (its per-slice counters are
/// 16-bit).
pub const MAX_REQUESTS_PER_PERIOD: u64 = 65_535;
/// The longest period: 30 days.
pub const MAX_PERIOD_SECS: u64 = 30 * 86_400;

/// Map fields a characteristic may index by name.
const ENTRY_FIELDS: &[Field] = &[
    Field::HttpRequestHeaders,
    Field::HttpRequestCookies,
    Field::HttpRequestUriArgs,
];

impl Compiler<'_, '_> {
    /// `[rate_limit]`.
    pub(crate) fn rate_limit_settings(&mut self, raw: &RawRateLimitSettings) -> RateLimitSettings {
        let max_keys = if raw.max_keys == 0 {
            self.invalid(
                "rate_limit.max_keys",
                Invalid {
                    detail: "0 keys".into(),
                    hint: Some("a limiter that remembers nothing limits nothing: use at least 1000 (each key costs about 32 bytes)".into()),
                },
            );
            1
        } else {
            usize::try_from(raw.max_keys).unwrap_or(usize::MAX)
        };
        let redis = match raw.backend {
            RawLimitBackend::Local => {
                for key in ["redis_url", "redis_url_env"] {
                    let given = if key == "redis_url" {
                        raw.redis_url.is_some()
                    } else {
                        raw.redis_url_env.is_some()
                    };
                    if given {
                        self.warn(
                            self.index.key(&format!("rate_limit.{key}")),
                            format!("`{key}` has no effect: the backend is \"local\""),
                            Some("set backend = \"redis\" to share counters through Redis".into()),
                        );
                    }
                }
                None
            }
            RawLimitBackend::Redis => self.redis_url(raw).map(|url| RedisSettings {
                url,
                fail_closed: raw.fail_mode == RawFailMode::Closed,
                key_prefix: raw.redis_key_prefix.clone(),
                timeout: Duration::from_millis(raw.redis_timeout_ms.max(1)),
            }),
        };
        RateLimitSettings { max_keys, redis }
    }

    fn redis_url(&mut self, raw: &RawRateLimitSettings) -> Option<String> {
        let url = match (&raw.redis_url, &raw.redis_url_env) {
            (Some(_), Some(_)) => {
                self.error(
                    self.index.key("rate_limit.redis_url_env"),
                    "`redis_url` and `redis_url_env` cannot both be set",
                    Some(
                        "keep one: redis_url_env names an environment variable holding the URL"
                            .into(),
                    ),
                );
                return None;
            }
            (Some(url), None) => url.clone(),
            (None, Some(var)) => match std::env::var(var) {
                Ok(url) if !url.trim().is_empty() => url,
                _ => {
                    self.error(
                        self.index.value("rate_limit.redis_url_env"),
                        format!("the environment variable `{var}` is not set or empty"),
                        Some(format!(
                            "export {var}=redis://127.0.0.1:6379/0 before starting Doorman"
                        )),
                    );
                    return None;
                }
            },
            (None, None) => {
                self.missing(
                    "rate_limit",
                    "redis_url",
                    "[rate_limit]",
                    "backend = \"redis\" needs the server: redis_url = \"redis://127.0.0.1:6379/0\" (or redis_url_env)".into(),
                );
                return None;
            }
        };
        let scheme_ok = url.starts_with("redis://")
            || url.starts_with("rediss://")
            || url.starts_with("redis+unix://")
            || url.starts_with("unix://");
        if !scheme_ok {
            let path = if raw.redis_url.is_some() {
                "rate_limit.redis_url"
            } else {
                "rate_limit.redis_url_env"
            };
            self.invalid(
                path,
                Invalid {
                    detail: "not a Redis URL".into(),
                    hint: Some("write redis://host:port/db (rediss:// for TLS)".into()),
                },
            );
            return None;
        }
        Some(url)
    }

    /// `[[rate_limits]]`.
    pub(crate) fn rate_limits(
        &mut self,
        raw: &[RawRateLimit],
        lists: &ExpressionLists,
    ) -> Ruleset<RateLimitRule> {
        let mut seen = HashMap::new();
        let mut out = Ruleset::new();
        for (i, r) in raw.iter().enumerate() {
            let path = format!("rate_limits.{i}");
            let id = self
                .unique_id(&path, "[[rate_limits]]", r.id.as_deref(), &mut seen)
                .unwrap_or_default();
            let expr = match &r.expression {
                None => {
                    self.missing(
                        &path,
                        "expression",
                        "[[rate_limits]]",
                        "say which requests count, e.g. expression = 'starts_with(http.request.uri.path, \"/v1/\")' (or 'true' for all)".into(),
                    );
                    None
                }
                Some(text) => {
                    self.compile_expression(&format!("{path}.expression"), &id, text, lists)
                }
            };
            let counting = r.counting_expression.as_ref().and_then(|text| {
                let key = format!("{path}.counting_expression");
                let e = self.compile_expression(&key, &id, text, lists)?;
                let looks_at_response = e.fields().iter().any(|f| f.name().starts_with("http.response") || f.name().starts_with("raw.http.response"));
                if !looks_at_response {
                    self.warn(
                        self.index.value(&key),
                        "this counting expression never looks at the response, so it counts the same requests as `expression` would, only later",
                        Some("counting expressions are for responses, e.g. 'http.response.code in {401 403}'; remove it to count requests".into()),
                    );
                }
                Some(e)
            });
            let characteristics = self.characteristics(&path, r.characteristics.as_deref());
            let requests_per_period = match r.requests_per_period {
                None => {
                    self.missing(&path, "requests_per_period", "[[rate_limits]]", "how many requests one key may send per period, e.g. requests_per_period = 100".into());
                    1
                }
                Some(0) => {
                    self.invalid(&format!("{path}.requests_per_period"), Invalid {
                        detail: "0 requests".into(),
                        hint: Some("a limit of 0 lets nothing through: use a [[rules]] block rule for that".into()),
                    });
                    1
                }
                Some(n) if n > MAX_REQUESTS_PER_PERIOD => {
                    self.invalid(&format!("{path}.requests_per_period"), Invalid {
                        detail: format!("{n} is above {MAX_REQUESTS_PER_PERIOD}"),
                        hint: Some("use a shorter period with a proportional limit (e.g. 1000 per 60 s instead of 100000 per 6000 s)".into()),
                    });
                    1
                }
                Some(n) => n as u32,
            };
            let period_secs = match r.period_secs {
                None => {
                    self.missing(
                        &path,
                        "period_secs",
                        "[[rate_limits]]",
                        "the window the limit counts over, in seconds, e.g. period_secs = 60"
                            .into(),
                    );
                    1
                }
                Some(0) => {
                    self.invalid(
                        &format!("{path}.period_secs"),
                        Invalid {
                            detail: "a period of 0 seconds".into(),
                            hint: Some("use at least 1 second".into()),
                        },
                    );
                    1
                }
                Some(p) if p > MAX_PERIOD_SECS => {
                    self.invalid(
                        &format!("{path}.period_secs"),
                        Invalid {
                            detail: format!("{p} seconds is longer than 30 days"),
                            hint: Some("use a period of at most 2592000 seconds".into()),
                        },
                    );
                    1
                }
                Some(p) => p,
            };
            if r.mitigation_timeout_secs > MAX_PERIOD_SECS {
                self.invalid(&format!("{path}.mitigation_timeout_secs"), Invalid {
                    detail: format!("{} seconds is longer than 30 days", r.mitigation_timeout_secs),
                    hint: Some("block for at most 2592000 seconds; use an access rule for a permanent block".into()),
                });
            }
            if r.note.as_deref().is_some_and(|n| n.trim().is_empty()) {
                self.invalid(
                    &format!("{path}.note"),
                    Invalid {
                        detail: "empty text".into(),
                        hint: Some("write what the person should know, or remove the key".into()),
                    },
                );
            }
            let action = match r.action.unwrap_or(RawLimitAction::Block) {
                RawLimitAction::Block => LimitAction::Block,
                RawLimitAction::Challenge => LimitAction::Challenge,
                RawLimitAction::Log => LimitAction::Log,
            };
            let Some(expr) = expr else { continue };
            out.push(
                RateLimitRule {
                    id,
                    description: r
                        .description
                        .as_ref()
                        .map(|d| d.trim().to_owned())
                        .filter(|d| !d.is_empty()),
                    characteristics,
                    requests_per_period,
                    period: Duration::from_secs(period_secs),
                    mitigation_timeout: Duration::from_secs(
                        r.mitigation_timeout_secs.min(MAX_PERIOD_SECS),
                    ),
                    action,
                    counting,
                    disclosure: disclosure(r.disclosure),
                    note: r.note.clone(),
                    response_headers: r.response_headers.unwrap_or(true),
                },
                expr,
            );
        }
        out
    }

    fn characteristics(&mut self, path: &str, written: Option<&[String]>) -> Vec<Characteristic> {
        let Some(written) = written else {
            return vec![Characteristic::Identity];
        };
        if written.is_empty() {
            self.invalid(&format!("{path}.characteristics"), Invalid {
                detail: "an empty list".into(),
                hint: Some("remove the key to count per identity (API key, else IP), or name fields, e.g. [\"ip.src\"]".into()),
            });
            return vec![Characteristic::Identity];
        }
        let mut out = Vec::with_capacity(written.len());
        for (j, text) in written.iter().enumerate() {
            match characteristic(text.trim()) {
                Ok(c) => out.push(c),
                Err(hint) => self.error(
                    self.index.value(&format!("{path}.characteristics.{j}")),
                    format!("`{text}` is not a characteristic a counter can be kept per"),
                    Some(hint),
                ),
            }
        }
        out
    }
}

/// Parses `doorman.identity`, a scalar field name, or `map_field["name"]`.
fn characteristic(text: &str) -> Result<Characteristic, String> {
    if text == "doorman.identity" {
        return Ok(Characteristic::Identity);
    }
    let scheme = Scheme::builtin();
    if let Some((field, rest)) = text.split_once('[') {
        let name = rest
            .strip_suffix(']')
            .and_then(|r| r.strip_prefix('"'))
            .and_then(|r| r.strip_suffix('"'));
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Err(format!(
                "write the entry's name in double quotes: {field}[\"x-api-key\"]"
            ));
        };
        return match scheme.lookup(field) {
            Some(f) if ENTRY_FIELDS.contains(&f) => Ok(Characteristic::Entry {
                field: f,
                name: if f == Field::HttpRequestHeaders {
                    name.to_ascii_lowercase()
                } else {
                    name.to_owned()
                },
            }),
            _ => Err("only http.request.headers[\"…\"], http.request.cookies[\"…\"] and http.request.uri.args[\"…\"] take a name".into()),
        };
    }
    match scheme.lookup(text) {
        Some(f) if f.ty().element().is_none() && !f.name().starts_with("http.response") => {
            Ok(Characteristic::Field(f))
        }
        Some(f) if f.ty().element().is_some() => Err(format!(
            "{text} holds many values; name one entry, e.g. {text}[\"name\"], or pick a single-valued field"
        )),
        Some(_) => Err("response fields are not known when a request is counted".into()),
        None => {
            // Names people bring from other tools, which no edit distance finds.
            let alias = match text {
                "ip" | "ip.source" | "ip.addr" | "ip.address" | "client_ip" | "remote_addr"
                | "source_ip" => Some("ip.src"),
                "asn" | "ip.asn" => Some("ip.src.asnum"),
                "country" | "ip.country" => Some("ip.src.country"),
                "host" => Some("http.host"),
                "path" | "uri" => Some("http.request.uri.path"),
                "user_agent" | "http.user-agent" => Some("http.user_agent"),
                _ => None,
            };
            if let Some(field) = alias {
                return Err(format!(
                    "did you mean `{field}`? (or doorman.identity: API key, else IP)"
                ));
            }
            let names = scheme
                .fields()
                .into_iter()
                .map(|f| f.name)
                .chain(["doorman.identity"]);
            match suggest::nearest(text, names) {
                Some(near) => Err(format!("did you mean `{near}`? (or doorman.identity: API key, else IP)")),
                None => Err("use doorman.identity (API key, else IP), ip.src, ip.src.asnum, http.host, http.request.uri.path, or http.request.headers[\"name\"]".into()),
            }
        }
    }
}
