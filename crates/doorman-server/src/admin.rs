//! The admin listener (127.0.0.1 by default): Prometheus `/metrics`, `POST /admin/reload`,
//! `GET /admin/status`, bans, the status page's incidents and maintenance (`status_admin`),
//! and an unauthenticated `/healthz` for liveness probes. Everything but
//! `/healthz` needs `Authorization: Bearer <token>`; the token is compared in constant time and
//! never logged.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use doorman_config::AdminToken as TokenSource;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ServerError;
use crate::body::{ProxyBody, full};
use crate::gateway::{Gateway, ReloadOutcome};

/// Reads the admin token, generating one (mode 0600) on first start when it lives in a file. The
/// file's path is absolute: the configuration resolved it.
pub fn load_token(source: &TokenSource) -> Result<String, ServerError> {
    match source {
        TokenSource::Env(var) => std::env::var(var).map_err(|_| ServerError::AdminToken {
            message: format!("environment variable {var} (admin.token_env) is not set"),
        }),
        TokenSource::File(path) => read_or_create_token(path),
    }
}

fn read_or_create_token(path: &PathBuf) -> Result<String, ServerError> {
    let err = |message: String| ServerError::AdminToken { message };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let token = text.trim().to_owned();
            if token.len() < 16 {
                return Err(err(format!(
                    "the admin token in {} is shorter than 16 characters; put a longer random one there or delete the file to have one generated",
                    path.display()
                )));
            }
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = hex::encode(rand::random::<[u8; 32]>());
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
            }
            write_private(path, &token)
                .map_err(|e| err(format!("cannot write {}: {e}", path.display())))?;
            tracing::info!("generated an admin token in {}", path.display());
            Ok(token)
        }
        Err(e) => Err(err(format!("cannot read {}: {e}", path.display()))),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}

/// Serves the admin API until shutdown.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    token: Arc<str>,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, _) = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
        };
        let gw = gw.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let gw = gw.clone();
                let token = token.clone();
                async move { Ok::<_, Infallible>(route(&gw, &token, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn authorized(req: &Request<Incoming>, token: &str) -> bool {
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(given) = value.strip_prefix("Bearer ").map(str::trim) else {
        return false;
    };
    given.len() == token.len() && bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<ProxyBody> {
    let mut r = Response::new(full(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn route(gw: &Gateway, token: &str, req: Request<Incoming>) -> Response<ProxyBody> {
    if req.uri().path() == "/healthz" {
        return text(StatusCode::OK, "ok\n");
    }
    if !authorized(&req, token) {
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "The admin API needs `Authorization: Bearer <token>`; the token is in the file named by admin.token_file (default: <data_dir>/admin.token).\n",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"doorman-admin\""),
        );
        return r;
    }
    if req.uri().path().starts_with("/admin/incidents")
        || req.uri().path().starts_with("/admin/maintenances")
    {
        let (parts, body) = req.into_parts();
        if let Some(r) =
            crate::status_admin::route(gw.status.as_deref(), &parts.method, parts.uri.path(), body)
                .await
        {
            return r;
        }
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let accept: Vec<&str> = req
                .headers()
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            let format = crate::metrics::Format::negotiate(&accept.join(","));
            let mut r = text(StatusCode::OK, crate::metrics::scrape(gw, format));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            r
        }
        (&Method::POST, "/admin/reload") => match gw.reload() {
            ReloadOutcome::Applied {
                routes,
                upstreams,
                restart_needed,
            } => {
                let mut msg = format!("reloaded: {routes} routes, {upstreams} upstreams\n");
                for what in restart_needed {
                    msg.push_str(&format!(
                        "note: {what} changed; it takes effect after a restart\n"
                    ));
                }
                text(StatusCode::OK, msg)
            }
            ReloadOutcome::Rejected(why) => text(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("reload rejected; the running configuration stays in force:\n{why}"),
            ),
            ReloadOutcome::NoFile => text(
                StatusCode::CONFLICT,
                "this server was not started from a file\n",
            ),
        },
        (&Method::GET, "/admin/status") => {
            let rt = gw.runtime();
            let c = gw.events.stats();
            let body = json!({
                "node": rt.config.policy.node.as_ref(),
                "config_file": gw.config_path().map(|p| p.display().to_string()),
                "loaded_at": doorman_common::when::rfc3339(doorman_common::when::unix_ms(rt.loaded_at)),
                "routes": rt.config.policy.routes.iter().map(|r| &r.name).collect::<Vec<_>>(),
                "upstreams": rt.config.policy.upstreams.iter().map(|u| &u.name).collect::<Vec<_>>(),
                "event_log": { "recorded": c.recorded, "dropped": c.dropped, "write_errors": c.write_errors },
                "rate_limit": {
                    "backend": if gw.limiter.is_shared() { "redis" } else { "local" },
                    "tracked_keys": gw.limiter.stats().tracked_keys,
                    "redis_down": gw.limiter.stats().redis_down,
                    "bans": gw.limiter.bans(std::time::SystemTime::now()).len(),
                },
            });
            json_response(StatusCode::OK, &body)
        }
        (&Method::GET, "/admin/bans") => {
            let bans: Vec<_> = gw
                .limiter
                .bans(std::time::SystemTime::now())
                .iter()
                .map(|b| b.to_json())
                .collect();
            json_response(StatusCode::OK, &json!({ "bans": bans }))
        }
        (&Method::POST, "/admin/bans/lift") => {
            let query = req.uri().query().unwrap_or("");
            let param = |name: &str| {
                query.split('&').find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    (k == name).then(|| crate::headers::percent_decode(v))
                })
            };
            let Some(target) = param("key").filter(|k| !k.is_empty()) else {
                return text(
                    StatusCode::BAD_REQUEST,
                    "say which ban to lift: POST /admin/bans/lift?key=<16 hex digits, or the IP/value shown by GET /admin/bans>[&rule=<rule id>]\n",
                );
            };
            let rule = param("rule");
            let lifted = gw
                .limiter
                .lift(&target, rule.as_deref(), std::time::SystemTime::now())
                .await;
            if lifted.is_empty() {
                return text(
                    StatusCode::NOT_FOUND,
                    format!("no ban in force matches `{target}`; GET /admin/bans lists them\n"),
                );
            }
            for b in &lifted {
                tracing::info!(target: "doorman::rate_limit", rule = %b.rule, "ban on {} {} lifted by the admin API", b.kind, b.shown);
            }
            let lifted: Vec<_> = lifted.iter().map(|b| b.to_json()).collect();
            json_response(StatusCode::OK, &json!({ "lifted": lifted }))
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "admin endpoints: GET /metrics, GET /admin/status, POST /admin/reload, GET /admin/bans, POST /admin/bans/lift?key=…, GET|POST /admin/incidents, POST /admin/incidents/{id}[/resolve], GET|POST /admin/maintenances, GET /healthz\n",
        ),
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<ProxyBody> {
    let mut r = text(status, body.to_string());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
