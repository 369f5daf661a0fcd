//! `doorman demo`: the demo chat origin and the gateway in front of it, in one process, with a
//! demo policy that shows a pass and each denial this build supports. The policy is written to
//! `<data-dir>/demo.toml` so that a newcomer can read it, edit it and watch the gateway reload.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Options of `doorman demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Where the gateway listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the admin API and /metrics listen.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub admin: SocketAddr,
    /// Data directory (event log, admin token, the demo policy file).
    #[arg(long, default_value = "./doorman-data")]
    pub data_dir: PathBuf,
    /// Milliseconds between streamed chat tokens.
    #[arg(long, default_value_t = 60)]
    pub token_interval_ms: u64,
}

/// The demo policy. `@ORIGIN@` is the demo origin's address, `@CLOSED@` an address where nothing
/// listens (to show a 502), the others come from the command line.
const DEMO_POLICY: &str = r#"# Doorman demo policy, written by `doorman demo` at every start (edits last until the next
# start; the gateway reloads this file as soon as you save it). Reference: docs/config.md.

[server]
node_name = "demo"
data_dir = "@DATA_DIR@"
shutdown_grace_secs = 5

[[listeners]]
addr = "@LISTEN@"

[admin]
addr = "@ADMIN@"

[limits]
max_body_bytes = 1048576

[client_ip]
# The demo trusts X-Forwarded-For from this machine so that you can play a client from another
# network with curl -H 'X-Forwarded-For: …'. In production list only your real proxies.
trusted_proxies = ["127.0.0.1/32", "::1/128"]
source = "x-forwarded-for"

[site]
name = "Doorman demo chat"
support = "mailto:support@demo.invalid"

# Health checks every second: two failures in a row take a server out of the rotation, two
# passes bring it back. They also feed the status page below.
[[upstreams]]
name = "chat"
targets = ["@ORIGIN@"]
response_timeout_ms = 30000
health_check = { path = "/healthz", interval_ms = 1000, timeout_ms = 800, fall = 2, rise = 2 }

# A second origin for the plugin API, which the guide stops and starts (kill -USR1).
[[upstreams]]
name = "plugins"
targets = ["@PLUGINS@"]
health_check = { path = "/healthz", interval_ms = 1000, timeout_ms = 800, fall = 2, rise = 2 }

[[upstreams]]
# The same origin with a short response timeout, for the 504 example.
name = "diagnostics"
targets = ["@ORIGIN@"]
response_timeout_ms = 2000

[[upstreams]]
# Nothing listens here: shows the 502 receipt.
name = "billing"
targets = ["@CLOSED@"]

[[routes]]
name = "chat"
path_prefix = "/"
upstream = "chat"

# The plugin API needs an API key with the scope plugins:weather. The demo creates two keys at
# start (one with the scope, one without) and prints them; make more with `doorman keys create`.
[[routes]]
name = "plugins"
path_prefix = "/plugins"
upstream = "plugins"
auth = { methods = ["api_key"], scopes = ["plugins:weather"] }

[[routes]]
name = "debug"
path_prefix = "/debug"
upstream = "diagnostics"

[[routes]]
name = "billing"
path_prefix = "/billing"
upstream = "billing"

[[routes]]
name = "admin"
path_prefix = "/admin"
upstream = "chat"
access = "closed"
title = "The admin console is internal"
reason = "The admin console is not published on the internet; it is only reachable from the operators' network."
remedies = ["If you are an operator, connect through the staff VPN and use the internal address.", "If you followed a link here, tell support which page it was on."]

[[routes]]
name = "internal"
path_prefix = "/internal"
upstream = "chat"
allow_networks = ["10.0.0.0/8"]
reason = "Internal tools only admit the office network (10.0.0.0/8)."
remedies = ["Connect to the office network or the staff VPN, then try again."]

[[routes]]
name = "secret"
path_prefix = "/secret"
upstream = "chat"
access = "closed"
disclosure = "private"
reason = "Honeypot path for scanners."

# --- Firewall -----------------------------------------------------------------------------
# A tiny country/ASN database made by `doorman demo` for the documentation address ranges
# (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24). In production point this at GeoLite2,
# DB-IP Lite or IPinfo Lite files.
[intel]
db = "demo-geo.mmdb"

[[lists]]
name = "abuse_feed"
kind = "ip"
items = ["203.0.113.0/25"]
description = "addresses reported for credential stuffing (demo data)"
# The trace endpoint (and so `doorman doctor`) tells a client it is on this list.
disclose = true

[[lists]]
name = "vpn_exits"
kind = "ip"
class = "vpn"
items = ["198.51.100.0/24"]
description = "exit addresses of commercial VPN services (demo data)"

[[access_rules]]
id = "abuse"
list = "abuse_feed"
action = "block"

[[access_rules]]
id = "sanctions"
country = "KP"
action = "block"
note = "This service may not be offered in your country or region."

[[rules]]
id = "no-vpn-plugins"
title = "Plugins are not available through VPNs"
expression = 'starts_with(http.request.uri.path, "/plugins") and doorman.ip.vpn'
action = "block"

[[rules]]
id = "scanners"
title = "Requests for software this site does not run"
expression = 'http.request.uri.path contains "/wp-" or http.request.uri.path.extension in {"php" "asp"}'
action = "block"
disclosure = "hint"

[[rules]]
id = "trial-python-clients"
title = "Scripted clients (trial)"
expression = 'lower(http.user_agent) contains "python-requests"'
action = "block"
mode = "shadow"

# A challenged page: browsers solve a short proof of work and keep a clearance cookie; curl
# gets a JSON or text answer instead. clock_skew_demo lets ?doorman_clock_skew_s=420 show the
# page's clock message (demos only).
[[rules]]
id = "members-challenge"
title = "Members area: browsers only"
expression = 'http.request.uri.path eq "/members"'
action = "challenge"

[challenge]
difficulty = 16
clock_skew_demo = true

# The public status page at /status (JSON under /status/api/v2/). Receipts for a service that is
# down link it. An incident opens by itself when every server of a component fails its checks.
[status]
path = "/status"

[[status.components]]
id = "chat"
name = "Chat"
upstreams = ["chat", "diagnostics"]
description = "The chat page and /v1/chat/completions"

[[status.components]]
id = "plugins"
name = "Plugin API"
upstreams = ["plugins"]
description = "/plugins/*, for API keys"

# Shown on the status page while the rule is in force.
[[status.mitigations]]
rule = "no-vpn-plugins"

# Rate limits. Counters live in this process; with [rate_limit] backend = "redis" every gateway
# on that Redis would share them.
[[rate_limits]]
id = "weather-plugin"
description = "Weather plugin calls"
expression = 'http.request.uri.path eq "/plugins/weather"'
requests_per_period = 5
period_secs = 30
note = "The weather changes slowly: cache answers for a few minutes."

# Failed logins: only the origin's 401 answers count. Three within a minute pause the client
# for 2 minutes (code 1012). (A pause shorter than the period would end while the failures
# still fill the window, so it would last the period anyway.)
[[rate_limits]]
id = "failed-logins"
description = "Too many failed logins"
expression = 'http.request.uri.path eq "/login"'
characteristics = ["ip.src"]
requests_per_period = 3
period_secs = 60
mitigation_timeout_secs = 120
counting_expression = "http.response.code eq 401"
"#;

/// Writes the demo's country/ASN database: documentation ranges only.
fn write_demo_geo(path: &Path) -> Result<()> {
    use doorman_intel::mmdb_writer::{MmdbWriter, ipinfo_lite};
    let mut w = MmdbWriter::new("ipinfo lite (doorman demo)");
    let nets = [
        (
            "192.0.2.0/25",
            ipinfo_lite("DE", "Germany", "EU", 64502, "Office ISP GmbH"),
        ),
        (
            "192.0.2.128/25",
            ipinfo_lite("KP", "North Korea", "AS", 64511, "Example Telecom KP"),
        ),
        (
            "198.51.100.0/24",
            ipinfo_lite("NL", "Netherlands", "EU", 9009, "M247 Europe SRL"),
        ),
        (
            "203.0.113.0/24",
            ipinfo_lite("US", "United States", "NA", 64500, "Example Hosting LLC"),
        ),
    ];
    for (net, value) in nets {
        w.insert(net, value)
            .map_err(|e| anyhow::anyhow!("demo database: {e}"))?;
    }
    w.write_to(path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

/// Runs the demo until Ctrl-C.
pub fn run(args: &DemoArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: &DemoArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let _log = doorman_server::logging::init(false, "info,hyper=warn");

    let (origin_addr, origin) = doorman_demo::spawn_with(
        "127.0.0.1:0".parse().expect("literal address"),
        doorman_demo::DemoOptions {
            token_interval: std::time::Duration::from_millis(args.token_interval_ms),
            ..doorman_demo::DemoOptions::default()
        },
    )
    .await
    .context("starting the demo origin")?;
    let closed = closed_port().context("finding a free port for the 502 example")?;
    let plugins_options = doorman_demo::DemoOptions {
        token_interval: std::time::Duration::from_millis(args.token_interval_ms),
        name: "plugins".to_owned(),
    };
    let (plugins_addr, plugins) = doorman_demo::spawn_with(
        "127.0.0.1:0".parse().expect("literal address"),
        plugins_options.clone(),
    )
    .await
    .context("starting the demo's plugins origin")?;

    write_demo_geo(&args.data_dir.join("demo-geo.mmdb"))?;
    let path = args.data_dir.join("demo.toml");
    let data_dir = std::path::absolute(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    let text = DEMO_POLICY
        .replace("@DATA_DIR@", &toml_escape(&data_dir))
        .replace("@LISTEN@", &args.listen.to_string())
        .replace("@ADMIN@", &args.admin.to_string())
        .replace("@ORIGIN@", &origin_addr.to_string())
        .replace("@PLUGINS@", &plugins_addr.to_string())
        .replace("@CLOSED@", &closed.to_string());
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    let loaded = doorman_config::load(&path)
        .map_err(|d| anyhow::anyhow!("the demo policy does not compile:\n{d}"))?;

    let keys = demo_keys(&args.data_dir)?;
    let started = doorman_server::start(loaded, Some(path.clone()))
        .await
        .context("starting the gateway")?;
    print_guide(
        started.listen_addrs[0],
        started.admin_addr.unwrap_or(args.admin),
        &path,
        &args.data_dir,
        &keys,
    );
    let stop = tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
    });
    let toggler = tokio::spawn(toggle_on_usr1(plugins_addr, plugins_options, plugins));
    tokio::select! {
        _ = stop => {}
        _ = wait_for_term() => {}
    }
    started.shutdown();
    started.wait().await;
    toggler.abort();
    let _ = origin.stop().await;
    Ok(())
}

/// Each SIGUSR1 stops the plugins origin, or starts it again on the same address: the guide's
/// way to show a service going down (health checks, the status page, the 503 receipt) and
/// coming back.
#[cfg(unix)]
async fn toggle_on_usr1(
    addr: SocketAddr,
    options: doorman_demo::DemoOptions,
    handle: doorman_demo::DemoHandle,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
        return;
    };
    let mut running = Some(handle);
    while usr1.recv().await.is_some() {
        match running.take() {
            Some(h) => {
                let _ = h.stop().await;
                tracing::warn!(target: "doorman::demo", "demo: the plugins origin on {addr} is stopped (SIGUSR1 starts it again)");
            }
            None => match doorman_demo::spawn_with(addr, options.clone()).await {
                Ok((_, h)) => {
                    running = Some(h);
                    tracing::info!(target: "doorman::demo", "demo: the plugins origin on {addr} is running again");
                }
                Err(e) => {
                    tracing::error!(target: "doorman::demo", "demo: the plugins origin cannot listen on {addr} again: {e}")
                }
            },
        }
    }
}

#[cfg(not(unix))]
async fn toggle_on_usr1(
    _addr: SocketAddr,
    _options: doorman_demo::DemoOptions,
    _handle: doorman_demo::DemoHandle,
) {
    std::future::pending::<()>().await
}

#[cfg(unix)]
async fn wait_for_term() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn wait_for_term() {
    std::future::pending::<()>().await
}

/// The demo's two API keys, made afresh on every start (earlier demo keys are revoked, since a
/// key is shown only when it is created).
struct DemoKeys {
    weather: String,
    reader: String,
}

fn demo_keys(data_dir: &Path) -> Result<DemoKeys> {
    let store = doorman_keys::KeyStore::open(doorman_keys::keys_path(data_dir))
        .context("opening the demo's key store")?;
    let now = doorman_common::when::unix_ms(std::time::SystemTime::now());
    let make = |name: &str, scopes: &[&str]| -> Result<String> {
        if store.find(name).is_ok_and(|k| k.revoked_at.is_none()) {
            store
                .revoke(name, now)
                .with_context(|| format!("revoking the previous demo key {name}"))?;
        }
        let (secret, _) = store
            .create(
                doorman_keys::NewKey {
                    name: name.into(),
                    scopes: scopes.iter().map(|s| s.to_string()).collect(),
                    expires_at: None,
                    rate_limit: None,
                },
                doorman_keys::DEFAULT_PREFIX,
                now,
            )
            .with_context(|| format!("creating the demo key {name}"))?;
        Ok(secret.expose().to_owned())
    };
    Ok(DemoKeys {
        weather: make("demo-weather", &["plugins:weather"])?,
        reader: make("demo-reader", &["chat"])?,
    })
}

/// A loopback port nothing listens on (bound and released at once).
fn closed_port() -> std::io::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    l.local_addr()
}

fn toml_escape(p: &Path) -> String {
    p.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

fn print_guide(
    addr: SocketAddr,
    admin: SocketAddr,
    policy: &Path,
    data_dir: &Path,
    keys: &DemoKeys,
) {
    let u = format!("http://{addr}");
    let data = data_dir.display();
    println!(
        r#"
Doorman demo is running.

  Chat page (open in a browser):  {u}/
  Policy file (edit; reloads):     {policy}
  Admin API and metrics:           http://{admin}/metrics  (token: {data}/admin.token)

Passes:
  curl -N {u}/v1/chat/completions -H 'content-type: application/json' \
       -d '{{"messages":[{{"role":"user","content":"hello"}}],"stream":true}}'     # tokens stream in
  curl -H "Authorization: Bearer $KEY" '{u}/plugins/weather?city=Lisbon'      # the plugin API, with a key

API keys (created for this run; set them in your shell first):
  KEY={weather}      # scope plugins:weather
  READER={reader}    # scope chat only
  curl -i '{u}/plugins/weather?city=Oslo'                              # KEY_MISSING 401, WWW-Authenticate: Bearer realm="doorman"
  curl -i -H "Authorization: Bearer ${{KEY%?}}x" '{u}/plugins/weather?city=Oslo'   # KEY_MALFORMED 401: the checksum catches the typo
  curl -i -H "Authorization: Bearer sk-proj-123" '{u}/plugins/weather?city=Oslo' # KEY_MALFORMED 401: a key for another service
  curl -i -H "Authorization: Bearer $READER" '{u}/plugins/weather?city=Oslo'      # INSUFFICIENT_SCOPE 403: needs plugins:weather
  curl -s -H "Authorization: Bearer $KEY" {u}/.well-known/doorman/whoami?path=/plugins/weather  # what the gateway sees
  doorman keys list --data-dir {data}                                  # then: doorman keys revoke demo-reader --data-dir {data}
  curl -i -H "Authorization: Bearer $READER" '{u}/plugins/weather?city=Oslo'      # KEY_REVOKED 401, within a second

Denials (each answer has a Ray ID; try -H 'Accept: application/json' or a browser too):
  curl -i {u}/admin/                                   # ROUTE_CLOSED 403, the operator's reason
  curl -i {u}/internal/stats                           # NETWORK_NOT_ALLOWED 403: you are not on 10.0.0.0/8
  curl -H 'X-Forwarded-For: 10.1.2.3' {u}/internal/stats  # passes: the demo trusts XFF from localhost
  curl -i {u}/secret/                                  # a private rule: only the Ray ID is shown
  curl -i {u}/billing/invoices                         # UPSTREAM_REFUSED 502: nothing listens there
  curl -i '{u}/debug/sleep?ms=5000'                    # UPSTREAM_TIMEOUT 504 after 2 s
  curl -i -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" {u}/  # HEADERS_TOO_LARGE 431

Firewall (the demo trusts X-Forwarded-For from localhost, so you can play any client):
  curl -i -H 'X-Forwarded-For: 203.0.113.7' {u}/             # 1006: on the list abuse_feed
  curl -i -H 'X-Forwarded-For: 192.0.2.200' {u}/             # 1009: a country rule (KP in the demo database)
  curl -i -H 'X-Forwarded-For: 198.51.100.7' '{u}/plugins/weather?city=Oslo'  # 1020: a VPN range, named
  curl -i {u}/wp-login.php                                   # 1020 with disclosure = "hint"
  curl -s -A python-requests/2.32 -o /dev/null -w '%{{http_code}}\n' -H "Authorization: Bearer $KEY" '{u}/plugins/weather?city=Oslo'
                                                             # 200: a shadow rule only records it
  echo '{{"ip":"203.0.113.7","url":"/"}}' | doorman trace --config {policy} --request -

Challenge (open in a browser; curl gets the JSON or text answer instead of the page):
  {u}/members                                               # solves in about a second, then passes for a day
  {u}/members?doorman_clock_skew_s=420                      # the page says your clock is 7 minutes fast
  curl -i {u}/members                                       # CHALLENGE 403, doorman-mitigated: challenge, no HTML

Rate limits (5 weather calls per 30 s per API key; 3 failed logins in a minute pause you for 2 min):
  for i in $(seq 7); do curl -s -o /dev/null -w '%{{http_code}} ' -H "Authorization: Bearer $KEY" '{u}/plugins/weather?city=Oslo'; done; echo
                                                             # 200 ×5, then 429 (1015) with Retry-After
  curl -i -H "Authorization: Bearer $KEY" '{u}/plugins/weather?city=Oslo'  # the receipt: which limit, your key, when to retry
  for i in $(seq 4); do curl -s -o /dev/null -w '%{{http_code}} ' -d 'user=ann&password=guess' {u}/login; done; echo
                                                             # 401 ×3 from the origin, then 429 (1012): paused
  doorman bans list --config {policy}                        # who is banned, by which rule, until when
  doorman bans lift 127.0.0.1 --config {policy}              # lift it early

Status page ({u}/status; Statuspage JSON at {u}/status/api/v2/summary.json):
  kill -USR1 {pid}                                          # stops the plugin API's origin; within ~3 s the page shows
                                                             # a major outage and an incident opens by itself
  curl -i -H "Authorization: Bearer $KEY" '{u}/plugins/weather?city=Oslo'  # UPSTREAM_DOWN 503, linking the status page
  kill -USR1 {pid}                                          # starts it again: operational, the incident resolves
  doorman incident open --data-dir {data} --name 'Slow answers' -m 'Some answers take 10 s; we are on it.' --component chat
  doorman incident list --data-dir {data}                   # then: doorman incident resolve <n> --data-dir {data}
  doorman maintenance schedule --data-dir {data} --name 'Database upgrade' -m 'Chat may pause.' --start 1h --duration 30m

Diagnose from the client's side (what a blocked person runs):
  doorman doctor {u}/ --api-key $KEY --path '/plugins/weather?city=Oslo'  # DNS, TCP, clock, the verdict, the key, the status page
  doorman doctor {u}/plugin/weather                          # a wrong path: did you mean /plugins/weather?
  doorman doctor {u}/ -H 'X-Forwarded-For: 203.0.113.7'      # a client on the abuse feed: which list, and what to do
  doorman doctor {u}/ --clock-skew 420                       # what a clock 7 minutes fast looks like

Then, for any Ray ID you got:
  doorman explain <ray-id> --data-dir {data}
  doorman events --data-dir {data} --since 10m

Ctrl-C stops the demo.
"#,
        policy = policy.display(),
        pid = std::process::id(),
        weather = keys.weather,
        reader = keys.reader
    );
}
