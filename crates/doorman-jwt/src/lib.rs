//! JWT verification for Doorman: bearer tokens checked against configured providers (issuer,
//! audiences, algorithm allowlist, keys from a JWKS file, a JWKS URL or a shared secret), with
//! every refusal a [`TokenRejection`] that names the exact cause, the facts behind it and the
//! fix — never a bare "invalid token".
//!
//! The gateway builds a [`Provider`] per configured provider (or a [`Providers`] set) at config
//! load, and for each request calls [`Provider::verify`] or [`Providers::verify_any`] with the
//! token and the current time; time is always an input, so tests and `doorman trace` control it.
//! What the gateway does with the result (status, `WWW-Authenticate`, receipts, scope checks)
//! lives outside this crate.
//!
//! Map:
//! - [`config`]: the plain structs an operator's configuration fills ([`ProviderConfig`],
//!   [`KeySource`], [`JwksUrl`], [`Algorithm`]).
//! - `provider`: [`Provider`], [`Providers`], [`VerifiedToken`]; the order of checks.
//! - `error`: [`ConfigError`] and [`TokenRejection`] with codes, reasons and remedies.
//! - `token`: splitting a compact JWS and reading typed claims.
//! - `jwks`: JWKS documents into usable keys; which key checks which token.
//! - `cache`: the JWKS URL cache (TTL, single flight, bounded re-fetch, stale on failure).
//! - `fetch`: one HTTP(S) GET over hyper + rustls.
//! - `ring_provider`: signature checks on ring, as a verify-only `jsonwebtoken` crypto provider.
//! - `when`: RFC 3339 instants and human durations for messages.
//!
//! `docs/jwt.md` describes the configuration, the caching rules and every rejection code.

#![forbid(unsafe_code)]

mod cache;
pub mod config;
mod error;
mod fetch;
mod jwks;
mod provider;
mod ring_provider;
mod token;

pub use config::{Algorithm, Family, JwksUrl, KeySource, ProviderConfig, UnknownAlgorithm};
pub use error::{ConfigError, TokenRejection};
pub use provider::{KeyStatus, Provider, Providers, VerifiedToken};
