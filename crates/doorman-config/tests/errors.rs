//! Every error a config file can have is reported at the offending key or value, with all of a
//! file's errors coming out in one run, in file order.

mod common;

use common::{BASE, Dir, assert_error, at, errors_of, find, pos};
use doorman_config::Severity;

/// The acceptance case: a typo'd key and a badly typed value in one file both come out, each
/// at its line and column, in file order, in the compiler-like format.
#[test]
fn a_typo_and_a_bad_value_are_both_reported() {
    let text = r#"# Doorman
[server]
node_name = "edge-1"

[[listeners]]
addr = "0.0.0.0:8080"

[[upstreams]]
name = "chat"
targets = ["127.0.0.1:3000"]

[[routes]]
name = "chat"
uptsream = "chat"

[limits]
max_headers = 100
max_body_bytes = "10MB"
"#;
    let dir = Dir::new();
    let path = dir.write("doorman.toml", text);
    let d = doorman_config::load(&path).unwrap_err();
    let file = path.display().to_string();
    let expected = format!(
        "{file}:14:1: error: unknown key `uptsream` in [[routes]]\n  \
hint: did you mean `upstream`? (valid keys: name, hosts, path_prefix, upstream, access, allow_networks, title, reason, remedies, disclosure, auth, ambiguous_paths, upgrades)\n\
{file}:18:18: error: invalid value for `max_body_bytes`: expected a non-negative integer, found string \"10MB\"\n  \
hint: write the size in bytes, e.g. 10485760\n\
{file}: 2 errors; the file was not loaded"
    );
    assert_eq!(d.to_string(), expected);
    // The typo'd key is not reported a second time as a missing `upstream`, and the upstream
    // the broken route probably used is not called unused.
    assert_eq!(d.items.len(), 2);
}

#[test]
fn many_errors_of_every_stage_come_out_in_file_order() {
    let text = r#"[server]
node_name = "Edge_1"
colour = "blue"

[[listeners]]
addr = "localhost:8080"

[limits]
max_headers = -1

[[upstreams]]
name = "app"
targets = ["http://127.0.0.1:3000"]

[[routes]]
name = "app"
upstream = "ap"
access = "shut"
"#;
    let d = errors_of(text);
    let lines: Vec<usize> = d.errors().map(|e| at(e).0).collect();
    assert_eq!(lines, vec![2, 3, 6, 9, 13, 17, 18], "{d}");
}

#[test]
fn unknown_keys_suggest_the_nearest_or_the_right_section() {
    let text = format!("{BASE}\n[server]\nmax_body_bytes = 5\n");
    assert_error(
        &text,
        "unknown key `max_body_bytes` in [server]",
        "max_body_bytes",
        Some("`max_body_bytes` belongs in [limits]"),
    );

    let text = format!("{BASE}\n[servr]\nnode_name = \"a\"\n");
    assert_error(
        &text,
        "unknown key `servr` at the top level",
        "servr",
        Some("did you mean `server`?"),
    );

    let text = format!("{BASE}\n[limits]\nmax-headers = 5\n");
    assert_error(
        &text,
        "unknown key `max-headers`",
        "max-headers",
        Some("`max_headers`"),
    );

    let text = "[[listeners]]\naddr = \"127.0.0.1:1\"\ntls = { cert = \"c.pem\" }\n";
    let e = assert_error(
        text,
        "unknown key `cert` in [listeners.tls]",
        "cert =",
        None,
    );
    assert!(e.hint.unwrap().contains("cert_file"));
}

#[test]
fn several_unknown_keys_in_one_table_are_all_reported() {
    let text = "[server]\nnode = \"a\"\ndatadir = \"b\"\nwatch = true\n";
    let d = errors_of(text);
    for key in ["node", "datadir", "watch"] {
        let e = find(&d.items, Severity::Error, &format!("unknown key `{key}`"));
        assert_eq!(at(e), pos(text, &format!("{key} =")));
    }
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    let text = format!("{BASE}[server]\nwatch_config = \"yes\"\n");
    assert_error(
        &text,
        "invalid value for `watch_config`: expected true or false, found string \"yes\"",
        "\"yes\"",
        Some("without quotes"),
    );

    let text = format!("{BASE}[limits]\nheader_read_timeout_ms = \"2s\"\n");
    assert_error(
        &text,
        "expected a non-negative integer",
        "\"2s\"",
        Some("write the duration in milliseconds, e.g. 2000"),
    );

    let text = format!("{BASE}[limits]\nmax_headers = \"100\"\n");
    assert_error(&text, "max_headers", "\"100\"", Some("max_headers = 100"));

    let text = format!("{BASE}[limits]\nmax_headers = 1.5\n");
    assert_error(&text, "found float 1.5", "1.5", Some("whole number"));

    let text = format!("{BASE}[events]\nretention_days = -3\n");
    assert_error(&text, "found integer -3", "-3", Some("negative"));

    // An element of an array is pointed at, not the whole array.
    let text = BASE.replace(
        r#"targets = ["127.0.0.1:3000"]"#,
        r#"targets = ["127.0.0.1:3000", 3001]"#,
    );
    assert_error(
        &text,
        "invalid value for `targets`: expected a string, found integer 3001",
        "3001",
        Some("\"3001\""),
    );

    let text = BASE.replace(
        r#"name = "app"
upstream"#,
        r#"name = "app"
hosts = "example.com"
upstream"#,
    );
    assert_error(
        &text,
        "expected an array, found string",
        "\"example.com\"",
        Some(r#"hosts = ["example.com"]"#),
    );
}

#[test]
fn enum_values_list_the_choices() {
    let text = format!("{BASE}access = \"opn\"\n");
    assert_error(
        &text,
        "invalid value for `access`: expected one of \"open\", \"closed\", found \"opn\"",
        "\"opn\"",
        Some("did you mean \"open\"?"),
    );
    let text = format!("{BASE}[client_ip]\nsource = \"x-real-ip\"\n");
    assert_error(
        &text,
        "\"x-forwarded-for\", \"forwarded\", \"proxy-protocol\", \"none\"",
        "\"x-real-ip\"",
        None,
    );
    let text = format!("{BASE}[logging]\nformat = 1\n");
    assert_error(
        &text,
        "expected one of \"pretty\", \"json\", found integer 1",
        "1\n",
        Some("pretty, json"),
    );
}

#[test]
fn tables_written_with_the_wrong_brackets() {
    let text = "[listeners]\naddr = \"127.0.0.1:8080\"\n";
    let d = errors_of(text);
    // One error only: no extra "no listeners" for the table just reported.
    assert_eq!(d.errors().count(), 1, "{d}");
    let e = find(
        &d.items,
        Severity::Error,
        "invalid value for `listeners`: expected an array, found a table",
    );
    assert_eq!(at(e), (1, 1));
    assert!(e.hint.as_deref().unwrap().contains("[[listeners]]"));

    let text = format!("{BASE}[[server]]\nnode_name = \"a\"\n");
    let e = assert_error(
        &text,
        "invalid value for `server`: expected a table, found an array",
        "[[server]]",
        None,
    );
    assert!(e.hint.unwrap().contains("single brackets"));
}

#[test]
fn syntax_errors_have_positions_and_stop_the_check() {
    let text = "[[listeners]]\naddr = \"127.0.0.1:8080\"\n[[routes]]\nname = app\nupstream = \"x\n";
    let d = errors_of(text);
    let e = find(&d.items, Severity::Error, "unquoted value `app`");
    assert_eq!(at(e), pos(text, "app\n"));
    assert_eq!(
        e.hint.as_deref(),
        Some("text is written in quotes: \"app\"")
    );
    assert!(d.errors().count() >= 2, "{d}");
    // Nothing from later stages (the route's upstream is unknown, but that is not checked).
    assert!(
        d.items
            .iter()
            .all(|e| !e.message.contains("unknown upstream"))
    );

    let text = "[limits]\nmax_body_bytes = 10MB\n";
    let e = assert_error(text, "unquoted value `10MB`", "10MB", None);
    assert_eq!(
        e.hint.as_deref(),
        Some("write the size in bytes, e.g. 10485760")
    );

    let text = "[limits]\nmax_headers = 1\nmax_headers = 2\n";
    assert_error(
        text,
        "duplicate key `max_headers`",
        "max_headers = 2",
        Some("once per table"),
    );

    let text = "[limits]\n[limits]\n";
    let d = errors_of(text);
    let e = find(&d.items, Severity::Error, "duplicate table [limits]");
    assert_eq!(at(e), (2, 2));
}

#[test]
fn listeners_are_required_and_must_parse() {
    let text = "[[upstreams]]\nname = \"a\"\ntargets = [\"127.0.0.1:1\"]\n";
    let e = assert_error(
        text,
        "no [[listeners]]",
        "[[upstreams]]",
        Some("addr = \"0.0.0.0:8080\""),
    );
    assert_eq!(at(&e), (1, 1));

    let text = "[[listeners]]\nproxy_protocol = false\n";
    assert_error(
        text,
        "missing key `addr` in [[listeners]]",
        "[[listeners]]",
        None,
    );

    let text = "[[listeners]]\naddr = \"localhost:8080\"\n";
    assert_error(
        text,
        "invalid value for `addr`: `localhost:8080` is not an ip:port address",
        "\"localhost",
        Some("127.0.0.1:8080"),
    );

    let text = "[[listeners]]\naddr = \"0.0.0.0:8080\"\n[[listeners]]\naddr = \"127.0.0.1:8080\"\n";
    let e = assert_error(
        text,
        "listener address 127.0.0.1:8080 conflicts with 0.0.0.0:8080",
        "\"127.0.0.1:8080\"",
        None,
    );
    assert!(e.hint.unwrap().contains("line 2"));
}

#[test]
fn tls_files_must_exist_and_be_complete() {
    let text = "[[listeners]]\naddr = \"127.0.0.1:8443\"\ntls = { cert_file = \"nope/cert.pem\", key_file = \"nope/key.pem\" }\n";
    let dir = Dir::new();
    let d = dir.load(text).unwrap_err();
    let cert = find(
        &d.items,
        Severity::Error,
        "TLS certificate file `nope/cert.pem` does not exist",
    );
    assert_eq!(at(cert), pos(text, "\"nope/cert.pem\""));
    let expected_path = dir.path().join("nope/cert.pem");
    assert!(
        cert.message.contains(&expected_path.display().to_string()),
        "{cert}"
    );
    assert!(
        cert.hint
            .as_deref()
            .unwrap()
            .contains("config file's directory")
    );
    let key = find(
        &d.items,
        Severity::Error,
        "TLS private key file `nope/key.pem` does not exist",
    );
    assert_eq!(at(key), pos(text, "\"nope/key.pem\""));

    let text = "[[listeners]]\naddr = \"127.0.0.1:8443\"\n[listeners.tls]\ncert_file = \"c.pem\"\n";
    let dir = Dir::new();
    dir.write("c.pem", "x");
    let d = dir.load(text).unwrap_err();
    let e = find(
        &d.items,
        Severity::Error,
        "missing key `key_file` in the listener's tls table",
    );
    assert_eq!(at(e), pos(text, "[listeners.tls]"));

    let text = "[[listeners]]\naddr = \"127.0.0.1:8443\"\ntls = { cert_file = \".\", key_file = \"k.pem\" }\n";
    let dir = Dir::new();
    dir.write("k.pem", "x");
    let d = dir.load(text).unwrap_err();
    find(
        &d.items,
        Severity::Error,
        "TLS certificate file `.` is a directory",
    );
}

#[test]
fn upstream_errors() {
    let text = format!("{BASE}[[upstreams]]\nname = \"app\"\ntargets = [\"127.0.0.1:3001\"]\n");
    let e = assert_error(
        &text,
        "duplicate name `app` in [[upstreams]]",
        "\"app\"\ntargets = [\"127.0.0.1:3001\"]",
        None,
    );
    assert!(e.hint.unwrap().contains("line 5"));

    let text = BASE.replace(r#"targets = ["127.0.0.1:3000"]"#, "targets = []");
    assert_error(
        &text,
        "`targets` is empty",
        "[]",
        Some("at least one host:port"),
    );

    let text = BASE.replace("targets = [\"127.0.0.1:3000\"]\n", "");
    assert_error(
        &text,
        "missing key `targets` in [[upstreams]]",
        "[[upstreams]]",
        None,
    );

    let text = BASE.replace("127.0.0.1:3000", "http://app.internal:3000/");
    assert_error(
        &text,
        "`http://app.internal:3000/` is a URL, not host:port",
        "\"http://",
        Some("write \"app.internal:3000\""),
    );

    let text = BASE.replace("127.0.0.1:3000", "app.internal");
    assert_error(
        &text,
        "`app.internal` has no port",
        "\"app.internal\"",
        Some("app.internal:80"),
    );

    let text = BASE.replace("targets =", "connect_timeout_ms = 0\ntargets =");
    assert_error(
        &text,
        "invalid value for `connect_timeout_ms`: 0 would fail every request",
        "0\n",
        None,
    );

    let text = BASE.replace("name = \"app\"\ntargets", "targets");
    let d = errors_of(&text);
    let e = find(
        &d.items,
        Severity::Error,
        "missing key `name` in [[upstreams]]",
    );
    assert_eq!(at(e), pos(&text, "[[upstreams]]"));
    // With an upstream unnamed, the route's reference might be to it: no second error.
    assert_eq!(d.errors().count(), 1, "{d}");

    let text = BASE.replace("name = \"app\"\ntargets", "name = \"my app\"\ntargets");
    assert_error(&text, "`my app` is not a valid name", "\"my app\"", None);
}

#[test]
fn route_errors() {
    let text = BASE.replace("upstream = \"app\"", "upstream = \"apq\"");
    assert_error(
        &text,
        "unknown upstream `apq`",
        "\"apq\"",
        Some("did you mean `app`? (upstreams: app)"),
    );

    let text = BASE.replace("upstream = \"app\"", "upstream = \"zzzzzz\"");
    assert_error(
        &text,
        "unknown upstream `zzzzzz`",
        "\"zzzzzz\"",
        Some("upstreams: app"),
    );

    let text = BASE.replace("upstream = \"app\"\n", "");
    assert_error(
        &text,
        "missing key `upstream` in [[routes]]",
        "[[routes]]",
        None,
    );

    let text =
        format!("{BASE}\n[[routes]]\nname = \"app\"\nupstream = \"app\"\npath_prefix = \"/x\"\n");
    let e = assert_error(
        &text,
        "duplicate name `app` in [[routes]]",
        "\"app\"\nupstream = \"app\"\npath_prefix",
        None,
    );
    assert!(e.hint.unwrap().contains("line 9"));

    let text = BASE.replace("name = \"app\"\nupstream", "upstream");
    assert_error(
        &text,
        "missing key `name` in [[routes]]",
        "[[routes]]",
        None,
    );

    let text = format!("{BASE}hosts = [\"ok.example\", \"example.com:443\", \"*\"]\n");
    let d = errors_of(&text);
    let port = find(&d.items, Severity::Error, "`example.com:443` has a `:`");
    assert_eq!(at(port), pos(&text, "\"example.com:443\""));
    assert_eq!(
        port.hint.as_deref(),
        Some("hosts are matched without the port: write \"example.com\"")
    );
    let star = find(&d.items, Severity::Error, "`*` is not a host pattern");
    assert_eq!(at(star), pos(&text, "\"*\""));

    let text = format!("{BASE}path_prefix = \"api\"\n");
    assert_error(
        &text,
        "`api` does not start with `/`",
        "\"api\"",
        Some("\"/api\""),
    );

    let text = format!(
        "{BASE}allow_networks = [\"10.0.0.0/8\", \"10.0.0/8\"]\nreason = \"Office only.\"\n"
    );
    assert_error(
        &text,
        "invalid value for `allow_networks`: `10.0.0/8` is not an IP network",
        "\"10.0.0/8\"",
        Some("CIDR"),
    );
}

#[test]
fn denying_routes_need_a_reason() {
    let text = format!("{BASE}access = \"closed\"\n");
    assert_error(
        &text,
        "route `app` is closed but has no `reason`",
        "\"closed\"",
        Some("reason = "),
    );

    let text = format!("{BASE}allow_networks = [\"192.0.2.0/24\"]\n");
    assert_error(
        &text,
        "route `app` admits only some networks but has no `reason`",
        "[\"192.0.2.0/24\"]",
        None,
    );

    let text = format!("{BASE}access = \"closed\"\nreason = \"  \"\n");
    assert_error(&text, "has no `reason`", "\"  \"", None);
}

#[test]
fn server_admin_and_other_section_errors() {
    let text = format!("{BASE}[server]\nnode_name = \"edge_1.example\"\n");
    assert_error(
        &text,
        "`edge_1.example` is not a valid node name",
        "\"edge_1",
        Some("\"edge-1\""),
    );

    let text = format!("{BASE}[admin]\ntoken_file = \"t\"\ntoken_env = \"T\"\n");
    assert_error(
        &text,
        "`token_file` and `token_env` cannot both be set",
        "token_env",
        None,
    );

    let text = format!("{BASE}[admin]\ntoken_env = \"1TOKEN\"\n");
    assert_error(
        &text,
        "`1TOKEN` is not an environment variable name",
        "\"1TOKEN\"",
        None,
    );

    let text = format!("{BASE}[admin]\naddr = \"127.0.0.1:8080\"\n");
    let d = errors_of(&text);
    let e = find(
        &d.items,
        Severity::Error,
        "admin address 127.0.0.1:8080 conflicts with listener 127.0.0.1:8080",
    );
    assert_eq!(at(e), (12, 8));

    let text = format!("{BASE}[admin]\naddr = \"9090\"\n");
    assert_error(
        &text,
        "`9090` is not an ip:port address",
        "\"9090\"",
        Some("0.0.0.0:9090"),
    );

    let text = format!("{BASE}[limits]\nmax_connections = 0\n");
    assert_error(
        &text,
        "invalid value for `max_connections`: 0 would refuse every request",
        "0\n",
        None,
    );

    for (key, words) in [
        (
            "idle_timeout_ms",
            "0 would close every connection before its first request",
        ),
        (
            "max_connection_age_secs",
            "0 would close every connection as soon as it opens",
        ),
        (
            "max_requests_per_connection",
            "0 would close every connection before its first request",
        ),
    ] {
        let text = format!("{BASE}[limits]\n{key} = 0\n");
        assert_error(
            &text,
            &format!("invalid value for `{key}`: {words}"),
            "0\n",
            None,
        );
    }

    let text = format!("{BASE}[client_ip]\ntrusted_proxies = [\"10.0.0.0/8\", \"my-lb\"]\n");
    assert_error(&text, "`my-lb` is not an IP network", "\"my-lb\"", None);

    let text = format!("{BASE}[forwarding]\nray_header = \"x forwarded\"\n");
    assert_error(
        &text,
        "`x forwarded` is not a valid header name",
        "\"x forwarded\"",
        None,
    );

    let text = format!("{BASE}[forwarding]\nray_header = \"Host\"\n");
    assert_error(&text, "`Host` is a standard header", "\"Host\"", None);

    let text = format!("{BASE}[site]\nname = \"\"\nstatus_page_url = \"status.example.com\"\n");
    let d = errors_of(&text);
    find(
        &d.items,
        Severity::Error,
        "invalid value for `name`: an empty name",
    );
    let url = find(
        &d.items,
        Severity::Error,
        "`status.example.com` is not an http(s) URL",
    );
    assert_eq!(at(url), pos(&text, "\"status.example.com\""));

    let text = format!("{BASE}[logging]\nlevel = \"info,doorman=verbose\"\n");
    assert_error(
        &text,
        "`verbose` in `info,doorman=verbose` is not a log level",
        "\"info,",
        None,
    );

    let text = format!("{BASE}[events]\nbatch_size = 0\n");
    assert_error(
        &text,
        "invalid value for `batch_size`: 0 would drop every event",
        "0\n",
        None,
    );

    let dir = Dir::new();
    dir.write("data", "a file, not a directory");
    let d = dir
        .load(&format!("{BASE}[server]\ndata_dir = \"data\"\n"))
        .unwrap_err();
    find(&d.items, Severity::Error, "exists and is not a directory");
}

#[test]
fn unreadable_files_are_reported_without_a_position() {
    let dir = Dir::new();
    let path = dir.path().join("missing.toml");
    let d = doorman_config::load(&path).unwrap_err();
    assert_eq!(d.items.len(), 1);
    let e = &d.items[0];
    assert!(e.position.is_none());
    assert!(e.message.starts_with("cannot read the config file"), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}: error: ", path.display()))
    );
}

#[test]
fn a_hopeless_file_stops_after_max_errors() {
    let mut text = String::from("[server]\n");
    for i in 0..150 {
        text.push_str(&format!("k{i} = 1\n"));
    }
    let d = errors_of(&text);
    assert!(d.truncated);
    assert_eq!(d.errors().count(), doorman_config::MAX_ERRORS);
    assert!(d.to_string().ends_with(
        "100 errors (checking stopped there: is this the right file?); the file was not loaded"
    ));
}

#[test]
fn dates_are_named_as_dates() {
    let text = format!("{BASE}[site]\nname = 2024-01-01\n");
    assert_error(
        &text,
        "invalid value for `name`: expected a string, found date-time 2024-01-01",
        "2024",
        None,
    );
}

#[test]
fn a_badly_typed_array_element_does_not_hide_the_others() {
    // The element of the wrong type is cut out alone, so the bad target after it is still
    // checked in the same run; the array is not then called empty or missing.
    let text = BASE.replace(
        "targets = [\"127.0.0.1:3000\"]",
        "targets = [\"127.0.0.1:3000\", 8080, \"http://app:3000\"]",
    );
    let d = errors_of(&text);
    let lines: Vec<(usize, usize)> = d.errors().map(at).collect();
    assert_eq!(
        lines,
        vec![pos(&text, "8080,"), pos(&text, "\"http://app:3000\"")],
        "{d}"
    );
    find(
        &d.items,
        Severity::Error,
        "invalid value for `targets`: expected a string, found integer 8080",
    );

    // A lone bad element still takes the whole key, without a second "missing" error.
    let text = BASE.replace("[\"127.0.0.1:3000\"]", "[8080]");
    let d = errors_of(&text);
    assert_eq!(d.errors().count(), 1, "{d}");
}

#[test]
fn status_page_mistakes_point_at_their_value() {
    let with = |s: &str| format!("{BASE}\n{s}");
    assert_error(
        &with("[status]\npath = \"/\"\n"),
        "would hide the whole site",
        "\"/\"",
        Some("\"/status\""),
    );
    assert_error(
        &with(
            "[status]\npath = \"/status\"\n[[status.components]]\nid = \"api\"\nupstreams = [\"aap\"]\n",
        ),
        "there is no upstream `aap`",
        "\"aap\"",
        Some("did you mean `app`?"),
    );
    assert_error(
        &with(
            "[[access_rules]]\nid = \"vpn\"\nasn = 64500\naction = \"challenge\"\n[status]\npath = \"/status\"\n[[status.mitigations]]\nrule = \"vnp\"\n",
        ),
        "no access rule, custom rule or rate limit has the id `vnp`",
        "\"vnp\"",
        Some("did you mean `vpn`?"),
    );
    assert_error(
        &with(
            "[status]\npath = \"/status\"\n[[status.components]]\nname = \"API\"\nupstreams = [\"app\"]\n",
        ),
        "missing key `id` in [[status.components]]",
        "[[status.components]]",
        None,
    );
}

#[test]
fn a_status_page_defaults_to_one_component_per_upstream_and_links_receipts() {
    let loaded = common::loaded(&format!(
        "{BASE}\n[[access_rules]]\nid = \"vpn\"\nasn = \"AS64500\"\naction = \"challenge\"\n[status]\npath = \"/status/\"\n[[status.mitigations]]\nrule = \"vpn\"\n"
    ));
    let s = loaded.config.server.status.expect("status on");
    assert_eq!(s.path, "/status");
    assert_eq!(s.title, "Doorman status");
    assert_eq!(s.components.len(), 1);
    assert_eq!(s.components[0].id, "app");
    assert_eq!(s.components[0].upstreams, ["app"]);
    assert_eq!(
        s.mitigations,
        [(
            "rule:vpn".to_owned(),
            "Challenge for visitors from network AS64500".to_owned()
        )]
    );
    assert_eq!(
        loaded.config.policy.site.status_page_url.as_deref(),
        Some("/status")
    );

    // With health checks on some upstreams, only those are components.
    let loaded = common::loaded(&format!(
        "{BASE}
[[upstreams]]
name = \"api\"
targets = [\"127.0.0.1:3001\"]
health_check = {{ path = \"/healthz\" }}
[[routes]]
name = \"api\"
path_prefix = \"/api\"
upstream = \"api\"
[status]
path = \"/status\"
"
    ));
    let ids: Vec<String> = loaded
        .config
        .server
        .status
        .unwrap()
        .components
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["api"]);
}

#[test]
fn a_zero_slowness_threshold_is_refused() {
    assert_error(
        &format!("{BASE}\n[status]\npath = \"/status\"\ndegraded_above_ms = 0\n"),
        "invalid value for `degraded_above_ms`: 0 ms",
        "0\n",
        Some("1500"),
    );
}

#[test]
fn a_value_with_newlines_is_quoted_on_one_line() {
    let text =
        format!("{BASE}\n[[lists]]\nname = \"\"\"bad\nname\"\"\"\nkind = \"ip\"\nitems = []\n");
    let d = errors_of(&text);
    let e = find(
        &d.items,
        doorman_config::Severity::Error,
        "not a valid list name",
    );
    assert!(e.message.contains("`bad\\nname`"), "{e}");
    assert_eq!(
        e.to_string().lines().count(),
        2,
        "message and hint, a line each: {e}"
    );
}

#[test]
fn a_provider_that_fails_to_load_is_the_one_error_not_the_routes_naming_it() {
    let text = r#"[[routes]]
name = "app"
upstream = "app"
auth = { methods = ["jwt:main"] }

[[listeners]]
addr = "127.0.0.1:8080"

[[upstreams]]
name = "app"
targets = ["127.0.0.1:3000"]

[[jwt_providers]]
name = "main"
issuer = "https://auth.example.com/"
audiences = ["app"]
jwks_url = "http://auth.example.com/jwks.json"
"#;
    let d = errors_of(text);
    let errors: Vec<_> = d.errors().collect();
    assert_eq!(errors.len(), 1, "{d}");
    assert!(
        errors[0]
            .message
            .contains("plain http:// is allowed only for loopback"),
        "{d}"
    );
    assert_eq!(
        at(errors[0]),
        pos(text, "\"http://auth.example.com"),
        "at the URL itself"
    );
}

#[test]
fn names_from_other_tools_are_suggested() {
    let text = format!(
        "{BASE}\n[[rate_limits]]\nid = \"x\"\nexpression = \"true\"\ncharacteristics = [\"ip.source\"]\nrequests_per_period = 10\nperiod_secs = 10\n"
    );
    let d = errors_of(&text);
    let e = find(
        &d.items,
        doorman_config::Severity::Error,
        "`ip.source` is not a characteristic",
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("did you mean `ip.src`?"),
        "{e}"
    );
}

#[test]
fn access_log_values_are_checked_where_written() {
    let text = format!("{BASE}\n[access_log]\nsample_allowed = 1.5\n");
    assert_error(
        &text,
        "invalid value for `sample_allowed`: 1.5 is not a fraction between 0.0 and 1.0",
        "1.5",
        Some("0.0 only denials"),
    );
    let text = format!("{BASE}\n[access_log]\nqueue_capacity = 0\n");
    assert_error(
        &text,
        "invalid value for `queue_capacity`: 0 would drop every line",
        "0\n",
        None,
    );
    let text = format!("{BASE}\n[access_log]\npath = \"\"\n");
    assert_error(
        &text,
        "invalid value for `path`: an empty path",
        "\"\"",
        None,
    );
    let text = format!("{BASE}\n[access_log]\npath = \".\"\n");
    assert_error(&text, "is a directory", "\".\"", None);
    let text = format!("{BASE}\n[access_log]\nformat = \"common\"\n");
    assert_error(
        &text,
        "invalid value for `format`: expected one of \"json\", \"combined\", found \"common\"",
        "\"common\"",
        None,
    );
}
