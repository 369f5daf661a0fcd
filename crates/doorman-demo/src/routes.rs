//! Request routing and the small endpoints: health, the weather plugin and the `/debug/*` diagnostics, plus the
//! response helpers every handler shares. The chat API, the page and WebSocket live in their own modules.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Map, Value, json};

use crate::server::ConnCtx;
use crate::{chat, page, query, ws};

/// Every response body: boxed so that plain, empty and paced (streamed) bodies share one type.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Longest `/debug/sleep`: bounded so that a typo cannot pin a connection for days.
const MAX_SLEEP_MS: u64 = 600_000;
const MAX_DRIP_CHUNKS: u64 = 10_000;
const MAX_DRIP_INTERVAL_MS: u64 = 60_000;

/// Routes one request. Never fails: every problem is an HTTP answer.
pub(crate) async fn handle(req: Request<Incoming>, ctx: ConnCtx) -> Response<Body> {
    let method = req.method().clone();
    let is_get = method == Method::GET || method == Method::HEAD;
    let mut response = match req.uri().path() {
        "/" if is_get => page::response(),
        "/healthz" if is_get => text(StatusCode::OK, "ok"),
        // A page the demo's gateway guards with a challenge.
        "/members" if is_get => with_type(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from_static(b"<!doctype html><title>Members</title><h1>Members area</h1><p>You passed the gateway's challenge; your browser keeps a clearance cookie for a day.</p>"),
        ),
        // An operators-only page, for the demo's network allowlist: the gateway guards it.
        "/internal/stats" if is_get => text(
            StatusCode::OK,
            "internal stats: 3 conversations today, 0 errors (only the office network sees this)\n",
        ),
        // Browsers ask for it on every page view; an empty answer keeps the gateway's logs free of 404 noise.
        "/favicon.ico" if is_get => status_only(StatusCode::NO_CONTENT),
        "/v1/chat/completions" if method == Method::POST => chat::completions(req, &ctx).await,
        "/v1/chat/completions" => method_not_allowed("POST"),
        "/plugins/weather" if is_get => weather(req.uri().query()),
        "/login" if method == Method::POST => login(req).await,
        "/login" => method_not_allowed("POST"),
        "/ws/echo" if method == Method::GET => ws::echo(req, &ctx),
        "/debug/echo" => debug_echo(req, &ctx).await,
        "/debug/sleep" if is_get => debug_sleep(req.uri().query()).await,
        "/debug/status" if is_get => debug_status(req.uri().query()),
        "/debug/drip" if is_get => debug_drip(req.uri().query()),
        "/debug/reset" => {
            ctx.reset.notify_one();
            // The connection task drops this request's connection as soon as it sees the notification; until
            // then nothing must be written.
            std::future::pending::<Response<Body>>().await
        }
        "/" | "/healthz" | "/members" | "/internal/stats" | "/favicon.ico" | "/plugins/weather"
        | "/debug/sleep" | "/debug/status" | "/debug/drip" => method_not_allowed("GET, HEAD"),
        "/ws/echo" => method_not_allowed("GET"),
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such endpoint on the demo origin.",
            None,
        ),
    };
    if let Ok(name) = HeaderValue::from_str(&ctx.shared.options.name) {
        response.headers_mut().insert("x-demo-origin", name);
    }
    response
}

/// A plain-text answer.
pub(crate) fn text(status: StatusCode, body: &str) -> Response<Body> {
    with_type(
        status,
        "text/plain; charset=utf-8",
        Bytes::copy_from_slice(body.as_bytes()),
    )
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    with_type(status, "application/json", Bytes::from(body))
}

/// An OpenAI-style error object: `{"error": {"message", "type", "param", "code"}}`, the shape API clients of the
/// chat endpoint already know how to show; the other endpoints use it too so there is one error shape.
pub(crate) fn error(
    status: StatusCode,
    kind: &str,
    message: &str,
    param: Option<&str>,
) -> Response<Body> {
    json_response(
        status,
        &json!({
            "error": {
                "message": message,
                "type": kind,
                "param": param,
                "code": Value::Null,
            }
        }),
    )
}

pub(crate) fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body).boxed_unsync());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(crate) fn status_only(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Empty::new().boxed_unsync());
    *response.status_mut() = status;
    response
}

/// A body whose frames are produced one by one, each after its own delay, and handed to hyper the moment they
/// exist: nothing is buffered, so whoever reads the other end sees them arrive spaced in time.
pub(crate) fn paced(frames: Vec<(Duration, Bytes)>) -> Body {
    let stream = futures_util::stream::iter(frames).then(|(delay, data)| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<_, Infallible>(Frame::data(data))
    });
    StreamBody::new(stream).boxed_unsync()
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        &format!("This endpoint accepts {allow} only."),
        None,
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn bad_param(param: &str, message: &str) -> Response<Body> {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message,
        Some(param),
    )
}

/// Reads an optional integer parameter, falling back to `default` when absent and refusing values above `max`.
/// The error is the ready-made 400 answer naming the parameter.
fn int_param(
    query: Option<&str>,
    name: &str,
    default: Option<u64>,
    max: u64,
) -> Result<u64, Box<Response<Body>>> {
    let message = match query::param(query, name) {
        None => match default {
            Some(value) => return Ok(value),
            None => format!("The query parameter `{name}` is required."),
        },
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(value) if value <= max => return Ok(value),
            _ => format!("The query parameter `{name}` must be a whole number from 0 to {max}."),
        },
    };
    Err(Box::new(bad_param(name, &message)))
}

/// Made-up weather, the same for a city every time, so that tests and demos can rely on it.
fn weather(query: Option<&str>) -> Response<Body> {
    let city = query::param(query, "city")
        .map(|c| c.trim().to_owned())
        .unwrap_or_default();
    if city.is_empty() {
        return bad_param(
            "city",
            "The query parameter `city` is required, e.g. /plugins/weather?city=Lisbon.",
        );
    }
    let hash = fnv1a(city.to_lowercase().as_bytes());
    // Tenths of a degree from -10.0 to 35.0.
    let tenths = (hash % 451) as i64 - 100;
    let temperature_c = tenths as f64 / 10.0;
    const SKIES: [&str; 8] = [
        "clear",
        "partly cloudy",
        "overcast",
        "light rain",
        "showers",
        "thunderstorms",
        "fog",
        "windy",
    ];
    let mut conditions = SKIES[((hash >> 16) % SKIES.len() as u64) as usize];
    if temperature_c <= 0.0 && matches!(conditions, "light rain" | "showers" | "thunderstorms") {
        conditions = "snow";
    }
    let humidity_pct = 30 + (hash >> 32) % 66;
    json_response(
        StatusCode::OK,
        &json!({
            "city": city,
            "temperature_c": temperature_c,
            "conditions": conditions,
            "humidity_pct": humidity_pct,
            "source": "doorman-demo",
        }),
    )
}

/// FNV-1a: a fixed, documented hash, unlike std's `DefaultHasher`, whose output may change between Rust releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The demo account's password. The endpoint exists so the gateway's failed-login limit has
/// something to count: a wrong password is a 401 from the origin.
const DEMO_PASSWORD: &str = "demo";
/// The longest login body read.
const MAX_LOGIN_BODY: usize = 4096;

/// `POST /login` with a form (`user=…&password=…`) or JSON (`{"user":…,"password":…}`) body:
/// 200 with a made-up session for password `demo`, 401 otherwise.
async fn login(req: Request<Incoming>) -> Response<Body> {
    let mut body = req.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "The request body could not be read.",
                None,
            );
        };
        if let Some(data) = frame.data_ref() {
            bytes.extend_from_slice(data);
            if bytes.len() > MAX_LOGIN_BODY {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request_error",
                    "A login body is a few bytes.",
                    None,
                );
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let password = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("password").and_then(Value::as_str).map(str::to_owned))
        .or_else(|| crate::query::param(Some(&text), "password"));
    match password {
        Some(p) if p == DEMO_PASSWORD => json_response(
            StatusCode::OK,
            &json!({ "session": "demo-session", "user": crate::query::param(Some(&text), "user").unwrap_or_else(|| "demo".into()) }),
        ),
        Some(_) => error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Wrong user name or password.",
            None,
        ),
        None => error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Send user and password as a form or JSON.",
            Some("password"),
        ),
    }
}

/// What the origin received, so a gateway test can check what the proxy forwarded. The body is read to its end
/// and only counted, so an upload of any size streams through without being held in memory.
async fn debug_echo(req: Request<Incoming>, ctx: &ConnCtx) -> Response<Body> {
    let (parts, mut body) = req.into_parts();
    let mut body_bytes: u64 = 0;
    let mut trailers = Map::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    body_bytes += data.len() as u64;
                } else if let Some(more) = frame.trailers_ref() {
                    trailers.extend(headers_json(more));
                }
            }
            Err(err) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!("The request body could not be read: {err}"),
                    None,
                );
            }
        }
    }
    let uri = &parts.uri;
    json_response(
        StatusCode::OK,
        &json!({
            "origin": ctx.shared.options.name,
            "peer": ctx.peer.to_string(),
            "method": parts.method.as_str(),
            "uri": uri.path_and_query().map_or("/", |pq| pq.as_str()),
            "path": uri.path(),
            "query": uri.query(),
            // HTTP/2 carries the host in :authority, not in a Host header.
            "authority": uri.authority().map(|a| a.as_str()),
            "version": format!("{:?}", parts.version),
            "headers": headers_json(&parts.headers),
            "trailers": trailers,
            "body_bytes": body_bytes,
        }),
    )
}

/// Header name → every value in the order received. Names come lower-cased from hyper.
fn headers_json(headers: &HeaderMap) -> Map<String, Value> {
    headers
        .keys()
        .map(|name| {
            let values = headers
                .get_all(name)
                .iter()
                .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            (name.as_str().to_owned(), Value::Array(values))
        })
        .collect()
}

async fn debug_sleep(query: Option<&str>) -> Response<Body> {
    let ms = match int_param(query, "ms", None, MAX_SLEEP_MS) {
        Ok(ms) => ms,
        Err(response) => return *response,
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    json_response(StatusCode::OK, &json!({ "slept_ms": ms }))
}

fn debug_status(query: Option<&str>) -> Response<Body> {
    let code = match int_param(query, "code", None, 599) {
        Ok(code) => code,
        Err(response) => return *response,
    };
    // 1xx codes are not final answers, so a handler cannot send one.
    let Some(status) = u16::try_from(code)
        .ok()
        .filter(|c| *c >= 200)
        .and_then(|c| StatusCode::from_u16(c).ok())
    else {
        return bad_param(
            "code",
            "The query parameter `code` must be an HTTP status from 200 to 599.",
        );
    };
    match status {
        StatusCode::NO_CONTENT | StatusCode::RESET_CONTENT | StatusCode::NOT_MODIFIED => {
            status_only(status)
        }
        _ => text(status, &format!("status {}\n", status.as_u16())),
    }
}

fn debug_drip(query: Option<&str>) -> Response<Body> {
    let chunks = match int_param(query, "chunks", Some(5), MAX_DRIP_CHUNKS) {
        Ok(n) => n,
        Err(response) => return *response,
    };
    let interval_ms = match int_param(query, "interval_ms", Some(100), MAX_DRIP_INTERVAL_MS) {
        Ok(ms) => ms,
        Err(response) => return *response,
    };
    let interval = Duration::from_millis(interval_ms);
    let frames = (1..=chunks)
        .map(|i| {
            let delay = if i == 1 { Duration::ZERO } else { interval };
            (delay, Bytes::from(format!("chunk {i} of {chunks}\n")))
        })
        .collect();
    let mut response = Response::new(paced(frames));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::fnv1a;

    #[test]
    fn fnv1a_matches_published_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
