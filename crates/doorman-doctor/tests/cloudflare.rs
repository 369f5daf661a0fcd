//! The doctor against loopback servers that answer like a site behind Cloudflare: `cf-ray` and
//! `server: cloudflare` headers, `/cdn-cgi/trace`, and numbered error pages (1020, 1015, 522).
//! Each test names the step that must fail and the words it must use. Nothing leaves 127.0.0.1.

use std::time::Duration;

use doorman_doctor::fixtures::{
    Asked, Reply, cloudflare_error_page, cloudflare_trace, http_date, http_server,
};
use doorman_doctor::{Options, Report, Status, render_json, render_text, run};

const MAIN_RAY: &str = "8a1b2c3d4e5f6789";

fn opts(url: &str) -> Options {
    let mut o = Options::isolated(url).unwrap();
    o.timeouts.connect = Duration::from_secs(2);
    o.timeouts.request = Duration::from_secs(3);
    o
}

fn first_failure(r: &Report) -> Option<&'static str> {
    r.first_failure.map(|i| r.steps[i].name)
}

/// A site behind Cloudflare: `/cdn-cgi/trace` for a client on WARP (its `ts` `ts_offset_s`
/// from now), no Doorman trace (the origin's 404 passed through), and `main` on every other
/// path.
fn cloudflare_site(
    warp: &'static str,
    ts_offset_s: i64,
    main: impl Fn() -> Reply + Send + Sync + 'static,
) -> impl Fn(&Asked) -> Reply + Send + Sync + 'static {
    move |asked: &Asked| {
        let date = http_date(0);
        match asked.path() {
            "/cdn-cgi/trace" => Reply::new(
                200,
                &[
                    ("content-type", "text/plain"),
                    ("server", "cloudflare"),
                    ("cf-ray", "8a1b2c3d4e5f0002-AMS"),
                    ("date", &date),
                ],
                cloudflare_trace("203.0.113.7", "NL", warp, ts_offset_s),
            ),
            "/.well-known/doorman/trace" => Reply::new(
                404,
                &[
                    ("content-type", "text/html"),
                    ("server", "cloudflare"),
                    ("cf-ray", "8a1b2c3d4e5f0001-AMS"),
                    ("date", &date),
                ],
                "<html><body>Not found</body></html>",
            ),
            _ => main(),
        }
    }
}

fn blocked_1020() -> Reply {
    Reply::new(
        403,
        &[
            ("content-type", "text/html; charset=UTF-8"),
            ("server", "cloudflare"),
            ("cf-ray", &format!("{MAIN_RAY}-AMS")),
            ("date", &http_date(0)),
        ],
        cloudflare_error_page(1020, "Access denied", MAIN_RAY),
    )
}

#[tokio::test]
async fn a_1020_on_warp_is_a_firewall_rule_and_the_vpn_is_named() {
    let addr = http_server(cloudflare_site("on", 0, blocked_1020))
        .await
        .unwrap();
    let r = run(opts(&format!("http://{addr}/account"))).await;
    let text = render_text(&r);
    assert_eq!(first_failure(&r), Some("http"), "{text}");

    // The trace step reads Cloudflare's trace.
    let trace = r.step("trace").unwrap();
    assert_eq!(trace.status, Status::Ok, "{text}");
    assert!(
        trace
            .fact_value("source")
            .unwrap()
            .contains("/cdn-cgi/trace"),
        "{text}"
    );
    assert_eq!(trace.fact_value("your IP as seen"), Some("203.0.113.7"));
    assert_eq!(trace.fact_value("country"), Some("NL"));
    assert_eq!(trace.fact_value("Cloudflare data centre"), Some("AMS"));
    assert_eq!(trace.fact_value("HTTP"), Some("http/2"));
    assert_eq!(trace.fact_value("TLS"), Some("TLSv1.3"));
    assert!(
        trace.fact_value("WARP").unwrap().starts_with("on"),
        "{text}"
    );
    assert!(trace.fact_value("note").unwrap().contains("VPN"), "{text}");

    // The clock is read from `ts`, the most precise reading.
    let clock = r.step("clock").unwrap();
    assert_eq!(clock.status, Status::Ok, "{text}");
    assert!(
        clock
            .fact_value("measured from")
            .unwrap()
            .starts_with("ts of GET /cdn-cgi/trace"),
        "{text}"
    );

    // The HTTP step names the code, what it means for this client, whose side, the Ray ID.
    let http = r.step("http").unwrap();
    assert_eq!(
        http.fact_value("cloudflare error"),
        Some("1020 (access denied by a firewall rule)")
    );
    let fix = http.fix.as_deref().unwrap();
    assert!(
        fix.starts_with(
            "Cloudflare error 1020 (access denied by a firewall rule): a firewall rule of the site blocked you; your IP 203.0.113.7 is on a VPN (warp=on)"
        ),
        "{fix}"
    );
    assert!(fix.contains("Try again without the VPN"), "{fix}");
    assert!(fix.contains("rule of the site's owner"), "{fix}");
    assert!(fix.contains(&format!("Quote Ray ID {MAIN_RAY}")), "{fix}");

    // Every Ray ID, once: the page's is the main answer's header without the data centre.
    assert_eq!(
        r.ray_ids,
        [
            format!("{MAIN_RAY}-AMS"),
            "8a1b2c3d4e5f0001-AMS".to_owned(),
            "8a1b2c3d4e5f0002-AMS".to_owned()
        ]
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["ray_ids"][0], format!("{MAIN_RAY}-AMS"));
    assert_eq!(json["first_failure"], "http");
    assert!(
        text.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("first failure: HTTP (http) — Cloudflare error 1020"),
        "{text}"
    );
}

#[tokio::test]
async fn a_1020_without_a_vpn_suggests_trying_without_one_and_a_page_ray_is_kept() {
    // No cf-ray header on the page: the Ray ID comes from the page alone.
    let addr = http_server(cloudflare_site("off", 0, || {
        Reply::new(
            403,
            &[("content-type", "text/html"), ("server", "cloudflare")],
            cloudflare_error_page(1020, "Access denied", "0123456789abcdef"),
        )
    }))
    .await
    .unwrap();
    let r = run(opts(&format!("http://{addr}/"))).await;
    let http = r.step("http").unwrap();
    let fix = http.fix.as_deref().unwrap();
    assert!(
        fix.contains("a firewall rule of the site blocked you (your IP as seen: 203.0.113.7)"),
        "{fix}"
    );
    assert!(
        fix.contains("If you use a VPN or proxy, try without it"),
        "{fix}"
    );
    assert!(fix.contains("Quote Ray ID 0123456789abcdef"), "{fix}");
    assert_eq!(http.fact_value("ray id (page)"), Some("0123456789abcdef"));
    assert!(r.ray_ids.contains(&"0123456789abcdef".to_owned()));
    assert_eq!(r.step("trace").unwrap().fact_value("WARP"), Some("off"));
}

#[tokio::test]
async fn cloudflare_time_ten_minutes_behind_means_your_clock_is_fast() {
    // The Date header is right; `ts`, the precise reading, is ten minutes behind.
    let addr = http_server(cloudflare_site("off", -600, || {
        Reply::new(
            200,
            &[
                ("server", "cloudflare"),
                ("cf-ray", "8a1b2c3d4e5f0003-AMS"),
                ("date", &http_date(0)),
            ],
            "hello",
        )
    }))
    .await
    .unwrap();
    let r = run(opts(&format!("http://{addr}/"))).await;
    let text = render_text(&r);
    assert_eq!(first_failure(&r), Some("clock"), "{text}");
    let clock = r.step("clock").unwrap();
    assert!(
        clock
            .fix
            .as_deref()
            .unwrap()
            .starts_with("your clock is 10 minutes fast"),
        "{text}"
    );
    assert!(
        clock
            .fact_value("measured from")
            .unwrap()
            .starts_with("ts of GET /cdn-cgi/trace"),
        "{text}"
    );
    assert_eq!(r.step("http").unwrap().status, Status::Ok, "{text}");
}

#[tokio::test]
async fn a_1015_in_plain_text_is_a_rate_limit_with_the_wait() {
    // Cloudflare answers tools (not browsers) with one line of text.
    let addr = http_server(cloudflare_site("off", 0, || {
        Reply::new(
            429,
            &[
                ("content-type", "text/plain; charset=UTF-8"),
                ("server", "cloudflare"),
                ("cf-ray", "8a1b2c3d4e5f1015-FRA"),
                ("retry-after", "30"),
            ],
            "error code: 1015",
        )
    }))
    .await
    .unwrap();
    let r = run(opts(&format!("http://{addr}/api"))).await;
    let text = render_text(&r);
    assert_eq!(first_failure(&r), Some("http"), "{text}");
    let fix = r.step("http").unwrap().fix.clone().unwrap();
    assert!(
        fix.starts_with("Cloudflare error 1015 (you are being rate limited): the site's rate limit counts too many requests from your IP 203.0.113.7"),
        "{fix}"
    );
    assert!(fix.contains("Wait 30 s before trying again"), "{fix}");
    assert!(fix.contains("The fix is on your side."), "{fix}");
    assert!(fix.contains("Quote Ray ID 8a1b2c3d4e5f1015-FRA"), "{fix}");
    assert!(r.ray_ids.contains(&"8a1b2c3d4e5f1015-FRA".to_owned()));
}

#[tokio::test]
async fn a_522_is_the_sites_fault() {
    let addr = http_server(cloudflare_site("off", 0, || {
        Reply::new(
            522,
            &[
                ("content-type", "text/html"),
                ("server", "cloudflare"),
                ("cf-ray", "8a1b2c3d4e5f0522-LHR"),
            ],
            cloudflare_error_page(522, "Connection timed out", "8a1b2c3d4e5f0522"),
        )
    }))
    .await
    .unwrap();
    let r = run(opts(&format!("http://{addr}/"))).await;
    let text = render_text(&r);
    assert_eq!(first_failure(&r), Some("http"), "{text}");
    let http = r.step("http").unwrap();
    assert_eq!(
        http.fact_value("cloudflare error"),
        Some("522 (connection timed out)")
    );
    let fix = http.fix.as_deref().unwrap();
    assert!(
        fix.starts_with("Cloudflare error 522 (connection timed out): Cloudflare could not connect to the site's server in time"),
        "{fix}"
    );
    assert!(
        fix.contains("The fault is on the site's side: nothing on your side will fix it."),
        "{fix}"
    );
    assert!(fix.contains("Quote Ray ID 8a1b2c3d4e5f0522"), "{fix}");
    // No status page is known, so there is no status step and nothing explains the failure.
    assert!(r.step("status").is_none(), "{text}");
    assert_eq!(r.explained_by, None);
}

#[tokio::test]
async fn a_site_not_behind_cloudflare_is_not_asked_for_its_trace() {
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    let addr = http_server(move |a| {
        seen.lock().unwrap().push(a.path().to_owned());
        Reply::new(403, &[("content-type", "text/html")], "error code: 1020")
    })
    .await
    .unwrap();
    let r = run(opts(&format!("http://{addr}/"))).await;
    assert!(!asked.lock().unwrap().iter().any(|p| p == "/cdn-cgi/trace"));
    let http = r.step("http").unwrap();
    assert_eq!(http.fact_value("cloudflare error"), None);
    assert_eq!(
        http.fix.as_deref(),
        Some("the site refuses this request; ask its operator why")
    );
}

#[tokio::test]
async fn a_doorman_receipt_passing_through_cloudflare_stays_doormans() {
    let addr = http_server(cloudflare_site("off", 0, || {
        Reply::new(
            403,
            &[
                ("content-type", "application/problem+json"),
                ("server", "cloudflare"),
                ("cf-ray", "8a1b2c3d4e5f0403-AMS"),
                ("doorman-ray", "00000000000000dd-test"),
                ("doorman-code", "1020"),
            ],
            r#"{"type":"urn:doorman:error:1020","title":"Blocked by a firewall rule","status":403,"code":"1020","remedies":["Ask the site's owner to allow you."]}"#,
        )
    }))
    .await
    .unwrap();
    let r = run(opts(&format!("http://{addr}/"))).await;
    let http = r.step("http").unwrap();
    assert_eq!(http.fact_value("cloudflare error"), None);
    assert_eq!(
        http.fix.as_deref(),
        Some(
            "Ask the site's owner to allow you. If you contact the site's support, quote Ray ID 00000000000000dd-test."
        )
    );
}
