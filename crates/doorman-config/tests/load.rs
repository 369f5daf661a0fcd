//! Files that load: defaults, the compiled policy and server settings, path resolution,
//! warnings, the shipped example, and the `doorman check` report.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{BASE, Dir, at, find, loaded, pos};
use doorman_config::{AdminToken, LogFormat, Severity, TlsFiles};
use doorman_core::Disclosure;
use doorman_core::policy::{ForwardedSource, HostPattern};

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn a_minimal_file_gets_every_default() {
    let dir = Dir::new();
    let loaded = dir.load(BASE).expect("loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let s = &loaded.config.server;
    let p = &loaded.config.policy;

    assert_eq!(s.node_name, doorman_config::values::default_node_name());
    assert_eq!(&*p.node, s.node_name);
    assert_eq!(s.data_dir, dir.path().join("./doorman-data"));
    assert_eq!(s.shutdown_grace, Duration::from_secs(30));
    assert!(s.watch_config);

    assert_eq!(s.listeners.len(), 1);
    let l = &s.listeners[0];
    assert_eq!(l.addr, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(
        (l.tls.clone(), l.proxy_protocol, l.h2c),
        (None, false, true)
    );

    let admin = s.admin.as_ref().expect("admin on by default");
    assert_eq!(admin.addr, "127.0.0.1:9090".parse::<SocketAddr>().unwrap());
    assert_eq!(
        admin.token,
        AdminToken::File(s.data_dir.join("admin.token"))
    );

    assert_eq!(s.limits.max_header_bytes, 16_384);
    assert_eq!(s.limits.max_headers, 100);
    assert_eq!(s.limits.max_body_bytes, Some(10_485_760));
    assert_eq!(s.limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(s.limits.max_connections, 10_000);
    assert_eq!(s.limits.idle_timeout, Duration::from_secs(75));
    assert_eq!(s.limits.max_connection_age, Duration::from_secs(3600));
    assert_eq!(s.limits.max_requests_per_connection, 1000);

    assert!(
        s.forwarding.x_forwarded_for
            && s.forwarding.x_forwarded_proto
            && s.forwarding.x_forwarded_host
    );
    assert_eq!(s.forwarding.ray_header.as_str(), "doorman-ray");
    assert_eq!(s.logging.format, LogFormat::Pretty);
    assert_eq!(s.logging.level, "info");
    assert_eq!(s.events.queue_capacity, 10_000);
    assert_eq!(s.events.batch_size, 256);
    assert_eq!(s.events.retention_days, Some(30));
    assert_eq!(s.events.retention_rows, Some(1_000_000));

    assert_eq!(p.site.name, "Doorman");
    assert_eq!(p.site.support, None);
    assert_eq!(p.site.status_page_url, None);
    assert!(p.client_ip.trusted_proxies.is_empty());
    assert_eq!(p.client_ip.source, ForwardedSource::XForwardedFor);

    let u = &p.upstreams[0];
    assert_eq!(u.name, "app");
    assert_eq!(u.targets, vec!["127.0.0.1:3000".to_owned()]);
    assert_eq!(u.connect_timeout, Duration::from_secs(2));
    assert_eq!(u.response_timeout, Duration::from_secs(30));
    assert_eq!(u.idle_timeout, Duration::from_secs(90));
    assert_eq!(u.max_idle_per_target, 32);

    let r = &p.routes[0];
    assert_eq!(
        (r.name.as_str(), r.path_prefix.as_str(), r.upstream),
        ("app", "/", 0)
    );
    assert!(r.hosts.is_empty());
    assert!(r.access.closed.is_none() && r.access.allow_networks.is_none());
    assert_eq!(p.route_order, vec![0]);
}

#[test]
fn zeros_mean_unlimited_or_forever() {
    let text = format!(
        "{BASE}[limits]\nmax_body_bytes = 0\n[events]\nretention_days = 0\nretention_rows = 0\n"
    );
    let l = loaded(&text);
    assert_eq!(l.config.server.limits.max_body_bytes, None);
    assert_eq!(l.config.server.events.retention_days, None);
    assert_eq!(l.config.server.events.retention_rows, None);
}

#[test]
fn routes_compile_into_the_policy() {
    let text = r#"
[server]
node_name = "Edge-7"

[[listeners]]
addr = "[::1]:8080"

[client_ip]
trusted_proxies = ["10.0.0.0/8", "192.0.2.1"]
source = "forwarded"

[site]
name = "Example"
support = "help@example.com"
status_page_url = "https://status.example.com"

[[upstreams]]
name = "web"
targets = ["127.0.0.1:3000", "[::1]:3001"]
response_timeout_ms = 1500

[[upstreams]]
name = "api"
targets = ["api.internal:80"]

[[routes]]
name = "web"
upstream = "web"

[[routes]]
name = "api"
hosts = ["API.example.com", "*.api.example.com"]
path_prefix = "/v2"
upstream = "api"
allow_networks = ["203.0.113.0/24"]
title = "Partners only"
reason = "The API is open to partner networks."
remedies = ["Ask your account manager to add your network."]
disclosure = "private"

[[routes]]
name = "v1"
path_prefix = "/v1"
upstream = "api"
access = "closed"
reason = "v1 is retired."
"#;
    let l = loaded(text);
    let p = &l.config.policy;
    assert_eq!(&*p.node, "edge-7");
    assert_eq!(l.config.server.node_name, "edge-7");
    assert_eq!(p.client_ip.source, ForwardedSource::Forwarded);
    assert_eq!(
        p.client_ip.trusted_proxies,
        vec![
            "10.0.0.0/8".parse().unwrap(),
            "192.0.2.1/32".parse().unwrap()
        ]
    );
    assert_eq!(p.site.support.as_deref(), Some("help@example.com"));
    assert_eq!(
        p.site.status_page_url.as_deref(),
        Some("https://status.example.com")
    );
    assert_eq!(p.upstreams[0].response_timeout, Duration::from_millis(1500));
    assert_eq!(p.upstreams[0].targets.len(), 2);

    // Routes name upstreams in the file and hold their index in the policy.
    assert_eq!(
        p.routes.iter().map(|r| r.upstream).collect::<Vec<_>>(),
        vec![0, 1, 1]
    );
    assert_eq!(
        p.routes[1].hosts,
        vec![
            HostPattern::Exact("api.example.com".into()),
            HostPattern::Subdomains(".api.example.com".into())
        ]
    );
    let gate = p.routes[1].access.allow_networks.as_ref().expect("gate");
    assert_eq!(gate.networks, vec!["203.0.113.0/24".parse().unwrap()]);
    assert_eq!(gate.notice.title.as_deref(), Some("Partners only"));
    assert_eq!(gate.notice.reason, "The API is open to partner networks.");
    assert_eq!(gate.notice.remedies.len(), 1);
    assert_eq!(gate.notice.disclosure, Disclosure::Private);
    let closed = p.routes[2].access.closed.as_ref().expect("closed");
    assert_eq!(closed.reason, "v1 is retired.");
    assert_eq!(closed.disclosure, Disclosure::Public);

    // The core's order: host-specific first, then longest prefix.
    assert_eq!(p.route_order, vec![1, 2, 0]);
    assert_eq!(p.route_for("api.example.com", "/v2/x"), Some(1));
    assert_eq!(p.route_for("www.example.com", "/v1/users"), Some(2));
    assert_eq!(p.route_for("www.example.com", "/"), Some(0));
}

#[test]
fn relative_tls_paths_start_from_the_config_files_directory() {
    let dir = Dir::new();
    dir.write("conf/certs/cert.pem", "-----BEGIN CERTIFICATE-----\n");
    dir.write("conf/certs/key.pem", "-----BEGIN PRIVATE KEY-----\n");
    let absolute_key = dir.write("elsewhere/key.pem", "k");
    let text = format!(
        "[[listeners]]\naddr = \"127.0.0.1:8443\"\ntls = {{ cert_file = \"certs/cert.pem\", key_file = \"certs/key.pem\" }}\n\
[[listeners]]\naddr = \"127.0.0.1:9443\"\ntls = {{ cert_file = \"certs/cert.pem\", key_file = {:?} }}\n",
        absolute_key.display().to_string()
    );
    let path = dir.write("conf/doorman.toml", &text);
    let l = doorman_config::load(&path).expect("loads");
    let conf = dir.path().join("conf");
    assert_eq!(
        l.config.server.listeners[0].tls,
        Some(TlsFiles {
            cert_file: conf.join("certs/cert.pem"),
            key_file: conf.join("certs/key.pem"),
        })
    );
    assert_eq!(
        l.config.server.listeners[1].tls.as_ref().unwrap().key_file,
        absolute_key
    );

    // The same file from another directory does not load: the certs are not next to it.
    let moved = dir.write("other/doorman.toml", &text);
    let d = doorman_config::load(&moved).unwrap_err();
    assert_eq!(d.errors().count(), 3, "{d}");
}

#[test]
fn data_dir_and_admin_token_paths() {
    let dir = Dir::new();
    let text =
        format!("{BASE}[server]\ndata_dir = \"state\"\n[admin]\ntoken_file = \"secrets/t\"\n");
    let l = dir.load(&text).expect("loads");
    let data = dir.path().join("state");
    assert_eq!(l.config.server.data_dir, data);
    assert_eq!(
        l.config.server.admin.unwrap().token,
        AdminToken::File(data.join("secrets/t"))
    );

    let text = format!("{BASE}[admin]\ntoken_file = \"/etc/doorman/token\"\n");
    let l = loaded(&text);
    assert_eq!(
        l.config.server.admin.unwrap().token,
        AdminToken::File("/etc/doorman/token".into())
    );

    let text = format!("{BASE}[admin]\ntoken_env = \"DOORMAN_ADMIN_TOKEN\"\n");
    let l = loaded(&text);
    assert_eq!(
        l.config.server.admin.unwrap().token,
        AdminToken::Env("DOORMAN_ADMIN_TOKEN".into())
    );

    let text = format!("{BASE}[admin]\nenabled = false\naddr = \"127.0.0.1:8080\"\n");
    assert!(loaded(&text).config.server.admin.is_none());

    // The challenge keys: in the data directory by default; a path written is relative to the
    // config file's directory, as docs/config.md says of every path.
    let l = dir
        .load(&format!("{BASE}[server]\ndata_dir = \"state\"\n"))
        .expect("loads");
    assert_eq!(
        l.config.server.challenge.key_file,
        data.join("challenge.key")
    );
    let l = dir
        .load(&format!(
            "{BASE}[server]\ndata_dir = \"state\"\n[challenge]\nkey_file = \"keys/c.key\"\n"
        ))
        .expect("loads");
    assert_eq!(
        l.config.server.challenge.key_file,
        dir.path().join("keys/c.key")
    );
}

#[test]
fn warnings_do_not_stop_loading() {
    let text = format!(
        r#"{BASE}
[[listeners]]
addr = "0.0.0.0:443"
proxy_protocol = true

[admin]
addr = "0.0.0.0:9090"

[[upstreams]]
name = "spare"
targets = ["127.0.0.1:4000", "127.0.0.1:4000"]

[[routes]]
name = "again"
upstream = "app"
reason = "nobody is denied here"

[events]
queue_capacity = 10
batch_size = 20

[limits]
max_header_bytes = 1024
"#
    );
    let l = loaded(&text);
    let w = &l.warnings;
    let check = |needle: &str, at_text: &str| {
        let d = find(w, Severity::Warning, needle);
        assert_eq!(at(d), pos(&text, at_text), "{d}");
    };
    check(
        "listener 0.0.0.0:443 serves plain HTTP on port 443",
        "\"0.0.0.0:443\"",
    );
    check(
        "proxy_protocol is on, but client_ip.trusted_proxies is empty",
        "true\n\n[admin]",
    );
    check("the admin API listens on 0.0.0.0:9090", "\"0.0.0.0:9090\"");
    check("upstream `spare` is not used by any route", "\"spare\"");
    check(
        "target `127.0.0.1:4000` is listed twice",
        "\"127.0.0.1:4000\"]",
    );
    check(
        "route `again` is never used",
        "[[routes]]\nname = \"again\"",
    );
    check(
        "`reason` has no effect: route `again` turns nobody away",
        "reason = \"nobody",
    );
    check("batch_size (20) is larger than queue_capacity (10)", "20\n");
    check("max_header_bytes = 1024 is small", "1024");
    assert_eq!(w.len(), 9, "{w:#?}");
    // In file order.
    let lines: Vec<usize> = w.iter().map(|d| at(d).0).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn trust_and_network_warnings() {
    let text = format!(
        "{BASE}[client_ip]\ntrusted_proxies = [\"0.0.0.0/0\", \"10.1.2.3/8\"]\nsource = \"proxy-protocol\"\n"
    );
    let l = loaded(&text);
    let all = find(
        &l.warnings,
        Severity::Warning,
        "trusting 0.0.0.0/0 lets every client choose",
    );
    assert_eq!(at(all), pos(&text, "\"0.0.0.0/0\""));
    let bits = find(
        &l.warnings,
        Severity::Warning,
        "`10.1.2.3/8` has host bits set; it means 10.0.0.0/8",
    );
    assert_eq!(at(bits), pos(&text, "\"10.1.2.3/8\""));
    let pp = find(
        &l.warnings,
        Severity::Warning,
        "no listener has proxy_protocol = true",
    );
    assert_eq!(at(pp), pos(&text, "\"proxy-protocol\""));
    assert_eq!(
        l.config.policy.client_ip.trusted_proxies[1],
        "10.0.0.0/8".parse().unwrap()
    );

    let text =
        format!("{BASE}[client_ip]\ntrusted_proxies = [\"10.0.0.0/8\"]\nsource = \"none\"\n");
    let l = loaded(&text);
    find(&l.warnings, Severity::Warning, "ignores trusted_proxies");

    let l = loaded("[[listeners]]\naddr = \"127.0.0.1:1\"\n");
    let none = find(&l.warnings, Severity::Warning, "no [[routes]]");
    assert_eq!(at(none), (1, 1));
}

#[test]
fn the_shipped_example_loads_cleanly_and_shows_every_key() {
    let path = repo_file("examples/doorman.toml");
    let loaded = doorman_config::load(&path).unwrap_or_else(|d| panic!("{d}"));
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    assert!(!loaded.config.policy.routes.is_empty());

    let text = std::fs::read_to_string(&path).unwrap();
    for section in doorman_config::schema::sections() {
        for key in section.keys {
            assert!(
                shows_key(&text, key),
                "examples/doorman.toml does not show `{key}` of {}",
                section.display
            );
        }
    }
}

/// Whether `key = …` (possibly commented out, possibly inside an inline table) or a `[key]` /
/// `[[key]]` header appears in `text` as a whole word.
fn shows_key(text: &str, key: &str) -> bool {
    let assignment = format!("{key} =");
    let whole_word_at = |i: usize| {
        text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    };
    text.match_indices(&assignment)
        .any(|(i, _)| whole_word_at(i))
        || text.contains(&format!("[{key}]"))
        || text.contains(&format!("[[{key}]]"))
        // A sub-table written as its own header: `[[status.components]]`.
        || text.contains(&format!(".{key}]"))
}

#[test]
fn the_reference_documents_every_key() {
    let docs = std::fs::read_to_string(repo_file("docs/config.md")).expect("docs/config.md");
    for section in doorman_config::schema::sections() {
        if section.pattern.is_empty() {
            continue;
        }
        let heading = docs
            .lines()
            .position(|l| {
                l.starts_with('#')
                    && l.trim_start_matches('#').trim() == format!("`{}`", section.display)
            })
            .unwrap_or_else(|| panic!("docs/config.md has no heading for {}", section.display));
        let body: Vec<&str> = docs
            .lines()
            .skip(heading + 1)
            .take_while(|l| !l.starts_with('#'))
            .collect();
        for key in section.keys {
            assert!(
                body.iter().any(|l| l.starts_with(&format!("| `{key}` |"))),
                "docs/config.md's {} table has no row for `{key}`",
                section.display
            );
        }
    }
}

#[test]
fn check_report_formats_what_doorman_check_prints() {
    let dir = Dir::new();
    let ok = dir.write(
        "ok.toml",
        &format!("{BASE}[admin]\naddr = \"0.0.0.0:9090\"\n"),
    );
    let (text, success) = doorman_config::check_report(&ok);
    assert!(success);
    assert_eq!(
        text,
        format!(
            "{}:12:8: warning: the admin API listens on 0.0.0.0:9090, which other machines can reach\n  \
hint: use 127.0.0.1:9090 and reach it over SSH or a private network, unless a firewall guards it\n\
ok: 1 route, 1 upstream, 1 listener",
            ok.display()
        )
    );

    let example = repo_file("examples/doorman.toml");
    let (text, success) = doorman_config::check_report(&example);
    assert!(success);
    assert_eq!(
        text,
        "ok: 4 routes, 2 upstreams, 1 listener, 2 lists, 2 access rules, 1 rule, 2 rate limits, 1 JWT provider"
    );

    let bad = dir.write("bad.toml", &BASE.replace("127.0.0.1:8080", "nowhere"));
    let (text, success) = doorman_config::check_report(&bad);
    assert!(!success);
    assert_eq!(text, doorman_config::load(&bad).unwrap_err().to_string());
    assert!(
        text.starts_with(&format!(
            "{}:2:8: error: invalid value for `addr`",
            bad.display()
        )),
        "{text}"
    );
    assert!(text.ends_with("1 error; the file was not loaded"));
}

#[test]
fn load_str_names_the_file_it_was_given() {
    let text = BASE.replace("\"127.0.0.1:8080\"", "1");
    let err = doorman_config::load_str(&text, "conf/doorman.toml").unwrap_err();
    assert_eq!(err.file, "conf/doorman.toml");
    assert!(err.to_string().starts_with(
        "conf/doorman.toml:2:8: error: invalid value for `addr`: expected a string, found integer 1"
    ));
}

#[test]
fn reloading_the_same_file_gives_the_same_config() {
    // The server reloads by calling `load` again; a changed file must give the new values and a
    // broken one an error, leaving the caller's old config untouched.
    let dir = Dir::new();
    let path = dir.write("doorman.toml", BASE);
    let first = doorman_config::load(&path).unwrap();
    std::fs::write(&path, BASE.replace("127.0.0.1:3000", "127.0.0.1:3999")).unwrap();
    let second = doorman_config::load(&path).unwrap();
    assert_eq!(
        first.config.policy.upstreams[0].targets[0],
        "127.0.0.1:3000"
    );
    assert_eq!(
        second.config.policy.upstreams[0].targets[0],
        "127.0.0.1:3999"
    );
    std::fs::write(&path, "[[listeners]\n").unwrap();
    assert!(doorman_config::load(&path).is_err());
}

#[test]
fn normalization_and_route_request_forms() {
    use doorman_core::canonical::{AmbiguousPaths, NormalizationType, PathForward};
    let l = loaded(BASE);
    let p = &l.config.policy;
    assert_eq!(p.paths.normalization, NormalizationType::Cloudflare);
    assert_eq!(p.paths.forward, PathForward::Normalized);
    assert_eq!(p.paths.ambiguous, AmbiguousPaths::Refuse);
    assert!(p.routes[0].websocket);
    assert_eq!(p.routes[0].ambiguous_paths, AmbiguousPaths::Refuse);
    assert_eq!(
        l.config.server.limits.body_read_timeout,
        Duration::from_secs(30)
    );

    let text = format!(
        "{BASE}upgrades = []\nambiguous_paths = \"pass\"\n\n[normalization]\ntype = \"rfc3986\"\nforward = \"raw\"\n\n[limits]\nbody_read_timeout_ms = 1500\n"
    );
    let l = loaded(&text);
    let p = &l.config.policy;
    assert!(!p.routes[0].websocket);
    assert_eq!(p.routes[0].ambiguous_paths, AmbiguousPaths::PassRaw);
    assert_eq!(p.paths.normalization, NormalizationType::Rfc3986);
    assert_eq!(p.paths.forward, PathForward::Raw);
    assert_eq!(
        l.config.server.limits.body_read_timeout,
        Duration::from_millis(1500)
    );

    // The settings that open a way around a closed route are said so, at their value.
    let text = format!("{BASE}\n[normalization]\ntype = \"none\"\nambiguous_paths = \"pass\"\n");
    let l = loaded(&text);
    let none = find(&l.warnings, Severity::Warning, "walks around a closed");
    assert_eq!(at(none), pos(&text, "\"none\""));
    let pass = find(&l.warnings, Severity::Warning, "every route passes");
    assert_eq!(at(pass), pos(&text, "\"pass\""));
}

#[test]
fn route_prefixes_and_upgrades_are_checked() {
    let text = format!("{BASE}path_prefix = \"/a//b/./c\"\nupgrades = [\"websocket\", \"h2c\"]\n");
    let d = common::errors_of(&text);
    let prefix = find(&d.items, Severity::Error, "never matches a request");
    assert_eq!(at(prefix), pos(&text, "\"/a//b/./c\""));
    assert!(
        prefix.hint.as_deref().unwrap_or("").contains("`/a/b/c`"),
        "{prefix}"
    );
    let h2c = find(&d.items, Severity::Error, "`h2c` cannot be tunnelled");
    assert_eq!(at(h2c), pos(&text, "\"h2c\""));
    let text = format!("{BASE}\n[normalization]\ntype = \"strict\"\n");
    let d = common::errors_of(&text);
    let bad = find(&d.items, Severity::Error, "strict");
    assert!(
        bad.message
            .contains("\"cloudflare\", \"rfc3986\", \"none\""),
        "{bad}"
    );
}

#[test]
fn environment_variables_fill_string_values() {
    // HOME is set wherever tests run; setting a variable here would race other tests' threads.
    let home = std::env::var("HOME").expect("HOME is set");
    let text =
        format!("{BASE}\n[site]\nsupport = \"mail ${{HOME}}/help, price $$5, $${{HOME}}\"\n");
    let l = loaded(&text);
    assert_eq!(
        l.config.policy.site.support.as_deref(),
        Some(format!("mail {home}/help, price $$5, ${{HOME}}").as_str())
    );

    let text = format!("{BASE}\n[site]\nsupport = \"${{DOORMAN_TEST_SURELY_UNSET_9341}}\"\n");
    let d = common::errors_of(&text);
    let e = find(&d.items, Severity::Error, "DOORMAN_TEST_SURELY_UNSET_9341");
    assert_eq!(
        e.message,
        "environment variable `DOORMAN_TEST_SURELY_UNSET_9341` is not set"
    );
    assert_eq!(at(e), pos(&text, "\"${DOORMAN_TEST_SURELY_UNSET_9341}\""));
}

#[test]
fn the_access_log_is_off_unless_its_table_is_there() {
    use doorman_config::{AccessLogDestination, AccessLogFormat};
    assert!(loaded(BASE).config.server.access_log.is_none());

    let dir = Dir::new();
    let l = dir.load(&format!("{BASE}[access_log]\n")).expect("loads");
    let a = l.config.server.access_log.expect("on");
    assert_eq!(a.destination, AccessLogDestination::Stdout);
    assert_eq!(a.format, AccessLogFormat::Json);
    assert_eq!(a.sample_allowed, 1.0);
    assert_eq!(a.queue_capacity, 16_384);

    // A file is relative to the config file's directory, like every path.
    let l = dir
        .load(&format!(
            "{BASE}[access_log]\npath = \"logs/access.log\"\nformat = \"combined\"\nsample_allowed = 0\nqueue_capacity = 8\n"
        ))
        .expect("loads");
    let a = l.config.server.access_log.expect("on");
    assert_eq!(
        a.destination,
        AccessLogDestination::File(dir.path().join("logs/access.log"))
    );
    assert_eq!(a.format, AccessLogFormat::Combined);
    assert_eq!(a.sample_allowed, 0.0);
    assert_eq!(a.queue_capacity, 8);
}
