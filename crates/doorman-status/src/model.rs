//! What a status page is made of: components and their states, incidents with their updates,
//! scheduled maintenance, the mitigations the operator chose to disclose, and the overall
//! indicator derived from them the way Atlassian Statuspage derives it. Every enum serialises
//! to Statuspage's exact string values (`degraded_performance`, `in_progress`, …).

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

/// Declares a string enum with Statuspage's spelling, `as_str`, `FromStr`, `Display`, serde and
/// SQLite conversions (stored as its text), ordered by declaration (later = worse or later).
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = crate::StatusError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(crate::StatusError::InvalidValue {
                        what: stringify!($name),
                        value: s.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value
                    .as_str()?
                    .parse()
                    .map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

string_enum! {
    /// A component's current state (Statuspage's component `status`).
    ComponentStatus {
        /// Working normally.
        Operational = "operational",
        /// Slow or erroring sometimes.
        DegradedPerformance = "degraded_performance",
        /// Down for some.
        PartialOutage = "partial_outage",
        /// Down.
        MajorOutage = "major_outage",
        /// Planned work in progress.
        UnderMaintenance = "under_maintenance",
    }
}

impl ComponentStatus {
    /// How bad it is, for "worst of": maintenance ranks just above operational, as in
    /// Statuspage's roll-up.
    pub fn severity(self) -> u8 {
        match self {
            ComponentStatus::Operational => 0,
            ComponentStatus::UnderMaintenance => 1,
            ComponentStatus::DegradedPerformance => 2,
            ComponentStatus::PartialOutage => 3,
            ComponentStatus::MajorOutage => 4,
        }
    }

    /// For people: "Degraded performance".
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
            ComponentStatus::UnderMaintenance => "Under maintenance",
        }
    }
}

string_enum! {
    /// Where an incident stands (Statuspage's incident `status`).
    IncidentStatus {
        /// Something is wrong; the cause is not known yet.
        Investigating = "investigating",
        /// The cause is known.
        Identified = "identified",
        /// A fix is in; watching.
        Monitoring = "monitoring",
        /// Over.
        Resolved = "resolved",
        /// Over, and a write-up is published.
        Postmortem = "postmortem",
    }
}

impl IncidentStatus {
    /// Resolved or post-mortem: no longer "unresolved" in Statuspage's sense.
    pub fn is_closed(self) -> bool {
        matches!(self, IncidentStatus::Resolved | IncidentStatus::Postmortem)
    }

    /// For people: "Investigating".
    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
            IncidentStatus::Postmortem => "Postmortem",
        }
    }
}

string_enum! {
    /// How much an incident hurts (Statuspage's incident `impact`).
    Impact {
        /// No visible impact.
        None = "none",
        /// Some users, some of the time.
        Minor = "minor",
        /// Many users.
        Major = "major",
        /// Everyone.
        Critical = "critical",
    }
}

string_enum! {
    /// Where a scheduled maintenance stands (Statuspage's maintenance `status`).
    MaintenanceStatus {
        /// Announced, not started.
        Scheduled = "scheduled",
        /// Under way.
        InProgress = "in_progress",
        /// Done, being checked.
        Verifying = "verifying",
        /// Over.
        Completed = "completed",
    }
}

impl MaintenanceStatus {
    /// For people: "In progress".
    pub fn label(self) -> &'static str {
        match self {
            MaintenanceStatus::Scheduled => "Scheduled",
            MaintenanceStatus::InProgress => "In progress",
            MaintenanceStatus::Verifying => "Verifying",
            MaintenanceStatus::Completed => "Completed",
        }
    }
}

string_enum! {
    /// The page's overall indicator (Statuspage's `status.indicator`). Statuspage documents
    /// `none | minor | major | critical` and also answers `maintenance` while maintenance is
    /// the only thing going on; so does Doorman.
    Indicator {
        /// All good.
        None = "none",
        /// Planned work, nothing broken.
        Maintenance = "maintenance",
        /// Something degraded.
        Minor = "minor",
        /// Something partly down.
        Major = "major",
        /// Something down.
        Critical = "critical",
    }
}

impl Indicator {
    /// Statuspage's description for this indicator.
    pub fn description(self) -> &'static str {
        match self {
            Indicator::None => "All Systems Operational",
            Indicator::Maintenance => "Service Under Maintenance",
            Indicator::Minor => "Minor Service Outage",
            Indicator::Major => "Partial System Outage",
            Indicator::Critical => "Major Service Outage",
        }
    }

    fn from_component(status: ComponentStatus) -> Indicator {
        match status {
            ComponentStatus::Operational => Indicator::None,
            ComponentStatus::UnderMaintenance => Indicator::Maintenance,
            ComponentStatus::DegradedPerformance => Indicator::Minor,
            ComponentStatus::PartialOutage => Indicator::Major,
            ComponentStatus::MajorOutage => Indicator::Critical,
        }
    }

    fn from_impact(impact: Impact) -> Indicator {
        match impact {
            Impact::None => Indicator::None,
            Impact::Minor => Indicator::Minor,
            Impact::Major => Indicator::Major,
            Impact::Critical => Indicator::Critical,
        }
    }
}

/// The page's overall status: `{ indicator, description }` in `status.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Overall {
    /// The indicator.
    pub indicator: Indicator,
    /// Its description ("All Systems Operational", …).
    pub description: &'static str,
}

impl Overall {
    /// The worst of the visible components' states and the unresolved incidents' impacts; a
    /// maintenance in progress (or a component under maintenance) shows as `maintenance` when
    /// nothing is worse.
    pub fn derive(
        components: &[Component],
        incidents: &[Incident],
        maintenances: &[Maintenance],
    ) -> Overall {
        let from_components = components
            .iter()
            .filter(|c| c.show_on_page)
            .map(|c| Indicator::from_component(c.status));
        let from_incidents = incidents
            .iter()
            .filter(|i| !i.status.is_closed())
            .map(|i| Indicator::from_impact(i.impact));
        let from_maintenance = maintenances
            .iter()
            .filter(|m| m.status == MaintenanceStatus::InProgress)
            .map(|_| Indicator::Maintenance);
        let indicator = from_components
            .chain(from_incidents)
            .chain(from_maintenance)
            .max()
            .unwrap_or(Indicator::None);
        Overall {
            indicator,
            description: indicator.description(),
        }
    }
}

/// A component as configured: what the gateway tells the store about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentSpec {
    /// Stable identifier (e.g. the upstream's name); used in URLs and JSON ids.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Optional group name; components of a group are shown together.
    pub group: Option<String>,
    /// Optional description.
    pub description: Option<String>,
    /// Whether the component appears on the public page and API at all.
    pub show_on_page: bool,
    /// Display order (smaller first).
    pub position: i64,
}

/// A component with its current state, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// Stable identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Group name, if any.
    pub group: Option<String>,
    /// Description, if any.
    pub description: Option<String>,
    /// Whether the component appears publicly.
    pub show_on_page: bool,
    /// Display order.
    pub position: i64,
    /// Current state.
    pub status: ComponentStatus,
    /// When first stored (Unix ms).
    pub created_ms: i64,
    /// When its definition or state last changed (Unix ms).
    pub updated_ms: i64,
}

/// One update posted to an incident or maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Update<S> {
    /// Identifier, unique among updates of its kind.
    pub id: i64,
    /// The status the update moved to.
    pub status: S,
    /// The text.
    pub body: String,
    /// When posted (Unix ms).
    pub at_ms: i64,
}

/// An incident: something unplanned, with its updates oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// Identifier.
    pub id: i64,
    /// Title.
    pub name: String,
    /// Current status (that of the latest update).
    pub status: IncidentStatus,
    /// Impact.
    pub impact: Impact,
    /// Affected component ids.
    pub components: Vec<String>,
    /// Updates, oldest first.
    pub updates: Vec<Update<IncidentStatus>>,
    /// Opened (Unix ms).
    pub created_ms: i64,
    /// Last changed (Unix ms).
    pub updated_ms: i64,
    /// First moved to monitoring (Unix ms).
    pub monitoring_ms: Option<i64>,
    /// Resolved (Unix ms); cleared if reopened.
    pub resolved_ms: Option<i64>,
}

/// A scheduled maintenance, with its updates oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Maintenance {
    /// Identifier.
    pub id: i64,
    /// Title.
    pub name: String,
    /// Current status.
    pub status: MaintenanceStatus,
    /// Affected component ids.
    pub components: Vec<String>,
    /// Updates, oldest first (the first is the announcement).
    pub updates: Vec<Update<MaintenanceStatus>>,
    /// Window start (Unix ms).
    pub scheduled_for_ms: i64,
    /// Window end (Unix ms).
    pub scheduled_until_ms: i64,
    /// Announced (Unix ms).
    pub created_ms: i64,
    /// Last changed (Unix ms).
    pub updated_ms: i64,
    /// Completed (Unix ms).
    pub completed_ms: Option<i64>,
}

impl Maintenance {
    /// Not completed: upcoming, in progress or verifying (what `summary.json` lists).
    pub fn is_open(&self) -> bool {
        self.status != MaintenanceStatus::Completed
    }
}

/// A mitigation in force that visitors may run into, which the operator marked public, e.g.
/// "challenge for AS9009" since 14:02. The gateway names them from its config;
/// [`crate::StatusStore::sync_mitigations`] remembers since when each is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mitigation {
    /// What is done to whom: "challenge for AS9009".
    pub what: String,
    /// Since when (Unix ms).
    pub since_ms: i64,
    /// Until when, if it expires (Unix ms).
    pub until_ms: Option<i64>,
}

/// Uptime of one component on one UTC day, from the daily aggregate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayUptime {
    /// Day number (days since 1970-01-01).
    pub day: i64,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Checks recorded that day.
    pub checks: u64,
    /// Of which failed.
    pub failures: u64,
    /// Percentage of checks that passed; `None` when there were no checks.
    pub uptime_percent: Option<f64>,
    /// Mean latency of the day's checks (ms); `None` without checks.
    pub latency_avg_ms: Option<f64>,
    /// Worst latency of the day (ms); `None` without checks.
    pub latency_max_ms: Option<u64>,
}

/// One point of the latency sparkline: an hourly aggregate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyPoint {
    /// Start of the hour (Unix ms).
    pub at_ms: i64,
    /// Mean latency over that hour's checks (ms).
    pub avg_ms: f64,
    /// Worst latency that hour (ms).
    pub max_ms: u64,
    /// Checks in that hour.
    pub checks: u64,
}

/// Identity of the page, for JSON's `page` object, links and the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageInfo {
    /// Page id (Statuspage's `page.id`); any stable string.
    pub id: String,
    /// Page name, e.g. "Example status".
    pub name: String,
    /// Public URL of the HTML page, without trailing slash, e.g. `https://example.com/status`.
    /// Incident links are `<url>/incidents/<id>`, the feed `<url>/feed.atom`.
    pub url: String,
}

impl PageInfo {
    /// The path part of [`PageInfo::url`] (`/status`), used for relative links in HTML so the
    /// page names no host at all.
    pub fn base_path(&self) -> &str {
        let rest = match self.url.find("://") {
            Some(i) => &self.url[i + 3..],
            None => return self.url.trim_end_matches('/'),
        };
        match rest.find('/') {
            Some(i) => rest[i..].trim_end_matches('/'),
            None => "",
        }
    }

    /// The public link of an incident.
    pub fn incident_url(&self, id: i64) -> String {
        format!("{}/incidents/{id}", self.url.trim_end_matches('/'))
    }
}

/// A component with its history, as the renderers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentView {
    /// The component.
    pub component: Component,
    /// Daily uptime, oldest first, one entry per day of the window (days without data included).
    pub uptime: Vec<DayUptime>,
    /// Hourly latency, oldest first (only hours with checks).
    pub latency: Vec<LatencyPoint>,
}

impl ComponentView {
    /// Uptime over the whole window: passed checks / checks, `None` without any check.
    pub fn window_uptime_percent(&self) -> Option<f64> {
        let (checks, failures) = self
            .uptime
            .iter()
            .fold((0u64, 0u64), |(c, f), d| (c + d.checks, f + d.failures));
        (checks > 0).then(|| 100.0 * (checks - failures) as f64 / checks as f64)
    }
}

/// Everything the renderers need, read at one instant. Renderers are pure functions of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// The page.
    pub page: PageInfo,
    /// When the snapshot was taken (Unix ms).
    pub now_ms: i64,
    /// Public components (`show_on_page`), by position then id.
    pub components: Vec<ComponentView>,
    /// Recent incidents, newest first (open ones and the resolved ones of the window).
    pub incidents: Vec<Incident>,
    /// Maintenances not completed, plus recently completed ones, soonest first.
    pub maintenances: Vec<Maintenance>,
    /// Public mitigations in force, supplied by the caller.
    pub mitigations: Vec<Mitigation>,
}

impl Snapshot {
    /// The overall status.
    pub fn overall(&self) -> Overall {
        let components: Vec<Component> = self
            .components
            .iter()
            .map(|v| v.component.clone())
            .collect();
        Overall::derive(&components, &self.incidents, &self.maintenances)
    }

    /// When anything on the page last changed (Statuspage's `page.updated_at`); the snapshot
    /// time when nothing is stored.
    pub fn updated_ms(&self) -> i64 {
        self.components
            .iter()
            .map(|c| c.component.updated_ms)
            .chain(self.incidents.iter().map(|i| i.updated_ms))
            .chain(self.maintenances.iter().map(|m| m.updated_ms))
            .max()
            .unwrap_or(self.now_ms)
    }

    /// Incidents not resolved.
    pub fn unresolved(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(|i| !i.status.is_closed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(status: ComponentStatus) -> Component {
        Component {
            id: "api".into(),
            name: "API".into(),
            group: None,
            description: None,
            show_on_page: true,
            position: 0,
            status,
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn overall_follows_the_worst_component() {
        let cases = [
            (vec![], Indicator::None, "All Systems Operational"),
            (
                vec![
                    ComponentStatus::Operational,
                    ComponentStatus::UnderMaintenance,
                ],
                Indicator::Maintenance,
                "Service Under Maintenance",
            ),
            (
                vec![
                    ComponentStatus::DegradedPerformance,
                    ComponentStatus::UnderMaintenance,
                ],
                Indicator::Minor,
                "Minor Service Outage",
            ),
            (
                vec![ComponentStatus::PartialOutage, ComponentStatus::Operational],
                Indicator::Major,
                "Partial System Outage",
            ),
            (
                vec![ComponentStatus::MajorOutage, ComponentStatus::PartialOutage],
                Indicator::Critical,
                "Major Service Outage",
            ),
        ];
        for (states, indicator, description) in cases {
            let comps: Vec<_> = states.into_iter().map(component).collect();
            let overall = Overall::derive(&comps, &[], &[]);
            assert_eq!(overall.indicator, indicator);
            assert_eq!(overall.description, description);
        }
    }

    #[test]
    fn hidden_components_do_not_count() {
        let mut c = component(ComponentStatus::MajorOutage);
        c.show_on_page = false;
        assert_eq!(Overall::derive(&[c], &[], &[]).indicator, Indicator::None);
    }

    #[test]
    fn enums_round_trip_through_text() {
        for s in ComponentStatus::ALL {
            assert_eq!(s.as_str().parse::<ComponentStatus>().unwrap(), *s);
        }
        assert!("down".parse::<ComponentStatus>().is_err());
        assert_eq!(
            serde_json::to_string(&MaintenanceStatus::InProgress).unwrap(),
            "\"in_progress\""
        );
    }

    #[test]
    fn base_path_of_the_page_url() {
        let mut page = PageInfo {
            id: "p".into(),
            name: "n".into(),
            url: "https://example.com/status/".into(),
        };
        assert_eq!(page.base_path(), "/status");
        page.url = "https://status.example.com".into();
        assert_eq!(page.base_path(), "");
        assert_eq!(
            page.incident_url(3),
            "https://status.example.com/incidents/3"
        );
    }
}
