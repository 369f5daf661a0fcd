//! The built-in demo origin: a small, deterministic AI chat service that `doorman demo` runs in the same process
//! behind the gateway, and that the gateway's integration tests use as a real origin over real sockets.
//!
//! It speaks HTTP/1.1 and cleartext HTTP/2 (h2c, prior knowledge) on one listener, with upgrades enabled so that
//! WebSocket works through the proxy. Endpoints:
//!
//! | endpoint | what it does |
//! |---|---|
//! | `GET /` | the chat page: one self-contained HTML page that streams answers token by token |
//! | `POST /v1/chat/completions` | OpenAI-style chat completions, plain JSON or SSE (`"stream": true`) |
//! | `GET /plugins/weather?city=…` | a "plugin" answering made-up but deterministic weather per city |
//! | `GET /members` | a small HTML page (the demo's gateway guards it with a challenge) |
//! | `POST /login` | form or JSON `user`/`password`: 200 for password `demo`, 401 otherwise |
//! | `GET /ws/echo` | WebSocket echo of text and binary messages |
//! | `GET /healthz` | `200 ok` |
//!
//! Demo/test diagnostics (they exist so the gateway's tests can provoke each upstream behaviour on demand; they are
//! harmless but should not be exposed by a real deployment):
//!
//! | endpoint | what it does |
//! |---|---|
//! | `ANY /debug/echo` | JSON of what the origin received: method, path and query, version, headers, body length |
//! | `GET /debug/sleep?ms=N` | waits N ms before sending the response head (gateway response timeout → 504) |
//! | `GET /debug/status?code=N` | answers with status N (200–599) |
//! | `GET /debug/drip?chunks=N&interval_ms=M` | N text chunks spaced by M ms (streaming through the proxy) |
//! | `GET /debug/reset` | resets the TCP connection without answering (upstream reset → 502) |
//!
//! Nothing here reads configuration or the clock beyond what the answers need (`created` timestamps), so the same
//! request gets the same answer text every time.

#![forbid(unsafe_code)]

mod chat;
mod page;
mod query;
mod routes;
mod server;
mod ws;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How the demo origin behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Pause between two streamed chat tokens. Long enough by default (60 ms) that a person sees the answer being
    /// written, and that a test can tell streaming from buffering.
    pub token_interval: Duration,
    /// This origin's name: reported by `/debug/echo` (as `origin`) and in the `x-demo-origin` response header, so a
    /// test with several origins can tell which one answered.
    pub name: String,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            token_interval: Duration::from_millis(60),
            name: "doorman-demo".to_owned(),
        }
    }
}

/// Serves the demo origin on `listener` until this future is dropped (for instance because its task is aborted).
///
/// Dropping the future also closes every live connection, WebSocket included. It does not end on its own:
/// accept errors (such as running out of file descriptors) are logged and retried rather than returned.
pub async fn serve(listener: TcpListener, options: DemoOptions) -> io::Result<()> {
    let stop = CancellationToken::new();
    // Whoever drops this future means "stop": the guard turns that drop into a cancellation the connections see.
    let _guard = stop.clone().drop_guard();
    server::run(listener, options, stop).await
}

/// Binds `addr` (use port 0 for any free port) and serves the demo origin with default options in a background task.
///
/// Returns the bound address and a handle that stops the server. Dropping the handle stops it too, so keep the
/// handle alive for as long as the origin should run.
pub async fn spawn(addr: SocketAddr) -> io::Result<(SocketAddr, DemoHandle)> {
    spawn_with(addr, DemoOptions::default()).await
}

/// Like [`spawn`], with explicit options.
pub async fn spawn_with(
    addr: SocketAddr,
    options: DemoOptions,
) -> io::Result<(SocketAddr, DemoHandle)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let stop = CancellationToken::new();
    let task = tokio::spawn(server::run(listener, options, stop.clone()));
    Ok((
        local,
        DemoHandle {
            addr: local,
            stop,
            task: Some(task),
        },
    ))
}

/// Controls a demo origin started by [`spawn`] or [`spawn_with`].
#[derive(Debug)]
pub struct DemoHandle {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl DemoHandle {
    /// The address the origin listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the origin: closes the listening socket and every live connection (WebSocket included), and waits
    /// until that is done, so a connection attempt made after this returns is refused.
    pub async fn stop(mut self) -> io::Result<()> {
        self.stop.cancel();
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for DemoHandle {
    fn drop(&mut self) {
        // A handle dropped without `stop` (a test that ended early, a panic) must not leave a server behind.
        self.stop.cancel();
    }
}
