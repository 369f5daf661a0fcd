//! An SVG status badge in the familiar two-part flat style ("status | operational"), coloured by
//! state: green operational, blue maintenance, yellow degraded, orange partial outage, red major
//! outage. Text is escaped; widths are estimated from character counts (no font metrics), which
//! is close enough for the short fixed words used.

use crate::html::{indicator_colour, status_colour};
use crate::model::{ComponentStatus, Indicator, Snapshot};
use doorman_common::html::escape;

/// The page's overall badge: "status | operational", "status | major outage", …
pub fn overall(snap: &Snapshot) -> String {
    let indicator = snap.overall().indicator;
    svg(
        "status",
        indicator_text(indicator),
        indicator_colour(indicator),
    )
}

/// A component's badge: "<label> | <state>".
pub fn component(label: &str, status: ComponentStatus) -> String {
    svg(label, status_text(status), status_colour(status))
}

/// The right-hand word(s) for an overall indicator.
pub fn indicator_text(indicator: Indicator) -> &'static str {
    match indicator {
        Indicator::None => "operational",
        Indicator::Maintenance => "maintenance",
        Indicator::Minor => "degraded",
        Indicator::Major => "partial outage",
        Indicator::Critical => "major outage",
    }
}

/// The right-hand word(s) for a component state.
pub fn status_text(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "operational",
        ComponentStatus::UnderMaintenance => "maintenance",
        ComponentStatus::DegradedPerformance => "degraded",
        ComponentStatus::PartialOutage => "partial outage",
        ComponentStatus::MajorOutage => "major outage",
    }
}

/// A two-part badge with `label` on grey and `message` on `colour`.
pub fn svg(label: &str, message: &str, colour: &str) -> String {
    let width = |s: &str| 10 + 7 * s.chars().count();
    let (lw, mw) = (width(label), width(message));
    let total = lw + mw;
    let (label, message, colour) = (escape(label), escape(message), escape(colour));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total}\" height=\"20\" role=\"img\" \
         aria-label=\"{label}: {message}\"><title>{label}: {message}</title>\
         <rect width=\"{lw}\" height=\"20\" fill=\"#555\"/>\
         <rect x=\"{lw}\" width=\"{mw}\" height=\"20\" fill=\"{colour}\"/>\
         <g fill=\"#fff\" text-anchor=\"middle\" \
         font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"11\">\
         <text x=\"{lx}\" y=\"14\">{label}</text><text x=\"{mx}\" y=\"14\">{message}</text>\
         </g></svg>",
        lx = lw / 2,
        mx = lw + mw / 2,
    )
}
