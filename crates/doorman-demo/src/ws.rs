//! `GET /ws/echo`: the WebSocket handshake on hyper's upgrade machinery, then an echo of every text and binary
//! message, so the gateway's tests can check that upgrades pass through the proxy in both directions.

use futures_util::{SinkExt, StreamExt};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::routes::{Body, status_only, text};
use crate::server::ConnCtx;

pub(crate) fn echo(mut req: Request<Incoming>, ctx: &ConnCtx) -> Response<Body> {
    let headers = req.headers();
    if !has_token(headers, header::UPGRADE, "websocket")
        || !has_token(headers, header::CONNECTION, "upgrade")
    {
        let mut response = text(
            StatusCode::UPGRADE_REQUIRED,
            "This endpoint speaks WebSocket only: connect with a ws:// client.\n",
        );
        response
            .headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return response;
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        // RFC 6455 §4.4: name the version this server speaks so the client can retry with it.
        let mut response = text(
            StatusCode::UPGRADE_REQUIRED,
            "Only WebSocket version 13 is supported.\n",
        );
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return response;
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return text(StatusCode::BAD_REQUEST, "Missing Sec-WebSocket-Key.\n");
    };
    let accept = derive_accept_key(key.as_bytes());
    let Ok(accept) = HeaderValue::from_str(&accept) else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not compute Sec-WebSocket-Accept.\n",
        );
    };

    let upgrade = hyper::upgrade::on(&mut req);
    let peer = ctx.peer;
    ctx.shared.spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                echo_messages(ws).await;
            }
            Err(error) => tracing::debug!(%peer, %error, "demo origin: WebSocket upgrade failed"),
        }
    });

    let mut response = status_only(StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

async fn echo_messages<S>(mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = ws.next().await {
        match message {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
            // Pings are answered and a close is acknowledged by tungstenite itself on the next read, which this
            // loop keeps doing until the stream ends.
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// Whether a comma-separated header (over all its lines) contains `token`, compared case-insensitively.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}
