//! The gateway's own view of this client: `GET /.well-known/doorman/trace?path=P` with
//! `Accept: application/json` (Doorman's answer to Cloudflare's `/cdn-cgi/trace`). It says
//! which IP, network and country the gateway sees, the HTTP and TLS versions, the User-Agent,
//! its own time (the precise clock reading), the credential's state, and the verdict a request
//! to `P` would get (with `did_you_mean`, the public path it probably meant, when it has no route
//! for `P`), where the service's status page is (`status_page`), and the temporary bans in force
//! for this client whatever method and path started them (`bans`): a ban after failed logins
//! refuses the person's logins, and the doctor's own GETs never meet it. Every field is optional: an
//! older gateway, or another product, may send fewer; a site without the endpoint is not a
//! failure (behind Cloudflare, `cloudflare` reads `/cdn-cgi/trace` instead).

use std::time::Duration;

use serde_json::Value;

use doorman_common::when::{self, Scale};

use crate::clock::Sample;
use crate::http::{FetchError, Fetched};
use crate::{Status, Step};

/// Where Doorman serves it by default.
pub(crate) const PATH: &str = "/.well-known/doorman/trace";

/// What later steps use from the trace.
#[derive(Debug, Default)]
pub(crate) struct TraceInfo {
    pub clock: Option<Sample>,
    /// `verdict.did_you_mean`: a path the gateway has a route for, close to the one asked.
    pub did_you_mean: Option<String>,
    /// `status_page`: a path on this host (`/status`) or an absolute URL.
    pub status_page: Option<String>,
}

/// A JSON value as text, whatever its type (an ASN may be a number or a string).
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_owned()),
        _ => None,
    }
}

/// One ban of the trace's `bans`.
struct Ban {
    limit: String,
    code: Option<String>,
    counted_per: Option<String>,
    until: Option<String>,
    ends_in_s: Option<u64>,
    ray_id: Option<String>,
}

impl Ban {
    fn read(v: &Value) -> Ban {
        Ban {
            limit: text(v.get("limit")).unwrap_or_else(|| "a limit of the site".to_owned()),
            code: text(v.get("code")),
            counted_per: text(v.get("counted_per")),
            until: text(v.get("until")),
            ends_in_s: v.get("ends_in_s").and_then(Value::as_u64),
            ray_id: text(v.get("ray_id")),
        }
    }

    /// "until 2026-11-23 00:40:41 UTC (in 2 minutes)": the end by the server's clock, and how
    /// long that is by the server's count, so a wrong local clock does not mislead.
    fn until_words(&self) -> String {
        let at = self
            .until
            .as_deref()
            .and_then(|text| when::parse_rfc3339_lenient(text).ok())
            .map(when::human_utc);
        match (at, self.ends_in_s) {
            (Some(at), Some(left)) => format!(
                "until {at} (in {})",
                when::span_words(Duration::from_secs(left), Scale::TWO_OF_THE_NEXT)
            ),
            (Some(at), None) => format!("until {at}"),
            (None, Some(left)) => format!(
                "for {} more",
                when::span_words(Duration::from_secs(left), Scale::TWO_OF_THE_NEXT)
            ),
            (None, None) => "for a while".to_owned(),
        }
    }

    fn fact(&self) -> String {
        let mut out = match &self.code {
            Some(code) => format!("{} ({code})", self.limit),
            None => self.limit.clone(),
        };
        if let Some(who) = &self.counted_per {
            out.push_str(&format!(", counted per {who}"));
        }
        out.push_str(&format!(", {}", self.until_words()));
        out
    }

    fn fix(&self, trace_ray: Option<&str>) -> String {
        let whom = match &self.counted_per {
            Some(who) => format!("requests from {who}"),
            None => "your requests".to_owned(),
        };
        let code = self
            .code
            .as_deref()
            .map_or_else(String::new, |c| format!(" ({c})"));
        let ray = match (&self.ray_id, trace_ray) {
            (Some(r), _) => format!("quote Ray ID {r} (the request that started the ban)"),
            (None, Some(r)) => format!("quote Ray ID {r}"),
            (None, None) => "quote the Ray IDs below".to_owned(),
        };
        // The ban refuses what the limit counts (logins, say), not necessarily the pages this
        // check asked for: which requests those are is the rule's, and only its words are public.
        format!(
            "the site has paused {whom} that fall under its limit \"{}\"{code} {}: those are refused until then, even if this check's own requests got through. Wait until then before trying again; if you think it is a mistake, contact the site's support and {ray}",
            self.limit,
            self.until_words(),
        )
    }
}

/// The trace step. `own_headers`: the requests carried the doctor's own headers, so a bot
/// check's refusal is about the doctor rather than the person's browser.
pub(crate) fn step(
    res: Option<&Result<Fetched, FetchError>>,
    path: &str,
    own_headers: bool,
) -> (Step, Option<TraceInfo>) {
    let Some(res) = res else {
        return (
            Step::skipped("trace", "the request to the site got no answer"),
            None,
        );
    };
    let f = match res {
        Ok(f) => f,
        Err(e) => {
            let mut step = Step::new("trace");
            step.fact("error", e.what.clone());
            step.warn(None);
            return (step, None);
        }
    };
    if f.status.as_u16() == 404 {
        let mut step = Step::skipped("trace", "this site's gateway has no trace endpoint");
        step.fact("answer", format!("404 from GET {PATH}"));
        return (step, None);
    }
    let json = f.json().filter(|v| v.is_object() && f.status.is_success());
    let Some(v) = json else {
        let mut step = Step::skipped(
            "trace",
            "this site's gateway has no trace endpoint (no JSON trace answer)",
        );
        step.fact("answer", format!("{} from GET {PATH}", f.status.as_u16()));
        return (step, None);
    };

    let mut step = Step::new("trace");
    let get = |k: &str| text(v.get(k));
    if let Some(ip) = get("ip") {
        step.fact("your IP as seen", ip);
    }
    match (get("asn"), get("as_org")) {
        (Some(asn), Some(org)) => step.fact("network", format!("AS{asn} ({org})")),
        (Some(asn), None) => step.fact("network", format!("AS{asn}")),
        (None, Some(org)) => step.fact("network", org),
        (None, None) => {}
    }
    // Lists the operator chose to disclose: the likeliest reason for a refusal to come.
    if let Some(Value::Array(lists)) = v.get("lists") {
        for l in lists {
            let Some(name) = l.get("name").and_then(Value::as_str) else {
                continue;
            };
            let words = match l.get("description").and_then(Value::as_str) {
                Some(d) => format!("{name} ({d})"),
                None => name.to_owned(),
            };
            step.fact("on the list", words);
        }
    }
    // Bans in force whatever method and path started them: a page load can pass while the
    // person is banned, after failed logins say, so this is read whatever the verdict below.
    let bans: Vec<Ban> = match v.get("bans") {
        Some(Value::Array(list)) => {
            if list.is_empty() {
                step.fact("temporary bans", "none");
            }
            list.iter()
                .filter(|b| b.is_object())
                .map(Ban::read)
                .collect()
        }
        _ => Vec::new(),
    };
    for ban in &bans {
        step.fact("temporary ban", ban.fact());
    }
    for (key, label) in [
        ("country", "country"),
        ("http", "HTTP"),
        ("tls", "TLS"),
        ("sni", "SNI"),
        ("ja4", "JA4"),
        ("user_agent", "user agent"),
        ("clearance", "clearance"),
    ] {
        if let Some(value) = get(key) {
            step.fact(label, value);
        }
    }
    let server_ms = v.get("server_time_ms").and_then(Value::as_i64);
    if let Some(ms) = server_ms {
        step.fact("server time", when::rfc3339_ms(ms));
    }
    if let Some(c) = v.get("credential").filter(|c| c.is_object()) {
        let presented = c.get("presented").and_then(Value::as_bool);
        let valid = c.get("valid").and_then(Value::as_bool);
        let described = match (presented, valid) {
            (Some(false), _) => "none sent".to_owned(),
            (_, Some(true)) => {
                let how = [text(c.get("method")), text(c.get("display"))]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                if how.is_empty() {
                    "valid".to_owned()
                } else {
                    format!("valid ({how})")
                }
            }
            (_, Some(false)) => format!(
                "refused: {} {}",
                text(c.get("code")).unwrap_or_default(),
                text(c.get("reason")).unwrap_or_default()
            )
            .trim_end()
            .to_owned(),
            _ => "unknown".to_owned(),
        };
        step.fact("credential", described);
    }
    if let Some(ray) = get("ray_id") {
        step.fact("ray id", ray);
    }
    let status_page = get("status_page");
    if let Some(page) = &status_page {
        step.fact("status page", page.clone());
    }
    let mut did_you_mean = None;
    let mut refused_code = None;
    if let Some(verdict) = v.get("verdict").filter(|x| x.is_object()) {
        let asked = text(verdict.get("path")).unwrap_or_else(|| path.to_owned());
        did_you_mean = text(verdict.get("did_you_mean")).filter(|p| p.starts_with('/'));
        match verdict.get("allowed").and_then(Value::as_bool) {
            Some(true) => step.fact(format!("verdict for {asked}"), "allowed"),
            Some(false) => {
                let code = text(verdict.get("code")).unwrap_or_else(|| "denied".to_owned());
                let reason = text(verdict.get("reason")).unwrap_or_default();
                step.fact(
                    format!("verdict for {asked}"),
                    format!("refused: {code} {reason}").trim_end().to_owned(),
                );
                // The reason is a sentence; the fix continues after it.
                let reason = reason.trim_end_matches('.');
                let reason = if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                };
                // A bot check judged the doctor's own headers, not the person's browser.
                let about_doctor = own_headers
                    && (code == "1010" || reason.contains(&crate::http::doctor_agent()));
                step.fail(match &did_you_mean {
                    Some(better) => format!(
                        "the gateway would refuse {asked} ({code}){reason}; did you mean {better}?"
                    ),
                    None if about_doctor => format!(
                        "the gateway would refuse {asked} ({code}) to the doctor's own request{reason}. This is about the doctor's headers, not your browser: to check what your browser gets, run the doctor again with --browser (or --headers-from FILE with your browser's request headers)"
                    ),
                    None => format!(
                        "the gateway would refuse {asked} ({code}){reason}: see the HTTP step's remedies, and quote the Ray ID to the site's support if you think it is wrong"
                    ),
                });
                refused_code = Some(code);
            }
            None => {}
        }
        if let Some(better) = &did_you_mean {
            step.fact("did you mean", better.clone());
        }
    }
    // The ban that ends last decides when the person can come back.
    if let Some(ban) = bans.iter().max_by_key(|b| b.ends_in_s.unwrap_or(u64::MAX)) {
        let fix = ban.fix(get("ray_id").as_deref());
        let fix = match (&refused_code, &step.fix) {
            // The verdict's refusal has another cause: both matter.
            (Some(code), Some(first)) if ban.code.as_ref() != Some(code) => {
                format!("{first}. Besides, {fix}")
            }
            _ => fix,
        };
        step.fail(fix);
    }
    if step.facts.is_empty() {
        step.status = Status::Skip;
        step.fact(
            "skipped",
            "the trace answer had none of the expected fields",
        );
    }
    let clock = server_ms.map(|ms| {
        let half = i64::try_from(f.rtt.as_millis() / 2).unwrap_or(i64::MAX / 4);
        Sample {
            source: format!("server_time_ms of GET {PATH} (half the round trip corrected)"),
            server_ms: ms,
            local_ms: f.sent_ms + half,
            uncertainty_ms: half.max(1),
        }
    });
    (
        step,
        Some(TraceInfo {
            clock,
            did_you_mean,
            status_page,
        }),
    )
}
