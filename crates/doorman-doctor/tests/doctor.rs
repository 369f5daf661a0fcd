//! The doctor against loopback servers that fail in one way each: every test names the step
//! that must fail and the words it must use. Nothing leaves 127.0.0.1.

use std::time::{Duration, SystemTime};

use doorman_doctor::fixtures::Asked;
use doorman_doctor::fixtures::{
    Pki, Reply, closed_port, dns_server, http_server, https_server, https_server_with,
};
use doorman_doctor::{HeaderSet, Options, Report, Status, render_json, render_text, run};

fn opts(url: &str) -> Options {
    let mut o = Options::isolated(url).unwrap();
    o.timeouts.connect = Duration::from_secs(2);
    o.timeouts.request = Duration::from_secs(3);
    o
}

fn status(r: &Report, name: &str) -> Status {
    r.step(name)
        .unwrap_or_else(|| panic!("no step {name}"))
        .status
}

fn first_failure(r: &Report) -> Option<&'static str> {
    r.first_failure.map(|i| r.steps[i].name)
}

fn date_in(offset_s: i64) -> String {
    let now = SystemTime::now();
    let t = if offset_s >= 0 {
        now + Duration::from_secs(offset_s.unsigned_abs())
    } else {
        now - Duration::from_secs(offset_s.unsigned_abs())
    };
    httpdate::fmt_http_date(t)
}

#[tokio::test]
async fn a_healthy_plain_site_passes_and_the_report_reads_well() {
    let addr = http_server(|_| {
        Reply::new(
            200,
            &[("date", &date_in(0)), ("content-type", "text/plain")],
            "hello",
        )
    })
    .await
    .unwrap();
    let r = run(opts(&format!("http://{addr}/"))).await;
    let text = render_text(&r);
    assert!(r.passed(), "{text}");
    assert_eq!(status(&r, "dns"), Status::Skip);
    assert_eq!(status(&r, "tcp"), Status::Ok);
    assert_eq!(status(&r, "clock"), Status::Ok);
    assert_eq!(status(&r, "http"), Status::Ok);
    // The fixture answers 200 text/plain everywhere: no trace endpoint, no JSON.
    assert_eq!(status(&r, "trace"), Status::Skip);
    assert_eq!(status(&r, "credential"), Status::Skip);
    assert!(text.trim_end().ends_with("all checks passed"), "{text}");
    assert!(text.contains("✓ HTTP\n"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["steps"][0]["name"], "dns");
    assert_eq!(json["steps"][5]["name"], "http");
    assert_eq!(json["steps"][5]["status"], "ok");
    assert_eq!(json["steps"][5]["facts"][1][0], "status");
    assert_eq!(json["steps"][5]["facts"][1][1], "200 OK");
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let addr = closed_port().unwrap();
    let r = run(opts(&format!("http://{addr}/"))).await;
    assert_eq!(first_failure(&r), Some("tcp"), "{}", render_text(&r));
    let tcp = r.step("tcp").unwrap();
    assert!(tcp.facts[0].1.starts_with("refused"), "{tcp:?}");
    assert!(tcp.fix.as_deref().unwrap().contains("check the port"));
    for later in ["tls", "clock", "http", "trace", "credential"] {
        assert_eq!(status(&r, later), Status::Skip, "{later}");
    }
}

#[tokio::test]
async fn a_self_signed_certificate_is_an_unknown_issuer() {
    let addr = https_server(&["localhost"], |_| Reply::new(200, &[], "secret"))
        .await
        .unwrap();
    let r = run(opts(&format!("https://127.0.0.1:{}/", addr.port()))).await;
    let text = render_text(&r);
    assert_eq!(first_failure(&r), Some("tls"), "{text}");
    let tls = r.step("tls").unwrap();
    let error = tls.fact_value("error").unwrap();
    assert!(error.starts_with("unknown issuer"), "{error}");
    assert!(error.contains("self-signed"), "{error}");
    assert_eq!(tls.fact_value("names"), Some("localhost"));
    assert_eq!(tls.fact_value("covers 127.0.0.1"), Some("no"));
    assert!(tls.fact_value("issuer").unwrap().contains("(self-signed)"));
    assert!(tls.fix.as_deref().unwrap().contains("Let's Encrypt"));
    assert_eq!(status(&r, "http"), Status::Skip);
}

#[tokio::test]
async fn a_private_ca_given_as_a_root_passes_and_the_certificate_is_described() {
    let pki = Pki::private_ca(&["127.0.0.1", "localhost"]).unwrap();
    let addr = https_server_with(&pki, |_| Reply::new(200, &[("date", &date_in(0))], "hello"))
        .await
        .unwrap();
    let url = format!("https://127.0.0.1:{}/", addr.port());
    // Without the CA: unknown issuer, naming it.
    let r = run(opts(&url)).await;
    let error = r
        .step("tls")
        .unwrap()
        .fact_value("error")
        .unwrap()
        .to_owned();
    assert!(
        error.starts_with("unknown issuer: CN=doorman-doctor test CA is not an authority"),
        "{error}"
    );
    // With it: everything passes and the handshake is described.
    let mut o = opts(&url);
    assert_eq!(o.add_ca_pem(pki.ca_pem.as_bytes()).unwrap(), 1);
    let r = run(o).await;
    assert!(r.passed(), "{}", render_text(&r));
    let tls = r.step("tls").unwrap();
    assert_eq!(tls.status, Status::Ok);
    assert_eq!(tls.fact_value("version"), Some("TLS 1.3"));
    assert_eq!(tls.fact_value("certificate"), Some("CN=doctor test server"));
    assert_eq!(tls.fact_value("issuer"), Some("CN=doorman-doctor test CA"));
    assert_eq!(tls.fact_value("names"), Some("localhost, 127.0.0.1"));
    assert_eq!(tls.fact_value("covers 127.0.0.1"), Some("yes"));
    assert_eq!(status(&r, "http"), Status::Ok);
    // A wrong clock makes a good certificate look not yet valid, and says so.
    let mut o = opts(&url);
    o.add_ca_pem(pki.ca_pem.as_bytes()).unwrap();
    // rcgen's certificates start in 1975.
    o.clock_skew_ms = -60 * 365 * 86_400 * 1000;
    let r = run(o).await;
    let error = r
        .step("tls")
        .unwrap()
        .fact_value("error")
        .unwrap()
        .to_owned();
    assert!(error.starts_with("not yet valid"), "{error}");
    assert!(error.contains("by this device's clock"), "{error}");
    // A file that is not PEM is refused up front.
    assert!(opts(&url).add_ca_pem(b"hello").is_err());
}

#[tokio::test]
async fn https_to_a_plain_http_port_says_use_http() {
    let addr = http_server(|_| Reply::new(400, &[], "bad request"))
        .await
        .unwrap();
    let r = run(opts(&format!("https://{addr}/x"))).await;
    let tls = r.step("tls").unwrap();
    assert_eq!(tls.status, Status::Fail, "{}", render_text(&r));
    assert!(
        tls.fix
            .as_deref()
            .unwrap()
            .contains(&format!("http://{addr}/x")),
        "{tls:?}"
    );
}

#[tokio::test]
async fn http_to_a_tls_port_says_use_https() {
    let addr = https_server(&["localhost"], |_| Reply::new(200, &[], ""))
        .await
        .unwrap();
    let r = run(opts(&format!("http://{addr}/"))).await;
    let http = r.step("http").unwrap();
    assert_eq!(http.status, Status::Fail, "{}", render_text(&r));
    assert!(
        http.fix.as_deref().unwrap().contains("https://"),
        "{http:?}"
    );
}

#[tokio::test]
async fn a_server_clock_ten_minutes_behind_means_yours_is_fast() {
    let addr = http_server(|_| Reply::new(200, &[("date", &date_in(-600))], "ok"))
        .await
        .unwrap();
    let r = run(opts(&format!("http://{addr}/"))).await;
    assert_eq!(first_failure(&r), Some("clock"), "{}", render_text(&r));
    let fix = r.step("clock").unwrap().fix.clone().unwrap();
    assert!(fix.starts_with("your clock is 10 minutes fast"), "{fix}");
    assert!(fix.contains("turn on automatic time"), "{fix}");
    // The pretend skew puts it right again.
    let mut o = opts(&format!("http://{addr}/"));
    o.clock_skew_ms = -600_000;
    let r = run(o).await;
    assert_eq!(status(&r, "clock"), Status::Ok, "{}", render_text(&r));
}

#[tokio::test]
async fn resolvers_that_disagree_are_named() {
    // `localhost` resolves through the system (hosts file) everywhere; two responders answer
    // for it too, one like the system and one not; a third does not know the name.
    let same = dns_server("localhost", "127.0.0.1".parse().unwrap())
        .await
        .unwrap();
    let other = dns_server("localhost", "127.0.0.2".parse().unwrap())
        .await
        .unwrap();
    let unaware = dns_server("doctor.test", "127.0.0.1".parse().unwrap())
        .await
        .unwrap();
    let mut o = opts("http://localhost:1/");
    o.resolvers = vec![same, other, unaware];
    let r = run(o).await;
    let dns = r.step("dns").unwrap();
    assert_eq!(dns.status, Status::Warn, "{}", render_text(&r));
    assert!(
        dns.fact_value(&format!("resolver {same}"))
            .unwrap()
            .starts_with("127.0.0.1 (")
    );
    assert!(
        dns.fact_value(&format!("resolver {other}"))
            .unwrap()
            .starts_with("127.0.0.2 (")
    );
    assert_eq!(
        dns.fact_value(&format!("resolver {unaware}")),
        Some("no such name (NXDOMAIN)")
    );
    let said = dns.fact_value("disagreement").unwrap();
    assert!(
        said.starts_with("resolvers disagree: the system resolver says"),
        "{said}"
    );
    assert!(said.contains(&format!("{other} says 127.0.0.2")), "{said}");
    assert!(
        said.contains(&format!("{unaware} says no such name")),
        "{said}"
    );
    assert!(
        dns.fix
            .as_deref()
            .unwrap()
            .starts_with("flush your DNS cache / check for a stale hosts entry")
    );
    // The system's answer is what the connection uses.
    assert!(
        r.step("tcp")
            .unwrap()
            .facts
            .iter()
            .all(|(k, _)| !k.starts_with("127.0.0.2"))
    );
}

#[tokio::test]
async fn resolvers_that_agree_are_fine_and_a_silent_one_times_out() {
    let same = dns_server("localhost", "127.0.0.1".parse().unwrap())
        .await
        .unwrap();
    // Bound but never answering.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut o = opts("http://localhost:1/");
    o.resolvers = vec![same, silent.local_addr().unwrap()];
    o.timeouts.dns_query = Duration::from_millis(300);
    let r = run(o).await;
    let dns = r.step("dns").unwrap();
    assert_eq!(dns.status, Status::Ok, "{}", render_text(&r));
    assert_eq!(dns.fact_value("disagreement"), None);
    assert!(
        dns.fact_value(&format!("resolver {}", silent.local_addr().unwrap()))
            .unwrap()
            .starts_with("no answer within")
    );
}

#[tokio::test]
async fn proxy_variables_are_reported_without_passwords() {
    let addr = http_server(|_| Reply::new(200, &[], "ok")).await.unwrap();
    let mut o = opts(&format!("http://{addr}/"));
    o.env = vec![(
        "http_proxy".to_owned(),
        "http://me:hunter2@proxy.corp:3128".to_owned(),
    )];
    let r = run(o).await;
    let proxy = r.step("proxy").unwrap();
    assert_eq!(proxy.status, Status::Warn);
    assert!(
        proxy
            .fact_value("this URL")
            .unwrap()
            .contains("through the proxy http://me:***@proxy.corp:3128")
    );
    assert!(!render_json(&r).contains("hunter2"));
    // Warnings do not fail the diagnosis.
    assert!(r.passed(), "{}", render_text(&r));
}

/// A fixture that answers like a Doorman gateway denying the request.
#[tokio::test]
async fn a_doorman_receipt_the_trace_and_a_revoked_key_are_explained() {
    let addr = http_server(|asked| {
        let date = date_in(0);
        match asked.path() {
            "/.well-known/doorman/trace" => {
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                Reply::new(
                    200,
                    &[("content-type", "application/json"), ("date", &date), ("doorman-ray", "00000000000000bb-test")],
                    format!(
                        r#"{{"ip":"127.0.0.1","asn":64500,"as_org":"Test Net","country":"ZZ","http":"HTTP/1.1","server_time_ms":{now},
                           "credential":{{"presented":true,"valid":false,"code":"KEY_REVOKED","reason":"revoked"}},
                           "verdict":{{"path":"{}","allowed":false,"code":"1020","reason":"blocked by rule"}},"ray_id":"00000000000000bb-test"}}"#,
                        asked.target.split("path=").nth(1).unwrap_or("/")
                    ),
                )
            }
            "/.well-known/doorman/whoami" => Reply::new(
                200,
                &[("content-type", "application/json")],
                r#"{"credential":{"presented":true,"valid":false,"code":"KEY_REVOKED","reason":"This key was revoked.","remedy":"Use a current key."},"path":"/api"}"#,
            ),
            _ => Reply::new(
                403,
                &[
                    ("content-type", "application/problem+json"),
                    ("doorman-ray", "00000000000000aa-test"),
                    ("doorman-code", "1020"),
                    ("date", &date),
                ],
                r#"{"type":"urn:doorman:error:1020","title":"Blocked by a firewall rule","status":403,"detail":"A rule of this site blocks your request.","code":"1020","remedies":["Ask the site's owner to allow you."]}"#,
            ),
        }
    })
    .await
    .unwrap();
    let mut o = opts(&format!("http://{addr}/")).with_path("/api").unwrap();
    o.api_key = Some("dmn_live_whatever".to_owned());
    let r = run(o).await;
    let text = render_text(&r);
    assert_eq!(first_failure(&r), Some("http"), "{text}");
    let http = r.step("http").unwrap();
    assert_eq!(
        http.fact_value("doorman-ray"),
        Some("00000000000000aa-test")
    );
    assert_eq!(
        http.fact_value("receipt"),
        Some("Blocked by a firewall rule (1020)")
    );
    let fix = http.fix.as_deref().unwrap();
    assert!(
        fix.starts_with(
            "A rule of this site blocks your request. Ask the site's owner to allow you."
        ),
        "{fix}"
    );
    assert!(fix.contains("quote Ray ID 00000000000000aa-test"), "{fix}");
    let trace = r.step("trace").unwrap();
    assert_eq!(trace.status, Status::Fail);
    assert_eq!(trace.fact_value("network"), Some("AS64500 (Test Net)"));
    assert_eq!(
        trace.fact_value("verdict for /api"),
        Some("refused: 1020 blocked by rule")
    );
    assert!(
        r.step("clock")
            .unwrap()
            .fact_value("measured from")
            .unwrap()
            .starts_with("server_time_ms")
    );
    let cred = r.step("credential").unwrap();
    assert_eq!(cred.status, Status::Fail);
    assert_eq!(cred.fact_value("key"), Some("refused: KEY_REVOKED"));
    assert_eq!(cred.fix.as_deref(), Some("KEY_REVOKED: Use a current key."));
    assert_eq!(
        r.ray_ids,
        ["00000000000000aa-test", "00000000000000bb-test"]
    );
    assert!(
        text.contains(
            "Ray IDs (quote to the site's support): 00000000000000aa-test, 00000000000000bb-test"
        ),
        "{text}"
    );
    assert!(
        text.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("first failure: HTTP (http)"),
        "{text}"
    );
}

/// A Doorman-like gateway with no route for a misspelt path: its trace suggests the right one.
#[tokio::test]
async fn a_404_with_the_gateways_suggestion_says_did_you_mean() {
    let addr = http_server(|asked| match asked.path() {
        "/.well-known/doorman/trace" => Reply::new(
            200,
            &[("content-type", "application/json")],
            r#"{"ip":"127.0.0.1","verdict":{"path":"/plugin/weather","allowed":false,"code":"NO_ROUTE","reason":"no route matches","did_you_mean":"/plugins/weather"}}"#,
        ),
        _ => Reply::new(
            404,
            &[
                ("content-type", "application/problem+json"),
                ("doorman-ray", "00000000000000cc-test"),
            ],
            r#"{"type":"urn:doorman:error:NO_ROUTE","title":"Not found","status":404,"code":"NO_ROUTE","remedies":["Check the path."]}"#,
        ),
    })
    .await
    .unwrap();
    let r = run(opts(&format!("http://{addr}/plugin/weather?city=Lisbon"))).await;
    let text = render_text(&r);
    assert_eq!(first_failure(&r), Some("http"), "{text}");
    let fix = r.step("http").unwrap().fix.clone().unwrap();
    assert_eq!(
        fix,
        "path /plugin/weather not found; did you mean /plugins/weather? If you contact the site's support, quote Ray ID 00000000000000cc-test."
    );
    let trace = r.step("trace").unwrap();
    assert_eq!(trace.fact_value("did you mean"), Some("/plugins/weather"));
    assert!(
        trace
            .fix
            .as_deref()
            .unwrap()
            .ends_with("; did you mean /plugins/weather?"),
        "{text}"
    );
    // Without the suggestion, the receipt's remedy stays the fix.
    let addr = http_server(|asked| match asked.path() {
        "/.well-known/doorman/trace" => Reply::new(404, &[], ""),
        _ => Reply::new(
            404,
            &[("content-type", "application/problem+json")],
            r#"{"type":"urn:doorman:error:NO_ROUTE","title":"Not found","status":404,"code":"NO_ROUTE","remedies":["Check the path."]}"#,
        ),
    })
    .await
    .unwrap();
    let r = run(opts(&format!("http://{addr}/plugin/weather"))).await;
    assert_eq!(
        r.step("http").unwrap().fix.as_deref(),
        Some("Check the path.")
    );
}

#[tokio::test]
async fn a_silent_server_times_out_instead_of_hanging() {
    let addr = doorman_test_support::origin::silent().await;
    let mut o = opts(&format!("https://{addr}/"));
    o.timeouts.tls = Duration::from_millis(500);
    let started = std::time::Instant::now();
    let r = run(o).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(first_failure(&r), Some("tls"));
    assert!(
        r.step("tls")
            .unwrap()
            .fact_value("error")
            .unwrap()
            .starts_with("no TLS answer within")
    );
}

/// A server that answers 200 to everything and keeps what it was asked.
async fn recording_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<Asked>>>,
) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    let addr = http_server(move |asked| {
        keep.lock().unwrap().push(asked.clone());
        Reply::new(200, &[("content-type", "text/plain")], "ok")
    })
    .await
    .unwrap();
    (addr, seen)
}

fn values<'a>(asked: &'a Asked, name: &str) -> Vec<&'a str> {
    asked
        .headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `-H` replaces a header the doctor sends anyway (whatever its case) instead of sending a
/// second, which the site would ignore for the doctor's own; `--browser` sends a browser's set
/// on the page request, and the gateway's endpoints are still asked for JSON.
#[tokio::test]
async fn extra_headers_replace_the_doctors_own_and_a_browser_set_is_sent() {
    let (addr, seen) = recording_server().await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";
    let mut o = opts(&format!("http://{addr}/"));
    o.api_key = Some("dmn_live_whatever".to_owned());
    o.extra_headers = vec![
        ("User-Agent".to_owned(), firefox.to_owned()),
        ("x-forwarded-for".to_owned(), "203.0.113.7".to_owned()),
    ];
    let r = run(o).await;
    let request = r.step("http").unwrap().fact_value("request").unwrap();
    assert_eq!(
        request,
        format!(
            "GET / with the doctor's own headers (User-Agent: {firefox}, Accept: application/json), Authorization: Bearer <your key>, -H User-Agent, x-forwarded-for"
        )
    );
    let asked = seen.lock().unwrap().clone();
    assert!(asked.len() >= 2, "{asked:?}");
    for a in &asked {
        assert_eq!(values(a, "user-agent"), [firefox], "{a:?}");
        assert_eq!(values(a, "accept"), ["application/json"], "{a:?}");
        assert_eq!(values(a, "x-forwarded-for"), ["203.0.113.7"], "{a:?}");
        assert_eq!(values(a, "authorization"), ["Bearer dmn_live_whatever"]);
    }

    seen.lock().unwrap().clear();
    let mut o = opts(&format!("http://{addr}/"));
    o.header_set = HeaderSet::Browser;
    o.extra_headers = vec![("accept-language".to_owned(), "de-DE,de;q=0.9".to_owned())];
    let r = run(o).await;
    assert_eq!(
        r.step("http").unwrap().fact_value("request"),
        Some(
            "GET / with a browser's headers (--browser: Chrome 148 on Windows), -H accept-language"
        )
    );
    let asked = seen.lock().unwrap().clone();
    let page = asked.iter().find(|a| a.path() == "/").unwrap();
    let ua = values(page, "user-agent");
    assert!(
        ua.len() == 1 && ua[0].contains("Chrome/148.0.0.0"),
        "{page:?}"
    );
    assert!(
        values(page, "accept")[0].starts_with("text/html,"),
        "{page:?}"
    );
    assert_eq!(values(page, "accept-language"), ["de-DE,de;q=0.9"]);
    assert_eq!(values(page, "sec-fetch-mode"), ["navigate"]);
    assert_eq!(values(page, "sec-ch-ua-platform"), ["\"Windows\""]);
    assert!(values(page, "accept-encoding").is_empty(), "{page:?}");
    let trace = asked
        .iter()
        .find(|a| a.path() == "/.well-known/doorman/trace")
        .unwrap();
    assert_eq!(values(trace, "accept"), ["application/json"], "{trace:?}");
    assert_eq!(values(trace, "user-agent"), ua);
}

/// Headers copied from a browser's developer tools: request lines, HTTP/2 pseudo-headers and
/// comments are skipped, the connection's own headers left out and named; anything else that
/// is not a header is refused with its line.
#[test]
fn copied_headers_are_read_as_developer_tools_copy_them() {
    let set = HeaderSet::copied(
        "GET /members HTTP/2\n:authority: example.com\n:method: GET\n# from Chrome\nHost: example.com\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36\naccept-encoding: gzip, br\nCookie: doorman_clearance=abc\n\nSec-Fetch-Mode: navigate\n",
        "chrome.txt",
    )
    .unwrap();
    let HeaderSet::Copied {
        from,
        headers,
        left_out,
    } = set
    else {
        panic!("{set:?}");
    };
    assert_eq!(from, "chrome.txt");
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["user-agent", "cookie", "sec-fetch-mode"]);
    assert_eq!(left_out, ["host", "accept-encoding"]);
    let err = HeaderSet::copied("User-Agent: x\nnonsense here\n", "h.txt").unwrap_err();
    assert_eq!(
        err.to_string(),
        "--headers-from h.txt: line 2 is not a `Name: value` header: `nonsense here`"
    );
    let err = HeaderSet::copied("curl 'https://example.com/' -H 'accept: */*'", "h.txt")
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a curl command"), "{err}");
    let err = HeaderSet::copied("\n# nothing\n", "h.txt")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no headers found"), "{err}");
}
