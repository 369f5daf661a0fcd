//! What the event log costs: `record()` on the request path (queue has room, and queue full), and
//! how many events per second the writer thread stores when fed without pause.
//!
//! Records are built outside the timed sections, so only queuing (or dropping) is measured.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use doorman_common::when::unix_ms;
use doorman_store::{Action, EventLog, EventLogSettings, EventRecord, Fact, TraceLine};

const WAIT: Duration = Duration::from_secs(60);

fn event(n: u64) -> EventRecord {
    EventRecord {
        ray_id: format!("{n:016x}-bench"),
        time_ms: unix_ms(SystemTime::now()),
        client_ip: std::net::IpAddr::from([203, 0, 113, (n % 250) as u8]),
        method: "GET".into(),
        host: "example.com".into(),
        path: format!("/api/v1/items/{n}"),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into(),
        ),
        status: 403,
        code: "1020".into(),
        phase: "firewall".into(),
        rule: Some("block-scrapers".into()),
        reason: "the request matched rule block-scrapers: known scraper user agent".into(),
        disclosure: "public".into(),
        facts: vec![
            Fact {
                name: "ip.src".into(),
                value: "203.0.113.7".into(),
            },
            Fact {
                name: "http.user_agent".into(),
                value: "Mozilla/5.0".into(),
            },
        ],
        private_facts: Vec::new(),
        route: Some("api".into()),
        action: Action::Deny,
        trace: vec![
            TraceLine {
                phase: "routing".into(),
                outcome: "matched route api".into(),
            },
            TraceLine {
                phase: "firewall".into(),
                outcome: "rule block-scrapers matched".into(),
            },
        ],
        asn: Some(9009),
        country: Some("NL".into()),
    }
}

fn bench_record(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("record");

    // Room in the queue: what a request pays in normal operation. Sent in chunks smaller than the
    // queue, with a flush between chunks (not timed), so that no call finds the queue full.
    {
        const CHUNK: u64 = 4_096;
        let log = EventLog::open(
            &tmp.path().join("hot"),
            EventLogSettings {
                queue_capacity: 2 * CHUNK as usize,
                ..EventLogSettings::default()
            },
        )
        .unwrap();
        group.bench_function("queued", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = CHUNK.min(iters - done);
                    let records: Vec<_> = (done..done + n).map(event).collect();
                    let start = Instant::now();
                    for record in records {
                        log.record(black_box(record));
                    }
                    total += start.elapsed();
                    log.flush(WAIT).unwrap();
                    done += n;
                }
                total
            })
        });
        assert_eq!(
            log.stats().dropped,
            0,
            "the queued benchmark hit a full queue"
        );
        log.shutdown().unwrap();
    }

    // Queue full: what a request pays when the writer is stalled (here by another connection
    // holding the write lock) and events are dropped and counted.
    {
        let dir = tmp.path().join("full");
        let log = EventLog::open(
            &dir,
            EventLogSettings {
                queue_capacity: 64,
                ..EventLogSettings::default()
            },
        )
        .unwrap();
        let blocker = rusqlite::Connection::open(doorman_store::db_path(&dir)).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        for n in 0..1_000 {
            log.record(event(n));
        }
        group.bench_function("queue_full", |b| {
            b.iter_batched(
                || event(1),
                |record| log.record(black_box(record)),
                BatchSize::SmallInput,
            )
        });
        blocker.execute_batch("ROLLBACK").unwrap();
        log.shutdown().unwrap();
    }

    // Baseline for the above: what dropping a record costs by itself (a full queue drops it).
    group.bench_function("drop_only_baseline", |b| {
        b.iter_batched(|| event(1), drop, BatchSize::SmallInput)
    });
    group.finish();

    // Sustained: 10,000 events queued as fast as possible, then flushed; the database grows
    // over the run, with all its indexes, as a busy server's would.
    let mut group = c.benchmark_group("writer");
    const N: u64 = 10_000;
    group.throughput(Throughput::Elements(N));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let log = EventLog::open(
        &tmp.path().join("sustained"),
        EventLogSettings {
            queue_capacity: 2 * N as usize,
            ..EventLogSettings::default()
        },
    )
    .unwrap();
    group.bench_function("sustained_10k", |b| {
        b.iter_batched(
            || (0..N).map(event).collect::<Vec<_>>(),
            |records| {
                for record in records {
                    log.record(record);
                }
                log.flush(WAIT).unwrap();
            },
            BatchSize::PerIteration,
        )
    });
    assert_eq!(
        log.stats().dropped,
        0,
        "the sustained benchmark dropped events"
    );
    log.shutdown().unwrap();
    group.finish();
}

criterion_group!(benches, bench_record);
criterion_main!(benches);
