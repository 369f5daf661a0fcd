//! Fixtures the workspace's tests share, so that each test file says what it checks and not how
//! to set up a loopback server. Used only as a dev-dependency; nothing here is part of Doorman.
//!
//! - [`gateway`]: a gateway in this process from config text (feature `in-process`), or the
//!   `doorman` binary as a child process ([`gateway::process`]).
//! - [`origin`]: the loopback origins tests put behind a gateway or a client.
//! - [`client`]: small clients (hyper HTTP/1.1, h2c, TLS, raw sockets) and loopback addresses.
//! - [`redis`]: a throw-away `redis-server`.
//! - [`browser`]: headless Chromium.
//! - [`config`]: TOML snippets several tests' configs repeat.
//! - [`rng`]: a fixed-seed PRNG for randomized tests.
//!
//! Every helper panics with a message rather than returning an error: a fixture that cannot be
//! set up is a failed test, never a skipped one.

pub mod browser;
pub mod client;
pub mod config;
pub mod gateway;
pub mod origin;
pub mod redis;
pub mod rng;
