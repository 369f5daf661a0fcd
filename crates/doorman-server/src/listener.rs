//! Accepting connections: the connection cap (with the longest-idle connections asked to make
//! room when it is reached), the PROXY protocol (from trusted peers only), TLS termination (with
//! the ClientHello read ahead for its fingerprints, see [`crate::hello`]), the connection wrapper
//! (request-head timeout, receipts for heads hyper refuses, HTTP/2 stalls and idleness, see
//! [`crate::head_timeout`]), and handing the stream to hyper for HTTP/1.1, h2 (ALPN) or h2c
//! (prior knowledge). A connection is closed gracefully (in-flight requests finish, within a
//! bound) when it has been idle, open or busy for its limits, when it is asked to make room, and
//! on shutdown.

use std::fmt::Display;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use doorman_config::Listener as ListenerSettings;
use doorman_core::{Code, PhaseName, RayId, Receipt, Scheme, TlsFacts};
use doorman_store::{Action, EventContext, EventRecord};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::connections::{CloseReason, ConnShared, Registry};
use crate::gateway::Gateway;
use crate::head_timeout::{Answers, ConnSettings, HeadTimeoutIo, HeadTimeouts};
use crate::hello;
use crate::malformed::{self, HeadLimits};
use crate::proxy::{self, ConnInfo};
use crate::proxy_protocol::{self, Rewind};
use crate::respond;

/// How long a client has to finish a TLS handshake or send its PROXY header.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection with nothing in flight, asked to close (idle, or to make room), may take
/// to do so: an HTTP/2 client is sent GOAWAY and a PING, and hyper waits for the PING's answer.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(5);
/// The least time any graceful close gets, so that what was written (the last response, the
/// GOAWAY) can be flushed even with `shutdown_grace_secs = 0`.
const MIN_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// While every slot is taken and a client waits, how often to look for an idle connection again.
const EVICTION_RETRY: Duration = Duration::from_millis(100);

/// One bound listener and what it serves.
pub struct Listener {
    pub tcp: TcpListener,
    pub serves: Arc<Serves>,
}

/// What a listener's connections need. Kept apart from the socket so that connections still in
/// flight do not keep the listening socket open after shutdown.
pub struct Serves {
    pub settings: ListenerSettings,
    pub tls: Option<TlsAcceptor>,
}

/// Accepts until `shutdown` fires. Each connection runs in `connections`.
pub async fn accept_loop(
    gw: Arc<Gateway>,
    listener: Listener,
    permits: Arc<Semaphore>,
    registry: Arc<Registry>,
    connections: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.tcp.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed on {}: {e}", listener.serves.settings.addr);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Accepting before taking a slot lets the loop know a client is waiting, so that it can
        // make room; it holds at most this one connection beyond the cap, the others stay in the
        // kernel's backlog.
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => return,
            Err(TryAcquireError::NoPermits) => {
                match make_room(&gw, &permits, &registry, &shutdown).await {
                    Some(p) => p,
                    None => return,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let gw = gw.clone();
        let serves = listener.serves.clone();
        let registry = registry.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            gw.metrics.connections_open.inc();
            if let Err(why) =
                serve_connection(&gw, &serves, stream, peer, &registry, shutdown).await
            {
                gw.metrics.connections_refused.inc();
                tracing::debug!("connection from {peer} closed before HTTP: {why}");
            }
            gw.metrics.connections_open.dec();
            drop(permit);
        });
    }
}

/// Every slot is taken and a client waits: asks the longest-idle connection to close and waits
/// for a slot. While a connection asked earlier is still closing, no other is asked; busy
/// connections are never asked. `None` on shutdown.
async fn make_room(
    gw: &Gateway,
    permits: &Arc<Semaphore>,
    registry: &Registry,
    shutdown: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    loop {
        if !registry.eviction_pending() && registry.evict_longest_idle() {
            gw.metrics.connections_evicted.inc();
            tracing::debug!("max_connections reached; asked the longest-idle connection to close");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            p = permits.clone().acquire_owned() => return p.ok(),
            _ = tokio::time::sleep(EVICTION_RETRY) => {}
        }
    }
}

async fn serve_connection(
    gw: &Arc<Gateway>,
    listener: &Serves,
    mut stream: TcpStream,
    peer: SocketAddr,
    registry: &Arc<Registry>,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let rt = gw.runtime();
    let trusted = &rt.config.policy.client_ip.trusted_proxies;
    let mut peer_ip = doorman_core::client_ip::canonical(peer.ip());
    let mut replay = Bytes::new();
    // A PROXY header is only believed from a trusted proxy; anyone else is served as themselves.
    if listener.settings.proxy_protocol && doorman_core::client_ip::is_trusted(peer_ip, trusted) {
        let (header, rest) = proxy_protocol::read_header(&mut stream, HANDSHAKE_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(src) = header.source {
            peer_ip = doorman_core::client_ip::canonical(src.ip());
        }
        replay = rest;
    }
    match &listener.tls {
        None => {
            let io = Rewind::new(replay, stream);
            let info = ConnInfo {
                peer_ip,
                scheme: Scheme::Http,
                tls: None,
                head_signal: None,
            };
            let http = HttpSettings {
                http2: listener.settings.h2c,
                http2_only: false,
            };
            serve_http(gw.clone(), io, info, http, registry, shutdown).await;
        }
        Some(acceptor) => {
            // The ClientHello is read first, for its fingerprints, then replayed in front of the
            // socket so rustls reads the connection from its first byte. Reading it counts
            // against the handshake's time: a slow hello gets no extra.
            let hello_wait = rt
                .config
                .server
                .limits
                .header_read_timeout
                .min(HANDSHAKE_TIMEOUT);
            let handshake = async move {
                let peeked = hello::read_client_hello(&mut stream, replay, hello_wait)
                    .await
                    .map_err(|e| format!("reading the TLS ClientHello failed: {e}"))?;
                let tls = acceptor
                    .accept(Rewind::new(peeked.prefix, stream))
                    .await
                    .map_err(|e| format!("TLS handshake failed: {e}"))?;
                Ok::<_, String>((tls, peeked.hello))
            };
            let (tls, client_hello) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
                .await
                .map_err(|_| "TLS handshake timed out".to_string())??;
            let facts: TlsFacts = crate::tls::facts(tls.get_ref().1, client_hello.as_ref());
            let http = HttpSettings {
                http2: true,
                http2_only: tls.get_ref().1.alpn_protocol() == Some(b"h2"),
            };
            let info = ConnInfo {
                peer_ip,
                scheme: Scheme::Https,
                tls: Some(facts),
                head_signal: None,
            };
            serve_http(gw.clone(), tls, info, http, registry, shutdown).await;
        }
    }
    Ok(())
}

/// Which HTTP versions a connection may speak.
#[derive(Debug, Clone, Copy)]
struct HttpSettings {
    /// HTTP/2 by prior knowledge (h2c) or by ALPN.
    http2: bool,
    /// TLS negotiated `h2`: nothing else may be spoken.
    http2_only: bool,
}

/// What bounds one connection's life.
struct Lifetime {
    shared: Arc<ConnShared>,
    max_age: Duration,
    /// How long a graceful close may take before the connection is dropped.
    grace: Duration,
}

/// Runs hyper over one connection until it ends or is asked to finish.
async fn serve_http<I>(
    gw: Arc<Gateway>,
    io: I,
    mut info: ConnInfo,
    http: HttpSettings,
    registry: &Arc<Registry>,
    shutdown: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Read what the connection needs, then let the snapshot go: a long connection must not keep
    // an old configuration alive.
    let (limits, grace) = {
        let rt = gw.runtime();
        (
            rt.config.server.limits.clone(),
            rt.config.server.shutdown_grace,
        )
    };
    // Room above the configured limits so that the handler, not hyper, answers with a receipt;
    // heads far beyond them are refused by hyper, and the wrapper turns that into a receipt too.
    let head_buf = (limits.max_header_bytes * 2).max(16 * 1024) + 8 * 1024;
    let max_headers = limits.max_headers * 2 + 8;
    let shared = ConnShared::with_shutdown(limits.max_requests_per_connection, &shutdown);
    let _registered = registry.register(shared.clone());
    let answers = Box::new(GatewayAnswers {
        gw: gw.clone(),
        peer_ip: info.peer_ip,
        head_timeout: limits.header_read_timeout,
        limits: HeadLimits::from(&limits),
    });
    let (io, signal) = HeadTimeoutIo::new(
        io,
        ConnSettings {
            timeouts: HeadTimeouts {
                head: limits.header_read_timeout,
                idle: limits.idle_timeout,
            },
            http2: http.http2,
            http2_only: http.http2_only,
            head_copy_limit: head_buf,
        },
        shared.clone(),
        answers,
    );
    info.head_signal = Some(signal);
    let info = Arc::new(info);
    let service = {
        let gw = gw.clone();
        service_fn(move |req| proxy::handle(gw.clone(), info.clone(), req))
    };
    let lifetime = Lifetime {
        shared,
        max_age: limits.max_connection_age,
        grace,
    };

    // Our own wrapper answers slow heads with a 408 receipt and closes idle connections; hyper's
    // timer would race it, so it is off.
    if http.http2 {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .max_buf_size(head_buf)
            .max_headers(max_headers);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(head_buf as u32)
            .keep_alive_interval(Some(Duration::from_secs(30)));
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        drive(conn, |c| c.graceful_shutdown(), lifetime).await;
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .max_buf_size(head_buf)
            .max_headers(max_headers);
        let conn = builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        drive(conn, |c| c.graceful_shutdown(), lifetime).await;
    }
}

/// Runs `conn` until it ends. On shutdown, or when its lifetime says so, asks it to finish
/// gracefully (`graceful`): in-flight requests complete, HTTP/1 stops keeping alive, HTTP/2 sends
/// GOAWAY. A close asked for by the lifetime that takes longer than its bound drops the
/// connection; on shutdown the server's drain bounds the wait instead.
async fn drive<C, E>(conn: C, graceful: impl FnOnce(Pin<&mut C>), life: Lifetime)
where
    C: Future<Output = Result<(), E>>,
    E: Display,
{
    tokio::pin!(conn);
    // Every wake of the connection polls these: hyper first, then one token for every close
    // request and the shutdown, then the age timer.
    let reason = tokio::select! {
        biased;
        res = conn.as_mut() => return log_end(res),
        _ = life.shared.closing().cancelled() => life.shared.close_reason(),
        _ = tokio::time::sleep(life.max_age) => {
            // Recorded so that the connection is not also picked to make room.
            life.shared.request_close(CloseReason::Age);
            Some(CloseReason::Age)
        }
    };
    graceful(conn.as_mut());
    let Some(reason) = reason else {
        return log_end(conn.await);
    };
    let bound = match reason {
        CloseReason::Idle | CloseReason::Evicted => life.grace.min(IDLE_CLOSE_GRACE),
        CloseReason::Age | CloseReason::Requests => life.grace,
    }
    .max(MIN_CLOSE_GRACE);
    tracing::debug!(
        reason = reason.as_str(),
        "closing the connection gracefully"
    );
    match tokio::time::timeout(bound, conn).await {
        Ok(res) => log_end(res),
        Err(_) => tracing::debug!(
            reason = reason.as_str(),
            "the connection did not close within {} ms of being asked to; dropped",
            bound.as_millis()
        ),
    }
}

fn log_end<E: Display>(res: Result<(), E>) {
    if let Err(e) = res {
        tracing::debug!("connection ended with an error: {e}");
    }
}

/// The answers the connection wrapper sends itself, as receipts recorded like any other.
struct GatewayAnswers {
    gw: Arc<Gateway>,
    peer_ip: IpAddr,
    head_timeout: Duration,
    limits: HeadLimits,
}

impl Answers for GatewayAnswers {
    fn timeout(&mut self, head: &[u8]) -> Bytes {
        let receipt = new_receipt(&self.gw, self.peer_ip, Code::RequestTimeout)
            .reason(format!(
                "Your request's headers did not arrive within {} ms, so the gateway stopped waiting.",
                self.head_timeout.as_millis()
            ))
            .remedy("Check your network connection; a slow or lossy link, or a proxy that buffers requests, can cause this.")
            .remedy("Try again.");
        answer(&self.gw, receipt, head)
    }

    fn malformed(&mut self, status: u16, head: &[u8]) -> Bytes {
        let m = malformed::diagnose(head, status, &self.limits);
        tracing::debug!(hyper_status = status, status = m.status, reason = %m.reason, "request head refused");
        let mut receipt = new_receipt(&self.gw, self.peer_ip, m.code).reason(m.reason);
        receipt.status = m.status;
        receipt.remedies = m.remedies;
        receipt.facts = m.facts;
        answer(&self.gw, receipt, head)
    }
}

fn new_receipt(gw: &Gateway, peer_ip: IpAddr, code: Code) -> Receipt {
    let rt = gw.runtime();
    let ray = RayId::new(rand::random(), rt.config.policy.node.clone());
    let mut receipt = Receipt::new(ray, SystemTime::now(), peer_ip, code, PhaseName::Proxy);
    rt.config.policy.site.fill(&mut receipt, "");
    receipt
}

/// Records `receipt` (with what can be read of the request's head) and renders it as raw
/// HTTP/1.1, in the format the head's `Accept` asks for.
fn answer(gw: &Gateway, receipt: Receipt, head: &[u8]) -> Bytes {
    let rt = gw.runtime();
    gw.metrics
        .decisions
        .get_or_create(&crate::metrics::CodeLabels {
            code: receipt.code.as_str(),
        })
        .inc();
    let seen = malformed::summary(head);
    let context = EventContext {
        method: seen.method,
        host: seen.host,
        path: seen.target,
        user_agent: seen.user_agent,
        route: None,
        action: Action::Deny,
        asn: None,
        country: None,
    };
    gw.events
        .record(EventRecord::from_receipt(&receipt, context, &[]));
    respond::raw_http1(&receipt, seen.accept.as_deref(), &rt.ray_header)
}
