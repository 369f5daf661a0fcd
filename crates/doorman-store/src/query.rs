//! Reading the event log: [`EventQuery`] opens the database read-only, so `doorman events` and
//! `doorman explain` work while a server writes to it (WAL lets readers and the writer proceed
//! side by side) and can never change what was recorded.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use doorman_core::Code;
use doorman_core::timefmt::{from_unix_millis, unix_millis};
use ipnet::IpNet;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row};

use crate::StoreError;
use crate::db;
use crate::log::{META_RETENTION_DAYS, META_RETENTION_ROWS};
use crate::record::{Action, EventRecord};

/// An IP address or a CIDR block to filter events by client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpFilter(IpNet);

impl IpFilter {
    /// The block (a single address is a /32 or /128).
    pub fn net(&self) -> IpNet {
        self.0
    }

    /// Whether `ip` falls in the filter; IPv4-mapped IPv6 addresses count as their IPv4 form.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (lo, hi) = self.key_range();
        let key = db::ip_key(ip);
        lo <= key && key <= hi
    }

    /// The inclusive range of `events.ip_key` values the filter covers.
    fn key_range(&self) -> ([u8; 16], [u8; 16]) {
        let net = self.0.trunc();
        (db::ip_key(net.network()), db::ip_key(net.broadcast()))
    }
}

impl From<IpAddr> for IpFilter {
    fn from(ip: IpAddr) -> Self {
        IpFilter(IpNet::from(ip))
    }
}

impl From<IpNet> for IpFilter {
    fn from(net: IpNet) -> Self {
        IpFilter(net)
    }
}

/// Text that is neither an IP address nor a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an IP address or CIDR block (e.g. 203.0.113.7, 203.0.113.0/24, 2001:db8::/32)"
)]
pub struct BadIpFilter(pub String);

impl FromStr for IpFilter {
    type Err = BadIpFilter;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(IpFilter::from(ip));
        }
        text.parse::<IpNet>()
            .map(IpFilter)
            .map_err(|_| BadIpFilter(text.to_owned()))
    }
}

/// Which events to list. Every filter that is set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events at or after this instant.
    pub since: Option<SystemTime>,
    /// Only events from this IP or block.
    pub ip: Option<IpFilter>,
    /// Only events with this code (`1020`, `route_closed`, …; case does not matter).
    pub code: Option<String>,
    /// Only events decided by this rule; a trailing `*` matches any rule starting with the rest
    /// (`route:*`).
    pub rule: Option<String>,
    /// At most this many events, newest first; 0 means no limit.
    pub limit: usize,
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter {
            since: None,
            ip: None,
            code: None,
            rule: None,
            limit: 50,
        }
    }
}

/// How long the server keeps events, as it noted when it last opened the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days kept; 0 = forever.
    pub days: u32,
    /// Most rows kept; 0 = no cap.
    pub rows: u64,
}

/// A read-only view of the event log.
#[derive(Debug)]
pub struct EventQuery {
    conn: Connection,
    path: PathBuf,
}

const COLUMNS: &str = "ray_id, time_ms, client_ip, method, host, path, user_agent, status, code,
     phase, rule, reason, disclosure, facts, private_facts, route, action, trace";

impl EventQuery {
    /// Opens `<data_dir>/doorman.db` read-only. Fails with [`StoreError::Missing`] when no
    /// database is there yet.
    pub fn open(data_dir: &Path) -> Result<EventQuery, StoreError> {
        Ok(EventQuery {
            conn: db::open_reader(data_dir)?,
            path: db::db_path(data_dir),
        })
    }

    /// The database file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The events matching `filter`, newest first.
    pub fn list(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM events WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(since) = filter.since {
            sql.push_str(" AND time_ms >= ?");
            args.push(Value::Integer(unix_millis(since)));
        }
        if let Some(ip) = filter.ip {
            let (lo, hi) = ip.key_range();
            sql.push_str(" AND ip_key BETWEEN ? AND ?");
            args.push(Value::Blob(lo.to_vec()));
            args.push(Value::Blob(hi.to_vec()));
        }
        if let Some(code) = &filter.code {
            sql.push_str(" AND code = ?");
            args.push(Value::Text(canonical_code(code)));
        }
        if let Some(rule) = &filter.rule {
            match rule.strip_suffix('*') {
                Some(prefix) => {
                    sql.push_str(" AND substr(rule, 1, ?) = ?");
                    args.push(Value::Integer(prefix.chars().count() as i64));
                    args.push(Value::Text(prefix.to_owned()));
                }
                None => {
                    sql.push_str(" AND rule = ?");
                    args.push(Value::Text(rule.clone()));
                }
            }
        }
        // `id` breaks ties between events of the same millisecond: the later insert is newer.
        sql.push_str(" ORDER BY time_ms DESC, id DESC");
        if filter.limit > 0 {
            sql.push_str(" LIMIT ?");
            args.push(Value::Integer(
                i64::try_from(filter.limit).unwrap_or(i64::MAX),
            ));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), read_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    /// The event with this Ray ID (the newest, should one request have been recorded twice).
    pub fn get(&self, ray_id: &str) -> Result<Option<EventRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE ray_id = ?1 ORDER BY time_ms DESC, id DESC LIMIT 1"
        );
        match self.conn.query_row(&sql, [ray_id], read_row).optional()? {
            Some(record) => Ok(Some(record?)),
            None => Ok(None),
        }
    }

    /// How many events are stored.
    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM events", [], |row| row.get(0))?)
    }

    /// The time of the oldest stored event, if any.
    pub fn oldest(&self) -> Result<Option<SystemTime>, StoreError> {
        let ms: Option<i64> =
            self.conn
                .query_row("SELECT min(time_ms) FROM events", [], |row| row.get(0))?;
        Ok(ms.map(from_unix_millis))
    }

    /// The retention the server noted when it last opened the log, if it did.
    pub fn retention(&self) -> Result<Option<Retention>, StoreError> {
        let days = db::meta_get(&self.conn, META_RETENTION_DAYS)?;
        let rows = db::meta_get(&self.conn, META_RETENTION_ROWS)?;
        Ok(match (days, rows) {
            (Some(days), Some(rows)) => match (days.parse(), rows.parse()) {
                (Ok(days), Ok(rows)) => Some(Retention { days, rows }),
                _ => None,
            },
            _ => None,
        })
    }
}

/// The stored spelling of a code as an operator may type it: known codes in their canonical
/// form (`route_closed` → `ROUTE_CLOSED`), others upper-cased, as all named codes are.
fn canonical_code(text: &str) -> String {
    let text = text.trim();
    match Code::parse(text) {
        Some(code) => code.as_str().to_owned(),
        None => text.to_ascii_uppercase(),
    }
}

/// Decodes one row. The outer error is SQLite's; the inner one says a stored value made no
/// sense, which names the event so the operator can look at it.
fn read_row(row: &Row<'_>) -> rusqlite::Result<Result<EventRecord, StoreError>> {
    let ray_id: String = row.get("ray_id")?;
    let client_ip: String = row.get("client_ip")?;
    let facts: String = row.get("facts")?;
    let private_facts: String = row.get("private_facts")?;
    let trace: String = row.get("trace")?;
    let action: String = row.get("action")?;
    let corrupt = |detail: String| StoreError::Corrupt {
        ray_id: ray_id.clone(),
        detail,
    };
    let client_ip = match client_ip.parse() {
        Ok(ip) => ip,
        Err(_) => return Ok(Err(corrupt(format!("client_ip `{client_ip}`")))),
    };
    let facts = match serde_json::from_str(&facts) {
        Ok(facts) => facts,
        Err(e) => return Ok(Err(corrupt(format!("facts: {e}")))),
    };
    let private_facts = match serde_json::from_str(&private_facts) {
        Ok(facts) => facts,
        Err(e) => return Ok(Err(corrupt(format!("private_facts: {e}")))),
    };
    let trace = match serde_json::from_str(&trace) {
        Ok(trace) => trace,
        Err(e) => return Ok(Err(corrupt(format!("trace: {e}")))),
    };
    let action = match action.parse::<Action>() {
        Ok(action) => action,
        Err(e) => return Ok(Err(corrupt(e.to_string()))),
    };
    Ok(Ok(EventRecord {
        time_ms: row.get("time_ms")?,
        client_ip,
        method: row.get("method")?,
        host: row.get("host")?,
        path: row.get("path")?,
        user_agent: row.get("user_agent")?,
        status: row.get("status")?,
        code: row.get("code")?,
        phase: row.get("phase")?,
        rule: row.get("rule")?,
        reason: row.get("reason")?,
        disclosure: row.get("disclosure")?,
        facts,
        private_facts,
        route: row.get("route")?,
        action,
        trace,
        ray_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_filters_parse_addresses_and_blocks() {
        let one: IpFilter = "203.0.113.7".parse().unwrap();
        assert!(one.contains("203.0.113.7".parse().unwrap()));
        assert!(!one.contains("203.0.113.8".parse().unwrap()));
        let block: IpFilter = "203.0.113.99/24".parse().unwrap();
        assert!(block.contains("203.0.113.1".parse().unwrap()));
        assert!(block.contains("::ffff:203.0.113.200".parse().unwrap()));
        assert!(!block.contains("203.0.114.1".parse().unwrap()));
        let v6: IpFilter = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("203.0.113.1".parse().unwrap()));
        assert!("example.com".parse::<IpFilter>().is_err());
        assert!("10.0.0.0/33".parse::<IpFilter>().is_err());
    }

    #[test]
    fn codes_are_matched_in_their_stored_spelling() {
        assert_eq!(canonical_code("route_closed"), "ROUTE_CLOSED");
        assert_eq!(canonical_code(" 1020 "), "1020");
        assert_eq!(canonical_code("key_missing"), "KEY_MISSING");
    }
}
