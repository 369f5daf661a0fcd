//! The service's own word on its health: a Statuspage-compatible status page (Atlassian
//! Statuspage, incident.io's compatible API, Doorman's `doorman-status`). When a site fails for
//! everyone, no fix on the person's side helps, and the status page is where that is said; the
//! doctor reads it so the report can say "the service is down, follow this page" instead of
//! sending the person after their own network.
//!
//! The page comes from `--status-url`, else from the Doorman trace's `status_page` (a path on
//! the same host, or an absolute URL). The doctor asks `{base}/api/v2/summary.json` (status,
//! components, unresolved incidents, maintenance), and `{base}/api/v2/status.json` when the
//! summary is not there; a page on another host gets a connection of its own. An unreachable
//! page is a warning, never a failure: it says nothing about the site.

use std::time::Duration;

use serde_json::Value;

use doorman_common::when::{self, Scale};

use crate::http::{self, Connector, FetchError, Fetched};
use crate::target::Target;
use crate::trace::text;
use crate::{Options, Status, Step};

/// Where the status page is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Base {
    /// A path on the diagnosed host, without a trailing `/` (may be empty: the root).
    SameHost(String),
    /// An absolute URL, without a trailing `/`.
    Url(String),
}

/// How the doctor learned of the page, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Flag,
    Trace,
}

/// The path part of a URL or path, without query, fragment or trailing `/`.
fn trim_base(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.trim_end_matches('/').to_owned()
}

/// The status page to read: `--status-url` first, then the trace's `status_page`.
pub(crate) fn base(flag: Option<&str>, from_trace: Option<&str>) -> Option<(Base, Source)> {
    if let Some(url) = flag {
        let url = url.trim();
        // A bad URL still gets a step, whose error says what is wrong with it.
        return Some(match Target::parse(url) {
            Ok(t) => (
                Base::Url(format!(
                    "{}://{}{}",
                    t.scheme.as_str(),
                    t.authority(),
                    trim_base(&t.path)
                )),
                Source::Flag,
            ),
            Err(_) => (Base::Url(url.to_owned()), Source::Flag),
        });
    }
    let page = from_trace?.trim();
    if page.starts_with('/') && !page.starts_with("//") {
        Some((Base::SameHost(trim_base(page)), Source::Trace))
    } else if page.starts_with("http://") || page.starts_with("https://") {
        let t = Target::parse(page).ok()?;
        Some((
            Base::Url(format!(
                "{}://{}{}",
                t.scheme.as_str(),
                t.authority(),
                trim_base(&t.path)
            )),
            Source::Trace,
        ))
    } else {
        None
    }
}

/// What was read, for [`step`].
#[derive(Debug)]
pub(crate) struct Checked {
    /// The page's base URL, for people.
    pub base_url: String,
    pub source: Source,
    /// The URL asked last, and its outcome.
    pub asked: String,
    pub result: Result<Fetched, FetchError>,
}

async fn get(
    base: &Base,
    endpoint: &str,
    target: &Target,
    connector: Option<&Connector>,
    opts: &Options,
) -> (String, Result<Fetched, FetchError>) {
    let headers = http::plain_headers("application/json");
    match base {
        Base::Url(url) => {
            let full = format!("{url}{endpoint}");
            let res = http::get_url(&full, opts, &headers).await;
            (full, res)
        }
        Base::SameHost(path) => {
            let path = format!("{path}{endpoint}");
            let full = target.url_of(&path);
            let res = match connector {
                Some(c) => c.get(target, &path, &headers, opts.clock_skew_ms).await,
                None => Err(FetchError::new(format!(
                    "no connection to {} to read it over",
                    target.authority()
                ))),
            };
            (full, res)
        }
    }
}

impl Checked {
    /// The page a person should follow: the page's own `page.url` when it gave one, else the
    /// base URL asked.
    pub(crate) fn follow_url(&self) -> String {
        self.result
            .as_ref()
            .ok()
            .and_then(|f| serde_json::from_slice::<Value>(&f.body).ok())
            .and_then(|v| text(v["page"].get("url")))
            .map_or_else(|| self.base_url.clone(), |u| absolute(u, &self.base_url))
    }
}

/// A usable Statuspage answer: a JSON object with a `status` or `page`.
fn usable(res: &Result<Fetched, FetchError>) -> bool {
    res.as_ref().is_ok_and(|f| {
        f.status.is_success()
            && serde_json::from_slice::<Value>(&f.body)
                .is_ok_and(|v| v.get("status").is_some() || v.get("page").is_some())
    })
}

/// Reads the page: the summary, else the bare status.
pub(crate) async fn check(
    base: &Base,
    source: Source,
    target: &Target,
    connector: Option<&Connector>,
    opts: &Options,
) -> Checked {
    let base_url = match base {
        Base::Url(url) => url.clone(),
        Base::SameHost(path) => target.url_of(if path.is_empty() { "/" } else { path }),
    };
    let (asked, result) = get(base, "/api/v2/summary.json", target, connector, opts).await;
    if usable(&result) {
        return Checked {
            base_url,
            source,
            asked,
            result,
        };
    }
    // Some pages serve only the status; a failed connection is not worth a second try.
    if result.is_ok() {
        let (asked2, result2) = get(base, "/api/v2/status.json", target, connector, opts).await;
        if usable(&result2) {
            return Checked {
                base_url,
                source,
                asked: asked2,
                result: result2,
            };
        }
    }
    Checked {
        base_url,
        source,
        asked,
        result,
    }
}

/// A link the page gave, made absolute against the page's base URL: Doorman's own page writes
/// `url` and `shortlink` as paths (`/status`), which a person cannot follow from a report.
fn absolute(link: String, base_url: &str) -> String {
    if !link.starts_with('/') || link.starts_with("//") {
        return link;
    }
    let origin_end = base_url
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base_url[start..].find('/').map(|j| start + j))
        .unwrap_or(base_url.len());
    format!("{}{link}", &base_url[..origin_end])
}

/// A Statuspage enum value in words: `major_outage` → `major outage`.
fn words(s: &str) -> String {
    s.replace('_', " ")
}

/// At most `max` characters of a text, on one line.
fn shorten(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

fn ago(at: Option<&str>, now_s: i64) -> Option<String> {
    let then = when::parse_rfc3339_lenient(at?).ok()?.div_euclid(1000);
    let d = now_s - then;
    Some(if d >= 0 {
        format!(
            "{} ago",
            when::span_words(
                Duration::from_secs(d.unsigned_abs()),
                Scale::TWO_OF_THE_NEXT
            )
        )
    } else {
        format!(
            "in {}",
            when::span_words(
                Duration::from_secs(d.unsigned_abs()),
                Scale::TWO_OF_THE_NEXT
            )
        )
    })
}

/// The status step from what was read, and whether the page reports trouble that can explain a
/// failure of the site (an outage, an incident, maintenance).
pub(crate) fn step(c: &Checked, now_s: i64) -> (Step, bool) {
    let mut step = Step::new("status");
    step.fact(
        "found via",
        match c.source {
            Source::Flag => "--status-url",
            Source::Trace => "the gateway's trace (status_page)",
        },
    );
    let f = match &c.result {
        Ok(f) => f,
        Err(e) => {
            step.fact("read", format!("GET {}", c.asked));
            step.fact("error", e.what.clone());
            step.warn(Some(format!(
                "the status page {} could not be read: check the URL (a Statuspage-compatible page's base, e.g. https://status.example.com), or open it in a browser",
                c.base_url
            )));
            return (step, false);
        }
    };
    step.fact("read", format!("GET {} ({})", c.asked, f.status.as_u16()));
    let json = serde_json::from_slice::<Value>(&f.body)
        .ok()
        .filter(|v| v.is_object() && f.status.is_success());
    let Some(v) = json else {
        if c.source == Source::Trace {
            // The operator's page is not Statuspage-compatible: nothing for this person to fix,
            // and nothing the doctor can read.
            step.status = Status::Skip;
            step.fact(
                "skipped",
                format!(
                    "{} has no Statuspage API ({} from it): open it in a browser",
                    c.base_url,
                    f.status.as_u16()
                ),
            );
            return (step, false);
        }
        step.warn(Some(format!(
            "{} answered {} without Statuspage JSON: check that {} is the base of a Statuspage-compatible page (its API lives at /api/v2/status.json)",
            c.asked,
            f.status.as_u16(),
            c.base_url
        )));
        return (step, false);
    };
    judge(step, &v, &c.base_url, now_s)
}

/// Reads a Statuspage document into the step.
fn judge(mut step: Step, v: &Value, base_url: &str, now_s: i64) -> (Step, bool) {
    let page = &v["page"];
    let follow =
        text(page.get("url")).map_or_else(|| base_url.to_owned(), |u| absolute(u, base_url));
    match text(page.get("name")) {
        Some(name) => step.fact("page", format!("{name} ({follow})")),
        None => step.fact("page", follow.clone()),
    }
    let description = text(v["status"].get("description"));
    let mut indicator = text(v["status"].get("indicator"));

    // Components that are not operational (groups repeat their worst member: skipped).
    let mut worst_component = None;
    for comp in v
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if comp.get("group").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let Some(state) = text(comp.get("status")).filter(|s| s != "operational") else {
            continue;
        };
        let name = text(comp.get("name")).unwrap_or_else(|| "(unnamed)".to_owned());
        let rank = match state.as_str() {
            "major_outage" => 3,
            "partial_outage" => 2,
            "degraded_performance" => 1,
            _ => 0,
        };
        worst_component = worst_component.max(Some(rank));
        step.fact(format!("component {name}"), words(&state));
    }
    // Unresolved incidents, with their latest update.
    let mut first_incident = None;
    for inc in v
        .get("incidents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let state = text(inc.get("status")).unwrap_or_default();
        if matches!(state.as_str(), "resolved" | "postmortem" | "completed") {
            continue;
        }
        let name = text(inc.get("name")).unwrap_or_else(|| "(unnamed)".to_owned());
        let mut line = format!("{name} — {}", words(&state));
        if let Some(impact) = text(inc.get("impact")).filter(|i| i != "none") {
            line.push_str(&format!(", {impact} impact"));
        }
        if let Some(since) = ago(
            text(inc.get("started_at"))
                .or_else(|| text(inc.get("created_at")))
                .as_deref(),
            now_s,
        ) {
            line.push_str(&format!(", started {since}"));
        }
        let updates = inc
            .get("incident_updates")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Statuspage lists the newest first; the dates decide when they parse.
        let latest = updates
            .iter()
            .max_by_key(|u| {
                text(u.get("created_at")).and_then(|t| when::parse_rfc3339_lenient(&t).ok())
            })
            .or(updates.first());
        if let Some(u) = latest
            && let Some(body) = text(u.get("body"))
        {
            let when = ago(text(u.get("created_at")).as_deref(), now_s)
                .map_or_else(String::new, |a| format!(" ({a})"));
            line.push_str(&format!("; latest update{when}: {}", shorten(&body, 200)));
        }
        if let Some(link) = text(inc.get("shortlink")) {
            line.push_str(&format!(" <{}>", absolute(link, base_url)));
        }
        first_incident.get_or_insert_with(|| name.clone());
        step.fact("incident", line);
    }
    // Maintenance under way.
    let mut maintenance = None;
    for m in v
        .get("scheduled_maintenances")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let state = text(m.get("status")).unwrap_or_default();
        if !matches!(state.as_str(), "in_progress" | "verifying") {
            continue;
        }
        let name = text(m.get("name")).unwrap_or_else(|| "(unnamed)".to_owned());
        let until =
            text(m.get("scheduled_until")).map_or_else(String::new, |u| format!(", until {u}"));
        maintenance.get_or_insert_with(|| name.clone());
        step.fact("maintenance", format!("{name} — {}{until}", words(&state)));
    }

    // Without an indicator, the worst component decides (Statuspage computes it the same way).
    if indicator.is_none() {
        indicator = match worst_component {
            Some(3) => Some("major".to_owned()),
            Some(1 | 2) => Some("minor".to_owned()),
            Some(_) => Some("maintenance".to_owned()),
            None if maintenance.is_some() => Some("maintenance".to_owned()),
            None if v.get("components").is_some() => Some("none".to_owned()),
            None => None,
        };
    }
    let said = match (&description, &indicator) {
        (Some(d), Some(i)) => format!("{d} (indicator {i})"),
        (Some(d), None) => d.clone(),
        (None, Some(i)) => format!("indicator {i}"),
        (None, None) => "not stated".to_owned(),
    };
    step.fact("status", said);
    // What the fix names: the incident, else the description.
    let what = match (&first_incident, &description) {
        (Some(inc), Some(d)) => format!("{d}: {inc}"),
        (Some(inc), None) => inc.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => indicator.clone().unwrap_or_default(),
    };
    let outage = match indicator.as_deref() {
        Some("none") => false,
        Some("major" | "critical") => {
            step.fail(format!(
                "the service itself is having an outage ({what}): nothing on your side will fix it; follow {follow} and try again when it is resolved"
            ));
            true
        }
        Some("maintenance") => {
            step.warn(Some(format!(
                "the service is under maintenance ({}): some things may not work until it ends; follow {follow}",
                maintenance.as_deref().unwrap_or(&what)
            )));
            true
        }
        Some("minor") => {
            step.warn(Some(format!(
                "the service reports a minor outage ({what}): parts of it may be slow or failing, and nothing on your side will fix that; follow {follow}"
            )));
            true
        }
        other => {
            step.warn(Some(format!(
                "the status page's indicator is {} (expected none, minor, major, critical or maintenance): read {follow} yourself",
                other.unwrap_or("missing")
            )));
            false
        }
    };
    if step.status == Status::Ok && first_incident.is_some() {
        // Indicator "none" with an open incident: worth a look, not a failure.
        step.warn(Some(format!(
            "the page says {} but lists an open incident: follow {follow}",
            description.as_deref().unwrap_or("all is well")
        )));
    }
    (step, outage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases() {
        assert_eq!(
            base(Some("https://status.example.com/"), Some("/status")),
            Some((
                Base::Url("https://status.example.com".to_owned()),
                Source::Flag
            ))
        );
        assert_eq!(
            base(None, Some("/status/")),
            Some((Base::SameHost("/status".to_owned()), Source::Trace))
        );
        assert_eq!(
            base(None, Some("http://127.0.0.1:8080/s?x=1")),
            Some((
                Base::Url("http://127.0.0.1:8080/s".to_owned()),
                Source::Trace
            ))
        );
        assert_eq!(base(None, Some("status")), None);
        assert_eq!(
            absolute("/status".to_owned(), "http://127.0.0.1:8080/status"),
            "http://127.0.0.1:8080/status"
        );
        assert_eq!(
            absolute("https://stspg.io/x".to_owned(), "http://a/s"),
            "https://stspg.io/x"
        );
        assert_eq!(absolute("/s".to_owned(), "http://a"), "http://a/s");
        assert_eq!(base(None, None), None);
    }

    #[test]
    fn judges_the_indicator() {
        let judge_json = |s: &str| {
            let v: Value = serde_json::from_str(s).unwrap();
            judge(
                Step::new("status"),
                &v,
                "https://status.example.com",
                1_700_000_000,
            )
        };
        let (s, o) = judge_json(
            r#"{"page":{"name":"Ex"},"status":{"indicator":"none","description":"All Systems Operational"}}"#,
        );
        assert_eq!((s.status, o), (Status::Ok, false));
        assert_eq!(
            s.fact_value("status"),
            Some("All Systems Operational (indicator none)")
        );
        let (s, o) = judge_json(r#"{"status":{"indicator":"maintenance"}}"#);
        assert_eq!((s.status, o), (Status::Warn, true));
        let (s, _) = judge_json(r#"{"status":{"indicator":"critical"}}"#);
        assert_eq!(s.status, Status::Fail);
        // No indicator: the worst component decides.
        let (s, _) = judge_json(
            r#"{"components":[{"name":"API","status":"partial_outage"},{"name":"All","group":true,"status":"major_outage"}]}"#,
        );
        assert_eq!(s.status, Status::Warn);
        assert_eq!(s.fact_value("component API"), Some("partial outage"));
        assert_eq!(s.fact_value("component All"), None);
    }
}
