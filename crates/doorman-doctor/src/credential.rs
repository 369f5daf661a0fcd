//! "Verify your API key", answered by the gateway itself: `GET /.well-known/doorman/whoami?path=P`
//! with the key as `Authorization: Bearer`. Doorman says whether the key is valid (or the exact
//! rejection: code, reason, remedy), its scopes and expiry, the route `P` would take and what it
//! requires, and the rate limits that would count the request with what is left — looked at,
//! not spent.

use std::time::Duration;

use serde_json::Value;

use doorman_common::when::{self, Scale};

use crate::Step;
use crate::http::{FetchError, Fetched};
use crate::trace::text;

/// Where Doorman serves it by default.
pub(crate) const PATH: &str = "/.well-known/doorman/whoami";

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| text(Some(x))).collect())
        .unwrap_or_default()
}

/// The credential step.
pub(crate) fn step(res: Option<&Result<Fetched, FetchError>>, path: &str, now_ms: i64) -> Step {
    let Some(res) = res else {
        return Step::skipped(
            "credential",
            "no --api-key given (give one to check it against the site)",
        );
    };
    let mut step = Step::new("credential");
    let f = match res {
        Ok(f) => f,
        Err(e) => {
            step.fact("error", e.what.clone());
            step.warn(Some(
                "the key could not be checked: run the doctor again".to_owned(),
            ));
            return step;
        }
    };
    let Some(v) = f
        .json()
        .filter(|v| f.status.is_success() && v.get("credential").is_some())
    else {
        step.fact("answer", format!("{} from GET {PATH}", f.status.as_u16()));
        step.warn(Some(
            "this site has no whoami endpoint, so the key could not be checked here: try it on a request that needs it and read the answer"
                .to_owned(),
        ));
        return step;
    };
    let c = &v["credential"];
    match (
        c.get("presented").and_then(Value::as_bool),
        c.get("valid").and_then(Value::as_bool),
    ) {
        (Some(false), _) => {
            step.fact("key", "the gateway saw no key");
            step.fail("the key did not reach the gateway: check that it is not empty, and that nothing between you and the site removes the Authorization header");
            return step;
        }
        (_, Some(false)) => {
            let code = text(c.get("code")).unwrap_or_else(|| "refused".to_owned());
            step.fact("key", format!("refused: {code}"));
            if let Some(reason) = text(c.get("reason")) {
                step.fact("reason", reason);
            }
            let remedy = text(c.get("remedy"))
                .unwrap_or_else(|| "ask the site's operator for a working key".to_owned());
            step.fact("remedy", remedy.clone());
            step.fail(format!("{code}: {remedy}"));
            return step;
        }
        (_, Some(true)) => {}
        _ => {
            step.fact("key", "the answer does not say whether the key is valid");
            step.warn(None);
            return step;
        }
    }

    step.fact("key", "valid");
    for (key, label) in [
        ("method", "method"),
        ("display", "shown as"),
        ("key_id", "key id"),
        ("name", "name"),
        ("subject", "subject"),
    ] {
        if let Some(value) = text(c.get(key)) {
            step.fact(label, value);
        }
    }
    let scopes = strings(c.get("scopes"));
    step.fact(
        "scopes",
        if scopes.is_empty() {
            "(none)".to_owned()
        } else {
            scopes.join(", ")
        },
    );
    match text(c.get("expires_at")) {
        None => step.fact("expires", "never"),
        Some(at) => {
            let left = when::parse_rfc3339_lenient(&at)
                .ok()
                .map(|end_ms| end_ms.div_euclid(1000) - now_ms.div_euclid(1000));
            match left {
                Some(left) if left >= 0 => {
                    step.fact(
                        "expires",
                        format!(
                            "{at} (in {})",
                            when::span_words(
                                Duration::from_secs(left.unsigned_abs()),
                                Scale::TWO_OF_THE_NEXT
                            )
                        ),
                    );
                    if left < 7 * 86_400 {
                        step.warn(Some(format!(
                            "the key expires in {}: get a new one (or ask the operator to rotate it) before then",
                            when::span_words(Duration::from_secs(left.unsigned_abs()), Scale::TWO_OF_THE_NEXT)
                        )));
                    }
                }
                _ => step.fact("expires", at),
            }
        }
    }

    let asked = text(v.get("path")).unwrap_or_else(|| path.to_owned());
    if let Some(route) = v.get("route").filter(|r| r.is_object()) {
        step.fact(
            format!("route for {asked}"),
            text(route.get("name")).unwrap_or_else(|| "(unnamed)".to_owned()),
        );
        if let Some(req) = route.get("requires").filter(|r| r.is_object()) {
            let methods = strings(req.get("methods"));
            let needed = strings(req.get("scopes"));
            step.fact(
                "route requires",
                format!(
                    "{}{}",
                    if methods.is_empty() {
                        "a credential".to_owned()
                    } else {
                        methods.join(" or ")
                    },
                    if needed.is_empty() {
                        String::new()
                    } else {
                        format!(" with scopes {}", needed.join(", "))
                    }
                ),
            );
        }
    }
    if let Some(d) = v.get("decision").filter(|d| d.is_object()) {
        if d.get("allowed").and_then(Value::as_bool) == Some(false) {
            let code = text(d.get("code")).unwrap_or_else(|| "refused".to_owned());
            let reason = text(d.get("reason")).unwrap_or_default();
            step.fact(
                format!("decision for {asked}"),
                format!("refused: {code} {reason}").trim_end().to_owned(),
            );
            step.fail(format!(
                "the key is valid but {asked} is refused ({code}){}",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            ));
        } else {
            step.fact(format!("decision for {asked}"), "allowed");
        }
    }
    for limit in v
        .get("rate_limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = text(limit.get("id")).unwrap_or_else(|| "?".to_owned());
        let quota = text(limit.get("limit")).unwrap_or_default();
        let per = text(limit.get("counted_per")).unwrap_or_default();
        let state = limit.get("state");
        let s = |k: &str| state.and_then(|x| x.get(k));
        let described = if s("unavailable").and_then(Value::as_bool) == Some(true) {
            "state unavailable (the shared counter store does not answer)".to_owned()
        } else {
            let remaining = text(s("remaining")).unwrap_or_else(|| "?".to_owned());
            let full = s("full_again_in_s").and_then(Value::as_u64);
            let blocked = s("blocked").and_then(Value::as_bool) == Some(true);
            if blocked {
                let wait = full.map_or_else(
                    || "a while".to_owned(),
                    |s| when::span_words(Duration::from_secs(s), Scale::TWO_OF_THE_NEXT),
                );
                step.fail(format!(
                    "the rate limit `{id}` is used up for this key: wait {wait} before trying again, and slow down"
                ));
                format!("used up: 0 left, full again in {wait}")
            } else {
                format!(
                    "{remaining} left{}",
                    full.filter(|&s| s > 0)
                        .map_or_else(String::new, |s| format!(
                            ", full again in {}",
                            when::span_words(Duration::from_secs(s), Scale::TWO_OF_THE_NEXT)
                        ))
                )
            }
        };
        let what = [quota, per]
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(", counted per ");
        step.fact(
            format!("rate limit {id}"),
            if what.is_empty() {
                described
            } else {
                format!("{what}: {described}")
            },
        );
    }
    step
}
