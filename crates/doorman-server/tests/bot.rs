//! Bot signals through the real server: a rule on `doorman.bot.score` with code 1010 answers
//! each kind of header inconsistency with its own plain-words reason and fix; a real browser's
//! headers pass.

use doorman_test_support::client::get;
use doorman_test_support::gateway::start;
use serde_json::Value;

const RULE: &str = r#"
[[rules]]
id = "browser-check"
title = "Browser check"
expression = 'cf.bot_management.score lt 50'
action = "block"
code = "1010"
"#;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";

#[tokio::test]
async fn each_inconsistency_gets_its_own_1010_reason_and_a_real_browser_passes() {
    let env = start(RULE).await;
    let url = env.url("/healthz");
    let browserish = [
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-US,en;q=0.5"),
        ("accept-encoding", "gzip, deflate"),
    ];
    // (signal, the request's own headers, words its reason must contain)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("ua_missing", vec![], "has no User-Agent header"),
        (
            "ua_scripted",
            vec![("user-agent", "curl/8.5.0")],
            "identifies itself as curl",
        ),
        (
            "ua_headless",
            vec![(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
            )],
            "HeadlessChrome",
        ),
        (
            "ua_truncated",
            vec![("user-agent", "Mozilla/5.0")],
            "lacks the platform and version details",
        ),
        (
            "firefox_with_client_hints",
            vec![
                ("user-agent", FIREFOX),
                (
                    "sec-ch-ua",
                    "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"",
                ),
            ],
            "which only Chromium-based browsers",
        ),
        (
            "automation_header",
            vec![
                ("user-agent", FIREFOX),
                ("x-devtools-emulate-network-conditions-client-id", "1"),
            ],
            "only browser-automation tools",
        ),
    ];
    for (signal, headers, words) in cases {
        let mut all: Vec<(&str, &str)> = browserish.to_vec();
        all.push(("accept", "application/json"));
        all.retain(|(k, v)| *k != "accept" || *v == "application/json");
        all.extend(headers);
        let (resp, body) = get(&url, &all).await;
        assert_eq!(resp.status(), 403, "{signal}");
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "1010", "{signal}: {json}");
        let detail = json["detail"].as_str().unwrap();
        assert!(detail.contains(words), "{signal}: {detail}");
        // The signal's internal id is for `doorman explain`; the person reads its words.
        assert!(
            !json.to_string().contains(signal),
            "{signal} is an internal id: {json}"
        );
        assert!(
            json["remedies"].as_array().is_some_and(|r| r.len() >= 2),
            "{signal}: a fix is given"
        );
    }

    // A real Firefox request (captured headers) raises nothing.
    let mut firefox: Vec<(&str, &str)> = browserish.to_vec();
    firefox.push(("user-agent", FIREFOX));
    let (resp, _) = get(&url, &firefox).await;
    assert_eq!(resp.status(), 200);
    env.stop().await;
}
