//! The doctor's direct DNS questions against a resolver written here, on real loopback sockets
//! (ephemeral ports, nothing leaves 127.0.0.1): an answer too big for UDP comes back truncated
//! and is fetched again over TCP, a TCP port that refuses or stays silent is named, replies
//! with another ID or question are ignored, and resolver errors keep their words. The resolver
//! builds its messages with hickory-proto, so the doctor's parsing is checked against an
//! independent encoder rather than against itself.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use doorman_doctor::{Options, Report, Status, render_text, run};
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// What the resolver knows: the reply code and answer records for a question.
type Zone = Arc<dyn Fn(&Query) -> (ResponseCode, Vec<Record>) + Send + Sync>;

/// How the resolver uses UDP.
#[derive(Clone, Copy)]
enum Udp {
    /// Answers that do not fit the payload the question offered go out with TC set and only
    /// their first records, as a real server cuts them.
    Truncating,
    /// Before the real reply: one with another ID, then one for another question, both
    /// carrying 10.6.6.6.
    StrangersFirst,
}

/// What waits on the same port over TCP.
#[derive(Clone, Copy, PartialEq)]
enum Tcp {
    Answers,
    /// Nothing listens: the connection is refused.
    Refused,
    /// Accepts and reads, never answers.
    Silent,
}

struct Resolver {
    addr: SocketAddr,
    /// Questions that arrived over TCP.
    tcp_questions: Arc<AtomicUsize>,
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn reply_to(q: &Message, rcode: ResponseCode, answers: Vec<Record>) -> Message {
    let mut r = Message::response(q.metadata.id, q.metadata.op_code);
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.metadata.response_code = rcode;
    r.add_queries(q.queries.clone());
    if q.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        r.set_edns(edns);
    }
    r.add_answers(answers);
    r
}

fn answer(zone: &Zone, q: &Message) -> Option<Message> {
    let (rcode, answers) = zone(q.queries.first()?);
    Some(reply_to(q, rcode, answers))
}

/// UDP and (unless refused) TCP on one loopback port.
async fn resolver(udp: Udp, tcp: Tcp, zone: Zone) -> Resolver {
    let (sock, listener) = if tcp == Tcp::Refused {
        (UdpSocket::bind("127.0.0.1:0").await.unwrap(), None)
    } else {
        // Both on the same port number; the UDP port may be taken, so try a few.
        let mut found = None;
        for _ in 0..50 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            if let Ok(sock) = UdpSocket::bind(listener.local_addr().unwrap()).await {
                found = Some((sock, Some(listener)));
                break;
            }
        }
        found.expect("a loopback port free for both UDP and TCP")
    };
    let addr = sock.local_addr().unwrap();
    let udp_zone = zone.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(full) = answer(&udp_zone, &q) else {
                continue;
            };
            let mut out = Vec::new();
            match udp {
                Udp::Truncating => {
                    let limit = q.edns.as_ref().map_or(512, Edns::max_payload);
                    let bytes = full.to_vec().unwrap();
                    if bytes.len() > usize::from(limit) {
                        let mut cut = full.clone();
                        cut.answers.truncate(3);
                        cut.metadata.truncation = true;
                        out.push(cut.to_vec().unwrap());
                    } else {
                        out.push(bytes);
                    }
                }
                Udp::StrangersFirst => {
                    let stranger = vec![Record::from_rdata(
                        q.queries[0].name().clone(),
                        60,
                        RData::A(A(Ipv4Addr::new(10, 6, 6, 6))),
                    )];
                    let mut other_id = reply_to(&q, ResponseCode::NoError, stranger.clone());
                    other_id.metadata.id = q.metadata.id.wrapping_add(1);
                    out.push(other_id.to_vec().unwrap());
                    let mut other_question = reply_to(&q, ResponseCode::NoError, stranger);
                    other_question.queries[0].set_name(name("elsewhere.test."));
                    out.push(other_question.to_vec().unwrap());
                    out.push(full.to_vec().unwrap());
                }
            }
            for datagram in out {
                let _ = sock.send_to(&datagram, from).await;
            }
        }
    });
    let tcp_questions = Arc::new(AtomicUsize::new(0));
    if let Some(listener) = listener {
        let count = tcp_questions.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let (zone, count) = (zone.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(len) = s.read_u16().await else { return };
                    let mut msg = vec![0u8; usize::from(len)];
                    if s.read_exact(&mut msg).await.is_err() {
                        return;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    if tcp == Tcp::Silent {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    let Ok(q) = Message::from_vec(&msg) else {
                        return;
                    };
                    let Some(full) = answer(&zone, &q) else {
                        return;
                    };
                    let bytes = full.to_vec().unwrap();
                    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&bytes);
                    let _ = s.write_all(&framed).await;
                });
            }
        });
    }
    Resolver {
        addr,
        tcp_questions,
    }
}

/// `localhost` is a CNAME to `many.doctor.test`, which has 100 A records, 127.0.0.1 (so as to
/// agree with the system resolver) and 127.0.1.1–99: about 1.7 kB, more than the 1232 bytes
/// the doctor offers over UDP. No AAAA records.
fn many_addresses() -> Zone {
    Arc::new(|q: &Query| {
        let many = name("many.doctor.test.");
        if q.name() != &name("localhost.") {
            return (ResponseCode::NXDomain, vec![]);
        }
        if q.query_type() != RecordType::A {
            return (ResponseCode::NoError, vec![]);
        }
        let mut records = vec![Record::from_rdata(
            q.name().clone(),
            60,
            RData::CNAME(CNAME(many.clone())),
        )];
        for ip in many_ips() {
            records.push(Record::from_rdata(many.clone(), 60, RData::A(A(ip))));
        }
        (ResponseCode::NoError, records)
    })
}

fn many_ips() -> Vec<Ipv4Addr> {
    let mut ips = vec![Ipv4Addr::LOCALHOST];
    ips.extend((1..100).map(|i| Ipv4Addr::new(127, 0, 1, i)));
    ips
}

fn many_listed() -> String {
    many_ips()
        .iter()
        .map(Ipv4Addr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The doctor on `localhost` (resolved by the hosts file everywhere) with these resolvers.
async fn doctor(resolvers: Vec<SocketAddr>, dns_query: Duration) -> Report {
    let mut o = Options::isolated("http://localhost:1/").unwrap();
    o.resolvers = resolvers;
    o.timeouts.dns_query = dns_query;
    o.timeouts.connect = Duration::from_secs(2);
    o.timeouts.request = Duration::from_secs(3);
    run(o).await
}

fn resolver_fact(r: &Report, addr: SocketAddr) -> String {
    r.step("dns")
        .unwrap()
        .fact_value(&format!("resolver {addr}"))
        .unwrap_or_else(|| panic!("no fact for {addr}: {}", render_text(r)))
        .to_owned()
}

#[tokio::test]
async fn a_truncated_udp_answer_is_fetched_whole_over_tcp() {
    let res = resolver(Udp::Truncating, Tcp::Answers, many_addresses()).await;
    let r = doctor(vec![res.addr], Duration::from_secs(2)).await;
    let dns = r.step("dns").unwrap();
    assert_eq!(dns.status, Status::Ok, "{}", render_text(&r));
    let said = resolver_fact(&r, res.addr);
    // All 100 addresses, through the CNAME, not the two that fit in the cut datagram.
    assert!(said.starts_with(&format!("{} (", many_listed())), "{said}");
    assert!(said.ends_with(", over TCP)"), "{said}");
    // Only the A question was too big; the empty AAAA answer fitted in UDP.
    assert_eq!(res.tcp_questions.load(Ordering::SeqCst), 1);
    assert_eq!(dns.fact_value("disagreement"), None);
}

#[tokio::test]
async fn an_answer_that_fits_stays_on_udp() {
    let small: Zone = Arc::new(|q: &Query| match q.query_type() {
        RecordType::A => (
            ResponseCode::NoError,
            vec![Record::from_rdata(
                q.name().clone(),
                60,
                RData::A(A(Ipv4Addr::LOCALHOST)),
            )],
        ),
        _ => (ResponseCode::NoError, vec![]),
    });
    let res = resolver(Udp::Truncating, Tcp::Answers, small).await;
    let r = doctor(vec![res.addr], Duration::from_secs(2)).await;
    let said = resolver_fact(&r, res.addr);
    assert!(said.starts_with("127.0.0.1 ("), "{said}");
    assert!(!said.contains("TCP"), "{said}");
    assert_eq!(res.tcp_questions.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn truncated_over_udp_with_tcp_refused_is_named() {
    let res = resolver(Udp::Truncating, Tcp::Refused, many_addresses()).await;
    let start = Instant::now();
    let r = doctor(vec![res.addr], Duration::from_secs(2)).await;
    assert_eq!(
        resolver_fact(&r, res.addr),
        "truncated over UDP, and the retry over TCP was refused: a resolver must answer over TCP too (RFC 7766)"
    );
    // A refusal is known at once: no waiting out the query's 2 s.
    assert!(start.elapsed() < Duration::from_millis(1500));
    // The system resolver still answered, so the step passes; the fact is there to read.
    assert_eq!(r.step("dns").unwrap().status, Status::Ok);
}

#[tokio::test]
async fn truncated_over_udp_with_tcp_silent_times_out() {
    let res = resolver(Udp::Truncating, Tcp::Silent, many_addresses()).await;
    let r = doctor(vec![res.addr], Duration::from_secs(1)).await;
    assert_eq!(
        resolver_fact(&r, res.addr),
        "truncated over UDP, and no answer over TCP within 1 s"
    );
    assert_eq!(res.tcp_questions.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn replies_with_another_id_or_question_are_ignored() {
    let zone: Zone = Arc::new(|q: &Query| match q.query_type() {
        RecordType::A => (
            ResponseCode::NoError,
            vec![Record::from_rdata(
                q.name().clone(),
                60,
                RData::A(A(Ipv4Addr::LOCALHOST)),
            )],
        ),
        _ => (ResponseCode::NoError, vec![]),
    });
    let res = resolver(Udp::StrangersFirst, Tcp::Refused, zone).await;
    let r = doctor(vec![res.addr], Duration::from_secs(2)).await;
    let said = resolver_fact(&r, res.addr);
    assert!(said.starts_with("127.0.0.1 ("), "{said}");
    assert!(!said.contains("10.6.6.6"), "{said}");
    assert_eq!(r.step("dns").unwrap().fact_value("disagreement"), None);
}

#[tokio::test]
async fn resolver_errors_keep_their_words() {
    let refusing = |code: ResponseCode| -> Zone { Arc::new(move |_: &Query| (code, vec![])) };
    let nx = resolver(
        Udp::Truncating,
        Tcp::Answers,
        refusing(ResponseCode::NXDomain),
    )
    .await;
    let servfail = resolver(
        Udp::Truncating,
        Tcp::Answers,
        refusing(ResponseCode::ServFail),
    )
    .await;
    let refused = resolver(
        Udp::Truncating,
        Tcp::Answers,
        refusing(ResponseCode::Refused),
    )
    .await;
    let r = doctor(
        vec![nx.addr, servfail.addr, refused.addr],
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(resolver_fact(&r, nx.addr), "no such name (NXDOMAIN)");
    assert_eq!(
        resolver_fact(&r, servfail.addr),
        "the resolver failed (SERVFAIL)"
    );
    assert_eq!(
        resolver_fact(&r, refused.addr),
        "the resolver refused to answer (REFUSED)"
    );
    // NXDOMAIN is a definite answer, so it disagrees with the system's; the others are not.
    let dns = r.step("dns").unwrap();
    assert_eq!(dns.status, Status::Warn, "{}", render_text(&r));
    let said = dns.fact_value("disagreement").unwrap();
    assert!(
        said.contains(&format!("{} says no such name", nx.addr)),
        "{said}"
    );
    assert!(!said.contains(&servfail.addr.to_string()), "{said}");
}
