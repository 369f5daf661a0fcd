//! Doorman's run-time state, kept in one SQLite file, `<data_dir>/doorman.db`. For now that is the
//! event log: every non-allow decision (deny, challenge, log, shadow) with everything needed to
//! explain it later, written off the request path by [`EventLog`] and read back by [`EventQuery`]
//! for `doorman events` and `doorman explain`. Counters, bans and keys will join it here, as
//! further tables added by migrations in [`db`].
//!
//! Where to start: [`record::EventRecord`] is what is stored; [`log`] is how it gets there
//! without slowing requests; [`query`] reads it; [`report`] is what the CLI prints.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

pub mod db;
pub mod log;
pub mod query;
pub mod record;
pub mod report;

pub use db::db_path;
pub use log::{EventLog, EventLogSettings, EventLogStats};
pub use query::{EventFilter, EventQuery, IpFilter, Retention};
pub use record::{Action, EventContext, EventRecord, Fact, TraceLine};

/// What can go wrong opening, writing or reading the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A reader found no database file.
    #[error(
        "no database at {}: has a Doorman server run with this data directory?",
        path.display()
    )]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The database could not be created, opened, made owner-only or migrated.
    #[error(transparent)]
    Setup(doorman_common::sqlite::SqliteError),
    /// SQLite refused a statement.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A record's facts or trace could not be encoded.
    #[error("cannot encode an event: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored event could not be decoded.
    #[error("stored event {ray_id} is unreadable: {detail}")]
    Corrupt {
        /// The event's Ray ID.
        ray_id: String,
        /// What was wrong.
        detail: String,
    },
    /// The writer thread could not be started.
    #[error("cannot start the event log writer thread: {0}")]
    Spawn(std::io::Error),
    /// The writer thread did not finish its work in time.
    #[error("the event log writer did not finish within {0:?}")]
    WriterStuck(Duration),
    /// The writer thread has stopped (after a shutdown, or a panic).
    #[error("the event log writer has stopped")]
    WriterGone,
}

impl From<doorman_common::sqlite::SqliteError> for StoreError {
    /// Keeps this crate's wording for the failures `doorman events` explains to its user.
    fn from(err: doorman_common::sqlite::SqliteError) -> Self {
        use doorman_common::sqlite::SqliteError as E;
        match err {
            E::Missing { path } => StoreError::Missing { path },
            other => StoreError::Setup(other),
        }
    }
}
