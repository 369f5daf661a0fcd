//! The `doorman rules check|eval` contract, as docs/rules.md documents it, run through the
//! library functions the binary wires up.

use doorman_rules::cli::{CliError, check_command, eval_command, eval_command_reader};

#[test]
fn check_prints_the_normalized_expression() {
    assert_eq!(
        check_command("http.host==\"example.com\"&&not ip.src in {192.0.2.0/24}").unwrap(),
        "http.host eq \"example.com\" and not ip.src in {192.0.2.0/24}"
    );
    assert_eq!(
        check_command("(ip.src.country in {\"KP\" \"SY\"})").unwrap(),
        "ip.src.country in {\"KP\" \"SY\"}"
    );
}

#[test]
fn check_fails_with_exit_1_and_a_caret() {
    let e = check_command("ip.src == 192.0.2.0/24").unwrap_err();
    assert_eq!(e.exit_code(), 1);
    let text = e.to_string();
    assert!(text.contains("^^^^^^^^^^^^"), "{text}");
    assert!(
        text.contains("hint: a CIDR only goes inside a set: ip.src in {192.0.2.0/24}"),
        "{text}"
    );
}

#[test]
fn eval_prints_true_or_false() {
    let fields = r#"{"http.host":"example.com","ip.src":"192.0.2.7","ssl":true,"cf.edge.server_port":443,
                     "http.request.headers":{"accept":["text/html"]},"doorman.auth.scopes":["read"]}"#;
    assert!(
        eval_command(
            "http.host eq \"example.com\" and ip.src in {192.0.2.0/24}",
            fields
        )
        .unwrap()
    );
    assert!(!eval_command("not ssl", fields).unwrap());
    assert!(eval_command("any(doorman.auth.scopes[*] eq \"read\")", fields).unwrap());
    assert!(
        eval_command(
            "any(http.request.headers[\"accept\"][*] contains \"html\")",
            fields
        )
        .unwrap()
    );
    // An absent field is a missing value.
    assert!(!eval_command("http.referer eq \"x\"", fields).unwrap());
    assert!(eval_command("not http.referer eq \"x\"", fields).unwrap());
    // null is missing too.
    assert!(!eval_command("http.referer eq \"x\"", r#"{"http.referer":null}"#).unwrap());
}

#[test]
fn eval_reads_a_reader_such_as_stdin() {
    let input: &[u8] = br#"{"http.request.method":"POST"}"#;
    assert!(eval_command_reader("http.request.method eq \"POST\"", input).unwrap());
}

#[test]
fn eval_errors_exit_2() {
    let cases: &[(&str, &str, &str)] = &[
        ("http.host eq", "{}", "expected a string"),
        ("ssl", "not json", "invalid JSON"),
        ("ssl", "[1]", "expected a JSON object"),
        (
            "ssl",
            r#"{"ssl":"yes"}"#,
            "`ssl` is Boolean, but the value is a string",
        ),
        ("ssl", r#"{"ip.src":"nope"}"#, "is not an IP address"),
        (
            "ssl",
            r#"{"cf.edge.server_port":1.5}"#,
            "is not a 64-bit integer",
        ),
        (
            "ssl",
            r#"{"http.hots":"a"}"#,
            "unknown field `http.hots` (did you mean http.host?)",
        ),
        (
            "ssl",
            r#"{"ip.geoip.country":"FR","ip.src.country":"FR"}"#,
            "name the same field",
        ),
        (
            "ssl",
            r#"{"http.request.headers":{"a":"b"}}"#,
            "is a string",
        ),
    ];
    for (expr, fields, want) in cases {
        let e = eval_command(expr, fields).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{expr} {fields}");
        assert!(e.to_string().contains(want), "{expr} {fields}: {e}");
    }
    assert!(matches!(
        eval_command("ssl and", "{}"),
        Err(CliError::EvalInvalid(_))
    ));
}
