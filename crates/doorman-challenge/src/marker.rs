//! Loop detection, and the one call the gateway makes per challenged request.
//!
//! When a client passes the challenge, the gateway sets two cookies: the clearance and a
//! short-lived, signed marker `doorman_challenge_passed` holding the time it passed. The marker
//! is readable by the page's script (not `HttpOnly`; it grants nothing) and serves twice:
//!
//! 1. Right after a successful submission the page looks for the marker in `document.cookie`.
//!    If it is missing, the browser did not store what the site just set: cookies are blocked.
//!    The page says so at once (with a "continue anyway" link, in case the check itself is
//!    wrong) instead of going back to a page that would challenge again.
//! 2. On the next request, [`assess`] compares the two cookies:
//!    - valid clearance: pass (the marker does not matter);
//!    - marker valid, clearance absent: the browser kept one cookie and dropped the other, which
//!      is what extensions and cookie rules that target names like `*clearance*` do;
//!    - marker valid, clearance refused: the person passed moments ago and the clearance already
//!      fails, e.g. the address changes between requests ([`ClearanceRejection::OtherNetwork`]);
//!    - no marker: an ordinary first visit, or a clearance that expired or broke later.
//!
//! In the two middle cases the answer carries a [`LoopHint`], and the page says exactly that
//! instead of starting another round (it waits for a click). A browser that blocks every cookie
//! sends neither back; case 1 catches it before it can loop.

use doorman_common::cookie;
use http::HeaderMap;
use http::header::COOKIE;

use crate::binding::Reader;
use crate::clearance::{Clearance, ClearanceRejection, Level, mint, set_cookie_header, verify};
use crate::keys::{KeyStatus, Keyring};
use crate::settings::{RequestContext, Settings};
use crate::signed::{Purpose, open, seal};

/// Evidence that this client passed the challenge a moment ago.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopHint {
    /// When it passed (server time, Unix seconds).
    pub passed_at: u64,
    /// Server time when the hint was read.
    pub now: u64,
}

impl LoopHint {
    /// Seconds since the client passed.
    pub fn seconds_ago(&self) -> u64 {
        self.now.saturating_sub(self.passed_at)
    }
}

/// The marker cookie's value for a client passing at `now`.
pub fn mint_marker(keyring: &Keyring, now: u64) -> String {
    let mut body = vec![1u8];
    body.extend_from_slice(&now.to_be_bytes());
    seal(keyring, Purpose::Marker, &body)
}

/// The hint in a marker value, if it is genuine and recent; `None` otherwise (a broken marker
/// only means no hint: it is a diagnosis aid, never a reason to refuse).
pub fn read_marker(
    keyring: &Keyring,
    value: &str,
    now: u64,
    settings: &Settings,
) -> Option<LoopHint> {
    let opened = open(keyring, Purpose::Marker, value).ok()?;
    if let KeyStatus::Retired { valid_until } = opened.status
        && now >= valid_until
    {
        return None;
    }
    let mut r = Reader::new(&opened.body);
    if r.u8()? != 1 {
        return None;
    }
    let passed_at = r.u64()?;
    if !r.is_empty() {
        return None;
    }
    let fresh = passed_at <= now.saturating_add(settings.clock_skew_s)
        && now < passed_at.saturating_add(settings.marker_lifetime_s);
    fresh.then_some(LoopHint { passed_at, now })
}

/// What the gateway should do with a request that a rule wants challenged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The request carries a valid clearance: let it pass.
    Pass(Clearance),
    /// Show the challenge (the page for a browser, [`crate::api_answer`] for others).
    Challenge {
        /// Why the clearance cookie sent was refused; `None` when none was sent.
        problem: Option<ClearanceRejection>,
        /// Set when the client passed moments ago: a cookie problem, not a new visitor.
        loop_hint: Option<LoopHint>,
    },
}

/// Checks a request's cookies: the clearance (every cookie of that name is tried, since a
/// browser may hold one per path or domain; the first refusal is reported when none passes)
/// and the loop marker.
pub fn assess(
    keyring: &Keyring,
    headers: &HeaderMap,
    ctx: &RequestContext<'_>,
    settings: &Settings,
) -> Gate {
    let mut problem = None;
    for value in cookie_values(headers, &settings.cookie_name) {
        match verify(keyring, value, ctx, settings) {
            Ok(c) => return Gate::Pass(c),
            Err(e) => {
                problem.get_or_insert(e);
            }
        }
    }
    let loop_hint = cookie_values(headers, &settings.marker_cookie_name)
        .into_iter()
        .find_map(|v| read_marker(keyring, v, ctx.now, settings));
    Gate::Challenge { problem, loop_hint }
}

/// Every value of cookie `name` in the request's `Cookie` headers (HTTP/2 may send several
/// headers). Surrounding double quotes are removed, as RFC 6265 allows them.
pub fn cookie_values<'h>(headers: &'h HeaderMap, name: &str) -> Vec<&'h str> {
    let header_values = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok());
    cookie::values(header_values, name)
        .map(cookie::unquote)
        .collect()
}

/// What to send a client that just passed the challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The clearance granted.
    pub clearance: Clearance,
    /// The clearance cookie's value.
    pub cookie_value: String,
    /// Two `Set-Cookie` header values: the clearance, then the loop marker.
    pub set_cookie: [String; 2],
}

/// Grants a clearance for this client and builds both cookies. `secure`: the site is served
/// over HTTPS (adds `Secure`).
pub fn issue_cookies(
    keyring: &Keyring,
    level: Level,
    ctx: &RequestContext<'_>,
    settings: &Settings,
    secure: bool,
) -> Issued {
    let clearance = Clearance::grant(level, ctx, settings);
    let cookie_value = mint(keyring, &clearance);
    let clearance_cookie = set_cookie_header(
        &settings.cookie_name,
        &cookie_value,
        clearance.remaining_s(ctx.now),
        secure,
        "/",
    );
    // The marker is read by the page's script, so it must not be HttpOnly.
    let marker = set_cookie_header(
        &settings.marker_cookie_name,
        &mint_marker(keyring, ctx.now),
        settings.marker_lifetime_s,
        secure,
        "/",
    )
    .replace("; HttpOnly", "");
    Issued {
        clearance,
        cookie_value,
        set_cookie: [clearance_cookie, marker],
    }
}
