//! Doorman's decision core: turns the facts of one request into a [`Decision`], and a denial into a
//! [`Receipt`] that explains itself.
//!
//! This crate does no I/O and reads no clock: the server hands it [`RequestFacts`] (with the time
//! already in them) and a compiled [`Policy`], and gets back a value. Because of that, `doorman
//! trace` (what-if), `doorman explain` (what happened) and live traffic run the very same code, and
//! tests need no network. It depends on the `http` crate for its vocabulary types only (methods,
//! URIs, header maps); it knows nothing of hyper, tokio, sockets, SQLite or Redis.
//!
//! Where to start: [`pipeline::decide`] runs the phases in order; [`receipt`] holds what a denial
//! carries; [`render`] turns a receipt into HTML, RFC 9457 JSON or text.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bot;
pub mod canonical;
pub mod clearance;
pub mod client_ip;
pub mod code;
pub mod decision;
pub mod facts;
pub mod fields;
pub mod firewall;
pub mod intel;
pub mod pipeline;
pub mod policy;
pub mod ratelimit;
pub mod ray;
pub mod receipt;
pub mod render;
pub mod words;

pub use code::Code;
pub use decision::{
    Decision, LogMode, Logged, MatchAction, Permit, PhaseName, RuleKind, RuleMatch, TraceStep,
    Verdict,
};
pub use facts::{RequestFacts, Scheme, TlsFacts};
pub use pipeline::decide;
pub use policy::Policy;
pub use ray::RayId;
pub use receipt::{Disclosure, Receipt};
