//! The status database, `<data_dir>/status.sqlite`: components and their current state, health
//! check results folded into daily (and, for the sparkline, hourly) aggregates per component,
//! incidents and scheduled maintenance with their updates.
//!
//! Checks are never stored one by one: [`StatusStore::record_check`] adds to the row of the UTC
//! day (checks, failures, latency sum and max), so 90 days of history cost 90 rows per
//! component whatever the check interval; the hourly rows behind the sparkline are pruned after
//! [`HOURLY_RETENTION_HOURS`]. The file is created owner-only (0600) and runs in WAL mode; the
//! schema is versioned with `PRAGMA user_version` and only ever changed by appending to
//! [`MIGRATIONS`].

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use doorman_common::sqlite::{self, Durability, Schema};
use doorman_common::when::{self, DAY_MS, HOUR_MS, utc_day, utc_hour};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::StatusError;
use crate::model::{
    Component, ComponentSpec, ComponentStatus, ComponentView, DayUptime, Impact, Incident,
    IncidentStatus, LatencyPoint, Maintenance, MaintenanceStatus, Mitigation, PageInfo, Snapshot,
    Update,
};

/// The file name inside the data directory.
pub const DB_FILE: &str = "status.sqlite";

/// Hourly latency rows older than this are deleted as new checks arrive.
pub const HOURLY_RETENTION_HOURS: i64 = 48;

/// The schema as [`sqlite::open`] applies it. WAL (the helper's default) so that page renders
/// never wait for check writes; `NORMAL` since losing the last checks to a power cut is harmless.
const SCHEMA: Schema<'static> = Schema {
    migrations: MIGRATIONS,
    durability: Durability::Normal,
};

/// The schema, one step per entry. Append only: never edit or reorder a released step.
pub const MIGRATIONS: &[&str] = &[
    // 1: components, daily and hourly check aggregates, incidents, maintenance.
    "CREATE TABLE components (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        grp         TEXT,
        description TEXT,
        show        INTEGER NOT NULL,
        position    INTEGER NOT NULL,
        status      TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL
     );
     CREATE TABLE check_days (
        component_id   TEXT NOT NULL,
        day            INTEGER NOT NULL,
        checks         INTEGER NOT NULL,
        failures       INTEGER NOT NULL,
        latency_sum_ms INTEGER NOT NULL,
        latency_max_ms INTEGER NOT NULL,
        PRIMARY KEY (component_id, day)
     ) WITHOUT ROWID;
     CREATE TABLE check_hours (
        component_id   TEXT NOT NULL,
        hour           INTEGER NOT NULL,
        checks         INTEGER NOT NULL,
        latency_sum_ms INTEGER NOT NULL,
        latency_max_ms INTEGER NOT NULL,
        PRIMARY KEY (component_id, hour)
     ) WITHOUT ROWID;
     CREATE TABLE incidents (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL,
        status        TEXT NOT NULL,
        impact        TEXT NOT NULL,
        created_ms    INTEGER NOT NULL,
        updated_ms    INTEGER NOT NULL,
        monitoring_ms INTEGER,
        resolved_ms   INTEGER
     );
     CREATE TABLE incident_updates (
        id          INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        status      TEXT NOT NULL,
        body        TEXT NOT NULL,
        at_ms       INTEGER NOT NULL
     );
     CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);
     CREATE TABLE incident_components (
        incident_id  INTEGER NOT NULL REFERENCES incidents (id),
        component_id TEXT NOT NULL,
        PRIMARY KEY (incident_id, component_id)
     ) WITHOUT ROWID;
     CREATE TABLE maintenances (
        id                 INTEGER PRIMARY KEY,
        name               TEXT NOT NULL,
        status             TEXT NOT NULL,
        scheduled_for_ms   INTEGER NOT NULL,
        scheduled_until_ms INTEGER NOT NULL,
        created_ms         INTEGER NOT NULL,
        updated_ms         INTEGER NOT NULL,
        completed_ms       INTEGER
     );
     CREATE TABLE maintenance_updates (
        id             INTEGER PRIMARY KEY,
        maintenance_id INTEGER NOT NULL REFERENCES maintenances (id),
        status         TEXT NOT NULL,
        body           TEXT NOT NULL,
        at_ms          INTEGER NOT NULL
     );
     CREATE INDEX maintenance_updates_maintenance ON maintenance_updates (maintenance_id, id);
     CREATE TABLE maintenance_components (
        maintenance_id INTEGER NOT NULL REFERENCES maintenances (id),
        component_id   TEXT NOT NULL,
        PRIMARY KEY (maintenance_id, component_id)
     ) WITHOUT ROWID;",
    // 2: the public mitigations in force, so "since" survives restarts and reloads.
    "CREATE TABLE mitigations (
        key      TEXT PRIMARY KEY,
        what     TEXT NOT NULL,
        since_ms INTEGER NOT NULL
     ) WITHOUT ROWID;",
];

/// The schema version this build writes.
pub fn schema_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// `<data_dir>/status.sqlite`.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

/// A new incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    /// Title.
    pub name: String,
    /// First status (usually investigating).
    pub status: IncidentStatus,
    /// Impact.
    pub impact: Impact,
    /// First update's text.
    pub body: String,
    /// Affected component ids (must exist).
    pub components: Vec<String>,
}

/// A new scheduled maintenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMaintenance {
    /// Title.
    pub name: String,
    /// The announcement.
    pub body: String,
    /// Window start (Unix ms).
    pub scheduled_for_ms: i64,
    /// Window end (Unix ms).
    pub scheduled_until_ms: i64,
    /// Affected component ids (must exist).
    pub components: Vec<String>,
}

/// What a [`Snapshot`] covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Days of uptime bars (90 like Statuspage).
    pub days: u32,
    /// Hours of sparkline.
    pub latency_hours: u32,
    /// Resolved incidents and completed maintenance older than this many days are left out.
    pub history_days: u32,
    /// At most this many incidents.
    pub max_incidents: usize,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            days: 90,
            latency_hours: 24,
            history_days: 14,
            max_incidents: 50,
        }
    }
}

/// The status database. One connection behind a mutex: writes are a few per check interval.
#[derive(Debug)]
pub struct StatusStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl StatusStore {
    /// Opens `<data_dir>/status.sqlite`, creating the directory (0700) and file (0600) if
    /// missing, switching to WAL and bringing the schema up to date.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<StatusStore, StatusError> {
        let path = db_path(data_dir.as_ref());
        let conn = sqlite::open(&path, SCHEMA)?;
        Ok(StatusStore {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolls any transaction back on drop: still usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // ---- components -------------------------------------------------------------------------

    /// Adds a component (operational) or updates its definition, keeping its state, history and
    /// creation time. Returns the stored component.
    pub fn upsert_component(
        &self,
        spec: &ComponentSpec,
        now_ms: i64,
    ) -> Result<Component, StatusError> {
        if spec.id.trim().is_empty() || spec.name.trim().is_empty() {
            return Err(StatusError::Invalid(
                "a component needs a non-empty id and name".into(),
            ));
        }
        let conn = self.conn();
        conn.execute(
            "INSERT INTO components
                 (id, name, grp, description, show, position, status, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'operational', ?7, ?7)
             ON CONFLICT (id) DO UPDATE SET
                 name = excluded.name, grp = excluded.grp, description = excluded.description,
                 show = excluded.show, position = excluded.position,
                 updated_ms = CASE WHEN name IS excluded.name AND grp IS excluded.grp
                                    AND description IS excluded.description
                                    AND show IS excluded.show AND position IS excluded.position
                               THEN updated_ms ELSE excluded.updated_ms END",
            params![
                spec.id,
                spec.name,
                spec.group,
                spec.description,
                spec.show_on_page,
                spec.position,
                now_ms
            ],
        )?;
        component(&conn, &spec.id)?.ok_or_else(|| StatusError::UnknownComponent(spec.id.clone()))
    }

    /// Sets a component's state; `updated_at` moves only when the state changes. Returns whether
    /// it changed.
    pub fn set_component_status(
        &self,
        id: &str,
        status: ComponentStatus,
        now_ms: i64,
    ) -> Result<bool, StatusError> {
        let conn = self.conn();
        let current: Option<ComponentStatus> = conn
            .query_row("SELECT status FROM components WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        match current {
            None => Err(StatusError::UnknownComponent(id.to_owned())),
            Some(s) if s == status => Ok(false),
            Some(_) => {
                conn.execute(
                    "UPDATE components SET status = ?2, updated_ms = ?3 WHERE id = ?1",
                    params![id, status, now_ms],
                )?;
                Ok(true)
            }
        }
    }

    /// Removes a component and its check history (incidents keep naming it).
    pub fn remove_component(&self, id: &str) -> Result<bool, StatusError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute("DELETE FROM components WHERE id = ?1", [id])?;
        tx.execute("DELETE FROM check_days WHERE component_id = ?1", [id])?;
        tx.execute("DELETE FROM check_hours WHERE component_id = ?1", [id])?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// All components (hidden ones included), by position then id.
    pub fn components(&self) -> Result<Vec<Component>, StatusError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{COMPONENT_SELECT} ORDER BY position, id"))?;
        let rows = stmt.query_map([], component_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One component.
    pub fn component(&self, id: &str) -> Result<Option<Component>, StatusError> {
        component(&self.conn(), id)
    }

    // ---- checks -----------------------------------------------------------------------------

    /// Folds one health-check result into the component's aggregate for the UTC day (and hour)
    /// of `at_ms`. The component need not be defined yet.
    pub fn record_check(
        &self,
        component_id: &str,
        at_ms: i64,
        ok: bool,
        latency_ms: u64,
    ) -> Result<(), StatusError> {
        let latency = i64::try_from(latency_ms).unwrap_or(i64::MAX);
        let failed = i64::from(!ok);
        let hour = utc_hour(at_ms);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO check_days VALUES (?1, ?2, 1, ?3, ?4, ?4)
             ON CONFLICT (component_id, day) DO UPDATE SET
                 checks = checks + 1, failures = failures + excluded.failures,
                 latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms,
                 latency_max_ms = max(latency_max_ms, excluded.latency_max_ms)",
            params![component_id, utc_day(at_ms), failed, latency],
        )?;
        // The hourly series is the response time people see, so only checks that got an
        // answer count: a refused connection's "1 ms" is not a response time.
        if ok {
            tx.execute(
                "INSERT INTO check_hours VALUES (?1, ?2, 1, ?3, ?3)
             ON CONFLICT (component_id, hour) DO UPDATE SET
                 checks = checks + 1,
                 latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms,
                 latency_max_ms = max(latency_max_ms, excluded.latency_max_ms)",
                params![component_id, hour, latency],
            )?;
        }
        tx.execute(
            "DELETE FROM check_hours WHERE component_id = ?1 AND hour < ?2",
            params![component_id, hour - HOURLY_RETENTION_HOURS],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The last `days` UTC days up to and including today (the day of `now_ms`), oldest first,
    /// one entry per day; days without checks have `checks == 0` and `uptime_percent == None`.
    pub fn uptime_days(
        &self,
        component_id: &str,
        now_ms: i64,
        days: u32,
    ) -> Result<Vec<DayUptime>, StatusError> {
        let today = utc_day(now_ms);
        let first = today - i64::from(days) + 1;
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT day, checks, failures, latency_sum_ms, latency_max_ms FROM check_days
             WHERE component_id = ?1 AND day BETWEEN ?2 AND ?3 ORDER BY day",
        )?;
        let mut stored = stmt
            .query_map(params![component_id, first, today], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .peekable();
        let mut out = Vec::with_capacity(days as usize);
        for day in first..=today {
            let row = stored.next_if(|r| r.0 == day);
            let (checks, failures, sum, max) = match row {
                Some((_, c, f, s, m)) => (c.max(0) as u64, f.max(0) as u64, s, m),
                None => (0, 0, 0, 0),
            };
            out.push(DayUptime {
                day,
                date: when::utc_date(day * DAY_MS),
                checks,
                failures,
                uptime_percent: (checks > 0)
                    .then(|| 100.0 * (checks - failures.min(checks)) as f64 / checks as f64),
                latency_avg_ms: (checks > 0).then(|| sum as f64 / checks as f64),
                latency_max_ms: (checks > 0).then_some(max.max(0) as u64),
            });
        }
        Ok(out)
    }

    /// Hourly latency of answered checks over the last `hours` hours (including the current
    /// one), oldest first; hours without an answered check are absent.
    pub fn latency_series(
        &self,
        component_id: &str,
        now_ms: i64,
        hours: u32,
    ) -> Result<Vec<LatencyPoint>, StatusError> {
        let now = utc_hour(now_ms);
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT hour, checks, latency_sum_ms, latency_max_ms FROM check_hours
             WHERE component_id = ?1 AND hour BETWEEN ?2 AND ?3 ORDER BY hour",
        )?;
        let rows = stmt.query_map(
            params![component_id, now - i64::from(hours) + 1, now],
            |r| {
                let checks: i64 = r.get(1)?;
                let sum: i64 = r.get(2)?;
                Ok(LatencyPoint {
                    at_ms: r.get::<_, i64>(0)? * HOUR_MS,
                    avg_ms: sum as f64 / checks.max(1) as f64,
                    max_ms: r.get::<_, i64>(3)?.max(0) as u64,
                    checks: checks.max(0) as u64,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- incidents --------------------------------------------------------------------------

    /// Opens an incident with its first update.
    pub fn open_incident(&self, new: &NewIncident, now_ms: i64) -> Result<Incident, StatusError> {
        if new.name.trim().is_empty() {
            return Err(StatusError::Invalid("an incident needs a name".into()));
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for c in &new.components {
            check_component(&tx, c)?;
        }
        let (monitoring, resolved) = stamps(new.status, None, None, now_ms);
        tx.execute(
            "INSERT INTO incidents
                 (name, status, impact, created_ms, updated_ms, monitoring_ms, resolved_ms)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
            params![
                new.name, new.status, new.impact, now_ms, monitoring, resolved
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO incident_updates (incident_id, status, body, at_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, new.status, new.body, now_ms],
        )?;
        for c in &new.components {
            tx.execute(
                "INSERT OR IGNORE INTO incident_components VALUES (?1, ?2)",
                params![id, c],
            )?;
        }
        let incident = incident(&tx, id)?.ok_or(StatusError::UnknownIncident(id))?;
        tx.commit()?;
        Ok(incident)
    }

    /// Posts an update: the incident moves to `status` (and `impact`, if given). Moving to
    /// monitoring stamps `monitoring_at` the first time; to resolved or postmortem stamps
    /// `resolved_at` (kept through a later postmortem); back to an open status reopens it.
    pub fn update_incident(
        &self,
        id: i64,
        status: IncidentStatus,
        body: &str,
        impact: Option<Impact>,
        now_ms: i64,
    ) -> Result<Incident, StatusError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (monitoring, resolved): (Option<i64>, Option<i64>) = tx
            .query_row(
                "SELECT monitoring_ms, resolved_ms FROM incidents WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or(StatusError::UnknownIncident(id))?;
        let (monitoring, resolved) = stamps(status, monitoring, resolved, now_ms);
        tx.execute(
            "UPDATE incidents SET status = ?2, impact = coalesce(?3, impact), updated_ms = ?4,
                 monitoring_ms = ?5, resolved_ms = ?6 WHERE id = ?1",
            params![id, status, impact, now_ms, monitoring, resolved],
        )?;
        tx.execute(
            "INSERT INTO incident_updates (incident_id, status, body, at_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, status, body, now_ms],
        )?;
        let incident = incident(&tx, id)?.ok_or(StatusError::UnknownIncident(id))?;
        tx.commit()?;
        Ok(incident)
    }

    /// Resolves an incident with a closing update.
    pub fn resolve_incident(
        &self,
        id: i64,
        body: &str,
        now_ms: i64,
    ) -> Result<Incident, StatusError> {
        self.update_incident(id, IncidentStatus::Resolved, body, None, now_ms)
    }

    /// One incident with its updates.
    pub fn incident(&self, id: i64) -> Result<Option<Incident>, StatusError> {
        incident(&self.conn(), id)
    }

    /// Incidents, newest first: every unresolved one, plus those resolved at or after
    /// `resolved_since_ms`; at most `limit`.
    pub fn incidents(
        &self,
        resolved_since_ms: i64,
        limit: usize,
    ) -> Result<Vec<Incident>, StatusError> {
        let conn = self.conn();
        let ids: Vec<i64> = {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM incidents WHERE resolved_ms IS NULL OR resolved_ms >= ?1
                 ORDER BY created_ms DESC, id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(
                params![resolved_since_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| r.get(0),
            )?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(incident(&conn, id)?);
        }
        Ok(out)
    }

    // ---- maintenance ------------------------------------------------------------------------

    /// Announces a maintenance window (status `scheduled`).
    pub fn schedule_maintenance(
        &self,
        new: &NewMaintenance,
        now_ms: i64,
    ) -> Result<Maintenance, StatusError> {
        if new.name.trim().is_empty() {
            return Err(StatusError::Invalid("a maintenance needs a name".into()));
        }
        if new.scheduled_until_ms <= new.scheduled_for_ms {
            return Err(StatusError::Invalid(
                "a maintenance window must end after it starts".into(),
            ));
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for c in &new.components {
            check_component(&tx, c)?;
        }
        tx.execute(
            "INSERT INTO maintenances
                 (name, status, scheduled_for_ms, scheduled_until_ms, created_ms, updated_ms)
             VALUES (?1, 'scheduled', ?2, ?3, ?4, ?4)",
            params![
                new.name,
                new.scheduled_for_ms,
                new.scheduled_until_ms,
                now_ms
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO maintenance_updates (maintenance_id, status, body, at_ms)
             VALUES (?1, 'scheduled', ?2, ?3)",
            params![id, new.body, now_ms],
        )?;
        for c in &new.components {
            tx.execute(
                "INSERT OR IGNORE INTO maintenance_components VALUES (?1, ?2)",
                params![id, c],
            )?;
        }
        let m = maintenance(&tx, id)?.ok_or(StatusError::UnknownMaintenance(id))?;
        tx.commit()?;
        Ok(m)
    }

    /// Posts a maintenance update, moving it to `status`.
    pub fn update_maintenance(
        &self,
        id: i64,
        status: MaintenanceStatus,
        body: &str,
        now_ms: i64,
    ) -> Result<Maintenance, StatusError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE maintenances SET status = ?2, updated_ms = ?3,
                 completed_ms = CASE WHEN ?2 = 'completed' THEN coalesce(completed_ms, ?3)
                                     ELSE NULL END
             WHERE id = ?1",
            params![id, status, now_ms],
        )?;
        if n == 0 {
            return Err(StatusError::UnknownMaintenance(id));
        }
        tx.execute(
            "INSERT INTO maintenance_updates (maintenance_id, status, body, at_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, status, body, now_ms],
        )?;
        let m = maintenance(&tx, id)?.ok_or(StatusError::UnknownMaintenance(id))?;
        tx.commit()?;
        Ok(m)
    }

    /// Moves maintenance along its window as Statuspage's automation does: `scheduled` becomes
    /// `in_progress` once the window has started, and `in_progress` becomes `completed` once it
    /// has ended (`verifying` is left to the operator). Each move posts an update. Returns the
    /// maintenances that moved. Call it from the gateway's periodic tick.
    pub fn advance_maintenances(&self, now_ms: i64) -> Result<Vec<Maintenance>, StatusError> {
        let due: Vec<(i64, MaintenanceStatus)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(
                "SELECT id, status FROM maintenances
                 WHERE (status = 'scheduled' AND scheduled_for_ms <= ?1)
                    OR (status = 'in_progress' AND scheduled_until_ms <= ?1)
                 ORDER BY id",
            )?;
            let rows = stmt.query_map([now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut moved = Vec::new();
        for (id, status) in due {
            let m = self
                .maintenance(id)?
                .ok_or(StatusError::UnknownMaintenance(id))?;
            let (next, body) =
                if status == MaintenanceStatus::Scheduled && m.scheduled_until_ms > now_ms {
                    (
                        MaintenanceStatus::InProgress,
                        "Scheduled maintenance is currently in progress.",
                    )
                } else {
                    (
                        MaintenanceStatus::Completed,
                        "The scheduled maintenance has been completed.",
                    )
                };
            moved.push(self.update_maintenance(id, next, body, now_ms)?);
        }
        Ok(moved)
    }

    /// One maintenance with its updates.
    pub fn maintenance(&self, id: i64) -> Result<Option<Maintenance>, StatusError> {
        maintenance(&self.conn(), id)
    }

    /// Maintenances not completed, plus those completed at or after `completed_since_ms`,
    /// soonest window first.
    pub fn maintenances(&self, completed_since_ms: i64) -> Result<Vec<Maintenance>, StatusError> {
        let conn = self.conn();
        let ids: Vec<i64> = {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM maintenances WHERE completed_ms IS NULL OR completed_ms >= ?1
                 ORDER BY scheduled_for_ms, id",
            )?;
            let rows = stmt.query_map([completed_since_ms], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(maintenance(&conn, id)?);
        }
        Ok(out)
    }

    // ---- mitigations ------------------------------------------------------------------------

    /// Makes the stored public mitigations exactly `current` (key, words): a key seen before
    /// keeps its `since` (its words may change), a new key starts now, a key no longer given is
    /// forgotten. Returns them in the order given. The gateway calls this at start and on every
    /// reload, so "challenge for AS9009 since 14:02" survives both.
    pub fn sync_mitigations(
        &self,
        current: &[(String, String)],
        now_ms: i64,
    ) -> Result<Vec<Mitigation>, StatusError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known: Vec<String> = {
            let mut stmt = tx.prepare("SELECT key FROM mitigations")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for key in known {
            if !current.iter().any(|(k, _)| *k == key) {
                tx.execute("DELETE FROM mitigations WHERE key = ?1", [&key])?;
            }
        }
        let mut out = Vec::with_capacity(current.len());
        for (key, what) in current {
            tx.execute(
                "INSERT INTO mitigations (key, what, since_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET what = excluded.what",
                params![key, what, now_ms],
            )?;
            let since_ms: i64 = tx.query_row(
                "SELECT since_ms FROM mitigations WHERE key = ?1",
                [key],
                |r| r.get(0),
            )?;
            out.push(Mitigation {
                what: what.clone(),
                since_ms,
                until_ms: None,
            });
        }
        tx.commit()?;
        Ok(out)
    }

    // ---- snapshot ---------------------------------------------------------------------------

    /// Reads everything the renderers need at `now_ms`: public components with their uptime
    /// bars and sparkline, recent incidents, open and recent maintenance, and the caller's
    /// public mitigations.
    pub fn snapshot(
        &self,
        page: PageInfo,
        now_ms: i64,
        mitigations: Vec<Mitigation>,
        options: &SnapshotOptions,
    ) -> Result<Snapshot, StatusError> {
        let history_since = now_ms - i64::from(options.history_days) * DAY_MS;
        let mut components = Vec::new();
        for component in self.components()?.into_iter().filter(|c| c.show_on_page) {
            let uptime = self.uptime_days(&component.id, now_ms, options.days)?;
            let latency = self.latency_series(&component.id, now_ms, options.latency_hours)?;
            components.push(ComponentView {
                component,
                uptime,
                latency,
            });
        }
        Ok(Snapshot {
            page,
            now_ms,
            components,
            incidents: self.incidents(history_since, options.max_incidents)?,
            maintenances: self.maintenances(history_since)?,
            mitigations,
        })
    }
}

const COMPONENT_SELECT: &str = "SELECT id, name, grp, description, show, position, status,
     created_ms, updated_ms FROM components";

fn component_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Component> {
    Ok(Component {
        id: r.get(0)?,
        name: r.get(1)?,
        group: r.get(2)?,
        description: r.get(3)?,
        show_on_page: r.get(4)?,
        position: r.get(5)?,
        status: r.get(6)?,
        created_ms: r.get(7)?,
        updated_ms: r.get(8)?,
    })
}

fn component(conn: &Connection, id: &str) -> Result<Option<Component>, StatusError> {
    Ok(conn
        .query_row(
            &format!("{COMPONENT_SELECT} WHERE id = ?1"),
            [id],
            component_row,
        )
        .optional()?)
}

fn check_component(conn: &Connection, id: &str) -> Result<(), StatusError> {
    let found: Option<i64> = conn
        .query_row("SELECT 1 FROM components WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| StatusError::UnknownComponent(id.to_owned()))
}

/// `monitoring_ms` and `resolved_ms` after moving to `status` at `now_ms`.
fn stamps(
    status: IncidentStatus,
    monitoring: Option<i64>,
    resolved: Option<i64>,
    now_ms: i64,
) -> (Option<i64>, Option<i64>) {
    let monitoring = match status {
        IncidentStatus::Monitoring => monitoring.or(Some(now_ms)),
        _ => monitoring,
    };
    let resolved = if status.is_closed() {
        resolved.or(Some(now_ms))
    } else {
        None
    };
    (monitoring, resolved)
}

fn incident(conn: &Connection, id: i64) -> Result<Option<Incident>, StatusError> {
    let Some(mut inc) = conn
        .query_row(
            "SELECT id, name, status, impact, created_ms, updated_ms, monitoring_ms, resolved_ms
             FROM incidents WHERE id = ?1",
            [id],
            |r| {
                Ok(Incident {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    status: r.get(2)?,
                    impact: r.get(3)?,
                    components: Vec::new(),
                    updates: Vec::new(),
                    created_ms: r.get(4)?,
                    updated_ms: r.get(5)?,
                    monitoring_ms: r.get(6)?,
                    resolved_ms: r.get(7)?,
                })
            },
        )
        .optional()?
    else {
        return Ok(None);
    };
    inc.updates = updates(conn, "incident_updates", "incident_id", id)?;
    inc.components = linked(conn, "incident_components", "incident_id", id)?;
    Ok(Some(inc))
}

fn maintenance(conn: &Connection, id: i64) -> Result<Option<Maintenance>, StatusError> {
    let Some(mut m) = conn
        .query_row(
            "SELECT id, name, status, scheduled_for_ms, scheduled_until_ms, created_ms,
                    updated_ms, completed_ms
             FROM maintenances WHERE id = ?1",
            [id],
            |r| {
                Ok(Maintenance {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    status: r.get(2)?,
                    components: Vec::new(),
                    updates: Vec::new(),
                    scheduled_for_ms: r.get(3)?,
                    scheduled_until_ms: r.get(4)?,
                    created_ms: r.get(5)?,
                    updated_ms: r.get(6)?,
                    completed_ms: r.get(7)?,
                })
            },
        )
        .optional()?
    else {
        return Ok(None);
    };
    m.updates = updates(conn, "maintenance_updates", "maintenance_id", id)?;
    m.components = linked(conn, "maintenance_components", "maintenance_id", id)?;
    Ok(Some(m))
}

fn updates<S: rusqlite::types::FromSql>(
    conn: &Connection,
    table: &str,
    key: &str,
    id: i64,
) -> Result<Vec<Update<S>>, StatusError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, status, body, at_ms FROM {table} WHERE {key} = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([id], |r| {
        Ok(Update {
            id: r.get(0)?,
            status: r.get(1)?,
            body: r.get(2)?,
            at_ms: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn linked(conn: &Connection, table: &str, key: &str, id: i64) -> Result<Vec<String>, StatusError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT component_id FROM {table} WHERE {key} = ?1 ORDER BY component_id"
    ))?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
