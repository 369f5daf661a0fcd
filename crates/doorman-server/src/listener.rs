//! Accepting connections: the connection cap, the PROXY protocol (from trusted peers only), TLS
//! termination (with the ClientHello read ahead for its fingerprints, see [`crate::hello`]), the
//! request-head timeout, and handing the stream to hyper for HTTP/1.1, h2 (ALPN) or h2c (prior
//! knowledge). Shutdown asks every connection to finish its in-flight requests and close.

use std::net::SocketAddr;
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
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::gateway::Gateway;
use crate::head_timeout::{HeadTimeoutIo, HeadTimeouts};
use crate::hello;
use crate::proxy::{self, ConnInfo};
use crate::proxy_protocol::{self, Rewind};
use crate::respond;

/// How long a keep-alive connection may sit idle between requests (nginx's default).
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(75);
/// How long a client has to finish a TLS handshake or send its PROXY header.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    connections: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        // Waiting for a permit first keeps excess connections in the kernel's backlog instead of
        // accepting and dropping them.
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
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
        let _ = stream.set_nodelay(true);
        let gw = gw.clone();
        let serves = listener.serves.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            gw.metrics.connections_open.inc();
            if let Err(why) = serve_connection(&gw, &serves, stream, peer, shutdown).await {
                gw.metrics.connections_refused.inc();
                tracing::debug!("connection from {peer} closed before HTTP: {why}");
            }
            gw.metrics.connections_open.dec();
            drop(permit);
        });
    }
}

async fn serve_connection(
    gw: &Arc<Gateway>,
    listener: &Serves,
    mut stream: TcpStream,
    peer: SocketAddr,
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
            serve_http(gw.clone(), io, info, listener.settings.h2c, shutdown).await;
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
            let info = ConnInfo {
                peer_ip,
                scheme: Scheme::Https,
                tls: Some(facts),
                head_signal: None,
            };
            serve_http(gw.clone(), tls, info, true, shutdown).await;
        }
    }
    Ok(())
}

/// Runs hyper over one connection until it ends or shutdown asks it to finish.
async fn serve_http<I>(
    gw: Arc<Gateway>,
    io: I,
    mut info: ConnInfo,
    allow_h2: bool,
    shutdown: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let rt = gw.runtime();
    let limits = &rt.config.server.limits;
    let head_timeout = limits.header_read_timeout;
    let on_timeout = {
        let gw = gw.clone();
        let peer_ip = info.peer_ip;
        Box::new(move || request_timeout_response(&gw, peer_ip, head_timeout))
            as Box<dyn FnOnce() -> Bytes + Send>
    };
    let (io, signal) = HeadTimeoutIo::new(
        io,
        HeadTimeouts {
            head: head_timeout,
            idle: KEEP_ALIVE_IDLE,
        },
        on_timeout,
    );
    info.head_signal = Some(signal);
    let info = Arc::new(info);
    let service = {
        let gw = gw.clone();
        service_fn(move |req| proxy::handle(gw.clone(), info.clone(), req))
    };

    // Room above the configured limits so that the handler, not hyper, answers with a receipt;
    // hyper's bare 431 remains for heads far beyond them.
    let head_buf = (limits.max_header_bytes * 2).max(16 * 1024) + 8 * 1024;
    let max_headers = limits.max_headers * 2 + 8;
    // Our own wrapper answers slow heads with a 408 receipt and closes idle connections; hyper's
    // timer would race it, so it is off.
    if allow_h2 {
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
        tokio::pin!(conn);
        tokio::select! {
            res = conn.as_mut() => log_end(res.err().map(|e| e.to_string())),
            _ = shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                log_end(conn.await.err().map(|e| e.to_string()));
            }
        }
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
        tokio::pin!(conn);
        tokio::select! {
            res = conn.as_mut() => log_end(res.err().map(|e| e.to_string())),
            _ = shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                log_end(conn.await.err().map(|e| e.to_string()));
            }
        }
    }
}

fn log_end(error: Option<String>) {
    if let Some(e) = error {
        tracing::debug!("connection ended with an error: {e}");
    }
}

/// The 408 answer for a request head that did not arrive in time; recorded like any receipt.
fn request_timeout_response(gw: &Gateway, peer_ip: std::net::IpAddr, timeout: Duration) -> Bytes {
    let rt = gw.runtime();
    let ray = RayId::new(rand::random(), rt.config.policy.node.clone());
    let mut receipt = Receipt::new(ray, SystemTime::now(), peer_ip, Code::RequestTimeout, PhaseName::Proxy)
        .reason(format!(
            "Your request's headers did not arrive within {} ms, so the gateway stopped waiting.",
            timeout.as_millis()
        ))
        .remedy("Check your network connection; a slow or lossy link, or a proxy that buffers requests, can cause this.")
        .remedy("Try again.");
    receipt.support = rt.config.policy.site.support.clone();
    gw.metrics
        .decisions
        .get_or_create(&crate::metrics::CodeLabels {
            code: receipt.code.as_str(),
        })
        .inc();
    // Nothing of the request is known but that it started; the event still carries the ray.
    let context = EventContext {
        method: String::new(),
        host: String::new(),
        path: String::new(),
        user_agent: None,
        route: None,
        action: Action::Deny,
        asn: None,
        country: None,
    };
    gw.events
        .record(EventRecord::from_receipt(&receipt, context, &[]));
    respond::raw_http1(&receipt, &rt.ray_header)
}
