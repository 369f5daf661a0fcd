//! Doorman's challenge: how a browser proves it is worth letting through, and how the gateway
//! remembers it without keeping state, and says exactly why when it does not.
//!
//! When a rule asks for a challenge, the gateway calls [`assess`] on the request's cookies. A
//! valid clearance passes. Otherwise a browser gets the [`page`]: it solves a proof of work
//! ([`issue`], checked by [`check_solution`]), posts the answer ([`Submission`]), and receives a
//! signed, bound, expiring clearance cookie plus a short-lived loop marker ([`issue_cookies`]).
//! Other clients get [`api_answer`], never HTML. Every refusal has a stable code, a reason in
//! plain words and a remedy ([`ClearanceRejection`], [`PowRejection`]); a client that passed
//! but did not keep its cookie is told so instead of being challenged in a loop ([`LoopHint`]).
//!
//! Pure like the core: time is an input, no sockets, no async. The one I/O is
//! [`Keyring::load_or_create`], which reads or creates the key file.
//!
//! Map:
//! - [`keys`]: HMAC keys, key ids, the keyring and its file, rotation.
//! - `signed`: the `v1.<kid>.<body>.<tag>` envelope every value travels in.
//! - [`binding`]: IP prefix and User-Agent hash a value is bound to.
//! - [`clearance`]: the clearance cookie: grant, mint, verify, `Set-Cookie`, rejections.
//! - [`pow`]: the stateless proof-of-work challenge.
//! - [`marker`]: loop detection and [`assess`], the per-request entry point.
//! - [`page`](mod@page): the challenge page, its CSP, and the answer for API clients.
//! - [`submit`]: the form the page posts and the replies to it.
//! - [`settings`]: configuration and the request facts a check needs.
//!
//! docs/challenge.md describes the formats, every rejection and the page's behaviour.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod binding;
pub mod clearance;
pub mod keys;
pub mod marker;
pub mod page;
pub mod pow;
pub mod settings;
mod signed;
pub mod submit;

pub use binding::{Binding, BindingPolicy, Prefix, ua_hash};
pub use clearance::{
    Clearance, ClearanceRejection, Level, inspect, mint, set_cookie_header, verify,
};
pub use keys::{Key, KeyFileError, Keyring, RetiredKey};
pub use marker::{
    Gate, Issued, LoopHint, assess, cookie_values, issue_cookies, mint_marker, read_marker,
};
pub use page::{PageInput, api_answer, csp, new_nonce, page, safe_path};
pub use pow::{
    Challenge, ChallengeToken, PowRejection, check_solution, expected_attempts, issue,
    issue_with_nonce, solve,
};
pub use settings::{RequestContext, Settings};
pub use submit::{Submission, accepted, refused};
