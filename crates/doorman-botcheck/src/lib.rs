//! Bot signals for Doorman: who is on the other end of a connection, as far as the bytes tell.
//!
//! Two kinds of evidence, both computed without I/O, clock or async, so the server, `doorman
//! trace` and tests run the same code:
//!
//! - **The TLS handshake.** The server peeks at the first bytes of a connection before rustls
//!   reads them; [`parse_client_hello`] turns them into a [`ClientHello`] (or asks for more
//!   bytes), from which [`ClientHello::ja4`] and [`ClientHello::ja3`] compute the JA4 and JA3
//!   fingerprints that rules see as `cf.bot_management.ja4` / `ja3_hash`.
//! - **The request's headers.** [`assess()`] runs the browser integrity check (Cloudflare's code
//!   1010) on a [`RequestView`]: does the request behave like the browser its User-Agent claims
//!   to be, over the handshake that browser makes? It returns named [`Signal`]s, each with a
//!   plain-words explanation and a remedy for the person blocked, and a score.
//!
//! Map:
//! - [`tls`]: records and ClientHello parsing, GREASE.
//! - [`ja4`]: JA4 and its raw forms; reading a JA4 string's readable part back.
//! - [`ja3`]: JA3 string and MD5 hash.
//! - [`ua`]: what a User-Agent claims (browser family, version, engine), tools and crawlers.
//! - [`signals`]: the catalogue of signal ids, weights and remedies.
//! - [`assess`](mod@assess): the checks and the score.
//!
//! docs/botcheck.md describes every signal and what the fingerprints were verified against.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod assess;
pub mod ja3;
pub mod ja4;
pub mod signals;
pub mod tls;
pub mod ua;

pub use assess::{Assessment, RequestView, Verdict, assess};
pub use ja3::Ja3;
pub use ja4::{Ja4, Ja4Summary, Transport};
pub use signals::{Signal, SignalId};
pub use tls::{ClientHello, HelloError, MAX_HELLO_LEN, is_grease, parse_client_hello};
pub use ua::{BrowserFamily, ClaimedBrowser, Engine, claimed_browser};
