//! The human status page: one self-contained HTML document (inline CSS, inline SVG, no script,
//! no external URL) with the overall banner, the mitigations in force that the operator made
//! public, active incidents with their updates, scheduled maintenance, every public component
//! with its state, 90-day uptime bars and latency sparkline, and recent resolved incidents.
//! [`incident_page`] renders one incident on its own. Every interpolated string is escaped.

use std::fmt::Write;

use doorman_common::html::escape;
use doorman_common::when;

use crate::escape::slug;
use crate::model::{
    ComponentStatus, ComponentView, DayUptime, Incident, Indicator, LatencyPoint, Maintenance,
    Snapshot,
};

// Colours: every state colour is used both as text on the white card and as the background of
// white text (banner, badge), so each is dark enough for 4.5:1 against white (WCAG AA for normal
// text; the banner's 17px bold is not "large"). The dark scheme keeps the receipts' greys and
// lightens the state colours for text on its dark cards. crates/doorman-server/tests/pages.rs
// checks every pair from this text. `.row` wraps so that a long incident name or status line
// does not squeeze its neighbour on a phone.
const CSS: &str = "body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
margin:0;color:#1f2328;background:#f6f8fa}main{max-width:860px;margin:0 auto;padding:24px 16px}\
h1{font-size:24px;margin:0 0 16px;overflow-wrap:break-word}h2{font-size:18px;margin:28px 0 10px}\
a{color:#0550ae}\
.banner{padding:14px 18px;border-radius:6px;color:#fff;font-weight:600;font-size:17px}\
.i-none{background:#1a7f37}.i-maintenance{background:#0969da}.i-minor{background:#9a6700}\
.i-major{background:#bc4c00}.i-critical{background:#cf222e}\
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:10px 0;\
overflow-wrap:break-word}\
.row{display:flex;flex-wrap:wrap;justify-content:space-between;gap:2px 12px;align-items:baseline}\
.s-operational{color:#1a7f37}.s-degraded_performance{color:#9a6700}\
.s-partial_outage{color:#bc4c00}.s-major_outage{color:#cf222e}.s-under_maintenance{color:#0969da}\
.muted{color:#656d76;font-size:13px}.bars{display:block;width:100%;height:34px;margin-top:8px}\
.latency{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;\
gap:4px 12px;margin-top:6px}.spark{color:#0969da;display:block;max-width:100%}\
.update{border-left:3px solid #d0d7de;padding:2px 10px;margin:8px 0}\
.name{font-size:15px;font-weight:600;margin:0}h1.name{font-size:20px}\
.update p{margin:2px 0;white-space:pre-wrap}.group{margin-top:18px;font-weight:600}\
ul.mitigations{margin:0;padding-left:20px}footer{margin:32px 0;color:#656d76;font-size:13px}\
@media (prefers-color-scheme:dark){body{background:#14171b;color:#e6e9ed}\
.card{background:#1d2127;border-color:#333a43}.update{border-color:#333a43}\
.muted,footer{color:#a3adb9}a{color:#8ab4ff}.spark{color:#8ab4ff}.nd{fill:#3a414b}\
.s-operational{color:#3fb950}.s-degraded_performance{color:#d29922}\
.s-partial_outage{color:#f0883e}.s-major_outage{color:#ff7b72}.s-under_maintenance{color:#58a6ff}}";

/// The whole status page.
pub fn page(snap: &Snapshot) -> String {
    let overall = snap.overall();
    let base = snap.page.base_path();
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out, &snap.page.name, base);
    let _ = write!(
        out,
        "<h1>{}</h1><div class=\"banner i-{}\">{}</div>",
        escape(&snap.page.name),
        overall.indicator.as_str(),
        escape(overall.description)
    );

    if !snap.mitigations.is_empty() {
        out.push_str(
            "<h2>Mitigations in force</h2><div class=\"card\"><p class=\"muted\">Protections \
             that may affect some visitors right now.</p><ul class=\"mitigations\">",
        );
        for m in &snap.mitigations {
            let _ = write!(
                out,
                "<li>{} since {} UTC",
                escape(&m.what),
                when::utc_hhmm(m.since_ms)
            );
            if m.since_ms / when::DAY_MS != snap.now_ms / when::DAY_MS {
                let _ = write!(out, " ({})", when::utc_date(m.since_ms));
            }
            if let Some(until) = m.until_ms {
                let _ = write!(out, ", until {}", escape(&when::utc_minutes(until)));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul></div>");
    }

    let active: Vec<&Incident> = snap.unresolved().collect();
    if !active.is_empty() {
        out.push_str("<h2>Active incidents</h2>");
        for i in active {
            incident_card(&mut out, snap, i, 3);
        }
    }

    let open_maint: Vec<&Maintenance> = snap.maintenances.iter().filter(|m| m.is_open()).collect();
    if !open_maint.is_empty() {
        out.push_str("<h2>Scheduled maintenance</h2>");
        for m in open_maint {
            maintenance_card(&mut out, snap, m);
        }
    }

    out.push_str("<h2>Components</h2>");
    if snap.components.is_empty() {
        out.push_str("<p class=\"muted\">No components are configured.</p>");
    }
    let mut last_group: Option<&str> = None;
    for view in &snap.components {
        let group = view.component.group.as_deref();
        if group.is_some() && group != last_group {
            let _ = write!(
                out,
                "<div class=\"group\">{}</div>",
                escape(group.unwrap_or(""))
            );
        }
        last_group = group;
        component_card(&mut out, view, snap.now_ms);
    }

    let past: Vec<&Incident> = snap
        .incidents
        .iter()
        .filter(|i| i.status.is_closed())
        .collect();
    if !past.is_empty() {
        out.push_str("<h2>Past incidents</h2>");
        for i in past {
            incident_card(&mut out, snap, i, 3);
        }
    }
    foot(&mut out, snap, base);
    out
}

/// One incident on its own page (the target of its `shortlink`); `None` if the snapshot does
/// not hold it.
pub fn incident_page(snap: &Snapshot, id: i64) -> Option<String> {
    let incident = snap.incidents.iter().find(|i| i.id == id)?;
    let base = snap.page.base_path();
    let mut out = String::with_capacity(4096);
    head(
        &mut out,
        &format!("{} · {}", incident.name, snap.page.name),
        base,
    );
    let _ = write!(
        out,
        "<p><a href=\"{}/\">← {}</a></p>",
        escape(base),
        escape(&snap.page.name)
    );
    incident_card(&mut out, snap, incident, 1);
    foot(&mut out, snap, base);
    Some(out)
}

fn head(out: &mut String, title: &str, base: &str) {
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><link rel=\"alternate\" type=\"application/atom+xml\" \
         title=\"Incidents\" href=\"{}/feed.atom\"><style>{CSS}</style></head><body><main>",
        escape(title),
        escape(base)
    );
}

fn foot(out: &mut String, snap: &Snapshot, base: &str) {
    let base = escape(base);
    let _ = write!(
        out,
        "<footer>Updated {}. <a href=\"{base}/feed.atom\">Atom feed</a> · \
         <a href=\"{base}/api/v2/summary.json\">JSON</a> · \
         <a href=\"{base}/badge.svg\">Badge</a></footer></main></body></html>",
        escape(&when::utc_minutes(snap.now_ms))
    );
}

/// An incident's card; its name is a heading of `level` (3 under the page's section headings,
/// 1 on the incident's own page), so that a screen reader can jump from one to the next.
fn incident_card(out: &mut String, snap: &Snapshot, i: &Incident, level: u8) {
    let _ = write!(
        out,
        "<div class=\"card\" id=\"incident-{id}\"><div class=\"row\"><h{level} class=\"name\">\
         <a href=\"{base}/incidents/{id}\">{name}</a></h{level}>\
         <span class=\"muted\">{status} · impact {impact}</span></div>",
        id = i.id,
        base = escape(snap.page.base_path()),
        name = escape(&i.name),
        status = i.status.label(),
        impact = i.impact.as_str(),
    );
    affected_line(out, snap, &i.components);
    for u in i.updates.iter().rev() {
        let _ = write!(
            out,
            "<div class=\"update\"><strong>{}</strong> <time datetime=\"{}\" \
             class=\"muted\">{}</time><p>{}</p></div>",
            u.status.label(),
            when::rfc3339_ms(u.at_ms),
            escape(&when::utc_minutes(u.at_ms)),
            escape(&u.body)
        );
    }
    out.push_str("</div>");
}

fn maintenance_card(out: &mut String, snap: &Snapshot, m: &Maintenance) {
    let _ = write!(
        out,
        "<div class=\"card\" id=\"maintenance-{}\"><div class=\"row\"><h3 class=\"name\">{}</h3>\
         <span class=\"muted\">{}</span></div><div class=\"muted\">{} → {}</div>",
        m.id,
        escape(&m.name),
        m.status.label(),
        escape(&when::utc_minutes(m.scheduled_for_ms)),
        escape(&when::utc_minutes(m.scheduled_until_ms)),
    );
    affected_line(out, snap, &m.components);
    for u in m.updates.iter().rev() {
        let _ = write!(
            out,
            "<div class=\"update\"><strong>{}</strong> <span class=\"muted\">{}</span>\
             <p>{}</p></div>",
            u.status.label(),
            escape(&when::utc_minutes(u.at_ms)),
            escape(&u.body)
        );
    }
    out.push_str("</div>");
}

fn affected_line(out: &mut String, snap: &Snapshot, ids: &[String]) {
    let names: Vec<_> = snap
        .components
        .iter()
        .filter(|v| ids.contains(&v.component.id))
        .map(|v| escape(&v.component.name))
        .collect();
    if !names.is_empty() {
        let _ = write!(
            out,
            "<div class=\"muted\">Affects {}</div>",
            names.join(", ")
        );
    }
}

fn component_card(out: &mut String, view: &ComponentView, now_ms: i64) {
    let c = &view.component;
    let _ = write!(
        out,
        "<div class=\"card\" id=\"component-{}\"><div class=\"row\"><h3 class=\"name\">{}</h3>\
         <span class=\"s-{}\">{}</span></div>",
        escape(&slug(&c.id)),
        escape(&c.name),
        c.status.as_str(),
        c.status.label()
    );
    if let Some(d) = &c.description {
        let _ = write!(out, "<div class=\"muted\">{}</div>", escape(d));
    }
    out.push_str(&uptime_bars(&view.uptime));
    let window = match view.window_uptime_percent() {
        Some(p) => format!("{} uptime", percent(p)),
        None => "no data yet".to_owned(),
    };
    let _ = write!(
        out,
        "<div class=\"row muted\"><span>{} days ago</span><span>{}</span><span>today</span></div>",
        view.uptime.len().saturating_sub(1),
        window
    );
    latency_line(out, &view.latency, now_ms);
    out.push_str("</div>");
}

/// The response-time line under a component's bars: mean and slowest over the hours with
/// checks, in words (a one-point sparkline draws nothing, and a line alone says no number), the
/// sparkline when there are two hours or more to compare, and "no measurements yet" without
/// health checks.
fn latency_line(out: &mut String, points: &[LatencyPoint], now_ms: i64) {
    let Some(first) = points.first() else {
        out.push_str(
            "<div class=\"latency muted\"><span>Response time: no measurements yet</span></div>",
        );
        return;
    };
    let checks: u64 = points.iter().map(|p| p.checks).sum();
    let mean = points
        .iter()
        .map(|p| p.avg_ms * p.checks as f64)
        .sum::<f64>()
        / checks.max(1) as f64;
    let slowest = points.iter().map(|p| p.max_ms).max().unwrap_or(0);
    let hours = (when::utc_hour(now_ms) - when::utc_hour(first.at_ms) + 1).max(1);
    let span = if hours == 1 {
        "the last hour".to_owned()
    } else {
        format!("the last {hours} hours")
    };
    let _ = write!(
        out,
        "<div class=\"latency muted\"><span>Response time over {span}: mean {}, slowest {}</span>{}</div>",
        millis(mean),
        millis(slowest as f64),
        if points.len() > 1 {
            sparkline(points)
        } else {
            String::new()
        }
    );
}

/// `0.4` → "under 1 ms", `12.6` → "13 ms": health checks on a LAN often take less than a
/// millisecond, which "0 ms" would misstate. The spaces are no-break spaces, so that a phone
/// never puts "ms" alone at the start of a line.
fn millis(ms: f64) -> String {
    if ms < 1.0 {
        "under\u{a0}1\u{a0}ms".to_owned()
    } else {
        format!("{ms:.0}\u{a0}ms")
    }
}

fn percent(p: f64) -> String {
    if (99.995..100.0).contains(&p) {
        "99.99%".to_owned()
    } else {
        format!("{:.2}%", p)
    }
}

/// Colour of a day's bar.
pub fn day_colour(day: &DayUptime) -> &'static str {
    match day.uptime_percent {
        None => "#d0d7de",
        Some(p) if p >= 99.9 => "#2da44e",
        Some(p) if p >= 99.0 => "#9ac23c",
        Some(p) if p >= 95.0 => "#e16f24",
        Some(_) => "#cf222e",
    }
}

/// The uptime bars: one inline-SVG rect per day, oldest left, each with a `<title>` tooltip
/// ("2026-11-20: 99.93% (3 of 4320 checks failed)" or "no data").
pub fn uptime_bars(days: &[DayUptime]) -> String {
    let n = days.len().max(1);
    let mut out = format!(
        "<svg class=\"bars\" viewBox=\"0 0 {w} 34\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"Daily uptime\">",
        w = n * 5
    );
    for (i, d) in days.iter().enumerate() {
        let title = match d.uptime_percent {
            None => format!("{}: no data", d.date),
            Some(p) => format!(
                "{}: {} ({} of {} checks failed)",
                d.date,
                percent(p),
                d.failures,
                d.checks
            ),
        };
        // Days without data are classed so that the dark scheme can dim them.
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"0\" width=\"4\" height=\"34\" rx=\"1\" fill=\"{}\"{}>\
             <title>{}</title></rect>",
            i * 5,
            day_colour(d),
            if d.uptime_percent.is_none() {
                " class=\"nd\""
            } else {
                ""
            },
            escape(&title)
        );
    }
    out.push_str("</svg>");
    out
}

/// The latency sparkline: an inline-SVG polyline of hourly mean latency, scaled to its own
/// maximum, with a `<title>` giving the range.
pub fn sparkline(points: &[LatencyPoint]) -> String {
    const W: f64 = 160.0;
    const H: f64 = 28.0;
    let max = points.iter().map(|p| p.avg_ms).fold(1.0_f64, f64::max);
    let min = points
        .iter()
        .map(|p| p.avg_ms)
        .fold(f64::INFINITY, f64::min);
    let step = if points.len() > 1 {
        W / (points.len() - 1) as f64
    } else {
        0.0
    };
    let coords: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                H - 2.0 - (p.avg_ms / max) * (H - 4.0)
            )
        })
        .collect();
    format!(
        "<svg class=\"spark\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"{label}\"><title>{label}</title><polyline fill=\"none\" \
         stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        coords.join(" "),
        label = escape(&format!(
            "Hourly mean response time, {:.0}–{:.0} ms",
            if min.is_finite() { min } else { 0.0 },
            max
        )),
    )
}

/// The colour of an indicator: the banner's background in [`CSS`] and the badge's. White text
/// on each has at least 4.5:1 contrast.
pub fn indicator_colour(indicator: Indicator) -> &'static str {
    match indicator {
        Indicator::None => "#1a7f37",
        Indicator::Maintenance => "#0969da",
        Indicator::Minor => "#9a6700",
        Indicator::Major => "#bc4c00",
        Indicator::Critical => "#cf222e",
    }
}

/// The colour of a component state: its word on a light card in [`CSS`], and the badge's
/// background.
pub fn status_colour(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "#1a7f37",
        ComponentStatus::UnderMaintenance => "#0969da",
        ComponentStatus::DegradedPerformance => "#9a6700",
        ComponentStatus::PartialOutage => "#bc4c00",
        ComponentStatus::MajorOutage => "#cf222e",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The badge and the page show a state in the same colour: the functions the badge uses are
    /// the ones the light CSS is written with.
    #[test]
    fn the_css_uses_the_badge_colours() {
        for i in [
            Indicator::None,
            Indicator::Maintenance,
            Indicator::Minor,
            Indicator::Major,
            Indicator::Critical,
        ] {
            let rule = format!(".i-{}{{background:{}}}", i.as_str(), indicator_colour(i));
            assert!(CSS.contains(&rule), "no {rule}");
        }
        for s in [
            ComponentStatus::Operational,
            ComponentStatus::UnderMaintenance,
            ComponentStatus::DegradedPerformance,
            ComponentStatus::PartialOutage,
            ComponentStatus::MajorOutage,
        ] {
            let rule = format!(".s-{}{{color:{}}}", s.as_str(), status_colour(s));
            assert!(CSS.contains(&rule), "no {rule}");
        }
    }

    fn point(hour: i64, avg_ms: f64, max_ms: u64, checks: u64) -> LatencyPoint {
        LatencyPoint {
            at_ms: hour * when::HOUR_MS,
            avg_ms,
            max_ms,
            checks,
        }
    }

    #[test]
    fn the_response_time_says_numbers_or_that_there_are_none() {
        let now = 1000 * when::HOUR_MS + 5;
        let mut out = String::new();
        latency_line(&mut out, &[], now);
        assert!(out.contains("no measurements yet"), "{out}");
        assert!(!out.contains("<svg"));

        // One hour of checks: numbers, and no sparkline (one point draws nothing).
        let mut out = String::new();
        latency_line(&mut out, &[point(1000, 0.4, 2, 30)], now);
        assert!(
            out.contains(
                "Response time over the last hour: mean under\u{a0}1\u{a0}ms, slowest 2\u{a0}ms"
            ),
            "{out}"
        );
        assert!(!out.contains("<svg"));

        // Means are weighted by checks; the span counts from the first hour with checks.
        let mut out = String::new();
        latency_line(
            &mut out,
            &[point(997, 10.0, 40, 10), point(1000, 30.0, 90, 30)],
            now,
        );
        assert!(
            out.contains(
                "Response time over the last 4 hours: mean 25\u{a0}ms, slowest 90\u{a0}ms"
            ),
            "{out}"
        );
        assert!(out.contains("<polyline"), "{out}");
        assert!(out.contains("Hourly mean response time, 10–30 ms"), "{out}");
    }
}
