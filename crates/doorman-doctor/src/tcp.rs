//! TCP connect to each address DNS gave, in order, until one answers: "refused", "timed out"
//! and "unreachable" mean different things (nothing listening, something dropping packets, no
//! route) and get their own words and fixes.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::{Step, clock};

/// A name with dozens of addresses is not tried dozens of times.
const MAX_ATTEMPTS: usize = 6;

/// Why an attempt failed, in words.
fn words(e: &std::io::Error, port: u16) -> (&'static str, String) {
    match e.kind() {
        ErrorKind::ConnectionRefused => (
            "refused",
            format!(
                "refused: nothing listens on port {port} there, or a firewall rejects the connection"
            ),
        ),
        ErrorKind::TimedOut => (
            "timeout",
            "timed out: no answer at all (packets dropped by a firewall, or the host is down)"
                .to_owned(),
        ),
        ErrorKind::NetworkUnreachable | ErrorKind::HostUnreachable => (
            "unreachable",
            format!("unreachable: your machine has no route there ({e})"),
        ),
        ErrorKind::AddrNotAvailable => (
            "unreachable",
            format!("unreachable: this machine cannot use that address family ({e})"),
        ),
        ErrorKind::PermissionDenied => (
            "denied",
            format!("denied by a firewall or policy on this machine ({e})"),
        ),
        _ => ("other", format!("failed: {e}")),
    }
}

fn fix(kind: &str, host: &str, port: u16) -> String {
    match kind {
        "refused" => format!(
            "nothing accepts connections on port {port} of {host}: check the port in the URL (https is usually 443, http 80); if it is right, the service is down or not started: check the site's status page"
        ),
        "timeout" => "a firewall (yours, your network's or the site's) drops the connection, or the host is down: try another network (e.g. a phone hotspot) to tell which".to_owned(),
        "unreachable" => "check your network connection (Wi-Fi, cable, VPN); if other sites work, your network cannot reach this one: try another network".to_owned(),
        "denied" => "a firewall or security tool on this machine blocks the connection: allow it, or ask your administrator".to_owned(),
        _ => "check your network connection and try again".to_owned(),
    }
}

/// The TCP step; on success also the open connection and the address that answered.
pub(crate) async fn step(
    addrs: &[IpAddr],
    host: &str,
    port: u16,
    timeout: Duration,
) -> (Step, Option<(TcpStream, SocketAddr)>) {
    let mut step = Step::new("tcp");
    let mut first_kind = None;
    for ip in addrs.iter().take(MAX_ATTEMPTS) {
        let addr = SocketAddr::new(*ip, port);
        let start = Instant::now();
        let result = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(ErrorKind::TimedOut, "timed out")),
        };
        match result {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                step.fact(
                    addr.to_string(),
                    format!("connected in {}", clock::elapsed(start.elapsed())),
                );
                return (step, Some((stream, addr)));
            }
            Err(e) => {
                let (kind, text) = words(&e, port);
                let text = if kind == "timeout" {
                    format!("{text} after {:.0} s", timeout.as_secs_f64())
                } else {
                    text
                };
                step.fact(addr.to_string(), text);
                first_kind.get_or_insert(kind);
            }
        }
    }
    if addrs.len() > MAX_ATTEMPTS {
        step.fact(
            "not tried",
            format!("{} more addresses", addrs.len() - MAX_ATTEMPTS),
        );
    }
    step.fail(fix(first_kind.unwrap_or("other"), host, port));
    (step, None)
}
