//! Name resolution three ways: the system resolver (what a browser gets, hosts file and caches
//! included), the hosts file itself, and direct questions to resolvers over UDP. When they give
//! disjoint answers, something is stale — a cache, a hosts entry, a resolver — and that explains
//! "works for my colleague, not for me".
//!
//! The direct queries are a minimal hand-written DNS client (RFC 1035): one A and one AAAA
//! question per resolver on a connected UDP socket, answers accepted only with the right ID and
//! question, every length checked, 2 s at most. No DNS library is needed for that much.

use std::collections::BTreeSet;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::{Options, Step, clock};

const TYPE_A: u16 = 1;

/// A resolver's addresses and how long it took, or what went wrong in words.
type Answer = Result<(Vec<IpAddr>, Duration), String>;
const TYPE_AAAA: u16 = 28;

/// The DNS step; also the addresses to connect to, in the system resolver's order.
pub(crate) async fn step(opts: &Options) -> (Step, Vec<IpAddr>) {
    let t = &opts.target;
    if let Some(ip) = t.ip() {
        let mut step = Step::skipped("dns", "the URL names an IP address: nothing to look up");
        step.fact("address", ip.to_string());
        return (step, vec![ip]);
    }
    let mut step = Step::new("dns");
    let host = t.host.trim_end_matches('.').to_owned();

    // The system resolver and the direct queries run at the same time.
    let resolvers = if opts.resolvers.is_empty() {
        opts.resolv_conf
            .as_deref()
            .map(extra_nameservers)
            .unwrap_or_default()
    } else {
        opts.resolvers.clone()
    };
    let mut queries = tokio::task::JoinSet::new();
    for (i, server) in resolvers.iter().enumerate() {
        let (server, host, timeout) = (*server, host.clone(), opts.timeouts.dns_query);
        queries.spawn(async move { (i, query(server, &host, timeout).await) });
    }
    let start = Instant::now();
    let system = match tokio::time::timeout(
        opts.timeouts.lookup,
        tokio::net::lookup_host((host.as_str(), t.port)),
    )
    .await
    {
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = Vec::new();
            for a in addrs {
                if !ips.contains(&a.ip()) {
                    ips.push(a.ip());
                }
            }
            if ips.is_empty() {
                Err("no addresses".to_owned())
            } else {
                Ok(ips)
            }
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {:.0} s",
            opts.timeouts.lookup.as_secs_f64()
        )),
    };
    let took = start.elapsed();
    let mut answers: Vec<Option<Answer>> = vec![None; resolvers.len()];
    while let Some(joined) = queries.join_next().await {
        if let Ok((i, r)) = joined {
            answers[i] = Some(r);
        }
    }

    match &system {
        Ok(ips) => step.fact(
            "system resolver",
            format!("{} ({})", list(ips), clock::elapsed(took)),
        ),
        Err(e) => step.fact("system resolver", format!("failed: {e}")),
    }
    let pinned = opts
        .hosts_file
        .as_deref()
        .map(|p| hosts_entries(p, &host))
        .unwrap_or_default();
    if let Some(p) = &opts.hosts_file {
        for (ip, line) in &pinned {
            step.fact("hosts file", format!("{} line {line}: {ip}", p.display()));
        }
    }
    if resolvers.is_empty() {
        step.fact(
            "resolvers compared",
            "none (give --resolver 1.1.1.1 --resolver 8.8.8.8 to compare answers)",
        );
    }

    // Every definite answer, for the comparison: (who, addresses).
    let mut said: Vec<(String, BTreeSet<IpAddr>)> = Vec::new();
    if let Ok(ips) = &system {
        said.push((
            "the system resolver".to_owned(),
            ips.iter().copied().collect(),
        ));
    }
    let mut first_direct: Option<(String, Vec<IpAddr>)> = None;
    for (server, answer) in resolvers.iter().zip(&answers) {
        let who = show(*server);
        match answer {
            Some(Ok((ips, took))) => {
                step.fact(
                    format!("resolver {who}"),
                    if ips.is_empty() {
                        format!("no addresses ({})", clock::elapsed(*took))
                    } else {
                        format!("{} ({})", list(ips), clock::elapsed(*took))
                    },
                );
                said.push((who.clone(), ips.iter().copied().collect()));
                if !ips.is_empty() && first_direct.is_none() {
                    first_direct = Some((who, ips.clone()));
                }
            }
            Some(Err(e)) => {
                step.fact(format!("resolver {who}"), e.clone());
                if e.starts_with("no such name") {
                    said.push((who, BTreeSet::new()));
                }
            }
            None => step.fact(format!("resolver {who}"), "the query did not finish"),
        }
    }

    let stale_hint = match pinned.first() {
        Some((ip, line)) => format!(
            "flush your DNS cache / check for a stale hosts entry ({} line {line} pins {host} to {ip})",
            opts.hosts_file
                .as_deref()
                .map_or_else(String::new, |p| p.display().to_string())
        ),
        None => "flush your DNS cache / check for a stale hosts entry".to_owned(),
    };
    let disagree = said.iter().enumerate().any(|(i, (_, a))| {
        said[i + 1..]
            .iter()
            .any(|(_, b)| a.is_disjoint(b) && !(a.is_empty() && b.is_empty()))
    });
    if disagree {
        let sentence = said
            .iter()
            .map(|(who, ips)| {
                let ips: Vec<IpAddr> = ips.iter().copied().collect();
                if ips.is_empty() {
                    format!("{who} says no such name")
                } else {
                    format!("{who} says {}", bracketed(&ips))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        step.fact("disagreement", format!("resolvers disagree: {sentence}"));
    }

    match system {
        Ok(ips) => {
            if disagree {
                step.warn(Some(stale_hint));
            } else if !pinned.is_empty() && !is_local_name(&host) {
                step.warn(Some(format!(
                    "the hosts file pins {host} to {}: if that is not on purpose, remove the line",
                    pinned[0].0
                )));
            }
            (step, ips)
        }
        Err(_) => match first_direct {
            Some((who, ips)) => {
                step.fact("continuing with", format!("{} (from {who})", list(&ips)));
                step.fail(format!(
                    "your system cannot resolve {host} but {who} can: {stale_hint}, or switch your DNS servers"
                ));
                (step, ips)
            }
            None => {
                step.fail(format!(
                    "{host} does not resolve: check the spelling of the host; if it is right, your DNS is failing: try another network or resolver (e.g. --resolver 1.1.1.1)"
                ));
                (step, Vec::new())
            }
        },
    }
}

fn is_local_name(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local")
}

fn list(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn bracketed(ips: &[IpAddr]) -> String {
    if ips.len() == 1 {
        ips[0].to_string()
    } else {
        format!("[{}]", list(ips))
    }
}

/// A resolver as a person writes it: the port only when it is not 53.
fn show(addr: SocketAddr) -> String {
    if addr.port() == 53 {
        addr.ip().to_string()
    } else {
        addr.to_string()
    }
}

/// The nameservers of a resolv.conf beyond the first (the system resolver already asks that
/// one first; the others are where a disagreement would come from).
fn extra_nameservers(path: &Path) -> Vec<SocketAddr> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .skip(1)
        .take(4)
        .collect()
}

/// The hosts file's lines for `host`: (address, line number).
fn hosts_entries(path: &Path, host: &str) -> Vec<(IpAddr, usize)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    parse_hosts(&text, host)
}

fn parse_hosts(text: &str, host: &str) -> Vec<(IpAddr, usize)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if words.any(|w| w.trim_end_matches('.').eq_ignore_ascii_case(host)) {
            out.push((ip, n + 1));
        }
    }
    out
}

fn random_id() -> u16 {
    // RandomState is seeded from the OS: enough to make IDs unguessable for a diagnosis.
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() & 0xffff) as u16
}

/// A query for `name` of type `qtype` with recursion desired; `None` when the name cannot be
/// written in DNS (empty or over-long labels).
pub(crate) fn encode_query(id: u16, name: &str, qtype: u16) -> Option<Vec<u8>> {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    Some(q)
}

fn u16_at(buf: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*buf.get(pos)?, *buf.get(pos + 1)?]))
}

/// Reads a possibly compressed name at `pos`: the name (lower case, dotted) and the position
/// after it in the original buffer.
fn read_name(buf: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *buf.get(pos)?;
        match len {
            0 => {
                return Some((name, end.unwrap_or(pos + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let target = usize::from(u16_at(buf, pos)? & 0x3fff);
                end.get_or_insert(pos + 2);
                // Pointers must go backwards: no loops.
                if target >= pos {
                    return None;
                }
                pos = target;
            }
            l if l < 64 => {
                let label = buf.get(pos + 1..pos + 1 + usize::from(l))?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
                pos += 1 + usize::from(l);
            }
            _ => return None,
        }
    }
    None
}

/// Parses an answer to our question. `None`: not an answer to it (wrong ID, question or shape),
/// to be ignored; `Some(Err)`: the resolver's refusal in words.
pub(crate) fn parse_response(
    buf: &[u8],
    id: u16,
    name: &str,
    qtype: u16,
) -> Option<Result<Vec<IpAddr>, String>> {
    if u16_at(buf, 0)? != id {
        return None;
    }
    let flags = u16_at(buf, 2)?;
    if flags & 0x8000 == 0 {
        return None;
    }
    let (qd, an) = (u16_at(buf, 4)?, u16_at(buf, 6)?);
    if qd != 1 {
        return None;
    }
    let (qname, mut pos) = read_name(buf, 12)?;
    if qname != name.trim_end_matches('.').to_ascii_lowercase() || u16_at(buf, pos)? != qtype {
        return None;
    }
    pos += 4;
    match flags & 0x000f {
        0 => {}
        3 => return Some(Err("no such name (NXDOMAIN)".to_owned())),
        2 => return Some(Err("the resolver failed (SERVFAIL)".to_owned())),
        5 => return Some(Err("the resolver refused to answer (REFUSED)".to_owned())),
        code => return Some(Err(format!("the resolver answered error code {code}"))),
    }
    let mut ips = Vec::new();
    for _ in 0..an {
        let Some((_, after)) = read_name(buf, pos) else {
            return Some(Err("a malformed answer".to_owned()));
        };
        let (Some(rtype), Some(rdlen)) = (u16_at(buf, after), u16_at(buf, after + 8)) else {
            return Some(Err("a truncated answer".to_owned()));
        };
        let start = after + 10;
        let Some(rdata) = buf.get(start..start + usize::from(rdlen)) else {
            return Some(Err("a truncated answer".to_owned()));
        };
        match (rtype, rdata.len()) {
            (TYPE_A, 4) => ips.push(IpAddr::V4(Ipv4Addr::new(
                rdata[0], rdata[1], rdata[2], rdata[3],
            ))),
            (TYPE_AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                ips.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            // CNAMEs and others: their A/AAAA records follow in the same section.
            _ => {}
        }
        pos = start + usize::from(rdlen);
    }
    Some(Ok(ips))
}

/// Asks `server` for A and AAAA records of `name`; the addresses (A first) and the time taken.
pub(crate) async fn query(server: SocketAddr, name: &str, timeout: Duration) -> Answer {
    let start = Instant::now();
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let sock = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("could not open a UDP socket: {e}"))?;
    // Connected: the kernel drops datagrams from anyone else.
    sock.connect(server)
        .await
        .map_err(|e| format!("cannot reach it: {e}"))?;
    let id_a = random_id();
    let id_aaaa = id_a ^ 0x5a5a;
    let (Some(qa), Some(qaaaa)) = (
        encode_query(id_a, name, TYPE_A),
        encode_query(id_aaaa, name, TYPE_AAAA),
    ) else {
        return Err("the name cannot be written as a DNS question".to_owned());
    };
    for q in [&qa, &qaaaa] {
        sock.send(q)
            .await
            .map_err(|e| format!("could not send the question: {e}"))?;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut a = None;
    let mut aaaa = None;
    let mut buf = vec![0u8; 4096];
    let mut refused = false;
    while a.is_none() || aaaa.is_none() {
        match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => break,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                let packet = &buf[..n];
                if a.is_none()
                    && let Some(r) = parse_response(packet, id_a, name, TYPE_A)
                {
                    a = Some(r);
                    continue;
                }
                if aaaa.is_none()
                    && let Some(r) = parse_response(packet, id_aaaa, name, TYPE_AAAA)
                {
                    aaaa = Some(r);
                }
            }
        }
    }
    let took = start.elapsed();
    match (a, aaaa) {
        (None, None) if refused => Err("refused: no DNS server answers at that address".to_owned()),
        (None, None) => Err(format!("no answer within {:.0} s", timeout.as_secs_f64())),
        (Some(Err(e)), _) | (None, Some(Err(e))) => Err(e),
        (a, aaaa) => {
            let mut ips = Vec::new();
            for found in [a, aaaa].into_iter().flatten().flatten() {
                ips.extend(found);
            }
            Ok((ips, took))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer to `query` with the given records, like a resolver would send (compressed
    /// owner names pointing at the question).
    fn answer(query: &[u8], rcode: u8, records: &[(u16, &[u8])]) -> Vec<u8> {
        let mut r = query.to_vec();
        r[2] = 0x81;
        r[3] = 0x80 | rcode;
        r[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (rtype, data) in records {
            r.extend_from_slice(&[0xc0, 12]);
            r.extend_from_slice(&rtype.to_be_bytes());
            r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            r.extend_from_slice(&(data.len() as u16).to_be_bytes());
            r.extend_from_slice(data);
        }
        r
    }

    #[test]
    fn round_trip() {
        let q = encode_query(0x1234, "Example.com.", TYPE_A).unwrap();
        assert_eq!(
            &q[12..],
            b"\x07Example\x03com\x00\x00\x01\x00\x01".as_slice()
        );
        let r = answer(&q, 0, &[(5, b"\x03foo\xc0\x0c"), (TYPE_A, &[192, 0, 2, 1])]);
        assert_eq!(
            parse_response(&r, 0x1234, "example.com", TYPE_A),
            Some(Ok(vec!["192.0.2.1".parse().unwrap()]))
        );
        // Another ID, another question, or a query (not an answer) are ignored.
        assert_eq!(parse_response(&r, 0x1235, "example.com", TYPE_A), None);
        assert_eq!(parse_response(&r, 0x1234, "example.org", TYPE_A), None);
        assert_eq!(parse_response(&q, 0x1234, "example.com", TYPE_A), None);
        let nx = answer(&q, 3, &[]);
        assert!(matches!(
            parse_response(&nx, 0x1234, "example.com", TYPE_A),
            Some(Err(e)) if e.contains("NXDOMAIN")
        ));
        assert!(encode_query(1, "a..b", TYPE_A).is_none());
        assert!(encode_query(1, &"a".repeat(64), TYPE_A).is_none());
    }

    #[test]
    fn never_panics_on_garbage() {
        let q = encode_query(7, "example.com", TYPE_AAAA).unwrap();
        let r = answer(&q, 0, &[(TYPE_AAAA, &[0; 16]), (TYPE_A, &[1, 2, 3])]);
        for cut in 0..r.len() {
            let _ = parse_response(&r[..cut], 7, "example.com", TYPE_AAAA);
        }
        let mut flipped = r.clone();
        for i in 0..flipped.len() {
            for bit in [0x01, 0x40, 0x80, 0xff] {
                flipped[i] ^= bit;
                let _ = parse_response(&flipped, 7, "example.com", TYPE_AAAA);
                flipped[i] ^= bit;
            }
        }
        // A pointer loop.
        let mut lp = r[..12].to_vec();
        lp.extend_from_slice(&[0xc0, 12]);
        assert_eq!(read_name(&lp, 12), None);
    }

    #[test]
    fn hosts_and_resolv_conf() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.1 example.com\n203.0.113.9 www.example.com Example.com # old\nbogus example.com\n";
        assert_eq!(
            parse_hosts(hosts, "example.com"),
            vec![("203.0.113.9".parse().unwrap(), 3)]
        );
        let dir = std::env::temp_dir().join(format!("doctor-resolv-{}", std::process::id()));
        std::fs::write(
            &dir,
            "# c\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\nnameserver ::1\n",
        )
        .unwrap();
        let found = extra_nameservers(&dir);
        let _ = std::fs::remove_file(&dir);
        assert_eq!(
            found,
            vec![
                "192.0.2.1:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }
}
