//! Two `doorman serve` processes sharing one real `redis-server` enforce one limit; when Redis
//! dies the configured fail mode applies without a panic, and when it comes back shared
//! limiting resumes. Needs `redis-server` on PATH (scripts/test.sh installs it).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use doorman_test_support::client::*;
use doorman_test_support::gateway::process::*;
use doorman_test_support::origin::BlockingDemo;
use doorman_test_support::redis::RedisServer;

const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));

const LIMIT: usize = 20;
const PERIOD_SECS: u64 = 4;

fn config(
    dir: &Path,
    name: &str,
    redis_port: u16,
    fail_mode: &str,
    origin: SocketAddr,
) -> std::path::PathBuf {
    let data = dir.join(format!("data-{name}"));
    let text = format!(
        r#"
[server]
node_name = "{name}"
data_dir = "{data}"
shutdown_grace_secs = 1

[[listeners]]
addr = "127.0.0.1:0"

[admin]
enabled = false

[[upstreams]]
name = "origin"
targets = ["{origin}"]

[[routes]]
name = "all"
upstream = "origin"

[rate_limit]
backend = "redis"
redis_url = "redis://127.0.0.1:{redis_port}/0"
fail_mode = "{fail_mode}"
redis_timeout_ms = 200

[[rate_limits]]
id = "shared"
expression = 'true'
characteristics = ['http.request.headers["x-client"]']
requests_per_period = {LIMIT}
period_secs = {PERIOD_SECS}
"#,
        data = data.display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn status(addr: SocketAddr, client: &str) -> (u16, String) {
    let answer = http_get(addr, "/healthz", &[("x-client", client)]);
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    (code, answer)
}

/// Sends requests alternately to every gateway for one period (from the first request) and
/// counts the ones let through. Any answer other than 200 or 429 fails the test.
fn flood(gateways: &[SocketAddr], client: &str) -> usize {
    let started = Instant::now();
    let mut allowed = 0;
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(PERIOD_SECS) - Duration::from_millis(100) {
        let (code, answer) = status(gateways[i % gateways.len()], client);
        match code {
            200 => allowed += 1,
            429 => {}
            _ => panic!("unexpected answer while flooding:\n{answer}"),
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        i > 2 * LIMIT,
        "only {i} requests were sent in a period; the test proves nothing"
    );
    allowed
}

/// Spends a fresh key's whole limit on `first` and checks that `then` sees it spent; retries
/// with new keys until it does (at most 20 s).
fn wait_until_shared(first: SocketAddr, then: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for attempt in 0.. {
        let client = format!("sync-{}-{attempt}", first.port());
        for _ in 0..LIMIT {
            let _ = status(first, &client);
        }
        if status(then, &client).0 == 429 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{first} and {then} never shared counters again after Redis came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_gateways_share_one_limit_through_redis_and_survive_its_outage() {
    let dir = tempfile::tempdir().unwrap();
    let demo = BlockingDemo::start();
    let origin = demo.addr;
    let mut server = RedisServer::start();
    let redis_port = server.port();

    let (_a, _a_log, a) = DOORMAN.serve(&config(dir.path(), "a", redis_port, "open", origin), &[]);
    let (_b, _b_log, b) = DOORMAN.serve(&config(dir.path(), "b", redis_port, "open", origin), &[]);

    // One limit across both: over a period, at most the limit (+1 for a window edge).
    let allowed = flood(&[a, b], "phase-1");
    assert!(
        (LIMIT..=LIMIT + 1).contains(&allowed),
        "two gateways let {allowed} requests through; the shared limit is {LIMIT} per {PERIOD_SECS} s"
    );

    // Redis dies: fail mode open counts in each process instead; nothing panics or errors.
    server.kill();
    let allowed = flood(&[a, b], "phase-2");
    assert!(
        (LIMIT..=2 * LIMIT + 2).contains(&allowed),
        "with Redis down each gateway limits on its own: {allowed} allowed"
    );

    // A gateway in fail mode closed refuses, saying the limiter is unavailable.
    let (_c, _c_log, c) =
        DOORMAN.serve(&config(dir.path(), "c", redis_port, "closed", origin), &[]);
    let (code, answer) = status(c, "phase-2");
    assert_eq!(code, 503, "{answer}");
    assert!(answer.contains("RATE_LIMITER_UNAVAILABLE"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer}"
    );

    // Redis comes back on the same port: shared limiting resumes by itself.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, _) = status(c, "probe");
        if code == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed gateway never saw Redis come back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The open gateways find Redis again by themselves (a probe per interval, the client's
    // reconnect): wait until each one's spending is visible to the others.
    for (first, then) in [(a, b), (b, a), (a, c)] {
        wait_until_shared(first, then);
    }
    let allowed = flood(&[a, b, c], "phase-3");
    assert!(
        (LIMIT..=LIMIT + 1).contains(&allowed),
        "after Redis came back, three gateways let {allowed} through; the shared limit is {LIMIT}"
    );
    drop(server);
}
