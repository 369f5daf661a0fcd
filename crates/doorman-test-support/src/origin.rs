//! Loopback origins for tests: the demo origin (feature `demo`), on the test's runtime or on a
//! runtime of its own for tests that are not async; a server that accepts and never answers; and
//! accept loops that hand each connection to the test's own handler, for origins that must
//! record or misbehave byte by byte.

use std::net::SocketAddr;

/// Accepts connections and holds them open without a byte in answer, until the runtime ends.
pub async fn silent() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// Accepts connections on a loopback port and runs `handle` on each, as a task of its own.
pub async fn accept_each<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream));
        }
    });
    addr
}

/// [`accept_each`] for tests without a runtime: a thread per connection.
pub fn accept_each_blocking<F>(handle: F) -> SocketAddr
where
    F: Fn(std::net::TcpStream) + Send + Sync + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handle = handle.clone();
            std::thread::spawn(move || handle(stream));
        }
    });
    addr
}

#[cfg(feature = "demo")]
pub use demo::*;

#[cfg(feature = "demo")]
mod demo {
    use std::net::SocketAddr;

    use doorman_demo::{DemoHandle, DemoOptions};

    /// The demo origin named `name` (its `x-demo-origin` header) on `addr` ("127.0.0.1:0" for an
    /// ephemeral port, or a port it had before, to come back where it was).
    pub async fn demo(name: &str, addr: &str) -> (SocketAddr, DemoHandle) {
        doorman_demo::spawn_with(
            addr.parse().unwrap(),
            DemoOptions {
                name: name.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }

    /// The demo origin on a runtime of its own, for tests that are not async (such as those that
    /// run the `doorman` binary); it stops when this is dropped.
    pub struct BlockingDemo {
        pub addr: SocketAddr,
        // Dropped before the runtime, which ends the origin's tasks.
        _handle: DemoHandle,
        _runtime: tokio::runtime::Runtime,
    }

    impl BlockingDemo {
        pub fn start() -> Self {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let (addr, handle) = runtime
                .block_on(doorman_demo::spawn("127.0.0.1:0".parse().unwrap()))
                .unwrap();
            BlockingDemo {
                addr,
                _handle: handle,
                _runtime: runtime,
            }
        }
    }
}
