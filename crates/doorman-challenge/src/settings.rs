//! The knobs (from the gateway's configuration) and the facts of one request that every
//! check here needs. Time is always an input: the crate reads no clock.

use std::net::IpAddr;

use crate::binding::BindingPolicy;

/// How clearances, challenges and loop markers are issued and checked. `Default` gives the
/// documented defaults (docs/challenge.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Name of the clearance cookie. Default `doorman_clearance`. A name starting with
    /// `__Host-` makes browsers insist on `Secure`, `Path=/` and no `Domain`.
    pub cookie_name: String,
    /// Name of the loop-detection marker cookie. Default `doorman_challenge_passed`.
    pub marker_cookie_name: String,
    /// How long a clearance lasts, in seconds. Default one day.
    pub clearance_lifetime_s: u64,
    /// How long a proof-of-work challenge may be solved and redeemed. Default 5 minutes.
    pub challenge_lifetime_s: u64,
    /// How long the loop marker lasts. Default 5 minutes: long enough to come back from the
    /// challenge, short enough that an old marker does not turn a later, ordinary expiry into
    /// a "cookies blocked" message.
    pub marker_lifetime_s: u64,
    /// Allowed clock difference, in seconds. Issue times are back-dated by it, so that a
    /// gateway whose clock is a little behind the one that issued (or this one after its clock
    /// stepped back) still accepts; the page also tells a person whose clock is off by more.
    /// Default 2 minutes.
    pub clock_skew_s: u64,
    /// What a clearance is bound to.
    pub binding: BindingPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cookie_name: "doorman_clearance".to_owned(),
            marker_cookie_name: "doorman_challenge_passed".to_owned(),
            clearance_lifetime_s: 24 * 3600,
            challenge_lifetime_s: 5 * 60,
            marker_lifetime_s: 5 * 60,
            clock_skew_s: 120,
            binding: BindingPolicy::default(),
        }
    }
}

/// The facts of one request that a check needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestContext<'a> {
    /// Server time, Unix seconds.
    pub now: u64,
    /// The client's address, after trusted-proxy resolution.
    pub client_ip: IpAddr,
    /// The `User-Agent` header, if any (and if it is valid UTF-8).
    pub user_agent: Option<&'a str>,
}
