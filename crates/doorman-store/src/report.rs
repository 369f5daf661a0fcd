//! What `doorman events` and `doorman explain` print, and how they read their arguments. Kept here
//! rather than in the CLI so it is unit tested next to the data it formats; the CLI module only
//! wires arguments to these functions.
//!
//! Everything in an event that came from a client (path, host, user agent, fact values) is
//! escaped before it reaches a terminal: a request line must not be able to move the cursor or
//! recolour the operator's screen.

use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use doorman_common::when;
use doorman_core::{Code, RayId};
use serde::Serialize;

use crate::query::Retention;
use crate::record::{Action, EventRecord, Fact};

/// A `--since` value that is neither a duration nor a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a duration or a time: use e.g. 15m, 2h, 7d, 1h30m, or RFC 3339 \
     (2026-11-22T21:44:11Z, 2026-11-22T22:44:11+01:00, 2026-11-22)"
)]
pub struct BadSince(pub String);

/// Parses a `--since` value relative to `now`: a duration ago (`30s`, `15m`, `2h`, `7d`, `2w`,
/// or several, as in `1h30m`) or an RFC 3339 instant (a bare date means its midnight UTC).
pub fn parse_since(text: &str, now: SystemTime) -> Result<SystemTime, BadSince> {
    let text = text.trim();
    let bad = || BadSince(text.to_owned());
    if let Some(ago) = when::parse_duration(text) {
        return now.checked_sub(ago).ok_or_else(bad);
    }
    when::parse_rfc3339(text)
        .map(when::from_unix_ms)
        .map_err(|_| bad())
}

/// A Ray ID argument that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a Ray ID: expected 16 hexadecimal characters, '-', then the node name \
     (e.g. 4a807f60ca5727a4-edge1), as shown on the error page"
)]
pub struct BadRay(pub String);

/// Checks a Ray ID typed by an operator and returns it in its stored spelling (lower-case hex),
/// so that a Ray ID copied from an upper-casing source still matches.
pub fn normalize_ray(text: &str) -> Result<String, BadRay> {
    let text = text.trim();
    let bad = || BadRay(text.to_owned());
    let (hex, _) = text.split_once('-').ok_or_else(bad)?;
    // `u64::from_str_radix` would accept a sign; a Ray ID has none.
    if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    RayId::parse(text)
        .map(|ray| ray.to_string())
        .ok_or_else(bad)
}

/// An `--asn` value that is not an AS number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an AS number: --asn expects a number like 9009 or AS9009")]
pub struct BadAsn(pub String);

/// Reads an autonomous system number as operators write it: `9009`, `AS9009` or `as9009`.
pub fn parse_asn(text: &str) -> Result<u32, BadAsn> {
    let text = text.trim();
    let bad = || BadAsn(text.to_owned());
    let digits = match text.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("as") => &text[2..],
        _ => text,
    };
    // `u32::from_str` would accept a sign; an AS number has none.
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    digits.parse().map_err(|_| bad())
}

/// A `--country` value that is not a country code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a country code: --country expects a two-letter ISO 3166 code like NL \
     (or T1 for Tor)"
)]
pub struct BadCountry(pub String);

/// Reads a country code (`NL`, `nl`, `T1`) and returns it upper-cased, as network intelligence
/// spells it.
pub fn parse_country(text: &str) -> Result<String, BadCountry> {
    let text = text.trim();
    if text.len() == 2 && text.bytes().all(|c| c.is_ascii_alphanumeric()) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(BadCountry(text.to_owned()))
    }
}

/// `2026-11-22 21:44:11`, UTC (the table's header says so).
fn short_utc(time_ms: i64) -> String {
    when::utc_seconds(time_ms)
}

/// `2026-11-22 21:44:11.123 UTC`.
fn long_utc(time_ms: i64) -> String {
    format!(
        "{}.{:03} UTC",
        short_utc(time_ms),
        time_ms.rem_euclid(1_000)
    )
}

/// `text` safe to print to a terminal: control characters (including ESC) become escapes.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters of `text`, ending in `…` when cut.
fn ellipsize(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The widest the request column gets before it is cut, so that the rule column stays on screen.
const REQUEST_WIDTH: usize = 60;

/// The `doorman events` table: one line per event, aligned columns, a header.
///
/// The status of every event that is not a plain denial carries its action, `403 (shadow)`,
/// `403 (log)`, `403 (challenge)`: a `log` or `shadow` row was recorded only, and its request was
/// forwarded (see [`forwarded_note`]). `ASN` and `COUNTRY` columns appear when some event shown
/// has them (`-` in the others).
pub fn format_table(records: &[EventRecord]) -> String {
    let with_asn = records.iter().any(|r| r.asn.is_some());
    let with_country = records.iter().any(|r| r.country.is_some());
    let mut header = vec!["TIME (UTC)", "RAY", "IP"];
    if with_asn {
        header.push("ASN");
    }
    if with_country {
        header.push("COUNTRY");
    }
    header.extend(["STATUS", "CODE", "REQUEST", "RULE"]);
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let action = if r.action == Action::Deny {
                String::new()
            } else {
                format!(" ({})", r.action)
            };
            let mut row = vec![
                short_utc(r.time_ms),
                sanitize(&r.ray_id),
                r.client_ip.to_string(),
            ];
            if with_asn {
                row.push(
                    r.asn
                        .map_or_else(|| "-".to_owned(), |asn| format!("AS{asn}")),
                );
            }
            if with_country {
                row.push(
                    r.country
                        .as_deref()
                        .map_or_else(|| "-".to_owned(), sanitize),
                );
            }
            row.extend([
                format!("{}{action}", r.status),
                sanitize(&r.code),
                ellipsize(
                    &sanitize(&format!("{} {}{}", r.method, r.host, r.path)),
                    REQUEST_WIDTH,
                ),
                sanitize(r.rule.as_deref().unwrap_or("-")),
            ]);
            row
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.chars().count());
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// A line for under the table when some events shown were recorded only (`log` or `shadow`), so
/// that nobody reads their status as an answer the client got; `None` otherwise.
pub fn forwarded_note(records: &[EventRecord]) -> Option<String> {
    let forwarded = records.iter().filter(|r| r.action.forwarded()).count();
    if forwarded == 0 {
        return None;
    }
    Some(if forwarded == 1 {
        "1 event marked (log) or (shadow) was recorded only: its request was NOT blocked but \
         forwarded, and the status shown was never sent"
            .to_owned()
    } else {
        format!(
            "{forwarded} events marked (log) or (shadow) were recorded only: their requests were \
             NOT blocked but forwarded, and the statuses shown were never sent"
        )
    })
}

/// The line under the table: how many were shown and whether more may exist.
pub fn table_footer(shown: usize, limit: usize, db: &Path) -> String {
    if shown == 0 {
        return format!(
            "no events match in {} (only non-allow decisions are recorded)",
            db.display()
        );
    }
    let noun = if shown == 1 { "event" } else { "events" };
    if limit > 0 && shown >= limit {
        format!(
            "{shown} {noun}, newest first; there may be more: raise --limit or narrow the filters"
        )
    } else {
        format!("{shown} {noun}, newest first")
    }
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    time: String,
    #[serde(flatten)]
    record: &'a EventRecord,
}

/// One event as a single-line JSON object: the record's fields plus `time` in RFC 3339.
pub fn json_line(record: &EventRecord) -> String {
    serde_json::to_string(&JsonEvent {
        time: when::rfc3339(record.time_ms),
        record,
    })
    .expect("an event record always serializes")
}

/// One event as pretty-printed JSON, for `doorman explain --json`.
pub fn json_pretty(record: &EventRecord) -> String {
    serde_json::to_string_pretty(&JsonEvent {
        time: when::rfc3339(record.time_ms),
        record,
    })
    .expect("an event record always serializes")
}

/// The `What` paragraph of `doorman explain`: one line, or for a match that was recorded but not
/// enforced, a second one (indented to the first's text) saying what the rule would have answered.
fn describe_action(record: &EventRecord) -> String {
    let answer = || {
        let title = Code::parse(&record.code)
            .map(|c| format!(" ({})", c.title()))
            .unwrap_or_default();
        format!("{}, code {}{title}", record.status, sanitize(&record.code))
    };
    match record.action {
        Action::Deny => format!(
            "denied: Doorman answered {} itself; the request was not forwarded",
            record.status
        ),
        Action::Challenge => format!(
            "challenged: Doorman answered {} with a challenge to pass first",
            record.status
        ),
        Action::Log => format!(
            "recorded only: the rule's action is log; the request was forwarded, NOT blocked\n\
             {EXPLAIN_INDENT}the receipt it recorded (never sent) says {}",
            answer()
        ),
        Action::Shadow => format!(
            "recorded only: the rule is in shadow mode; the request was forwarded, NOT blocked\n\
             {EXPLAIN_INDENT}had the rule been enforced, Doorman would have answered {}",
            answer()
        ),
    }
}

/// Where the values of `doorman explain`'s top lines (`Ray ID   …`) start.
const EXPLAIN_INDENT: &str = "         ";

/// `AS9009, country NL`, saying which part is unknown.
fn describe_network(record: &EventRecord) -> String {
    let country = record.country.as_deref().map(sanitize);
    match (record.asn, country) {
        (Some(asn), Some(country)) => format!("AS{asn}, country {country}"),
        (Some(asn), None) => format!("AS{asn}, country unknown"),
        (None, Some(country)) => format!("AS unknown, country {country}"),
        (None, None) => "(unknown: network intelligence knew nothing, or the event predates \
                         network details in the log)"
            .to_owned(),
    }
}

fn describe_disclosure(disclosure: &str) -> &'static str {
    match disclosure {
        "public" => "the rule's title, this reason and the facts",
        "hint" => "only the code's general category",
        "private" => "only the Ray ID and generic text",
        _ => "(unknown disclosure level)",
    }
}

/// The `doorman explain` text: the whole record, readable top to bottom.
pub fn format_explain(record: &EventRecord) -> String {
    let mut out = String::new();
    let code_title = Code::parse(&record.code)
        .map(|c| format!(" ({})", c.title()))
        .unwrap_or_default();
    let _ = writeln!(out, "Ray ID   {}", sanitize(&record.ray_id));
    let _ = writeln!(
        out,
        "When     {} (unix ms {})",
        long_utc(record.time_ms),
        record.time_ms
    );
    let _ = writeln!(out, "What     {}", describe_action(record));
    let _ = writeln!(out);
    let _ = writeln!(out, "Client");
    let _ = writeln!(out, "  ip          {}", record.client_ip);
    let _ = writeln!(out, "  network     {}", describe_network(record));
    let _ = writeln!(
        out,
        "  user agent  {}",
        record
            .user_agent
            .as_deref()
            .map(sanitize)
            .unwrap_or_else(|| "(none sent)".to_owned())
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "Request");
    let _ = writeln!(
        out,
        "  {} {}{}",
        sanitize(&record.method),
        sanitize(&record.host),
        sanitize(&record.path)
    );
    let _ = writeln!(
        out,
        "  route       {}",
        record
            .route
            .as_deref()
            .map(sanitize)
            .unwrap_or_else(|| "(no route matched)".to_owned())
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "Decision");
    let forwarded = record.action.forwarded();
    if forwarded {
        let _ = writeln!(
            out,
            "  action      {} (recorded only; the request was forwarded)",
            record.action
        );
        let _ = writeln!(
            out,
            "  status      {} (not sent: {})",
            record.status,
            if record.action == Action::Shadow {
                "what the rule would have answered"
            } else {
                "what its receipt records"
            }
        );
    } else {
        let _ = writeln!(out, "  action      {}", record.action);
        let _ = writeln!(out, "  status      {}", record.status);
    }
    let _ = writeln!(out, "  code        {}{code_title}", sanitize(&record.code));
    let _ = writeln!(out, "  phase       {}", sanitize(&record.phase));
    let _ = writeln!(
        out,
        "  rule        {}",
        record
            .rule
            .as_deref()
            .map(sanitize)
            .unwrap_or_else(|| "-".to_owned())
    );
    if forwarded {
        let _ = writeln!(
            out,
            "  shown       nothing, the request was forwarded (enforced: {}, {})",
            sanitize(&record.disclosure),
            describe_disclosure(&record.disclosure)
        );
    } else {
        let _ = writeln!(
            out,
            "  shown       {} ({})",
            sanitize(&record.disclosure),
            describe_disclosure(&record.disclosure)
        );
    }
    let _ = writeln!(out);
    if forwarded {
        let _ = writeln!(out, "Reason (full; the client saw none of it)");
    } else {
        let _ = writeln!(out, "Reason (full, whatever the client was shown)");
    }
    let reason = if record.reason.is_empty() {
        "(none given)".to_owned()
    } else {
        sanitize(&record.reason)
    };
    let _ = writeln!(out, "  {reason}");
    let _ = writeln!(out);
    let _ = writeln!(out, "Facts");
    if record.facts.is_empty() {
        let _ = writeln!(out, "  (none recorded)");
    }
    write_facts(&mut out, &record.facts);
    if !record.private_facts.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Private facts (never shown to the client)");
        write_facts(&mut out, &record.private_facts);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Trace");
    if record.trace.is_empty() {
        let _ = writeln!(out, "  (none recorded)");
    }
    let phase_width = record
        .trace
        .iter()
        .map(|t| sanitize(&t.phase).chars().count())
        .max()
        .unwrap_or(0);
    for (i, step) in record.trace.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {:<phase_width$}  {}",
            i + 1,
            sanitize(&step.phase),
            sanitize(&step.outcome)
        );
    }
    out
}

fn write_facts(out: &mut String, facts: &[Fact]) {
    let name_width = facts
        .iter()
        .map(|f| sanitize(&f.name).chars().count())
        .max()
        .unwrap_or(0);
    for fact in facts {
        let _ = writeln!(
            out,
            "  {:<name_width$}  {}",
            sanitize(&fact.name),
            sanitize(&fact.value)
        );
    }
}

/// What `doorman explain` says when the Ray ID is not in the log, with what could explain it.
pub fn not_found_message(
    ray: &str,
    db: &Path,
    retention: Option<Retention>,
    oldest: Option<SystemTime>,
) -> String {
    let mut out = format!("no event with Ray ID {} in {}", sanitize(ray), db.display());
    match retention {
        Some(Retention { days: 0, rows: 0 }) => {
            out.push_str("; events are kept forever");
        }
        Some(Retention { days, rows }) => {
            let mut kept = Vec::new();
            if days > 0 {
                kept.push(format!("{days} days"));
            }
            if rows > 0 {
                kept.push(format!("at most {rows} events"));
            }
            let _ = write!(out, "; events are kept {}", kept.join(", "));
        }
        None => {}
    }
    if let Some(oldest) = oldest {
        let _ = write!(
            out,
            " (the oldest kept is from {})",
            long_utc(when::unix_ms(oldest))
        );
    }
    out.push_str(
        "; only non-allow decisions are recorded, so a request that was let through has no event",
    );
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::record::TraceLine;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn since_accepts_durations_ago() {
        let now = at(1_000_000);
        assert_eq!(parse_since("15m", now), Ok(at(1_000_000 - 900)));
        assert_eq!(parse_since("2h", now), Ok(at(1_000_000 - 7_200)));
        assert_eq!(parse_since("7d", now), Ok(at(1_000_000 - 604_800)));
        assert_eq!(parse_since("1h30m", now), Ok(at(1_000_000 - 5_400)));
        assert_eq!(parse_since("30s", now), Ok(at(1_000_000 - 30)));
        for bad in ["", "15", "m", "15x", "-5m", "1.5h", "99999999999999999999d"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn since_accepts_rfc3339() {
        let now = at(0);
        // 1795383851 is 2026-11-22T21:44:11Z (see doorman_common::when's tests).
        let t = at(1_795_383_851);
        assert_eq!(parse_since("2026-11-22T21:44:11Z", now), Ok(t));
        assert_eq!(parse_since("2026-11-22t21:44:11z", now), Ok(t));
        assert_eq!(parse_since("2026-11-22 21:44:11Z", now), Ok(t));
        assert_eq!(parse_since("2026-11-22T22:44:11+01:00", now), Ok(t));
        assert_eq!(parse_since("2026-11-22T20:14:11-01:30", now), Ok(t));
        assert_eq!(
            parse_since("2026-11-22T21:44:11.250Z", now),
            Ok(t + Duration::from_millis(250))
        );
        assert_eq!(
            parse_since("2026-11-22", now),
            Ok(at(1_795_383_851 - (21 * 3_600 + 44 * 60 + 11)))
        );
        assert_eq!(
            parse_since("2000-02-29T00:00:00Z", now),
            Ok(at(951_782_400))
        );
        for bad in [
            "2026-11-22T21:44:11",
            "2026-13-01",
            "2026-02-30",
            "2026-11-22T24:00:00Z",
            "2026-11-22T21:44Z",
            "2026-11-22T21:44:11+0100",
            "2026-11-22T21:44:11.Z",
            "yesterday",
        ] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn ray_ids_are_checked_and_lower_cased() {
        assert_eq!(
            normalize_ray("4A807F60CA5727A4-edge1"),
            Ok("4a807f60ca5727a4-edge1".to_owned())
        );
        assert_eq!(
            normalize_ray(" 4a807f60ca5727a4-edge-1 "),
            Ok("4a807f60ca5727a4-edge-1".to_owned())
        );
        for bad in [
            "4a807f60ca5727a4",
            "4a807f60ca5727a-edge1",
            "+a807f60ca5727a4-edge1",
            "4a807f60ca5727a4-",
            "zz807f60ca5727a4-edge1",
        ] {
            let err = normalize_ray(bad).unwrap_err();
            assert!(err.to_string().contains("16 hexadecimal"), "{bad}: {err}");
        }
    }

    fn sample() -> EventRecord {
        EventRecord {
            ray_id: "4a807f60ca5727a4-edge1".into(),
            time_ms: 1_795_383_851_123,
            client_ip: "203.0.113.7".parse().unwrap(),
            method: "GET".into(),
            host: "example.com".into(),
            path: "/admin/\u{1b}[31mred".into(),
            user_agent: Some("curl/8.5".into()),
            status: 403,
            code: "ROUTE_CLOSED".into(),
            phase: "route_access".into(),
            rule: Some("route:admin".into()),
            reason: "the route admin is closed for maintenance".into(),
            disclosure: "private".into(),
            facts: vec![
                Fact {
                    name: "ip.src".into(),
                    value: "203.0.113.7".into(),
                },
                Fact {
                    name: "http.host".into(),
                    value: "example.com".into(),
                },
            ],
            private_facts: vec![Fact {
                name: "upstream.addr".into(),
                value: "10.0.0.5:8080".into(),
            }],
            route: Some("admin".into()),
            action: Action::Deny,
            trace: vec![
                TraceLine {
                    phase: "routing".into(),
                    outcome: "matched route admin".into(),
                },
                TraceLine {
                    phase: "route_access".into(),
                    outcome: "route is closed".into(),
                },
            ],
            asn: Some(9009),
            country: Some("NL".into()),
        }
    }

    /// A custom rule's match, enforced or not per `action`.
    fn firewall_event(action: Action) -> EventRecord {
        EventRecord {
            status: 403,
            code: "1020".into(),
            phase: "custom_rules".into(),
            rule: Some("rule:no-scrapers".into()),
            reason: "The request matched this site's firewall rule \u{201c}No scrapers\u{201d}."
                .into(),
            disclosure: "public".into(),
            action,
            ..sample()
        }
    }

    #[test]
    fn table_aligns_columns_and_escapes_client_text() {
        let mut second = sample();
        second.ray_id = "0000000000000007-n".into();
        second.client_ip = "2001:db8::1".parse().unwrap();
        second.status = 429;
        second.code = "1015".into();
        second.rule = None;
        second.action = Action::Shadow;
        second.path = format!("/{}", "x".repeat(200));
        let table = format_table(&[sample(), second]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("TIME (UTC)"));
        // Every column starts at the same offset on every line.
        let ray_col = lines[0].find("RAY").unwrap();
        assert_eq!(lines[1].find("4a807f60ca5727a4-edge1"), Some(ray_col));
        assert_eq!(lines[2].find("0000000000000007-n"), Some(ray_col));
        let code_col = lines[0].find("CODE").unwrap();
        assert_eq!(lines[1].find("ROUTE_CLOSED"), Some(code_col));
        assert_eq!(lines[2].find("1015"), Some(code_col));
        assert!(lines[1].starts_with("2026-11-22 21:44:11"));
        assert!(lines[2].contains("429 (shadow)"));
        assert!(!table.contains('\u{1b}'), "escape reached the terminal");
        assert!(lines[1].contains(r"/admin/\u{1b}[31mred"));
        // The long request is cut so that the rule column stays visible.
        assert!(lines[2].contains('…'));
        assert!(lines[2].ends_with('-'));
    }

    #[test]
    fn footer_says_when_more_may_exist() {
        let db = Path::new("/data/doorman.db");
        assert!(table_footer(0, 50, db).contains("no events match in /data/doorman.db"));
        assert_eq!(table_footer(1, 50, db), "1 event, newest first");
        assert!(table_footer(50, 50, db).contains("raise --limit"));
        assert!(!table_footer(50, 0, db).contains("raise --limit"));
    }

    #[test]
    fn json_line_is_one_line_with_an_rfc3339_time() {
        let line = json_line(&sample());
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["time"], "2026-11-22T21:44:11Z");
        assert_eq!(value["ray_id"], "4a807f60ca5727a4-edge1");
        assert_eq!(value["action"], "deny");
        assert_eq!(value["facts"][0]["name"], "ip.src");
        // The extra field does not stop the line from reading back as a record.
        let back: EventRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn explain_tells_the_whole_story() {
        let text = format_explain(&sample());
        for expected in [
            "Ray ID   4a807f60ca5727a4-edge1",
            "2026-11-22 21:44:11.123 UTC",
            "denied: Doorman answered 403 itself",
            "ip          203.0.113.7",
            "user agent  curl/8.5",
            r"GET example.com/admin/\u{1b}[31mred",
            "route       admin",
            "code        ROUTE_CLOSED (This part of the site is closed)",
            "phase       route_access",
            "rule        route:admin",
            "shown       private (only the Ray ID and generic text)",
            "the route admin is closed for maintenance",
            "ip.src     203.0.113.7",
            "http.host  example.com",
            "Private facts (never shown to the client)\n  upstream.addr  10.0.0.5:8080",
            "1. routing       matched route admin",
            "2. route_access  route is closed",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn not_found_names_the_database_and_the_retention() {
        let db = Path::new("/data/doorman.db");
        let msg = not_found_message(
            "4a807f60ca5727a4-edge1",
            db,
            Some(Retention {
                days: 30,
                rows: 1_000_000,
            }),
            Some(at(1_795_383_851)),
        );
        assert!(msg.starts_with("no event with Ray ID 4a807f60ca5727a4-edge1 in /data/doorman.db"));
        assert!(msg.contains("events are kept 30 days, at most 1000000 events"));
        assert!(msg.contains("oldest kept is from 2026-11-22 21:44:11.000 UTC"));
        assert!(msg.contains("only non-allow decisions are recorded"));
        let forever = not_found_message("r", db, Some(Retention { days: 0, rows: 0 }), None);
        assert!(forever.contains("kept forever"));
    }

    #[test]
    fn asn_accepts_numbers_with_or_without_as() {
        assert_eq!(parse_asn("9009"), Ok(9009));
        assert_eq!(parse_asn("AS9009"), Ok(9009));
        assert_eq!(parse_asn(" as9009 "), Ok(9009));
        assert_eq!(parse_asn("As4294967295"), Ok(u32::MAX));
        for bad in [
            "",
            "AS",
            "ASN9009",
            "AS-1",
            "+9009",
            "-9009",
            "9009a",
            "AS 9009",
            "4294967296",
            "M247",
        ] {
            let err = parse_asn(bad).unwrap_err();
            assert!(
                err.to_string()
                    .contains("--asn expects a number like 9009 or AS9009"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn countries_are_two_letter_codes_upper_cased() {
        assert_eq!(parse_country("NL"), Ok("NL".to_owned()));
        assert_eq!(parse_country(" nl "), Ok("NL".to_owned()));
        assert_eq!(parse_country("t1"), Ok("T1".to_owned()));
        for bad in ["", "N", "NLD", "Netherlands", "N-", "ÑL"] {
            let err = parse_country(bad).unwrap_err();
            assert!(
                err.to_string().contains("two-letter ISO 3166 code like NL"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn table_shows_network_columns_only_when_known() {
        let mut unknown = sample();
        unknown.asn = None;
        unknown.country = None;
        let table = format_table(std::slice::from_ref(&unknown));
        assert!(!table.contains("ASN"), "{table}");
        assert!(!table.contains("COUNTRY"), "{table}");

        let mut asn_only = unknown.clone();
        asn_only.asn = Some(13335);
        let table = format_table(&[sample(), asn_only, unknown]);
        let lines: Vec<&str> = table.lines().collect();
        let asn_col = lines[0].find("ASN").unwrap();
        let country_col = lines[0].find("COUNTRY").unwrap();
        assert!(lines[0].find("IP").unwrap() < asn_col);
        assert!(country_col < lines[0].find("STATUS").unwrap());
        assert_eq!(lines[1].find("AS9009"), Some(asn_col));
        assert_eq!(lines[1][country_col..].split(' ').next(), Some("NL"));
        assert_eq!(lines[2].find("AS13335"), Some(asn_col));
        assert_eq!(lines[2][country_col..].split(' ').next(), Some("-"));
        assert_eq!(lines[3][asn_col..].split(' ').next(), Some("-"));

        let mut hostile = sample();
        hostile.country = Some("\u{1b}[2J".into());
        assert!(!format_table(&[hostile]).contains('\u{1b}'));
    }

    #[test]
    fn table_marks_what_was_recorded_only() {
        let rows = [
            firewall_event(Action::Deny),
            firewall_event(Action::Challenge),
            firewall_event(Action::Log),
            firewall_event(Action::Shadow),
        ];
        let table = format_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        let status_col = lines[0].find("STATUS").unwrap();
        let status = |line: &str| line[status_col..].split("  ").next().unwrap().to_owned();
        assert_eq!(status(lines[1]), "403");
        assert_eq!(status(lines[2]), "403 (challenge)");
        assert_eq!(status(lines[3]), "403 (log)");
        assert_eq!(status(lines[4]), "403 (shadow)");

        let note = forwarded_note(&rows).unwrap();
        assert!(note.starts_with("2 events marked (log) or (shadow) were recorded only"));
        assert!(note.contains("their requests were NOT blocked but forwarded"));
        assert!(
            forwarded_note(&[firewall_event(Action::Shadow)])
                .unwrap()
                .starts_with("1 event marked (log) or (shadow) was recorded only")
        );
        assert_eq!(forwarded_note(&rows[..2]), None);
        assert_eq!(forwarded_note(&[]), None);
    }

    #[test]
    fn explain_shows_the_network() {
        let text = format_explain(&sample());
        assert!(
            text.contains("  network     AS9009, country NL\n"),
            "{text}"
        );
        let mut record = sample();
        record.country = None;
        assert!(format_explain(&record).contains("network     AS9009, country unknown"));
        record.asn = None;
        record.country = Some("DE".into());
        assert!(format_explain(&record).contains("network     AS unknown, country DE"));
        record.country = None;
        assert!(format_explain(&record).contains("network     (unknown: "));
    }

    #[test]
    fn explain_says_a_shadow_match_was_not_blocked() {
        let text = format_explain(&firewall_event(Action::Shadow));
        for expected in [
            "What     recorded only: the rule is in shadow mode; the request was forwarded, \
             NOT blocked\n",
            "         had the rule been enforced, Doorman would have answered 403, code 1020 \
             (Blocked by a firewall rule)\n",
            "action      shadow (recorded only; the request was forwarded)",
            "status      403 (not sent: what the rule would have answered)",
            "shown       nothing, the request was forwarded (enforced: public, ",
            "Reason (full; the client saw none of it)",
            "rule        rule:no-scrapers",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("denied"), "{text}");
        assert!(!text.contains("whatever the client was shown"), "{text}");
    }

    #[test]
    fn explain_says_a_logged_match_was_not_blocked() {
        let text = format_explain(&firewall_event(Action::Log));
        for expected in [
            "What     recorded only: the rule's action is log; the request was forwarded, \
             NOT blocked\n",
            "         the receipt it recorded (never sent) says 403, code 1020 (Blocked by a firewall rule)\n",
            "action      log (recorded only; the request was forwarded)",
            "status      403 (not sent: what its receipt records)",
            "Reason (full; the client saw none of it)",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("denied:"), "{text}");
    }

    #[test]
    fn explain_of_an_enforced_rule_says_it_answered() {
        let deny = format_explain(&firewall_event(Action::Deny));
        assert!(deny.contains("What     denied: Doorman answered 403 itself"));
        assert!(
            deny.contains("  action      deny\n  status      403\n"),
            "{deny}"
        );
        assert!(!deny.contains("recorded only"));
        let challenge = format_explain(&firewall_event(Action::Challenge));
        assert!(challenge.contains("What     challenged: Doorman answered 403"));
        assert!(!challenge.contains("recorded only"));
    }
}
