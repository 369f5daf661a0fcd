//! The key database: one SQLite file, `<data_dir>/keys.sqlite`, shared by the gateway (which
//! reads snapshots and records last-used times) and `doorman keys` (which creates, revokes and
//! rotates), each in its own process.
//!
//! Only the SHA-256 of a key is stored, never the key. Writes are short `BEGIN IMMEDIATE`
//! transactions, so two processes never interleave a read-check-write (a name taken twice, a
//! key rotated twice). The file is WAL, so the gateway's reads never wait for the CLI, and its
//! `PRAGMA data_version` tells the gateway cheaply when another process has committed.
//!
//! The schema is versioned with `PRAGMA user_version` and changed only by appending to
//! [`MIGRATIONS`]: a file that has seen migration N must never see it changed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use doorman_common::sqlite::{self, Durability, Schema, SqliteError};
use doorman_common::when;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::format::{self, RandomError, Secret};
use crate::record::{self, ID_PREFIX, ID_RANDOM_LEN, KeyRecord, NewKey};
use crate::snapshot::KeySnapshot;

/// The key database's file name inside the data directory.
pub const KEYS_FILE: &str = "keys.sqlite";

/// The schema as [`sqlite::open`] applies it. `FULL`: a revocation that was reported done
/// must survive a power cut; writes are rare. WAL (the helper's default) means the gateway's
/// reads never wait for the CLI's writes, nor the other way round.
const SCHEMA: Schema<'static> = Schema {
    migrations: MIGRATIONS,
    durability: Durability::Full,
};

/// Schema migrations, in order; entry `i` takes the schema from version `i` to `i + 1`.
///
/// Names are unique only among current keys (neither revoked nor rotated away), which the
/// partial index enforces even against two processes racing: a rotated key keeps its name next
/// to its successor's, and a revoked key's name can be given to a new key.
pub const MIGRATIONS: &[&str] = &[
    // 1: the keys.
    "CREATE TABLE keys (
         id           TEXT    PRIMARY KEY,
         name         TEXT    NOT NULL,
         prefix       TEXT    NOT NULL,
         hash         BLOB    NOT NULL UNIQUE,
         display      TEXT    NOT NULL,
         scopes       TEXT    NOT NULL,
         created_ms   INTEGER NOT NULL,
         expires_ms   INTEGER,
         revoked_ms   INTEGER,
         last_used_ms INTEGER,
         rate_limit   TEXT,
         rotated_from TEXT,
         rotated_to   TEXT
     );
     CREATE UNIQUE INDEX keys_current_name ON keys (name)
         WHERE revoked_ms IS NULL AND rotated_to IS NULL;
     CREATE INDEX keys_name ON keys (name, created_ms);",
];

/// The schema version this build writes.
pub fn schema_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// `<data_dir>/keys.sqlite`.
pub fn keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS_FILE)
}

/// What can go wrong with the key store. Messages say what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// [`KeyStore::open_existing`] found no database.
    #[error(
        "no key database at {}: no key has been created with this data directory yet \
         (`doorman keys create` makes one)",
        path.display()
    )]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The database could not be created, opened, made owner-only or migrated.
    #[error(transparent)]
    Setup(SqliteError),
    /// SQLite refused a statement.
    #[error("key database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// No randomness for a new key.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The prefix cannot be used.
    #[error("the key prefix `{prefix}` cannot be used: {reason}")]
    InvalidPrefix {
        /// The prefix.
        prefix: String,
        /// Why.
        reason: &'static str,
    },
    /// The name cannot be used.
    #[error("the key name `{name}` cannot be used: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A scope cannot be used.
    #[error("the scope `{scope}` cannot be used: {reason}")]
    InvalidScope {
        /// The scope.
        scope: String,
        /// Why.
        reason: String,
    },
    /// The rate limit cannot be used.
    #[error("the rate limit `{text}` cannot be used: {reason}")]
    InvalidRateLimit {
        /// The text.
        text: String,
        /// Why.
        reason: String,
    },
    /// The expiry is not after the creation time.
    #[error(
        "the expiry {} is not in the future (now is {}); give a later time or a duration such \
         as 30d",
        when::rfc3339(*expires_at),
        when::rfc3339(*now)
    )]
    ExpiryNotInFuture {
        /// The requested expiry (Unix ms).
        expires_at: i64,
        /// The creation time (Unix ms).
        now: i64,
    },
    /// A current key already has the name.
    #[error(
        "a key named `{name}` already exists ({id}); choose another name, rotate it \
         (`doorman keys rotate {name}`) or revoke it first"
    )]
    NameTaken {
        /// The name.
        name: String,
        /// The key that has it.
        id: String,
    },
    /// No key has this id or name.
    #[error("{}", not_found_message(query, near))]
    NotFound {
        /// What was looked for.
        query: String,
        /// Ids and names close to it, closest first.
        near: Vec<String>,
    },
    /// The key was already revoked.
    #[error("{id} (`{name}`) was already revoked at {}", when::rfc3339(*at))]
    AlreadyRevoked {
        /// The key's id.
        id: String,
        /// Its name.
        name: String,
        /// When it was revoked.
        at: i64,
    },
    /// A revoked key cannot be rotated.
    #[error(
        "{id} was revoked at {}; a revoked key cannot be rotated: create a new one with \
         `doorman keys create`",
        when::rfc3339(*at)
    )]
    RotateRevoked {
        /// The key's id.
        id: String,
        /// When it was revoked.
        at: i64,
    },
    /// The key was already replaced by rotation.
    #[error("{id} was already rotated; its successor is {to}: rotate that one instead")]
    AlreadyRotated {
        /// The key's id.
        id: String,
        /// Its successor's id.
        to: String,
    },
    /// A stored row is not what this crate writes.
    #[error("the stored key {id} is unreadable: {detail}")]
    Corrupt {
        /// The key's id.
        id: String,
        /// What is wrong.
        detail: String,
    },
}

impl From<SqliteError> for KeyStoreError {
    /// Keeps this crate's wording, which tells a `doorman keys` user what to do.
    fn from(err: SqliteError) -> Self {
        match err {
            SqliteError::Missing { path } => KeyStoreError::Missing { path },
            other => KeyStoreError::Setup(other),
        }
    }
}

fn not_found_message(query: &str, near: &[String]) -> String {
    if near.is_empty() {
        format!("no key has the id or name `{query}` (`doorman keys list` shows them all)")
    } else {
        format!(
            "no key has the id or name `{query}`; did you mean {}? (`doorman keys list` shows \
             them all)",
            near.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// A marker that changes whenever the keys may have changed: when another connection (the
/// CLI, another gateway) committed, or this store created, revoked or rotated a key. Recording
/// last-used times does not change it, since verification does not depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataVersion {
    sqlite: i64,
    own: u64,
}

/// What [`KeyStore::rotate`] did.
pub struct Rotation {
    /// The new key, to show once.
    pub secret: Secret,
    /// The new key's record.
    pub new: KeyRecord,
    /// The old key's record, with its successor and the end of its grace period.
    pub old: KeyRecord,
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("secret", &self.secret)
            .field("new", &self.new)
            .field("old", &self.old)
            .finish()
    }
}

/// The key database, opened read-write. `Send + Sync`: one connection behind a mutex, which is
/// all the traffic it sees (snapshots on change, a batch of last-used times every few seconds).
#[derive(Debug)]
pub struct KeyStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Counts this store's own changes to keys, which `PRAGMA data_version` does not report.
    own_writes: AtomicU64,
}

/// Columns read into a [`KeyRecord`], in [`read_record`]'s order.
const COLUMNS: &str = "id, name, prefix, display, scopes, created_ms, expires_ms, revoked_ms, \
                       last_used_ms, rate_limit, rotated_from, rotated_to";

fn read_record(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let scopes: String = row.get(4)?;
    Ok(KeyRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        prefix: row.get(2)?,
        display: row.get(3)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        revoked_at: row.get(7)?,
        last_used_at: row.get(8)?,
        rate_limit: row.get(9)?,
        rotated_from: row.get(10)?,
        rotated_to: row.get(11)?,
    })
}

impl KeyStore {
    /// Opens the database at `path`, creating it (and its directory, owner-only) if missing,
    /// and brings its schema up to date. The file is kept 0600 on Unix: it holds no usable key,
    /// but the hashes and names are still nobody else's business.
    pub fn open(path: impl AsRef<Path>) -> Result<KeyStore, KeyStoreError> {
        let path = path.as_ref().to_owned();
        let conn = sqlite::open(&path, SCHEMA)?;
        Ok(Self::with(conn, path))
    }

    /// Opens an existing database; [`KeyStoreError::Missing`] when there is none, so that a
    /// command that only reads does not leave an empty database behind a mistyped path.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<KeyStore, KeyStoreError> {
        let path = path.as_ref().to_owned();
        let conn = sqlite::open_existing(&path, SCHEMA)?;
        Ok(Self::with(conn, path))
    }

    fn with(conn: Connection, path: PathBuf) -> KeyStore {
        KeyStore {
            conn: Mutex::new(conn),
            path,
            own_writes: AtomicU64::new(0),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (it rolls back on
        // drop), so the connection is still good.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wrote(&self) {
        self.own_writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Mints a key with `prefix` and stores its hash. Returns the key (to show once) and its
    /// record. Scopes are deduplicated, order kept.
    pub fn create(
        &self,
        new: NewKey,
        prefix: &str,
        now: i64,
    ) -> Result<(Secret, KeyRecord), KeyStoreError> {
        if let Some(reason) = format::check_prefix(prefix) {
            return Err(KeyStoreError::InvalidPrefix {
                prefix: prefix.to_owned(),
                reason,
            });
        }
        if let Some(reason) = record::check_name(&new.name) {
            return Err(KeyStoreError::InvalidName {
                name: new.name,
                reason,
            });
        }
        let mut scopes: Vec<String> = Vec::with_capacity(new.scopes.len());
        for scope in new.scopes {
            if let Some(reason) = record::check_scope(&scope) {
                return Err(KeyStoreError::InvalidScope { scope, reason });
            }
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if let Some(text) = &new.rate_limit
            && let Some(reason) = record::check_rate_limit(text)
        {
            return Err(KeyStoreError::InvalidRateLimit {
                text: text.clone(),
                reason,
            });
        }
        if let Some(expires_at) = new.expires_at
            && expires_at <= now
        {
            return Err(KeyStoreError::ExpiryNotInFuture { expires_at, now });
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(holder) = current_with_name(&tx, &new.name)? {
            return Err(KeyStoreError::NameTaken {
                name: new.name,
                id: holder.id,
            });
        }
        let (secret, record) = insert_new(
            &tx,
            Fresh {
                name: new.name,
                prefix,
                scopes,
                now,
                expires_at: new.expires_at,
                rate_limit: new.rate_limit,
                rotated_from: None,
            },
        )?;
        tx.commit()?;
        self.wrote();
        Ok((secret, record))
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Result<Vec<KeyRecord>, KeyStoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM keys ORDER BY created_ms, rowid"
        ))?;
        let rows = stmt.query_map([], read_record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One key by id (`key_…`) or name. A name finds its current key, or else the most
    /// recently created key that had it (revoked or rotated). [`KeyStoreError::NotFound`] names
    /// the nearest ids and names.
    pub fn find(&self, id_or_name: &str) -> Result<KeyRecord, KeyStoreError> {
        let conn = self.conn();
        resolve(&conn, id_or_name)
    }

    /// Revokes a key from now on, and any older keys it replaced by rotation that still work
    /// (revoking `billing` must stop every key of `billing`'s that still works). Returns the
    /// keys revoked, the named one first.
    pub fn revoke(&self, id_or_name: &str, now: i64) -> Result<Vec<KeyRecord>, KeyStoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let target = resolve(&tx, id_or_name)?;
        if let Some(at) = target.revoked_at {
            return Err(KeyStoreError::AlreadyRevoked {
                id: target.id,
                name: target.name,
                at,
            });
        }
        let mut chain = vec![target];
        let mut next = chain[0].rotated_from.clone();
        // The chain is finite and acyclic as written by `rotate`; the bound only guards
        // against a hand-edited file.
        while let Some(id) = next.take() {
            if chain.len() > 10_000 {
                break;
            }
            let Some(older) = by_id(&tx, &id)? else {
                break;
            };
            next = older.rotated_from.clone();
            if older.status(now).works() {
                chain.push(older);
            }
        }
        for key in &mut chain {
            tx.execute(
                "UPDATE keys SET revoked_ms = ?2 WHERE id = ?1",
                params![key.id, now],
            )?;
            key.revoked_at = Some(now);
        }
        tx.commit()?;
        self.wrote();
        Ok(chain)
    }

    /// Replaces a key with a new one of the same name, scopes, rate limit and prefix. The old
    /// key keeps working until `now + grace` (or its own expiry, if sooner), then is refused as
    /// expired with a note that it was rotated. A key with an expiry gives its successor the same
    /// lifetime, counted from now: rotation renews the secret, not the policy.
    pub fn rotate(
        &self,
        id_or_name: &str,
        grace: Duration,
        now: i64,
    ) -> Result<Rotation, KeyStoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut old = resolve(&tx, id_or_name)?;
        if let Some(at) = old.revoked_at {
            return Err(KeyStoreError::RotateRevoked { id: old.id, at });
        }
        if let Some(to) = old.rotated_to {
            return Err(KeyStoreError::AlreadyRotated { id: old.id, to });
        }
        let end = when::add(now, grace);
        let old_end = match old.expires_at {
            Some(at) => at.min(end),
            None => end,
        };
        let new_id = unused_id(&tx)?;
        // The old key steps aside first, so that the name is free for its successor.
        tx.execute(
            "UPDATE keys SET rotated_to = ?2, expires_ms = ?3 WHERE id = ?1",
            params![old.id, new_id, old_end],
        )?;
        let lifetime = old
            .expires_at
            .map(|at| at.saturating_sub(old.created_at).max(0));
        let (secret, new) = insert_with_id(
            &tx,
            new_id,
            Fresh {
                name: old.name.clone(),
                prefix: &old.prefix,
                scopes: old.scopes.clone(),
                now,
                expires_at: lifetime.map(|l| now.saturating_add(l)),
                rate_limit: old.rate_limit.clone(),
                rotated_from: Some(old.id.clone()),
            },
        )?;
        tx.commit()?;
        self.wrote();
        old.rotated_to = Some(new.id.clone());
        old.expires_at = Some(old_end);
        Ok(Rotation { secret, new, old })
    }

    /// Records when keys were last used, in one transaction; a time older than the stored one
    /// is ignored, and unknown ids are skipped. The gateway calls this every few seconds with
    /// what it saw, off the request path.
    pub fn record_last_used<S: AsRef<str>>(&self, uses: &[(S, i64)]) -> Result<(), KeyStoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE keys SET last_used_ms = MAX(COALESCE(last_used_ms, ?2), ?2)
                 WHERE id = ?1",
            )?;
            for (id, at) in uses {
                stmt.execute(params![id.as_ref(), at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A cheap marker of change (one pragma, no table read): when it differs from the one seen
    /// at the last [`KeyStore::snapshot`], take a new snapshot. Read it *before* taking the
    /// snapshot, so that a change committed in between is seen at the next poll.
    pub fn data_version(&self) -> Result<DataVersion, KeyStoreError> {
        let conn = self.conn();
        let sqlite: i64 = conn.query_row("PRAGMA data_version", [], |row| row.get(0))?;
        Ok(DataVersion {
            sqlite,
            own: self.own_writes.load(Ordering::Relaxed),
        })
    }

    /// A snapshot when the data changed since `seen` (or always, when `seen` is `None`), with
    /// the version it reflects; `None` when nothing changed. The gateway's poll in one call.
    pub fn snapshot_if_changed(
        &self,
        seen: Option<DataVersion>,
    ) -> Result<Option<(DataVersion, KeySnapshot)>, KeyStoreError> {
        let version = self.data_version()?;
        if seen == Some(version) {
            return Ok(None);
        }
        Ok(Some((version, self.snapshot()?)))
    }

    /// Every key with its hash, as an immutable snapshot for the request path.
    pub fn snapshot(&self) -> Result<KeySnapshot, KeyStoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS}, hash FROM keys"))?;
        let mut rows = stmt.query([])?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            let record = read_record(row)?;
            let hash: Vec<u8> = row.get(12)?;
            let hash: [u8; 32] =
                hash.as_slice()
                    .try_into()
                    .map_err(|_| KeyStoreError::Corrupt {
                        id: record.id.clone(),
                        detail: format!("its hash is {} bytes, not 32", hash.len()),
                    })?;
            entries.push((hash, record));
        }
        Ok(KeySnapshot::from_entries(entries))
    }
}

fn by_id(conn: &Connection, id: &str) -> Result<Option<KeyRecord>, KeyStoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM keys WHERE id = ?1"),
            [id],
            read_record,
        )
        .optional()?)
}

fn current_with_name(conn: &Connection, name: &str) -> Result<Option<KeyRecord>, KeyStoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM keys
                 WHERE name = ?1 AND revoked_ms IS NULL AND rotated_to IS NULL"
            ),
            [name],
            read_record,
        )
        .optional()?)
}

/// An id, or else a name: its current key, or else its most recent one.
fn resolve(conn: &Connection, query: &str) -> Result<KeyRecord, KeyStoreError> {
    if record::looks_like_id(query)
        && let Some(found) = by_id(conn, query)?
    {
        return Ok(found);
    }
    let by_name = conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM keys WHERE name = ?1
                 ORDER BY (revoked_ms IS NULL AND rotated_to IS NULL) DESC,
                          created_ms DESC, rowid DESC
                 LIMIT 1"
            ),
            [query],
            read_record,
        )
        .optional()?;
    match by_name {
        Some(found) => Ok(found),
        None => Err(KeyStoreError::NotFound {
            query: query.to_owned(),
            near: near_names(conn, query)?,
        }),
    }
}

/// Ids and names within a small edit distance of `query` (or containing it, ignoring case),
/// closest first, at most five.
fn near_names(conn: &Connection, query: &str) -> Result<Vec<String>, KeyStoreError> {
    let mut stmt = conn.prepare("SELECT DISTINCT name FROM keys UNION SELECT id FROM keys")?;
    let candidates = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let lower = query.to_lowercase();
    let limit = (query.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .filter_map(|c| {
            let cl = c.to_lowercase();
            let d = strsim::levenshtein(&lower, &cl);
            let contains = lower.len() >= 3 && (cl.contains(&lower) || lower.contains(&cl));
            (d <= limit || contains).then_some((d, c))
        })
        .collect();
    scored.sort();
    Ok(scored.into_iter().take(5).map(|(_, c)| c).collect())
}

/// A fresh id no key has. 62^8 ids make a clash rare; the check makes it harmless.
fn unused_id(tx: &Transaction<'_>) -> Result<String, KeyStoreError> {
    loop {
        let random = format::random_base62(ID_RANDOM_LEN)?;
        let id: String = std::iter::once(ID_PREFIX)
            .chain(std::str::from_utf8(&random).ok())
            .collect();
        if by_id(tx, &id)?.is_none() {
            return Ok(id);
        }
    }
}

/// A key about to be minted.
struct Fresh<'a> {
    name: String,
    prefix: &'a str,
    scopes: Vec<String>,
    now: i64,
    expires_at: Option<i64>,
    rate_limit: Option<String>,
    rotated_from: Option<String>,
}

fn insert_new(
    tx: &Transaction<'_>,
    fresh: Fresh<'_>,
) -> Result<(Secret, KeyRecord), KeyStoreError> {
    let id = unused_id(tx)?;
    insert_with_id(tx, id, fresh)
}

fn insert_with_id(
    tx: &Transaction<'_>,
    id: String,
    fresh: Fresh<'_>,
) -> Result<(Secret, KeyRecord), KeyStoreError> {
    let secret = format::generate(fresh.prefix)?;
    let hash = format::hash_key(secret.expose());
    let record = KeyRecord {
        id,
        name: fresh.name,
        prefix: fresh.prefix.to_owned(),
        display: secret.display(),
        scopes: fresh.scopes,
        created_at: fresh.now,
        expires_at: fresh.expires_at,
        revoked_at: None,
        last_used_at: None,
        rate_limit: fresh.rate_limit,
        rotated_from: fresh.rotated_from,
        rotated_to: None,
    };
    tx.execute(
        "INSERT INTO keys (id, name, prefix, hash, display, scopes, created_ms, expires_ms,
                           rate_limit, rotated_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            record.id,
            record.name,
            record.prefix,
            &hash[..],
            record.display,
            record.scopes.join(" "),
            record.created_at,
            record.expires_at,
            record.rate_limit,
            record.rotated_from,
        ],
    )?;
    Ok((secret, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_close_or_contain_the_query() {
        let tmp = tempfile::tempdir().unwrap();
        let store = KeyStore::open(tmp.path().join(KEYS_FILE)).unwrap();
        for name in ["billing", "billing-eu", "search"] {
            let new = NewKey {
                name: name.to_owned(),
                ..NewKey::default()
            };
            store.create(new, format::DEFAULT_PREFIX, 1_000).unwrap();
        }
        let conn = store.conn();
        // Within the distance limit, or containing the query; closest first.
        assert_eq!(near_names(&conn, "biling").unwrap(), ["billing"]);
        assert_eq!(
            near_names(&conn, "Bill").unwrap(),
            ["billing", "billing-eu"]
        );
        assert!(near_names(&conn, "zzzzzz").unwrap().is_empty());
    }
}
