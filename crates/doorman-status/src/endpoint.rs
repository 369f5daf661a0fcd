//! Which renderer answers which path below the status page, so the gateway's router needs one
//! call: [`Endpoint::parse`] the rest of the path (after the configured status prefix), then
//! [`Endpoint::render`] a snapshot into a body and its content type.

use crate::model::Snapshot;
use crate::{atom, badge, html, json};

/// A status-page resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/` or empty: the HTML page.
    Page,
    /// `/incidents/<id>`: one incident's HTML page.
    IncidentPage(i64),
    /// `/api/v2/status.json`.
    StatusJson,
    /// `/api/v2/summary.json`.
    SummaryJson,
    /// `/api/v2/components.json`.
    ComponentsJson,
    /// `/api/v2/incidents.json`.
    IncidentsJson,
    /// `/api/v2/incidents/unresolved.json`.
    UnresolvedJson,
    /// `/api/v2/scheduled-maintenances.json`.
    MaintenancesJson,
    /// `/feed.atom` (also `/history.atom`, Statuspage's name).
    Atom,
    /// `/badge.svg`.
    Badge,
}

/// A rendered response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `Content-Type` header value.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Endpoint {
    /// The endpoint for `rest`, the request path after the status page's prefix (query string
    /// removed); `None` for anything else (a 404).
    pub fn parse(rest: &str) -> Option<Endpoint> {
        let rest = rest.trim_end_matches('/');
        Some(match rest {
            "" | "/index.html" => Endpoint::Page,
            "/api/v2/status.json" => Endpoint::StatusJson,
            "/api/v2/summary.json" => Endpoint::SummaryJson,
            "/api/v2/components.json" => Endpoint::ComponentsJson,
            "/api/v2/incidents.json" => Endpoint::IncidentsJson,
            "/api/v2/incidents/unresolved.json" => Endpoint::UnresolvedJson,
            "/api/v2/scheduled-maintenances.json" => Endpoint::MaintenancesJson,
            "/feed.atom" | "/history.atom" => Endpoint::Atom,
            "/badge.svg" => Endpoint::Badge,
            other => {
                let id = other.strip_prefix("/incidents/")?;
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Endpoint::IncidentPage(id.parse().ok()?)
            }
        })
    }

    /// Renders `snap`; `None` only for an incident the snapshot does not hold (a 404).
    pub fn render(self, snap: &Snapshot) -> Option<Rendered> {
        const JSON: &str = "application/json";
        let (content_type, body) = match self {
            Endpoint::Page => ("text/html; charset=utf-8", html::page(snap)),
            Endpoint::IncidentPage(id) => {
                ("text/html; charset=utf-8", html::incident_page(snap, id)?)
            }
            Endpoint::StatusJson => (JSON, json::status(snap).to_string()),
            Endpoint::SummaryJson => (JSON, json::summary(snap).to_string()),
            Endpoint::ComponentsJson => (JSON, json::components(snap).to_string()),
            Endpoint::IncidentsJson => (JSON, json::incidents(snap).to_string()),
            Endpoint::UnresolvedJson => (JSON, json::unresolved_incidents(snap).to_string()),
            Endpoint::MaintenancesJson => (JSON, json::scheduled_maintenances(snap).to_string()),
            Endpoint::Atom => ("application/atom+xml; charset=utf-8", atom::feed(snap)),
            Endpoint::Badge => ("image/svg+xml", badge::overall(snap)),
        };
        Some(Rendered { content_type, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        assert_eq!(Endpoint::parse(""), Some(Endpoint::Page));
        assert_eq!(Endpoint::parse("/"), Some(Endpoint::Page));
        assert_eq!(
            Endpoint::parse("/api/v2/summary.json"),
            Some(Endpoint::SummaryJson)
        );
        assert_eq!(
            Endpoint::parse("/incidents/12"),
            Some(Endpoint::IncidentPage(12))
        );
        assert_eq!(Endpoint::parse("/incidents/-1"), None);
        assert_eq!(Endpoint::parse("/incidents/"), None);
        assert_eq!(Endpoint::parse("/api/v2/nope.json"), None);
    }
}
