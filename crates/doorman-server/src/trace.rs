//! `GET /.well-known/doorman/trace`: what the gateway sees of the client, in the spirit of
//! Cloudflare's `/cdn-cgi/trace` — the IP after trusted-proxy resolution, its network and
//! country, HTTP and TLS versions, the User-Agent, the server's time (for clock checks), the
//! credential's state, the verdict a request to `?path=` would get, and the temporary bans in
//! force for this client whatever method and path started them (`bans`). `key=value` lines by
//! default, JSON with `Accept: application/json`. `doorman doctor` reads the JSON.
//!
//! It answers the seeds' "check your connection", "test from another network" and "sync your
//! clock" with facts instead of guesses. Nothing here is secret to the client it describes;
//! rule internals stay behind the receipt's disclosure setting.

use bytes::Bytes;
use doorman_common::when;
use doorman_core::auth::AuthFacts;
use doorman_core::ratelimit::{LimitAction, client_key, denial_code};
use doorman_core::{Disclosure, Policy, RequestFacts, Verdict};
use http::{Response, StatusCode, Version, header};
use serde_json::{Map, Value, json};

use crate::body::ProxyBody;
use crate::gateway::{Gateway, Runtime};

/// The trace answer for this request.
pub async fn answer(gw: &Gateway, rt: &Runtime, facts: &RequestFacts<'_>) -> Response<ProxyBody> {
    let policy = &rt.config.policy;
    let info = policy.firewall.intel.lookup(facts.client_ip);
    let path = crate::whoami::asked_path(facts);
    let (decision, _) = crate::whoami::what_if(gw, facts, policy, &path).await;
    let mut verdict = match &decision.verdict {
        Verdict::Allow(_) => json!({ "path": path, "allowed": true }),
        Verdict::Deny(r) => json!({
            "path": path,
            "allowed": false,
            "code": r.code.as_str(),
            "reason": doorman_core::render::public_reason(r),
        }),
    };
    if let Some(better) = policy.did_you_mean(&facts.host, &path) {
        verdict["did_you_mean"] = json!(better);
    }
    let credential = match facts.auth {
        AuthFacts::None => json!({ "presented": false }),
        AuthFacts::Verified(i) => {
            json!({ "presented": true, "valid": true, "method": i.method.spec(), "display": i.display })
        }
        AuthFacts::Rejected(f) => {
            json!({ "presented": true, "valid": false, "code": f.code.as_str(), "reason": f.reason })
        }
    };
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            out.insert(k.to_owned(), v);
        }
    };
    put("ray_id", json!(facts.ray_id.to_string()));
    put("ip", json!(facts.client_ip.to_string()));
    put("asn", json!(info.asn));
    put("as_org", json!(info.as_org));
    put("country", json!(info.country));
    // Only lists the operator marked `disclose`: membership of some lists is itself sensitive.
    let on_lists: Vec<Value> = policy
        .firewall
        .lists
        .iter()
        .filter(|l| {
            l.disclose
                && (l.contains_ip(facts.client_ip)
                    || info.asn.is_some_and(|asn| l.contains_asn(asn)))
        })
        .map(|l| json!({ "name": l.name, "description": l.description }))
        .collect();
    if !on_lists.is_empty() {
        put("lists", Value::Array(on_lists));
    }
    // Always there, empty or not: a client can tell "no ban" from a gateway that does not say.
    put("bans", Value::Array(bans(gw, policy, facts)));
    put("host", json!(facts.host));
    put("http", json!(version_word(facts.version)));
    put("scheme", json!(facts.scheme.as_str()));
    put("tls", json!(facts.tls.map(|t| t.version.clone())));
    put("sni", json!(facts.tls.and_then(|t| t.sni.clone())));
    put("ja4", json!(facts.tls.and_then(|t| t.ja4.clone())));
    put("clearance", json!(facts.clearance.state()));
    put(
        "user_agent",
        json!(
            facts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
        ),
    );
    put("server_time_ms", json!(when::unix_ms(facts.now)));
    put("credential", credential);
    put("verdict", verdict);
    put("status_page", json!(policy.site.status_page_url));
    put("node", json!(policy.node.as_ref()));

    let wants_json = facts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("json"));
    let (body, content_type) = if wants_json {
        (
            serde_json::to_string_pretty(&Value::Object(out)).unwrap_or_default() + "\n",
            "application/json",
        )
    } else {
        (lines(&out), "text/plain; charset=utf-8")
    };
    let mut resp = Response::new(crate::body::full(Bytes::from(body)));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// The temporary bans in force for this client, whatever method and path started them: a ban
/// after failed `POST /login`s refuses the person's logins, yet the what-if GET of `?path=` never
/// meets the login rule, so the verdict alone would say all is well. Read from the gateway's ban list with the key this client has under each
/// rule with a mitigation timeout; nothing is counted. Only rules kept per who the client is
/// (identity, IP and what follows from it) can be matched this way: a ban of a rule kept per a
/// path, a header or a cookie belongs to a value another request had, so it is left out here and
/// shows only when `?path=` meets it, in the verdict. `log` rules refuse nothing, so their
/// "bans" are not reported.
///
/// Each ban speaks as its receipt would: the rule's description (never its expression) and the
/// counter's owner ("your IP address 203.0.113.7") only when the rule's disclosure is public;
/// otherwise the code's title alone. With Redis, the list holds the bans this gateway has seen.
fn bans(gw: &Gateway, policy: &Policy, facts: &RequestFacts<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for (rule, _) in policy.rate_limits.iter() {
        if rule.mitigation_timeout.is_zero() || rule.action == LimitAction::Log {
            continue;
        }
        let Some(key) = client_key(rule, facts, policy) else {
            continue;
        };
        let Some(ban) = gw.limiter.ban(&rule.id, key.hash, facts.now) else {
            continue;
        };
        let code = denial_code(rule);
        let left = ban.until.duration_since(facts.now).unwrap_or_default();
        let mut entry = Map::new();
        match rule.disclosure {
            Disclosure::Public => {
                entry.insert(
                    "limit".into(),
                    json!(rule.description.as_deref().unwrap_or(code.title())),
                );
                entry.insert(
                    "counted_per".into(),
                    json!(format!("your {} {}", ban.kind, ban.shown)),
                );
            }
            Disclosure::Hint | Disclosure::Private => {
                entry.insert("limit".into(), json!(code.title()));
            }
        }
        entry.insert("code".into(), json!(code.as_str()));
        entry.insert(
            "until".into(),
            json!(when::rfc3339(when::unix_ms(ban.until))),
        );
        entry.insert("ends_in_s".into(), json!(left.as_millis().div_ceil(1000)));
        // The request that started it: what the site's support looks up.
        entry.insert("ray_id".into(), json!(ban.ray));
        out.push(Value::Object(entry));
    }
    out
}

/// `key=value` lines; nested objects flatten to `key.sub=value`.
fn lines(map: &Map<String, Value>) -> String {
    let mut out = String::new();
    for (k, v) in map {
        match v {
            Value::Object(inner) => {
                for (k2, v2) in inner {
                    out.push_str(&format!("{k}.{k2}={}\n", scalar(v2)));
                }
            }
            Value::Array(items) if items.is_empty() => {}
            // Lists by name, comma-separated, as Cloudflare's trace would write them; bans by
            // their limit's words and end.
            Value::Array(items) => {
                let names: Vec<String> = items
                    .iter()
                    .map(|i| match (i.get("name"), i.get("limit"), i.get("until")) {
                        (Some(name), _, _) => scalar(name),
                        (None, Some(limit), Some(until)) => {
                            format!("{} until {}", scalar(limit), scalar(until))
                        }
                        _ => scalar(i),
                    })
                    .collect();
                out.push_str(&format!("{k}={}\n", names.join(",")));
            }
            other => out.push_str(&format!("{k}={}\n", scalar(other))),
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.replace('\n', " "),
        other => other.to_string(),
    }
}

fn version_word(v: Version) -> &'static str {
    match v {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}
