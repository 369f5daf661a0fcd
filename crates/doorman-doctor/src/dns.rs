//! Name resolution three ways: the system resolver (what a browser gets, hosts file and caches
//! included), the hosts file itself, and direct questions to resolvers. When they give disjoint
//! answers, something is stale — a cache, a hosts entry, a resolver — and that explains "works
//! for my colleague, not for me".
//!
//! The direct queries use `hickory-proto` for the wire format and a small transport of our own
//! on tokio: one A and one AAAA question per resolver, each on its own connected UDP socket
//! with EDNS0 (1232-byte payload); a truncated (TC) answer is asked again over TCP. Answers
//! count only with the right ID and question; CNAME chains are followed within the answer; the
//! whole exchange, TCP retry included, has one deadline (2 s by default).

use std::collections::BTreeSet;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::{Options, Step, clock};

/// What a resolver said: its addresses and how long it took, or what went wrong in words.
type Answer = Result<Found, String>;

/// A resolver's addresses (A first, then AAAA).
#[derive(Debug, Clone)]
pub(crate) struct Found {
    ips: Vec<IpAddr>,
    took: Duration,
    /// A truncated UDP answer sent at least one question to TCP: that explains a slow answer.
    over_tcp: bool,
}

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
            Some(Ok(Found {
                ips,
                took,
                over_tcp,
            })) => {
                let when = if *over_tcp {
                    format!("{}, over TCP", clock::elapsed(*took))
                } else {
                    clock::elapsed(*took)
                };
                step.fact(
                    format!("resolver {who}"),
                    if ips.is_empty() {
                        format!("no addresses ({when})")
                    } else {
                        format!("{} ({when})", list(ips))
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

/// The UDP payload size offered in EDNS0: the DNS Flag Day 2020 value, which fits one
/// unfragmented packet on practically every path (fragments are what middleboxes drop).
const EDNS_PAYLOAD: u16 = 1232;

/// CNAMEs followed at most: real chains are a few links; longer is a loop.
const MAX_CNAMES: usize = 16;

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

/// The host as a DNS name; `None` when it cannot be written in DNS (empty or over-long labels).
pub(crate) fn dns_name(host: &str) -> Option<Name> {
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    // from_ascii keeps names like `_service.example` that IDNA rules would refuse.
    let mut name = if host.is_ascii() {
        Name::from_ascii(host)
    } else {
        Name::from_utf8(host)
    }
    .ok()?;
    if name.iter().any(<[u8]>::is_empty) {
        return None;
    }
    name.set_fqdn(true);
    Some(name)
}

/// A query for `name` of type `qtype` with recursion desired and an EDNS0 OPT record.
pub(crate) fn encode_query(id: u16, name: &Name, qtype: RecordType) -> Option<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name.clone(), qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    m.set_edns(edns);
    m.to_vec().ok()
}

/// A reply to our question.
#[derive(Debug, PartialEq)]
pub(crate) enum Reply {
    /// TC: the answer did not fit; the same question goes again over TCP.
    Truncated,
    /// The addresses at the end of the CNAME chain, or the resolver's refusal in words.
    Done(Result<Vec<IpAddr>, String>),
}

/// Reads a reply to our question. `None`: not a reply to it (wrong ID, question or shape), to be
/// ignored, as a late or spoofed datagram must not end the wait.
pub(crate) fn read_reply(buf: &[u8], id: u16, name: &Name, qtype: RecordType) -> Option<Reply> {
    // Header and question first: a truncated datagram may be cut anywhere after them, and TC
    // alone is enough to go to TCP.
    let mut d = BinDecoder::new(buf);
    let Header { metadata, counts } = Header::read(&mut d).ok()?;
    if metadata.id != id || metadata.message_type != MessageType::Response || counts.queries != 1 {
        return None;
    }
    let q = Query::read(&mut d).ok()?;
    // Name equality is case-insensitive, as DNS is (and 0x20-randomising resolvers rely on).
    if q.name() != name || q.query_type() != qtype || q.query_class() != DNSClass::IN {
        return None;
    }
    if metadata.truncation {
        return Some(Reply::Truncated);
    }
    let Ok(msg) = Message::from_vec(buf) else {
        return Some(Reply::Done(Err("a malformed answer".to_owned())));
    };
    let words = match msg.metadata.response_code {
        ResponseCode::NoError => {
            return Some(Reply::Done(Ok(addresses(&msg.answers, name, qtype))));
        }
        ResponseCode::NXDomain => "no such name (NXDOMAIN)".to_owned(),
        ResponseCode::ServFail => "the resolver failed (SERVFAIL)".to_owned(),
        ResponseCode::Refused => "the resolver refused to answer (REFUSED)".to_owned(),
        code => format!("the resolver answered error code {}", u16::from(code)),
    };
    Some(Reply::Done(Err(words)))
}

/// The addresses for `name`, following CNAMEs through the answer section. Records for names
/// off the chain are ignored: a resolver has no business answering what was not asked, and
/// showing them would blame the wrong name.
fn addresses(answers: &[Record], name: &Name, qtype: RecordType) -> Vec<IpAddr> {
    let mut owner = name;
    let mut ips: Vec<IpAddr> = Vec::new();
    for _ in 0..=MAX_CNAMES {
        for r in answers.iter().filter(|r| &r.name == owner) {
            let ip = match (&r.data, qtype) {
                (RData::A(a), RecordType::A) => IpAddr::V4(a.0),
                (RData::AAAA(a), RecordType::AAAA) => IpAddr::V6(a.0),
                _ => continue,
            };
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        if !ips.is_empty() {
            break;
        }
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if &r.name == owner => Some(&target.0),
            _ => None,
        });
        match next {
            Some(next) => owner = next,
            None => break,
        }
    }
    ips
}

/// What became of one question.
enum Outcome {
    /// The resolver's reply (over TCP too when UDP was truncated), or the TCP retry's failure.
    Replied(Result<Vec<IpAddr>, String>),
    /// ICMP port unreachable: nothing listens on UDP there.
    Refused,
    /// Nothing by the deadline.
    Silent,
    /// The question could not be sent.
    Unsent(String),
}

/// Asks `server` for A and AAAA records of `host`; the addresses (A first) and the time taken.
pub(crate) async fn query(server: SocketAddr, host: &str, timeout: Duration) -> Answer {
    let start = Instant::now();
    let Some(name) = dns_name(host) else {
        return Err("the name cannot be written as a DNS question".to_owned());
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let ((a, a_tcp), (aaaa, aaaa_tcp)) = tokio::join!(
        ask(server, &name, RecordType::A, deadline, timeout),
        ask(server, &name, RecordType::AAAA, deadline, timeout),
    );
    let took = start.elapsed();
    let refused = matches!(a, Outcome::Refused) || matches!(aaaa, Outcome::Refused);
    let replied = |o: Outcome| match o {
        Outcome::Replied(r) => Ok(Some(r)),
        Outcome::Unsent(e) => Err(e),
        Outcome::Refused | Outcome::Silent => Ok(None),
    };
    match (replied(a)?, replied(aaaa)?) {
        (None, None) if refused => Err("refused: no DNS server answers at that address".to_owned()),
        (None, None) => Err(format!("no answer within {:.0} s", timeout.as_secs_f64())),
        (Some(Err(e)), _) | (None, Some(Err(e))) => Err(e),
        (a, aaaa) => {
            let mut ips = Vec::new();
            for found in [a, aaaa].into_iter().flatten().flatten() {
                ips.extend(found);
            }
            Ok(Found {
                ips,
                took,
                over_tcp: a_tcp || aaaa_tcp,
            })
        }
    }
}

/// One question over UDP, and over TCP if the answer comes back truncated; also whether TCP
/// was used.
async fn ask(
    server: SocketAddr,
    name: &Name,
    qtype: RecordType,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> (Outcome, bool) {
    let id = random_id();
    let Some(question) = encode_query(id, name, qtype) else {
        return (
            Outcome::Unsent("the name cannot be written as a DNS question".to_owned()),
            false,
        );
    };
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let sock = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => {
            return (
                Outcome::Unsent(format!("could not open a UDP socket: {e}")),
                false,
            );
        }
    };
    // Connected: the kernel drops datagrams from anyone else and reports port unreachable.
    if let Err(e) = sock.connect(server).await {
        return (Outcome::Unsent(format!("cannot reach it: {e}")), false);
    }
    if let Err(e) = sock.send(&question).await {
        return (
            Outcome::Unsent(format!("could not send the question: {e}")),
            false,
        );
    }
    // Room for any datagram, not just the size offered: a resolver that ignores EDNS0 and sends
    // more should still be read whole, not cut into "malformed".
    let mut buf = vec![0u8; 65_535];
    loop {
        match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => return (Outcome::Silent, false),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return (Outcome::Refused, false);
            }
            Ok(Err(_)) => return (Outcome::Silent, false),
            Ok(Ok(n)) => match read_reply(&buf[..n], id, name, qtype) {
                None => {}
                Some(Reply::Done(r)) => return (Outcome::Replied(r), false),
                Some(Reply::Truncated) => {
                    let r = ask_tcp(server, &question, id, name, qtype, deadline, timeout).await;
                    return (Outcome::Replied(r), true);
                }
            },
        }
    }
}

/// The same question over TCP (RFC 7766: each message behind a 2-byte length), within what is
/// left of the deadline.
async fn ask_tcp(
    server: SocketAddr,
    question: &[u8],
    id: u16,
    name: &Name,
    qtype: RecordType,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Result<Vec<IpAddr>, String> {
    let too_late = || {
        format!(
            "truncated over UDP, and no answer over TCP within {:.0} s",
            timeout.as_secs_f64()
        )
    };
    let failed =
        |e: std::io::Error| format!("truncated over UDP, and the retry over TCP failed: {e}");
    let mut s = match tokio::time::timeout_at(deadline, TcpStream::connect(server)).await {
        Err(_) => return Err(too_late()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(
                "truncated over UDP, and the retry over TCP was refused: a resolver must answer over TCP too (RFC 7766)"
                    .to_owned(),
            );
        }
        Ok(Err(e)) => return Err(failed(e)),
        Ok(Ok(s)) => s,
    };
    let Ok(len) = u16::try_from(question.len()) else {
        return Err("the question is too long for TCP".to_owned());
    };
    let mut framed = Vec::with_capacity(2 + question.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(question);
    let exchange = async {
        s.write_all(&framed).await?;
        loop {
            let len = s.read_u16().await?;
            let mut msg = vec![0u8; usize::from(len)];
            s.read_exact(&mut msg).await?;
            // Another ID or question on our own connection: skip it, as over UDP.
            if let Some(reply) = read_reply(&msg, id, name, qtype) {
                return Ok::<Reply, std::io::Error>(reply);
            }
        }
    };
    match tokio::time::timeout_at(deadline, exchange).await {
        Err(_) => Err(too_late()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err("truncated over UDP, and the TCP connection closed without an answer".to_owned())
        }
        Ok(Err(e)) => Err(failed(e)),
        Ok(Ok(Reply::Done(r))) => r,
        Ok(Ok(Reply::Truncated)) => Err("truncated over UDP, and again over TCP".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::rdata::{A, AAAA, CNAME};

    use super::*;

    fn name(s: &str) -> Name {
        dns_name(s).unwrap()
    }

    /// A reply to `query` as a resolver would build it.
    fn reply(query: &[u8], rcode: ResponseCode, tc: bool, answers: Vec<Record>) -> Vec<u8> {
        let q = Message::from_vec(query).unwrap();
        let mut r = Message::response(q.metadata.id, OpCode::Query);
        r.metadata.recursion_desired = true;
        r.metadata.recursion_available = true;
        r.metadata.truncation = tc;
        r.metadata.response_code = rcode;
        r.add_queries(q.queries.clone());
        r.add_answers(answers);
        r.to_vec().unwrap()
    }

    fn a(owner: &str, ip: [u8; 4]) -> Record {
        Record::from_rdata(name(owner), 60, RData::A(A(ip.into())))
    }

    fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 60, RData::CNAME(CNAME(name(target))))
    }

    #[test]
    fn the_query_asks_once_with_edns() {
        let q = encode_query(0x1234, &name("Example.com."), RecordType::A).unwrap();
        let m = Message::from_vec(&q).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.queries[0].name().to_ascii(), "Example.com.");
        assert_eq!(m.queries[0].query_type(), RecordType::A);
        assert_eq!(m.edns.as_ref().map(Edns::max_payload), Some(1232));
        assert!(dns_name("a..b").is_none());
        assert!(dns_name(&"a".repeat(64)).is_none());
        assert!(dns_name("").is_none());
        assert!(dns_name(".").is_none());
    }

    #[test]
    fn replies_are_matched_by_id_and_question() {
        let n = name("example.com");
        let q = encode_query(0x1234, &n, RecordType::A).unwrap();
        let r = reply(
            &q,
            ResponseCode::NoError,
            false,
            vec![a("EXAMPLE.com", [192, 0, 2, 1])],
        );
        assert_eq!(
            read_reply(&r, 0x1234, &n, RecordType::A),
            Some(Reply::Done(Ok(vec!["192.0.2.1".parse().unwrap()])))
        );
        // Another ID, another question, or a query (not a reply) are ignored.
        assert_eq!(read_reply(&r, 0x1235, &n, RecordType::A), None);
        assert_eq!(
            read_reply(&r, 0x1234, &name("example.org"), RecordType::A),
            None
        );
        assert_eq!(read_reply(&r, 0x1234, &n, RecordType::AAAA), None);
        assert_eq!(read_reply(&q, 0x1234, &n, RecordType::A), None);
    }

    #[test]
    fn rcodes_and_truncation_in_words() {
        let n = name("example.com");
        let q = encode_query(7, &n, RecordType::AAAA).unwrap();
        for (code, words) in [
            (ResponseCode::NXDomain, "no such name (NXDOMAIN)"),
            (ResponseCode::ServFail, "the resolver failed (SERVFAIL)"),
            (
                ResponseCode::Refused,
                "the resolver refused to answer (REFUSED)",
            ),
            (ResponseCode::NotImp, "the resolver answered error code 4"),
        ] {
            let r = reply(&q, code, false, vec![]);
            assert_eq!(
                read_reply(&r, 7, &n, RecordType::AAAA),
                Some(Reply::Done(Err(words.to_owned())))
            );
        }
        let tc = reply(&q, ResponseCode::NoError, true, vec![]);
        assert_eq!(
            read_reply(&tc, 7, &n, RecordType::AAAA),
            Some(Reply::Truncated)
        );
        // TC counts even when the datagram is cut inside a record.
        let full = reply(
            &q,
            ResponseCode::NoError,
            true,
            vec![Record::from_rdata(
                n.clone(),
                60,
                RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)),
            )],
        );
        assert_eq!(
            read_reply(&full[..full.len() - 5], 7, &n, RecordType::AAAA),
            Some(Reply::Truncated)
        );
    }

    #[test]
    fn cname_chains_are_followed_and_strangers_ignored() {
        let n = name("www.example.com");
        let q = encode_query(9, &n, RecordType::A).unwrap();
        let r = reply(
            &q,
            ResponseCode::NoError,
            false,
            vec![
                cname("www.example.com", "edge.example.net"),
                a("elsewhere.example", [10, 0, 0, 66]),
                cname("edge.example.net", "a1.cdn.example"),
                a("a1.cdn.example", [192, 0, 2, 7]),
                a("a1.cdn.example", [192, 0, 2, 8]),
            ],
        );
        assert_eq!(
            read_reply(&r, 9, &n, RecordType::A),
            Some(Reply::Done(Ok(vec![
                "192.0.2.7".parse().unwrap(),
                "192.0.2.8".parse().unwrap()
            ])))
        );
        // A loop ends with no addresses rather than spinning.
        let looped = reply(
            &q,
            ResponseCode::NoError,
            false,
            vec![
                cname("www.example.com", "b.example.com"),
                cname("b.example.com", "www.example.com"),
            ],
        );
        assert_eq!(
            read_reply(&looped, 9, &n, RecordType::A),
            Some(Reply::Done(Ok(vec![])))
        );
    }

    #[test]
    fn never_panics_on_garbage() {
        let n = name("example.com");
        let q = encode_query(7, &n, RecordType::AAAA).unwrap();
        let r = reply(
            &q,
            ResponseCode::NoError,
            false,
            vec![
                cname("example.com", "x.example.com"),
                Record::from_rdata(
                    name("x.example.com"),
                    60,
                    RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)),
                ),
            ],
        );
        for cut in 0..r.len() {
            let _ = read_reply(&r[..cut], 7, &n, RecordType::AAAA);
        }
        let mut flipped = r.clone();
        for i in 0..flipped.len() {
            for bit in [0x01, 0x40, 0x80, 0xff] {
                flipped[i] ^= bit;
                let _ = read_reply(&flipped, 7, &n, RecordType::AAAA);
                flipped[i] ^= bit;
            }
        }
        // A compression pointer to itself in the question.
        let mut lp = r[..12].to_vec();
        lp.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1]);
        assert_eq!(read_reply(&lp, 7, &n, RecordType::AAAA), None);
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
