//! Cost of one rate-limit decision, and memory per tracked key.
//!
//! - `window/pure_x1000`: the arithmetic alone (`check_state`), no store (1000 decisions per
//!   iteration, a key with counts in several slices).
//! - `check/hot_key_x1000`: one key checked over and over (lock, lookup, decide, write back; all
//!   in cache; 1000 decisions per iteration).
//! - `check/distinct_1m`: round-robin over one million tracked keys, so nearly every lookup
//!   misses the CPU caches (the table is about 26 MB). `check/baseline_std_hashmap_get_1m` is a
//!   bare `HashMap::get` over the same keys in the same order: the cost of the cache miss alone.
//! - `check/new_key_growing`: keys never seen, into a limiter that starts empty and has room
//!   for all of them (insert, amortized sweep and table growth).
//! - `check/new_key_at_cap`: a key never seen, into a limiter full at 1M keys (eviction by
//!   sampling on every insert).
//!
//! Before the timings it prints bytes per tracked key with 1M keys: the table's own account
//! (slots × 20 bytes, exact) and the growth of the process's resident memory while filling it
//! (an upper bound: the allocator may keep freed tables of earlier growth steps).
//!
//! Run: `cargo bench -p doorman-limit --bench limiter`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use doorman_limit::{LocalLimiter, Quota, check_state};

const MILLION: usize = 1_000_000;

/// A hasher for keys that are already hashes: the key itself.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Keys as a caller would hand them over: already hashed, so spread over all 64 bits.
fn keys(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            // splitmix64
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
        .collect()
}

/// A quota that keeps every key tracked (counts for an hour) and allows every request, so the
/// benches measure the store, not denials.
const LONG: Quota = Quota {
    limit: 65_535,
    period_ms: 3_600_000,
};

fn filled(max_keys: usize, keys: &[u64]) -> LocalLimiter {
    let limiter = LocalLimiter::new(max_keys);
    for &key in keys {
        limiter.check(key, 0, LONG, 1, 0);
    }
    limiter
}

/// Resident set size in bytes (Linux), or 0 where /proc is not there.
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn report_memory() {
    let keys = keys(MILLION, 42);
    let before = rss_bytes();
    let started = Instant::now();
    let limiter = filled(2 * MILLION, &keys);
    let fill = started.elapsed();
    let after = rss_bytes();
    let stats = limiter.stats();
    println!(
        "memory: {} keys tracked; table {:.1} bytes/key ({} bytes); resident growth {:.1} bytes/key; \
         filled in {:.0} ms ({:.0} ns per new key)",
        stats.tracked,
        stats.memory_bytes as f64 / stats.tracked as f64,
        stats.memory_bytes,
        after.saturating_sub(before) as f64 / stats.tracked as f64,
        fill.as_secs_f64() * 1e3,
        fill.as_secs_f64() * 1e9 / stats.tracked as f64,
    );
}

/// Decisions per iteration in the batched benches, so that the harness's own cost per
/// iteration (a few ns) does not count as the decision's: read "time" as per 1000 decisions,
/// or the throughput line as decisions per second.
const BATCH: u64 = 1000;

fn bench_pure(c: &mut Criterion) {
    let mut group = c.benchmark_group("window");
    group.throughput(Throughput::Elements(BATCH));
    // 100 per second (8 slices of 125 ms), at Unix-epoch times, a request every 7 ms: most
    // are allowed, some denied, and the window always holds counts in several slices.
    let quota = Quota {
        limit: 100,
        period_ms: 1000,
    };
    let mut state = None;
    let mut now = 1_700_000_000_000u64;
    group.bench_function("pure_x1000", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                now += 7;
                let (verdict, next) = check_state(black_box(state), black_box(now), quota, 1, 0);
                black_box(verdict);
                state = next;
            }
        })
    });
    group.finish();
}

fn bench_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(4));

    let limiter = LocalLimiter::new(MILLION);
    let quota = Quota {
        limit: 1000,
        period_ms: 1000,
    };
    let mut now = 1_700_000_000_000u64;
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("hot_key_x1000", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                now += 1;
                black_box(limiter.check(black_box(7), now, quota, 1, 0));
            }
        })
    });
    group.throughput(Throughput::Elements(1));

    let tracked = keys(MILLION, 42);
    // Baseline: a plain std HashMap read over the same million keys in the same order. The
    // keys are already hashed, so its hasher passes them through; what remains is the memory.
    let map: HashMap<u64, u64, BuildHasherDefault<PassThrough>> =
        tracked.iter().map(|&k| (k, k)).collect();
    let mut m = 0;
    group.bench_function("baseline_std_hashmap_get_1m", |b| {
        b.iter(|| {
            m = (m + 1) % tracked.len();
            map.get(&black_box(tracked[m])).copied()
        })
    });
    drop(map);

    let limiter = filled(2 * MILLION, &tracked);
    let mut i = 0;
    group.bench_function("distinct_1m", |b| {
        b.iter(|| {
            i = (i + 1) % tracked.len();
            limiter.check(black_box(tracked[i]), 1, LONG, 1, 0)
        })
    });

    drop(limiter);

    // Each sample inserts its `iters` keys into a new, empty limiter with room for all of them:
    // the amortized cost of an insert, table growth included.
    let mut seed = 4242;
    group.bench_function("new_key_growing", |b| {
        b.iter_custom(|iters| {
            seed += 1;
            let n = usize::try_from(iters).unwrap_or(usize::MAX).max(1);
            let fresh = keys(n, seed);
            let limiter = LocalLimiter::new(n);
            let started = Instant::now();
            for &key in &fresh {
                black_box(limiter.check(key, 1, LONG, 1, 0));
            }
            started.elapsed()
        })
    });

    let full = filled(MILLION, &tracked);
    let mut k = 0u64;
    group.bench_function("new_key_at_cap", |b| {
        b.iter(|| {
            k += 1;
            // Distinct from every tracked key (those came from splitmix64 outputs).
            full.check(
                black_box(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                1,
                LONG,
                1,
                0,
            )
        })
    });
    let stats = full.stats();
    println!(
        "at cap: {} tracked, {} evicted, {} expired",
        stats.tracked, stats.evicted, stats.expired
    );
    group.finish();
}

criterion_group!(benches, bench_pure, bench_check);

fn main() {
    report_memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
