//! One HTTP request on a connection of its own, bounded in time and size, and the HTTP step:
//! status, Doorman's headers and, when the gateway refused, its receipt (RFC 9457 JSON, asked for
//! with `Accept: application/json`).
//!
//! Each request gets a fresh connection (the first reuses the one the TCP and TLS steps made):
//! a site may close after one answer, and a handful of requests are not worth a connection pool.
//! The body is read up to 256 KiB: enough for any receipt, trace or status summary, never a
//! download. [`get_url`] reaches another host (a status page) the same way a browser would:
//! the system resolver, then the TCP and TLS steps' own code, so its failures read the same.
//!
//! Requests to the site carry one header set — the doctor's own, a current Chrome's
//! (`--browser`) or a browser's copied into a file — so that a bot check's verdict can be told
//! apart: one about the doctor's own headers is not about the person's browser, and the HTTP
//! step says so instead of repeating advice meant for scripts.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ::http::header::{self, HeaderMap};
use ::http::{Request, StatusCode, Version};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::cloudflare;
use crate::target::{Scheme, Target};
use crate::{HeaderSet, Options, Step, Timeouts, clock, tcp, tls};

/// The most of a body the doctor reads.
const MAX_BODY: usize = 256 * 1024;

/// Headers that carry a Ray ID: Doorman's, and Cloudflare's for sites behind it.
const RAY_HEADERS: [&str; 2] = ["doorman-ray", "cf-ray"];

/// A byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) fn boxed(io: impl Io + 'static) -> Box<dyn Io> {
    Box::new(io)
}

/// Opens connections to the address the TCP step chose, with TLS when the URL is https.
pub(crate) struct Connector {
    addr: SocketAddr,
    tls: Option<tls::Params>,
    connect_timeout: Duration,
    tls_timeout: Duration,
    request_timeout: Duration,
}

impl Connector {
    pub(crate) fn new(addr: SocketAddr, tls: Option<tls::Params>, t: &Timeouts) -> Connector {
        Connector {
            addr,
            tls,
            connect_timeout: t.connect,
            tls_timeout: t.tls,
            request_timeout: t.request,
        }
    }

    async fn open(&self) -> Result<(Box<dyn Io>, bool), FetchError> {
        let stream =
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(self.addr)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    return Err(FetchError::new(format!(
                        "connecting to {} again failed: {e}",
                        self.addr
                    )));
                }
                Err(_) => {
                    return Err(FetchError::new(format!(
                        "connecting to {} again timed out",
                        self.addr
                    )));
                }
            };
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => Ok((boxed(stream), false)),
            Some(params) => match tls::connect(stream, params, self.tls_timeout).await {
                Ok((io, h2)) => Ok((boxed(io), h2)),
                Err(e) => Err(FetchError::new(format!(
                    "TLS handshake failed this time: {e}"
                ))),
            },
        }
    }

    /// A GET on a new connection.
    pub(crate) async fn get(
        &self,
        t: &Target,
        path: &str,
        headers: &[(String, String)],
        skew_ms: i64,
    ) -> Result<Fetched, FetchError> {
        let (io, h2) = self.open().await?;
        fetch(io, h2, t, path, headers, self.request_timeout, skew_ms).await
    }
}

/// What a page load of a current desktop Chrome sends (Chrome 148 on Windows), in Chrome's
/// order: what `--browser` sends so that a site's bot checks judge a browser's request, not the
/// doctor's. Taken from a capture of Chromium 148's page load
/// (crates/doorman-botcheck/tests/fixtures/headers/chromium-148-navigate.txt) with Google
/// Chrome's brand list and the Windows platform. Left out: `Host` and `Connection`, which belong
/// to the connection, and `Accept-Encoding`: the doctor reads answers as they come, and a
/// compressed one would hide a receipt or an error page (no check of Doorman's reads it).
pub const BROWSER_HEADERS: [(&str, &str); 11] = [
    (
        "sec-ch-ua",
        r#""Not/A)Brand";v="99", "Google Chrome";v="148", "Chromium";v="148""#,
    ),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", r#""Windows""#),
    ("upgrade-insecure-requests", "1"),
    (
        "user-agent",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36",
    ),
    (
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    ),
    ("sec-fetch-site", "none"),
    ("sec-fetch-mode", "navigate"),
    ("sec-fetch-user", "?1"),
    ("sec-fetch-dest", "document"),
    ("accept-language", "en-US,en;q=0.9"),
];

/// The browser [`BROWSER_HEADERS`] plays, for the report.
pub(crate) const BROWSER_NAME: &str = "Chrome 148 on Windows";

/// The doctor's own User-Agent.
pub(crate) fn doctor_agent() -> String {
    format!("doorman-doctor/{}", env!("CARGO_PKG_VERSION"))
}

/// The headers of a request to the site: the header set (the doctor's own, a browser's, or a
/// copied one), the key when one was given, then `-H`. An `-H` header replaces one of the same
/// name (in any case) instead of adding a second: two User-Agents would have the site judge the
/// first, the doctor's, whatever the person asked for. With `json_answer`, `Accept` asks for
/// JSON whatever the set says: the trace and whoami endpoints, and the second look at a
/// refusal that came as a page, are the doctor's own questions.
pub(crate) fn headers(opts: &Options, json_answer: bool) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = match &opts.header_set {
        HeaderSet::Doctor => plain_headers("application/json"),
        HeaderSet::Browser => BROWSER_HEADERS
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        HeaderSet::Copied { headers, .. } => headers.clone(),
    };
    let mut ours = Vec::new();
    if let Some(key) = &opts.api_key {
        ours.push(("authorization".to_owned(), format!("Bearer {key}")));
    }
    overlay(&mut h, &ours);
    // Only to the site itself, like the key: `--header 'X-Forwarded-For: …'` lets a person play
    // a client behind a proxy the site trusts.
    overlay(&mut h, &opts.extra_headers);
    if json_answer {
        overlay(
            &mut h,
            &[("accept".to_owned(), "application/json".to_owned())],
        );
    }
    h
}

/// Puts `extra` over `base`: the first header of a name `base` has takes that header's place
/// (and any other of that name in `base` goes); the rest are added at the end.
fn overlay(base: &mut Vec<(String, String)>, extra: &[(String, String)]) {
    // (name, value, still the set's own: not yet replaced)
    let mut entries: Vec<(String, String, bool)> =
        base.drain(..).map(|(n, v)| (n, v, true)).collect();
    for (name, value) in extra {
        let name = name.to_ascii_lowercase();
        let same = |n: &str| n.eq_ignore_ascii_case(&name);
        match entries.iter().position(|(n, _, own)| *own && same(n)) {
            Some(i) => {
                entries[i] = (name.clone(), value.clone(), false);
                entries.retain(|(n, _, own)| !(*own && same(n)));
            }
            None => entries.push((name.clone(), value.clone(), false)),
        }
    }
    base.extend(entries.into_iter().map(|(n, v, _)| (n, v)));
}

/// Headers for requests that have no business with the key: the status page (another host, or
/// a page that needs none) and Cloudflare's trace.
pub(crate) fn plain_headers(accept: &str) -> Vec<(String, String)> {
    vec![
        ("user-agent".into(), doctor_agent()),
        ("accept".into(), accept.to_owned()),
    ]
}

/// How many redirects [`get_url`] follows (a status page moved to https, or to a new name).
const MAX_REDIRECTS: usize = 3;

/// A GET of an absolute URL on a connection of its own: system resolver, TCP, TLS with the
/// same roots as the TLS step (and `--ca-file`), redirects followed.
pub(crate) async fn get_url(
    url: &str,
    opts: &Options,
    headers: &[(String, String)],
) -> Result<Fetched, FetchError> {
    let mut url = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let t = Target::parse(&url).map_err(|e| FetchError::new(e.to_string()))?;
        let (io, h2) = open_fresh(&t, opts).await?;
        let f = fetch(
            io,
            h2,
            &t,
            &t.path,
            headers,
            opts.timeouts.request,
            opts.clock_skew_ms,
        )
        .await?;
        match f.header("location").filter(|_| f.status.is_redirection()) {
            Some(loc) if loc.starts_with("http://") || loc.starts_with("https://") => {
                url = loc.to_owned();
            }
            Some(loc) if loc.starts_with('/') && !loc.starts_with("//") => url = t.url_of(loc),
            _ => return Ok(f),
        }
    }
    Err(FetchError::new(format!(
        "more than {MAX_REDIRECTS} redirects (the last to {url})"
    )))
}

/// A connection to another host, by the same means as the steps use for the target.
async fn open_fresh(t: &Target, opts: &Options) -> Result<(Box<dyn Io>, bool), FetchError> {
    let addrs: Vec<IpAddr> = match t.ip() {
        Some(ip) => vec![ip],
        None => {
            let lookup = tokio::net::lookup_host((t.host.as_str(), t.port));
            let found = match tokio::time::timeout(opts.timeouts.lookup, lookup).await {
                Ok(Ok(addrs)) => addrs,
                Ok(Err(e)) => {
                    return Err(FetchError::new(format!(
                        "{} does not resolve ({e})",
                        t.host
                    )));
                }
                Err(_) => {
                    return Err(FetchError::new(format!(
                        "looking up {} took more than {:.0} s",
                        t.host,
                        opts.timeouts.lookup.as_secs_f64()
                    )));
                }
            };
            let mut ips = Vec::new();
            for a in found {
                if !ips.contains(&a.ip()) {
                    ips.push(a.ip());
                }
            }
            ips
        }
    };
    if addrs.is_empty() {
        return Err(FetchError::new(format!("{} has no address", t.host)));
    }
    let (step, conn) = tcp::step(&addrs, &t.host, t.port, opts.timeouts.connect).await;
    let Some((stream, _)) = conn else {
        let why = step
            .facts
            .iter()
            .map(|(addr, what)| format!("{addr}: {what}"))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(FetchError::new(format!(
            "could not connect to {} ({why})",
            t.authority()
        )));
    };
    match t.scheme {
        Scheme::Http => Ok((boxed(stream), false)),
        Scheme::Https => {
            let (step, out) = tls::step(
                stream,
                t,
                &opts.extra_roots,
                opts.clock_skew_ms,
                opts.timeouts.tls,
            )
            .await;
            match out {
                Some((io, _, h2)) => Ok((io, h2)),
                None => Err(FetchError::new(format!(
                    "TLS with {} failed: {}",
                    t.host,
                    step.fact_value("error").unwrap_or("no reason given")
                ))),
            }
        }
    }
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body was longer than the doctor reads, or did not finish in time.
    pub truncated: bool,
    /// Local time (skew applied) when the request was sent, ms since the epoch.
    pub sent_ms: i64,
    /// From sending the request to the answer's head.
    pub rtt: Duration,
}

impl Fetched {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, when it says it is JSON and parses.
    pub(crate) fn json(&self) -> Option<Value> {
        let ct = self.header("content-type").unwrap_or("");
        if !ct.contains("json") {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }
}

/// A request that got no answer: what happened and the fix.
#[derive(Debug, Clone)]
pub(crate) struct FetchError {
    pub what: String,
    pub fix: Option<String>,
}

impl FetchError {
    pub(crate) fn new(what: String) -> FetchError {
        FetchError { what, fix: None }
    }
}

/// Aborts the connection's driver task when the request is done with.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One GET on `io`; never longer than `timeout` in total.
pub(crate) async fn fetch(
    io: Box<dyn Io>,
    h2: bool,
    t: &Target,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
    skew_ms: i64,
) -> Result<Fetched, FetchError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let secs = timeout.as_secs_f64();
    // HTTP/2 carries the authority in the request; HTTP/1.1 in the Host header.
    let uri = if h2 {
        format!("{}://{}{path}", t.scheme.as_str(), t.authority())
    } else {
        path.to_owned()
    };
    let mut builder = Request::get(uri);
    if !h2 {
        builder = builder.header(header::HOST, t.authority());
    }
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let req = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| FetchError::new(format!("could not build the request: {e}")))?;

    let io = TokioIo::new(io);
    let sent_ms = clock::now_ms(skew_ms);
    let start = Instant::now();
    let exchange = async {
        if h2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
            let driver = AbortOnDrop(tokio::spawn(async move {
                let _ = conn.await;
            }));
            Ok::<_, hyper::Error>((sender.send_request(req).await?, driver))
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
            let driver = AbortOnDrop(tokio::spawn(async move {
                let _ = conn.await;
            }));
            Ok((sender.send_request(req).await?, driver))
        }
    };
    let (resp, _driver) = match tokio::time::timeout_at(deadline, exchange).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(hyper_failure(&e, t)),
        Err(_) => {
            return Err(FetchError {
                what: format!("no answer within {secs:.0} s"),
                fix: Some(
                    "the site (or the server behind its gateway) is slow or stuck: try again later, and check the site's status page".to_owned(),
                ),
            });
        }
    };
    let rtt = start.elapsed();
    let (parts, mut body) = resp.into_parts();
    let mut buf = Vec::new();
    let mut truncated = false;
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(None) => break,
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    let room = MAX_BODY - buf.len();
                    if data.len() > room {
                        buf.extend_from_slice(&data[..room]);
                        truncated = true;
                        break;
                    }
                    buf.extend_from_slice(&data);
                }
            }
            // The head arrived; a body cut short or too slow still leaves something to report.
            Ok(Some(Err(_))) | Err(_) => {
                truncated = true;
                break;
            }
        }
    }
    Ok(Fetched {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body: buf,
        truncated,
        sent_ms,
        rtt,
    })
}

fn hyper_failure(e: &hyper::Error, t: &Target) -> FetchError {
    let other_scheme = match t.scheme {
        Scheme::Http => "https",
        Scheme::Https => "http",
    };
    if e.is_parse() || e.is_parse_status() {
        FetchError {
            what: format!("the answer is not HTTP ({e})"),
            fix: Some(match t.scheme {
                Scheme::Http => format!(
                    "this port seems to speak TLS: use {}",
                    t.url_of(&t.path).replacen("http://", "https://", 1)
                ),
                Scheme::Https => {
                    "the server answered something other than HTTP inside TLS: check the port"
                        .to_owned()
                }
            }),
        }
    } else if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        FetchError {
            what: "the server closed the connection without answering".to_owned(),
            fix: Some(format!(
                "if this port speaks {other_scheme}, use {other_scheme}://; otherwise the server, or something between you and it, dropped the request"
            )),
        }
    } else {
        FetchError::new(format!("the request failed: {e}"))
    }
}

/// The Ray IDs an answer carries (headers only; the trace adds its own).
pub(crate) fn ray_ids(f: &Fetched) -> Vec<String> {
    RAY_HEADERS
        .iter()
        .filter_map(|h| f.header(h))
        .map(str::to_owned)
        .collect()
}

/// A Doorman receipt, from its RFC 9457 JSON.
#[derive(Debug, Default, Clone)]
pub(crate) struct Receipt {
    pub code: String,
    pub title: String,
    pub detail: String,
    pub remedies: Vec<String>,
    pub support: Option<String>,
}

/// The receipt in an answer, when it carries one.
pub(crate) fn receipt(f: &Fetched) -> Option<Receipt> {
    let v = f.json()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let is_doorman = s("type").is_some_and(|t| t.starts_with("urn:doorman:error:"))
        || f.header("doorman-code").is_some();
    if !is_doorman {
        return None;
    }
    Some(Receipt {
        code: s("code").or_else(|| f.header("doorman-code").map(str::to_owned))?,
        title: s("title").unwrap_or_default(),
        detail: s("detail").unwrap_or_default(),
        remedies: v
            .get("remedies")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        support: s("support"),
    })
}

pub(crate) fn version_word(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// What the other steps learned that changes the HTTP step's words.
#[derive(Debug, Default)]
pub(crate) struct Hints<'a> {
    /// The gateway's suggestion for a path it has no route for (`verdict.did_you_mean`).
    pub did_you_mean: Option<&'a str>,
    /// Cloudflare's trace, when the site is behind Cloudflare (the IP and WARP it saw).
    pub cf_trace: Option<&'a cloudflare::CfTrace>,
    /// The status page to follow, when one is known.
    pub status_page: Option<&'a str>,
    /// What the request was, in words (which headers it carried).
    pub request: Option<String>,
    /// When the requests carried the doctor's own headers (not a browser's), those headers in
    /// words: a bot check's refusal is then about the doctor, not the person's browser.
    pub own_headers: Option<String>,
    /// The gateway's refusal read again as JSON, when it came as a page (a browser's Accept).
    pub json_receipt: Option<&'a Receipt>,
}

/// With the doctor's own header set, what identifies it to a bot check, as sent (`-H` may have
/// replaced either): `User-Agent: doorman-doctor/0.1.0, Accept: application/json`.
pub(crate) fn own_headers(opts: &Options) -> Option<String> {
    if !opts.header_set.is_doctor() {
        return None;
    }
    let sent = headers(opts, false);
    let value = |name: &str| {
        sent.iter()
            .find(|(n, _)| n == name)
            .map_or("none", |(_, v)| v.as_str())
    };
    Some(format!(
        "User-Agent: {}, Accept: {}",
        value("user-agent"),
        value("accept")
    ))
}

/// The main request in words: the path, and whose headers it carried (never a value that may
/// be secret: the key, a cookie).
pub(crate) fn describe_request(opts: &Options, path: &str) -> String {
    let mut out = match &opts.header_set {
        HeaderSet::Doctor => format!(
            "GET {path} with the doctor's own headers ({})",
            own_headers(opts).unwrap_or_default()
        ),
        HeaderSet::Browser => {
            format!("GET {path} with a browser's headers (--browser: {BROWSER_NAME})")
        }
        HeaderSet::Copied {
            from,
            headers,
            left_out,
        } => format!(
            "GET {path} with your browser's headers from {from} ({} header{}{})",
            headers.len(),
            if headers.len() == 1 { "" } else { "s" },
            if left_out.is_empty() {
                String::new()
            } else {
                format!("; not sent: {}", left_out.join(", "))
            }
        ),
    };
    if opts.api_key.is_some() {
        out.push_str(", Authorization: Bearer <your key>");
    }
    if !opts.extra_headers.is_empty() {
        let names: Vec<&str> = opts.extra_headers.iter().map(|(n, _)| n.as_str()).collect();
        out.push_str(&format!(", -H {}", names.join(", ")));
    }
    out
}

/// Whether a refusal is a bot check's judgement of the client's headers: Doorman's 1010, or
/// words that name the doctor's own User-Agent.
fn judges_headers(r: &Receipt) -> bool {
    let agent = doctor_agent();
    r.code == "1010" || r.detail.contains(&agent) || r.remedies.iter().any(|x| x.contains(&agent))
}

/// The fix for a bot check's refusal of the doctor's own request: the gateway's advice (use a
/// browser, ask for API access) would be wrong for a person whose browser is what fails.
fn about_the_doctor(own_headers: &str) -> String {
    format!(
        "This refusal is about the doctor's own request, not your browser: the site's bot check judged the doctor's headers ({own_headers}), which are not a browser's, so your browser may well pass. To check what your browser gets, run the doctor again with --browser (a current Chrome's headers), or with --headers-from FILE holding your browser's request headers (developer tools, Network tab: right-click the page's request, Copy request headers)."
    )
}

/// The HTTP step from the main request's outcome.
pub(crate) fn step(
    main: &Result<Fetched, FetchError>,
    t: &Target,
    sent_key: bool,
    hints: &Hints,
) -> Step {
    let mut step = Step::new("http");
    step.fact(
        "request",
        hints.request.clone().unwrap_or_else(|| {
            format!(
                "GET {} (Accept: application/json{})",
                t.path,
                if sent_key {
                    ", Authorization: Bearer <your key>"
                } else {
                    ""
                }
            )
        }),
    );
    let f = match main {
        Ok(f) => f,
        Err(e) => {
            step.fact("error", e.what.clone());
            step.fail(e.fix.clone().unwrap_or_else(|| {
                "the connection works but the request did not: try again, and if it persists, contact the site's support".to_owned()
            }));
            return step;
        }
    };
    let status = f.status;
    step.fact(
        "status",
        format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_owned(),
    );
    step.fact("protocol", version_word(f.version));
    step.fact("answered in", clock::elapsed(f.rtt));
    for name in [
        "server",
        "content-type",
        "doorman-ray",
        "cf-ray",
        "doorman-code",
        "doorman-mitigated",
        "retry-after",
        "ratelimit-policy",
        "ratelimit",
        "www-authenticate",
        "location",
    ] {
        if let Some(v) = f.header(name) {
            step.fact(name, v);
        }
    }
    if f.truncated {
        step.fact(
            "body",
            format!(
                "read only the first {} bytes (too long or too slow)",
                f.body.len()
            ),
        );
    }
    let ray = f.header("doorman-ray").or_else(|| f.header("cf-ray"));
    let receipt = receipt(f).or_else(|| {
        let again = hints.json_receipt?;
        // Only the same refusal: a second answer for another reason would explain nothing.
        (f.header("doorman-code") == Some(again.code.as_str())).then(|| {
            step.fact(
                "read as JSON",
                "the refusal came as a page; the same request with Accept: application/json gave its words",
            );
            again.clone()
        })
    });
    let cf_error = cloudflare::error_page(f);
    if let Some(e) = &cf_error {
        step.fact("cloudflare error", cloudflare::describe(e));
        if let Some(r) = &e.ray
            && ray.is_none_or(|h| !h.starts_with(r.as_str()))
        {
            step.fact("ray id (page)", r.clone());
        }
    }
    if let Some(r) = &receipt {
        step.fact("receipt", format!("{} ({})", r.title, r.code));
        if !r.detail.is_empty() {
            step.fact("detail", r.detail.clone());
        }
        for (i, remedy) in r.remedies.iter().enumerate() {
            step.fact(format!("remedy {}", i + 1), remedy.clone());
        }
        if let Some(s) = &r.support {
            step.fact("support", s.clone());
        }
    }

    if status.is_redirection() {
        if let Some(loc) = f.header("location")
            && t.scheme == Scheme::Http
            && loc.starts_with("https://")
        {
            step.warn(Some(format!(
                "the site sends http:// visitors to https://: use {loc}"
            )));
        }
        return step;
    }
    if status.is_success() || status.is_informational() {
        return step;
    }
    if let Some(e) = &cf_error {
        // Cloudflare's pages carry their own Ray ID; the fix quotes it.
        let cx = cloudflare::Context {
            trace: hints.cf_trace,
            retry_after: f.header("retry-after"),
            host_is_ip: t.ip().is_some(),
            status_page: hints.status_page,
            own_headers: hints.own_headers.is_some(),
        };
        step.fail(cloudflare::fix(e, &cx));
        return step;
    }
    let did_you_mean = hints
        .did_you_mean
        .filter(|_| status == StatusCode::NOT_FOUND);
    let judged = receipt.as_ref().filter(|r| judges_headers(r));
    let mut fix = match (&receipt, did_you_mean) {
        (_, Some(better)) => format!(
            "path {} not found; did you mean {better}?",
            t.path.split('?').next().unwrap_or(&t.path)
        ),
        // The gateway's remedies speak to whoever sent these headers: here the doctor.
        (Some(_), None) if judged.is_some() && hints.own_headers.is_some() => {
            about_the_doctor(hints.own_headers.as_deref().unwrap_or_default())
        }
        (Some(r), None) if judged.is_some() && t.scheme == Scheme::Https => format!(
            "{} {} The doctor sent a browser's headers, but over its own encrypted connection (TLS), which is not your browser's: a reason about the connection concerns the doctor, not your browser.",
            sentence(&r.detail),
            r.remedies.join(" ")
        ),
        // The cause first, then what to do: remedies alone ("send the Ray ID to support")
        // would hide why.
        (Some(r), None) if !r.remedies.is_empty() && !r.detail.is_empty() => {
            format!("{} {}", sentence(&r.detail), r.remedies.join(" "))
        }
        (Some(r), None) if !r.remedies.is_empty() => r.remedies.join(" "),
        (Some(r), None) if !r.detail.is_empty() => r.detail.clone(),
        _ => generic_fix(status, f, t, sent_key, hints.status_page),
    };
    if let Some(ray) = ray {
        // Fixes are sentences or clauses; the Ray ID sentence must not run into a clause.
        if !fix.trim_end().ends_with(['.', '!', '?']) {
            fix.push('.');
        }
        fix.push_str(&format!(
            " If you contact the site's support, quote Ray ID {ray}."
        ));
    }
    step.fail(fix);
    step
}

fn generic_fix(
    status: StatusCode,
    f: &Fetched,
    t: &Target,
    sent_key: bool,
    status_page: Option<&str>,
) -> String {
    let status_page = status_page.map_or_else(
        || "the site's status page".to_owned(),
        |url| format!("the site's status page ({url})"),
    );
    match status.as_u16() {
        401 if !sent_key => {
            "the site wants credentials: give your API key with --api-key to check it".to_owned()
        }
        401 => "the site did not accept your credentials (see the Credential step)".to_owned(),
        403 => "the site refuses this request; ask its operator why".to_owned(),
        404 => format!(
            "there is nothing at {} on this site: check the path (a missing or extra letter, a plural, a trailing /)",
            t.path
        ),
        405 => "the site does not accept GET on this path".to_owned(),
        408 => "the request took too long to arrive: check your connection".to_owned(),
        429 => match f.header("retry-after") {
            Some(s) => format!("too many requests: wait {s} s before trying again, and slow down"),
            None => {
                "too many requests: wait a little before trying again, and slow down".to_owned()
            }
        },
        502..=504 => format!(
            "the site's server (or the service behind its gateway) is down or failing: try again later and check {status_page}"
        ),
        s if s >= 500 => format!(
            "the site has an internal problem: try again later and check {status_page}; if it persists, tell the site's support"
        ),
        _ => format!("the site answered {status}: check the URL"),
    }
}

/// `text` ending with a full stop.
fn sentence(text: &str) -> String {
    let t = text.trim_end();
    if t.ends_with(['.', '!', '?']) {
        t.to_owned()
    } else {
        format!("{t}.")
    }
}
