//! `doorman doctor` as a person runs it: the real binary against a real gateway in front of the
//! demo origin, and against loopback servers that fail in one way each (a closed port, a
//! self-signed certificate, a clock ten minutes off, resolvers that disagree). Nothing leaves
//! 127.0.0.1.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use doorman_doctor::fixtures::{
    Pki, Reply, closed_port, dns_server, http_date, http_server, https_server,
};

use doorman_test_support::gateway::process::*;

const DOORMAN: Doorman = Doorman(env!("CARGO_BIN_EXE_doorman"));

/// Runs `doorman doctor ARGS` with no proxy variables but `env`.
fn doctor(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = DOORMAN.command();
    cmd.arg("doctor").args(args);
    for var in doorman_doctor::PROXY_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The value of the first fact line `label: value` (facts are padded to line up).
fn fact<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix(label)?
            .strip_prefix(':')
            .map(str::trim)
    })
}

fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or("")
}

fn keys(data: &Path, args: &[&str]) -> String {
    let out = DOORMAN
        .command()
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "doorman keys {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A gateway (`doorman serve`) in front of the demo origin, with a route that needs an API key
/// with a scope and a rate limit per key, and `extra` configuration; with `tls`, its listener
/// speaks https.
fn gateway(
    runtime: &tokio::runtime::Runtime,
    dir: &Path,
    tls: Option<&Pki>,
    extra: &str,
) -> (Reaper, SocketAddr) {
    let (origin, handle) = runtime
        .block_on(doorman_demo::spawn("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    std::mem::forget(handle);
    let config = dir.join("doorman.toml");
    let tls_line = match tls {
        Some(pki) => {
            std::fs::write(dir.join("cert.pem"), &pki.cert_pem).unwrap();
            std::fs::write(dir.join("key.pem"), &pki.key_pem).unwrap();
            r#"tls = { cert_file = "cert.pem", key_file = "key.pem" }"#
        }
        None => "",
    };
    std::fs::write(
        &config,
        format!(
            r#"[server]
node_name = "doc"
data_dir = "data"

[[listeners]]
addr = "127.0.0.1:0"
{tls_line}

# Its own port: the default (9090) would collide with other tests' gateways.
[admin]
addr = "127.0.0.1:0"

[[upstreams]]
name = "origin"
targets = ["{origin}"]

[[routes]]
name = "plugins"
path_prefix = "/plugins"
upstream = "origin"
auth = {{ methods = ["api_key"], scopes = ["plugins:weather"] }}

[[routes]]
name = "all"
path_prefix = "/"
upstream = "origin"

[[rate_limits]]
id = "plugins-per-key"
expression = 'starts_with(http.request.uri.path, "/plugins")'
characteristics = ["doorman.identity"]
requests_per_period = 100
period_secs = 60
{extra}"#
        ),
    )
    .unwrap();
    let (child, _stderr, addr) = DOORMAN.serve(&config, &["--workers", "1"]);
    (child, addr)
}

#[test]
fn a_gateway_in_front_of_the_demo_passes_and_checks_keys() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The key exists before the gateway starts, so its first snapshot has it.
    let created = keys(
        &data,
        &[
            "create",
            "--name",
            "doctor",
            "--scopes",
            "plugins:weather,chat",
            "--json",
        ],
    );
    let key = serde_json::from_str::<serde_json::Value>(&created).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_gw, addr) = gateway(&runtime, dir.path(), None, "");
    let url = format!("http://{addr}/");

    // (a) All pass, and the Ray ID is printed.
    let (code, out) = doctor(&[&url], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(last_line(&out), "all checks passed", "{out}");
    assert!(out.contains("✓ TCP connect"), "{out}");
    assert!(out.contains("✓ HTTP"), "{out}");
    assert!(out.contains("✓ Clock"), "{out}");
    assert!(out.contains("✓ Trace"), "{out}");
    assert_eq!(fact(&out, "verdict for /"), Some("allowed"), "{out}");
    assert!(out.contains("- Credential"), "{out}");
    let ray = fact(&out, "doorman-ray")
        .unwrap_or_else(|| panic!("no Ray ID in\n{out}"))
        .to_owned();
    assert!(ray.ends_with("-doc"), "{ray}");
    let quoted = out
        .lines()
        .find(|l| l.starts_with("Ray ID"))
        .unwrap_or_else(|| panic!("no Ray ID line in\n{out}"));
    assert!(
        quoted.contains("(quote to the site's support): ") && quoted.contains(&ray),
        "{out}"
    );

    // The same as JSON for a support ticket.
    let (code, out) = doctor(&[&url, "--json"], &[]);
    assert_eq!(code, Some(0), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["first_failure"], serde_json::Value::Null);
    assert!(!doc["ray_ids"].as_array().unwrap().is_empty());
    let names: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "dns",
            "proxy",
            "tcp",
            "tls",
            "clock",
            "http",
            "trace",
            "credential"
        ]
    );

    // (f) A valid key: scopes and what is left of the rate limit for the path.
    let (code, out) = doctor(
        &[
            &url,
            "--path",
            "/plugins/weather?city=Lisbon",
            "--api-key",
            &key,
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("✓ Credential"), "{out}");
    assert_eq!(fact(&out, "scopes"), Some("plugins:weather, chat"), "{out}");
    assert_eq!(
        fact(&out, "route for /plugins/weather?city=Lisbon"),
        Some("plugins"),
        "{out}"
    );
    let limit = fact(&out, "rate limit plugins-per-key").unwrap_or_else(|| panic!("{out}"));
    assert!(limit.contains(" left"), "{out}");

    // Without the key, the route's 401 receipt is read and explained.
    let (code, out) = doctor(&[&url, "--path", "/plugins/weather?city=Lisbon"], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("✗ HTTP"), "{out}");
    assert!(out.contains("doorman-code:"), "{out}");
    assert!(out.contains("KEY_MISSING"), "{out}");

    // A revoked key: the gateway applies the revocation within a second.
    keys(&data, &["revoke", "doctor"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let (code, out) = doctor(&[&url, "--api-key", &key], &[]);
        if out.contains("KEY_REVOKED") || Instant::now() > deadline {
            assert_eq!(code, Some(1), "{out}");
            break out;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(out.contains("✗ Credential"), "{out}");
    assert_eq!(fact(&out, "key"), Some("refused: KEY_REVOKED"), "{out}");
}

/// A site whose bot check (code 1010) refuses what is not a browser. The doctor's own request
/// is refused, and the report says that this is about the doctor, not the person's browser,
/// instead of passing on the gateway's advice for scripts; `-H User-Agent` replaces the
/// doctor's (the gateway sees one, the given one); `--browser` and `--headers-from` with a real
/// browser's headers show what a browser gets: a pass.
#[test]
fn a_bot_check_judges_the_doctor_and_a_browsers_headers_pass() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_gw, addr) = gateway(
        &runtime,
        dir.path(),
        None,
        r#"
[[rules]]
id = "browsers-only"
title = "Browsers only"
expression = 'cf.bot_management.score lt 70'
action = "block"
code = "1010"
"#,
    );
    let url = format!("http://{addr}/");

    // The doctor's own headers: refused, and said to be about the doctor.
    let (code, out) = doctor(&[&url], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("✗ HTTP"), "{out}");
    assert!(
        fact(&out, "request")
            .is_some_and(|r| r
                .starts_with("GET / with the doctor's own headers (User-Agent: doorman-doctor/")),
        "{out}"
    );
    // The gateway's words stay in the facts...
    assert!(
        fact(&out, "detail").is_some_and(|d| d.contains("is not a web browser's")),
        "{out}"
    );
    // ...but the fix speaks to a person whose browser is what matters.
    let verdict = last_line(&out);
    assert!(
        verdict.starts_with(
            "first failure: HTTP (http) — This refusal is about the doctor's own request, not your browser"
        ),
        "{out}"
    );
    assert!(
        verdict.contains("run the doctor again with --browser"),
        "{out}"
    );
    assert!(verdict.contains("--headers-from FILE"), "{out}");
    assert!(!verdict.contains("API access"), "{out}");
    assert!(
        out.contains("(1010) to the doctor's own request"),
        "the trace step says so too:\n{out}"
    );

    // -H replaces the doctor's User-Agent: the gateway sees the given one, not a second.
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";
    let (code, out) = doctor(&[&url, "-H", &format!("user-agent: {firefox}")], &[]);
    assert_eq!(fact(&out, "user agent"), Some(firefox), "{out}");
    // A browser's User-Agent alone is still the doctor's request (no Accept-Language…).
    assert_eq!(code, Some(1), "{out}");
    assert!(
        last_line(&out).contains(&format!(
            "the site's bot check judged the doctor's headers (User-Agent: {firefox}, Accept: application/json)"
        )),
        "{out}"
    );

    // A browser's headers pass.
    let (code, out) = doctor(&[&url, "--browser"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        fact(&out, "request"),
        Some("GET / with a browser's headers (--browser: Chrome 148 on Windows)"),
        "{out}"
    );
    assert!(
        fact(&out, "user agent").is_some_and(|ua| ua.contains("Chrome/148")),
        "{out}"
    );
    assert_eq!(last_line(&out), "all checks passed", "{out}");

    // So do a real Firefox's, copied from its request as a file (with its request line, a
    // comment, and the headers the doctor leaves to its own connection).
    let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../doorman-botcheck/tests/fixtures/headers/firefox-esr-153-navigate.txt");
    let copied = capture.display().to_string();
    let (code, out) = doctor(&[&url, "--headers-from", &copied], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        fact(&out, "request"),
        Some(
            format!(
                "GET / with your browser's headers from {copied} (8 headers; not sent: host, accept-encoding, connection)"
            )
            .as_str()
        ),
        "{out}"
    );
    assert_eq!(fact(&out, "user agent"), Some(firefox), "{out}");

    // A file that is not headers, and two header sets at once, are usage errors.
    let bad = dir.path().join("headers.txt");
    std::fs::write(&bad, "User-Agent: Mozilla/5.0\nthis is not a header\n").unwrap();
    let (code, out) = doctor(&[&url, "--headers-from", &bad.display().to_string()], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("line 2 is not a `Name: value` header"),
        "{out}"
    );
    let (code, _) = doctor(&[&url, "--browser", "--headers-from", &copied], &[]);
    assert_eq!(code, Some(2));
}

#[test]
fn a_tls_gateway_passes_over_http2_with_its_ca() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::private_ca(&["127.0.0.1"]).unwrap();
    let (_gw, addr) = gateway(&runtime, dir.path(), Some(&pki), "");
    let url = format!("https://{addr}/");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();

    let (code, out) = doctor(&[&url, "--ca-file", ca.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(fact(&out, "version"), Some("TLS 1.3"), "{out}");
    assert_eq!(fact(&out, "ALPN"), Some("h2"), "{out}");
    assert_eq!(fact(&out, "protocol"), Some("HTTP/2"), "{out}");
    assert_eq!(fact(&out, "verdict for /"), Some("allowed"), "{out}");
    assert_eq!(last_line(&out), "all checks passed", "{out}");

    // Without the CA the certificate is not trusted, and the words say whose it is.
    let (code, out) = doctor(&[&url], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("unknown issuer: CN=doorman-doctor test CA is not an authority"),
        "{out}"
    );
    // A file that is not a certificate is a usage error.
    let (code, out) = doctor(&[&url, "--ca-file", "/dev/null"], &[]);
    assert_eq!(code, Some(2), "{out}");
}

#[test]
fn a_closed_port_is_refused() {
    let addr = closed_port().unwrap();
    let (code, out) = doctor(&[&format!("http://{addr}/")], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("✗ TCP connect"), "{out}");
    assert!(out.contains(&format!("{addr}: refused")), "{out}");
    assert!(
        last_line(&out).starts_with("first failure: TCP connect (tcp)"),
        "{out}"
    );
}

#[test]
fn a_self_signed_certificate_is_an_unknown_issuer() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let addr = runtime
        .block_on(https_server(&["localhost"], |_| Reply::new(200, &[], "")))
        .unwrap();
    let (code, out) = doctor(&[&format!("https://127.0.0.1:{}/", addr.port())], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("✗ TLS"), "{out}");
    assert!(
        out.contains("unknown issuer: the certificate is self-signed"),
        "{out}"
    );
    assert!(
        last_line(&out).starts_with("first failure: TLS (tls)"),
        "{out}"
    );
}

#[test]
fn a_clock_ten_minutes_off_is_named() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let addr = runtime
        .block_on(http_server(|_| {
            Reply::new(200, &[("date", &http_date(600))], "ok")
        }))
        .unwrap();
    let (code, out) = doctor(&[&format!("http://{addr}/")], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("✗ Clock"), "{out}");
    assert!(
        out.contains("your clock is 10 minutes slow; turn on automatic time"),
        "{out}"
    );
    assert!(
        last_line(&out).starts_with("first failure: Clock (clock)"),
        "{out}"
    );
    // --clock-skew pretends the local clock is that far off: here it cancels the difference.
    let (code, out) = doctor(&[&format!("http://{addr}/"), "--clock-skew", "600"], &[]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn resolvers_that_disagree_are_reported() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (one, two, site) = runtime.block_on(async {
        (
            dns_server("localhost", "127.0.0.1".parse().unwrap())
                .await
                .unwrap(),
            dns_server("localhost", "127.0.0.2".parse().unwrap())
                .await
                .unwrap(),
            http_server(|_| Reply::new(200, &[], "ok")).await.unwrap(),
        )
    });
    let (code, out) = doctor(
        &[
            &format!("http://localhost:{}/", site.port()),
            "--resolver",
            &one.to_string(),
            "--resolver",
            &two.to_string(),
        ],
        &[],
    );
    // A warning, not a failure: the site itself works.
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("! DNS"), "{out}");
    assert!(
        out.contains("resolvers disagree: the system resolver says"),
        "{out}"
    );
    assert!(out.contains(&format!("{two} says 127.0.0.2")), "{out}");
    assert!(
        out.contains("flush your DNS cache / check for a stale hosts entry"),
        "{out}"
    );
}

#[test]
fn proxy_variables_are_reported() {
    let addr = closed_port().unwrap();
    let (_, out) = doctor(
        &[&format!("http://{addr}/")],
        &[
            ("http_proxy", "http://user:pw@proxy.example:3128"),
            ("NO_PROXY", "example.com"),
        ],
    );
    assert!(out.contains("! Proxy environment"), "{out}");
    assert!(
        out.contains(
            "curl and most tools would send it through the proxy http://user:***@proxy.example:3128"
        ),
        "{out}"
    );
    assert!(!out.contains(":pw@"), "{out}");
}

#[test]
fn usage_errors_exit_2() {
    let (code, out) = doctor(&["example.com"], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no scheme"), "{out}");
    let (code, out) = doctor(&["http://127.0.0.1:1/", "--resolver", "dns.example"], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("--resolver `dns.example` is not an address"),
        "{out}"
    );
    let (code, _) = doctor(&["http://127.0.0.1:1/", "--path", "no-slash"], &[]);
    assert_eq!(code, Some(2));
    let (code, _) = doctor(&[], &[]);
    assert_eq!(code, Some(2));
}
