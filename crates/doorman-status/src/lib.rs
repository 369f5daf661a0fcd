//! Doorman's status page, without the network: the gateway's health checks report into a
//! [`StatusStore`] (one SQLite file, `<data_dir>/status.sqlite`) as daily aggregates per
//! component, operators open and update incidents and schedule maintenance through it, and a
//! [`Snapshot`] read from it at one instant is turned, by pure functions, into what the public
//! listener serves: Statuspage-compatible JSON (`/api/v2/*.json`), a plain HTML page with 90-day
//! uptime bars and latency sparklines, an Atom feed of incidents and an SVG badge. Time is always
//! an argument (Unix milliseconds); nothing here reads a clock or opens a socket.
//!
//! Map: [`model`] is the vocabulary (states, incidents, the overall indicator); [`store`] keeps it;
//! [`json`], [`html`], [`atom`] and [`badge`] render a snapshot; [`endpoint`] maps a request path
//! below the status page to the right renderer and content type; [`time`] is UTC calendar maths.
#![forbid(unsafe_code)]

pub mod atom;
pub mod badge;
pub mod endpoint;
pub mod escape;
pub mod html;
pub mod json;
pub mod model;
pub mod store;

pub use endpoint::{Endpoint, Rendered};
pub use model::{
    Component, ComponentSpec, ComponentStatus, ComponentView, DayUptime, Impact, Incident,
    IncidentStatus, Indicator, LatencyPoint, Maintenance, MaintenanceStatus, Mitigation, Overall,
    PageInfo, Snapshot, Update,
};
pub use store::{NewIncident, NewMaintenance, SnapshotOptions, StatusStore, db_path};

/// What can go wrong storing or reading status.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The database could not be created, opened, made owner-only or migrated.
    #[error(transparent)]
    Setup(doorman_common::sqlite::SqliteError),
    /// A query failed.
    #[error("status database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// No component with this id.
    #[error("no component {0:?}")]
    UnknownComponent(String),
    /// No incident with this id.
    #[error("no incident {0}")]
    UnknownIncident(i64),
    /// No maintenance with this id.
    #[error("no scheduled maintenance {0}")]
    UnknownMaintenance(i64),
    /// A text value is not one of the allowed ones.
    #[error("{value:?} is not a valid {what}; expected one of {}", expected.join(", "))]
    InvalidValue {
        /// The kind of value.
        what: &'static str,
        /// What was given.
        value: String,
        /// What is allowed.
        expected: &'static [&'static str],
    },
    /// A request that makes no sense (empty name, window that ends before it starts, …).
    #[error("{0}")]
    Invalid(String),
}

impl From<doorman_common::sqlite::SqliteError> for StatusError {
    fn from(err: doorman_common::sqlite::SqliteError) -> Self {
        StatusError::Setup(err)
    }
}
