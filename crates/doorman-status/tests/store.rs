//! Storage round trips against a real SQLite file in a temp directory.

use doorman_common::when::{DAY_MS, HOUR_MS};
use doorman_status::{
    ComponentSpec, ComponentStatus, Impact, IncidentStatus, MaintenanceStatus, NewIncident,
    NewMaintenance, PageInfo, SnapshotOptions, StatusError, StatusStore,
};

/// 2026-11-20T00:00:00Z.
const DAY0: i64 = 20_777 * DAY_MS;

fn spec(id: &str) -> ComponentSpec {
    ComponentSpec {
        id: id.into(),
        name: format!("{id} name"),
        group: None,
        description: None,
        show_on_page: true,
        position: 0,
    }
}

fn page() -> PageInfo {
    PageInfo {
        id: "doorman".into(),
        name: "Example status".into(),
        url: "https://example.com/status".into(),
    }
}

#[test]
fn file_is_private_wal_and_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = StatusStore::open(&data).unwrap();
    assert_eq!(store.path(), data.join("status.sqlite"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    drop(store);
    let conn = rusqlite::Connection::open(data.join("status.sqlite")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, doorman_status::store::schema_version());
    // Reopening is idempotent; a newer schema is refused.
    drop(conn);
    StatusStore::open(&data).unwrap();
    let conn = rusqlite::Connection::open(data.join("status.sqlite")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        StatusStore::open(&data),
        Err(StatusError::Setup(
            doorman_common::sqlite::SqliteError::TooNew { found: 99, .. }
        ))
    ));
}

#[test]
fn checks_aggregate_per_utc_day_across_midnight() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::open(dir.path()).unwrap();
    // Three checks in the last minute of the 19th, two in the first minute of the 20th.
    store.record_check("api", DAY0 - 30_000, true, 100).unwrap();
    store
        .record_check("api", DAY0 - 20_000, false, 900)
        .unwrap();
    store.record_check("api", DAY0 - 1, true, 200).unwrap();
    store.record_check("api", DAY0, true, 50).unwrap();
    store.record_check("api", DAY0 + 59_000, true, 150).unwrap();

    let days = store.uptime_days("api", DAY0 + 12 * HOUR_MS, 2).unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].date, "2026-11-19");
    assert_eq!((days[0].checks, days[0].failures), (3, 1));
    assert!((days[0].uptime_percent.unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(days[0].latency_avg_ms, Some(400.0));
    assert_eq!(days[0].latency_max_ms, Some(900));
    assert_eq!(days[1].date, "2026-11-20");
    assert_eq!((days[1].checks, days[1].failures), (2, 0));
    assert_eq!(days[1].uptime_percent, Some(100.0));
    assert_eq!(days[1].latency_max_ms, Some(150));

    // Stored as aggregates, not beats: one row per day.
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM check_days", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
}

#[test]
fn response_time_series_counts_only_answered_checks() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::open(dir.path()).unwrap();
    let now = DAY0 + 10 * HOUR_MS;
    // A refused connection fails in a millisecond; that is not the component's response time.
    store.record_check("api", now - HOUR_MS, true, 40).unwrap();
    store.record_check("api", now - HOUR_MS, true, 60).unwrap();
    store.record_check("api", now - HOUR_MS, false, 1).unwrap();
    store.record_check("api", now, false, 1).unwrap();

    let series = store.latency_series("api", now, 24).unwrap();
    assert_eq!(
        series.len(),
        1,
        "the hour with only a failed check has no point"
    );
    assert_eq!(series[0].checks, 2);
    assert_eq!(series[0].avg_ms, 50.0);
    assert_eq!(series[0].max_ms, 60);
    // Uptime still counts the failures.
    let days = store.uptime_days("api", now, 1).unwrap();
    assert_eq!((days[0].checks, days[0].failures), (4, 2));
}

#[test]
fn ninety_day_window_marks_days_without_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::open(dir.path()).unwrap();
    let now = DAY0 + 10 * HOUR_MS;
    // Today, 89 days ago (first day of the window), 90 days ago (just outside).
    store.record_check("api", now, true, 10).unwrap();
    store
        .record_check("api", now - 89 * DAY_MS, false, 10)
        .unwrap();
    store
        .record_check("api", now - 90 * DAY_MS, true, 10)
        .unwrap();

    let days = store.uptime_days("api", now, 90).unwrap();
    assert_eq!(days.len(), 90);
    assert_eq!(days[0].day, 20_777 - 89);
    assert_eq!(days[0].uptime_percent, Some(0.0));
    assert_eq!(days[89].date, "2026-11-20");
    assert_eq!(days[89].uptime_percent, Some(100.0));
    let empty = days.iter().filter(|d| d.uptime_percent.is_none()).count();
    assert_eq!(empty, 88);
    assert!(days[1..89].iter().all(|d| d.checks == 0));
    // An unknown component has a window of empty days.
    assert!(
        store
            .uptime_days("nope", now, 90)
            .unwrap()
            .iter()
            .all(|d| d.uptime_percent.is_none())
    );
}

#[test]
fn latency_series_is_hourly_and_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::open(dir.path()).unwrap();
    let now = DAY0 + 12 * HOUR_MS + 5 * 60_000;
    store
        .record_check("api", now - 100 * HOUR_MS, true, 5)
        .unwrap();
    store
        .record_check("api", now - 2 * HOUR_MS, true, 100)
        .unwrap();
    store
        .record_check("api", now - 2 * HOUR_MS + 1000, true, 300)
        .unwrap();
    store.record_check("api", now, true, 40).unwrap();
    let series = store.latency_series("api", now, 24).unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].at_ms, DAY0 + 10 * HOUR_MS);
    assert_eq!(
        (series[0].avg_ms, series[0].max_ms, series[0].checks),
        (200.0, 300, 2)
    );
    assert_eq!(series[1].avg_ms, 40.0);
    // The 100-hour-old row was pruned by later writes.
    assert!(store.latency_series("api", now, 200).unwrap().len() == 2);
}

#[test]
fn components_keep_state_and_creation_across_upserts() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::open(dir.path()).unwrap();
    let c = store.upsert_component(&spec("api"), 1000).unwrap();
    assert_eq!(c.status, ComponentStatus::Operational);
    assert!(
        store
            .set_component_status("api", ComponentStatus::MajorOutage, 2000)
            .unwrap()
    );
    assert!(
        !store
            .set_component_status("api", ComponentStatus::MajorOutage, 3000)
            .unwrap()
    );
    let mut renamed = spec("api");
    renamed.name = "Public API".into();
    let c = store.upsert_component(&renamed, 4000).unwrap();
    assert_eq!(c.status, ComponentStatus::MajorOutage);
    assert_eq!((c.created_ms, c.updated_ms), (1000, 4000));
    // Same definition again: updated_at does not move.
    assert_eq!(
        store.upsert_component(&renamed, 5000).unwrap().updated_ms,
        4000
    );
    assert!(matches!(
        store.set_component_status("nope", ComponentStatus::Operational, 1),
        Err(StatusError::UnknownComponent(_))
    ));
    assert!(store.remove_component("api").unwrap());
    assert!(store.components().unwrap().is_empty());
}

#[test]
fn incident_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::open(dir.path()).unwrap();
    store.upsert_component(&spec("api"), DAY0).unwrap();
    let t = DAY0 + 14 * HOUR_MS;
    let opened = store
        .open_incident(
            &NewIncident {
                name: "API errors".into(),
                status: IncidentStatus::Investigating,
                impact: Impact::Major,
                body: "We are looking into it.".into(),
                components: vec!["api".into()],
            },
            t,
        )
        .unwrap();
    assert_eq!(opened.status, IncidentStatus::Investigating);
    assert_eq!(opened.components, ["api"]);
    assert_eq!(opened.updates.len(), 1);
    let id = opened.id;

    store
        .update_incident(
            id,
            IncidentStatus::Identified,
            "A bad deploy.",
            None,
            t + 60_000,
        )
        .unwrap();
    let m = store
        .update_incident(
            id,
            IncidentStatus::Monitoring,
            "Rolled back.",
            Some(Impact::Minor),
            t + 120_000,
        )
        .unwrap();
    assert_eq!(m.monitoring_ms, Some(t + 120_000));
    assert_eq!(m.impact, Impact::Minor);
    let r = store
        .resolve_incident(id, "All good.", t + 180_000)
        .unwrap();
    assert_eq!(r.status, IncidentStatus::Resolved);
    assert_eq!(r.resolved_ms, Some(t + 180_000));
    let statuses: Vec<_> = r.updates.iter().map(|u| u.status).collect();
    assert_eq!(
        statuses,
        [
            IncidentStatus::Investigating,
            IncidentStatus::Identified,
            IncidentStatus::Monitoring,
            IncidentStatus::Resolved
        ]
    );
    // A postmortem keeps the resolution time; a reopen clears it.
    let p = store
        .update_incident(
            id,
            IncidentStatus::Postmortem,
            "Write-up.",
            None,
            t + DAY_MS,
        )
        .unwrap();
    assert_eq!(p.resolved_ms, Some(t + 180_000));
    let again = store
        .update_incident(
            id,
            IncidentStatus::Investigating,
            "It is back.",
            None,
            t + 2 * DAY_MS,
        )
        .unwrap();
    assert_eq!(again.resolved_ms, None);
    assert_eq!(store.incident(id).unwrap().unwrap(), again);

    // Errors name what is wrong.
    assert!(matches!(
        store.update_incident(999, IncidentStatus::Resolved, "", None, t),
        Err(StatusError::UnknownIncident(999))
    ));
    let bad = NewIncident {
        name: "x".into(),
        status: IncidentStatus::Investigating,
        impact: Impact::None,
        body: String::new(),
        components: vec!["ghost".into()],
    };
    assert!(matches!(
        store.open_incident(&bad, t),
        Err(StatusError::UnknownComponent(_))
    ));
}

#[test]
fn old_resolved_incidents_leave_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::open(dir.path()).unwrap();
    let new = |name: &str| NewIncident {
        name: name.into(),
        status: IncidentStatus::Investigating,
        impact: Impact::Minor,
        body: "…".into(),
        components: vec![],
    };
    let old = store
        .open_incident(&new("old"), DAY0 - 40 * DAY_MS)
        .unwrap();
    store
        .resolve_incident(old.id, "done", DAY0 - 39 * DAY_MS)
        .unwrap();
    let open_old = store
        .open_incident(&new("still open"), DAY0 - 30 * DAY_MS)
        .unwrap();
    let recent = store.open_incident(&new("recent"), DAY0 - DAY_MS).unwrap();
    store.resolve_incident(recent.id, "done", DAY0).unwrap();

    let snap = store
        .snapshot(page(), DAY0 + HOUR_MS, vec![], &SnapshotOptions::default())
        .unwrap();
    let names: Vec<_> = snap.incidents.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["recent", "still open"]);
    assert_eq!(snap.unresolved().next().unwrap().id, open_old.id);
}

#[test]
fn maintenance_moves_with_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::open(dir.path()).unwrap();
    store.upsert_component(&spec("db"), DAY0).unwrap();
    let start = DAY0 + 2 * HOUR_MS;
    let m = store
        .schedule_maintenance(
            &NewMaintenance {
                name: "Database upgrade".into(),
                body: "Short read-only period.".into(),
                scheduled_for_ms: start,
                scheduled_until_ms: start + HOUR_MS,
                components: vec!["db".into()],
            },
            DAY0,
        )
        .unwrap();
    assert_eq!(m.status, MaintenanceStatus::Scheduled);
    assert!(store.advance_maintenances(start - 1).unwrap().is_empty());
    let moved = store.advance_maintenances(start).unwrap();
    assert_eq!(moved[0].status, MaintenanceStatus::InProgress);
    let moved = store.advance_maintenances(start + HOUR_MS).unwrap();
    assert_eq!(moved[0].status, MaintenanceStatus::Completed);
    assert_eq!(moved[0].completed_ms, Some(start + HOUR_MS));
    assert_eq!(moved[0].updates.len(), 3);
    assert!(
        store
            .advance_maintenances(start + 2 * HOUR_MS)
            .unwrap()
            .is_empty()
    );
    // Completed long ago: gone from the snapshot; recently: still listed (not open).
    assert_eq!(store.maintenances(start).unwrap().len(), 1);
    assert!(store.maintenances(start + 2 * HOUR_MS).unwrap().is_empty());

    let backwards = NewMaintenance {
        name: "x".into(),
        body: String::new(),
        scheduled_for_ms: start,
        scheduled_until_ms: start,
        components: vec![],
    };
    assert!(matches!(
        store.schedule_maintenance(&backwards, DAY0),
        Err(StatusError::Invalid(_))
    ));
}

#[test]
fn mitigations_keep_their_start_across_syncs_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = StatusStore::open(dir.path()).unwrap();
    let vpn = ("access:vpn".to_owned(), "Challenge for AS9009".to_owned());
    let cn = ("rule:cn".to_owned(), "Block for country CN".to_owned());
    let first = store
        .sync_mitigations(&[vpn.clone(), cn.clone()], DAY0)
        .unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|m| m.since_ms == DAY0));
    drop(store);

    // Reopened an hour later: the VPN challenge keeps its start even with new words; the
    // country block was lifted; a new one starts now.
    let store = StatusStore::open(dir.path()).unwrap();
    let reworded = (vpn.0.clone(), "Challenge for AS9009 (a VPN)".to_owned());
    let tor = ("access:tor".to_owned(), "Block for Tor".to_owned());
    let later = DAY0 + HOUR_MS;
    let second = store
        .sync_mitigations(&[reworded.clone(), tor.clone()], later)
        .unwrap();
    assert_eq!(second[0].what, "Challenge for AS9009 (a VPN)");
    assert_eq!(second[0].since_ms, DAY0);
    assert_eq!(second[1].since_ms, later);

    // Lifted and put back: a new start.
    store.sync_mitigations(&[], later + 1).unwrap();
    let third = store.sync_mitigations(&[cn], later + 2).unwrap();
    assert_eq!(third[0].since_ms, later + 2);
}
