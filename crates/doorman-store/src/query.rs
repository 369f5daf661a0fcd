//! Reading the event log: [`EventQuery`] opens the database read-only, so `doorman events` and
//! `doorman explain` work while a server writes to it (WAL lets readers and the writer proceed
//! side by side) and can never change what was recorded.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use doorman_common::when::{from_unix_ms, unix_ms};
use doorman_core::Code;
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
    /// Only events from clients in this autonomous system.
    pub asn: Option<u32>,
    /// Only events from clients in this country (ISO code such as `NL`; case does not matter).
    pub country: Option<String>,
    /// Only events where the gateway did this; `log` and `shadow` select the matches that were
    /// recorded but not enforced.
    pub action: Option<Action>,
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
            asn: None,
            country: None,
            action: None,
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
    /// The columns to select: [`COLUMNS`] or, for a database not yet migrated to the network
    /// columns, [`COLUMNS_V1`].
    columns: &'static str,
    /// Whether `events.asn` and `events.country` exist.
    network_columns: bool,
}

/// Every column a record is read from.
const COLUMNS: &str = "ray_id, time_ms, client_ip, method, host, path, user_agent, status, code,
     phase, rule, reason, disclosure, facts, private_facts, route, action, trace, asn, country";

/// The same for a version 1 database, which a reader cannot migrate (it opens the file
/// read-only, and the server that owns it may be an older build still running).
const COLUMNS_V1: &str = "ray_id, time_ms, client_ip, method, host, path, user_agent, status,
     code, phase, rule, reason, disclosure, facts, private_facts, route, action, trace,
     NULL AS asn, NULL AS country";

impl EventQuery {
    /// Opens `<data_dir>/doorman.db` read-only. Fails with [`StoreError::Missing`] when no
    /// database is there yet.
    pub fn open(data_dir: &Path) -> Result<EventQuery, StoreError> {
        let conn = db::open_reader(data_dir)?;
        let network_columns = db::user_version(&conn)? >= db::NETWORK_COLUMNS_SINCE;
        Ok(EventQuery {
            conn,
            path: db::db_path(data_dir),
            columns: if network_columns { COLUMNS } else { COLUMNS_V1 },
            network_columns,
        })
    }

    /// The database file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The events matching `filter`, newest first.
    pub fn list(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        let (sql, args) = self.select(filter);
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), read_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    /// The statement [`list`](Self::list) runs for `filter`, and its arguments.
    fn select(&self, filter: &EventFilter) -> (String, Vec<Value>) {
        let mut sql = format!("SELECT {} FROM events WHERE 1 = 1", self.columns);
        let mut args: Vec<Value> = Vec::new();
        if let Some(since) = filter.since {
            sql.push_str(" AND time_ms >= ?");
            args.push(Value::Integer(unix_ms(since)));
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
                // A range rather than `substr`, so that the rule index finds the rows.
                Some(prefix) => {
                    sql.push_str(" AND rule >= ?");
                    args.push(Value::Text(prefix.to_owned()));
                    if let Some(end) = prefix_end(prefix) {
                        sql.push_str(" AND rule < ?");
                        args.push(Value::Text(end));
                    }
                }
                None => {
                    sql.push_str(" AND rule = ?");
                    args.push(Value::Text(rule.clone()));
                }
            }
        }
        if let Some(asn) = filter.asn {
            if self.network_columns {
                sql.push_str(" AND asn = ?");
                args.push(Value::Integer(i64::from(asn)));
            } else {
                // No event of a version 1 database knows its network.
                sql.push_str(" AND 0");
            }
        }
        if let Some(country) = &filter.country {
            if self.network_columns {
                // NOCASE, like the index on the column, which it can therefore use.
                sql.push_str(" AND country = ? COLLATE NOCASE");
                args.push(Value::Text(country.trim().to_owned()));
            } else {
                sql.push_str(" AND 0");
            }
        }
        if let Some(action) = filter.action {
            sql.push_str(" AND action = ?");
            args.push(Value::Text(action.as_str().to_owned()));
        }
        // `id` breaks ties between events of the same millisecond: the later insert is newer.
        sql.push_str(" ORDER BY time_ms DESC, id DESC");
        if filter.limit > 0 {
            sql.push_str(" LIMIT ?");
            args.push(Value::Integer(
                i64::try_from(filter.limit).unwrap_or(i64::MAX),
            ));
        }
        (sql, args)
    }

    /// The event with this Ray ID (the newest, should one request have been recorded twice).
    pub fn get(&self, ray_id: &str) -> Result<Option<EventRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM events WHERE ray_id = ?1 ORDER BY time_ms DESC, id DESC LIMIT 1",
            self.columns
        );
        match self.conn.query_row(&sql, [ray_id], read_row).optional()? {
            Some(record) => Ok(Some(record?)),
            None => Ok(None),
        }
    }

    /// How many events are stored.
    pub fn count(&self) -> Result<u64, StoreError> {
        // rusqlite reads no u64 (SQLite integers are signed); a count is never negative.
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM events", [], |row| row.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The time of the oldest stored event, if any.
    pub fn oldest(&self) -> Result<Option<SystemTime>, StoreError> {
        let ms: Option<i64> =
            self.conn
                .query_row("SELECT min(time_ms) FROM events", [], |row| row.get(0))?;
        Ok(ms.map(from_unix_ms))
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

/// The smallest string greater than every string that starts with `prefix`, so that
/// `prefix <= s < end` holds exactly for the strings `s` starting with `prefix` (SQLite compares
/// text as UTF-8 bytes, whose order is code point order). `None` when there is no such string
/// (an empty prefix, or one of nothing but `char::MAX`): then every string from `prefix` up
/// qualifies.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next code point, jumping the surrogate gap; `char::MAX` has none, so the one
        // before it is incremented instead.
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
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
    let asn: Option<i64> = row.get("asn")?;
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
    let asn = match asn.map(u32::try_from).transpose() {
        Ok(asn) => asn,
        Err(_) => return Ok(Err(corrupt(format!("asn {}", asn.unwrap_or_default())))),
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
        asn,
        country: row.get("country")?,
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

    /// What SQLite plans to do for `filter`, one line per step.
    fn plan(query: &EventQuery, filter: &EventFilter) -> String {
        let (sql, args) = query.select(filter);
        let mut stmt = query
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let steps = stmt
            .query_map(rusqlite::params_from_iter(args), |row| {
                row.get::<_, String>("detail")
            })
            .unwrap();
        steps.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn the_new_filters_are_served_by_their_indexes() {
        let tmp = tempfile::tempdir().unwrap();
        drop(db::open_writer(tmp.path()).unwrap());
        let query = EventQuery::open(tmp.path()).unwrap();
        let base = EventFilter::default();
        let cases = [
            (
                EventFilter {
                    asn: Some(9009),
                    ..base.clone()
                },
                "events_asn (asn=?)",
            ),
            (
                EventFilter {
                    country: Some("nl".into()),
                    ..base.clone()
                },
                "events_country (country=?)",
            ),
            (
                EventFilter {
                    action: Some(Action::Shadow),
                    ..base.clone()
                },
                "events_action (action=?)",
            ),
            (
                EventFilter {
                    rule: Some("rule:no-scrapers".into()),
                    ..base.clone()
                },
                "events_rule (rule=?)",
            ),
            (
                EventFilter {
                    rule: Some("route:*".into()),
                    ..base.clone()
                },
                "events_rule (rule>? AND rule<?)",
            ),
        ];
        for (filter, index) in cases {
            let plan = plan(&query, &filter);
            assert!(plan.contains(index), "{filter:?}: {plan}");
            // The index hands rows over newest first; a range over rules is the exception.
            if filter.rule.as_deref() != Some("route:*") {
                assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
            }
        }
    }

    #[test]
    fn prefix_ends_bound_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_end("route:").as_deref(), Some("route;"));
        assert_eq!(prefix_end("a").as_deref(), Some("b"));
        assert_eq!(prefix_end("é").as_deref(), Some("ê"));
        assert_eq!(prefix_end("x\u{d7ff}").as_deref(), Some("x\u{e000}"));
        assert_eq!(prefix_end("ab\u{10ffff}").as_deref(), Some("ac"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10ffff}"), None);
        let end = prefix_end("route:").unwrap();
        for inside in ["route:", "route:admin", "route:\u{10ffff}\u{10ffff}"] {
            assert!("route:" <= inside && inside < end.as_str(), "{inside}");
        }
        for outside in ["route", "route;", "routf", "rout:"] {
            assert!(
                !("route:" <= outside && outside < end.as_str()),
                "{outside}"
            );
        }
    }

    #[test]
    fn codes_are_matched_in_their_stored_spelling() {
        assert_eq!(canonical_code("route_closed"), "ROUTE_CLOSED");
        assert_eq!(canonical_code(" 1020 "), "1020");
        assert_eq!(canonical_code("key_missing"), "KEY_MISSING");
    }
}
