//! The challenge page and the API answer: self-contained, escaped, CSP-compatible, and saying
//! the right thing after a loop.

use doorman_challenge::{
    ClearanceRejection, LoopHint, PageInput, Prefix, api_answer, csp, new_nonce, page,
};

fn input<'a>(nonce: &'a str) -> PageInput<'a> {
    PageInput {
        nonce,
        token: "v1.k1.AQID.BAUG",
        difficulty: 16,
        submit_path: "/.doorman/challenge",
        return_to: "/chat?room=1&x=2",
        site_name: "chat.example",
        ray_id: "8f3a2b1c4d5e6f70-fra1",
        server_time_ms: 1_800_000_000_000,
        clock_skew_allowed_s: 120,
        marker_cookie_name: "doorman_challenge_passed",
        previous_attempt: None,
        clearance_problem: None,
    }
}

#[test]
fn self_contained_with_nonce_and_no_external_references() {
    let nonce = new_nonce();
    let html = page(&input(&nonce));
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external reference"
    );
    assert!(
        !html.contains("src=") && !html.contains("href=\"//"),
        "external file"
    );
    // Exactly one script and one style, both with this response's nonce; no inline handlers
    // or style attributes, which the CSP would block.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(&format!("<script nonce=\"{nonce}\">")));
    assert!(html.contains(&format!("<style nonce=\"{nonce}\">")));
    for forbidden in [
        " onclick=",
        " onload=",
        " style=\"",
        "eval(",
        "new Function",
    ] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    // The worker is made from a Blob and hashes with crypto.subtle.
    assert!(
        html.contains("new Worker(")
            && html.contains("new Blob(")
            && html.contains("crypto.subtle")
    );
    // Data for the script, escaped.
    assert!(html.contains("data-token=\"v1.k1.AQID.BAUG\""));
    assert!(html.contains("data-return-to=\"/chat?room=1&amp;x=2\""));
    assert!(html.contains("data-server-ms=\"1800000000000\""));
    assert!(html.contains("about 65,536 attempts"));
    assert!(html.contains("<noscript>") && html.contains("needs JavaScript"));
    assert!(!html.contains("data-wait"), "a first visit starts at once");
    assert!(html.len() < 16_000, "{} bytes", html.len());
}

#[test]
fn the_csp_is_exact() {
    assert_eq!(
        csp("AbC-_1"),
        "default-src 'none'; script-src 'nonce-AbC-_1'; style-src 'nonce-AbC-_1'; worker-src blob:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
}

#[test]
fn hostile_inputs_are_escaped() {
    let mut i = input("n\"><script>alert(1)</script>");
    i.site_name = "</script><script>alert(1)</script>";
    i.token = "\"><img src=x onerror=alert(1)>";
    i.ray_id = "<b>ray</b>";
    i.return_to = "javascript:alert(1)";
    i.submit_path = "//evil.example/steal";
    let html = page(&i);
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert_eq!(html.matches("</script>").count(), 1);
    assert!(!html.contains("<img"));
    assert!(!html.contains("<b>ray"));
    assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("data-return-to=\"/\""));
    assert!(html.contains("data-submit=\"/\""));
    assert!(!html.contains("evil.example"));
    // The nonce keeps only nonce characters.
    assert!(html.contains("<script nonce=\"nscriptalert1/script\">"));
}

#[test]
fn after_a_loop_the_page_says_what_is_wrong_and_waits() {
    let mut i = input("n");
    i.previous_attempt = Some(LoopHint {
        passed_at: 1_800_000_000,
        now: 1_800_000_020,
    });
    let html = page(&i);
    assert!(html.contains("data-wait=\"1\""));
    assert!(html.contains(
        "You passed the check 20 seconds ago, but your browser did not send the clearance cookie back: cookies are \
         blocked for this site, or an extension removes them. Allow cookies for chat.example"
    ));

    // Passed, came back with a clearance that is refused: the reason instead.
    let moved = ClearanceRejection::OtherNetwork {
        issued_for_prefix: Prefix::of("203.0.113.7".parse().unwrap(), 24),
        now_prefix: Prefix::of("198.51.100.7".parse().unwrap(), 24),
    };
    i.clearance_problem = Some(&moved);
    let html = page(&i);
    assert!(html.contains(
        "You passed the check 20 seconds ago, but the clearance your browser sent back is refused"
    ));
    assert!(html.contains(
        "issued to a different network (203.0.113.0/24); you now come from 198.51.100.0/24"
    ));

    // Without a hint, a refused clearance is explained and the check starts.
    i.previous_attempt = None;
    let expired = ClearanceRejection::Expired { at: 100, now: 280 };
    i.clearance_problem = Some(&expired);
    let html = page(&i);
    assert!(html.contains("Checking again: your clearance expired 3 minutes ago"));
    assert!(!html.contains("data-wait"));
}

#[test]
fn api_clients_get_problem_json_with_what_to_do() {
    let doc = api_answer(&input("n"));
    assert_eq!(doc["type"], "urn:doorman:error:CHALLENGE");
    assert_eq!(doc["code"], "CHALLENGE");
    assert_eq!(doc["status"], 403);
    assert_eq!(doc["ray_id"], "8f3a2b1c4d5e6f70-fra1");
    assert!(doc["remedies"][0].as_str().unwrap().contains("API key"));
    assert!(
        doc["remedies"][1]
            .as_str()
            .unwrap()
            .contains("POST token=…&counter=…")
    );
    assert_eq!(doc["challenge"]["token"], "v1.k1.AQID.BAUG");
    assert_eq!(doc["challenge"]["difficulty"], 16);
    assert_eq!(doc["challenge"]["expected_attempts"], 65_536);
    assert_eq!(doc["challenge"]["submit"]["path"], "/.doorman/challenge");
    assert!(doc.get("clearance").is_none());

    let mut i = input("n");
    let expired = ClearanceRejection::Expired { at: 100, now: 280 };
    i.clearance_problem = Some(&expired);
    let doc = api_answer(&i);
    assert_eq!(doc["clearance"]["code"], "CLEARANCE_EXPIRED");
    assert!(
        doc["detail"]
            .as_str()
            .unwrap()
            .contains("expired 3 minutes ago")
    );

    let mut i = input("n");
    i.previous_attempt = Some(LoopHint {
        passed_at: 10,
        now: 15,
    });
    let doc = api_answer(&i);
    assert!(doc["detail"].as_str().unwrap().contains("not sent back"));
    assert_eq!(doc["passed_at"], 10);
}
