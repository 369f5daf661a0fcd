//! `doorman trace`: what-if. Runs a described request through the very `decide` that live traffic
//! uses, with the policy compiled from a config file, and prints the decision, the receipt a
//! client would get, and the evaluation trace.
//!
//! The request file is JSON:
//! ```json
//! {"ip": "203.0.113.7", "method": "GET", "url": "https://chat.example/admin?x=1",
//!  "headers": {"user-agent": "curl/8.5", "accept": ["text/html"]},
//!  "cookies": {"session": "abc"}, "tls": {"version": "TLSv1.3", "sni": "chat.example"},
//!  "peer": "127.0.0.1", "time": "2026-11-22T21:44:11Z"}
//! ```
//! Only `url` is required. `ip` is the client as resolved; give `peer` (the socket peer) instead to
//! have trusted-proxy resolution applied to the request's X-Forwarded-For/Forwarded headers.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow, bail};
use doorman_core::canonical::{HostProblem, normalize_path, request_authority};
use doorman_core::decision::Verdict;
use doorman_core::{Decision, LogMode, Policy, RayId, RequestFacts, Scheme, TlsFacts, render};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};
use serde::Deserialize;
use serde_json::{Value, json};

/// Options of `doorman trace`.
#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// The TOML configuration file whose policy to run.
    #[arg(long, short)]
    pub config: PathBuf,
    /// JSON file describing the request (`-` for standard input).
    #[arg(long)]
    pub request: PathBuf,
    /// Print JSON for tools instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    ip: Option<IpAddr>,
    peer: Option<IpAddr>,
    #[serde(default = "default_method")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    cookies: BTreeMap<String, String>,
    tls: Option<TlsFile>,
    time: Option<String>,
    #[serde(default = "default_version")]
    version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    #[serde(default = "default_tls_version")]
    version: String,
    sni: Option<String>,
    alpn: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn default_method() -> String {
    "GET".into()
}
fn default_version() -> String {
    "HTTP/1.1".into()
}
fn default_tls_version() -> String {
    "TLSv1.3".into()
}

/// Runs `doorman trace`.
pub fn run(args: &TraceArgs) -> Result<ExitCode> {
    let loaded = match doorman_config::load(&args.config) {
        Ok(l) => l,
        Err(d) => {
            eprintln!("{d}");
            return Ok(ExitCode::from(2));
        }
    };
    let text = crate::read_input(&args.request)?;
    let req: RequestFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a request description (see `doorman trace --help`)",
            args.request.display()
        )
    })?;
    let policy = &loaded.config.policy;
    let traced = trace(&req, policy)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&traced.json)?);
    } else {
        print!("{}", traced.text);
    }
    Ok(ExitCode::SUCCESS)
}

struct Traced {
    text: String,
    json: Value,
}

fn trace(req: &RequestFile, policy: &Policy) -> Result<Traced> {
    let method = Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| anyhow!("method `{}` is not a valid HTTP method", req.method))?;
    let uri: Uri = req
        .url
        .parse()
        .map_err(|e| anyhow!("url `{}` is not a valid URL or path: {e}", req.url))?;
    let mut headers = HeaderMap::new();
    for (name, values) in &req.headers {
        let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| anyhow!("`{name}` is not a valid header name"))?;
        let values = match values {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(vs) => vs.clone(),
        };
        for v in values {
            headers.append(
                name.clone(),
                HeaderValue::from_str(&v)
                    .map_err(|_| anyhow!("header `{name}` has an invalid value"))?,
            );
        }
    }
    if !req.cookies.is_empty() {
        let cookie = req
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        headers.append(
            http::header::COOKIE,
            HeaderValue::from_str(&cookie).context("cookie value")?,
        );
    }
    if !headers.contains_key(http::header::HOST)
        && let Some(a) = uri.authority()
    {
        headers.insert(
            http::header::HOST,
            HeaderValue::from_str(a.as_str()).context("host")?,
        );
    }
    let (peer, client_ip) = match (req.peer, req.ip) {
        (Some(peer), _) => (
            peer,
            doorman_core::client_ip::resolve(peer, &headers, &policy.client_ip),
        ),
        (None, Some(ip)) => (ip, ip),
        (None, None) => bail!("the request needs `ip` (the client) or `peer` (the socket peer)"),
    };
    let now = match &req.time {
        Some(t) => doorman_common::when::parse_rfc3339(t)
            .map(doorman_common::when::from_unix_ms)
            .map_err(|e| anyhow!("time: {e}"))?,
        None => SystemTime::now(),
    };
    let version = match req.version.as_str() {
        "HTTP/1.0" => Version::HTTP_10,
        "HTTP/2" | "HTTP/2.0" => Version::HTTP_2,
        "HTTP/3" => Version::HTTP_3,
        _ => Version::HTTP_11,
    };
    let tls = req.tls.as_ref().map(|t| TlsFacts {
        version: t.version.clone(),
        sni: t.sni.clone(),
        alpn: t.alpn.clone(),
        ..TlsFacts::default()
    });
    let scheme = if tls.is_some() || uri.scheme_str() == Some("https") {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let tls = tls.or_else(|| {
        (scheme == Scheme::Https).then(|| TlsFacts {
            version: "TLSv1.3".into(),
            ..TlsFacts::default()
        })
    });
    // The same canonical view as live traffic; a description without any host is traced as a
    // request for no particular host, since only a live HTTP/1.1 request must name one.
    let host = match request_authority(&uri, &headers, version) {
        Ok(a) => a.host,
        Err(HostProblem::Missing) => "".into(),
        Err(HostProblem::Duplicate) => bail!("the request names the Host header twice"),
        Err(HostProblem::Invalid { value, why }) => bail!("host `{value}` is not valid: {why}"),
    };
    let normal = normalize_path(uri.path(), policy.paths.normalization);
    let ray = RayId::new(0, Arc::from("trace"));
    let facts = RequestFacts {
        ray_id: &ray,
        now,
        client_ip,
        peer_ip: peer,
        method: &method,
        uri: &uri,
        host,
        path: normal.path,
        path_problem: normal.problem,
        headers: &headers,
        version,
        scheme,
        tls: tls.as_ref(),
        auth: &doorman_core::auth::NO_AUTH,
        clearance: &doorman_core::clearance::NO_CLEARANCE,
        bot: None,
    };
    let decision = doorman_core::decide(&facts, policy);
    Ok(Traced {
        text: as_text(
            &decision,
            policy,
            client_ip,
            headers.get("accept").and_then(|v| v.to_str().ok()),
        ),
        json: as_json(&decision, policy, client_ip),
    })
}

fn route_name(decision: &Decision, policy: &Policy) -> Option<String> {
    decision.route.map(|i| policy.routes[i].name.clone())
}

fn as_text(
    decision: &Decision,
    policy: &Policy,
    client_ip: IpAddr,
    accept: Option<&str>,
) -> String {
    let mut out = String::new();
    let verdict = match &decision.verdict {
        Verdict::Allow(p) => format!("ALLOW → upstream `{}`", policy.upstreams[p.upstream()].name),
        Verdict::Deny(r) => format!(
            "DENY {} {} (phase {}, {})",
            r.status,
            r.code,
            r.phase.as_str(),
            r.rule.as_deref().unwrap_or("no rule")
        ),
    };
    out.push_str(&format!(
        "client   {client_ip}\nroute    {}\nverdict  {verdict}\n",
        route_name(decision, policy).unwrap_or_else(|| "-".into())
    ));
    out.push_str("\ntrace\n");
    for (i, step) in decision.trace.iter().enumerate() {
        out.push_str(&format!(
            "  {}. {:<13} {}\n",
            i + 1,
            step.phase.as_str(),
            step.outcome
        ));
    }
    for l in &decision.logged {
        let mode = match l.mode {
            LogMode::Log => "log",
            LogMode::Shadow => "shadow (would have answered)",
        };
        out.push_str(&format!(
            "\nrecorded, not enforced: {} {mode}: {} {}\n",
            l.receipt.rule.as_deref().unwrap_or("-"),
            l.receipt.status,
            l.receipt.code
        ));
    }
    if let Verdict::Deny(r) = &decision.verdict {
        out.push_str("\nwhat the client would see");
        if let Some(a) = accept {
            out.push_str(&format!(" (Accept: {a})"));
        }
        out.push_str(":\n\n");
        let rendered = render::render(r, Some("text/plain"));
        for line in rendered.body.lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
        if !r.private_facts.is_empty() {
            out.push_str("\noperator-only facts:\n");
            for (k, v) in &r.private_facts {
                out.push_str(&format!("  {k}: {v}\n"));
            }
        }
    }
    out
}

fn as_json(decision: &Decision, policy: &Policy, client_ip: IpAddr) -> Value {
    let receipt = decision.receipt().map(|r| {
        json!({
            "code": r.code.as_str(),
            "status": r.status,
            "phase": r.phase.as_str(),
            "rule": r.rule,
            "title": r.shown_title(),
            "reason": r.reason,
            "remedies": r.remedies,
            "disclosure": r.disclosure.as_str(),
            "facts": r.facts.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "private_facts": r.private_facts.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        })
    });
    json!({
        "client_ip": client_ip.to_string(),
        "verdict": if decision.receipt().is_some() { "deny" } else { "allow" },
        "route": route_name(decision, policy),
        "upstream": match &decision.verdict {
            Verdict::Allow(p) => Some(policy.upstreams[p.upstream()].name.clone()),
            Verdict::Deny(_) => None,
        },
        "receipt": receipt,
        "trace": decision.trace.iter().map(|s| json!({"phase": s.phase.as_str(), "outcome": s.outcome})).collect::<Vec<_>>(),
        "logged": decision.logged.iter().map(|l| json!({
            "mode": match l.mode { LogMode::Log => "log", LogMode::Shadow => "shadow" },
            "rule": l.receipt.rule,
            "code": l.receipt.code.as_str(),
            "status": l.receipt.status,
        })).collect::<Vec<_>>(),
    })
}
