//! A demo origin and a gateway in the test's own process, on ephemeral loopback ports, from
//! config text written to a temporary directory, as `doorman serve` would read it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use tempfile::TempDir;

/// A started gateway and the demo origin behind it; the config file and data directory live in
/// `dir` and go with it.
pub struct Env {
    pub dir: TempDir,
    pub config_path: PathBuf,
    pub gateway: doorman_server::Started,
    pub addr: SocketAddr,
    pub origin_addr: SocketAddr,
    pub origin: Option<doorman_demo::DemoHandle>,
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The event the gateway recorded for `ray`, once its writer thread has stored it (5 s at
    /// most: the log is written off the request path, so a test asks again rather than sleeps).
    pub async fn event(&self, ray: &str) -> doorman_store::EventRecord {
        for _ in 0..50 {
            if let Ok(q) = doorman_store::EventQuery::open(&self.data_dir())
                && let Ok(Some(rec)) = q.get(ray)
            {
                return rec;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no event for {ray}");
    }

    pub async fn stop(self) {
        self.gateway.shutdown();
        self.gateway.wait().await;
        if let Some(o) = self.origin {
            let _ = o.stop().await;
        }
    }
}

/// The base config: one listener on an ephemeral port, admin on another, the demo origin as
/// upstream `chat` with a catch-all route. `server_extra` goes into `[server]`; `extra` is
/// appended (more upstreams/routes/sections).
pub fn base_config(data_dir: &Path, origin: SocketAddr, server_extra: &str, extra: &str) -> String {
    format!(
        r#"
[server]
node_name = "test"
data_dir = "{data}"
shutdown_grace_secs = 5
{server_extra}

{listeners}

[[upstreams]]
name = "chat"
targets = ["{origin}"]
connect_timeout_ms = 1000
response_timeout_ms = 5000

[[routes]]
name = "chat"
path_prefix = "/"
upstream = "chat"

{extra}
"#,
        data = data_dir.display(),
        listeners = crate::config::LOOPBACK_LISTENERS,
    )
}

/// Starts an origin and a gateway. `make_config(data_dir, origin)` returns the whole TOML.
pub async fn start_with(make_config: impl FnOnce(&Path, SocketAddr) -> String) -> Env {
    start_in(tempfile::tempdir().unwrap(), make_config).await
}

async fn start_in(dir: TempDir, make_config: impl FnOnce(&Path, SocketAddr) -> String) -> Env {
    // Server logs appear with a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("doorman_server=debug,doorman=debug")
        .try_init();
    let (origin_addr, origin) = doorman_demo::spawn_with(
        "127.0.0.1:0".parse().unwrap(),
        doorman_demo::DemoOptions {
            token_interval: Duration::from_millis(100),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let data = dir.path().join("data");
    let text = make_config(&data, origin_addr);
    let config_path = dir.path().join("doorman.toml");
    std::fs::write(&config_path, &text).unwrap();
    let loaded = doorman_config::load(&config_path)
        .unwrap_or_else(|d| panic!("test config does not compile:\n{d}\n{text}"));
    let gateway = doorman_server::start(loaded, Some(config_path.clone()))
        .await
        .unwrap();
    let addr = gateway.listen_addrs[0];
    Env {
        dir,
        config_path,
        gateway,
        addr,
        origin_addr,
        origin: Some(origin),
    }
}

/// [`start_with`] the [`base_config`] plus `extra`.
pub async fn start(extra: &str) -> Env {
    start_with(|data, origin| base_config(data, origin, "", extra)).await
}

/// A gateway shared by the tests of one binary, for tests that only send requests and read
/// answers (no stop, reload, metrics or event-log counts that another test could disturb).
///
/// Each `#[tokio::test]` has a runtime of its own that ends with the test, and a gateway dies
/// with the runtime that started it; so the shared one runs on a runtime of its own, on a thread
/// that lives as long as the test binary. A static is never dropped, so its directory cannot be
/// removed at exit; it lives under a directory named after the test binary, emptied when the next
/// run starts, so runs do not pile up in the temp directory.
pub struct Shared {
    cell: OnceLock<Env>,
    extra: &'static str,
}

impl Shared {
    /// A gateway on [`base_config`] plus `extra`, started on first use.
    pub const fn new(extra: &'static str) -> Self {
        Shared {
            cell: OnceLock::new(),
            extra,
        }
    }

    pub fn get(&'static self) -> &'static Env {
        self.cell.get_or_init(|| {
            let extra = self.extra;
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let env = start_in(shared_dir(), |data, origin| {
                        base_config(data, origin, "", extra)
                    })
                    .await;
                    tx.send(env).unwrap();
                    std::future::pending::<()>().await
                });
            });
            rx.recv().expect("the shared gateway started")
        })
    }
}

/// A fresh directory for a shared gateway, below one kept per test binary whose older contents
/// (from earlier runs) are removed first.
fn shared_dir() -> TempDir {
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    let parent = std::env::temp_dir().join("doorman-test-support").join(name);
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    tempfile::tempdir_in(&parent).unwrap()
}
