//! The admin API's incident and maintenance endpoints: what `doorman incident` and
//! `doorman maintenance` do on the machine, for operators and tools that only reach the admin
//! listener. JSON in, JSON out; every refusal says which field is wrong and what it accepts.
//!
//! - `GET /admin/incidents`, `POST /admin/incidents` (`name`, `message`, `status`, `impact`,
//!   `components`), `POST /admin/incidents/{id}` (`status`, `message`, `impact`),
//!   `POST /admin/incidents/{id}/resolve` (`message`);
//! - `GET /admin/maintenances`, `POST /admin/maintenances` (`name`, `message`, `starts_at`,
//!   `ends_at` as RFC 3339, `components`).

use bytes::Bytes;
use doorman_status::{Impact, IncidentStatus, NewIncident, NewMaintenance, StatusError};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::body::ProxyBody;
use crate::status::{StatusService, now_ms};

/// Bodies larger than this are refused (an incident update is a paragraph).
const MAX_BODY: usize = 64 * 1024;

type Answer = Result<(StatusCode, Value), (StatusCode, String)>;

/// Answers `path` when it is one of these endpoints.
pub async fn route(
    status: Option<&StatusService>,
    method: &Method,
    path: &str,
    body: Incoming,
) -> Option<Response> {
    if !(path.starts_with("/admin/incidents") || path.starts_with("/admin/maintenances")) {
        return None;
    }
    let Some(status) = status else {
        return Some(reply(Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "the status database could not be opened when the gateway started; see its log\n"
                .into(),
        ))));
    };
    let answer = match (method, path) {
        (&Method::GET, "/admin/incidents") => list_incidents(status),
        (&Method::GET, "/admin/maintenances") => list_maintenances(status),
        (&Method::POST, _) => match read_json(body).await {
            Ok(v) => post(status, path, &v),
            Err(e) => Err(e),
        },
        _ => Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "use GET to list and POST to change\n".into(),
        )),
    };
    if answer.is_ok() {
        status.invalidate();
    }
    Some(reply(answer))
}

type Response = http::Response<ProxyBody>;

fn reply(answer: Answer) -> Response {
    let (code, body, ct) = match answer {
        Ok((code, v)) => (code, v.to_string() + "\n", "application/json"),
        Err((code, words)) => (code, words, "text/plain; charset=utf-8"),
    };
    let mut r = http::Response::new(crate::body::full(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(ct),
    );
    r
}

async fn read_json(body: Incoming) -> Result<Value, (StatusCode, String)> {
    let bytes = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {MAX_BODY} bytes\n"),
            )
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("the body is not a JSON object: {e}\n"),
        )
    })
}

fn post(status: &StatusService, path: &str, v: &Value) -> Answer {
    let store = status.store();
    let now = now_ms();
    if path == "/admin/incidents" {
        let new = NewIncident {
            name: required(v, "name")?,
            status: parsed(v, "status")?.unwrap_or(IncidentStatus::Investigating),
            impact: parsed(v, "impact")?.unwrap_or(Impact::Major),
            body: required(v, "message")?,
            components: strings(v, "components")?,
        };
        let i = store.open_incident(&new, now).map_err(refused)?;
        return Ok((StatusCode::CREATED, json!({ "incident": i })));
    }
    if path == "/admin/maintenances" {
        let new = NewMaintenance {
            name: required(v, "name")?,
            body: required(v, "message")?,
            scheduled_for_ms: time(v, "starts_at")?,
            scheduled_until_ms: time(v, "ends_at")?,
            components: strings(v, "components")?,
        };
        let m = store.schedule_maintenance(&new, now).map_err(refused)?;
        return Ok((StatusCode::CREATED, json!({ "maintenance": m })));
    }
    let rest = path
        .strip_prefix("/admin/incidents/")
        .ok_or_else(not_found)?;
    let (id, resolve) = match rest.strip_suffix("/resolve") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let i = if resolve {
        let message = optional(v, "message")?
            .unwrap_or_else(|| "This incident has been resolved.".to_owned());
        store.resolve_incident(id, &message, now).map_err(refused)?
    } else {
        let to: IncidentStatus = parsed(v, "status")?.ok_or_else(|| {
            bad("`status` is required: investigating, identified, monitoring or resolved")
        })?;
        store
            .update_incident(id, to, &required(v, "message")?, parsed(v, "impact")?, now)
            .map_err(refused)?
    };
    Ok((StatusCode::OK, json!({ "incident": i })))
}

fn list_incidents(status: &StatusService) -> Answer {
    let since = now_ms() - 30 * 86_400_000;
    let list = status.store().incidents(since, 100).map_err(refused)?;
    Ok((StatusCode::OK, json!({ "incidents": list })))
}

fn list_maintenances(status: &StatusService) -> Answer {
    let since = now_ms() - 30 * 86_400_000;
    let list = status.store().maintenances(since).map_err(refused)?;
    Ok((StatusCode::OK, json!({ "maintenances": list })))
}

fn bad(words: &str) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, format!("{words}\n"))
}

fn not_found() -> (StatusCode, String) {
    (
        StatusCode::NOT_FOUND,
        "incident endpoints: GET|POST /admin/incidents, POST /admin/incidents/{id}, POST /admin/incidents/{id}/resolve, GET|POST /admin/maintenances\n".into(),
    )
}

fn refused(e: StatusError) -> (StatusCode, String) {
    let code = match e {
        StatusError::UnknownIncident(_) | StatusError::UnknownMaintenance(_) => {
            StatusCode::NOT_FOUND
        }
        StatusError::UnknownComponent(_)
        | StatusError::InvalidValue { .. }
        | StatusError::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (code, format!("{e}\n"))
}

fn optional(v: &Value, key: &str) -> Result<Option<String>, (StatusCode, String)> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(&format!("`{key}` must be a string"))),
    }
}

fn required(v: &Value, key: &str) -> Result<String, (StatusCode, String)> {
    optional(v, key)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad(&format!("`{key}` is required (a non-empty string)")))
}

fn parsed<T: std::str::FromStr<Err = StatusError>>(
    v: &Value,
    key: &str,
) -> Result<Option<T>, (StatusCode, String)> {
    optional(v, key)?
        .map(|s| {
            s.parse()
                .map_err(|e: StatusError| bad(&format!("`{key}`: {e}")))
        })
        .transpose()
}

fn strings(v: &Value, key: &str) -> Result<Vec<String>, (StatusCode, String)> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(&format!("`{key}` must be a list of component ids")))
            })
            .collect(),
        Some(_) => Err(bad(&format!("`{key}` must be a list of component ids"))),
    }
}

fn time(v: &Value, key: &str) -> Result<i64, (StatusCode, String)> {
    let text = required(v, key)?;
    let at =
        doorman_common::when::parse_rfc3339(&text).map_err(|e| bad(&format!("`{key}`: {e}")))?;
    if at < 0 {
        return Err(bad(&format!("`{key}` is before 1970")));
    }
    Ok(at)
}
