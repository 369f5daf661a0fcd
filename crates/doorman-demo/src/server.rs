//! The connection side: the accept loop, one task per connection serving HTTP/1.1 or h2c through hyper-util's
//! auto builder, and the bookkeeping that lets a stop close every live connection, not only the listener.
//!
//! Every task this server starts (connections, HTTP/2 streams, WebSocket sessions) is spawned on one
//! [`TaskTracker`] and races the stop token, so stopping is "cancel, then wait for the tracker to drain".

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::DemoOptions;
use crate::routes;

/// What every request handler may need from the server it runs in.
pub(crate) struct Shared {
    pub(crate) options: DemoOptions,
    pub(crate) stop: CancellationToken,
    pub(crate) tracker: TaskTracker,
    /// Numbers chat completion ids; only uniqueness matters.
    pub(crate) completions: AtomicU64,
}

impl Shared {
    /// Spawns a task that ends when the server stops, and that a stop waits for.
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = fut => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

/// What a handler knows about the connection its request came on.
#[derive(Clone)]
pub(crate) struct ConnCtx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) peer: SocketAddr,
    /// Notified by `/debug/reset`: the connection task then aborts the connection with a TCP reset.
    pub(crate) reset: Arc<Notify>,
}

/// hyper's executor for HTTP/2 stream tasks, routed through [`Shared::spawn`] so that a stop also ends them.
#[derive(Clone)]
struct Exec(Arc<Shared>);

impl<F> hyper::rt::Executor<F> for Exec
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        self.0.spawn(async move {
            fut.await;
        });
    }
}

/// Accepts connections until `stop` is cancelled, then closes the listener and every live connection, and returns
/// once they are all gone.
pub(crate) async fn run(
    listener: TcpListener,
    options: DemoOptions,
    stop: CancellationToken,
) -> io::Result<()> {
    let shared = Arc::new(Shared {
        options,
        stop: stop.clone(),
        tracker: TaskTracker::new(),
        completions: AtomicU64::new(0),
    });
    let builder = auto::Builder::new(Exec(shared.clone()));
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let ctx = ConnCtx {
                    shared: shared.clone(),
                    peer,
                    reset: Arc::new(Notify::new()),
                };
                let builder = builder.clone();
                shared.spawn(connection(tcp, ctx, builder));
            }
            Err(error) => {
                // Running out of descriptors or a peer that gave up mid-handshake must not end the server; a short
                // pause keeps a persistent error from spinning a core.
                tracing::warn!(%error, "demo origin: accept failed");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
    }
    drop(listener);
    shared.tracker.close();
    shared.tracker.wait().await;
    Ok(())
}

/// Serves one connection until it ends, the server stops, or a handler asks for a reset.
async fn connection(tcp: TcpStream, ctx: ConnCtx, builder: auto::Builder<Exec>) {
    let _ = tcp.set_nodelay(true);
    // A second descriptor for the same socket: hyper owns the stream, and this is how the task can still set
    // SO_LINGER=0 on it when `/debug/reset` asks for a real RST rather than a polite FIN.
    let (tcp, control) = match split_control(tcp) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::debug!(%error, "demo origin: could not prepare connection");
            return;
        }
    };
    let peer = ctx.peer;
    let reset = ctx.reset.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let ctx = ctx.clone();
        async move { Ok::<_, Infallible>(routes::handle(req, ctx).await) }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
    tokio::select! {
        result = conn => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "demo origin: connection ended with an error");
            }
        }
        () = reset.notified() => {
            // With linger zero, the last close of the socket (the hyper side is dropped right here, `control` at
            // the end of this function) sends RST and discards anything unsent.
            if let Err(error) = control.set_zero_linger() {
                tracing::debug!(%peer, %error, "demo origin: could not arm reset");
            }
        }
    }
    drop(control);
}

fn split_control(tcp: TcpStream) -> io::Result<(TcpStream, TcpSocket)> {
    let std = tcp.into_std()?;
    let control = TcpSocket::from_std_stream(std.try_clone()?);
    Ok((TcpStream::from_std(std)?, control))
}
