//! The one SQLite file that holds all of Doorman's embedded state, `<data_dir>/doorman.db`: where
//! it lives, how it is opened (a read-write connection for the writer, read-only ones for the
//! CLI), and its schema, versioned with `PRAGMA user_version`.
//!
//! Later stores (counters, bans, keys) add tables by appending to [`MIGRATIONS`], never by editing
//! an applied entry: a database that has seen migration N must never see it again changed.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use doorman_common::sqlite::{self, Durability, Schema};
use rusqlite::Connection;

use crate::StoreError;

/// The database's file name inside the data directory.
pub const DB_FILE: &str = "doorman.db";

/// Schema migrations, in order; entry `i` takes the schema from version `i` to `i + 1`.
///
/// `events.ip_key` is the client IP as 16 bytes (IPv4 as IPv4-mapped IPv6), so an IP or CIDR
/// filter is one range scan on its index, and an IPv4 filter also finds the same client logged
/// in mapped form.
pub const MIGRATIONS: &[&str] = &[
    // 1: the event log and a small key/value table for facts about the database itself.
    "CREATE TABLE meta (
         key   TEXT PRIMARY KEY,
         value TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE events (
         id         INTEGER PRIMARY KEY,
         ray_id     TEXT    NOT NULL,
         time_ms    INTEGER NOT NULL,
         client_ip  TEXT    NOT NULL,
         ip_key     BLOB    NOT NULL,
         method     TEXT    NOT NULL,
         host       TEXT    NOT NULL,
         path       TEXT    NOT NULL,
         user_agent TEXT,
         status     INTEGER NOT NULL,
         code       TEXT    NOT NULL,
         phase      TEXT    NOT NULL,
         rule       TEXT,
         reason     TEXT    NOT NULL,
         disclosure TEXT    NOT NULL,
         facts      TEXT    NOT NULL,
         private_facts TEXT NOT NULL DEFAULT '[]',
         route      TEXT,
         action     TEXT    NOT NULL,
         trace      TEXT    NOT NULL
     );
     CREATE INDEX events_time ON events (time_ms);
     CREATE INDEX events_ip   ON events (ip_key, time_ms);
     CREATE INDEX events_code ON events (code, time_ms);
     CREATE INDEX events_ray  ON events (ray_id);",
    // 2: the client's network as the gateway's network intelligence saw it (autonomous system
    // and ISO country, both NULL when unknown and in rows written before this version), and
    // indexes for the `doorman events` filters that had none. Country filters ignore case, so
    // their index is NOCASE: `country = ? COLLATE NOCASE` can use it, a BINARY one could not.
    // Each index ends with `time_ms` so that a filtered list comes out newest first without a
    // sort.
    "ALTER TABLE events ADD COLUMN asn INTEGER;
     ALTER TABLE events ADD COLUMN country TEXT;
     CREATE INDEX events_asn     ON events (asn, time_ms);
     CREATE INDEX events_country ON events (country COLLATE NOCASE, time_ms);
     CREATE INDEX events_rule    ON events (rule, time_ms);
     CREATE INDEX events_action  ON events (action, time_ms);",
];

/// The first schema version with `events.asn` and `events.country`; a reader of an older
/// database (a server not yet restarted on this version) reads them as NULL.
pub const NETWORK_COLUMNS_SINCE: u32 = 2;

/// The schema version this build writes.
pub fn schema_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// `<data_dir>/doorman.db`.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

/// The schema as [`sqlite::open`] applies it. `NORMAL` because losing the last moments of
/// events on power loss is an acceptable price for not syncing every batch.
const SCHEMA: Schema<'static> = Schema {
    migrations: MIGRATIONS,
    durability: Durability::Normal,
};

/// Opens (creating if needed: the data directory 0700, the file 0600) the database for
/// writing, in WAL mode so that readers never wait for the writer, and brings the schema up to
/// date.
pub fn open_writer(data_dir: &Path) -> Result<Connection, StoreError> {
    let path = db_path(data_dir);
    let conn = sqlite::open(&path, SCHEMA)?;
    if !sqlite::is_wal(&conn)? {
        tracing::warn!(
            path = %path.display(),
            "the database could not switch to WAL mode; readers may briefly wait for the writer"
        );
    }
    Ok(conn)
}

/// Opens an existing database read-only, for `doorman events` and `doorman explain`; works while
/// a server writes to it.
pub fn open_reader(data_dir: &Path) -> Result<Connection, StoreError> {
    Ok(sqlite::open_read_only(&db_path(data_dir))?)
}

/// The schema version of an open database (`PRAGMA user_version`; 0 for a fresh file).
pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    sqlite::user_version(conn)
}

/// The 16-byte form of an IP that `events.ip_key` stores and filters compare against.
pub fn ip_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Reads a value from the `meta` table.
pub(crate) fn meta_get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
        row.get(0)
    })
    .optional()
}

/// Writes a value to the `meta` table.
pub(crate) fn meta_set(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn creates_the_data_dir_owner_only_and_migrates_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a").join("data");
        let conn = open_writer(&dir).unwrap();
        assert_eq!(user_version(&conn).unwrap(), schema_version());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        drop(conn);
        // Reopening applies nothing twice (a second CREATE TABLE would fail).
        let conn = open_writer(&dir).unwrap();
        assert_eq!(user_version(&conn).unwrap(), schema_version());
    }

    #[test]
    fn refuses_a_database_from_a_newer_doorman() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open_writer(tmp.path()).unwrap();
        conn.pragma_update(None, "user_version", schema_version() + 1)
            .unwrap();
        drop(conn);
        let err = open_writer(tmp.path()).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Setup(doorman_common::sqlite::SqliteError::TooNew { .. })
            ),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_world_readable_database_becomes_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        drop(open_writer(tmp.path()).unwrap());
        let path = db_path(tmp.path());
        // doorman.db was 0644 before the shared helper.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_writer(tmp.path()).unwrap());
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn reader_explains_a_missing_or_empty_database() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            open_reader(tmp.path()),
            Err(StoreError::Missing { .. })
        ));
        fs::write(db_path(tmp.path()), b"").unwrap();
        assert!(matches!(
            open_reader(tmp.path()),
            Err(StoreError::Setup(
                doorman_common::sqlite::SqliteError::Uninitialized { .. }
            ))
        ));
    }

    #[test]
    fn ipv4_keys_are_ipv4_mapped() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ip_key(v4), ip_key(mapped));
    }
}
