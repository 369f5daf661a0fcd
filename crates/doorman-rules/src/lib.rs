//! The Doorman rules language: a parser, compiler and evaluator for Cloudflare-compatible
//! expressions such as `http.host eq "example.com" and not ip.src in $office`.
//!
//! This crate knows nothing of HTTP servers and does no I/O. The gateway describes a request
//! through a [`FieldProvider`]; the crate compiles expressions once and evaluates them against
//! many requests. The language reference for operators is docs/rules.md.
//!
//! # How the gateway uses it
//!
//! ```
//! use doorman_rules::{compile, EvalContext, Field, FieldProvider, Lists, IpRangeSet, Ruleset, Scheme, Value};
//!
//! // 1. At config load: build lists, compile rules (errors carry line, column and a hint).
//! let mut lists = Lists::new();
//! lists.insert_ip("office", IpRangeSet::parse(["192.0.2.0/24"]).unwrap());
//! let mut rules = Ruleset::new();
//! rules.push("allow-office", compile("ip.src in $office", Scheme::builtin(), &lists).unwrap());
//! rules.push("block-admin", compile("starts_with(http.request.uri.path, \"/admin\")", Scheme::builtin(), &lists).unwrap());
//!
//! // 2. Per request: a provider over the request facts (values may borrow from them)…
//! struct Facts { path: String, ip: std::net::IpAddr }
//! impl FieldProvider for Facts {
//!     fn field(&self, f: Field) -> Value<'_> {
//!         match f {
//!             Field::HttpRequestUriPath => Value::str(&self.path),
//!             Field::IpSrc => Value::Ip(self.ip),
//!             _ => Value::Missing,
//!         }
//!     }
//! }
//! let facts = Facts { path: "/admin/users".into(), ip: "203.0.113.9".parse().unwrap() };
//! // …and one context shared by every ruleset of the request (each field computed once).
//! let ctx = EvalContext::new(&facts);
//! let m = rules.first_match(&ctx).unwrap();
//! assert_eq!(*m.data, "block-admin");
//! let why = m.explain(&ctx);
//! assert_eq!(
//!     why[0].to_string(),
//!     r#"starts_with(http.request.uri.path, "/admin") (http.request.uri.path = "/admin/users")"#
//! );
//! ```
//!
//! # Map of the crate
//! - [`scheme`]: every field ([`Field`]), its type and source; aliases; introspection.
//! - [`value`]: [`Type`] and the runtime [`Value`] (borrowing), [`Map`].
//! - [`ipset`]: [`IpRangeSet`], sorted merged ranges for IP sets and big lists.
//! - [`lists`]: named lists and the [`ListRegistry`] the compiler resolves `$name` from.
//! - `parser` (private): text → checked tree, normalized text, errors with hints.
//! - `expr` (private): the compiled tree and evaluator; [`EvalContext`], [`FieldProvider`].
//! - `plan` (private): the evaluation plan `matches` runs: the tree as jumps between leaf tests
//!   specialized for their literals.
//! - `functions` (private): built-in functions.
//! - [`compiled`]: [`compile`], [`CompiledExpr`], explanations ([`MatchedCondition`]).
//! - [`ruleset`]: [`Ruleset`], first-match and all-matches evaluation.
//! - [`cli`]: `doorman rules check|eval` as library functions.
//! - [`error`]: [`RuleError`] with line, column, caret and hint.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod compiled;
pub mod error;
mod expr;
mod format;
mod functions;
pub mod ipset;
pub mod lists;
mod parser;
mod plan;
pub mod ruleset;
pub mod scheme;
pub mod value;
mod wildcard;

pub use compiled::{CompiledExpr, MatchedCondition, compile};
pub use error::{ErrorKind, RuleError};
pub use expr::{EvalContext, FieldProvider, NoFields};
pub use functions::timed_hmac_token;
pub use ipset::{IpEntryError, IpRange, IpRangeSet};
pub use lists::{IntSet, List, ListRegistry, Lists, NoLists, StringSet};
pub use ruleset::{RuleMatch, Ruleset};
pub use scheme::{Field, FieldInfo, Scheme};
pub use value::{Map, Type, Value};

/// Longest accepted expression, in bytes (Cloudflare: 4,096 characters).
pub const MAX_EXPRESSION_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not`, function calls and `any`/`all` (as wirefilter).
pub const MAX_NESTING_DEPTH: usize = 128;
/// Most regular expressions in one expression (Cloudflare: 64 per rule).
pub const MAX_REGEXES: usize = 64;
/// Compiled-size limit of one regular expression, in bytes (as wirefilter: 10 MiB).
pub const REGEX_SIZE_LIMIT: usize = 10 * (1 << 20);
