//! What ties a clearance (or a challenge) to the client that earned it: the network it came
//! from (an IP prefix, not the address, so that a home router's or a phone's small address
//! changes do not force a new check) and a short hash of its User-Agent.
//!
//! Binding makes a stolen or shared cookie worth less: it only works from the same network
//! and browser. It also causes re-checks for people whose address changes (VPNs rotating exit
//! servers, mobile networks, dual-stack IPv4/IPv6 switches), which is why each part can be
//! turned off and why the rejection says which part failed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sha2::{Digest, Sha256};

/// Bytes of SHA-256(User-Agent) kept: enough to tell browsers apart, too few to be worth
/// anything as a fingerprint.
pub const UA_HASH_LEN: usize = 8;

/// A network: an address with its host bits cleared, and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// The network of `ip` with `len` leading bits (capped at 32 for IPv4, 128 for IPv6).
    /// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4
    /// clients) count as IPv4, so one client gets one prefix whatever the socket.
    pub fn of(ip: IpAddr, len: u8) -> Prefix {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let len = len.min(32);
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                Prefix {
                    addr: IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask)),
                    len,
                }
            }
            IpAddr::V6(a) => {
                let len = len.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                Prefix {
                    addr: IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask)),
                    len,
                }
            }
        }
    }

    /// The network address (host bits zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// True for a /0 prefix (any address of its family).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `ip` lies in this network (an IPv4 client never lies in an IPv6 network).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let other = Prefix::of(ip, self.len);
        other == *self
    }

    /// Appends the compact form: family (4 or 6), length, then only the bytes the prefix
    /// covers (3 for a /24), which keeps cookies short.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let n = usize::from(self.len).div_ceil(8);
        match self.addr {
            IpAddr::V4(a) => {
                out.extend_from_slice(&[4, self.len]);
                out.extend_from_slice(&a.octets()[..n]);
            }
            IpAddr::V6(a) => {
                out.extend_from_slice(&[6, self.len]);
                out.extend_from_slice(&a.octets()[..n]);
            }
        }
    }

    /// Reads what [`Prefix::encode`] wrote; `None` on anything else (including host bits set,
    /// which [`Prefix::of`] never produces).
    pub(crate) fn decode(r: &mut Reader<'_>) -> Option<Prefix> {
        let family = r.u8()?;
        let len = r.u8()?;
        let n = usize::from(len).div_ceil(8);
        let addr = match (family, len) {
            (4, 0..=32) => {
                let mut o = [0u8; 4];
                o[..n].copy_from_slice(r.take(n)?);
                IpAddr::V4(Ipv4Addr::from(o))
            }
            (6, 0..=128) => {
                let mut o = [0u8; 16];
                o[..n].copy_from_slice(r.take(n)?);
                IpAddr::V6(Ipv6Addr::from(o))
            }
            _ => return None,
        };
        let p = Prefix::of(addr, len);
        (p.addr == addr).then_some(p)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Which parts of the client a clearance is bound to. The default binds to the IPv4 /24 or
/// IPv6 /48 and to the User-Agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingPolicy {
    /// Prefix length for IPv4 clients; `None`: not bound to the network.
    pub ipv4_prefix: Option<u8>,
    /// Prefix length for IPv6 clients; `None`: not bound to the network.
    pub ipv6_prefix: Option<u8>,
    /// Bind to a hash of the User-Agent.
    pub user_agent: bool,
}

impl Default for BindingPolicy {
    fn default() -> Self {
        BindingPolicy {
            ipv4_prefix: Some(24),
            ipv6_prefix: Some(48),
            user_agent: true,
        }
    }
}

impl BindingPolicy {
    /// No binding at all: a clearance works from any network and browser.
    pub const NONE: BindingPolicy = BindingPolicy {
        ipv4_prefix: None,
        ipv6_prefix: None,
        user_agent: false,
    };

    /// The prefix length this policy binds `ip`'s family to.
    fn prefix_len(&self, ip: IpAddr) -> Option<u8> {
        match ip.to_canonical() {
            IpAddr::V4(_) => self.ipv4_prefix,
            IpAddr::V6(_) => self.ipv6_prefix,
        }
    }

    /// The binding of a client under this policy.
    pub fn bind(&self, ip: IpAddr, user_agent: Option<&str>) -> Binding {
        Binding {
            ip_prefix: self.prefix_len(ip).map(|len| Prefix::of(ip, len)),
            ua_hash: self.user_agent.then(|| ua_hash(user_agent)),
        }
    }

    /// Whether a value bound as `bound` may be used by this client. Only the parts both the
    /// value carries and this policy still enables are checked: turning a part off takes
    /// effect at once; turning one on applies to values issued from then on (rotate the key
    /// to make everyone check again).
    pub(crate) fn check(
        &self,
        bound: &Binding,
        ip: IpAddr,
        user_agent: Option<&str>,
    ) -> Result<(), Mismatch> {
        if let Some(issued) = bound.ip_prefix {
            let family_bound = match issued.addr {
                IpAddr::V4(_) => self.ipv4_prefix.is_some(),
                IpAddr::V6(_) => self.ipv6_prefix.is_some(),
            };
            if family_bound && !issued.contains(ip) {
                // Name the client's network at the same length when the family is the same,
                // else at this policy's length for its family, so both read alike.
                let same_family = issued.addr.is_ipv4() == ip.to_canonical().is_ipv4();
                let len = if same_family {
                    issued.len
                } else {
                    self.prefix_len(ip)
                        .unwrap_or(if ip.to_canonical().is_ipv4() { 24 } else { 48 })
                };
                return Err(Mismatch::Network {
                    issued_for: issued,
                    now: Prefix::of(ip, len),
                });
            }
        }
        if let Some(hash) = bound.ua_hash
            && self.user_agent
            && ua_hash(user_agent) != hash
        {
            return Err(Mismatch::Browser);
        }
        Ok(())
    }
}

/// Which part of a binding failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mismatch {
    Network { issued_for: Prefix, now: Prefix },
    Browser,
}

/// What a value is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Binding {
    /// The client's network, if bound.
    pub ip_prefix: Option<Prefix>,
    /// The first bytes of SHA-256 of the User-Agent, if bound.
    pub ua_hash: Option<[u8; UA_HASH_LEN]>,
}

impl Binding {
    /// Appends a flags byte (bit 0: prefix, bit 1: UA hash) and the parts present.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let flags = u8::from(self.ip_prefix.is_some()) | (u8::from(self.ua_hash.is_some()) << 1);
        out.push(flags);
        if let Some(p) = self.ip_prefix {
            p.encode(out);
        }
        if let Some(h) = self.ua_hash {
            out.extend_from_slice(&h);
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Option<Binding> {
        let flags = r.u8()?;
        if flags & !0b11 != 0 {
            return None;
        }
        let ip_prefix = if flags & 1 != 0 {
            Some(Prefix::decode(r)?)
        } else {
            None
        };
        let ua_hash = if flags & 2 != 0 {
            Some(r.take(UA_HASH_LEN)?.try_into().ok()?)
        } else {
            None
        };
        Some(Binding { ip_prefix, ua_hash })
    }
}

/// The first [`UA_HASH_LEN`] bytes of SHA-256 of the User-Agent (a missing one hashes as
/// empty, so "no User-Agent" is a browser like any other).
pub fn ua_hash(user_agent: Option<&str>) -> [u8; UA_HASH_LEN] {
    let digest = Sha256::digest(user_agent.unwrap_or("").as_bytes());
    let mut out = [0u8; UA_HASH_LEN];
    out.copy_from_slice(&digest[..UA_HASH_LEN]);
    out
}

/// A cursor over a signed value's body; every read is bounds-checked, so no input can panic.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_clear_host_bits_and_read_as_cidr() {
        assert_eq!(
            Prefix::of(ip("203.0.113.77"), 24).to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(
            Prefix::of(ip("2001:db8:abcd:12::1"), 48).to_string(),
            "2001:db8:abcd::/48"
        );
        assert_eq!(
            Prefix::of(ip("::ffff:203.0.113.9"), 24).to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(Prefix::of(ip("10.1.2.3"), 0).to_string(), "0.0.0.0/0");
        assert_eq!(Prefix::of(ip("10.1.2.3"), 99).to_string(), "10.1.2.3/32");
        assert!(Prefix::of(ip("203.0.113.1"), 24).contains(ip("203.0.113.250")));
        assert!(!Prefix::of(ip("203.0.113.1"), 24).contains(ip("203.0.114.1")));
        assert!(!Prefix::of(ip("0.0.0.0"), 0).contains(ip("::1")));
    }

    #[test]
    fn encoding_round_trips_and_is_compact() {
        for (addr, len) in [
            ("203.0.113.7", 24),
            ("2001:db8::1", 48),
            ("1.2.3.4", 0),
            ("1.2.3.4", 32),
            ("::1", 128),
            ("1.2.3.4", 21),
        ] {
            let b = Binding {
                ip_prefix: Some(Prefix::of(ip(addr), len)),
                ua_hash: Some(ua_hash(Some("x"))),
            };
            let mut out = Vec::new();
            b.encode(&mut out);
            let mut r = Reader::new(&out);
            assert_eq!(Binding::decode(&mut r), Some(b));
            assert!(r.is_empty());
        }
        let mut out = Vec::new();
        BindingPolicy::default()
            .bind(ip("203.0.113.7"), None)
            .encode(&mut out);
        assert_eq!(out.len(), 1 + 2 + 3 + UA_HASH_LEN);
        // Host bits set: not something we wrote.
        let mut r = Reader::new(&[1, 4, 24, 203, 0, 113]);
        assert!(Binding::decode(&mut r).is_some());
        let mut r = Reader::new(&[1, 4, 20, 203, 0, 113]);
        assert!(Binding::decode(&mut r).is_none());
    }

    #[test]
    fn check_names_the_part_that_failed() {
        let policy = BindingPolicy::default();
        let b = policy.bind(ip("203.0.113.7"), Some("Firefox"));
        assert_eq!(
            policy.check(&b, ip("203.0.113.200"), Some("Firefox")),
            Ok(())
        );
        assert_eq!(
            policy.check(&b, ip("198.51.100.4"), Some("Firefox")),
            Err(Mismatch::Network {
                issued_for: Prefix::of(ip("203.0.113.0"), 24),
                now: Prefix::of(ip("198.51.100.0"), 24)
            })
        );
        match policy.check(&b, ip("2001:db8:1:2::3"), Some("Firefox")) {
            Err(Mismatch::Network { now, .. }) => assert_eq!(now.to_string(), "2001:db8:1::/48"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            policy.check(&b, ip("203.0.113.7"), Some("Chrome")),
            Err(Mismatch::Browser)
        );
        // Turning binding off takes effect for values already issued.
        assert_eq!(
            BindingPolicy::NONE.check(&b, ip("198.51.100.4"), None),
            Ok(())
        );
        // A value issued without binding passes a policy that binds.
        let unbound = BindingPolicy::NONE.bind(ip("203.0.113.7"), None);
        assert_eq!(unbound, Binding::default());
        assert_eq!(policy.check(&unbound, ip("198.51.100.4"), None), Ok(()));
    }
}
