//! The event log end to end, on real SQLite files in temporary directories: what is recorded is
//! what is read back, under batching, overload, shutdown, retention and concurrent readers.

use std::net::IpAddr;
use std::path::Path;
use std::thread;
use std::time::{Duration, SystemTime};

use doorman_common::when::{from_unix_ms, unix_ms};
use doorman_store::{
    Action, EventFilter, EventLog, EventLogSettings, EventQuery, EventRecord, Fact, IpFilter,
    Retention, StoreError, TraceLine,
};

const WAIT: Duration = Duration::from_secs(30);

fn now_ms() -> i64 {
    unix_ms(SystemTime::now())
}

/// A plausible event; `n` makes its Ray ID unique.
fn event(n: u64, time_ms: i64) -> EventRecord {
    EventRecord {
        ray_id: format!("{n:016x}-test"),
        time_ms,
        client_ip: "203.0.113.7".parse().unwrap(),
        method: "GET".into(),
        host: "example.com".into(),
        path: format!("/item/{n}"),
        user_agent: Some("curl/8.5".into()),
        status: 403,
        code: "1020".into(),
        phase: "firewall".into(),
        rule: Some("block-bots".into()),
        reason: "matched rule block-bots".into(),
        disclosure: "public".into(),
        facts: vec![Fact {
            name: "ip.src".into(),
            value: "203.0.113.7".into(),
        }],
        private_facts: Vec::new(),
        route: Some("site".into()),
        action: Action::Deny,
        trace: vec![TraceLine {
            phase: "firewall".into(),
            outcome: "rule block-bots matched".into(),
        }],
        asn: Some(9009),
        country: Some("NL".into()),
    }
}

fn settings() -> EventLogSettings {
    EventLogSettings {
        retention_days: 0,
        retention_rows: 0,
        ..EventLogSettings::default()
    }
}

fn all(dir: &Path) -> Vec<EventRecord> {
    EventQuery::open(dir)
        .unwrap()
        .list(&EventFilter {
            limit: 0,
            ..EventFilter::default()
        })
        .unwrap()
}

#[test]
fn a_record_round_trips_every_field() {
    let tmp = tempfile::tempdir().unwrap();
    let full = EventRecord {
        ray_id: "4a807f60ca5727a4-edge-1".into(),
        time_ms: 1_795_383_851_123,
        client_ip: "2001:db8::7".parse().unwrap(),
        method: "POST".into(),
        host: "api.example.com".into(),
        path: "/v1/chat?q=ünïcode".into(),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
        status: 429,
        code: "1015".into(),
        phase: "rate_limit".into(),
        rule: Some("limit:chat-per-ip".into()),
        reason: "203.0.113.7 sent 61 requests in 60 s; the limit is 60".into(),
        disclosure: "hint".into(),
        facts: vec![
            Fact {
                name: "ip.src".into(),
                value: "2001:db8::7".into(),
            },
            Fact {
                name: "doorman.rate.count".into(),
                value: "61".into(),
            },
        ],
        private_facts: vec![Fact {
            name: "upstream.addr".into(),
            value: "10.0.0.5:8080".into(),
        }],
        route: Some("chat".into()),
        action: Action::Shadow,
        trace: vec![
            TraceLine {
                phase: "routing".into(),
                outcome: "matched route chat".into(),
            },
            TraceLine {
                phase: "rate_limit".into(),
                outcome: "over the limit (shadow)".into(),
            },
        ],
        asn: Some(4_294_967_295),
        country: Some("T1".into()),
    };
    let sparse = EventRecord {
        user_agent: None,
        rule: None,
        route: None,
        facts: Vec::new(),
        trace: Vec::new(),
        reason: String::new(),
        asn: None,
        country: None,
        ..event(2, 1_000)
    };

    let log = EventLog::open(tmp.path(), settings()).unwrap();
    log.record(full.clone());
    log.record(sparse.clone());
    log.shutdown().unwrap();

    let query = EventQuery::open(tmp.path()).unwrap();
    assert_eq!(query.get("4a807f60ca5727a4-edge-1").unwrap(), Some(full));
    assert_eq!(query.get(&sparse.ray_id).unwrap(), Some(sparse));
}

#[test]
fn many_records_are_stored_in_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::open(
        tmp.path(),
        EventLogSettings {
            batch_size: 64,
            ..settings()
        },
    )
    .unwrap();
    let t0 = now_ms();
    for n in 0..5_000 {
        log.record(event(n, t0 + n as i64));
    }
    log.flush(WAIT).unwrap();

    let stats = log.stats();
    assert_eq!(stats.recorded, 5_000);
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.write_errors, 0);
    let query = EventQuery::open(tmp.path()).unwrap();
    assert_eq!(query.count().unwrap(), 5_000);
    // Newest first.
    let newest = query.list(&EventFilter::default()).unwrap();
    assert_eq!(newest.len(), 50);
    assert_eq!(newest[0].ray_id, event(4_999, 0).ray_id);
    assert!(newest.windows(2).all(|w| w[0].time_ms >= w[1].time_ms));
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::open(
        tmp.path(),
        EventLogSettings {
            queue_capacity: 4,
            batch_size: 2,
            ..settings()
        },
    )
    .unwrap();
    // Another connection holds the write lock, so the writer stalls on its first insert (it
    // waits for the lock rather than failing) and the queue fills up behind it.
    let blocker = rusqlite::Connection::open(doorman_store::db_path(tmp.path())).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let t0 = now_ms();
    let started = std::time::Instant::now();
    for n in 0..100 {
        log.record(event(n, t0));
    }
    // `record` never waited for the stalled writer.
    assert!(started.elapsed() < Duration::from_secs(1));
    let dropped = log.stats().dropped;
    // At most the queue plus what the writer took out of it got in.
    assert!(dropped >= 100 - 4 - 2, "only {dropped} dropped");

    blocker.execute_batch("ROLLBACK").unwrap();
    log.flush(WAIT).unwrap();
    let stats = log.stats();
    assert_eq!(stats.dropped, dropped);
    assert_eq!(stats.write_errors, 0);
    assert_eq!(stats.recorded + stats.dropped, 100);
    assert_eq!(all(tmp.path()).len() as u64, stats.recorded);
}

#[test]
fn shutdown_stores_everything_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::open(
        tmp.path(),
        EventLogSettings {
            batch_size: 16,
            ..settings()
        },
    )
    .unwrap();
    let clone = log.clone();
    let t0 = now_ms();
    for n in 0..3_000 {
        clone.record(event(n, t0));
    }
    log.shutdown().unwrap();
    assert_eq!(log.stats().recorded, 3_000);
    assert_eq!(all(tmp.path()).len(), 3_000);

    // After shutdown, events are dropped and counted, through any clone; a second shutdown is
    // harmless.
    clone.record(event(3_000, t0));
    assert_eq!(clone.stats().dropped, 1);
    clone.shutdown().unwrap();
    assert!(matches!(log.flush(WAIT), Err(StoreError::WriterGone)));
}

#[test]
fn dropping_the_last_handle_flushes() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::open(tmp.path(), settings()).unwrap();
    let t0 = now_ms();
    let clone = log.clone();
    for n in 0..500 {
        clone.record(event(n, t0));
    }
    drop(clone);
    drop(log);
    assert_eq!(all(tmp.path()).len(), 500);
}

#[test]
fn retention_keeps_the_newest_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = now_ms() - 10_000;
    let log = EventLog::open(
        tmp.path(),
        EventLogSettings {
            queue_capacity: 20_000,
            ..settings()
        },
    )
    .unwrap();
    for n in 0..12_345 {
        log.record(event(n, t0 + (n as i64 / 100)));
    }
    log.shutdown().unwrap();
    assert_eq!(log.stats().dropped, 0);

    // Retention runs on start; flush waits until the run is over.
    let log = EventLog::open(
        tmp.path(),
        EventLogSettings {
            retention_rows: 100,
            ..settings()
        },
    )
    .unwrap();
    log.flush(WAIT).unwrap();
    assert_eq!(log.stats().expired, 12_245);
    let kept = all(tmp.path());
    assert_eq!(kept.len(), 100);
    let mut rays: Vec<_> = kept.iter().map(|r| r.ray_id.clone()).collect();
    rays.sort();
    let expected: Vec<_> = (12_245..12_345).map(|n| event(n, 0).ray_id).collect();
    assert_eq!(rays, expected);
}

#[test]
fn retention_forgets_old_events() {
    let tmp = tempfile::tempdir().unwrap();
    let now = now_ms();
    let day = 86_400_000;
    let log = EventLog::open(tmp.path(), settings()).unwrap();
    // More old events than one retention chunk, so the run takes several steps.
    for n in 0..6_000 {
        log.record(event(n, now - 40 * day));
    }
    for n in 6_000..6_010 {
        log.record(event(n, now - 29 * day));
    }
    log.shutdown().unwrap();
    assert_eq!(log.stats().dropped, 0);

    let log = EventLog::open(
        tmp.path(),
        EventLogSettings {
            retention_days: 30,
            ..settings()
        },
    )
    .unwrap();
    log.flush(WAIT).unwrap();
    let kept = all(tmp.path());
    assert_eq!(kept.len(), 10);
    assert!(kept.iter().all(|r| r.time_ms == now - 29 * day));
    assert_eq!(log.stats().expired, 6_000);

    // The reader can tell how long events are kept.
    let query = EventQuery::open(tmp.path()).unwrap();
    assert_eq!(
        query.retention().unwrap(),
        Some(Retention { days: 30, rows: 0 })
    );
    assert_eq!(query.oldest().unwrap(), Some(from_unix_ms(now - 29 * day)));
}

#[test]
fn filters_select_by_time_ip_code_and_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = now_ms() - 3_600_000;
    let log = EventLog::open(tmp.path(), settings()).unwrap();
    let specs: [(&str, &str, Option<&str>, i64); 6] = [
        ("203.0.113.7", "1020", Some("block-bots"), 0),
        ("203.0.113.200", "ROUTE_CLOSED", Some("route:admin"), 60_000),
        ("198.51.100.1", "1015", Some("limit:api"), 120_000),
        ("2001:db8::1", "1020", Some("block-bots"), 180_000),
        ("::ffff:203.0.113.9", "NO_ROUTE", None, 240_000),
        (
            "2001:db9::1",
            "ROUTE_CLOSED",
            Some("route:internal"),
            300_000,
        ),
    ];
    for (n, (ip, code, rule, offset)) in specs.iter().enumerate() {
        log.record(EventRecord {
            client_ip: ip.parse().unwrap(),
            code: (*code).into(),
            rule: rule.map(Into::into),
            ..event(n as u64, t0 + offset)
        });
    }
    log.shutdown().unwrap();
    let query = EventQuery::open(tmp.path()).unwrap();
    let ids = |filter: EventFilter| -> Vec<u64> {
        query
            .list(&filter)
            .unwrap()
            .iter()
            .map(|r| u64::from_str_radix(&r.ray_id[..16], 16).unwrap())
            .collect()
    };
    let base = EventFilter {
        limit: 0,
        ..EventFilter::default()
    };

    assert_eq!(ids(base.clone()), [5, 4, 3, 2, 1, 0]);
    assert_eq!(
        ids(EventFilter {
            since: Some(from_unix_ms(t0 + 180_000)),
            ..base.clone()
        }),
        [5, 4, 3]
    );
    let ip = |text: &str| Some(text.parse::<IpFilter>().unwrap());
    assert_eq!(
        ids(EventFilter {
            ip: ip("203.0.113.7"),
            ..base.clone()
        }),
        [0]
    );
    // A v4 block also finds the client logged in IPv4-mapped form.
    assert_eq!(
        ids(EventFilter {
            ip: ip("203.0.113.0/24"),
            ..base.clone()
        }),
        [4, 1, 0]
    );
    assert_eq!(
        ids(EventFilter {
            ip: ip("2001:db8::/32"),
            ..base.clone()
        }),
        [3]
    );
    assert_eq!(
        ids(EventFilter {
            ip: Some(IpFilter::from("198.51.100.1".parse::<IpAddr>().unwrap())),
            ..base.clone()
        }),
        [2]
    );
    assert_eq!(
        ids(EventFilter {
            code: Some("route_closed".into()),
            ..base.clone()
        }),
        [5, 1]
    );
    assert_eq!(
        ids(EventFilter {
            rule: Some("block-bots".into()),
            ..base.clone()
        }),
        [3, 0]
    );
    assert_eq!(
        ids(EventFilter {
            rule: Some("route:*".into()),
            ..base.clone()
        }),
        [5, 1]
    );
    assert_eq!(
        ids(EventFilter {
            code: Some("1020".into()),
            ip: ip("203.0.113.0/24"),
            since: Some(from_unix_ms(t0)),
            ..base.clone()
        }),
        [0]
    );
    assert_eq!(
        ids(EventFilter {
            limit: 2,
            ..base.clone()
        }),
        [5, 4]
    );
    assert!(
        ids(EventFilter {
            code: Some("1009".into()),
            ..base
        })
        .is_empty()
    );
}

#[test]
fn filters_select_by_asn_country_and_action() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = now_ms() - 3_600_000;
    let log = EventLog::open(tmp.path(), settings()).unwrap();
    // (asn, country, action, rule)
    type Spec = (
        Option<u32>,
        Option<&'static str>,
        Action,
        Option<&'static str>,
    );
    let specs: [Spec; 7] = [
        (Some(9009), Some("NL"), Action::Deny, Some("rule:no-vpn")),
        (Some(9009), Some("RO"), Action::Shadow, Some("rule:no-vpn")),
        (Some(13335), Some("nl"), Action::Log, Some("rule:watch")),
        (None, Some("DE"), Action::Challenge, Some("access:de")),
        (Some(16509), None, Action::Shadow, Some("rule:no-hosting")),
        (None, None, Action::Deny, None),
        (Some(9009), Some("NL"), Action::Log, Some("rule:watch")),
    ];
    for (n, (asn, country, action, rule)) in specs.iter().enumerate() {
        log.record(EventRecord {
            asn: *asn,
            country: country.map(Into::into),
            action: *action,
            rule: rule.map(Into::into),
            ..event(n as u64, t0 + n as i64 * 60_000)
        });
    }
    log.shutdown().unwrap();
    let query = EventQuery::open(tmp.path()).unwrap();
    let ids = |filter: EventFilter| -> Vec<u64> {
        query
            .list(&filter)
            .unwrap()
            .iter()
            .map(|r| u64::from_str_radix(&r.ray_id[..16], 16).unwrap())
            .collect()
    };
    let base = EventFilter {
        limit: 0,
        ..EventFilter::default()
    };

    // Stored and read back as given, unknowns as None.
    let all = query.list(&base).unwrap();
    assert_eq!(all[1].asn, None);
    assert_eq!(all[1].country, None);
    assert_eq!(all[4].country.as_deref(), Some("nl"));

    let asn = |asn| EventFilter {
        asn: Some(asn),
        ..base.clone()
    };
    assert_eq!(ids(asn(9009)), [6, 1, 0]);
    assert_eq!(ids(asn(16509)), [4]);
    assert!(ids(asn(1)).is_empty());

    // Case does not matter, either way round.
    let country = |text: &str| EventFilter {
        country: Some(text.into()),
        ..base.clone()
    };
    assert_eq!(ids(country("NL")), [6, 2, 0]);
    assert_eq!(ids(country("nl")), [6, 2, 0]);
    assert_eq!(ids(country(" de ")), [3]);
    assert!(ids(country("FR")).is_empty());

    let action = |action| EventFilter {
        action: Some(action),
        ..base.clone()
    };
    assert_eq!(ids(action(Action::Deny)), [5, 0]);
    assert_eq!(ids(action(Action::Challenge)), [3]);
    assert_eq!(ids(action(Action::Log)), [6, 2]);
    assert_eq!(ids(action(Action::Shadow)), [4, 1]);

    // Combined with each other and with the older filters.
    assert_eq!(
        ids(EventFilter {
            asn: Some(9009),
            country: Some("nl".into()),
            ..base.clone()
        }),
        [6, 0]
    );
    assert_eq!(
        ids(EventFilter {
            asn: Some(9009),
            action: Some(Action::Shadow),
            ..base.clone()
        }),
        [1]
    );
    assert_eq!(
        ids(EventFilter {
            rule: Some("rule:*".into()),
            action: Some(Action::Shadow),
            ..base.clone()
        }),
        [4, 1]
    );
    assert_eq!(
        ids(EventFilter {
            rule: Some("rule:watch".into()),
            country: Some("NL".into()),
            since: Some(from_unix_ms(t0 + 3 * 60_000)),
            ..base.clone()
        }),
        [6]
    );
    assert_eq!(
        ids(EventFilter {
            action: Some(Action::Log),
            limit: 1,
            ..base.clone()
        }),
        [6]
    );
    // Prefix filters find exactly the rules with the prefix, now that they use a range.
    assert_eq!(
        ids(EventFilter {
            rule: Some("rule:no-*".into()),
            ..base.clone()
        }),
        [4, 1, 0]
    );
    assert_eq!(
        ids(EventFilter {
            rule: Some("*".into()),
            ..base
        }),
        [6, 4, 3, 2, 1, 0]
    );
}

/// The schema as version 1 of Doorman created it, with one event in it, the way that version
/// wrote events.
fn version_1_database(dir: &Path) {
    let conn = rusqlite::Connection::open(doorman_store::db_path(dir)).unwrap();
    conn.execute_batch(doorman_store::db::MIGRATIONS[0])
        .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.execute(
        "INSERT INTO events (ray_id, time_ms, client_ip, ip_key, method, host, path,
             user_agent, status, code, phase, rule, reason, disclosure, facts,
             private_facts, route, action, trace)
         VALUES ('00000000000000aa-old', 1795383851123, '203.0.113.7',
             X'00000000000000000000ffffcb007107', 'GET', 'example.com', '/admin', NULL, 403,
             'ROUTE_CLOSED', 'route_access', 'route:admin', 'closed', 'public',
             '[{\"name\":\"ip.src\",\"value\":\"203.0.113.7\"}]', '[]', 'admin', 'shadow',
             '[{\"phase\":\"routing\",\"outcome\":\"matched route admin\"}]')",
        [],
    )
    .unwrap();
}

fn the_old_event() -> EventRecord {
    EventRecord {
        ray_id: "00000000000000aa-old".into(),
        time_ms: 1_795_383_851_123,
        client_ip: "203.0.113.7".parse().unwrap(),
        method: "GET".into(),
        host: "example.com".into(),
        path: "/admin".into(),
        user_agent: None,
        status: 403,
        code: "ROUTE_CLOSED".into(),
        phase: "route_access".into(),
        rule: Some("route:admin".into()),
        reason: "closed".into(),
        disclosure: "public".into(),
        facts: vec![Fact {
            name: "ip.src".into(),
            value: "203.0.113.7".into(),
        }],
        private_facts: Vec::new(),
        route: Some("admin".into()),
        action: Action::Shadow,
        trace: vec![TraceLine {
            phase: "routing".into(),
            outcome: "matched route admin".into(),
        }],
        asn: None,
        country: None,
    }
}

fn schema_version(dir: &Path) -> u32 {
    rusqlite::Connection::open(doorman_store::db_path(dir))
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn a_version_1_database_migrates_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    version_1_database(tmp.path());
    assert_eq!(schema_version(tmp.path()), 1);

    let log = EventLog::open(tmp.path(), settings()).unwrap();
    assert_eq!(
        schema_version(tmp.path()),
        doorman_store::db::MIGRATIONS.len() as u32
    );
    // New events carry their network; the old one is untouched.
    log.record(event(1, now_ms()));
    log.shutdown().unwrap();

    let query = EventQuery::open(tmp.path()).unwrap();
    assert_eq!(
        query.get("00000000000000aa-old").unwrap(),
        Some(the_old_event())
    );
    let new = query.get(&event(1, 0).ray_id).unwrap().unwrap();
    assert_eq!(new.asn, Some(9009));
    assert_eq!(new.country.as_deref(), Some("NL"));
    assert_eq!(query.count().unwrap(), 2);
    // The old event has no network, so network filters pass it by; others still find it.
    let filter = |f: EventFilter| -> Vec<String> {
        query
            .list(&EventFilter { limit: 0, ..f })
            .unwrap()
            .into_iter()
            .map(|r| r.ray_id)
            .collect()
    };
    assert_eq!(
        filter(EventFilter {
            asn: Some(9009),
            ..EventFilter::default()
        }),
        [event(1, 0).ray_id]
    );
    assert_eq!(
        filter(EventFilter {
            action: Some(Action::Shadow),
            rule: Some("route:*".into()),
            ..EventFilter::default()
        }),
        ["00000000000000aa-old"]
    );

    // Opening again applies nothing twice (a second ADD COLUMN would fail).
    drop(query);
    EventLog::open(tmp.path(), settings())
        .unwrap()
        .shutdown()
        .unwrap();
    assert_eq!(EventQuery::open(tmp.path()).unwrap().count().unwrap(), 2);
}

#[test]
fn a_reader_reads_a_version_1_database_it_cannot_migrate() {
    // A new `doorman events` beside an old server that still owns the file.
    let tmp = tempfile::tempdir().unwrap();
    version_1_database(tmp.path());
    let query = EventQuery::open(tmp.path()).unwrap();
    assert_eq!(
        query.get("00000000000000aa-old").unwrap(),
        Some(the_old_event())
    );
    let base = EventFilter {
        limit: 0,
        ..EventFilter::default()
    };
    assert_eq!(query.list(&base).unwrap(), [the_old_event()]);
    assert_eq!(
        query
            .list(&EventFilter {
                action: Some(Action::Shadow),
                ..base.clone()
            })
            .unwrap()
            .len(),
        1
    );
    for filter in [
        EventFilter {
            asn: Some(9009),
            ..base.clone()
        },
        EventFilter {
            country: Some("NL".into()),
            ..base
        },
    ] {
        assert!(query.list(&filter).unwrap().is_empty(), "{filter:?}");
    }
    // Reading changed nothing.
    drop(query);
    assert_eq!(schema_version(tmp.path()), 1);
}

#[test]
fn get_finds_an_event_by_ray_id() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::open(tmp.path(), settings()).unwrap();
    let t0 = now_ms();
    for n in 0..20 {
        log.record(event(n, t0));
    }
    log.shutdown().unwrap();
    let query = EventQuery::open(tmp.path()).unwrap();
    let found = query.get(&event(7, 0).ray_id).unwrap().unwrap();
    assert_eq!(found.path, "/item/7");
    assert_eq!(query.get("00000000000000ff-test").unwrap(), None);
}

#[test]
fn readers_see_progress_while_the_server_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::open(
        tmp.path(),
        EventLogSettings {
            batch_size: 32,
            ..settings()
        },
    )
    .unwrap();
    // Opened while the writer runs.
    let query = EventQuery::open(tmp.path()).unwrap();
    let writer = {
        let log = log.clone();
        thread::spawn(move || {
            let t0 = now_ms();
            for n in 0..4_000 {
                log.record(event(n, t0));
                if n % 500 == 499 {
                    log.flush(WAIT).unwrap();
                }
            }
            log.flush(WAIT).unwrap();
        })
    };
    let mut seen = Vec::new();
    while !writer.is_finished() {
        seen.push(query.count().unwrap());
        query.list(&EventFilter::default()).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    writer.join().unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "count went backwards"
    );
    assert_eq!(query.count().unwrap(), 4_000);
    assert_eq!(log.stats().dropped, 0);

    // And after the server has stopped and SQLite has tidied its WAL files away.
    log.shutdown().unwrap();
    drop(query);
    assert_eq!(
        EventQuery::open(tmp.path()).unwrap().count().unwrap(),
        4_000
    );
}

#[test]
fn client_supplied_text_is_clipped_before_storage() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::open(tmp.path(), settings()).unwrap();
    let huge = "A".repeat(100_000);
    log.record(EventRecord {
        user_agent: Some(huge.clone()),
        path: huge.clone(),
        facts: vec![Fact {
            name: "http.user_agent".into(),
            value: huge,
        }],
        ..event(1, now_ms())
    });
    log.shutdown().unwrap();
    let stored = EventQuery::open(tmp.path())
        .unwrap()
        .get(&event(1, 0).ray_id)
        .unwrap()
        .unwrap();
    let max = doorman_store::log::MAX_FIELD_BYTES;
    assert!(stored.user_agent.unwrap().len() <= max);
    assert!(stored.path.len() <= max);
    assert!(stored.facts[0].value.len() <= max);
    assert!(stored.path.ends_with('…'));
}

#[test]
fn the_reader_never_creates_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    let err = EventQuery::open(tmp.path()).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("doorman.db"));
    assert!(!doorman_store::db_path(tmp.path()).exists());
}

#[test]
fn a_failed_write_is_counted_not_hidden() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::open(tmp.path(), settings()).unwrap();
    log.record(event(1, now_ms()));
    log.flush(WAIT).unwrap();
    // Someone breaks the schema under the server's feet: inserts now fail.
    let other = rusqlite::Connection::open(doorman_store::db_path(tmp.path())).unwrap();
    other.execute_batch("DROP TABLE events").unwrap();
    for n in 2..12 {
        log.record(event(n, now_ms()));
    }
    log.flush(WAIT).unwrap();
    let stats = log.stats();
    assert_eq!(stats.recorded, 1);
    assert_eq!(stats.write_errors, 10);
    assert_eq!(stats.dropped, 0);
    // The writer is still alive and answering.
    log.shutdown().unwrap();
}
