//! The human status page: one self-contained HTML document (inline CSS, inline SVG, no script,
//! no external URL) with the overall banner, the mitigations in force that the operator made
//! public, active incidents with their updates, scheduled maintenance, every public component
//! with its state, 90-day uptime bars and latency sparkline, and recent resolved incidents.
//! [`incident_page`] renders one incident on its own. Every interpolated string is escaped.

use std::fmt::Write;

use crate::escape::{slug, xml};
use crate::model::{
    ComponentStatus, ComponentView, DayUptime, Incident, Indicator, LatencyPoint, Maintenance,
    Snapshot,
};
use crate::time::{hhmm, human, rfc3339};

const CSS: &str = "body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
margin:0;color:#1f2328;background:#f6f8fa}main{max-width:860px;margin:0 auto;padding:24px 16px}\
h1{font-size:24px;margin:0 0 16px}h2{font-size:18px;margin:28px 0 10px}\
.banner{padding:14px 18px;border-radius:6px;color:#fff;font-weight:600;font-size:17px}\
.i-none{background:#2da44e}.i-maintenance{background:#0969da}.i-minor{background:#bf8700}\
.i-major{background:#e16f24}.i-critical{background:#cf222e}\
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:10px 0}\
.row{display:flex;justify-content:space-between;gap:12px;align-items:baseline}\
.s-operational{color:#1a7f37}.s-degraded_performance{color:#9a6700}\
.s-partial_outage{color:#bc4c00}.s-major_outage{color:#cf222e}.s-under_maintenance{color:#0969da}\
.muted{color:#656d76;font-size:13px}.bars{display:block;width:100%;height:34px;margin-top:8px}\
.update{border-left:3px solid #d0d7de;padding:2px 10px;margin:8px 0}\
.update p{margin:2px 0;white-space:pre-wrap}.group{margin-top:18px;font-weight:600}\
ul.mitigations{margin:0;padding-left:20px}footer{margin:32px 0;color:#656d76;font-size:13px}";

/// The whole status page.
pub fn page(snap: &Snapshot) -> String {
    let overall = snap.overall();
    let base = snap.page.base_path();
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out, &snap.page.name, base);
    let _ = write!(
        out,
        "<h1>{}</h1><div class=\"banner i-{}\">{}</div>",
        xml(&snap.page.name),
        overall.indicator.as_str(),
        xml(overall.description)
    );

    if !snap.mitigations.is_empty() {
        out.push_str(
            "<h2>Mitigations in force</h2><div class=\"card\"><p class=\"muted\">Protections \
             that may affect some visitors right now.</p><ul class=\"mitigations\">",
        );
        for m in &snap.mitigations {
            let _ = write!(out, "<li>{} since {} UTC", xml(&m.what), hhmm(m.since_ms));
            if m.since_ms / crate::time::DAY_MS != snap.now_ms / crate::time::DAY_MS {
                let _ = write!(
                    out,
                    " ({})",
                    crate::time::date(crate::time::utc_day(m.since_ms))
                );
            }
            if let Some(until) = m.until_ms {
                let _ = write!(out, ", until {}", xml(&human(until)));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul></div>");
    }

    let active: Vec<&Incident> = snap.unresolved().collect();
    if !active.is_empty() {
        out.push_str("<h2>Active incidents</h2>");
        for i in active {
            incident_card(&mut out, snap, i);
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
                xml(group.unwrap_or(""))
            );
        }
        last_group = group;
        component_card(&mut out, view);
    }

    let past: Vec<&Incident> = snap
        .incidents
        .iter()
        .filter(|i| i.status.is_closed())
        .collect();
    if !past.is_empty() {
        out.push_str("<h2>Past incidents</h2>");
        for i in past {
            incident_card(&mut out, snap, i);
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
        xml(base),
        xml(&snap.page.name)
    );
    incident_card(&mut out, snap, incident);
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
        xml(title),
        xml(base)
    );
}

fn foot(out: &mut String, snap: &Snapshot, base: &str) {
    let base = xml(base);
    let _ = write!(
        out,
        "<footer>Updated {}. <a href=\"{base}/feed.atom\">Atom feed</a> · \
         <a href=\"{base}/api/v2/summary.json\">JSON</a> · \
         <a href=\"{base}/badge.svg\">Badge</a></footer></main></body></html>",
        xml(&human(snap.now_ms))
    );
}

fn incident_card(out: &mut String, snap: &Snapshot, i: &Incident) {
    let _ = write!(
        out,
        "<div class=\"card\" id=\"incident-{id}\"><div class=\"row\"><strong>\
         <a href=\"{base}/incidents/{id}\">{name}</a></strong>\
         <span class=\"muted\">{status} · impact {impact}</span></div>",
        id = i.id,
        base = xml(snap.page.base_path()),
        name = xml(&i.name),
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
            rfc3339(u.at_ms),
            xml(&human(u.at_ms)),
            xml(&u.body)
        );
    }
    out.push_str("</div>");
}

fn maintenance_card(out: &mut String, snap: &Snapshot, m: &Maintenance) {
    let _ = write!(
        out,
        "<div class=\"card\" id=\"maintenance-{}\"><div class=\"row\"><strong>{}</strong>\
         <span class=\"muted\">{}</span></div><div class=\"muted\">{} → {}</div>",
        m.id,
        xml(&m.name),
        m.status.label(),
        xml(&human(m.scheduled_for_ms)),
        xml(&human(m.scheduled_until_ms)),
    );
    affected_line(out, snap, &m.components);
    for u in m.updates.iter().rev() {
        let _ = write!(
            out,
            "<div class=\"update\"><strong>{}</strong> <span class=\"muted\">{}</span>\
             <p>{}</p></div>",
            u.status.label(),
            xml(&human(u.at_ms)),
            xml(&u.body)
        );
    }
    out.push_str("</div>");
}

fn affected_line(out: &mut String, snap: &Snapshot, ids: &[String]) {
    let names: Vec<String> = snap
        .components
        .iter()
        .filter(|v| ids.contains(&v.component.id))
        .map(|v| xml(&v.component.name))
        .collect();
    if !names.is_empty() {
        let _ = write!(
            out,
            "<div class=\"muted\">Affects {}</div>",
            names.join(", ")
        );
    }
}

fn component_card(out: &mut String, view: &ComponentView) {
    let c = &view.component;
    let _ = write!(
        out,
        "<div class=\"card\" id=\"component-{}\"><div class=\"row\"><strong>{}</strong>\
         <span class=\"s-{}\">{}</span></div>",
        xml(&slug(&c.id)),
        xml(&c.name),
        c.status.as_str(),
        c.status.label()
    );
    if let Some(d) = &c.description {
        let _ = write!(out, "<div class=\"muted\">{}</div>", xml(d));
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
    if !view.latency.is_empty() {
        let _ = write!(
            out,
            "<div class=\"row muted\"><span>Response time, last {} h</span>{}</div>",
            view.latency.len(),
            sparkline(&view.latency)
        );
    }
    out.push_str("</div>");
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
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"0\" width=\"4\" height=\"34\" rx=\"1\" fill=\"{}\">\
             <title>{}</title></rect>",
            i * 5,
            day_colour(d),
            xml(&title)
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
        "<svg width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"Response time\"><title>{}</title><polyline fill=\"none\" \
         stroke=\"#0969da\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        xml(&format!(
            "mean response time {:.0}–{:.0} ms per hour",
            if min.is_finite() { min } else { 0.0 },
            max
        )),
        coords.join(" ")
    )
}

/// The colour class of an indicator (used by the badge too).
pub fn indicator_colour(indicator: Indicator) -> &'static str {
    match indicator {
        Indicator::None => "#2da44e",
        Indicator::Maintenance => "#0969da",
        Indicator::Minor => "#bf8700",
        Indicator::Major => "#e16f24",
        Indicator::Critical => "#cf222e",
    }
}

/// The colour of a component state.
pub fn status_colour(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "#2da44e",
        ComponentStatus::UnderMaintenance => "#0969da",
        ComponentStatus::DegradedPerformance => "#bf8700",
        ComponentStatus::PartialOutage => "#e16f24",
        ComponentStatus::MajorOutage => "#cf222e",
    }
}
