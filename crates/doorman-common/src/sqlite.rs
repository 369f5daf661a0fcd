//! Opening Doorman's SQLite files, one way for all of them (`doorman.db`, `keys.sqlite`,
//! `status.sqlite`): the data directory owner-only, the file and its `-wal`/`-shm` companions
//! 0600, WAL, a busy timeout, and the schema brought up to date from an append-only list of
//! migrations, versioned with `PRAGMA user_version`.
//!
//! The files hold client IPs, request details and key hashes, which are nobody else's business,
//! so a file that an older Doorman (or an operator's `cp`) left readable by others is tightened
//! on every read-write open. A migration list only ever grows: entry `i` takes the schema from
//! version `i` to `i + 1`, and a file that has seen entry `i` must never see it changed. A file
//! whose version is beyond the list was written by a newer Doorman and is refused rather than
//! guessed at.
//!
//! Each store keeps its own error type and maps [`SqliteError`] into it, so that its messages
//! can name the file the way its users know it ("the key database", "the status database").

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

/// How long a connection waits for another one's lock before failing. Readers never block the
/// writer in WAL mode; this covers another process writing (the CLI next to the gateway) and
/// checkpoints.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How hard a commit tries to survive a power cut (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `NORMAL`: in WAL mode a power cut may lose the last commits, never corrupt the file.
    /// For data that is cheap to lose and written often (events, health checks).
    Normal,
    /// `FULL`: a commit that returned survives a power cut. For rare writes that someone was
    /// told are done (a revoked key).
    Full,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        }
    }
}

/// What a read-write open needs to know about a database.
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a> {
    /// The migrations, in order; see the module documentation.
    pub migrations: &'a [&'a str],
    /// `PRAGMA synchronous` for the connection.
    pub durability: Durability,
}

impl Schema<'_> {
    /// The schema version this build writes: the number of migrations.
    pub fn version(&self) -> u32 {
        u32::try_from(self.migrations.len()).expect("fewer than 2^32 migrations")
    }
}

/// What can go wrong opening a database. Every variant names the path concerned.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    /// The directory for the database could not be created.
    #[error("cannot create the directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The database file could not be created, or its permissions not restricted.
    #[error("cannot create {} with owner-only permissions: {source}", path.display())]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// SQLite could not open or set up the file.
    #[error("cannot open the database {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// An open that must not create found no file.
    #[error("no database at {}", path.display())]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A read-only open found a file that nothing has set up (`user_version` 0).
    #[error("{} is not a Doorman database (no schema version)", path.display())]
    Uninitialized {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer Doorman, whose schema this build does not know.
    #[error(
        "{} has schema version {found} but this Doorman knows only up to {known}; \
         run a newer Doorman or point it at another data directory",
        path.display()
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
    /// A migration failed; the transaction rolled back, so the file is still at its old version.
    #[error("cannot bring {} up to schema version {version}: {source}", path.display())]
    Migrate {
        /// The file.
        path: PathBuf,
        /// The version the failed migration would have reached.
        version: u32,
        /// Why.
        source: rusqlite::Error,
    },
}

/// Opens the database at `path` for reading and writing, creating it if missing: the directory
/// (0700, when this call creates it; an existing one is left as the operator set it), the file
/// (0600), WAL, [`BUSY_TIMEOUT`], `schema.durability`, then the missing migrations.
pub fn open(path: &Path, schema: Schema<'_>) -> Result<Connection, SqliteError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    create_file(path)?;
    connect(path, schema)
}

/// Like [`open`], but [`SqliteError::Missing`] when there is no file, so that a command that
/// only looks does not leave an empty database behind a mistyped path.
pub fn open_existing(path: &Path, schema: Schema<'_>) -> Result<Connection, SqliteError> {
    if !path.is_file() {
        return Err(SqliteError::Missing {
            path: path.to_owned(),
        });
    }
    connect(path, schema)
}

/// Opens an existing database read-only, for commands that read while a server writes. Applies
/// no migration and changes no permission (the reader may not own the file); a reader of an
/// older schema must cope with it. [`SqliteError::Missing`] when there is no file,
/// [`SqliteError::Uninitialized`] when no Doorman has set it up.
pub fn open_read_only(path: &Path) -> Result<Connection, SqliteError> {
    if !path.is_file() {
        return Err(SqliteError::Missing {
            path: path.to_owned(),
        });
    }
    let open_err = |source| SqliteError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    if user_version(&conn).map_err(open_err)? == 0 {
        // A clearer message than the "no such table" the first query would give.
        return Err(SqliteError::Uninitialized {
            path: path.to_owned(),
        });
    }
    Ok(conn)
}

/// The schema version of an open database (`PRAGMA user_version`; 0 for a fresh file).
pub fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Whether the connection's journal is WAL. SQLite falls back to its rollback journal on a file
/// system that cannot share memory; that is slower (readers wait for the writer) but correct,
/// so [`open`] does not fail on it and a store may warn.
pub fn is_wal(conn: &Connection) -> rusqlite::Result<bool> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    Ok(mode.eq_ignore_ascii_case("wal"))
}

fn connect(path: &Path, schema: Schema<'_>) -> Result<Connection, SqliteError> {
    restrict_permissions(path)?;
    let open_err = |source| SqliteError::Open {
        path: path.to_owned(),
        source,
    };
    let mut conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // The answer is the mode in effect, which `is_wal` reads back for whoever cares.
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(open_err)?;
    conn.pragma_update(None, "synchronous", schema.durability.pragma())
        .map_err(open_err)?;
    migrate(&mut conn, path, schema)?;
    Ok(conn)
}

/// Creates `dir` and its missing parents owner-only (0700 on Unix), for the data directory that
/// holds the databases: the gateway creates it at start, before any store opens a file in it.
/// An existing directory is left as the operator set it.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn create_dir(dir: &Path) -> Result<(), SqliteError> {
    create_private_dir(dir).map_err(|source| SqliteError::CreateDir {
        path: dir.to_owned(),
        source,
    })
}

/// Creates the file 0600 before SQLite opens it, since SQLite would create it with the umask's
/// mode (often 0644).
fn create_file(path: &Path) -> Result<(), SqliteError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(SqliteError::CreateFile {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Takes group and other permissions off the file and its `-wal`/`-shm` companions when they
/// have any: files made by an older Doorman were 0644. SQLite gives new companions the main
/// file's mode, so fixing the main file first covers those made later.
fn restrict_permissions(path: &Path) -> Result<(), SqliteError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut companions = vec![path.to_owned()];
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            companions.push(PathBuf::from(name));
        }
        for file in companions {
            let mode = match fs::metadata(&file) {
                Ok(meta) => meta.permissions().mode(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(SqliteError::CreateFile { path: file, source }),
            };
            if mode & 0o077 != 0 {
                fs::set_permissions(&file, fs::Permissions::from_mode(mode & 0o600))
                    .map_err(|source| SqliteError::CreateFile { path: file, source })?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Applies the migrations the file has not seen, all in one immediate transaction: two
/// processes opening a new file at once do not both apply them (the second reads the version
/// the first committed), and a failure leaves the file at its old version.
fn migrate(conn: &mut Connection, path: &Path, schema: Schema<'_>) -> Result<(), SqliteError> {
    let open_err = |source| SqliteError::Open {
        path: path.to_owned(),
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open_err)?;
    let found = user_version(&tx).map_err(open_err)?;
    let known = schema.version();
    if found > known {
        return Err(SqliteError::TooNew {
            path: path.to_owned(),
            found,
            known,
        });
    }
    if found == known {
        return Ok(());
    }
    for (version, sql) in (found + 1..).zip(&schema.migrations[found as usize..]) {
        tx.execute_batch(sql)
            .map_err(|source| SqliteError::Migrate {
                path: path.to_owned(),
                version,
                source,
            })?;
    }
    tx.pragma_update(None, "user_version", known)
        .and_then(|()| tx.commit())
        .map_err(|source| SqliteError::Migrate {
            path: path.to_owned(),
            version: known,
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);";
    const V2: &str = "ALTER TABLE things ADD COLUMN colour TEXT;";

    fn schema<'a>(migrations: &'a [&'a str]) -> Schema<'a> {
        Schema {
            migrations,
            durability: Durability::Normal,
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn bundled_sqlite_is_recent_enough() {
        let conn = Connection::open_in_memory().unwrap();
        let version: String = conn
            .query_row("SELECT sqlite_version()", [], |row| row.get(0))
            .unwrap();
        let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
        // 3.50.2 fixed CVE-2025-6965 (memory corruption through too many aggregate terms).
        assert!(parts >= vec![3, 50, 2], "bundled SQLite {version}");
        eprintln!("bundled SQLite {version}");
    }

    #[test]
    fn creates_an_owner_only_dir_and_file_and_migrates_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a").join("data");
        let path = dir.join("test.db");
        let conn = open(&path, schema(&[V1, V2])).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 2);
        assert!(is_wal(&conn).unwrap());
        conn.execute("INSERT INTO things (name, colour) VALUES ('a', 'red')", [])
            .unwrap();
        #[cfg(unix)]
        {
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&tmp.path().join("a")), 0o700);
            assert_eq!(mode(&path), 0o600);
            let wal = dir.join("test.db-wal");
            assert!(wal.exists());
            assert_eq!(mode(&wal), 0o600);
        }
        drop(conn);
        // A second CREATE TABLE would fail: nothing is applied twice.
        let conn = open(&path, schema(&[V1, V2])).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_dir_is_left_alone() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o750)).unwrap();
        open(&tmp.path().join("x.db"), schema(&[V1])).unwrap();
        assert_eq!(mode(tmp.path()), 0o750);
    }

    #[cfg(unix)]
    #[test]
    fn tightens_a_file_and_companions_left_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("old.db");
        // As an older Doorman made it: SQLite's own create, under a 022 umask.
        let conn = Connection::open(&path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .unwrap();
        conn.execute_batch(V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let wal = tmp.path().join("old.db-wal");
        let shm = tmp.path().join("old.db-shm");
        for file in [&path, &wal, &shm] {
            fs::set_permissions(file, fs::Permissions::from_mode(0o644)).unwrap();
        }
        let conn2 = open(&path, schema(&[V1])).unwrap();
        for file in [&path, &wal, &shm] {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
        drop((conn, conn2));
    }

    #[test]
    fn migrates_an_older_file_keeping_its_rows() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.db");
        let conn = open(&path, schema(&[V1])).unwrap();
        conn.execute("INSERT INTO things (name) VALUES ('kept')", [])
            .unwrap();
        drop(conn);
        let conn = open(&path, schema(&[V1, V2])).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 2);
        let row: (String, Option<String>) = conn
            .query_row("SELECT name, colour FROM things", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(row, ("kept".to_owned(), None));
    }

    #[test]
    fn a_failed_migration_leaves_the_old_version() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.db");
        drop(open(&path, schema(&[V1])).unwrap());
        let err = open(&path, schema(&[V1, V2, "NOT SQL"])).unwrap_err();
        assert!(
            matches!(err, SqliteError::Migrate { version: 3, .. }),
            "{err}"
        );
        let conn = open_read_only(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 1);
        // V2 rolled back with the rest.
        assert!(conn.prepare("SELECT colour FROM things").is_err());
    }

    #[test]
    fn refuses_a_file_from_a_newer_doorman() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.db");
        drop(open(&path, schema(&[V1, V2])).unwrap());
        let err = open(&path, schema(&[V1])).unwrap_err();
        assert!(
            matches!(
                err,
                SqliteError::TooNew {
                    found: 2,
                    known: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("run a newer Doorman"), "{err}");
    }

    #[test]
    fn open_existing_and_read_only_want_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.db");
        assert!(matches!(
            open_existing(&path, schema(&[V1])),
            Err(SqliteError::Missing { .. })
        ));
        assert!(matches!(
            open_read_only(&path),
            Err(SqliteError::Missing { .. })
        ));
        assert!(!path.exists(), "nothing left behind");
        fs::write(&path, b"").unwrap();
        assert!(matches!(
            open_read_only(&path),
            Err(SqliteError::Uninitialized { .. })
        ));
        open_existing(&path, schema(&[V1])).unwrap();
        let conn = open_read_only(&path).unwrap();
        assert!(
            conn.execute("INSERT INTO things (name) VALUES ('x')", [])
                .is_err()
        );
    }
}
