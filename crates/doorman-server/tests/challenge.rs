//! The challenge action through the real server: API clients get JSON, browsers the page (with
//! its nonce CSP); a solved answer earns the clearance cookie, which lets the request through;
//! a refused or lost cookie is named on the next challenge. And once end to end in a real
//! headless Chromium, which must solve the page and come back through the gateway.

use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use doorman_test_support::client::{get, header, send};
use doorman_test_support::gateway::{start, start_with};
use doorman_test_support::{browser, gateway};
use http_body_util::Full;
use serde_json::Value;

const RULES: &str = r#"
[[rules]]
id = "guard"
title = "Guarded area"
expression = 'starts_with(http.request.uri.path, "/debug/echo")'
action = "challenge"

[challenge]
difficulty = 10
clock_skew_demo = true
"#;

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) test-browser/1";

fn data_token(page: &str) -> String {
    let at = page
        .find("data-token=\"")
        .expect("the page carries its token")
        + 12;
    page[at..].split('"').next().unwrap().to_owned()
}

fn cookie_pairs(resp: &http::Response<()>) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn api_clients_get_json_browsers_the_page_and_a_solved_answer_passes() {
    let env = start(RULES).await;
    let url = env.url("/debug/echo");

    // An API client: JSON, never HTML.
    let (resp, body) = get(&url, &[("accept", "application/json"), ("user-agent", UA)]).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(header(&resp, "doorman-mitigated"), "challenge");
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["code"], "CHALLENGE");
    assert!(json["remedies"].to_string().contains("API key"), "{json}");
    // As docs/challenge.md says, API tooling takes `challenge.token` and `challenge.difficulty`
    // from the answer, solves it and posts the counter to `challenge.submit.path`.
    let api_token = json["challenge"]["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let difficulty = json["challenge"]["difficulty"]
        .as_u64()
        .expect("a difficulty") as u8;
    let submit_path = json["challenge"]["submit"]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_counter = doorman_challenge::solve(&api_token, difficulty);
    let (resp, body) = send(
        http::Request::post(env.url(&submit_path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", UA)
            .body(Full::new(Bytes::from(format!(
                "token={api_token}&counter={api_counter}"
            ))))
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(&body));
    let api_cookies = cookie_pairs(&resp);
    let (resp, _) = get(&url, &[("cookie", &api_cookies), ("user-agent", UA)]).await;
    assert_eq!(
        resp.status(),
        200,
        "the program's clearance lets it through"
    );

    // A browser: the page, under a CSP whose nonce the page's script carries.
    let (resp, body) = get(&url, &[("accept", "text/html"), ("user-agent", UA)]).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(header(&resp, "doorman-mitigated"), "challenge");
    let csp = header(&resp, "content-security-policy").to_owned();
    let page = String::from_utf8_lossy(&body).into_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap();
    assert!(
        page.contains(&format!("nonce=\"{nonce}\"")),
        "the script carries the CSP nonce"
    );
    assert!(
        !page.contains("https://") && !page.contains("http://"),
        "no external assets"
    );

    // The demo flag makes the page measure against a server clock 7 minutes behind.
    let (_, skewed) = get(
        &env.url("/debug/echo?doorman_clock_skew_s=420"),
        &[("accept", "text/html"), ("user-agent", UA)],
    )
    .await;
    let skewed = String::from_utf8_lossy(&skewed);
    let server_ms = |page: &str| -> i64 {
        let at = page.find("data-server-ms=\"").unwrap() + 16;
        page[at..].split('"').next().unwrap().parse().unwrap()
    };
    let gap = server_ms(&page) - server_ms(&skewed);
    assert!((415_000..=425_000).contains(&gap), "skew {gap} ms");

    // Solve as the page would, and post the answer.
    let token = data_token(&page);
    let counter = doorman_challenge::solve(&token, 10);
    let submit = |body: String| {
        http::Request::post(env.url("/.well-known/doorman/challenge"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", UA)
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let (resp, body) = send(submit(format!("token={token}&counter={}", counter + 1))).await;
    if resp.status() == 200 {
        // counter + 1 happened to be a solution too; unlikely at 10 bits, not wrong.
    } else {
        assert_eq!(resp.status(), 403, "{}", String::from_utf8_lossy(&body));
    }
    let (resp, body) = send(submit(format!(
        "token={token}&counter={counter}&return_to=%2Fdebug%2Fecho"
    )))
    .await;
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(&body));
    let cookies = cookie_pairs(&resp);
    assert!(cookies.contains("doorman_clearance="), "{cookies}");

    // With the clearance the request passes; another browser (User-Agent) is challenged again,
    // told why.
    let (resp, _) = get(&url, &[("cookie", &cookies), ("user-agent", UA)]).await;
    assert_eq!(resp.status(), 200);
    let (resp, body) = get(
        &url,
        &[
            ("cookie", &cookies),
            ("user-agent", "another/2"),
            ("accept", "application/json"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let json: Value = serde_json::from_slice(&body).unwrap();
    let detail = json["detail"].as_str().unwrap();
    assert!(
        detail.contains("clearance cookie was not accepted"),
        "{detail}"
    );

    // A tampered clearance is refused, with its reason.
    let tampered = cookies
        .split("; ")
        .map(|c| match c.strip_prefix("doorman_clearance=") {
            Some(v) => {
                let mut v = v.to_owned().into_bytes();
                let i = v.len() - 3;
                v[i] = if v[i] == b'A' { b'B' } else { b'A' };
                format!("doorman_clearance={}", String::from_utf8(v).unwrap())
            }
            None => c.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let (resp, body) = get(
        &url,
        &[
            ("cookie", &tampered),
            ("user-agent", UA),
            ("accept", "application/json"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        json["detail"]
            .as_str()
            .unwrap()
            .contains("clearance cookie was not accepted"),
        "{json}"
    );
    assert!(
        json["detail"]
            .as_str()
            .unwrap()
            .contains("signature does not match its contents"),
        "{json}"
    );
    assert!(
        !json.to_string().contains("CLEARANCE_TAMPERED"),
        "an internal code: {json}"
    );

    // The loop marker without a clearance: cookies were lost, and the answer says so.
    let marker = cookies
        .split("; ")
        .find(|c| c.starts_with("doorman_challenge_passed="))
        .unwrap()
        .to_owned();
    let (_, body) = get(
        &url,
        &[
            ("cookie", &marker),
            ("user-agent", UA),
            ("accept", "application/json"),
        ],
    )
    .await;
    let json: Value = serde_json::from_slice(&body).unwrap();
    let detail = json["detail"].as_str().unwrap();
    assert!(
        detail.contains("did not send the clearance cookie back"),
        "{detail}"
    );
    // Rotation: a new key signs, the old one is retired at once (no overlap) and the gateway
    // re-reads the key file on reload: the old clearance is now refused as signed by an old key.
    let key_file = env.data_dir().join("challenge.key");
    let keyring = doorman_challenge::Keyring::load_or_create(&key_file).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::fs::write(&key_file, keyring.rotated(now, 0).to_file_string()).unwrap();
    let admin = env.gateway.admin_addr.unwrap();
    let token = std::fs::read_to_string(env.data_dir().join("admin.token")).unwrap();
    let reload = http::Request::post(format!("http://{admin}/admin/reload"))
        .header("authorization", format!("Bearer {}", token.trim()))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(reload).await.0.status(), 200);
    let (resp, body) = get(
        &url,
        &[
            ("cookie", &cookies),
            ("user-agent", UA),
            ("accept", "application/json"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let json: Value = serde_json::from_slice(&body).unwrap();
    let detail = json["detail"].as_str().unwrap_or("");
    assert!(detail.contains("which this site retired"), "{json}");
    assert!(detail.contains("not a problem with your browser"), "{json}");

    env.stop().await;
}

/// A tiny origin that answers 200 and reports each path it is asked for.
fn origin() -> (std::net::SocketAddr, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let addr = doorman_test_support::origin::accept_each_blocking(move |stream| {
        let mut reader = BufReader::new(&stream);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                break;
            }
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let _ = tx.lock().unwrap().send(path);
        // The cleared page loads an image from the guarded area: the browser's next request,
        // which must pass without another challenge.
        let body = "<html><body>cleared<img src=\"/guarded/next.png\"></body></html>";
        let _ = (&stream).write_all(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    });
    (addr, rx)
}

/// Needs `chromium` (scripts/test.sh installs it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_solves_the_page_and_comes_back_through_the_gateway() {
    let (origin_addr, paths) = origin();
    let env = start_with(move |data, _demo| {
        gateway::base_config(
            data,
            origin_addr,
            "",
            RULES.replace("/debug/echo", "/guarded").as_str(),
        )
    })
    .await;
    let solver = browser::chromium().spawn(&env.url("/guarded/page?x=1"));
    // The origin is reached only through the gateway, and the gateway lets the page through
    // only with a clearance: the browser must solve, keep the cookie and come back.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut reached = Vec::new();
    while Instant::now() < deadline && reached.len() < 2 {
        if let Ok(path) = paths.recv_timeout(Duration::from_millis(200)) {
            reached.push(path);
        }
    }
    drop(solver);
    assert_eq!(
        reached,
        ["/guarded/page?x=1", "/guarded/next.png"],
        "chromium should come back through the gateway with a clearance, and its next request pass"
    );

    // A client clock 7 minutes fast (simulated): the page says so, and waits to be read.
    let dom = browser::chromium().dump_dom(&env.url("/guarded/clock?doorman_clock_skew_s=420"));
    assert!(
        dom.contains("Your device's clock is 7 minutes fast"),
        "{dom}"
    );

    // A screenshot of the page as a browser renders it, for review.
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("challenge-page.png");
    browser::chromium().arg("--window-size=900,700").screenshot(
        &env.url("/guarded/shot?doorman_clock_skew_s=420"),
        &shot,
        1000,
    );
    env.stop().await;
}
