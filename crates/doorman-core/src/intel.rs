//! Network intelligence the core reads but never fetches: what is known about an IP address
//! (country, autonomous system). The server hands the core a [`NetworkIntel`] built from
//! MaxMind-format databases (`doorman-intel`); tests hand it a fixed table. A missing database
//! makes the fields missing values, never an error.

use std::net::IpAddr;

/// What is known about one IP address. Every part is optional: databases are optional and
/// incomplete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpInfo {
    /// ISO 3166-1 alpha-2 country code, upper-case (e.g. `DE`), or `T1` for Tor exits when a Tor
    /// list says so (set by the caller, not by databases).
    pub country: Option<String>,
    /// The country's English name, when the database has it.
    pub country_name: Option<String>,
    /// Continent code (`EU`, `NA`, …).
    pub continent: Option<String>,
    /// Whether the country is in the European Union.
    pub in_eu: Option<bool>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// The AS's organisation name (e.g. `M247 Europe SRL`).
    pub as_org: Option<String>,
}

/// A read-only lookup of [`IpInfo`]. Implementations must be cheap to call from many threads.
pub trait NetworkIntel: Send + Sync + std::fmt::Debug {
    /// What is known about `ip`.
    fn lookup(&self, ip: IpAddr) -> IpInfo;
}

/// Knows nothing: every field is a missing value.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIntel;

impl NetworkIntel for NoIntel {
    fn lookup(&self, _ip: IpAddr) -> IpInfo {
        IpInfo::default()
    }
}
