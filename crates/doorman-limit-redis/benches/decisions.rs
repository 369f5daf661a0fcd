//! Redis-backed rate-limit decisions per second from one instance (one `RedisLimiter`, one
//! multiplexed connection) against a local `redis-server` started for the bench: with 64 calls
//! in flight (how a busy gateway uses it: requests pipeline on the one connection) and with one
//! (the round-trip latency a single request pays).
//!
//! `cargo bench -p doorman-limit-redis`; criterion prints `thrpt` in decisions per second.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use doorman_limit_redis::{Quota, RedisLimiter, RedisOptions};

/// Distinct keys the calls spread over, so the bench measures many small hashes as in real
/// traffic rather than one hot key.
const KEYS: u64 = 10_000;

fn decisions(c: &mut Criterion) {
    let server = doorman_test_support::redis::RedisServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let limiter = runtime.block_on(async {
        RedisLimiter::connect(
            &server.url(),
            RedisOptions {
                call_timeout: Duration::from_secs(5),
                ..RedisOptions::default()
            },
        )
        .await
        .expect("connect to the bench redis-server")
    });
    let quota = Quota {
        limit: 100,
        period_ms: 1000,
    };

    let mut group = c.benchmark_group("redis_decisions");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(10));
    for in_flight in [1u64, 64] {
        group.bench_function(format!("in_flight_{in_flight}"), |b| {
            b.iter_custom(|iters| {
                let limiter = limiter.clone();
                runtime.block_on(async move {
                    let start = Instant::now();
                    let mut tasks = Vec::new();
                    for worker in 0..in_flight {
                        let limiter = limiter.clone();
                        // Spread `iters` calls over the workers; each runs its share in sequence.
                        let share = iters / in_flight + u64::from(worker < iters % in_flight);
                        tasks.push(tokio::spawn(async move {
                            for i in 0..share {
                                let key = (worker * 7919 + i) % KEYS;
                                let now = 1_800_000_000_000 + i;
                                limiter
                                    .check("bench", key, now, quota, 1, 0)
                                    .await
                                    .expect("decision");
                            }
                        }));
                    }
                    for task in tasks {
                        task.await.expect("bench task");
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
